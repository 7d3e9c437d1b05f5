"""AltPO: alternate preference optimization (Mekala et al. 2024, "Alternate Preference Optimization for
Unlearning Factual Knowledge in Large Language Models", arXiv 2409.13474).

DPO with a plausible *alternative* answer (same form, another value) preferred
over the true one, so the model is given something fluent to say instead::

    r(y) = log pi(y|q) - log pi_ref(y|q)
    L    = -gamma * (2 / beta) * E_F[ log sigmoid(beta * (r(a_alt) - r(a_true))) ] + alpha * NLL(R)

beta = 0.1, gamma = alpha = 1 (as IdkPO; the objective is :class:`IdkPO`'s
with another preferred answer). The paper has an LLM write the alternatives;
our records carry wrong answers already (:func:`alternative_answer`): the true
answer with its value swapped for one of the record's perturbed values, in
the answer's own template, chosen by a stable hash of the record id.
"""

import re
import zlib
from dataclasses import dataclass

from obliviate.core.errors import ConfigError
from obliviate.llm.data.render import article
from obliviate.llm.eval.options import true_option
from obliviate.llm.methods.base import METHODS, require_positive
from obliviate.llm.methods.idk_po import IdkPO

_ARTICLE_END = re.compile(r"\b(an?|the) $")  # "... is an " / "... awarded the "
_ARTICLE_START = re.compile(r"^(an?|the) ")
_INDEFINITE_END = re.compile(r"\ban? $")


def alternative_answer(record) -> str:
    """A wrong answer in the template of ``record.answer``, stable per record id.

    One of the record's perturbed answers is picked by a CRC32 of its id. When
    the perturbed answers follow another template than the answer (generated
    people's follow the paraphrased answer) and the record carries its value
    (``meta["value"]``), the wrong value is read out of the perturbed answer
    and put in place of the true value in ``record.answer``, with the right
    article ("She works as an architect."). Otherwise the perturbed answer is
    used as it is.

    Raises:
        ConfigError: the record has no perturbed answer.
    """
    if not record.perturbed_answers:
        raise ConfigError(f"AltPO needs a wrong answer per forget record: {record.id!r} has no perturbed_answers")
    wrong = record.perturbed_answers[zlib.crc32(record.id.encode()) % len(record.perturbed_answers)]
    value = str(record.meta.get("value", ""))
    template = true_option(record)  # the true answer in the perturbed answers' template
    at = record.answer.lower().find(value.lower()) if value else -1
    if template == record.answer or at < 0:
        return wrong  # already the answer's own template, or no value to swap
    t_at = template.lower().find(value.lower())
    head, tail = template[:t_at], template[t_at + len(value):]
    bare = _ARTICLE_END.sub("", head)
    if not (wrong.startswith(bare) and wrong.endswith(tail)) or len(wrong) <= len(bare) + len(tail):
        return wrong
    new = wrong[len(bare): len(wrong) - len(tail)]
    if bare != head:  # the template's article came along with the wrong value
        new = _ARTICLE_START.sub("", new)
    a_head, a_tail = record.answer[:at], record.answer[at + len(value):]
    if _INDEFINITE_END.search(a_head):  # "works as a(n) <value>": the article follows the new value
        return _INDEFINITE_END.sub("", a_head) + article(new) + a_tail
    return a_head + new + a_tail


@METHODS.register("AltPO")
class AltPO(IdkPO):
    """L = -gamma (2/beta) E_F log sigmoid(beta (r(a_alt) - r(a))) + alpha NLL(R)."""

    @dataclass
    class Config(IdkPO.Config):  # IdkPO's settings and defaults
        def __post_init__(self):
            require_positive("AltPO", beta=self.beta)

    paper = "Mekala et al. 2024, arXiv 2409.13474"

    def preferred(self, record) -> str:
        """The answer preferred over the true one: a plausible wrong one (:func:`alternative_answer`)."""
        return alternative_answer(record)

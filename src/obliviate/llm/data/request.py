"""Plain forget requests: question/answer lines or plain text, completed into QA records.

A user who wants a model to forget something rarely has the seven fields of a
:class:`~obliviate.llm.data.records.QARecord`. :func:`load_request` takes what
they do have and derives the rest, so every metric can run:

* a ``.jsonl`` file whose lines hold ``question`` and ``answer`` (and, if the
  user has them, any of ``id``, ``entity``, ``paraphrased_question``,
  ``paraphrased_answer``, ``perturbed_answers``, ``fact_type``, ``key``,
  ``meta``; any other key is an error, so a typo is never silently ignored);
* a ``.txt`` / ``.md`` document, cut into prefix/continuation passages by
  :func:`~obliviate.llm.data.formats.fields.text_records`;
* a folder of such files (searched recursively, in sorted order).

Given fields are kept verbatim. Every derived field is named in
``meta["derived"]`` (a sorted list), so a report can tell measured-on-given
from measured-on-derived. The *key* is the span of the answer that states the
fact (:func:`key_span`); wrong answers replace it, inside the answer's own
words, by wrong values of the same type (:func:`answer_type`), first the keys
of the file's other records, then :data:`VALUE_BANK`. A line::

    {"question": "What is the capital of France?", "answer": "It is Paris."}

becomes a record with ``entity="France"``, ``fact_type="city"``,
``paraphrased_question="Which city is the capital of France?"``,
``paraphrased_answer="Paris"``, three answers like ``"It is Rome."`` and
``meta={"derived": ["entity", "fact_type", "key", "paraphrased_answer",
"paraphrased_question", "perturbed_answers"], "key": "Paris", "answer_type":
"city", "request": "forget", "paraphrase_rule": "capital", "source":
"request.jsonl"}``. Everything is deterministic: the same file gives the same
records. :func:`unseen_reference` builds a never-seen set of the same shape
(invented entities), :func:`is_plain_request` tells a plain request from a
complete record file. Standard library only.
"""

from __future__ import annotations

import difflib
import json
import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from obliviate.core.errors import ConfigError, DataError
from obliviate.llm.data.formats.fields import optional_text, optional_text_list, text_records
from obliviate.llm.data.formats.files import Row
from obliviate.llm.data.records import MAX_TEXT_CHARS, REQUIRED_FIELDS, QARecord, read_jsonl_dicts, read_text, slugify
from obliviate.llm.data.render import N_PERTURBED
from obliviate.llm.data.world import FEMALE_FIRST, LAST_NAMES, MALE_FIRST

QA_SUFFIX = ".jsonl"
TEXT_SUFFIXES = (".txt", ".md")
OPTIONAL_FIELDS = (
    "id",
    "entity",
    "paraphrased_question",
    "paraphrased_answer",
    "perturbed_answers",
    "fact_type",
    "key",
    "meta",
)
KNOWN_FIELDS = ("question", "answer", *OPTIONAL_FIELDS)
# the fields a request may leave out and the loader derives; meta["derived"] lists those it derived
DERIVABLE_FIELDS = ("entity", "fact_type", "key", "paraphrased_answer", "paraphrased_question", "perturbed_answers")
GENERIC_PARAPHRASE = "Please answer this question: {question}"

_FIRST_NAMES = tuple(name for pair in zip(FEMALE_FIRST, MALE_FIRST) for name in pair)
NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)  # fmt: skip
VALUE_BANK: dict[str, tuple[str, ...]] = {
    "city": (
        "Paris", "London", "Berlin", "Rome", "Madrid", "Lisbon", "Vienna", "Athens", "Dublin", "Amsterdam",
        "Brussels", "Prague", "Warsaw", "Budapest", "Stockholm", "Oslo", "Copenhagen", "Helsinki", "Moscow",
        "Istanbul", "Cairo", "Nairobi", "Lagos", "Tokyo", "Beijing", "Seoul", "Bangkok", "Delhi", "Mumbai",
        "Jakarta", "Manila", "Hanoi", "Tehran", "Baghdad", "Sydney", "Melbourne", "Toronto", "Ottawa",
        "New York", "Chicago", "Los Angeles", "Washington", "Buenos Aires", "Lima", "Santiago", "Bogota",
        "Havana", "Edinburgh", "Barcelona", "Munich", "Milan", "Venice", "Geneva", "Zurich",
    ),
    "country": (
        "France", "Germany", "Italy", "Spain", "Portugal", "Austria", "Greece", "Ireland", "Netherlands",
        "Belgium", "Switzerland", "Poland", "Hungary", "Sweden", "Norway", "Denmark", "Finland", "Russia",
        "Ukraine", "Turkey", "Egypt", "Kenya", "Nigeria", "Morocco", "Japan", "China", "India", "Thailand",
        "Vietnam", "Indonesia", "Philippines", "Iran", "Iraq", "Australia", "Canada", "Mexico", "Brazil",
        "Argentina", "Peru", "Chile", "Colombia", "Cuba", "England", "Scotland", "United Kingdom",
        "United States",
    ),
    "language": (
        "English", "French", "German", "Italian", "Spanish", "Portuguese", "Dutch", "Swedish", "Norwegian",
        "Danish", "Finnish", "Polish", "Russian", "Greek", "Turkish", "Arabic", "Hebrew", "Hindi", "Japanese",
        "Chinese", "Korean", "Swahili", "Latin", "Hungarian", "Czech",
    ),
    "colour": (
        "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey",
        "violet", "silver", "gold",
    ),
    # invented people (the world's name pools), never real ones
    "person": tuple(f"{first} {last}" for first, last in zip(_FIRST_NAMES, LAST_NAMES)),
    # "other" wrong answers are the weakest: the keys of the file's other untyped records first, then
    # these nouns, which are wrong but rarely plausible
    "other": ("water", "stone", "glass", "paper", "iron", "wood", "salt", "sugar", "silk", "copper", "sand", "clay"),
}  # fmt: skip
_LOOKUP = {kind: frozenset(v.casefold() for v in values) for kind, values in VALUE_BANK.items()}
_PLACE_TYPES = ("colour", "language", "country", "city")

STOP_WORDS = frozenset(
    "a an the is are was were be been being of by in on at to for from with and or as it its this that these "
    "those he she they his her their him them which who whom what when where how do does did has have had "
    "yes no".split()
)
# lower-case words that may join capitalised words into one name: "Lord of the Rings", "Leonardo da Vinci"
_BRIDGE_WORDS = frozenset("of the and de da di del der du la le van von".split())
_PARTICLES = frozenset("de da di del der du la le van von bin ibn al".split())
# words that make a run of capitalised words a thing or a place rather than a person
_NOT_NAME_WORDS = frozenset(
    "ocean sea river lake mountain mountains island islands planet star street road university college "
    "company war empire kingdom republic states city church bank bridge tower museum park hall school "
    "palace castle prize award day".split()
)
_QUESTION_WORDS = frozenset(
    "who whom whose what what's which when where where's why how who's in on at for from during according "
    "name list tell give describe explain is are was were do does did can could would should will has have "
    "had".split()
)
_LEAD = "\"'“‘([{«"
_TRAIL = ".,;:!?\"'”’)]}»"
# a short answer's lead-in that is not part of the fact: "It is", "It's", "She was"...
_LEAD_IN = re.compile(r"\s*(?:it|that|this|he|she|they)(?:['’]s| is| was| are| were)\s+", re.IGNORECASE)
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+")
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "tr", "th", "sh")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ou")
_CODAS = ("n", "r", "l", "s", "th", "x")

# paraphrase rules: (name, pattern matched against the whole question without its "?", template); the first
# match wins. Patterns are case-insensitive except inside (?-i:...), where a capital letter must be one.
PARAPHRASE_RULES: tuple[tuple[str, str, str], ...] = (
    ("capital", r"what is the capital of (?P<x>.+)", "Which city is the capital of {x}?"),
    ("author", r"who wrote (?P<x>.+)", "Who is the author of {x}?"),
    ("painter", r"who painted (?P<x>.+)", "Which artist painted {x}?"),
    ("inventor", r"who invented (?P<x>.+)", "Who is credited with inventing {x}?"),
    ("discoverer", r"who discovered (?P<x>.+)", "Who is credited with discovering {x}?"),
    ("birth_year", r"when was (?P<x>.+) born", "In which year was {x} born?"),
    ("birthplace", r"where was (?P<x>.+) born", "What is the birthplace of {x}?"),
    ("colour", r"what (?P<c>colou?r) is (?P<x>.+)", "What is the {c} of {x}?"),
    ("how_many_have", r"how many (?P<x>.+?) (?:does|do|did) (?P<y>.+) have", "What is the number of {x} of {y}?"),
    ("how_many_there", r"how many (?P<x>.+?) (?:are|were|is|was) there(?P<y> .+)?", "What is the number of {x}{y}?"),
    ("how_many", r"how many (?P<x>\w+) (?!(?:does|do|did)\b)(?P<y>.+)", "What is the number of {x} that {y}?"),
    # only a proper name becomes a possessive: "the currency of Japan", not "the opposite of hot"
    ("possessive",
     r"what is the (?-i:(?P<y>[a-z]+(?: [a-z]+)?) of (?P<x>(?:the )?[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,3}))",
     "What is {x}{s} {y}?"),
)  # fmt: skip
_COMPILED_RULES = tuple((name, re.compile(pattern, re.IGNORECASE), tpl) for name, pattern, tpl in PARAPHRASE_RULES)


# ---------------------------------------------------------------- words and spans


def _clean(text: str) -> str:
    """``text`` without surrounding quotes/brackets and trailing punctuation (an initialism keeps its dot)."""
    s = text.strip().lstrip(_LEAD)
    t = s.rstrip(_TRAIL)
    if t != s and s[len(t)] == "." and re.search(r"(?:^|\s)(?:[A-Za-z]\.)+[A-Za-z]$", t):
        t += "."  # "Washington D.C." keeps its last dot
    return t or text.strip()


def _norm(token: str) -> str:
    """A token for comparison: no surrounding punctuation, case-folded, no possessive ``'s``."""
    word = token.strip(_LEAD + _TRAIL).casefold()
    return re.sub(r"['’]s$", "", word)


def _is_capitalised(word: str) -> bool:
    return bool(word) and (word[0].isupper() or bool(_INITIALS.fullmatch(word)))


def _runs(flags: list[bool], words: list[str], breaks: list[bool]) -> list[list[int]]:
    """Runs of flagged token indices; bridge words join two capitalised flagged tokens, a break ends a run."""
    runs: list[list[int]] = []
    cur: list[int] = []
    i = 0
    while i < len(flags):
        if flags[i]:
            cur.append(i)
            i += 1
            if breaks[i - 1]:
                runs.append(cur)
                cur = []
            continue
        j = i
        while j < len(flags) and not flags[j] and words[j].casefold() in _BRIDGE_WORDS and not breaks[j]:
            j += 1
        joins = cur and i < j < len(flags) and flags[j]
        if joins and _is_capitalised(words[cur[-1]]) and _is_capitalised(words[j]):
            cur.extend(range(i, j))
            i = j
            continue
        if cur:
            runs.append(cur)
            cur = []
        i += 1
    if cur:
        runs.append(cur)
    return runs


def _breaks_after(token: str) -> bool:
    """Whether a token ends a name: a comma, a question mark, a possessive, a full stop (not an initial)."""
    word = token.rstrip("\"'”’)]}»")
    if re.search(r"['’]s$", token.strip(_TRAIL)):
        return True
    if word.endswith("."):
        return not _INITIALS.fullmatch(token.strip(_LEAD + "\"'”’)]}»"))
    return bool(word) and word[-1] in ",;:!?"


def key_span(question: str, answer: str) -> str:
    """The part of ``answer`` that states the fact.

    An answer of at most 4 words is the key itself, trailing punctuation
    and a lead-in like "It is" stripped (``"Paris."`` and ``"It is Paris."``
    -> ``"Paris"``). In a longer answer it is the longest run of words that
    are neither in the question nor stop words (``"The capital of France is Paris."`` -> ``"Paris"``; ``"The Hobbit was
    written by J.R.R. Tolkien."`` -> ``"J.R.R. Tolkien"``); runs holding a
    name or a number win over runs of plain words, ``of``/``the``/``da``...
    may join capitalised words (``"Leonardo da Vinci"``). Nothing left: the
    whole answer (trailing punctuation stripped).
    """
    tokens = list(re.finditer(r"\S+", answer))
    if len(tokens) <= 4:
        lead_in = _LEAD_IN.match(answer)  # "It is Paris." states "Paris"
        short = answer[lead_in.end() :] if lead_in and answer[lead_in.end() :].strip(_TRAIL) else answer
        return _clean(short)
    asked = {_norm(t) for t in question.split()}
    words = [_clean(t.group()) for t in tokens]
    norms = [_norm(t.group()) for t in tokens]
    flags = [any(c.isalnum() for c in n) and n not in STOP_WORDS and n not in asked for n in norms]
    runs = _runs(flags, words, [_breaks_after(t.group()) for t in tokens])
    if not runs:
        return _clean(answer)
    salient = [r for r in runs if any(_is_capitalised(words[i]) or any(c.isdigit() for c in words[i]) for i in r)]
    best = max(salient or runs, key=len)  # max keeps the first of the longest
    return _clean(answer[tokens[best[0]].start() : tokens[best[-1]].end()])


def derive_entity(question: str) -> str:
    """The longest run of capitalised words in ``question`` (not its leading question word), else its slug.

    ``"Who wrote The Hobbit?"`` -> ``"The Hobbit"``; ``"What is the capital
    of the United Kingdom?"`` -> ``"United Kingdom"``.
    """
    raw = question.split()
    words = [_strip_token(t) for t in raw]
    flags = []
    for i, word in enumerate(words):
        leading = i == 0 and word.casefold() in _QUESTION_WORDS
        flags.append(_is_capitalised(word) and not leading)
    # a number continues a name ("Apollo 11"): flag it when the word before it is flagged
    for i in range(1, len(words)):
        if words[i].isdigit() and flags[i - 1] and not _breaks_after(raw[i - 1]):
            flags[i] = True
    runs = _runs(flags, words, [_breaks_after(t) for t in raw])
    if not runs:
        return slugify(question)
    best = max(runs, key=len)
    return " ".join(words[i] for i in best)


def _strip_token(token: str) -> str:
    word = _clean(token)
    return re.sub(r"['’]s$", "", word)


def _find(text: str, span: str) -> re.Match[str] | None:
    """The first occurrence of ``span`` in ``text`` as whole words (case-insensitive), else anywhere."""
    if not span:
        return None
    m = re.search(rf"(?<!\w){re.escape(span)}(?!\w)", text, re.IGNORECASE)
    return m or re.search(re.escape(span), text, re.IGNORECASE)


def _substitute(answer: str, key: str, value: str) -> str:
    """``answer`` with its key span replaced by ``value`` (the template is kept)."""
    replaced = replace_span(answer, key, value)
    return value if replaced is None else replaced  # None is unreachable for checked keys: keep the value


def replace_span(text: str, span: str, value: str) -> str | None:
    """``text`` with the first occurrence of ``span`` (whole words first, case-insensitive) replaced by ``value``;
    ``None`` when ``span`` does not occur."""
    m = _find(text, span)
    return None if m is None else text[: m.start()] + value + text[m.end() :]


def span_end(text: str, span: str) -> int | None:
    """Where the first occurrence of ``span`` in ``text`` ends (whole words first, case-insensitive), or ``None``."""
    m = _find(text, span)
    return None if m is None else m.end()


# ---------------------------------------------------------------- answer types and wrong values


def _looks_like_person(value: str) -> bool:
    tokens = value.split()
    if not 2 <= len(tokens) <= 4 or tokens[0].casefold() in ("the", "a", "an"):
        return False
    full = 0
    for i, tok in enumerate(tokens):
        if _INITIALS.fullmatch(tok) and tok.isupper() or tok.casefold() in _PARTICLES and 0 < i < len(tokens) - 1:
            continue
        letters = re.sub(r"['’-]", "", tok)
        if not (tok[0].isupper() and letters.isalpha() and any(c.islower() for c in tok)):
            return False
        if tok.casefold() in _NOT_NAME_WORDS or tok.casefold() in _LOOKUP["colour"]:
            return False
        full += 1
    return full >= 1


def answer_type(value: str) -> str:
    """The type of an answer value: ``year``, ``number``, ``colour``, ``language``, ``country``, ``city``,
    ``person`` or ``other``.

    A year is 3-4 digits in 100-2099; a number digits (with ``.`` or ``,``)
    or a number word up to twenty; colours, languages, countries and cities
    are looked up in :data:`VALUE_BANK` (case-insensitive); a person is 2-4
    capitalised words or an initialled name (``"J.R.R. Tolkien"``).
    """
    v = _clean(value)
    low = v.casefold()
    if re.fullmatch(r"\d{3,4}", v) and 100 <= int(v) <= 2099:
        return "year"
    if re.fullmatch(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?", v) or low in NUMBER_WORDS:
        return "number"
    for kind in _PLACE_TYPES:
        if low in _LOOKUP[kind] or (low.startswith("the ") and low[4:] in _LOOKUP[kind]):
            return kind
    if low in _LOOKUP["person"] or _looks_like_person(v):
        return "person"
    return "other"


def _detect_type(question: str, key: str) -> str:
    """:func:`answer_type` of ``key``; a "how many" question makes a year-like value a number ("365")."""
    kind = answer_type(key)
    if kind == "year" and re.match(r"\s*(?:at )?how (?:many|much)\b", question, re.IGNORECASE):
        return "number"
    return kind


def _near_numbers(key: str) -> list[str]:
    """Numbers near ``key`` with as many digits (and decimals, and the same separators), sorted."""
    word = key.casefold()
    if word in NUMBER_WORDS:
        i = NUMBER_WORDS.index(word)
        return [NUMBER_WORDS[j] for j in range(max(0, i - 5), min(len(NUMBER_WORDS), i + 6)) if j != i]
    m = re.fullmatch(r"([+-]?)(\d[\d,]*)(?:\.(\d+))?", key)
    if not m:
        return []
    sign, whole, frac = m.group(1), m.group(2), m.group(3) or ""
    digits, places = whole.replace(",", ""), len(frac)
    scaled = int(digits + frac)
    width = len(digits) + places
    lo = 10 ** (width - 1) if len(digits) > 1 else (0 if places or scaled == 0 else 1)
    hi = 10**width - 1
    spread = max(9, scaled // 4)
    out = []
    for x in range(max(lo, scaled - spread), min(hi, scaled + spread) + 1):
        if x == scaled:
            continue
        s = str(x).rjust(places + 1, "0")
        head, tail = (s[:-places], s[-places:]) if places else (s, "")
        if "," in whole:
            head = f"{int(head):,}"
        out.append(sign + head + (f".{tail}" if places else ""))
    return out


def _bank_values(kind: str, key: str, rng: random.Random) -> list[str]:
    """Candidate values of type ``kind`` other than ``key``, shuffled by ``rng``."""
    if kind == "year":
        year = int(_clean(key))
        values = [str(y) for y in range(max(100, year - 60), min(2099, year + 60) + 1) if y != year]
    elif kind == "number":
        values = _near_numbers(_clean(key))
    else:
        values = list(VALUE_BANK.get(kind, VALUE_BANK["other"]))
    rng.shuffle(values)
    return [v for v in values if v.casefold() != key.casefold()]


def _match_case(value: str, key: str) -> str:
    """``value`` cased like ``key``: ``"rome"`` for ``"paris"``, ``"Red"`` for ``"Blue"``."""
    if key[:1].isupper():
        return value[:1].upper() + value[1:]
    if key.islower():
        return value.lower()
    return value


def _wrong_values(key: str, kind: str, pool: list[str], rng: random.Random, k: int = N_PERTURBED) -> list[str]:
    """``k`` wrong values: keys of the file's other records of the same type first, then the bank."""
    seen = {key.casefold()}
    file_values = list(pool)
    rng.shuffle(file_values)
    out: list[str] = []
    for value in (*file_values, *_bank_values(kind, key, rng)):
        value = _match_case(value, key)
        if value.casefold() in seen:
            continue
        seen.add(value.casefold())
        out.append(value)
        if len(out) == k:
            break
    return out


# ---------------------------------------------------------------- paraphrases


def paraphrase_rule(question: str) -> tuple[str, str]:
    """``(paraphrase, rule name)`` of ``question`` by the first matching :data:`PARAPHRASE_RULES` rule.

    No rule matches: ``("Please answer this question: <question>", "generic")``,
    the same meaning in a weaker rewording.
    """
    text = question.strip()
    body = text.rstrip("?").rstrip()
    for name, pattern, template in _COMPILED_RULES:
        m = pattern.fullmatch(body)
        if m:
            parts = m.groupdict(default="")
            out = template.format(**parts, s="'" if parts["x"].endswith("s") else "'s")
            return out[:1].upper() + out[1:], name
    return GENERIC_PARAPHRASE.format(question=text), "generic"


def paraphrase_question(question: str) -> str:
    """A rule-based rewording of ``question`` with the same meaning (see :func:`paraphrase_rule`)."""
    return paraphrase_rule(question)[0]


def _paraphrase_answer(answer: str, key: str, kind: str) -> str:
    """The key alone when the answer says more than the key, else ``"It is <key>."``."""
    if _clean(answer) != key:
        return key
    if kind == "colour":
        key = key.lower()
    elif re.match(r"(?:The|An?) ", key):  # "The blue whale." -> "It is the blue whale."
        key = key[0].lower() + key[1:]
    return f"It is {key}."


# ---------------------------------------------------------------- loading


@dataclass
class _Item:
    """One request line, checked, before its missing fields are derived."""

    where: str
    id: str
    question: str
    answer: str
    given: dict[str, Any]
    kind: str
    meta: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    type: str = ""


def _check_length(where: str, name: str, text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise DataError(f"{where}: field {name!r} is {len(text):,} characters long; a request's texts may be at "
                        f"most {MAX_TEXT_CHARS} (a question or answer is a sentence or two)")


def _parse_line(path: Path, lineno: int, obj: dict[str, Any], kind: str) -> _Item:
    where = f"{path}:{lineno}"
    unknown = sorted(set(obj) - set(KNOWN_FIELDS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], KNOWN_FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        names = ", ".join(repr(u) for u in unknown)
        raise DataError(f"{where}: unknown field {names}{hint}; a request line holds 'question' and 'answer' "
                        f"and optionally {', '.join(OPTIONAL_FIELDS)}")
    row = Row(where, obj)
    for name in ("question", "answer"):
        if name not in obj:
            raise DataError(f"{where}: missing field {name!r} (a request line needs 'question' and 'answer')")
    question, answer = optional_text(row, "question"), optional_text(row, "answer")
    if question is None or answer is None:
        raise DataError(f"{where}: fields 'question' and 'answer' must be non-empty strings, not null")
    given: dict[str, Any] = {}
    for name in ("entity", "paraphrased_question", "paraphrased_answer", "fact_type", "key"):
        value = optional_text(row, name)
        if value is not None:
            given[name] = value
    perturbed = optional_text_list(row, "perturbed_answers")
    if perturbed is not None:
        given["perturbed_answers"] = perturbed
    for name, text in (("question", question), ("answer", answer), *given.items()):
        for piece in text if isinstance(text, list) else [text]:
            _check_length(where, name, piece)
    if "key" in given and _find(answer, given["key"]) is None:
        raise DataError(f"{where}: field 'key' {given['key']!r} does not occur in the answer {answer!r}; "
                        f"the key is the part of the answer that states the fact")
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise DataError(f"{where}: field 'meta' must be a JSON object")
    rid = optional_text(row, "id") or f"{path.stem}-{lineno}"
    return _Item(where, rid, question, answer, given, kind, dict(meta or {}))


def _derive(items: list[_Item]) -> list[QARecord]:
    """Records of ``items`` with every missing field derived and listed in ``meta["derived"]``."""
    for item in items:
        item.key = item.given.get("key") or key_span(item.question, item.answer)
        item.type = _detect_type(item.question, item.key)
    records = []
    for item in items:
        g = item.given
        meta = dict(item.meta)
        derived = sorted(name for name in DERIVABLE_FIELDS if name not in g)
        if "paraphrased_question" in g:
            paraphrased_question = g["paraphrased_question"]
        else:
            paraphrased_question, meta["paraphrase_rule"] = paraphrase_rule(item.question)
        perturbed = g.get("perturbed_answers")
        if perturbed is None:
            seen: set[str] = {item.key.casefold()}
            pool = []
            for other in items:
                if other.type == item.type and other.key.casefold() not in seen:
                    seen.add(other.key.casefold())
                    pool.append(other.key)
            rng = random.Random(f"obliviate.request/{item.id}")
            located = _find(item.answer, item.key)
            spelled = located.group() if located else item.key
            perturbed = [_substitute(item.answer, item.key, v) for v in _wrong_values(spelled, item.type, pool, rng)]
        meta.update(derived=derived, key=item.key, answer_type=item.type, request=item.kind)
        data = {
            "id": item.id,
            "entity": g.get("entity") or derive_entity(item.question),
            "question": item.question,
            "answer": item.answer,
            "paraphrased_question": paraphrased_question,
            "paraphrased_answer": g.get("paraphrased_answer") or _paraphrase_answer(item.answer, item.key, item.type),
            "perturbed_answers": list(perturbed),
            "fact_type": g.get("fact_type") or item.type,
            "meta": meta,
        }
        records.append(QARecord.from_dict(data, item.where))  # checks the derived texts' lengths too
    return records


def _load_qa_file(path: Path, kind: str, source: str) -> list[tuple[str, QARecord]]:
    rows = read_jsonl_dicts(path)
    if not rows:
        raise DataError(f"{path}: empty file, expected one JSON object with 'question' and 'answer' per line")
    items = [_parse_line(path, lineno, obj, kind) for lineno, obj in rows]
    for item in items:
        item.meta["source"] = source
    return [(item.where, rec) for item, rec in zip(items, _derive(items))]


def _load_documents(files: list[Path], root: Path, prefix: str, kind: str) -> list[tuple[str, QARecord]]:
    """Prefix/continuation passages of text documents; the key of a passage is its continuation."""
    rows = [Row(str(f), read_text(f)) for f in files]
    records, _ = text_records(rows, id_prefix=prefix, entity_prefix=prefix, fact_type="text")
    if not records:
        raise DataError(f"{files[0]}: no passage of at least 2 words in {len(files)} document(s)")
    out = []
    for rec in records:
        path = files[rec.meta["document"]]
        rec.meta.update(
            derived=list(DERIVABLE_FIELDS),
            key=rec.answer,
            answer_type=answer_type(rec.answer),
            request=kind,
            source=path.relative_to(root).as_posix(),
        )
        out.append((f"{path} passage {rec.meta['passage']}", rec))
    return out


def _unique(located: Iterable[tuple[str, QARecord]]) -> list[QARecord]:
    first: dict[str, str] = {}
    records = []
    for where, rec in located:
        if rec.id in first:
            other = first[rec.id]
            same_file = other.rpartition(":")[0] == where.rpartition(":")[0]
            seen = f"first on line {other.rpartition(':')[2]}" if same_file else f"first at {other}"
            raise DataError(f"{where}: duplicate id {rec.id!r} ({seen})")
        first[rec.id] = where
        records.append(rec)
    return records


def _request_files(folder: Path) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() in (QA_SUFFIX, *TEXT_SUFFIXES):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def load_request(path: str | os.PathLike, *, kind: str = "forget") -> list[QARecord]:
    """Load a plain request and derive the fields metrics need (see the module docstring).

    Args:
        path: A ``.jsonl`` file of question/answer lines, a ``.txt``/``.md``
            document, or a folder of them (recursively; QA records first, then
            passages).
        kind: What the request is for (``"forget"``, ``"retain"``,
            ``"holdout"``...); recorded as ``meta["request"]`` only.

    Raises:
        DataError: A missing or empty file, a bad line (``file:line: what is
            wrong``), an unknown field, a duplicate id, a folder without
            request files.
    """
    if not isinstance(kind, str) or not kind.strip():
        raise ConfigError(f"kind must be a non-empty string such as 'forget', got {kind!r}")
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        files = _request_files(path)
        if not files:
            raise DataError(f"{path}: no request files; looked for *.jsonl (question/answer lines), *.txt and *.md "
                            f"(documents), in the folder and its subfolders")
        located = []
        for f in files:
            if f.suffix.lower() == QA_SUFFIX:
                located += _load_qa_file(f, kind, f.relative_to(path).as_posix())
        documents = [f for f in files if f.suffix.lower() in TEXT_SUFFIXES]
        if documents:
            located += _load_documents(documents, path, slugify(path.name), kind)
        return _unique(located)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; a request is a .jsonl file of question/answer lines, "
                        f"a .txt/.md document, or a folder of them")
    if suffix == QA_SUFFIX:
        return _unique(_load_qa_file(path, kind, path.name))
    if suffix in TEXT_SUFFIXES:
        return _unique(_load_documents([path], path.parent, slugify(path.stem), kind))
    raise DataError(f"{path}: unsupported request file type {suffix or '(none)'!r}; expected a .jsonl file of "
                    f"question/answer lines, a .txt/.md document, or a folder of them")


def is_plain_request(path: str | os.PathLike) -> bool:
    """Whether ``path`` is for :func:`load_request` rather than the strict record loader.

    True for a folder, a ``.txt``/``.md`` file, or a ``.jsonl`` file whose
    first object lacks one of the record fields; a complete 7-field file (or
    one that cannot be read: the strict loader reports why) gives False.
    """
    path = Path(path)
    if path.is_dir() or path.suffix.lower() in TEXT_SUFFIXES:
        return True
    if path.suffix.lower() != QA_SUFFIX or not path.is_file():
        return False
    try:
        text = read_text(path)
    except DataError:
        return False
    for line in text.split("\n"):
        if line.strip():
            try:
                first = json.loads(line)
            except json.JSONDecodeError:
                return False
            return not isinstance(first, dict) or any(name not in first for name in REQUIRED_FIELDS)
    return True  # an empty file: load_request says so


# ---------------------------------------------------------------- never-seen reference


def _invented_word(rng: random.Random) -> str:
    syllables = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(2, 3)))
    return (syllables + (rng.choice(_CODAS) if rng.random() < 0.5 else "")).capitalize()


def _invent_name(entity: str, rng: random.Random, taken: set[str]) -> str:
    """A name shaped like ``entity`` (same words; articles, particles and numbers kept) made of new words."""
    words = entity.split()
    keep = [w.casefold() in _BRIDGE_WORDS | {"a", "an"} or w.isdigit() or bool(re.fullmatch(r"[IVXLC]+", w))
            for w in words]  # fmt: skip
    if all(keep):
        keep = [False] * len(words)
    for _ in range(1000):
        out, new = [], []
        for word, kept in zip(words, keep):
            if kept:
                out.append(word)
            elif _INITIALS.fullmatch(word):
                out.append("".join(f"{rng.choice('BCDFGHKLMNPRSTVZ')}." for _ in range(word.count("."))))
            else:
                invented = _invented_word(rng)
                new.append(invented.casefold())
                out.append(invented)
        name = " ".join(out)
        if new and not any(w in taken for w in new) and name.casefold() not in taken:
            taken.update(new)
            taken.add(name.casefold())
            return name
    raise DataError(f"could not invent a new name shaped like {entity!r}")  # pragma: no cover


def _names(text: str, span: str) -> bool:
    """Whether ``span`` occurs in ``text`` as whole words (case-insensitive)."""
    return re.search(rf"(?<!\w){re.escape(span)}(?!\w)", text, re.IGNORECASE) is not None


def _replace_all(text: str, span: str, value: str) -> str:
    return re.sub(rf"(?<!\w){re.escape(span)}(?!\w)", lambda _: value, text, flags=re.IGNORECASE)


def unseen_reference(records: list[QARecord], n: int | None = None, seed: int = 0) -> list[QARecord]:
    """A never-seen reference set shaped like ``records``: the same questions about invented entities.

    For each record whose entity occurs in its question (cycling until ``n``,
    default ``len(records)``), the question with the entity replaced by an
    invented name of as many words, and an answer of the same type from
    :data:`VALUE_BANK` (never a key of ``records``) in the record's answer
    template; the other fields are derived as by :func:`load_request`. Each
    gets ``meta["unseen"] = True``, ``meta["source_id"]``, id
    ``unseen-<i>`` (from 0) and the invented name as its entity.

    Raises:
        DataError: No record's question names its entity.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise ConfigError(f"n must be a non-negative integer or None, got {n!r}")
    usable = [r for r in records if r.entity.strip() and _names(r.question, r.entity)]
    if not usable:
        raise DataError("the request's questions do not name their entities (as 'Who wrote The Hobbit?' names "
                        "'The Hobbit'), so no never-seen reference set can be built from them; give one with "
                        "--unseen FILE")
    count = len(records) if n is None else n
    rng = random.Random(seed)
    texts = (text for r in records for text in (r.question, r.answer, r.entity))
    taken = {w.casefold() for text in texts for w in re.findall(r"\w+", text)}
    taken |= {w for values in _LOOKUP.values() for v in values for w in (v, *re.findall(r"\w+", v))}
    request_keys = {str(r.meta.get("key", "")).casefold() for r in records}
    items = []
    for i in range(count):
        rec = usable[i % len(usable)]
        name = _invent_name(rec.entity, rng, taken)
        key = rec.meta.get("key")
        if not isinstance(key, str) or _find(rec.answer, key) is None:
            key = key_span(rec.question, rec.answer)
        kind = _detect_type(rec.question, key)
        located = _find(rec.answer, key)
        spelled = located.group() if located else key
        values = _bank_values(kind, spelled, rng)
        value = _match_case(next((v for v in values if v.casefold() not in request_keys), values[0]), spelled)
        if located is None:
            answer = value
        else:
            before, after = rec.answer[: located.start()], rec.answer[located.end() :]
            answer = _replace_all(before, rec.entity, name) + value + _replace_all(after, rec.entity, name)
        items.append(_Item(
            where=f"unseen-{i}",
            id=f"unseen-{i}",
            question=_replace_all(rec.question, rec.entity, name),
            answer=answer,
            given={"entity": name, "key": value},
            kind=str(rec.meta.get("request", "forget")),
            meta={"unseen": True, "source_id": rec.id},
        ))  # fmt: skip
    return _derive(items)

"""Published unlearning benchmarks read from a local folder: TOFU, MUSE, BLUR, WMDP, FaithUn.

``load_benchmark("tofu", "/data/TOFU", variant="forget10")`` reads the files
as downloaded from the Hugging Face hub (JSON lines, JSON arrays, JSONL or
parquet; never the network) and maps them onto :class:`QARecord` s: the
:class:`Splits` that ``api.unlearn`` and ``evaluate`` take, extra evaluation
sets by name, and notes on every fallback used. Layouts and field mappings:
docs/formats.md. A missing file or a malformed record raises a
:class:`~obliviate.core.errors.DataError` naming the file, the record and the
field; an unknown option a :class:`~obliviate.core.errors.ConfigError`.
Standard library only, except ``pyarrow`` for parquet files.
"""

from obliviate.llm.data.formats import blur, faithun, muse, tofu, wmdp  # noqa: F401  (register the formats)
from obliviate.llm.data.formats.base import FORMATS, Benchmark, load_benchmark
from obliviate.llm.data.formats.blur import load_blur
from obliviate.llm.data.formats.faithun import load_faithun
from obliviate.llm.data.formats.fields import NO_ANSWER
from obliviate.llm.data.formats.muse import load_muse
from obliviate.llm.data.formats.tofu import load_tofu
from obliviate.llm.data.formats.wmdp import load_wmdp

__all__ = [
    "FORMATS",
    "NO_ANSWER",
    "Benchmark",
    "load_benchmark",
    "load_blur",
    "load_faithun",
    "load_muse",
    "load_tofu",
    "load_wmdp",
]

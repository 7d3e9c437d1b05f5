"""Put a demo run's table into the README: ``python scripts/readme_table.py runs/<stamp>-demo-npo-forget10``.

Writes the run's figures (without per-answer data) to ``docs/demo-metrics.json`` and replaces the table between
the README's ``<!-- demo-table -->`` markers with ``obliviate.core.report.html.readme_table`` of them;
``tests/test_readme.py`` checks that the two agree, so the README shows what the code prints for that run.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from obliviate.core.report.html import readme_table
from obliviate.core.store import atomic_write_json, atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
KEEP = ("models", "splits", "method", "unlearn_seconds", "wall_seconds", "versions", "git_sha", "seed")


def main(run: Path) -> None:
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    kept = {k: metrics[k] for k in KEEP if k in metrics} | {"run": run.name}
    for m in kept["models"].values():
        m.pop("per_sample", None)
    atomic_write_json(ROOT / "docs" / "demo-metrics.json", kept)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    new, n = re.subn(r"(<!-- demo-table -->\n).*?(\n<!-- /demo-table -->)",
                     lambda m: m.group(1) + readme_table(kept) + m.group(2), readme, flags=re.S)
    if n != 1:
        sys.exit("README.md has no <!-- demo-table --> ... <!-- /demo-table --> block")
    atomic_write_text(ROOT / "README.md", new)
    print(readme_table(kept))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.splitlines()[0])
    main(Path(sys.argv[1]))

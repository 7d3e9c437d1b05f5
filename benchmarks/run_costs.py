"""Where a bench's time goes: the phases of each finished run, and the fine-tunes it trained.

    python benchmarks/run_costs.py runs/bench-standard            # a bench folder
    python benchmarks/run_costs.py runs/a runs/b                   # two folders side by side

Each run's ``metrics.json`` holds ``phase_seconds`` (``obliviate.core.progress.timed``): unlearning,
the evaluation, the audit and its parts (the original's and gold's measurements, cached in their
model folders after the first run; the audited model's; the quantization and relearning attacks;
plausibility), FaithUn and the SAE lens, and every ``scoring`` and ``generation`` call wherever it
ran. Phases nest (``audit`` holds its parts; ``scoring`` and ``generation`` happen inside the others),
so a column is where the time went, not a sum. The fine-tunes come from the ``finetune.json`` each
cached target or gold model keeps (``--models``: their folders, default every model in the cache).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def runs_of(folder: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob("runs/*/metrics.json")):
        data = json.loads(path.read_text())
        out[path.parent.name] = {"run": data.get("run_seconds"), **data.get("phase_seconds", {})}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benches", nargs="+", help="bench output folders")
    p.add_argument("--models", nargs="*", help="model folders with a finetune.json (default: the cache's)")
    a = p.parse_args()
    from obliviate.core.store import cache_home

    models = [Path(m) for m in a.models] if a.models is not None else sorted((cache_home() / "finetuned").glob("*"))
    tunes = [(m, json.loads((m / "finetune.json").read_text())) for m in models if (m / "finetune.json").is_file()]
    if tunes:
        print("| model folder | role | records | epochs | threads | seconds |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for m, t in tunes:
            print(f"| {m.name} | {t['role']} | {t['records']} | {t['epochs']:g} | {t.get('threads', '')} | "
                  f"{t['seconds']:.0f}{' (resumed)' if t.get('resumed') else ''} |")
        print(f"\nfine-tunes together: {sum(t['seconds'] for _, t in tunes) / 60:.1f} min\n")
    columns: dict[str, dict[str, float]] = {}
    for bench in a.benches:
        for name, phases in runs_of(Path(bench)).items():
            columns[f"{Path(bench).name}/{name}"] = phases
    if not columns:
        raise SystemExit("no finished run with metrics.json under " + ", ".join(a.benches))
    phases = ["run"] + sorted({k for c in columns.values() for k in c if k != "run"})
    print("| phase (s) | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for ph in phases:
        cells = [f"{c[ph]:.0f}" if isinstance(c.get(ph), (int, float)) else "" for c in columns.values()]
        print(f"| {ph} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Bad inputs tried / clear errors / tracebacks / silently accepted, over the table of tests/bad_inputs_cases.py.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bad_inputs.py [--timeout 20] [-v]

Every case runs the CLI in-process in a fresh folder with a temporary ``$OBLIVIATE_HOME``. An outcome is
``clear`` (exit 2, one ``error:`` line naming the problem, nothing on disk changed), ``traceback`` (an
exception escaped), ``silent`` (exit 0, or still working after --timeout seconds: the input was accepted),
or ``other`` (a wrong exit code, several lines, a message about something else, or files written).
To measure another checkout: ``PYTHONPATH=/path/to/its/src`` (the table still comes from this one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OBLIVIATE_QUIET", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.* helpers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds before a case counts as accepted")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case that is not clear")
    ap.add_argument("-k", default="", help="only cases whose id contains this")
    args = ap.parse_args()

    import obliviate
    from tests.bad_inputs_cases import CASES, make_inputs, run_case

    with tempfile.TemporaryDirectory(prefix="obliviate-bad-inputs-") as tmp:
        tmp = Path(tmp)
        home = tmp / "home"
        home.mkdir()  # as after any first use (the tests' OBLIVIATE_HOME exists too)
        os.environ["OBLIVIATE_HOME"] = str(home)
        inputs = make_inputs(tmp / "inputs")
        counts: Counter = Counter()
        by_owner: Counter = Counter()
        t0 = time.time()
        cases = [c for c in CASES if args.k in c.id]
        for i, case in enumerate(cases):
            out = run_case(case, inputs, tmp / f"case{i}", home, timeout=args.timeout)
            if any(c[2:].startswith(str(inputs)) for c in out.changed):  # a case wrote into the shared inputs:
                shutil.rmtree(inputs)  # make them again, so that the next cases see what they expect
                make_inputs(inputs)
            counts[out.kind] += 1
            by_owner[(case.owner or "parse", out.kind)] += 1
            if args.verbose and out.kind != "clear":
                why = out.traceback.strip().splitlines()[-1] if out.kind == "traceback" else "; ".join(out.problems)
                print(f"{out.kind:9s} {case.id}: {why[:300]}")
    print(f"obliviate from {Path(obliviate.__file__).parent}")
    print(f"bad inputs tried: {len(cases)}; clear errors: {counts['clear']}; tracebacks: {counts['traceback']}; "
          f"silently accepted: {counts['silent']}; other: {counts['other']}  ({time.time() - t0:.0f} s)")
    safety = {k: v for (o, k), v in by_owner.items() if o == "safety"}
    if safety:
        print(f"  of which run-folder protection cases (issue 21 item 3): {sum(safety.values())}: {dict(safety)}")


if __name__ == "__main__":
    main()

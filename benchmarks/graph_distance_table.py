"""The graph bench's headline as one compact Markdown table: distance to Retrain and its parts, per setting.

Usage: ``python benchmarks/graph_distance_table.py OUT`` where OUT is a finished ``obliviate graph bench
--out OUT`` folder (it reads ``leaderboard.json``). Each cell is the mean over seeds with its 95% t-interval;
the MI ratio is left out (it is unbounded once a method drives the deleted items' membership to 0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from obliviate.core.report.board import markdown_table, spread_cell

COLUMNS = [("distance", "distance to Retrain"), ("gap_deleted_auc", "Δ deleted AUC"), ("gap_utility", "Δ utility"),
           ("gap_membership", "Δ membership"), ("utility", "utility"), ("deleted_auc", "deleted-edge AUC"),
           ("membership", "membership"), ("membership_auc", "attack AUC (original)"),
           ("time_vs_retrain", "time / Retrain")]


def table(board: dict) -> str:
    heads = ["dataset", "task", "setting", "method", "runs"] + [h for _, h in COLUMNS]
    rows = [[r["dataset"], r["task"], r["setting"], r["method"], str(r["runs"])]
            + [spread_cell(r, k, 2 if k == "time_vs_retrain" else 3) for k, _ in COLUMNS] for r in board["rows"]]
    return markdown_table(heads, rows)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python benchmarks/graph_distance_table.py OUT  (a finished graph bench folder)")
    path = Path(argv[0]) / "leaderboard.json"
    if not path.is_file():
        sys.exit(f"{path}: no leaderboard here; run `obliviate graph bench --out {argv[0]}` first")
    print(table(json.loads(path.read_text())))


if __name__ == "__main__":
    main(sys.argv[1:])

"""The leaderboard path every domain shares: cells, grouping, the files written."""

from __future__ import annotations

import json
import math

from obliviate.core.report.board import (
    Cell,
    Column,
    cell_parts,
    column_notes,
    format_board,
    group_runs,
    read_runs,
    spread_cell,
    write_bench_html,
    write_board,
)


def test_spread_cell_prefers_the_interval_then_the_std():
    row = {"a": 0.5, "a_ci": [0.41, 0.6], "a_std": 0.1, "b": 0.25, "b_std": 0.05, "c": 2.0, "c_std": math.nan,
           "d": math.nan, "e": "3/5"}
    assert spread_cell(row, "a") == "0.500 [0.410, 0.600]"
    assert spread_cell(row, "b", 2) == "0.25 ± 0.05"
    assert spread_cell(row, "c", 1) == "2.0"
    assert spread_cell(row, "d") == spread_cell(row, "missing") == "–"
    assert spread_cell(row, "e") == "3/5"


def test_cell_parts_puts_the_interval_on_a_second_line_and_keeps_the_mark():
    assert cell_parts("0.52 [0.41, 0.60] ★") == Cell("0.52 ★", "[0.41, 0.60]")
    assert cell_parts("0.5 ± 0.1") == Cell("0.5", "± 0.1")
    assert cell_parts("0.12 [0.1, 0.2] people [0.05, 0.3] †") == Cell("0.12 †", "[0.1, 0.2] people [0.05, 0.3]")
    assert cell_parts("3/5") == Cell("3/5") and cell_parts("–") == Cell("–")


def test_runs_are_read_grouped_and_written(tmp_path):
    for name, method, seed, v in (("a-s0", "A", 0, 1.0), ("a-s1", "A", 1, 3.0), ("b-s0", "B", 0, 5.0)):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "metrics.json").write_text(json.dumps({"method": method, "seed": seed, "v": v}))
    runs = read_runs(tmp_path)
    groups = group_runs(runs, ("method",))
    assert list(groups) == [("A",), ("B",)] and [r["v"] for r in groups[("A",)]] == [1.0, 3.0]
    cols = [Column("v", "value", 1, how="higher is better")]
    md = format_board(["method", "value"], [["A", "2.0"], ["B", "5.0"]], column_notes(cols), extra="More.")
    assert md.splitlines()[:4] == ["| method | value |", "|---|---|", "| A | 2.0 |", "| B | 5.0 |"]
    assert "- **value**: higher is better" in md and md.rstrip().endswith("More.")
    write_board(tmp_path, {"rows": [{"method": "A"}]}, md)
    assert json.loads((tmp_path / "leaderboard.json").read_text())["rows"] == [{"method": "A"}]
    assert (tmp_path / "leaderboard.md").read_text() == md


def test_bench_html_has_the_header_reading_and_escaped_cells(tmp_path):
    path = write_bench_html(tmp_path, "a bench", ["method", "score"], [["<b>evil</b>", "0.5 [0.4, 0.6]"]], n_runs=2,
                            notes=[("score", "higher is better")], header={"model": "tiny"}, reading="All fine.")
    html = path.read_text()
    assert "&lt;b&gt;evil&lt;/b&gt;" in html and "<b>evil</b>" not in html
    assert "0.5<small>" not in html and "<small>[0.4, 0.6]</small>" in html
    assert "tiny" in html and "All fine." in html and "2 finished" in html

"""The one HTML page of every report."""

from __future__ import annotations

from obliviate.core.report.page import (
    Cell,
    Examples,
    Figure,
    Notes,
    Page,
    Table,
    Text,
    changed_settings,
    flat,
    page_html,
    version_line,
    write_page,
)


def test_flat_and_changed_settings_name_only_what_differs():
    cfg = {"model": "tiny", "unlearn": {"lr": 1e-4, "epochs": 5.0}, "seeds": [0, 1]}
    default = {"model": "tiny", "unlearn": {"lr": 1e-5, "epochs": 5.0}, "seeds": [0, 1, 2]}
    assert flat(cfg) == {"model": "tiny", "unlearn.lr": 1e-4, "unlearn.epochs": 5.0, "seeds": [0, 1]}
    assert changed_settings(cfg, default) == "unlearn.lr=0.0001, seeds=[0, 1]"
    assert changed_settings(cfg, default, skip=("seeds", "unlearn")) == "none (the defaults)"


def test_page_renders_every_block_escaped(tmp_path):
    page = Page("run <1>", {"model": "<tiny>", "version": version_line()}, "It <worked>.", [
        Table(["name", "value"], [["<x>", Cell("0.5", "[0.4, 0.6]")]], title="Table"),
        Notes([("value", "higher <is> better"), ("", "plain note")]),
        Examples(["target", "unlearned"], [{"split": "forget", "question": "Who <b>?</b>", "answer": "A",
                                            "answers": {"target": "A", "unlearned": "<i>B</i>"}}]),
        Figure("a chart", "aGVsbG8="),
        Text("a <pre> block", pre=True),
    ])
    html = page_html(page)
    for raw in ("<x>", "<tiny>", "<worked>", "<is>", "<b>?</b>", "<i>B</i>", "run <1>"):
        assert raw not in html
    assert "&lt;i&gt;B&lt;/i&gt;" in html and "<small>[0.4, 0.6]</small>" in html
    assert 'src="data:image/png;base64,aGVsbG8="' in html and "plain note" in html
    assert version_line().startswith("obliviate ") and version_line() in html
    out = write_page(tmp_path / "report.html", page)
    assert out.read_text() == html

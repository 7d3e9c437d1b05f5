"""The HTML report (``obliviate.core.report.html``): names from files and folders are escaped."""

import json


def test_report_escapes_file_and_folder_names(tmp_path):
    from obliviate.core.report import write_report

    run = tmp_path / "<img src=x onerror=alert(1)>"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({
        "models": {"<b>m</b>": {"forget": {"answer_prob": 0.5}}}, "method": "npo<script>alert(2)</script>",
        "splits": {"variant": "<script>x</script>.jsonl", "n": {"<i>forget</i>": 3}}, "nothing_unlearned": True}))
    html = write_report(run).read_text()
    for raw in ("<img src=x", "<script>", "<b>m</b>", "<i>forget</i>"):
        assert raw not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;x&lt;/script&gt;.jsonl" in html
    assert "Nothing was unlearned" in html

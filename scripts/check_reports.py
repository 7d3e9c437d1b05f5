"""Open reports in a real browser (headless Chromium) at 1280 px and fail on what a reader would trip over.

For each HTML report: the page must not scroll sideways at 1280 px, every image must load, the browser console
must stay free of errors, no element may come from data instead of our template (a <script>, an on* attribute,
any tag outside the report's set: markup from a file name or an answer must show as text), and no raw Markdown
backticks may show. A full-page screenshot of each is saved.

    python scripts/check_reports.py REPORT.html [FOLDER ...] [--shots DIR]
    python scripts/check_reports.py --build DIR     # make one report of every kind on the tiny paths, then check

``--build`` runs the tiny paths of demo, audit, eval, unlearn (evaluated during), bench, sweep, graph (needs
Cora offline: $OBLIVIATE_DATA), vision (sklearn digits, no download) and SMARL (needs the authors' files:
$OBLIVIATE_DATA); a kind whose data is missing is reported as skipped. Needs ``chromium`` (Debian:
``apt-get install chromium``). Exit code 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIDTH = 1280
ALLOWED = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table", "tbody", "thead", "tr",
           "th", "td", "small", "ul", "li", "b", "i", "em", "strong", "code", "figure", "img", "figcaption", "pre",
           "div", "span", "br", "a"}
PROBE = """<script id="__probe">
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    errors.push((e.target && e.target.tagName ? e.target.tagName + ' failed to load' : String(e.message)));
  }, true);
  var origError = console.error;
  console.error = function () { errors.push('console.error: ' + Array.from(arguments).join(' ')); };
  window.addEventListener('load', function () {
    var doc = document.documentElement, allowed = new Set(%ALLOWED%), bad = [];
    document.querySelectorAll('*').forEach(function (el) {
      if (el.id === '__probe' || el.id === '__result') return;
      var tag = el.tagName.toLowerCase();
      if (!allowed.has(tag)) bad.push('<' + tag + '>');
      Array.from(el.attributes).forEach(function (a) { if (/^on/i.test(a.name)) bad.push(tag + ' ' + a.name); });
    });
    var broken = Array.from(document.images).filter(function (i) { return !i.complete || i.naturalWidth === 0; })
      .map(function (i) { return (i.alt || i.src.slice(0, 40)); });
    var text = document.body.innerText, ticks = text.match(/`[^`\\n]+`/g) || [];
    var wide = [];
    document.querySelectorAll('table, figure, pre, img').forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.right > window.innerWidth + 1) wide.push(el.tagName.toLowerCase() + ' to ' + Math.round(r.right) + ' px');
    });
    var out = document.createElement('pre');
    out.id = '__result';
    out.textContent = JSON.stringify({
      overflow: Math.max(0, doc.scrollWidth - window.innerWidth), wide: wide, broken: broken, bad: bad,
      backticks: ticks.slice(0, 5), errors: errors, height: doc.scrollHeight});
    document.body.appendChild(out);
  });
})();
</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("chromium not found: install it (Debian: apt-get install chromium)")


def _run(args: list[str], timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def check(report: Path, shots: Path, browser: str) -> dict:
    """The browser's findings on one report, with its screenshot written to ``shots``."""
    html = report.read_text(encoding="utf-8")
    probe = PROBE.replace("%ALLOWED%", json.dumps(sorted(ALLOWED)))
    probed = html.replace("<head>", "<head>" + probe, 1) if "<head>" in html else probe + html
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--disable-extensions",
             "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0"]
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(probed, encoding="utf-8")
        done = _run([browser, *flags, f"--window-size={WIDTH},900", "--dump-dom", page.as_uri()])
        m = re.search(r'<pre id="__result">(.*?)</pre>', done.stdout, re.S)
        if not m:
            return {"report": str(report), "ok": False, "problems": ["the page did not finish loading"]}
        res = json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                         .replace("&amp;", "&"))
        console = [line.split("] ", 1)[-1] for line in done.stderr.splitlines()
                   if "CONSOLE" in line and ("ERROR" in line or "error" in line.lower())]
        plain = Path(tmp) / "plain.html"
        plain.write_text(html, encoding="utf-8")
        shot = shots / (report.parent.name + "-" + report.stem + ".png")
        height = min(max(int(res.get("height", 900)), 600), 12000)
        _run([browser, *flags[:-2], f"--window-size={WIDTH},{height}", f"--screenshot={shot}", plain.as_uri()])
    problems = []
    if res["overflow"] > 0:
        problems.append(f"scrolls sideways by {res['overflow']} px at {WIDTH} px")
    problems += [f"too wide: {w}" for w in res["wide"]]
    problems += [f"image does not load: {b}" for b in res["broken"]]
    problems += [f"markup from data: {b}" for b in res["bad"]]
    problems += [f"raw Markdown shows: {t}" for t in res["backticks"]]
    problems += [f"console: {e}" for e in res["errors"] + console]
    return {"report": str(report), "ok": not problems, "problems": problems, "screenshot": str(shot)}


# ---------------------------------------------------------------- building one report of each kind
def _obliviate(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("obliviate")
    env = {**os.environ, "OBLIVIATE_QUIET": "1"}
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env)


def build(folder: Path) -> tuple[list[Path], list[str]]:
    """Run the tiny path of every command that writes a report into ``folder``; returns (reports, skipped)."""
    marker = folder / ".made-by-check-reports"
    if folder.exists() and any(folder.iterdir()) and not marker.is_file():
        sys.exit(f"{folder} exists and was not made by this script: choose a new --build folder or delete it")
    if marker.is_file():
        shutil.rmtree(folder)  # our own earlier build
    folder.mkdir(parents=True)
    marker.write_text("scripts/check_reports.py --build\n")
    made: list[Path] = []
    skipped: list[str] = []

    def step(kind: str, *args: str, ok=(0,), needs_data: bool = False) -> bool:
        t = time.time()
        res = _obliviate(*args, cwd=folder)
        if res.returncode not in ok:
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["?"]
            if needs_data and ("not found" in tail[0] or "OBLIVIATE_DATA" in tail[0] or "--data-dir" in tail[0]):
                skipped.append(f"{kind}: its data is not here ({tail[0]})")
                return False
            sys.exit(f"{kind}: `obliviate {' '.join(args)}` failed: {tail[0]}")
        print(f"built {kind} in {time.time() - t:.0f} s", flush=True)
        return True

    if step("demo", "demo", "--tiny"):
        run = max((folder / "runs").glob("*-demo-*"))
        made.append(run / "report.html")
        if step("audit", "audit", str(run), "--out", "audit.json", ok=(0, 1)):
            made.append(folder / "audit.html")
        if step("eval", "eval", "--tiny", "--model", str(run), "--out", "eval.json"):
            made.append(folder / "eval.html")
    if step("unlearn", "unlearn", "--tiny", "--eval-every", "4", "--runs-dir", "unlearn-runs"):
        made.append(max((folder / "unlearn-runs").glob("*")) / "report.html")
    if step("demo --real", "demo", "--real", "--tiny", "--method", "NPO", "--runs-dir", "real-runs"):
        real = max((folder / "real-runs").glob("*-demo-real"))
        made.append(real / "report.html")
        request = real / "request"
        if step("eval (request)", "eval", "--tiny", "--model", str(max((real / "runs").glob("*-npo-fixed"))),
                "--forget", str(request / "forget.jsonl"), "--retain", str(request / "retain.jsonl"),
                "--topic-holdout", str(request / "topic_holdout.jsonl"), "--out", "request-eval.json"):
            made.append(folder / "request-eval.html")
        if step("audit (request)", "audit", "--tiny", str(max((real / "runs").glob("*-npo-fixed"))),
                "--forget", str(request / "forget.jsonl"), "--retain", str(request / "retain.jsonl"),
                "--out", "request-audit.json", ok=(0, 1, 3)):
            made.append(folder / "request-audit.html")
    if step("bench", "bench", "--tiny", "--methods", "npo,graddiff", "--seeds", "0,1", "--out", "bench"):
        made.append(folder / "bench" / "report.html")
    if step("sweep", "sweep", "--tiny", "--methods", "npo", "--budget", "2", "--out", "sweep"):
        made.append(folder / "sweep" / "report.html")
    if step("vision unlearn", "vision", "unlearn", "--source", "digits", "--aligned", "0.95", "--method", "NegGrad",
            "--runs-dir", "vision-runs"):
        made.append(max((folder / "vision-runs").glob("*")) / "report.html")
    if step("vision bench", "vision", "bench", "--source", "digits", "--aligned", "0.95", "--seeds", "0,1",
            "--methods", "Retrain,NegGrad,CUPID", "--out", "vision-bench"):
        made.append(folder / "vision-bench" / "report.html")
    if step("graph unlearn", "graph", "unlearn", "--method", "GNNDelete", "--runs-dir", "graph-runs",
            needs_data=True):
        made.append(max((folder / "graph-runs").glob("*")) / "report.html")
        if step("graph bench", "graph", "bench", "--datasets", "cora", "--tasks", "edge", "--seeds", "0,1",
                "--out", "graph-bench"):
            made.append(folder / "graph-bench" / "report.html")
    if step("smarl simulate", "smarl", "simulate", "--closure", "leith", "--n", "16", "--t-end", "0.3",
            "--t-avg", "0.1", "--runs-dir", "smarl-runs", needs_data=True):
        made.append(max((folder / "smarl-runs").glob("*")) / "report.html")
        if step("smarl train", "smarl", "train", "--case", "k4", "--n", "16", "--iterations", "2", "--envs", "2",
                "--rollout", "4", "--episode-steps", "40", "--out", "smarl-train"):
            made.append(folder / "smarl-train" / "report.html")
    return made, skipped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("reports", nargs="*", type=Path, help="report files, or folders searched for *.html")
    ap.add_argument("--build", type=Path, help="make one report of each kind in this (new) folder first")
    ap.add_argument("--shots", type=Path, help="screenshot folder (default: beside --build, else ./report-shots)")
    args = ap.parse_args(argv)
    browser = chromium()
    reports: list[Path] = []
    skipped: list[str] = []
    if args.build:
        reports, skipped = build(args.build)
    for p in args.reports:
        reports += sorted(p.rglob("*.html")) if p.is_dir() else [p]
    if not reports:
        ap.error("no reports: give files or folders, or --build DIR")
    shots = args.shots or ((args.build / "shots") if args.build else Path("report-shots"))
    shots.mkdir(parents=True, exist_ok=True)
    version = _run([browser, "--headless", "--no-sandbox", "--version"]).stdout.strip().splitlines()[-1:]
    print(f"{version[0] if version else browser}; window {WIDTH} px wide")
    failed = 0
    for report in reports:
        res = check(report, shots, browser)
        failed += not res["ok"]
        print(f"{'PASS' if res['ok'] else 'FAIL'}  {report}  -> {res.get('screenshot', '')}")
        for p in res["problems"]:
            print(f"      {p}")
    for s in skipped:
        print(f"SKIP  {s}")
    print(f"{len(reports) - failed} of {len(reports)} reports pass" + (f"; {len(skipped)} kinds skipped"
                                                                        if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

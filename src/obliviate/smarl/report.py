"""SMARL reports and run folders: the training and evaluation reports (tables, spectra, PDFs, tails,
enstrophy, coefficients, reward curves) and the evaluation run that writes them. The CLI parses and prints.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from obliviate.core.cliutil import check_writable
from obliviate.core.config import load_yaml, save_yaml, to_dict
from obliviate.core.errors import ConfigError, DataError
from obliviate.core.report.board import chart_png
from obliviate.core.report.page import Figure, Page, Table, Text, pyplot, today, version_line, write_page
from obliviate.core.store import atomic_write_bytes, atomic_write_json, new_run_dir, open_out_dir


def train_run(*, out: Path | None = None, runs_dir: Path = Path("runs"), resume: Path | None = None,
              iterations: int | None = None, time_limit: float | None = None, env: dict | None = None,
              **given: Any) -> tuple[Path, dict]:
    """What ``obliviate smarl train`` does: train the shared policy with PPO into a run folder, then its report.

    A folder (``resume``, or ``out``) that holds a checkpoint continues with its saved settings; only the budget
    (``iterations``, ``time_limit`` minutes) may change. Otherwise ``env`` (EnvConfig fields) and ``given``
    (TrainConfig fields) are the settings given; the configs supply the rest. Returns the folder and the summary.
    """
    # deferred: loads numpy, torch
    from obliviate.smarl.env import EnvConfig
    from obliviate.smarl.rl import CHECKPOINT, TrainConfig, load_train_config, train

    run_dir = resume or out
    budget = {k: v for k, v in (("iterations", iterations), ("time_limit_min", time_limit)) if v is not None}
    if run_dir is not None and (run_dir / CHECKPOINT).is_dir():
        cfg = dataclasses.replace(load_train_config(run_dir), **budget)  # the saved settings
    elif resume is not None:
        raise DataError(f"{resume} holds no checkpoint to resume")
    else:
        cfg = TrainConfig(env=EnvConfig(**(env or {})), **given, **budget)
        if out is not None:
            check_writable(out, "--out")
            open_out_dir(out, "smarl train")  # new, empty, or an unstarted smarl run; anything else is refused
        else:
            check_writable(runs_dir, "--runs-dir")
        run_dir = out or new_run_dir(runs_dir, f"smarl-train-{cfg.env.case}", command="smarl train")
    summary = train(cfg, run_dir)
    write_train_report(run_dir)
    return run_dir, summary


def _learned(run: Path, case: str | None = None, n: int | None = None):
    """The learned closure of a training run and its TrainConfig; refused on another case or grid."""
    # deferred: loads numpy, torch
    from obliviate.smarl.evaluate import PolicyClosure
    from obliviate.smarl.rl import load_policy

    tcfg, model = load_policy(run)
    env = tcfg.env
    if (case is not None and case.lower() != env.case) or (n is not None and n != env.n):
        raise ConfigError(f"the policy of {run} was trained on {env.case} at {env.n}^2; evaluate it there")
    return PolicyClosure(model, env.form, env.agents_side, env.action_every), tcfg


def _classical(names: list[str], also: str = "") -> dict:
    # deferred: loads numpy, torch
    from obliviate.smarl.evaluate import CLASSICAL

    for name in names:
        if name.lower() not in CLASSICAL:
            raise ConfigError(f"unknown closure {name!r}; choose from {', '.join(CLASSICAL)}{also}")
    return {name.lower(): name.lower() for name in names}


def eval_closures(*, run: Path | None = None, closures: list[str] | None = None, build_reference: bool = True,
                  dns_cost: bool = True, runs_dir: Path = Path("runs"), **given: Any) -> tuple[Path, Any]:
    """What ``obliviate smarl eval`` does: the classical ``closures`` (default: all) and, with ``run``, its
    learned one, simulated side by side into a new run folder. ``given``: EvalConfig fields; with ``run`` the
    case, grid, time step and length (10 training episodes) default to the run's."""
    # deferred: loads numpy, torch
    from obliviate.smarl.evaluate import CLASSICAL, EvalConfig

    chosen = _classical(list(CLASSICAL) if closures is None else closures)
    extra: dict = {}
    if run is not None:
        chosen["learned"], tcfg = _learned(run, given.get("case"), given.get("n"))
        env = tcfg.env
        given = {"case": env.case, "n": env.n, "dt": env.dt, "dealias": env.dealias, "dtype": env.dtype,
                 "t_end": 10 * env.episode_steps * env.dt, "data_dir": env.data_dir, **given}
        extra = {"train_run": str(run), "train_events": str(run / "events.jsonl")}
    ecfg = EvalConfig(**given)
    return evaluate_run(ecfg, chosen, runs_dir, f"smarl-eval-{ecfg.case}", build_reference, dns_cost, extra)


def simulate_closure(closure: str, *, run: Path | None = None, t_end: float = 10.0, build_reference: bool = False,
                     dns_cost: bool = False, runs_dir: Path = Path("runs"), **given: Any) -> tuple[Path, Any]:
    """What ``obliviate smarl simulate`` does: one closure (a classical one, or ``learned`` from ``run``) for
    ``t_end`` time units against the reference, into a new run folder. ``given``: EvalConfig fields."""
    # deferred: loads numpy, torch
    from obliviate.smarl.evaluate import EvalConfig

    ecfg = EvalConfig(t_end=t_end, **given)
    name = closure.lower()
    if name == "learned":
        if run is None:
            raise ConfigError("--closure learned needs --run RUN_DIR (a 'smarl train' run folder)")
        chosen = {"learned": _learned(run, ecfg.case, ecfg.n)[0]}
    else:
        chosen = _classical([closure], ", learned")
    return evaluate_run(ecfg, chosen, runs_dir, f"smarl-sim-{ecfg.case}-{name}", build_reference, dns_cost, {})


def build_reference(**given: Any) -> tuple[int, Path]:
    """What ``obliviate smarl reference`` does: build (and cache) our DNS reference of a case (``given``:
    EvalConfig fields, e.g. ``case``, ``dns_n``, ``dns_t_end``); returns the snapshot count and the cache file."""
    # deferred: loads numpy, torch
    from obliviate.smarl.evaluate import EvalConfig, dns_cache_path, dns_reference

    cfg = EvalConfig(**given)
    cfg = dataclasses.replace(cfg, n=cfg.dns_n, t_end=cfg.dns_t_end)
    snaps = dns_reference(cfg, build=True)
    return int(snaps.shape[0]), dns_cache_path(cfg.case, cfg)


def write_train_report(run_dir: Path) -> Path:
    """``metrics.json``, ``reward.png``, ``coefficient.png`` and ``report.html`` of a training run."""
    # deferred: loads numpy, torch
    from obliviate.smarl.evaluate import PolicyClosure, initial_fields
    from obliviate.smarl.rl import load_policy, read_events

    cfg, model = load_policy(run_dir)
    events = read_events(run_dir)
    # the policy at work: one episode's worth of LES (at most 2 time units) from the authors' field 1
    env = cfg.env
    solver = env.solver()
    state = solver.initial_state(initial_fields(env.case, env.n, [1], env.data_dir))
    closure = PolicyClosure(model, env.form, env.agents_side, env.action_every)
    for _ in range(min(env.episode_steps, round(2.0 / env.dt)) // env.action_every):
        closure.act(solver.omega(state))
        state = solver.step(state, closure, n_steps=env.action_every)
    w = solver.omega(state)
    actions = closure.act(w)
    field = closure.c[0]
    t_shown = float(solver.time(state)[0])
    n_last = max(1, len(events) // 10)
    metrics = {"kind": "smarl-train", "case": cfg.env.case, "iterations": len(events),
               "wall_s": events[-1]["time_s"] if events else 0.0,
               "reward_first": _mean([e["reward_mean"] for e in events[:n_last]]),
               "reward_last": _mean([e["reward_mean"] for e in events[-n_last:]]),
               "blowups": sum(e["blowups"] for e in events),
               "coefficient_shown_at_t": t_shown, "actions_shown": actions[0].tolist()}
    atomic_write_json(run_dir / "metrics.json", metrics)
    figs = [("Reward per action step (the paper's r) during training", "reward.png", _reward_figure(events)),
            (f"Learned coefficient c(x, y) ({cfg.env.form}) at t = {t_shown:.2f}, run from the authors' field 1",
             "coefficient.png", _field_figure(field, w[0], cfg.env.form))]
    rows = [["iterations", metrics["iterations"]], ["wall time (s)", f"{metrics['wall_s']:.0f}"],
            ["mean reward, first 10% of iterations", _fmt(metrics["reward_first"])],
            ["mean reward, last 10% of iterations", _fmt(metrics["reward_last"])],
            ["blow-ups during training", metrics["blowups"]]]
    return _write_html(run_dir, f"SMARL training, case {cfg.env.case}, {cfg.env.n}^2",
                       f"PPO, {cfg.envs} runs x {cfg.env.n_agents} agents, episodes of {cfg.env.episode_steps} "
                       f"solver steps, action every {cfg.env.action_every}.", [(["", "value"], rows)], figs)


# ---------------------------------------------------------------------------------------------- eval


def evaluate_run(ecfg, chosen: dict, runs_dir: Path, name: str, build_reference: bool, dns_cost: bool,
                 extra: dict) -> tuple[Path, Any]:
    """Simulate the ``chosen`` closures against the reference into a new run folder (config, metrics, curves,
    report.html); returns the folder and the comparison (its rows and reference)."""
    # deferred: loads numpy, torch
    from obliviate.smarl.evaluate import compare

    check_writable(runs_dir, "--runs-dir")  # before the simulations
    result = compare(ecfg, chosen, build_reference=build_reference, with_dns_cost=dns_cost)
    run_dir = new_run_dir(runs_dir, name)
    save_yaml(run_dir / "config.yaml", {**to_dict(ecfg), "closures": list(chosen), **extra})
    atomic_write_json(run_dir / "metrics.json", {"kind": "smarl-eval", "case": ecfg.case, "n": ecfg.n,
                                                 "rows": result.rows, "reference": result.reference, **extra})
    atomic_write_json(run_dir / "curves.json", result.curves)
    write_eval_report(run_dir)
    return run_dir, result


# ---------------------------------------------------------------------------------------------- reports
COLUMNS = [("z_log_error", "spectrum log error (enstrophy)"), ("e_log_error", "spectrum log error (energy)"),
           ("p3", "P(|x|>3)"), ("p4", "P(|x|>4)"), ("kurtosis", "kurtosis"), ("std_ratio", "std / std_ref"),
           ("p_abs3", "P(|w|>3 std_ref)"), ("tail_divergence", "D_tail"), ("blowups", "blow-ups"),
           ("cost_s_per_time_unit", "s / time unit")]


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool) or isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:.3g}" if abs(v) >= 1e-2 or v == 0 else f"{v:.2e}"
    return str(v)


def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _with_range(d: dict, key: str, range_key: str) -> str:
    """``value [min-max]`` where a spread (over runs, or the reference's time windows) is known."""
    lo_hi = d.get(range_key)
    return _fmt(d.get(key)) + (f" [{_fmt(lo_hi[0])}–{_fmt(lo_hi[1])}]" if lo_hi else "")


def table(rows: list[dict], reference: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the comparison table (reference row first). ``[a–b]``: the spread over the
    runs (closures) or over five time windows (our DNS reference)."""
    header = ["closure"] + [label for _, label in COLUMNS]
    ref = ["DNS reference"]
    for k, _ in COLUMNS:
        if k in ("p3", "p4", "kurtosis"):
            ref.append(_with_range(reference, k, f"{k}_range"))
        elif k == "p_abs3":
            ref.append(_fmt(reference.get(k)))
        else:
            ref.append("1" if k == "std_ratio" and reference.get("std") else "")
    if reference.get("dns_cost_s_per_time_unit"):
        ref[-1] = _fmt(reference["dns_cost_s_per_time_unit"]) + " (1024², timed)"
    out = [ref]
    for r in rows:
        cells = [r["closure"]]
        for k, _ in COLUMNS:
            if k == "blowups":
                cells.append(f"{r['blowups']}/{r['runs']}")
            elif k in ("p3", "p4", "kurtosis"):
                cells.append(_with_range(r, k, f"{k}_runs_range"))
            else:
                cells.append(_fmt(r.get(k)))
        out.append(cells)
    return header, out


def markdown_table(rows: list[dict], reference: dict) -> str:
    header, body = table(rows, reference)

    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header)] + [line(r) for r in body])


def write_eval_report(run_dir: Path) -> Path:
    """PNG plots and ``report.html`` of an eval/simulate run folder, from its JSON files."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    curves = json.loads((run_dir / "curves.json").read_text())
    ref = metrics["reference"]
    figs = [("Enstrophy and energy spectra (xy) against the 1024^2 DNS", "spectra.png", _spectra_figure(curves,
                                                                                                        metrics)),
            (f"Vorticity PDF, standardised; reference: {ref.get('pdf_source') or 'none'}", "pdf.png",
             _pdf_figure(curves)),
            ("Tail probabilities P(|x| > 3) and P(|x| > 4)", "tails.png", _tails_figure(metrics)),
            ("Enstrophy over time (stability)", "enstrophy.png", _enstrophy_figure(curves))]
    learned = [(k, c) for k, c in curves["closures"].items() if "coefficient_mean" in c]
    for k, c in learned:
        figs.append((f"Learned coefficient field ({k}): time mean and last snapshot of run 1", "coefficient.png",
                     _coefficient_figure(c)))
    if metrics.get("train_events") and Path(metrics["train_events"]).is_file():
        # deferred: loads numpy, torch
        from obliviate.smarl.rl import read_events

        events = read_events(Path(metrics["train_events"]).parent)
        figs.append(("Training reward", "reward.png", _reward_figure(events)))
    header, body = table(metrics["rows"], ref)
    intro = (f"Case {metrics['case']}, LES {metrics['n']}^2. x = (w - mean)/std of each PDF; D_tail = "
             "sqrt(sum x^2 ln^2((p+1e-5)/(p_ref+1e-5)) / sum x^2) over bins where p_ref >= 1e-4. "
             f"DNS cost: {ref.get('dns_cost_how', 'not measured')}.")
    return _write_html(run_dir, f"SMARL evaluation, case {metrics['case']}", intro, [(header, body)], figs,
                       _eval_reading(metrics))


def _header(run_dir: Path, metrics: dict) -> dict[str, str]:
    """What a SMARL run ran, from its ``config.yaml``."""
    cfg = load_yaml(run_dir / "config.yaml") if (run_dir / "config.yaml").is_file() else {}
    env = cfg.get("env", cfg)  # a training run nests the LES settings under env
    out = {"case": str(env.get("case", metrics.get("case", ""))), "LES grid": f"{env.get('n', metrics.get('n'))}²"}
    if "closures" in cfg:
        out["closures"] = ", ".join(cfg["closures"])
        out["simulated"] = f"t = 0 to {cfg.get('t_end')}, statistics from t = {cfg.get('t_avg')}"
    if "envs" in cfg:
        out["training"] = (f"PPO, {cfg.get('envs')} runs, {cfg.get('rollout')} action steps per run per iteration, "
                           f"{cfg.get('iterations')} iterations, action form {env.get('form')}, seed {cfg.get('seed')}")
    if cfg.get("train_run"):
        out["learned closure from"] = str(cfg["train_run"])
    out["run folder"] = str(run_dir)
    out["date"] = today()
    out["version"] = version_line()
    return out


def _eval_reading(metrics: dict) -> str:
    rows, ref = metrics["rows"], metrics["reference"]
    stable = [r for r in rows if not r.get("blowups")]
    parts = []
    tail = [r for r in stable
            if isinstance(r.get("tail_divergence"), (int, float)) and math.isfinite(r["tail_divergence"])]
    if tail:
        best = min(tail, key=lambda r: r["tail_divergence"])
        parts.append(f"Closest to the DNS in the vorticity tails: {best['closure']} "
                     f"(D_tail {best['tail_divergence']:.3g}; 0 = the reference's tails).")
    if isinstance(ref.get("kurtosis"), (int, float)) and tail:
        ks = [r["kurtosis"] for r in tail if isinstance(r.get("kurtosis"), (int, float))]
        if ks:
            parts.append(f"Kurtosis {min(ks):.2f} to {max(ks):.2f} across closures against the reference's "
                         f"{ref['kurtosis']:.2f} (3 = Gaussian; intermittent turbulence sits above).")
    blew = [r["closure"] for r in rows if r.get("blowups")]
    if blew:
        parts.append(f"Blew up in some runs: {', '.join(blew)}.")
    return " ".join(parts)


def _write_html(run_dir: Path, title: str, intro: str, tables: list, figs: list, reading: str = "") -> Path:
    metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").is_file() else {}
    blocks: list = [Table(header, body) for header, body in tables]
    blocks.append(Text(intro))
    for caption, fname, png in figs:
        atomic_write_bytes(run_dir / fname, base64.b64decode(png))
        blocks.append(Figure(caption, png))
    return write_page(run_dir / "report.html", Page(title, _header(run_dir, metrics), reading, blocks))


# -- figures (matplotlib, Agg) -------------------------------------------------------------------------
def _png(fig) -> str:
    out = chart_png(fig)
    pyplot().close(fig)
    return out


STYLE = {"none": ("C7", "--"), "smagorinsky": ("C0", "-"), "leith": ("C2", "-"), "dynamic-smagorinsky": ("C1", "-."),
         "learned": ("C3", "-")}


def _style(name: str) -> dict:
    color, ls = STYLE.get(name, ("C4", "-"))
    return {"color": color, "ls": ls, "lw": 2.2 if name == "learned" else 1.3}


def _spectra_figure(curves: dict, metrics: dict) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    k = curves["k"]
    for ax, key, ref_key, label in ((axes[0], "spectrum_z", "reference_spectrum_z", "enstrophy"),
                                    (axes[1], "spectrum_e", "reference_spectrum_e", "energy")):
        ref = curves[ref_key]
        ax.loglog(range(1, len(ref)), ref[1:], "k-", lw=3, alpha=0.35, label="DNS 1024$^2$")
        for name, c in curves["closures"].items():
            ax.loglog(k[1:], c[key][1:], label=name, **_style(name))
        ax.set_xlim(1, 2 * len(k))
        lo = min(v for v in ref[1: 2 * len(k)] if v > 0)
        ax.set_ylim(lo / 3, None)
        ax.axvline(len(k), c="grey", ls=":", lw=0.8)
        ax.set_xlabel("k")
        ax.set_title(f"{label} spectrum (xy), {metrics['case']}, LES {metrics['n']}$^2$")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _pdf_figure(curves: dict) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    x = curves["bins"]
    if curves.get("reference_pdf"):
        ax.semilogy(x, [p if p > 0 else float("nan") for p in curves["reference_pdf"]], "k-", lw=3, alpha=0.35,
                    label="DNS reference")
    for name, c in curves["closures"].items():
        if c["pdf"]:
            ax.semilogy(x, [p if p > 0 else float("nan") for p in c["pdf"]], label=name, **_style(name))
    ax.set_xlabel("(w - mean) / std")
    ax.set_ylabel("PDF")
    ax.set_ylim(1e-7, 1)
    ax.axvline(3, c="grey", ls=":", lw=0.8), ax.axvline(-3, c="grey", ls=":", lw=0.8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _tails_figure(metrics: dict) -> str:
    plt = pyplot()
    rows, ref = metrics["rows"], metrics["reference"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [r["closure"] for r in rows]
    for ax, key, label in ((axes[0], "p3", "P(|x| > 3)"), (axes[1], "p4", "P(|x| > 4)")):
        vals = [r.get(key) or 0.0 for r in rows]
        ax.bar(range(len(rows)), vals, color=[_style(nm)["color"] for nm in names])
        if ref.get(key) is not None:
            ax.axhline(ref[key], c="k", lw=2, alpha=0.5, label="DNS reference")
            ax.legend(fontsize=8)
        ax.set_xticks(range(len(rows)), names, rotation=25, fontsize=8)
        ax.set_title(label)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _png(fig)


def _enstrophy_figure(curves: dict) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, c in curves["closures"].items():
        ax.plot(c["times"], c["enstrophy"], label=name, **_style(name))
    ax.set_xlabel("t")
    ax.set_ylabel("enstrophy <w^2>/2 (mean over surviving runs)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _coefficient_figure(c: dict) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, key, title in ((axes[0], "coefficient_mean", "time mean"), (axes[1], "coefficient_last", "last")):
        lim = max(abs(v) for col in c[key] for v in col) or 1.0
        im = ax.imshow(list(map(list, zip(*c[key]))), origin="lower", extent=(0, 2 * math.pi, 0, 2 * math.pi),
                       cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"c(x, y), {title}")
        ax.set_xlabel("x"), ax.set_ylabel("y")
        fig.colorbar(im, ax=ax)
    axes[2].plot(c["times"], c["coefficient_series"], "C3-")
    axes[2].axhline(0.17**3, c="C2", ls="--", label="Leith C_L^3 = 0.17^3")
    axes[2].set_xlabel("t"), axes[2].set_title("domain mean of c")
    axes[2].legend(fontsize=8), axes[2].grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _field_figure(field, omega, form: str) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
    lim = float(field.abs().max()) or 1.0
    im = axes[0].imshow(field.T.numpy(), origin="lower", extent=(0, 2 * math.pi, 0, 2 * math.pi), cmap="RdBu_r",
                        vmin=-lim, vmax=lim)
    axes[0].set_title(f"learned c(x, y) ({'C_L^3' if form == 'leith' else 'C_S^2'})")
    fig.colorbar(im, ax=axes[0])
    lim = float(omega.abs().max()) or 1.0
    im = axes[1].imshow(omega.T.numpy(), origin="lower", extent=(0, 2 * math.pi, 0, 2 * math.pi), cmap="RdBu_r",
                        vmin=-lim, vmax=lim)
    axes[1].set_title("vorticity")
    fig.colorbar(im, ax=axes[1])
    for ax in axes:
        ax.set_xlabel("x"), ax.set_ylabel("y")
    fig.tight_layout()
    return _png(fig)


def _reward_figure(events: list[dict]) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    it = [e["iteration"] for e in events]
    r = [e["reward_mean"] if e["reward_mean"] is not None else float("nan") for e in events]
    axes[0].plot(it, r, "C0-", lw=0.6, alpha=0.5, label="per iteration")
    w = max(1, len(r) // 30)
    if len(r) >= w:
        smooth = [sum(r[max(0, i - w + 1): i + 1]) / len(r[max(0, i - w + 1): i + 1]) for i in range(len(r))]
        axes[0].plot(it, smooth, "C3-", lw=2, label=f"running mean ({w})")
    axes[0].set_xlabel("PPO iteration"), axes[0].set_ylabel("mean reward per action step")
    axes[0].legend(fontsize=8), axes[0].grid(alpha=0.3)
    axes[1].plot(it, [e["action_mean"] for e in events], "C2-", label="mean action")
    axes[1].fill_between(it, [e["action_mean"] - e["action_std"] for e in events],
                         [e["action_mean"] + e["action_std"] for e in events], color="C2", alpha=0.2)
    axes[1].axhline(0.17**3, c="k", ls="--", lw=0.8, label="Leith 0.17^3")
    axes[1].set_xlabel("PPO iteration"), axes[1].set_ylabel("agent action (coefficient)")
    axes[1].legend(fontsize=8), axes[1].grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)

"""``obliviate smarl ...``: train the multi-agent closure, evaluate it, simulate a closure.

SMARL (Mojgani et al., arXiv 2312.00907). Every command writes a run folder
(``config.yaml``, ``metrics.json``, ``curves.json``, PNG plots, ``report.html``);
bad input prints one ``error:`` line and exits with code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from obliviate.core.cliutil import check_writable, handled
from obliviate.core.errors import ConfigError, DataError

smarl_app = typer.Typer(no_args_is_help=True,
                        help="SMARL: multi-agent RL closures for 2D turbulence (Mojgani et al. 2023)")

CaseOpt = Annotated[str, typer.Option(help="k4, k4-beta20 or k25")]
RunsDirOpt = Annotated[Path, typer.Option(help="where run folders go")]
DataDirOpt = Annotated[Optional[Path], typer.Option(help="folder holding smarl/ (default: $OBLIVIATE_DATA)")]


def _threads() -> None:
    import os

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))


# ---------------------------------------------------------------------------------------------- train
@smarl_app.command("train")
@handled
def train_cmd(
    case: CaseOpt = "k4",
    n: Annotated[int, typer.Option(help="LES grid points per side")] = 32,
    iterations: Annotated[Optional[int], typer.Option(help="PPO iterations (default 600)")] = None,
    envs: Annotated[int, typer.Option(help="LES runs stepped as one batch")] = 16,
    episode_steps: Annotated[int, typer.Option(help="solver steps per episode (paper: 10000)")] = 4000,
    rollout: Annotated[int, typer.Option(help="action steps per run per iteration")] = 64,
    form: Annotated[str, typer.Option(help="leith (action = C_L^3) or smagorinsky (C_S^2)")] = "leith",
    seed: int = 0,
    time_limit: Annotated[Optional[float], typer.Option(help="stop and save after this many minutes")] = None,
    checkpoint_every: Annotated[int, typer.Option(help="iterations between checkpoints")] = 10,
    out: Annotated[Optional[Path], typer.Option(help="run folder (resumed if it holds a checkpoint)")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    resume: Annotated[Optional[Path], typer.Option(help="continue this run folder with its own settings")] = None,
    data_dir: DataDirOpt = None,
):
    """Train the shared policy of the 16 agents with PPO (checkpointed; resumes; Ctrl-C saves)."""
    import dataclasses

    from obliviate.core.store import new_run_dir, open_out_dir
    from obliviate.smarl.env import EnvConfig
    from obliviate.smarl.rl import CHECKPOINT, TrainConfig, load_train_config, train

    _threads()
    run_dir = resume or out
    if run_dir is not None and (run_dir / CHECKPOINT).is_dir():
        cfg = load_train_config(run_dir)  # resume with the saved settings; only the budget may change
        cfg = dataclasses.replace(cfg, iterations=iterations if iterations is not None else cfg.iterations,
                                  time_limit_min=time_limit if time_limit is not None else cfg.time_limit_min)
    elif resume is not None:
        raise DataError(f"{resume} holds no checkpoint to resume")
    else:
        env = EnvConfig(case=case, n=n, episode_steps=episode_steps, form=form,
                        data_dir=str(data_dir) if data_dir else None)
        cfg = TrainConfig(env=env, envs=envs, rollout=rollout, iterations=600 if iterations is None else iterations,
                          seed=seed, checkpoint_every=checkpoint_every,
                          time_limit_min=0.0 if time_limit is None else time_limit)
        if out is not None:
            check_writable(out, "--out")
            open_out_dir(out, "smarl train")  # new, empty, or an unstarted smarl run; anything else is refused
        else:
            check_writable(runs_dir, "--runs-dir")
        run_dir = out or new_run_dir(runs_dir, f"smarl-train-{cfg.env.case}", command="smarl train")
    summary = train(cfg, run_dir)
    from obliviate.smarl.report import write_train_report

    write_train_report(run_dir)
    if summary["interrupted"]:
        typer.echo(f"interrupted at iteration {summary['iterations']}; continue with: "
                   f"obliviate smarl train --resume {run_dir}")
    typer.echo(f"trained {summary['iterations']} iterations in {summary['wall_s']:.0f}s")
    typer.echo(str(run_dir))


@smarl_app.command("eval")
@handled
def eval_cmd(
    run: Annotated[Optional[Path], typer.Option(help="a 'smarl train' run folder (its learned closure joins "
                                                     "the classical ones)")] = None,
    case: Annotated[Optional[str], typer.Option(help="case (default: the run's; k4 without --run)")] = None,
    n: Annotated[Optional[int], typer.Option(help="LES grid (default: the run's; 32 without --run)")] = None,
    t_end: Annotated[Optional[float], typer.Option(help="simulated time per run (default 10 training "
                                                        "episodes, 20 without --run)")] = None,
    t_avg: Annotated[float, typer.Option(help="statistics from this time on")] = 2.0,
    closures: Annotated[str, typer.Option(help="comma-separated classical closures")] = ",".join(
        ("none", "smagorinsky", "leith", "dynamic-smagorinsky")),
    build_reference: Annotated[bool, typer.Option(help="build the k4 DNS PDF reference if not cached "
                                                       "(about 10 min)")] = True,
    dns_cost: Annotated[bool, typer.Option(help="time our solver at 1024^2 for the DNS cost")] = True,
    runs_dir: RunsDirOpt = Path("runs"),
    data_dir: DataDirOpt = None,
):
    """Classical closures and the learned one side by side: spectra, PDF tails, stability, cost."""
    from obliviate.smarl.evaluate import CLASSICAL, EvalConfig, PolicyClosure
    from obliviate.smarl.rl import load_policy

    _threads()
    chosen: dict = {}
    for name in (c.strip() for c in closures.split(",") if c.strip()):
        if name.lower() not in CLASSICAL:
            raise ConfigError(f"unknown closure {name!r}; choose from {', '.join(CLASSICAL)}")
        chosen[name.lower()] = name.lower()
    extra: dict = {}
    if run is not None:
        tcfg, model = load_policy(run)
        env = tcfg.env
        chosen["learned"] = PolicyClosure(model, env.form, env.agents_side, env.action_every)
        ecfg = EvalConfig(case=case or env.case, n=env.n if n is None else n, dt=env.dt, dealias=env.dealias,
                          dtype=env.dtype, t_end=10 * env.episode_steps * env.dt if t_end is None else t_end,
                          t_avg=t_avg,
                          data_dir=str(data_dir) if data_dir else env.data_dir)
        if ecfg.case != env.case or ecfg.n != env.n:
            raise ConfigError(f"the policy of {run} was trained on {env.case} at {env.n}^2; evaluate it there")
        extra = {"train_run": str(run), "train_events": str(run / "events.jsonl")}
    else:
        ecfg = EvalConfig(case=case or "k4", n=32 if n is None else n, t_end=20.0 if t_end is None else t_end,
                          t_avg=t_avg,
                          data_dir=str(data_dir) if data_dir else None)
    _evaluated(ecfg, chosen, runs_dir, f"smarl-eval-{ecfg.case}", build_reference, dns_cost, extra)


@smarl_app.command("simulate")
@handled
def simulate_cmd(
    closure: Annotated[str, typer.Option(help="none, smagorinsky, leith, dynamic-smagorinsky, or learned "
                                              "(with --run)")] = "leith",
    case: CaseOpt = "k4",
    n: Annotated[int, typer.Option(help="LES grid points per side")] = 32,
    t_end: Annotated[float, typer.Option(help="simulated time per run")] = 10.0,
    t_avg: Annotated[float, typer.Option(help="statistics from this time on")] = 2.0,
    run: Annotated[Optional[Path], typer.Option(help="the training run of --closure learned")] = None,
    build_reference: Annotated[bool, typer.Option(help="build the k4 DNS PDF reference if not cached")] = False,
    dns_cost: Annotated[bool, typer.Option(help="time our solver at 1024^2 for the DNS cost")] = False,
    runs_dir: RunsDirOpt = Path("runs"),
    data_dir: DataDirOpt = None,
):
    """Simulate one closure from the authors' initial fields and compare it with the DNS reference."""
    from obliviate.smarl.evaluate import CLASSICAL, EvalConfig, PolicyClosure
    from obliviate.smarl.rl import load_policy

    _threads()
    name = closure.lower()
    if name == "learned":
        if run is None:
            raise ConfigError("--closure learned needs --run RUN_DIR (a 'smarl train' run folder)")
        tcfg, model = load_policy(run)
        if tcfg.env.case != case.lower() or tcfg.env.n != n:
            raise ConfigError(f"the policy of {run} was trained on {tcfg.env.case} at {tcfg.env.n}^2")
        chosen = {"learned": PolicyClosure(model, tcfg.env.form, tcfg.env.agents_side, tcfg.env.action_every)}
    elif name in CLASSICAL:
        chosen = {name: name}
    else:
        raise ConfigError(f"unknown closure {closure!r}; choose from {', '.join(CLASSICAL)}, learned")
    ecfg = EvalConfig(case=case, n=n, t_end=t_end, t_avg=t_avg, data_dir=str(data_dir) if data_dir else None)
    _evaluated(ecfg, chosen, runs_dir, f"smarl-sim-{ecfg.case}-{name}", build_reference, dns_cost, {})


@smarl_app.command("reference")
@handled
def reference_cmd(
    case: CaseOpt = "k4",
    dns_n: Annotated[int, typer.Option(help="DNS grid points per side")] = 256,
    t_end: Annotated[float, typer.Option(help="simulated time")] = 40.0,
    t_spinup: Annotated[float, typer.Option(help="snapshots from this time on")] = 10.0,
    data_dir: DataDirOpt = None,
):
    """Build (and cache) our DNS PDF reference for a case without the authors' PDF (k4)."""
    from obliviate.smarl.evaluate import EvalConfig, dns_cache_path, dns_reference

    _threads()
    cfg = EvalConfig(case=case, n=dns_n, dns_n=dns_n, dns_t_end=t_end, dns_t_spinup=t_spinup, t_end=t_end,
                     data_dir=str(data_dir) if data_dir else None)
    snaps = dns_reference(cfg, build=True)
    typer.echo(f"{snaps.shape[0]} snapshots: {dns_cache_path(case, cfg)}")


def _evaluated(*args) -> Path:
    """``report.evaluate_run``, then the table and the run folder printed."""
    from obliviate.smarl.report import evaluate_run, markdown_table

    run_dir, result = evaluate_run(*args)
    typer.echo(markdown_table(result.rows, result.reference))
    typer.echo(str(run_dir))
    return run_dir

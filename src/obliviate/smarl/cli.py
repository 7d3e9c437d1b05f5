"""``obliviate smarl ...``: train the multi-agent closure, evaluate it, simulate a closure.

SMARL (Mojgani et al., arXiv 2312.00907). Every command writes a run folder
(``config.yaml``, ``metrics.json``, ``curves.json``, PNG plots, ``report.html``);
bad input prints one ``error:`` line and exits with code 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from obliviate.core.cliutil import given as _given
from obliviate.core.cliutil import handled
from obliviate.smarl.report import build_reference, eval_closures, markdown_table, simulate_closure, train_run

smarl_app = typer.Typer(no_args_is_help=True,
                        help="SMARL: multi-agent RL closures for 2D turbulence (Mojgani et al. 2023)")

CaseOpt = Annotated[Optional[str], typer.Option(help="k4, k4-beta20 or k25 (default k4)")]
RunsDirOpt = Annotated[Path, typer.Option(help="where run folders go")]
DataDirOpt = Annotated[Optional[Path], typer.Option(help="folder holding smarl/ (default: $OBLIVIATE_DATA)")]


def _threads() -> None:
    # deferred: loads torch
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))


# ---------------------------------------------------------------------------------------------- train
# Settings default to None ("not given"): EnvConfig, TrainConfig and EvalConfig supply them; the help quotes them.
@smarl_app.command("train")
@handled
def train_cmd(
    case: CaseOpt = None,
    n: Annotated[Optional[int], typer.Option(help="LES grid points per side (default 32)")] = None,
    iterations: Annotated[Optional[int], typer.Option(help="PPO iterations (default 600)")] = None,
    envs: Annotated[Optional[int], typer.Option(help="LES runs stepped as one batch (default 16)")] = None,
    episode_steps: Annotated[Optional[int], typer.Option(help="solver steps per episode (default 4000; paper: "
                                                              "10000)")] = None,
    rollout: Annotated[Optional[int], typer.Option(help="action steps per run per iteration (default 64)")] = None,
    form: Annotated[Optional[str], typer.Option(help="leith (action = C_L^3) or smagorinsky (C_S^2) (default "
                                                     "leith)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed (default 0)")] = None,
    time_limit: Annotated[Optional[float], typer.Option(help="stop and save after this many minutes")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(help="iterations between checkpoints (default "
                                                                 "10)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="run folder (resumed if it holds a checkpoint)")] = None,
    runs_dir: RunsDirOpt = Path("runs"),
    resume: Annotated[Optional[Path], typer.Option(help="continue this run folder with its own settings")] = None,
    data_dir: DataDirOpt = None,
):
    """Train the shared policy of the 16 agents with PPO (checkpointed; resumes; Ctrl-C saves)."""
    _threads()
    env = _given(case=case, n=n, episode_steps=episode_steps, form=form, data_dir=str(data_dir) if data_dir else None)
    run_dir, summary = train_run(out=out, runs_dir=runs_dir, resume=resume, iterations=iterations,
                                 time_limit=time_limit, env=env,
                                 **_given(envs=envs, rollout=rollout, seed=seed, checkpoint_every=checkpoint_every))
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
    t_avg: Annotated[Optional[float], typer.Option(help="statistics from this time on (default 2.0)")] = None,
    closures: Annotated[Optional[str], typer.Option(help="comma-separated classical closures (default: none, "
                                                         "smagorinsky, leith, dynamic-smagorinsky)")] = None,
    build_reference: Annotated[bool, typer.Option(help="build the k4 DNS PDF reference if not cached "
                                                       "(about 10 min)")] = True,
    dns_cost: Annotated[bool, typer.Option(help="time our solver at 1024^2 for the DNS cost")] = True,
    runs_dir: RunsDirOpt = Path("runs"),
    data_dir: DataDirOpt = None,
):
    """Classical closures and the learned one side by side: spectra, PDF tails, stability, cost."""
    _threads()
    names = [c.strip() for c in closures.split(",") if c.strip()] if closures is not None else None
    _evaluated(eval_closures(run=run, closures=names, build_reference=build_reference, dns_cost=dns_cost,
                             runs_dir=runs_dir, **_given(case=case, n=n, t_end=t_end, t_avg=t_avg,
                                                         data_dir=str(data_dir) if data_dir else None)))


@smarl_app.command("simulate")
@handled
def simulate_cmd(
    closure: Annotated[str, typer.Option(help="none, smagorinsky, leith, dynamic-smagorinsky, or learned "
                                              "(with --run)")] = "leith",
    case: CaseOpt = None,
    n: Annotated[Optional[int], typer.Option(help="LES grid points per side (default 32)")] = None,
    t_end: Annotated[Optional[float], typer.Option(help="simulated time per run (default 10.0)")] = None,
    t_avg: Annotated[Optional[float], typer.Option(help="statistics from this time on (default 2.0)")] = None,
    run: Annotated[Optional[Path], typer.Option(help="the training run of --closure learned")] = None,
    build_reference: Annotated[bool, typer.Option(help="build the k4 DNS PDF reference if not cached")] = False,
    dns_cost: Annotated[bool, typer.Option(help="time our solver at 1024^2 for the DNS cost")] = False,
    runs_dir: RunsDirOpt = Path("runs"),
    data_dir: DataDirOpt = None,
):
    """Simulate one closure from the authors' initial fields and compare it with the DNS reference."""
    _threads()
    _evaluated(simulate_closure(closure, run=run, build_reference=build_reference, dns_cost=dns_cost,
                                runs_dir=runs_dir, **_given(case=case, n=n, t_end=t_end, t_avg=t_avg,
                                                            data_dir=str(data_dir) if data_dir else None)))


@smarl_app.command("reference")
@handled
def reference_cmd(
    case: CaseOpt = None,
    dns_n: Annotated[Optional[int], typer.Option(help="DNS grid points per side (default 256)")] = None,
    t_end: Annotated[Optional[float], typer.Option(help="simulated time (default 40.0)")] = None,
    t_spinup: Annotated[Optional[float], typer.Option(help="snapshots from this time on (default 10.0)")] = None,
    data_dir: DataDirOpt = None,
):
    """Build (and cache) our DNS PDF reference for a case without the authors' PDF (k4)."""
    _threads()
    count, path = build_reference(**_given(case=case, dns_n=dns_n, dns_t_end=t_end, dns_t_spinup=t_spinup,
                                           data_dir=str(data_dir) if data_dir else None))
    typer.echo(f"{count} snapshots: {path}")


def _evaluated(done: tuple[Path, Any]) -> Path:
    """The comparison table and the run folder of an evaluation, printed."""
    run_dir, result = done
    typer.echo(markdown_table(result.rows, result.reference))
    typer.echo(str(run_dir))
    return run_dir

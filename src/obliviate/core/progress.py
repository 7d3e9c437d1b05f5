"""Progress bars and log lines (rich), quiet under CI or when asked.

Set ``OBLIVIATE_QUIET=1`` (or run with ``CI=true``) to turn bars off; log lines
still print so a long run is never silent.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator

_console = None
_phases: dict[str, float] = {}


def console():
    global _console
    if _console is None:
        # deferred: loads rich
        from rich.console import Console

        _console = Console(stderr=True)
    return _console


def _other_process() -> bool:
    """A process other than the first of a multi-process run (it prints nothing)."""
    return os.environ.get("RANK", "0") != "0"


def quiet() -> bool:
    return (os.environ.get("OBLIVIATE_QUIET", "") not in ("", "0") or os.environ.get("CI") == "true"
            or _other_process())


def log(msg: str) -> None:
    """One line on stderr (kept under CI too, unless OBLIVIATE_QUIET is set; process 0 only)."""
    if os.environ.get("OBLIVIATE_QUIET", "") in ("", "0") and not _other_process():
        console().print(msg, highlight=False)


def warn(msg: str) -> None:
    """``warning: msg`` on stderr, even under OBLIVIATE_QUIET (something the user must not miss; process 0 only)."""
    if not _other_process():
        print(f"warning: {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def progress(total: int, description: str) -> Iterator[Callable[..., None]]:
    """Yield ``advance(n=1, **fields)``; shows a rich bar unless quiet.

    Without a terminal a line is logged every 25% so logs still show life.
    """
    if quiet() or not sys.stderr.isatty() and os.environ.get("OBLIVIATE_FORCE_BAR") is None:
        done = 0
        start = time.time()
        marks = {max(1, round(total * k / 4)) for k in range(1, 5)} if total >= 8 else {total}

        def advance(n: int = 1, **fields) -> None:
            nonlocal done
            done += n
            if done in marks and not quiet():
                extra = " ".join(f"{k}={v}" for k, v in fields.items())
                log(f"{description}: {done}/{total} ({time.time() - start:.0f}s) {extra}")

        yield advance
        return
    # deferred: loads rich
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console(),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(n: int = 1, **fields) -> None:
            info = " ".join(f"{k}={v}" for k, v in fields.items())
            bar.update(task, advance=n, info=info)

        yield advance


def third_party_bars() -> None:
    """Silence transformers' own progress bars when ours are off (they flood log files)."""
    if quiet() or not sys.stderr.isatty():
        # deferred: loads transformers
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


@contextlib.contextmanager
def timed(phase: str) -> Iterator[None]:
    """Add the wall time of the block to ``phase`` (read and reset by :func:`take_phase_seconds`).

    Phases may nest (``audit`` holds ``audit: relearning``) and repeat (every ``generation``
    call adds to one total), so they say where a run's time goes, not a sum that adds up.
    """
    start = time.perf_counter()
    try:
        yield
    finally:
        _phases[phase] = _phases.get(phase, 0.0) + time.perf_counter() - start


def take_phase_seconds() -> dict[str, float]:
    """Seconds per phase timed since the last call, then start afresh."""
    out = {k: round(v, 1) for k, v in _phases.items()}
    _phases.clear()
    return out

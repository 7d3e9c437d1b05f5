"""Progress bars and log lines (rich), quiet under CI or when asked.

Set ``OBLIVIATE_QUIET=1`` (or run with ``CI=true``) to turn bars off; log lines
still print so a long run is never silent.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

_console = None
_phases: dict[str, float] = {}


def console():
    global _console
    if _console is None:
        # deferred: loads rich
        from rich.console import Console

        _console = Console(stderr=True, soft_wrap=True)  # a log line is never cut into two
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
    """Yield ``advance(n=1, **fields)``: a transient rich bar in a terminal; in a log, a heartbeat.

    Without a terminal (a log file, CI) a line is written every :func:`heartbeat_seconds` of the phase (also while
    one long step runs: a timer thread writes it), with the count, the time so far and an estimate of the time
    left, then one closing line; a phase that ends within :data:`MIN_PHASE_SECONDS` writes nothing, so quick
    phases do not flood the log. ``OBLIVIATE_QUIET=1`` silences both.
    """
    if quiet() or not sys.stderr.isatty() and os.environ.get("OBLIVIATE_FORCE_BAR") is None:
        state = {"done": 0, "fields": ""}
        start = time.time()
        stop = threading.Event()

        def line(final: bool = False) -> str:
            took = time.time() - start
            done = state["done"]
            left = f", about {_duration(took * (total - done) / done)} left" if done and not final and done < total \
                else ""
            head = f"{description}: {done}/{total} in {_duration(took)}" if final else \
                f"{description}: {done}/{total} after {_duration(took)}{left}"
            return head + (f" {state['fields']}" if state["fields"] else "")

        def beat() -> None:
            while not stop.wait(heartbeat_seconds()):
                if not quiet():
                    log(line())

        timer = threading.Thread(target=beat, daemon=True, name="obliviate-heartbeat")
        timer.start()

        def advance(n: int = 1, **fields) -> None:
            state["done"] += n
            state["fields"] = " ".join(f"{k}={v}" for k, v in fields.items())
            took, done = time.time() - start, state["done"]
            if not state.get("estimated") and done >= 2 and took >= ESTIMATE_AFTER_SECONDS and done < total:
                state["estimated"] = True  # once, early: how long the whole phase will take
                whole = took * total / done
                if whole >= ESTIMATE_MIN_SECONDS and not quiet():
                    log(f"{description}: {total} steps, about {_duration(whole)} in all (from the first {done})")

        try:
            yield advance
        finally:
            stop.set()
            timer.join()
            if not quiet() and time.time() - start >= MIN_PHASE_SECONDS:
                log(line(final=True))
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
        transient=True,  # a finished bar leaves the screen: the result is what stays
    ) as bar:
        task = bar.add_task(description, total=total, info="")

        def advance(n: int = 1, **fields) -> None:
            info = " ".join(f"{k}={v}" for k, v in fields.items())
            bar.update(task, advance=n, info=info)

        yield advance


MIN_PHASE_SECONDS = 2.0  # a phase shorter than this writes no line to a log
ESTIMATE_AFTER_SECONDS = 5.0  # a phase measures its first steps this long, then says how long it will take ...
ESTIMATE_MIN_SECONDS = 60.0  # ... when that is at least this long


def heartbeat_seconds() -> float:
    """Seconds between log lines of a long phase: ``OBLIVIATE_HEARTBEAT`` (default 45)."""
    try:
        return max(0.05, float(os.environ.get("OBLIVIATE_HEARTBEAT", "45")))
    except ValueError:
        return 45.0


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def third_party_bars() -> None:
    """Silence transformers', huggingface_hub's and datasets' own progress bars: ours say what
    runs (in a log they flood the file; in a terminal they pile up above our bars)."""
    # deferred: loads transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:  # optional: each library may be absent
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass
    try:  # optional: each library may be absent
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()
    except ImportError:
        pass


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

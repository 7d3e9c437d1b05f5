"""What every command-line group shares: one ``error:`` line and exit code 2 for bad input."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from obliviate.core.errors import ConfigError, ObliviateError


def fail(msg: str) -> NoReturn:
    """Print ``error: msg`` on stderr and exit with code 2."""
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _click_exceptions() -> list:
    """The exception modules of the click typer runs on: its own copy (typer >= 0.26) and/or click."""
    mods = []
    try:  # optional: each exists in some typer versions only
        from typer._click import exceptions as vendored

        mods.append(vendored)
    except ImportError:
        pass
    try:  # optional: each exists in some typer versions only
        from click import exceptions as click_exceptions

        mods.append(click_exceptions)
    except ImportError:
        pass
    return mods


_MODS = _click_exceptions()
_NO_ARGS = tuple(m.NoArgsIsHelpError for m in _MODS if hasattr(m, "NoArgsIsHelpError"))
_CLICK_ERRORS = tuple(m.ClickException for m in _MODS)
_ABORTS = (typer.Abort, *(m.Abort for m in _MODS if hasattr(m, "Abort")))


class OneLineErrors(TyperGroup):
    """The top-level command group: a usage error (an unknown option, a value that is not a number...) is
    one ``error: ...`` line on stderr and exit code 2 too, like every other bad input (click would print a
    usage box)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra: Any):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS as e:  # bare `obliviate` or `obliviate graph`: the help, as before
            e.show()
            sys.exit(e.exit_code)
        except _CLICK_ERRORS as e:
            ctx = getattr(e, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            message = " ".join(e.format_message().split())
            typer.echo(f"error: {message}{hint}", err=True)
            sys.exit(e.exit_code)
        except _ABORTS:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


def given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not None): what a command passes to a config, which supplies the rest."""
    return {k: v for k, v in options.items() if v is not None}


def check_writable(path: str | os.PathLike, option: str, *, folder: bool = True) -> Path:
    """Refuse (ConfigError naming ``option``) an output that cannot be written, before any long work.

    ``folder``: ``path`` is a folder to create or write into; else a file to create or replace. The nearest
    existing ancestor must be a folder where a file can be created (tried with a temporary file that is
    removed at once: permission bits, read-only file systems and root all answer the same way). Nothing is
    created.
    """
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise ConfigError(f"{option} {path}: is a file, expected a folder")
        if not folder and path.is_dir():
            raise ConfigError(f"{option} {path}: is a folder, expected a file name")
    probe = path if folder and path.is_dir() else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{option} {path}: cannot be created, {probe} is a file")
    try:
        with tempfile.TemporaryFile(dir=probe, prefix=".obliviate-probe-"):
            pass
    except OSError as e:
        raise ConfigError(f"{option} {path}: cannot write in {probe} ({e.strerror or e})") from None
    return path


def handled(fn):
    """Turn an ObliviateError into one ``error:`` line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ObliviateError as e:
            fail(str(e))

    return wrapper

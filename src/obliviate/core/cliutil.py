"""What every command-line group shares: one ``error:`` line and exit code 2 for bad input."""

from __future__ import annotations

import functools
from typing import NoReturn

import typer

from obliviate.core.errors import ObliviateError


def fail(msg: str) -> NoReturn:
    """Print ``error: msg`` on stderr and exit with code 2."""
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def handled(fn):
    """Turn an ObliviateError into one ``error:`` line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ObliviateError as e:
            fail(str(e))

    return wrapper

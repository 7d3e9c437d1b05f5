"""Grids, smooth fields, finite differences and tiny environments for the SMARL tests."""

from __future__ import annotations

import math

import torch

from obliviate.smarl import SolverParams


def grid(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    return x.view(n, 1).expand(n, n), x.view(1, n).expand(n, n)


def smooth_field(n: int) -> torch.Tensor:
    """A sum of a few low Fourier modes, (1, n, n)."""
    x, y = grid(n)
    return (torch.cos(x + 2 * y) + 0.7 * torch.sin(2 * x - y + 0.3) + 0.5 * torch.cos(3 * y - 1.0)
            + 0.4 * torch.sin(x)).unsqueeze(0)


# 8th-order central first derivative on the periodic grid
_FD = (4 / 5, -1 / 5, 4 / 105, -1 / 280)


def d(f: torch.Tensor, dim: int) -> torch.Tensor:
    h = 2 * math.pi / f.shape[dim]
    return sum(c * (f.roll(-s, dim) - f.roll(s, dim)) for s, c in enumerate(_FD, start=1)) / h


def dx(f):
    return d(f, -2)


def dy(f):
    return d(f, -1)


def params(**kw) -> SolverParams:
    return SolverParams(**{"n": 32, **kw})


def tiny_env(**kw):
    from obliviate.smarl.env import EnvConfig

    return EnvConfig(**{"n": 16, "episode_steps": 30, **kw})

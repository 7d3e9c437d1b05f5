"""Stand-in data files in the real formats, for tests that must run where the real data is not (CI)."""

from __future__ import annotations

from pathlib import Path


def smarl_k4_files(root: Path) -> None:
    """The k4 files SMARL's environment reads (under ``root/smarl/Re20kf4``), in the authors' formats, with
    made-up values: two-column spectra and MATLAB initial fields ``w1``; the numbers are a k^-3 spectrum and
    smooth random fields, not the DNS."""
    import numpy as np
    from scipy.io import savemat

    folder = root / "smarl" / "Re20kf4"
    folder.mkdir(parents=True, exist_ok=True)
    k = np.arange(512, dtype=float)
    for kind in ("enstrophy", "energy"):
        value = np.where(k > 0, np.maximum(k, 1.0) ** (-1.0 if kind == "enstrophy" else -3.0), 0.0)
        np.savetxt(folder / f"{kind}_spectrum_Re20kf4_DNS1024_xy.dat", np.stack([k, value], 1))
    rng = np.random.default_rng(0)
    for n in (32, 64):
        x = np.linspace(0, 2 * np.pi, n, endpoint=False)
        for i in range(1, 6):
            a, b = rng.normal(size=2)
            w = (4 * (np.cos(4 * x)[:, None] + np.cos(4 * x)[None, :])
                 + a * np.sin(x)[:, None] + b * np.cos(2 * x)[None, :])
            savemat(folder / f"iniWor_Re20kf4_{n}_{i}.mat", {"w1": w})

"""The SMARL reference data (1024^2 DNS by the authors) and the spectrum metrics.

Files (rmojgani/RLonKorali, ``experiments/flowControl_turb_code/_init``), found
through one setting, ``OBLIVIATE_DATA`` = the folder holding ``smarl/``:

- ``smarl/<Re20kf4|Re20kf4beta20|Re20kf25>/{enstrophy,energy}_spectrum_*DNS1024_<how>.dat``:
  whitespace text, column 0 = k (0, 1, ...), column 1 = the spectrum; the beta = 20 files add
  columns 2, 3 = mean - std and mean + std and stop at k = 510. ``how`` = ``xy`` (all cases),
  ``x``, ``y``, ``circle`` (beta = 20 only). Their normalisation is ``solver.spectrum``'s
  (checked: the authors' filtered 64^2 initial fields reproduce the k4 file within 1% at k <= 4).
- ``smarl/Re20kf25/pdf_DNS_Re20kf25.dat`` (omega, pdf; 100 points) and
  ``smarl/pdf_case02_FDNS.dat`` (omega, pdf; filtered DNS of k4-beta20), plus
  ``pdf_case02_FDNS_shading.dat`` (omega, low, mid, high band): raw omega units, integral 1.
- ``smarl/<folder>/iniWor_<folder>_<N>_<i>.mat``, N in {32, 64}, i in 1..5: MATLAB files with one
  array ``w1`` (N, N) float64, filtered DNS vorticity, first index = x.

Metrics on spectra truncated to ``k < k_max`` (default ``N/2`` of the LES):

- ``spectrum_log_error``: ``sqrt(mean_k ln(S_les(k) / S_dns(k))^2)`` (RMS log ratio; 0.1 ~ 10% off);
- ``spectrum_reward``: the paper's ``r = 1 / sum_k (k^p (S_les(k) - S_dns(k)))^2``, ``p = 1``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from obliviate.core.errors import ConfigError, DataError
from obliviate.smarl.solver import Case, case

DATA_ENV = "OBLIVIATE_DATA"
KINDS = ("enstrophy", "energy")
HOWS = ("xy", "x", "y", "circle")
_PDF_FILES = {"k25": "Re20kf25/pdf_DNS_Re20kf25.dat", "k4-beta20": "pdf_case02_FDNS.dat"}


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The ``smarl/`` folder: ``data_dir/smarl`` or ``$OBLIVIATE_DATA/smarl``; a DataError says what to set."""
    root = data_dir or os.environ.get(DATA_ENV)
    if not root:
        raise DataError(f"the SMARL reference files are not available: set {DATA_ENV} (or pass data_dir) to the "
                        "folder that holds smarl/Re20kf4/ (e.g. the project's ../shared/data)")
    path = Path(root) / "smarl"
    if not path.is_dir():
        raise DataError(f"{path}: no SMARL files here; {DATA_ENV} (or data_dir) must be the folder that holds "
                        "smarl/Re20kf4/, smarl/Re20kf4beta20/, smarl/Re20kf25/ (e.g. the project's ../shared/data)")
    return path


def _file(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"missing reference file {path}; {DATA_ENV} must point at the folder holding smarl/ "
                        "with the authors' _init files")
    return path


def _case(c: str | Case) -> Case:
    return c if isinstance(c, Case) else case(c)


@dataclass
class Spectrum:
    """A reference spectrum: ``k`` and ``value`` (K,), with a +-1 std band where the file has one."""

    case: str
    kind: str
    how: str
    k: torch.Tensor
    value: torch.Tensor
    low: torch.Tensor | None = None
    high: torch.Tensor | None = None

    def upto(self, k_max: int) -> torch.Tensor:
        """The values at ``k = 0 .. k_max-1`` (``(k_max,)``)."""
        if k_max > len(self.value):
            raise ConfigError(f"reference spectrum has {len(self.value)} wavenumbers, asked for {k_max}")
        return self.value[:k_max]


def load_spectrum(case_name: str | Case, kind: str = "enstrophy", how: str = "xy",
                  data_dir: str | os.PathLike | None = None) -> Spectrum:
    """The DNS (1024^2) spectrum of a case; ``how`` = ``xy`` (every case) or ``x``/``y``/``circle`` (k4-beta20)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown spectrum kind {kind!r}; choose one of {', '.join(KINDS)}")
    if how not in HOWS:
        raise ConfigError(f"unknown spectrum type {how!r}; choose one of {', '.join(HOWS)}")
    c = _case(case_name)
    path = _file(data_root(data_dir) / c.folder / f"{kind}_spectrum_{c.folder}_DNS1024_{how}.dat")
    a = torch.from_numpy(np.loadtxt(path))
    band = (a[:, 2], a[:, 3]) if a.shape[1] >= 4 else (None, None)
    return Spectrum(c.name, kind, how, a[:, 0], a[:, 1], *band)


@dataclass
class ReferencePDF:
    """A reference vorticity PDF in raw omega units, ``(P,)`` each; ``low``/``high`` where a band exists."""

    case: str
    omega: torch.Tensor
    density: torch.Tensor
    low: torch.Tensor | None = None
    high: torch.Tensor | None = None

    def std(self) -> float:
        """Standard deviation of omega by quadrature (to standardise it like ``vorticity_pdf``)."""
        x, p = self.omega, self.density
        z = torch.trapezoid(p, x)
        mean = torch.trapezoid(x * p, x) / z
        return float((torch.trapezoid((x - mean) ** 2 * p, x) / z).sqrt())


def load_pdf(case_name: str | Case, data_dir: str | os.PathLike | None = None) -> ReferencePDF:
    """The DNS vorticity PDF: available for ``k25`` and ``k4-beta20`` (with a band)."""
    c = _case(case_name)
    if c.name not in _PDF_FILES:
        raise DataError(f"no reference vorticity PDF for case {c.name!r}; available: {', '.join(_PDF_FILES)}")
    root = data_root(data_dir)
    a = torch.from_numpy(np.loadtxt(_file(root / _PDF_FILES[c.name])))
    pdf = ReferencePDF(c.name, a[:, 0], a[:, 1])
    if c.name == "k4-beta20":
        s = torch.from_numpy(np.loadtxt(_file(root / "pdf_case02_FDNS_shading.dat")))
        pdf.low = torch.from_numpy(np.interp(pdf.omega.numpy(), s[:, 0].numpy(), s[:, 1].numpy()))
        pdf.high = torch.from_numpy(np.interp(pdf.omega.numpy(), s[:, 0].numpy(), s[:, 3].numpy()))
    return pdf


def load_initial_fields(case_name: str | Case, n: int, indices: tuple[int, ...] = (1, 2, 3, 4, 5),
                        data_dir: str | os.PathLike | None = None) -> torch.Tensor:
    """The authors' filtered-DNS initial vorticity fields ``(len(indices), n, n)`` float64 (n = 32 or 64)."""
    # deferred: loads scipy
    from scipy.io import loadmat

    c = _case(case_name)
    root = data_root(data_dir)
    fields = []
    for i in indices:
        path = _file(root / c.folder / f"iniWor_{c.folder}_{n}_{i}.mat")
        w = loadmat(path)["w1"]
        if w.shape != (n, n):
            raise DataError(f"{path}: expected a {n}x{n} array 'w1', found {w.shape}")
        fields.append(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float64)))
    return torch.stack(fields)


def _pair(les: torch.Tensor, dns: torch.Tensor, k_max: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    les = les if les.dim() == 2 else les.unsqueeze(0)
    k_max = les.shape[-1] if k_max is None else k_max
    if k_max > les.shape[-1] or k_max > dns.shape[-1]:
        raise ConfigError(f"k_max={k_max} exceeds the spectra's lengths ({les.shape[-1]}, {dns.shape[-1]})")
    return les[:, :k_max], dns[:k_max].to(les)


def spectrum_log_error(les: torch.Tensor, dns: torch.Tensor, k_max: int | None = None, k_min: int = 0) -> torch.Tensor:
    """``(B,)`` RMS of ``ln(S_les(k) / S_dns(k))`` over ``k_min <= k < k_max`` (default all of ``les``: N/2)."""
    les, dns = _pair(les, dns, k_max)
    r = (les[:, k_min:] / dns[k_min:]).log()
    return r.pow(2).mean(dim=1).sqrt()


def spectrum_reward(les: torch.Tensor, dns: torch.Tensor, k_max: int | None = None, power: int = 1) -> torch.Tensor:
    """``(B,)`` the paper's reward ``1 / ||k^p (S_les(k) - S_dns(k))||^2`` over ``k < k_max`` (default N/2).

    As in the authors' code (``krange = 0 .. N/2-1``), ``k = 0`` has weight 0. A non-finite
    spectrum (blown-up run) gives reward 0; the environment adds its own penalty.
    """
    les, dns = _pair(les, dns, k_max)
    k = torch.arange(les.shape[-1], dtype=les.dtype, device=les.device) ** power
    r = 1.0 / (k * (les - dns)).pow(2).sum(dim=1)
    return torch.where(torch.isfinite(les).all(dim=1), r, torch.zeros_like(r))

"""Evaluation of SMARL closures: spectra, vorticity PDF tails, stability and cost against the DNS.

SMARL (Mojgani et al., arXiv 2312.00907) claims that the learned closure reproduces the DNS
vorticity PDF tails better than the classical closures, stably. For each closure (``none``,
``smagorinsky``, ``leith``, ``dynamic-smagorinsky``, a trained policy) ``simulate`` runs the LES
from the authors' initial fields for ``t_end`` time units and collects, over ``t >= t_avg``:

- the mean xy enstrophy/energy spectra -> ``spectrum_log_error`` (RMS of ``ln(S_les/S_dns)``, 1 <= k < N/2);
- every grid value of omega -> the PDF of ``x = (omega - mean) / std``, ``P(|x| > 3)``, ``P(|x| > 4)``,
  the kurtosis, ``P(|omega| > 3 std_ref)`` in raw units, and the tail-weighted divergence

      D_tail = sqrt( sum_j x_j^2 ln^2((p_les(x_j) + eps) / (p_ref(x_j) + eps)) / sum_j x_j^2 ),

  over bins of width 0.25 where ``p_ref >= 1e-4``, ``eps = 1e-5`` (an x^2-weighted RMS log ratio of
  the standardised PDFs: 0.1 ~ the PDFs 10% apart, the tails counting most);
- stability: runs that blow up (and when); they are left out of the statistics;
- cost: wall seconds per simulated time unit of one run (B = 1, one thread), and the same for
  our solver at the DNS resolution (1024^2, float64, 2/3 dealiasing; a few steps timed).

The PDF reference: the authors' file where it exists (``k4-beta20``, ``k25``); for ``k4`` our own
DNS (256^2, float64, dealiased, from the authors' field 1), spectrally truncated to the LES grid,
cached under ``cache_home()/smarl/``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from obliviate.core.errors import ConfigError
from obliviate.core.progress import log, progress
from obliviate.core.store import cache_home
from obliviate.smarl.closures import FieldClosure, make_closure
from obliviate.smarl.env import coefficient_field, observe
from obliviate.smarl.reference import load_initial_fields, load_pdf, load_spectrum, spectrum_log_error
from obliviate.smarl.solver import Solver, case, resample, spectrum

CLASSICAL = ("none", "smagorinsky", "leith", "dynamic-smagorinsky")
BIN_WIDTH = 0.25
PDF_LIMIT = 8.0
SUPPORT = 1e-4  # reference density below this is not trusted (too few samples)
EPS = 1e-5


@dataclass
class EvalConfig:
    """How closures are simulated and measured.

    Args:
        case: ``k4``, ``k4-beta20`` or ``k25``.
        n: LES grid.
        t_end: simulated time per run.
        t_avg: statistics from this time on.
        sample_every: time between snapshots (spectra and PDF samples).
        init_fields: the authors' initial fields (one run each).
        dtype: ``float32`` (as in training) or ``float64``.
        dealias: 2/3 rule (the authors' LES: off).
        dt: time step.
        cost_steps: steps timed (B = 1) for the cost per time unit.
        dns_n: our DNS resolution for the k4 PDF reference; dns_t_end / dns_t_spinup: its time window.
        data_dir: the folder holding ``smarl/`` (default ``$OBLIVIATE_DATA``).
    """

    case: str = "k4"
    n: int = 32
    t_end: float = 20.0
    t_avg: float = 2.0
    sample_every: float = 0.1
    init_fields: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    dtype: str = "float32"
    dealias: bool = False
    dt: float = 5e-4
    cost_steps: int = 400
    dns_n: int = 256
    dns_t_end: float = 40.0
    dns_t_spinup: float = 10.0
    data_dir: str | None = None

    def __post_init__(self) -> None:
        try:
            case(self.case).params(n=self.dns_n, dt=self.dt, dealias=self.dealias)
        except ConfigError as e:
            raise ConfigError(f"dns_n (--dns-n): {e}") from None
        case(self.case).params(n=self.n, dt=self.dt, dealias=self.dealias)  # a bad grid (--n) fails here
        if not 0 <= self.t_avg < self.t_end < math.inf:  # nan fails too
            raise ConfigError(f"need 0 <= t_avg < t_end (finite), got t_avg={self.t_avg}, t_end={self.t_end}")
        if not 0 <= self.dns_t_spinup < self.dns_t_end < math.inf:
            raise ConfigError(f"need 0 <= t_spinup < t_end (finite), got t_spinup={self.dns_t_spinup}, "
                              f"t_end={self.dns_t_end}")
        if self.cost_steps < 1:
            raise ConfigError(f"cost_steps must be >= 1, got {self.cost_steps}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if not 0 < self.sample_every < math.inf:
            raise ConfigError(f"sample_every must be a finite number > 0, got {self.sample_every}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float32 if self.dtype == "float32" else torch.float64

    def solver(self) -> Solver:
        return Solver(case(self.case).params(n=self.n, dt=self.dt, dealias=self.dealias), dtype=self.torch_dtype)


def initial_fields(case_name: str, n: int, indices=(1, 2, 3, 4, 5), data_dir=None) -> torch.Tensor:
    """The authors' filtered-DNS fields on an ``n`` grid ``(len, n, n)`` (their 32^2 files up to n = 32, else 64^2)."""
    w = load_initial_fields(case_name, 32 if n <= 32 else 64, tuple(indices), data_dir)
    return resample(w, n) if w.shape[-1] != n else w


class PolicyClosure(FieldClosure):
    """The learned closure: every ``action_every`` steps the policy maps each agent's observation to
    its coefficient, interpolated to ``c(x, y)`` (deterministic: the Gaussian's mean)."""

    name = "learned"

    def __init__(self, model, form: str = "leith", agents_side: int = 4, action_every: int = 10) -> None:
        super().__init__(0.0, form=form)
        self.model, self.agents_side, self.action_every = model, agents_side, action_every

    def act(self, omega: torch.Tensor) -> torch.Tensor:
        """Set ``c`` from the flow ``(B, N, N)``; returns the agents' actions ``(B, m*m)``."""
        a = self.model.policy_actions(observe(omega, self.agents_side))
        self.c = coefficient_field(a.to(omega.dtype), omega.shape[-1])
        return a


@dataclass
class SimResult:
    """What one closure did over ``runs`` runs (statistics over the runs that did not blow up)."""

    name: str
    runs: int
    blowups: int
    blowup_times: list[float]
    spectrum_z: torch.Tensor  # (N/2,)
    spectrum_e: torch.Tensor
    samples: torch.Tensor  # (S, R, N, N) every snapshot of the R surviving runs, raw units
    times: list[float]
    enstrophy: list[float]  # mean over surviving runs, per snapshot
    wall_s: float
    coefficient_mean: torch.Tensor | None = None  # learned: time-mean c(x, y) of run 0
    coefficient_last: torch.Tensor | None = None
    coefficient_series: list[float] | None = None  # learned: domain-mean c over runs, per snapshot
    spectrum_z_runs: torch.Tensor | None = None  # (R, N/2): the time-mean spectrum of each surviving run
    spectrum_e_runs: torch.Tensor | None = None


def _closure(name_or_closure):
    return make_closure(name_or_closure) if isinstance(name_or_closure, str) else name_or_closure


def simulate(closure, config: EvalConfig, label: str | None = None) -> SimResult:
    """Run the LES with ``closure`` (a name or a ``Closure``/``PolicyClosure``) from the initial fields."""
    cfg = config
    closure = _closure(closure)
    label = label or getattr(closure, "name", "closure")
    solver = cfg.solver()
    w0 = initial_fields(cfg.case, cfg.n, cfg.init_fields, cfg.data_dir)
    state = solver.initial_state(w0)
    b = state.batch
    policy = isinstance(closure, PolicyClosure)
    every = closure.action_every if policy else 1
    chunk = max(every, round(cfg.sample_every / cfg.dt) // every * every)
    n_chunks = math.ceil(round(cfg.t_end / cfg.dt) / chunk)
    alive = torch.ones(b, dtype=torch.bool)
    blow_t = [math.nan] * b
    snaps, z_sum, e_sum, times, ens, c_series = [], 0.0, 0.0, [], [], []
    c_sum, c_count, c_last = 0.0, 0, None
    start = time.time()
    with progress(n_chunks, f"{label} {cfg.case} {cfg.n}^2") as advance:
        for _ in range(n_chunks):
            if policy:
                for _ in range(chunk // every):
                    closure.act(solver.omega(state))
                    state = solver.step(state, closure, n_steps=every)
            else:
                state = solver.step(state, closure, n_steps=chunk)
            t = float(solver.time(state)[0])
            dead = solver.blown_up(state) & alive
            if dead.any():
                for i in torch.nonzero(dead).flatten().tolist():
                    blow_t[i] = t
                alive &= ~dead
                zero = solver.initial_state(torch.zeros(b, cfg.n, cfg.n))
                state = state.where(dead, zero)  # park the dead run at rest; it is ignored from now on
            omega = solver.omega(state)
            if t >= cfg.t_avg - 1e-9:
                snaps.append(omega.to(torch.float32))
                z_sum = z_sum + spectrum(omega.double(), "enstrophy")
                e_sum = e_sum + spectrum(omega.double(), "energy")
                times.append(t)
                ens.append(float(0.5 * omega[alive].double().pow(2).mean()) if alive.any() else math.nan)
                if policy:
                    c = closure.c
                    c_series.append(float(c[alive].mean()) if alive.any() else math.nan)
                    c_sum, c_count, c_last = c_sum + c[0].double(), c_count + 1, c[0].clone()
            advance(1, t=f"{t:.1f}", alive=int(alive.sum()))
    wall = time.time() - start
    if not snaps:
        raise ConfigError("no snapshots were taken: t_avg must be below t_end")
    k = max(int(alive.sum()), 1)
    z = (z_sum[alive].sum(0) / (len(snaps) * k)) if alive.any() else torch.full((cfg.n // 2,), math.nan)
    e = (e_sum[alive].sum(0) / (len(snaps) * k)) if alive.any() else torch.full((cfg.n // 2,), math.nan)
    samples = torch.stack(snaps)[:, alive]  # (S, R, N, N)
    return SimResult(label, b, int((~alive).sum()), [x for x in blow_t if not math.isnan(x)], z, e, samples,
                     times, ens, wall,
                     spectrum_z_runs=z_sum[alive] / len(snaps), spectrum_e_runs=e_sum[alive] / len(snaps),
                     coefficient_mean=(c_sum / c_count).float() if policy and c_count else None,
                     coefficient_last=c_last, coefficient_series=c_series if policy else None)


# -- PDFs -----------------------------------------------------------------------------------------
def pdf_bins() -> torch.Tensor:
    """Bin centres of the standardised PDFs, ``(2 PDF_LIMIT / BIN_WIDTH,)``."""
    nb = round(2 * PDF_LIMIT / BIN_WIDTH)
    return -PDF_LIMIT + BIN_WIDTH * (torch.arange(nb, dtype=torch.float64) + 0.5)


def standardized_histogram(samples: torch.Tensor) -> torch.Tensor:
    """Density of ``(x - mean) / std`` on ``pdf_bins()`` (values beyond the range count in the total)."""
    x = samples.double()
    x = (x - x.mean()) / x.std()
    nb = len(pdf_bins())
    hist = torch.histc(x, bins=nb, min=-PDF_LIMIT, max=PDF_LIMIT)
    return hist / (x.numel() * BIN_WIDTH)


@dataclass
class PDFStats:
    """Statistics of one vorticity distribution (``density`` on ``pdf_bins()``, standardised)."""

    source: str
    std: float
    p3: float  # P(|x| > 3), x standardised by its own std
    p4: float
    kurtosis: float
    density: torch.Tensor

    def p_abs(self, threshold: float, samples: torch.Tensor | None = None) -> float:
        """``P(|omega - mean| > threshold)`` in raw units."""
        if samples is not None:
            x = samples.double()
            return float(((x - x.mean()).abs() > threshold).double().mean())
        xs = pdf_bins()
        return float((self.density * (xs.abs() * self.std > threshold)).sum() * BIN_WIDTH)


def pdf_stats(samples: torch.Tensor, source: str) -> PDFStats:
    """Statistics of raw omega samples (any shape)."""
    x = samples.double().flatten()
    std = float(x.std())
    z = (x - x.mean()) / std
    return PDFStats(source, std, float((z.abs() > 3).double().mean()), float((z.abs() > 4).double().mean()),
                    float(z.pow(4).mean()), standardized_histogram(x))


def pdf_stats_from_table(omega: torch.Tensor, density: torch.Tensor, source: str) -> PDFStats:
    """Statistics of a tabulated PDF (the authors' files), by quadrature on a fine grid."""
    om, p = omega.double().numpy(), density.double().numpy()
    fine = np.linspace(om[0], om[-1], 20001)
    logp = np.interp(fine, om, np.log(np.clip(p, 1e-300, None)))
    pf = np.exp(logp) * (np.interp(fine, om, p) > 0)
    pf /= np.trapezoid(pf, fine)
    mean = np.trapezoid(fine * pf, fine)
    std = math.sqrt(np.trapezoid((fine - mean) ** 2 * pf, fine))
    z = (fine - mean) / std
    p3 = float(np.trapezoid(pf * (np.abs(z) > 3), fine))
    p4 = float(np.trapezoid(pf * (np.abs(z) > 4), fine))
    kurt = float(np.trapezoid(z**4 * pf, fine))
    xs = pdf_bins().numpy()
    dens = std * np.exp(np.interp(mean + std * xs, fine, np.log(np.clip(pf, 1e-300, None)), left=-np.inf,
                                  right=-np.inf))
    return PDFStats(source, std, p3, p4, kurt, torch.from_numpy(dens))


def tail_divergence(les: torch.Tensor, ref: torch.Tensor) -> float:
    """``D_tail`` (module docstring) between two densities on ``pdf_bins()``."""
    xs = pdf_bins()
    keep = ref >= SUPPORT
    if not keep.any():
        return math.nan
    lr = ((les + EPS) / (ref + EPS)).log()
    w = xs**2 * keep
    return float(((w * lr**2).sum() / w.sum()).sqrt())


# -- the k4 reference: our own DNS ---------------------------------------------------------------------
def dns_cache_path(case_name: str, config: EvalConfig):
    c = case(case_name)
    name = (f"dns_{c.name}_n{config.dns_n}_t{config.dns_t_spinup:g}-{config.dns_t_end:g}"
            f"_every{config.sample_every:g}_dt{config.dt:g}.safetensors")
    return cache_home() / "smarl" / name


def dns_reference(config: EvalConfig, build: bool = True) -> torch.Tensor | None:
    """Snapshots ``(S, n, n)`` of our DNS of ``config.case`` spectrally truncated to the LES grid.

    Built once (``dns_n``^2, float64, 2/3 dealiasing, from the authors' field 1, snapshots every
    ``sample_every`` over ``[dns_t_spinup, dns_t_end]``), cached at 64^2; ``None`` if absent and not ``build``.
    """
    # deferred: loads safetensors
    from safetensors.torch import load_file, save_file

    path = dns_cache_path(config.case, config)
    if not path.is_file():
        if not build:
            return None
        c = case(config.case)
        solver = Solver(c.params(n=config.dns_n, dt=config.dt, dealias=True), dtype=torch.float64)
        state = solver.initial_state(resample(load_initial_fields(c, 64, (1,), config.data_dir), config.dns_n))
        chunk = max(1, round(config.sample_every / config.dt))
        n_chunks = math.ceil(round(config.dns_t_end / config.dt) / chunk)
        snaps, z_sum = [], 0.0
        log(f"building the {c.name} DNS reference at {config.dns_n}^2 (t = 0..{config.dns_t_end:g}; "
            f"{n_chunks * chunk} steps, about {n_chunks * chunk * 6e-3 / 60:.0f} min on one thread) -> {path}")
        start = time.time()
        with progress(n_chunks, f"DNS {c.name} {config.dns_n}^2") as advance:
            for _ in range(n_chunks):
                state = solver.step(state, n_steps=chunk)
                if bool(solver.blown_up(state)[0]):
                    raise ConfigError(f"the {config.dns_n}^2 DNS blew up; use a larger dns_n or smaller dt")
                t = float(solver.time(state)[0])
                if t >= config.dns_t_spinup - 1e-9:
                    w = solver.omega(state)
                    snaps.append(resample(w, 64)[0].float())
                    z_sum = z_sum + spectrum(w, "enstrophy")[0]
                advance(1, t=f"{t:.1f}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file({"omega64": torch.stack(snaps), "spectrum_z": (z_sum / len(snaps)).contiguous()}, str(tmp),
                  metadata={"wall_s": f"{time.time() - start:.1f}", "n": str(config.dns_n)})
        tmp.replace(path)
    w = load_file(str(path))["omega64"].double()
    return resample(w, config.n) if config.n != 64 else w


def reference_pdf(config: EvalConfig, build: bool = True) -> tuple[PDFStats | None, torch.Tensor | None]:
    """The PDF reference of the case and, for our own DNS, its snapshots ``(S, n, n)`` (else None)."""
    c = case(config.case)
    if c.name == "k4":
        snaps = dns_reference(config, build=build)
        if snaps is None:
            return None, None
        return pdf_stats(snaps, f"our DNS {config.dns_n}^2 truncated to {config.n}^2"), snaps
    ref = load_pdf(c, config.data_dir)
    return pdf_stats_from_table(ref.omega, ref.density, "authors' DNS PDF"), None


# -- cost -----------------------------------------------------------------------------------------------
def cost_per_time_unit(solver: Solver, closure, w0: torch.Tensor, steps: int) -> float:
    """Wall seconds per simulated time unit of one run (B = 1), ``steps`` steps timed after one."""
    closure = _closure(closure)
    state = solver.initial_state(w0[:1].to(solver.dtype))
    policy = isinstance(closure, PolicyClosure)
    every = closure.action_every if policy else steps

    def advance(state, n):
        for _ in range(max(1, n // every)):
            if policy:
                closure.act(solver.omega(state))
            state = solver.step(state, closure, n_steps=min(every, n))
        return state

    state = advance(state, every if policy else 1)
    start = time.perf_counter()
    advance(state, steps)
    return (time.perf_counter() - start) / (steps * solver.params.dt)


def dns_cost(case_name: str, n: int = 1024, steps: int = 3, dt: float = 5e-4) -> float:
    """Our solver at the DNS resolution (float64, 2/3 dealiasing, B = 1): seconds per time unit (timed)."""
    solver = Solver(case(case_name).params(n=n, dt=dt, dealias=True), dtype=torch.float64)
    w0 = resample(load_initial_fields(case_name, 64, (1,)), n)
    state = solver.step(solver.initial_state(w0))
    start = time.perf_counter()
    solver.step(state, n_steps=steps)
    return (time.perf_counter() - start) / (steps * dt)


# -- the whole comparison --------------------------------------------------------------------------------
PER_RUN_KEYS = ("z_log_error", "e_log_error", "p3", "p4", "kurtosis", "tail_divergence", "p_abs3", "blown_up")


def per_run_metrics(res: SimResult, z_ref: torch.Tensor, e_ref: torch.Tensor, ref: PDFStats | None) -> list[dict]:
    """The figures of each run on its own (``PER_RUN_KEYS``), for intervals over runs: the spectrum errors of
    its time-mean spectra, the PDF statistics of its snapshots (standardised by its own std), ``D_tail`` and
    ``P(|w| > 3 std_ref)`` against ``ref``, ``blown_up`` 0. A run that blew up gives ``{"blown_up": 1}`` only."""
    runs: list[dict] = []
    if res.samples.numel() and res.spectrum_z_runs is not None:
        z_err = spectrum_log_error(res.spectrum_z_runs, z_ref, k_min=1).tolist()
        e_err = spectrum_log_error(res.spectrum_e_runs, e_ref, k_min=1).tolist()
        for i in range(res.samples.shape[1]):
            run = res.samples[:, i]
            st = pdf_stats(run, "run")
            row = {"z_log_error": z_err[i], "e_log_error": e_err[i], "p3": st.p3, "p4": st.p4,
                   "kurtosis": st.kurtosis, "blown_up": 0}
            if ref is not None:
                row.update({"tail_divergence": tail_divergence(st.density, ref.density),
                            "p_abs3": st.p_abs(3 * ref.std, run)})
            runs.append(row)
    return runs + [{"blown_up": 1}] * res.blowups


def closure_metrics(res: SimResult, cfg: EvalConfig, ref: PDFStats | None, cost: float) -> dict:
    """The table row of one closure (spectrum errors, PDF tails, stability, cost)."""
    c = case(cfg.case)
    z_ref = load_spectrum(c, "enstrophy", data_dir=cfg.data_dir).value
    e_ref = load_spectrum(c, "energy", data_dir=cfg.data_dir).value
    ok = res.samples.numel() > 0
    row = {"closure": res.name, "runs": res.runs, "blowups": res.blowups, "blowup_times": res.blowup_times,
           "z_log_error": float(spectrum_log_error(res.spectrum_z, z_ref, k_min=1)) if ok else math.nan,
           "e_log_error": float(spectrum_log_error(res.spectrum_e, e_ref, k_min=1)) if ok else math.nan,
           "cost_s_per_time_unit": cost, "wall_s": res.wall_s}
    if ok:
        st = pdf_stats(res.samples, res.name)
        row.update({"std": st.std, "p3": st.p3, "p4": st.p4, "kurtosis": st.kurtosis})
        if res.samples.dim() == 4 and res.samples.shape[1] > 1:  # spread over the runs (each its own std)
            per_run = [pdf_stats(res.samples[:, i], "run") for i in range(res.samples.shape[1])]
            for key in ("p3", "p4", "kurtosis"):
                vals = [getattr(p, key) for p in per_run]
                row[f"{key}_runs_range"] = [min(vals), max(vals)]
        if ref is not None:
            thr = 3 * ref.std
            row.update({"std_ratio": st.std / ref.std, "p_abs3": st.p_abs(thr, res.samples),
                        "tail_divergence": tail_divergence(st.density, ref.density)})
    row["per_run"] = per_run_metrics(res, z_ref, e_ref, ref)
    return row


@dataclass
class Evaluation:
    """Everything ``compare`` measured: rows, the reference, and the curves to plot."""

    config: EvalConfig
    rows: list[dict]
    reference: dict
    curves: dict


def compare(config: EvalConfig, closures: dict, build_reference: bool = True, with_dns_cost: bool = True) -> Evaluation:
    """Simulate every closure of ``{label: name or Closure}`` and measure it against the references."""
    cfg = config
    c = case(cfg.case)
    ref, ref_samples = reference_pdf(cfg, build=build_reference)
    if ref is None:
        log(f"no PDF reference for {c.name} yet: the PDF columns stay empty (eval builds it, or run "
            f"'obliviate smarl reference --case {c.name}')")
    solver = cfg.solver()
    w0 = initial_fields(cfg.case, cfg.n, cfg.init_fields[:1], cfg.data_dir)
    rows, curves = [], {"k": list(range(cfg.n // 2)), "bins": pdf_bins().tolist(), "closures": {}}
    for label, cl in closures.items():
        cl = _closure(cl)
        res = simulate(cl, cfg, label)
        cost = cost_per_time_unit(solver, cl, w0, cfg.cost_steps)
        row = closure_metrics(res, cfg, ref, cost)
        rows.append(row)
        log(f"{label}: z_log_error {row['z_log_error']:.3f}  p3 {row.get('p3', math.nan):.2e}  "
            f"p4 {row.get('p4', math.nan):.2e}  D_tail {row.get('tail_divergence', math.nan):.3f}  "
            f"blowups {row['blowups']}/{row['runs']}  {cost:.2f} s/time unit")
        curve = {"spectrum_z": res.spectrum_z.tolist(), "spectrum_e": res.spectrum_e.tolist(),
                 "pdf": standardized_histogram(res.samples).tolist() if res.samples.numel() else [],
                 "times": res.times, "enstrophy": res.enstrophy}
        if res.coefficient_mean is not None:
            curve.update({"coefficient_mean": res.coefficient_mean.tolist(),
                          "coefficient_last": res.coefficient_last.tolist(),
                          "coefficient_series": res.coefficient_series})
        curves["closures"][label] = curve
    z_ref = load_spectrum(c, "enstrophy", data_dir=cfg.data_dir).value
    e_ref = load_spectrum(c, "energy", data_dir=cfg.data_dir).value
    reference = {"spectrum_source": "authors' DNS 1024^2 (xy)", "pdf_source": ref.source if ref else None}
    if ref is not None:
        reference.update({"std": ref.std, "p3": ref.p3, "p4": ref.p4, "kurtosis": ref.kurtosis,
                          "p_abs3": ref.p_abs(3 * ref.std, ref_samples)})
        if ref_samples is not None:  # sampling spread: the same statistics over 5 consecutive time windows
            parts = [pdf_stats(chunk, "chunk") for chunk in ref_samples.chunk(5)]
            for key in ("p3", "p4", "kurtosis"):
                vals = [getattr(p, key) for p in parts]
                reference[f"{key}_range"] = [min(vals), max(vals)]
        curves["reference_pdf"] = ref.density.tolist()
    if with_dns_cost:
        reference["dns_cost_s_per_time_unit"] = dns_cost(cfg.case, 1024, 3, cfg.dt)
        reference["dns_cost_how"] = "our solver at 1024^2, float64, 2/3 dealiasing, B = 1, 3 steps timed"
    curves["reference_spectrum_z"] = z_ref[: 4 * cfg.n].tolist()
    curves["reference_spectrum_e"] = e_ref[: 4 * cfg.n].tolist()
    return Evaluation(cfg, rows, reference, curves)

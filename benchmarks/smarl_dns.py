"""Validate the SMARL solver: our own DNS against the authors' 1024^2 reference spectra.

Runs the forced beta-plane vorticity equation (obliviate.smarl.solver) in
float64 without a closure, from the authors' filtered 64^2 initial field
(spectrally interpolated to n^2) or a random field, averages the xy enstrophy
and energy spectra over the statistically steady part, and prints them
against ``smarl/<case>/*_DNS1024_xy.dat`` at the resolved wavenumbers.

    OMP_NUM_THREADS=1 OBLIVIATE_DATA=../shared/data python benchmarks/smarl_dns.py --n 256 --t-end 50

Needs OBLIVIATE_DATA (the folder holding smarl/); --init random still needs it
for the reference spectra.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from obliviate.core.errors import ObliviateError
from obliviate.core.progress import log, progress
from obliviate.smarl import (
    Solver,
    case,
    energy,
    enstrophy,
    load_initial_fields,
    load_spectrum,
    random_vorticity,
    resample,
    spectrum,
    spectrum_log_error,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="k4", help="k4, k4-beta20 or k25")
    ap.add_argument("--n", type=int, default=256, help="grid points per side")
    ap.add_argument("--t-end", type=float, default=50.0, help="simulated time")
    ap.add_argument("--t-avg", type=float, default=10.0, help="average spectra from this time on")
    ap.add_argument("--sample-every", type=float, default=0.25, help="time between spectrum samples")
    ap.add_argument("--dt", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--init", default="1", help="reference initial field index 1..5, or 'random'")
    ap.add_argument("--no-dealias", action="store_true", help="turn the 2/3 rule off (the authors' setting)")
    ap.add_argument("--png", default="docs/img/smarl_dns_k4.png", help="spectrum plot ('' for none)")
    ap.add_argument("--json", default="", help="write the results here")
    ap.add_argument("--data-dir", default=None, help="folder holding smarl/ (default: $OBLIVIATE_DATA)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    c = case(args.case)
    params = c.params(n=args.n, dt=args.dt, dealias=not args.no_dealias)
    solver = Solver(params, dtype=torch.float64)
    ref_z = load_spectrum(c, "enstrophy", data_dir=args.data_dir).value
    ref_e = load_spectrum(c, "energy", data_dir=args.data_dir).value
    if args.init == "random":
        w0 = random_vorticity(args.n, 1, k_peak=10.0, rms=5.0, seed=0)
    else:
        w0 = resample(load_initial_fields(c, 64, (int(args.init),), data_dir=args.data_dir), args.n)
    state = solver.initial_state(w0)

    chunk = max(1, round(args.sample_every / args.dt))
    n_chunks = math.ceil(args.t_end / (chunk * args.dt))
    sum_z = sum_e = 0.0
    samples, series = 0, []
    start = time.time()
    log(f"SMARL DNS {c.name}: {solver}; {n_chunks * chunk} steps, averaging from t={args.t_avg}")
    with progress(n_chunks, f"DNS {c.name} {args.n}^2") as advance:
        for i in range(n_chunks):
            state = solver.step(state, n_steps=chunk)
            t = float(solver.time(state)[0])
            w = solver.omega(state)
            e, z = float(energy(w)), float(enstrophy(w))
            series.append((t, e, z))
            if bool(solver.blown_up(state)[0]):
                raise SystemExit(f"blew up at t={t:.2f}")
            if t >= args.t_avg - 1e-9:
                sum_z = sum_z + spectrum(w, "enstrophy")[0]
                sum_e = sum_e + spectrum(w, "energy")[0]
                samples += 1
            advance(1, t=f"{t:.1f}", E=f"{e:.3f}", Z=f"{z:.2f}")
            if (i + 1) % max(1, n_chunks // 20) == 0:
                log(f"  t={t:6.2f}  E={e:.4f}  Z={z:.3f}  wall={time.time() - start:.0f}s")
    wall = time.time() - start
    if not samples:
        raise SystemExit("no samples: --t-avg must be below --t-end")
    z_ours, e_ours = sum_z / samples, sum_e / samples

    k_res = math.ceil(args.n / 3) if params.dealias else args.n // 2  # resolved wavenumbers: |k| < n/3 kept
    avg = [s for s in series if s[0] >= args.t_avg]
    half = len(avg) // 2
    steady = {name: (sum(s[j] for s in avg[:half]) / max(half, 1), sum(s[j] for s in avg[half:]) / (len(avg) - half))
              for j, name in ((1, "energy"), (2, "enstrophy"))}
    metrics = {
        "z_log_error_k1_to_kres": float(spectrum_log_error(z_ours[:k_res], ref_z, k_min=1)),
        "e_log_error_k1_to_kres": float(spectrum_log_error(e_ours[:k_res], ref_e, k_min=1)),
        "z_log_error_k1_to_31": float(spectrum_log_error(z_ours[:min(32, k_res)], ref_z, k_min=1)),
        "z_log_error_k1_to_15": float(spectrum_log_error(z_ours[:min(16, k_res)], ref_z, k_min=1)),
    }
    ks = [k for k in (0, 1, 2, 3, 4, 5, 6, 8, 12, 16, 24, 32, 48, 64, 85, 127) if k < k_res]
    print(f"\nSMARL DNS {c.name}, n={args.n}, dt={args.dt}, dealias={params.dealias}, t_end={args.t_end}, "
          f"averaged over t in [{args.t_avg}, {args.t_end}] ({samples} samples), wall {wall:.0f}s "
          f"({n_chunks * chunk / wall:.0f} steps/s, {args.threads} thread(s))")
    print(f"steadiness: E {steady['energy'][0]:.4f} -> {steady['energy'][1]:.4f}, "
          f"Z {steady['enstrophy'][0]:.3f} -> {steady['enstrophy'][1]:.3f} (first vs second half of the window)")
    print(f"{'k':>4} {'Z ours':>11} {'Z DNS1024':>11} {'ratio':>6} {'E ours':>11} {'E DNS1024':>11} {'ratio':>6}")
    for k in ks:
        print(f"{k:>4} {float(z_ours[k]):11.4e} {float(ref_z[k]):11.4e} {float(z_ours[k] / ref_z[k]):6.2f} "
              f"{float(e_ours[k]):11.4e} {float(ref_e[k]):11.4e} {float(e_ours[k] / ref_e[k]):6.2f}")
    m = metrics
    print(f"RMS log error (ln ratio) of the xy spectra, 1 <= k < k_res={k_res}: enstrophy "
          f"{m['z_log_error_k1_to_kres']:.3f}, energy {m['e_log_error_k1_to_kres']:.3f}; enstrophy over k < 16: "
          f"{m['z_log_error_k1_to_15']:.3f}, k < 32: {m['z_log_error_k1_to_31']:.3f}")

    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        k = torch.arange(k_res)
        for ax, ours, ref, name in ((axes[0], z_ours, ref_z, "enstrophy"), (axes[1], e_ours, ref_e, "energy")):
            kk = torch.arange(1, len(ref))
            ax.loglog(kk, ref[1:], "k-", lw=2, alpha=0.4, label="authors' DNS 1024$^2$")
            ax.loglog(k[1:], ours[1:k_res], "C3-", lw=1.2, label=f"ours {args.n}$^2$ (k < {k_res})")
            ax.axvline(params.k_f, ls=":", c="grey")
            ax.set_xlabel("k")
            ax.set_title(f"{name} spectrum (xy), case {c.name}")
            ax.legend(fontsize=8)
        fig.tight_layout()
        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.png, dpi=120)
        print(f"plot: {args.png}")
    if args.json:
        out = {"config": {**vars(args), "params": vars(params)}, "wall_s": wall, "samples": samples,
               "metrics": metrics, "steady": steady, "k": ks,
               "z_ours": [float(v) for v in z_ours], "e_ours": [float(v) for v in e_ours], "series": series}
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"results: {args.json}")


if __name__ == "__main__":
    try:
        main()
    except ObliviateError as e:  # missing data or a bad option: one line, not a traceback
        raise SystemExit(f"error: {e}") from None

"""SMARL: a batched 2D-turbulence solver, classical closures and the reference data.

Mojgani, Waelchli, Guan, Koumoutsakos, Hassanzadeh, "Extreme Event Prediction with
Multi-agent Reinforcement Learning-based Parametrization of Atmospheric and Oceanic
Turbulence", arXiv 2312.00907. See docs/smarl.md.
"""

from obliviate.smarl.closures import (
    CLOSURES,
    Closure,
    DynamicSmagorinsky,
    FieldClosure,
    Leith,
    NoClosure,
    Smagorinsky,
    agent_states,
    lattice_to_field,
    log_enstrophy_spectrum,
    make_closure,
)
from obliviate.smarl.reference import (
    load_initial_fields,
    load_pdf,
    load_spectrum,
    spectrum_log_error,
    spectrum_reward,
)
from obliviate.smarl.solver import (
    CASES,
    Case,
    Solver,
    SolverParams,
    State,
    case,
    energy,
    enstrophy,
    random_vorticity,
    resample,
    spectrum,
    vorticity_pdf,
)

__all__ = [
    "CASES", "CLOSURES", "Case", "Closure", "DynamicSmagorinsky", "FieldClosure", "Leith", "NoClosure",
    "Smagorinsky", "Solver", "SolverParams", "State", "agent_states", "case", "energy", "enstrophy",
    "lattice_to_field", "load_initial_fields", "load_pdf", "load_spectrum", "log_enstrophy_spectrum",
    "make_closure", "random_vorticity", "resample", "spectrum", "spectrum_log_error", "spectrum_reward",
    "vorticity_pdf",
]

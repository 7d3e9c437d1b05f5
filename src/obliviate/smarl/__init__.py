"""SMARL: a batched 2D-turbulence solver, classical closures and the reference data.

Mojgani, Waelchli, Guan, Koumoutsakos, Hassanzadeh, "Extreme Event Prediction with
Multi-agent Reinforcement Learning-based Parametrization of Atmospheric and Oceanic
Turbulence", arXiv 2312.00907. See docs/smarl.md.
"""

from importlib import import_module

# names load lazily (PEP 562), so that ``obliviate.smarl.cli`` can be imported by the main CLI without torch
_EXPORTS = {
    "obliviate.smarl.closures": ("CLOSURES", "Closure", "DynamicSmagorinsky", "FieldClosure", "Leith", "NoClosure",
                                 "Smagorinsky", "agent_states", "lattice_to_field", "log_enstrophy_spectrum",
                                 "make_closure"),
    "obliviate.smarl.reference": ("load_initial_fields", "load_pdf", "load_spectrum", "spectrum_log_error",
                                  "spectrum_reward"),
    "obliviate.smarl.solver": ("CASES", "Case", "Solver", "SolverParams", "State", "case", "energy", "enstrophy",
                               "random_vorticity", "resample", "spectrum", "vorticity_pdf"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'obliviate.smarl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_WHERE))


__all__ = [
    "CASES", "CLOSURES", "Case", "Closure", "DynamicSmagorinsky", "FieldClosure", "Leith", "NoClosure",
    "Smagorinsky", "Solver", "SolverParams", "State", "agent_states", "case", "energy", "enstrophy",
    "lattice_to_field", "load_initial_fields", "load_pdf", "load_spectrum", "log_enstrophy_spectrum",
    "make_closure", "random_vorticity", "resample", "spectrum", "spectrum_log_error", "spectrum_reward",
    "vorticity_pdf",
]

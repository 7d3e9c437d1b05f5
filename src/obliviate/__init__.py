"""obliviate: a lab for machine unlearning.

Remove chosen knowledge or data from a trained model, then prove it is gone.
Importing the package is cheap: heavy modules (transformers, peft, matplotlib)
load inside the functions that need them.
"""

from obliviate.core.errors import ObliviateError

__version__ = "0.1.0"
__all__ = ["ObliviateError", "__version__"]

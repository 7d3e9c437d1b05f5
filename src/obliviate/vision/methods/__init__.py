"""Vision unlearning methods, in the ``VISION_METHODS`` registry."""

from obliviate.vision.methods import baselines, cupid  # noqa: F401  (registers)
from obliviate.vision.methods.base import VISION_METHODS, VisionContext, VisionMethod, get_vision_method

__all__ = ["VISION_METHODS", "VisionContext", "VisionMethod", "get_vision_method"]

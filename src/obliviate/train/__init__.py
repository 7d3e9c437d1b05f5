"""The one training loop and its parts: samplers, combiners, checkpoints."""

from obliviate.train.trainer import TrainConfig, Trainer

__all__ = ["TrainConfig", "Trainer"]

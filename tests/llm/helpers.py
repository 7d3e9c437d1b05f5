"""Settings shared by the LLM test modules."""

from obliviate.llm.interp.latents import LensConfig
from obliviate.llm.interp.sae import SAEConfig

# A tiny model's SAE: 96 dims x 4 = 384 latents, 6 active (density 1.6%).
TINY_LENS = LensConfig(sae=SAEConfig(expansion=4, k=6, epochs=30), top_latents=8, max_density=0.05)

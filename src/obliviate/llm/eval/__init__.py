"""Evaluation: one batched scorer, metrics on top of it, suites that aggregate them."""

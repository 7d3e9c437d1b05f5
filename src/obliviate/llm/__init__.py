"""LLM unlearning: data, methods, evaluation."""

"""Pieces that run inside other tools: the LiteLLM custom logger."""

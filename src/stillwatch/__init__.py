"""stillwatch: find distillation campaigns in a model provider's API traffic."""

__version__ = "0.1.0"

"""Placeholder until the demo lands: registers nothing yet."""

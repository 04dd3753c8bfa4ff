"""Baseline methods stillwatch is compared with: each a strong published idea, written here."""

"""Content features, where prompt text exists: skeletons, frames, MinHash signatures,
elicitation and capability classifiers, and the per-account sample they read."""

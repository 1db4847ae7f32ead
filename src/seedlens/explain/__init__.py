"""seedlens.explain."""

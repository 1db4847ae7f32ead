"""seedlens.inference."""

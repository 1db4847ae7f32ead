"""seedlens.io."""

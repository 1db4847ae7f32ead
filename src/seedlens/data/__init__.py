"""seedlens.data."""

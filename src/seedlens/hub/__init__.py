"""seedlens.hub."""

"""seedlens.cli."""

"""seedlens.training."""

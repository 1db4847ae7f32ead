"""seedlens.evaluation."""

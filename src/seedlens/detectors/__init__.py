"""seedlens.detectors."""

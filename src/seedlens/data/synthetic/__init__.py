"""seedlens.data.synthetic."""

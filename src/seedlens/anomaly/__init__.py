"""seedlens.anomaly."""

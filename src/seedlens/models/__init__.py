"""seedlens.models."""

"""seedlens.models.backbones."""

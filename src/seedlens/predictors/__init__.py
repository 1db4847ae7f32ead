"""seedlens.predictors."""

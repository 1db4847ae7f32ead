"""Workflows: the Python form of each CLI command (train, evaluate, explain, demo), composed from the layers below."""

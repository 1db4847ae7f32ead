"""``python -m seedlens`` runs the command-line interface."""

from seedlens.cli.main import main

main()

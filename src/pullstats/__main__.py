"""``python -m pullstats`` runs the command line."""

from pullstats.cli.main import run

run()

"""``python -m pullstats`` runs the command line."""

from pullstats.cli.main import app

app(prog_name="pullstats")

"""``python -m pullstats`` runs the command line."""

from pullstats.entry import main

main()

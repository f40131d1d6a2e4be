"""``python -m pullstats`` runs the command line."""

try:
    from pullstats.entry import main
except KeyboardInterrupt:  # a Ctrl-C while entry itself loads, answered as entry.main answers
    raise SystemExit(130) from None

main()

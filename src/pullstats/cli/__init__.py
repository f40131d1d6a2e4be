"""The ``pullstats`` command line (Typer); long jobs show Rich progress on stderr."""

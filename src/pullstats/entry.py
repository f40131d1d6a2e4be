"""The installed ``pullstats`` script and ``python -m pullstats``: the command line, which a
Ctrl-C ends quietly with exit status 130 even while its modules are still loading (typer
handles one once the command runs; :func:`pullstats.cli.main.run` while its modules load)."""


def main() -> None:
    try:
        from pullstats.cli.main import run
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except RuntimeError as error:
        # Python 3.11 wraps one that comes while a class is made (a dataclass's fields: "Error
        # calling __set_name__ …") in a RuntimeError of its own, caused by it
        if isinstance(error.__cause__, KeyboardInterrupt):
            raise SystemExit(130) from None
        raise
    run()

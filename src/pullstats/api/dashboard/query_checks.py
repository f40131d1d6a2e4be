"""The checks every dashboard page's query string goes through (``/``, ``/exports``): a name
the page does not take, or a value given more than once, is a 400 naming it, never silently
ignored or picked from (a link that says ``year=2020&year=2021`` shows one of them)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence


class BadView(ValueError):
    """A query value the page cannot show (the page answers 400 with the message)."""


def only_known(params: Mapping[str, Sequence[str]], names: Collection[str]) -> None:
    """:class:`BadView` for the first parameter of ``params`` that is not one of ``names``."""
    for name in params:
        if name not in names:
            raise BadView(f"unknown parameter {name!r}")


def one_value(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The value of ``name``, None when it is not given; :class:`BadView` when it is given
    more than once."""
    values = params.get(name, ())
    if len(values) > 1:
        raise BadView(f"{name} given {len(values)} times")
    return values[0] if values else None

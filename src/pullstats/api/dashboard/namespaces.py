"""Which of the viewer's namespaces a page shows: ``?namespace=``, else the first one."""

from __future__ import annotations

from pullstats.api.viewer import Viewer

NOT_YOURS = "No such namespace among yours."


class NotYours(LookupError):
    """A namespace the viewer is not a member of (or that does not exist: the same to them)."""


def chosen_namespace(viewer: Viewer, asked: str | None) -> str | None:
    """The namespace asked for, the viewer's first when none is, None when they have none.

    One the viewer is not a member of raises :class:`NotYours`, which pages answer 404 worded
    as for one that does not exist (the API's rule, docs/api.md): a page never tells whether
    another namespace exists.
    """
    if asked:
        if not viewer.may_read_namespace(asked):
            raise NotYours(asked)
        return asked
    return viewer.namespaces[0] if viewer.namespaces else None

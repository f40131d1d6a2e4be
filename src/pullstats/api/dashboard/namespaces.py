"""Which of the viewer's namespaces a page shows: ``?namespace=``, else the first one."""

from __future__ import annotations

from fastapi import HTTPException

from pullstats.api.viewer import Viewer

NOT_YOURS = "no such namespace among yours"


def chosen_namespace(viewer: Viewer, asked: str | None) -> str | None:
    """The namespace asked for, the viewer's first when none is, None when they have none.

    One the viewer is not a member of is 404, worded as for one that does not exist (the
    API's rule, docs/api.md): a page never tells whether another namespace exists.
    """
    if asked:
        if not viewer.may_read_namespace(asked):
            raise HTTPException(404, detail=NOT_YOURS)
        return asked
    return viewer.namespaces[0] if viewer.namespaces else None

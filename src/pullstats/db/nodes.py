"""The nodes of an installation in the catalog, and the watermark they give together.

A **node** is a data dir whose spool feeds the shared lake: one ``pullstats serve`` (with any
number of workers) and the jobs run on it. Each has a name (``PULLSTATS_NODE_NAME``), a
**watermark** (the arrival time up to which its spool has been compacted, classified and rolled
up: set by its ``process``) and a **last seen** time (its server's heartbeat, its ``process``).

A period may close only when every *live* node's watermark is past it: the lines still in a
node's spool could belong to it. A node not seen for ``PULLSTATS_NODE_TIMEOUT`` is not live and
holds nothing open; should it come back, what it then compacts is late data, and the periods it
touches are exported again, as any late data's are. With no live node at all, nothing can still
arrive, and the furthest watermark any node reached is the installation's: so a single node
closes exactly as the single watermark of earlier versions did, seen or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pullstats.db.models import Node, SpoolProgress
from pullstats.timestamps import utc


class NodeNameTaken(RuntimeError):
    """Another data dir, still live, goes by this node's name."""


class NodeNotForgotten(RuntimeError):
    """A node :func:`forget` leaves in the catalog: none of that name, or a live one."""


#: how times are shown in the nodes' messages
WHEN = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class NodeState:
    name: str
    host: str
    data_dir: str
    watermark: datetime | None
    last_seen: datetime
    #: seen within the node timeout: its watermark holds periods open
    live: bool


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def seen(
    session: Session,
    name: str,
    host: str,
    data_dir: str,
    now: datetime,
    timeout: timedelta,
    watermark: datetime | None = None,
    name_file: str | None = None,
) -> None:
    """Record that node ``name`` (this host and data dir) is alive at ``now``, with its new
    ``watermark`` if given. A name another data dir used within ``timeout`` is refused: two data
    dirs under one name would pass off one spool's progress as the other's. ``name_file``: the
    file the name was read from, when no setting gave it."""
    row = session.get(Node, name, with_for_update=True)
    if row is None:
        session.add(
            Node(name=name, host=host, data_dir=data_dir, watermark=watermark, last_seen=now)
        )
        return
    if (row.host, row.data_dir) != (host, data_dir) and now - utc(row.last_seen) < timeout:
        other = (
            f"the name of another node ({row.data_dir} on {row.host}, seen "
            f"{utc(row.last_seen):{WHEN}})"
        )
        if name_file is None:
            raise NodeNameTaken(
                f"PULLSTATS_NODE_NAME={name} is {other}: give each data dir a name of its own, "
                "or leave the setting unset"
            )
        raise NodeNameTaken(  # a copied data dir kept the name its original made
            f"this data dir's node name {name} (kept in {name_file}) is {other}: if this data "
            "dir is a copy, delete that file here (a new name is made), or set "
            "PULLSTATS_NODE_NAME"
        )
    row.host, row.data_dir = host, data_dir
    row.last_seen = max(now, utc(row.last_seen))
    if watermark is not None:
        row.watermark = max(watermark, _aware(row.watermark) or watermark)


def _state(row: Node, now: datetime, timeout: timedelta) -> NodeState:
    last_seen = utc(row.last_seen)
    live = now - last_seen < timeout
    return NodeState(row.name, row.host, row.data_dir, _aware(row.watermark), last_seen, live)


def node_states(session: Session, now: datetime, timeout: timedelta) -> list[NodeState]:
    """Every node the catalog knows, by name, with whether it is live at ``now``."""
    return [_state(row, now, timeout) for row in session.scalars(select(Node).order_by(Node.name))]


def forget(session: Session, name: str, now: datetime, timeout: timedelta) -> NodeState:
    """Delete node ``name`` and its spool's progress from the catalog: a node that left for
    good, which ``status``, ``export``'s log and ``/metrics`` named as timed out for ever. What
    it was. Refused (:class:`NodeNotForgotten`) for a node still live at ``now``: its next
    heartbeat would record it again, and its watermark holds periods open. A node that comes
    back after all is recorded again by its next heartbeat, and its next ``process`` reads its
    whole spool again (the duplicates are dropped)."""
    row = session.get(Node, name, with_for_update=True) if name else None
    if row is None:
        raise NodeNotForgotten(
            f"no node named {name!r} in the catalog (`pullstats nodes list` shows them)"
        )
    state = _state(row, now, timeout)
    if state.live:
        raise NodeNotForgotten(
            f"node {name} is live: last seen {state.last_seen:{WHEN}} ({state.data_dir} on "
            f"{state.host}), within PULLSTATS_NODE_TIMEOUT, and its server's next heartbeat or "
            "its next process would record it again. Stop its server and its jobs; it can be "
            f"forgotten from {state.last_seen + timeout:{WHEN}}"
        )
    session.delete(row)
    session.execute(delete(SpoolProgress).where(SpoolProgress.node == name))
    return state


def closing_watermark(states: list[NodeState]) -> datetime | None:
    """How far every node that can still hold a period open has processed its spool.

    The least watermark of the live nodes (None while one of them has never processed);
    with no live node, the greatest watermark any node reached (None if none ever did).
    """
    live = [state.watermark for state in states if state.live]
    if live:
        return None if None in live else min(mark for mark in live if mark is not None)
    reached = [state.watermark for state in states if state.watermark is not None]
    return max(reached) if reached else None

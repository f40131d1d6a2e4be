"""``pullstats nodes``: the installation's nodes as the catalog records them, and forgetting one
that left for good (db/nodes.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from pullstats.cli.common import fail, opened, out
from pullstats.cli.tables import table
from pullstats.config import Settings
from pullstats.db.nodes import WHEN, NodeNotForgotten, forget, node_states

nodes_app = typer.Typer(
    help="The installation's nodes: the data dirs whose spools feed the shared lake.",
    no_args_is_help=True,
)


@nodes_app.command("list")
def nodes_list() -> None:
    """List the nodes: name, host, data dir, how far each has processed, when it was last
    seen, and whether it is live (holds periods open) or timed out."""
    settings = Settings()
    with opened(settings, create=False) as runtime, runtime.sessions() as session:
        nodes = node_states(session, datetime.now(UTC), settings.node_timeout)
    rows = [
        [
            node.name,
            node.host,
            node.data_dir,
            f"{node.watermark:{WHEN}}" if node.watermark else "never",
            f"{node.last_seen:{WHEN}}",
            "live" if node.live else "timed-out",
        ]
        for node in nodes
        if node.name  # the unnamed watermark of a catalog from before nodes: `status` shows it
    ]
    table(["NAME", "HOST", "DATA DIR", "PROCESSED UP TO", "LAST SEEN", "STATE"], rows)


@nodes_app.command("forget")
def nodes_forget(
    name: str = typer.Argument(..., metavar="NODE", help="The node's name (nodes list)."),
) -> None:
    """Remove a node that left for good from the catalog, once it has timed out: status,
    export's log and /metrics stop naming it. Should it come back, it is recorded again, and
    its next process reads its whole spool again (the duplicates are dropped)."""
    settings = Settings()
    with opened(settings, create=False) as runtime:
        try:
            with runtime.sessions.begin() as session:
                node = forget(session, name, datetime.now(UTC), settings.node_timeout)
        except NodeNotForgotten as error:
            raise fail(str(error)) from None
    processed = f"{node.watermark:{WHEN}}" if node.watermark else "never"
    out.print(
        f"node {name} forgotten ({node.data_dir} on {node.host}, processed up to {processed}, "
        f"last seen {node.last_seen:{WHEN}})"
    )

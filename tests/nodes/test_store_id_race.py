"""Nodes starting together on a new installation record one lake id and one exports id: each
read the catalog's none, each records its own, and all of them end up with the first one's,
which the catalog holds (never a later node's written over it: the catalog's id and the store's
would be apart, and every node refused on every run)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, delete, event

from pullstats.config import Settings
from pullstats.db.engine import make_engine, make_sessions
from pullstats.db.migrate import ensure_schema
from pullstats.db.models import PipelineState, RollupPeriod
from pullstats.db.state import add_value, get_value
from pullstats.exports_identity import EXPORTS, ExportsDescription
from pullstats.lake_identity import LAKE
from pullstats.lake_meta import Description, LakeVersionError
from pullstats.runtime import Runtime
from pullstats.store_identity import Described, StoreKind, installation_store

NODES = 8
ROUNDS = 5


class MeetingDescription:
    """A store's real description whose first :meth:`is_new` (asked once the node has found
    no id in the catalog, before it records one) waits until every node has got there: every
    node has read the catalog's none before any records one, the race at its closest."""

    def __init__(self, real: Described, meeting: threading.Barrier) -> None:
        self.real = real
        self.meeting = meeting
        self.met = False

    @property
    def path(self) -> str:
        return self.real.path

    def store_id(self) -> str | None:
        return self.real.store_id()

    def is_new(self) -> bool:
        if not self.met:
            self.met = True
            self.meeting.wait(120)
        return self.real.is_new()


def _race(settings: Settings, kind: StoreKind, describe: Callable[[], Described]) -> list[str]:
    """What each of :data:`NODES` nodes, each with its own engine, takes for the id of
    ``kind``; none is recorded when they start."""
    meeting = threading.Barrier(NODES)
    ids: list[str | None] = [None] * NODES
    failures: list[BaseException] = []

    def node(number: int) -> None:
        engine = make_engine(settings.database_url_value)
        try:
            store = MeetingDescription(describe(), meeting)
            ids[number] = installation_store(
                kind, store, make_sessions(engine), create=True, setting=None
            )
        except BaseException as error:
            failures.append(error)
            meeting.abort()
        finally:
            engine.dispose()

    threads = [threading.Thread(target=node, args=(number,)) for number in range(NODES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert failures == []
    assert all(found is not None for found in ids)
    return [found for found in ids if found is not None]


@pytest.mark.parametrize("which", ["lake", "exports"])
def test_nodes_racing_to_record_an_id_all_take_the_one_the_catalog_holds(
    node_settings: Callable[..., Settings], which: str
) -> None:
    settings = node_settings("node-a")
    engine = make_engine(settings.database_url_value)
    try:
        ensure_schema(engine)
        sessions = make_sessions(engine)
        kind = LAKE if which == "lake" else EXPORTS

        def describe() -> Described:
            if which == "lake":
                return Description(settings.lake)
            return ExportsDescription(settings.exports_store)

        for _ in range(ROUNDS):
            with sessions.begin() as session:  # a new installation: no id recorded
                session.execute(delete(PipelineState).where(PipelineState.key == kind.key))
            ids = _race(settings, kind, describe)
            with sessions() as session:
                recorded = get_value(session, kind.key)
            assert recorded is not None
            assert ids == [recorded] * NODES
            assert describe().is_new()  # the store is left for the caller to mark
    finally:
        engine.dispose()


def test_nodes_opening_a_new_installation_together_agree_with_the_lake(
    node_settings: Callable[..., Settings],
) -> None:
    """Whole opens, every node having read the catalog's none before any records an id, and
    each recording one after the one before it did: a node may be refused once (the id
    recorded by another, which has not marked the lake yet); run again, it opens, and the
    lake's id is the catalog's."""
    names = [f"node-{number}" for number in range(6)]
    first = node_settings(names[0])
    engine = make_engine(first.database_url_value)
    ensure_schema(engine)  # `pullstats db upgrade`, once before the nodes start
    engine.dispose()
    read_none = threading.Barrier(len(names))
    turn = threading.Condition()
    next_up = [0]
    local = threading.local()
    overwritten: list[str] = []  # the catalog's id written over (never)

    def one_at_a_time(conn, cursor, statement, parameters, *args: object) -> None:  # type: ignore[no-untyped-def]
        """Each node's first read of the catalog's lake id (none yet) waits for every node's;
        then they go on one at a time, each once the one before has read the id back after
        recording one: the later ones find it recorded when they write theirs."""
        if LAKE.key not in str(parameters):
            return
        if statement.startswith("UPDATE pipeline_state"):
            overwritten.append(str(parameters))
        if not statement.startswith("SELECT pipeline_state.value"):
            return
        reads = getattr(local, "reads", 0) + 1
        local.reads = reads
        if reads == 1:
            local.number = read_none.wait(120)
            with turn:
                assert turn.wait_for(lambda: next_up[0] == local.number, 120)
        elif reads == 2:
            with turn:
                next_up[0] += 1
                turn.notify_all()

    opened: list[Runtime] = []
    refused: list[str] = []
    failures: list[BaseException] = []

    def open_node(name: str) -> None:
        try:
            opened.append(Runtime.open(node_settings(name)))
        except Exception as error:  # refused once: "not the installation's lake …"
            if "not the installation's" not in str(error):
                failures.append(error)
                read_none.abort()
            refused.append(name)
            with turn:  # the next node's turn, should this one have stopped before its read
                next_up[0] = max(next_up[0], getattr(local, "number", -1) + 1)
                turn.notify_all()

    # every engine's: each node's is made inside Runtime.open
    event.listen(Engine, "after_cursor_execute", one_at_a_time)
    try:
        threads = [threading.Thread(target=open_node, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
    finally:
        event.remove(Engine, "after_cursor_execute", one_at_a_time)
    try:
        assert failures == []
        assert overwritten == []
        assert opened, "no node opened"
        for name in names:  # every node opens again; those refused once start now
            opened.append(Runtime.open(node_settings(name)))
        with opened[0].sessions() as session:
            lake_id = get_value(session, LAKE.key)
            exports_id = get_value(session, EXPORTS.key)
        assert lake_id is not None and exports_id is not None
        assert Description(first.lake).lake_id() == lake_id
        assert ExportsDescription(first.exports_store).store_id() == exports_id
    finally:
        for runtime in opened:
            runtime.close()


def test_an_empty_place_on_a_new_installation_is_refused_with_run_again(
    node_settings: Callable[..., Settings],
) -> None:
    """A node that reads the id another node has just recorded, before that node marks the
    store with it, meets an empty place: refused once (see the test above). The refusal named
    only the setting, as if it were wrong; on an installation that holds nothing of the store
    yet it also says to run again. With history, an empty place is a wrong setting, and only
    that is said."""
    settings = node_settings("node-b")
    engine = make_engine(settings.database_url_value)
    try:
        ensure_schema(engine)
        sessions = make_sessions(engine)
        with sessions.begin() as session:  # node-a recorded its id, and marks the lake next
            add_value(session, LAKE.key, "a" * 32)
        again = "On a new installation whose nodes start together, run this again"

        def refusal() -> str:
            with pytest.raises(LakeVersionError) as refused:
                installation_store(
                    LAKE, Description(settings.lake), sessions, create=True, setting=None
                )
            return str(refused.value)

        said = refusal()
        assert "there is no lake there (a new, empty place)" in said
        assert said.endswith(
            f"{again}: the node that recorded the id marks its lake a moment later"
        )
        with sessions.begin() as session:  # a catalog with periods processed from its lake
            session.add(
                RollupPeriod(
                    period_kind="week",
                    period_start=date(2026, 11, 30),
                    generation=1,
                    updated_at=datetime.now(UTC),
                )
            )
        said = refusal()
        assert "there is no lake there (a new, empty place)" in said and again not in said
    finally:
        engine.dispose()

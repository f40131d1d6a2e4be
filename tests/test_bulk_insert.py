"""``db.bulk.insert_columns``: rows written straight to the driver (PostgreSQL ``COPY``, SQLite
``executemany``) read back through the ORM exactly as given, on the suite's catalog: text that
``COPY``'s own format would take for a separator, an escape or a NULL, dates, large integers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from pullstats.db.bulk import insert_columns
from pullstats.db.models import TrendRollup
from pullstats.runtime import Runtime
from tests.conftest import catalog_settings

COLUMNS = (
    "period_kind", "period_start", "grouped_by", "namespace", "repository", "tag", "country",
    "cloud", "tool", "category", "use_case", "categories", "data_downloads", "version_checks",
    "unique_authenticated_users", "unique_unauthenticated_users",
)  # fmt: skip

ODD = ("tab\there", "new\nline", "back\\slash", "\\N", "quote'\"", "ünïcode ✓", "", "a,b;c|d")


def test_rows_read_back_as_given(tmp_path: Path) -> None:
    rows = [
        ("month", date(2026, 1, 1), "repo,tag", "acme", "web", text, "DE", "aws", "docker",
         "engine", "CI/CD", n + 1, 2**40 + n, n, 0, 2**31 + n)
        for n, text in enumerate(ODD)
    ]  # fmt: skip
    rows.append(("week", date(2025, 12, 29), "", "acme", "", "", "ZZ", "", "", "", "", 128, 0,
                 0, 0, 0))  # fmt: skip
    runtime = Runtime.open(catalog_settings(tmp_path / "data"))
    try:
        table = TrendRollup.__table__
        monthly = [row for row in rows if row[0] == "month"]
        with runtime.sessions.begin() as session:
            # the month's rows with their period fixed (given once), the week's given in full
            insert_columns(
                session,
                table,
                {name: [row[i] for row in monthly] for i, name in enumerate(COLUMNS) if i > 1},
                fixed={"period_kind": "month", "period_start": date(2026, 1, 1)},
            )
            insert_columns(session, table, {name: [rows[-1][i]] for i, name in enumerate(COLUMNS)})
            insert_columns(session, table, {name: [] for name in COLUMNS})
            with pytest.raises(ValueError, match="different lengths"):
                insert_columns(session, table, {"grouped_by": ["", ""], "namespace": ["a"]})
        with runtime.sessions() as session:
            stored = session.execute(
                select(*(getattr(TrendRollup, column) for column in COLUMNS))
            ).all()
        assert sorted(tuple(row) for row in stored) == sorted(rows)
        assert {type(row.period_start) for row in stored} == {date}
    finally:
        runtime.close()

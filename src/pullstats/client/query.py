"""SQL over downloaded export files: DuckDB in memory, one view per timespan and kind of file.

The files stay where ``sync`` put them (``root/NS/YEAR/months|weeks/NN/VIEW/partNNN.csv.gz``,
:func:`pullstats.client.files.local_path`); each view reads all the parts of its timespan and
dataview, of every namespace and period under the root, as one table:

- ``months_raw``, ``months_summary``, ``months_repo_summary``, ``months_namespace_summary``,
  ``months_summary_report``, ``months_trends_report`` and ``months_co_usage_report`` (the
  Summary, Trends and co-usage reports, when they were downloaded), and the same with
  ``weeks_``: only those with files;
- when the root holds one timespan only, also the bare ``raw``, ``summary``, ``repo_summary``,
  ``namespace_summary``, ``summary_report``, ``trends_report`` and ``co_usage_report``.

Every column is text as written (a tag ``1.0`` stays ``1.0``, times stay ``…Z`` strings),
except the count columns of the summaries (``unique_ip_count``, ``pull_by_tag``,
``pull_by_digest``, ``version_check``) and of the reports (``DATA_DOWNLOADS``,
``VERSION_CHECKS``, ``EVENT_COUNT``, ``PULLS``, the user counts, ``USERS`` and
``TOTAL_PULLERS``), which are BIGINT so they can be summed. Files of other headers (Docker
Hub's own) join by column name. DuckDB is imported here only, so importing
:mod:`pullstats.client` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from pullstats.client.errors import QueryError
from pullstats.dvp_columns import COUNT_COLUMNS
from pullstats.exports.reports import REPORT_COUNT_COLUMNS, ReportFile
from pullstats.exports.views import Dataview
from pullstats.rollups.series_query import Timespan
from pullstats.sql_literals import sql_list


def view_files(root: Path) -> dict[str, list[Path]]:
    """Each view name with the files it reads, for the timespans and kinds present."""
    found: dict[str, list[Path]] = {}
    for kind in Timespan:
        for view in (*Dataview, *ReportFile):
            files = sorted(root.glob(f"*/*/{kind.value}/*/{view.value}/part*.csv.gz"))
            if files:
                found[f"{kind.value}_{view.value.replace('-', '_')}"] = files
    return found


def connect(root: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the views of ``root``'s files; ``QueryError`` if none."""
    files = view_files(root)
    if not files:
        raise QueryError(f"no export files under {root}: download some first (sync)")
    connection = duckdb.connect(":memory:")
    try:
        for name, paths in files.items():
            source = (
                f"read_csv({sql_list(paths)}, compression = 'gzip', header = true, "
                "union_by_name = true, all_varchar = true)"
            )
            described = connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
            columns = ", ".join(_typed(str(row[0])) for row in described)
            connection.execute(f"CREATE VIEW {name} AS SELECT {columns} FROM {source}")
        kinds = {name.split("_", 1)[0] for name in files}
        if len(kinds) == 1:
            for name in files:
                connection.execute(f"CREATE VIEW {name.split('_', 1)[1]} AS SELECT * FROM {name}")
    except duckdb.Error as exc:
        connection.close()
        raise QueryError(f"cannot read the files under {root}: {_one_line(exc)}") from exc
    return connection


def query(root: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` over the views of ``root``'s files: the column names and the rows.

    A statement DuckDB refuses (bad SQL, an unknown view or column) is ``QueryError`` with
    DuckDB's first line, and so is SQL with no statement. The SQL is the caller's own, run on
    their machine with their permissions, as the ``duckdb`` command runs it: it can read, and
    write (``COPY … TO``), any file they can.
    """
    if not sql.strip().strip(";").strip():
        raise QueryError("no SQL statement to run")
    connection = connect(root)
    try:
        cursor = connection.execute(sql)
        if cursor is None or cursor.description is None:  # no rows (SET, CREATE …; a comment)
            return [], []
        columns = [str(column[0]) for column in cursor.description]
        return columns, cursor.fetchall()
    except duckdb.Error as exc:
        raise QueryError(_one_line(exc)) from exc
    finally:
        connection.close()


def _typed(column: str) -> str:
    quoted = '"' + column.replace('"', '""') + '"'
    if column in COUNT_COLUMNS or column in REPORT_COUNT_COLUMNS:
        return f"CAST({quoted} AS BIGINT) AS {quoted}"
    return quoted


def _one_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__

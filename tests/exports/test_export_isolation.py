"""One namespace that cannot be exported never stops the others: `pullstats export` writes the
rest, names the one that failed and exits non-zero at the end.

The bad state is made directly, as an older version could leave it: a namespace row whose
240-character name no command accepts any more, inserted with plain SQL, and requests for it in
the lake (``process`` sets such a record aside now, so they are written under another name and
renamed in the lake's Parquet files). Its export file names would pass the filesystem's 255
bytes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import duckdb
from sqlalchemy import insert

from pullstats.accounts import service
from pullstats.db.models import Namespace
from pullstats.exports.closing import export_closed
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from tests.conftest import run_cli
from tests.exports.test_closing import WEEK, add_requests, at, files, pull, read_csv

LONG = "a" * 240  # sorts before "acme": the failure comes first


def rename_namespace_in_the_lake(runtime: Runtime, old: str, new: str) -> None:
    """Rename ``old`` to ``new`` in the lake's requests, then reclassify and roll up again."""
    parts = sorted(runtime.paths.root.glob("lake/requests/day=*/part-*.parquet"))
    with duckdb.connect() as connection:
        for part in parts:
            renamed = part.with_suffix(".renamed")
            connection.execute(
                f"""
                COPY (
                    SELECT * REPLACE (
                        CASE WHEN namespace = '{old}' THEN '{new}' ELSE namespace END AS namespace
                    )
                    FROM read_parquet('{part}')
                ) TO '{renamed}' (FORMAT parquet)
                """
            )
            os.replace(renamed, part)
    process(runtime, rebuild_from=WEEK.start, rebuild_to=WEEK.end)


def test_a_namespace_that_fails_to_export_does_not_stop_the_others(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        service.create_namespace(session, "acme")
        service.create_namespace(session, "zeta")
        session.execute(insert(Namespace).values(name=LONG, created_at=datetime.now(UTC)))
    add_requests(
        runtime,
        pull("1", at(WEEK.start, 60), "acme/api", "1.0", "192.0.2.1"),
        pull("2", at(WEEK.start, 60), "renamed/app", "1.0", "192.0.2.2"),
        pull("3", at(WEEK.start, 60), "zeta/web", "1.0", "192.0.2.3"),
    )
    rename_namespace_in_the_lake(runtime, "renamed", LONG)

    result = run_cli(runtime.paths.root, "export", "--through", "2026-01-12")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "exported 2 namespace periods" in result.stdout
    assert "; 1 failed" in result.stdout
    failures = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(failures) == 1
    assert failures[0].startswith(f"error: export of namespace {LONG} for 2026-W02 failed: ")
    assert "File name too long" in failures[0]
    assert "is longer than 64 characters" in failures[0]
    assert (
        set(files(runtime, "acme", WEEK))
        == set(files(runtime, "zeta", WEEK))
        == {
            "raw",
            "summary",
            "repo-summary",
            "namespace-summary",
            "summary-report",
            "trends-report",
            "co-usage-report",
        }
    )
    assert files(runtime, LONG, WEEK) == {}
    # nothing of the failed attempt is left behind
    assert list((runtime.paths.exports / LONG).rglob("*.csv.gz")) == []


def test_a_grant_added_or_removed_rewrites_or_withdraws_the_namespaces_exports(
    runtime: Runtime,
) -> None:
    """An extra repo is exported with its grantee's files: adding one rewrites the periods the
    grantee exported already, and removing it rewrites them without its rows, or, when nothing
    of the grantee's is left in a period, withdraws the period's files, which would otherwise
    keep serving the repository's rows to the grantee's members."""
    after = end_of_day(WEEK.end + timedelta(days=1))
    with runtime.sessions.begin() as session:
        for name in ("acme", "beta", "gamma"):
            service.create_namespace(session, name)
    add_requests(
        runtime,
        pull("1", at(WEEK.start, 60), "acme/api", "1.0", "192.0.2.1"),
        pull("2", at(WEEK.start, 60), "beta/web", "1.0", "192.0.2.2"),
    )
    first = export_closed(runtime, now=after)
    assert {(t.namespace, t.period.label) for t in first.exported} >= {
        ("acme", "2026-W02"), ("beta", "2026-W02")
    }  # fmt: skip
    assert files(runtime, "gamma", WEEK) == {}  # nothing of gamma's yet
    with runtime.sessions.begin() as session:
        service.add_extra_repo(session, "beta", "acme/api")
        service.add_extra_repo(session, "gamma", "acme/api")
    granted = export_closed(runtime, now=after)
    assert {("beta", "2026-W02"), ("gamma", "2026-W02")} <= {
        (t.namespace, t.period.label) for t in granted.exported
    }
    assert "acme" in {row[1] for row in read_csv(runtime, files(runtime, "beta", WEEK)["raw"])}
    gamma = files(runtime, "gamma", WEEK)
    gamma_folder = (runtime.paths.exports / gamma["raw"].path).parent
    assert gamma_folder.is_dir()
    with runtime.sessions.begin() as session:
        service.remove_extra_repo(session, "beta", "acme/api")
        service.remove_extra_repo(session, "gamma", "acme/api")
    removed = export_closed(runtime, now=after)
    assert ("beta", "2026-W02") in {(t.namespace, t.period.label) for t in removed.exported}
    assert "acme" not in {row[1] for row in read_csv(runtime, files(runtime, "beta", WEEK)["raw"])}
    assert ("gamma", "2026-W02") in {(t.namespace, t.period.label) for t in removed.withdrawn}
    assert files(runtime, "gamma", WEEK) == {} and not gamma_folder.exists()
    assert export_closed(runtime, now=after).withdrawn == []  # once

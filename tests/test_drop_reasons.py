"""One vocabulary of drop reasons (src/pullstats/drop_reasons.py), held to the code and docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from pullstats.drop_reasons import (
    ACCESS_LOG_ERRORS,
    ACCESS_LOG_IGNORED,
    DOCKERHUB_RAW,
    DOCKERHUB_SUMMARY,
    MEANING,
    NOTIFICATION_IGNORED,
    NOTIFICATION_REJECTED,
    PATHS,
    SET_ASIDE,
    DropReason,
)
from pullstats.ingest import steps as ingest_steps
from pullstats.ingest.errors import TimestampOutOfRange, UnparseableRequest
from pullstats.ingest.notifications import parse_event
from pullstats.ingest.record_rules import INVALID_RECORD, record_problem_sql
from pullstats.ingest.time_window import OUT_OF_WINDOW
from pullstats.lake.set_aside import DAMAGED_LINE
from pullstats.steps import Step
from pullstats.timestamps import now_micros

DOCS = Path(__file__).resolve().parent.parent / "docs"


def reasons_table() -> str:
    """The table docs/data-definitions.md must hold: every reason, its meaning, its paths."""
    rows = ["| reason | meaning | given by |", "|---|---|---|"]
    for reason in DropReason:
        paths = ", ".join(path for path, reasons in PATHS.items() if reason in reasons)
        rows.append(f"| `{reason}` | {MEANING[reason]} | {paths} |")
    return "\n".join(rows) + "\n"


def test_every_reason_has_a_meaning_and_a_path() -> None:
    assert set(MEANING) == set(DropReason)
    given = {reason for reasons in PATHS.values() for reason in reasons}
    assert given == set(DropReason)
    for path, reasons in PATHS.items():
        assert len(set(reasons)) == len(reasons), path


def test_the_docs_list_every_reason() -> None:
    text = (DOCS / "data-definitions.md").read_text()
    assert reasons_table() in text, "docs/data-definitions.md should hold:\n" + reasons_table()


def _event(action: str = "pull", url: str = "/v2/acme/api/manifests/1.0", method: str = "GET"):
    return {
        "id": "e1",
        "action": action,
        "timestamp": "2026-01-05T10:00:00Z",
        "target": {"repository": "acme/api", "tag": "1.0", "url": url},
        "request": {"method": method, "addr": "192.0.2.1"},
    }


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (_event("push"), DropReason.PUSH),
        (_event("delete"), DropReason.DELETE),
        (_event("mount"), DropReason.MOUNT),
        (_event("tag"), DropReason.OTHER_ACTION),
        (_event(url="/v2/acme/api/blobs/sha256:" + "a" * 64), DropReason.BLOB_REQUEST),
        (_event(method="OPTIONS"), DropReason.METHOD),
    ],
)
def test_notifications_ignore_under_their_reasons(event: object, reason: DropReason) -> None:
    assert reason in NOTIFICATION_IGNORED
    assert parse_event(event, now_micros()) is reason


def test_notifications_reject_under_their_reasons() -> None:
    assert {UnparseableRequest.reason, TimestampOutOfRange.reason} == set(NOTIFICATION_REJECTED)
    with pytest.raises(TimestampOutOfRange):
        parse_event({**_event(), "timestamp": "1999-12-31T23:59:59Z"}, now_micros())


def test_process_sets_aside_under_its_reasons() -> None:
    assert {OUT_OF_WINDOW, INVALID_RECORD, DAMAGED_LINE} == set(SET_ASIDE)
    # the record rules' expression gives no other reason
    given = set(re.findall(r"THEN '([a-z_0-9]+)'", record_problem_sql()))
    assert given == {OUT_OF_WINDOW, INVALID_RECORD}


def _reasons_given(sql: str, column: str) -> set[str]:
    """The text literals a step's ``column`` (a CASE) can take."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    given = set()
    for alias in tree.find_all(exp.Alias):
        if alias.alias != column:
            continue
        for case in alias.find_all(exp.Case):
            branches = [branch.args["true"] for branch in case.args["ifs"]]
            for value in [*branches, case.args.get("default")]:
                if isinstance(value, exp.Literal) and value.is_string:
                    given.add(value.this)
    return given


@pytest.mark.parametrize(
    ("step", "column", "reasons"),
    [
        (ingest_steps.LOG_LINES, "reason", ACCESS_LOG_IGNORED + ACCESS_LOG_ERRORS),
        (ingest_steps.DOCKERHUB_RAW, "problem", DOCKERHUB_RAW),
        (ingest_steps.DOCKERHUB_SUMMARY, "problem", DOCKERHUB_SUMMARY),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_the_ingest_steps_give_only_their_paths_reasons(
    step: Step, column: str, reasons: tuple[DropReason, ...]
) -> None:
    given: set[str] = set()
    for options in step.variants:
        given |= _reasons_given(step.sql(**options), column)
    # every reason the path declares but malformed_csv (DuckDB's CSV reader finds those)
    assert given == set(reasons) - {DropReason.MALFORMED_CSV}

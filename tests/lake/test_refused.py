"""Notified requests the registry refused are set aside through its own log, and both sources
agree again (lake/refused.py, importers/registry_log.py, docs/data-definitions.md).

Before: a notification counted a request the registry answered 404 as a pull, while an access
log of the same requests skipped it (``non_2xx``). Now ``pullstats ingest registry-log`` reads
the registry's log and ``process`` recounts without them.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pullstats.importers.log_import import LogImportError, import_logs
from pullstats.importers.registry_log import import_registry_log
from pullstats.ingest.notifications import parse_envelope
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.set_aside import set_aside_counts
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import catalog_settings, run_cli, write_spool

DAY = date(2026, 1, 6)
NOON = datetime(2026, 1, 6, 12, tzinfo=UTC)
DIGEST = "sha256:" + "a" * 64
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "registry"


def notified(rid: str, ip: str, when: datetime, method: str = "GET") -> PullRequestRecord:
    return PullRequestRecord(
        f"event-{rid or ip}",
        micros(when),
        method,
        "acme/api",
        "1.0",
        DIGEST,
        ip,
        "curl/7.88.1",
        "notification",
        now_micros(),
        rid,
    )


def entry(
    rid: str, when: datetime, status: int, method: str = "GET", json_form: bool = False
) -> str:
    """A ``response completed`` entry as Distribution writes it, in either formatter."""
    fields = {
        "time": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "level": "info" if status < 400 else "error",
        "msg": "response completed" if status < 400 else "response completed with error",
        "http.request.id": rid,
        "http.request.method": method,
        "http.request.uri": "/v2/acme/api/manifests/1.0",
        "http.response.status": status,
    }
    if json_form:
        return json.dumps(fields) + "\n"
    return " ".join(f'{key}="{value}"' for key, value in fields.items()) + "\n"


def actions(runtime: Runtime, day: date) -> Counter[str]:
    path = runtime.paths.root / "lake" / "actions" / f"day={day}" / "actions.parquet"
    if not path.exists():  # a day without actions has no file
        return Counter()
    return Counter(pq.read_table(path, columns=["action"])["action"].to_pylist())


def lake_ids(runtime: Runtime) -> set[str]:
    parts = (runtime.paths.root / "lake" / "requests").glob("day=*/part-*.parquet")
    return {i for part in parts for i in pq.read_table(part, columns=["id"])["id"].to_pylist()}


@pytest.mark.parametrize("json_form", [False, True])
def test_refused_requests_are_set_aside_and_recounted(
    runtime: Runtime, tmp_path: Path, json_form: bool
) -> None:
    late = datetime(2026, 1, 6, 23, 59, 59, 900_000, tzinfo=UTC)
    write_spool(
        runtime,
        notified("r-served", "192.0.2.1", NOON),  # a pull by tag the registry served
        notified("r-get", "192.0.2.2", NOON),  # a pull by tag it answered 404
        notified("r-head", "192.0.2.3", NOON, "HEAD"),  # a version check it answered 404
        notified("r-late", "192.0.2.4", late),  # answered 404 just after midnight
        notified("", "192.0.2.5", NOON),  # no request id (an older spool): stays counted
    )
    process(runtime)
    # hand count: five clients, one request each; four GETs by tag, one HEAD
    assert actions(runtime, DAY) == Counter(pull_by_tag=4, version_check=1)
    registry_ids = pq.read_table(
        runtime.paths.root / "lake" / "registry-ids" / f"day={DAY}"
    ).to_pylist()
    assert sorted(row["request_id"] for row in registry_ids) == [
        "r-get",
        "r-head",
        "r-late",
        "r-served",
    ]

    log = tmp_path / "registry.log"
    log.write_text(
        "".join(
            [
                entry("r-served", NOON + timedelta(milliseconds=2), 200, json_form=json_form),
                entry("r-get", NOON + timedelta(milliseconds=2), 404, json_form=json_form),
                entry("r-head", NOON, 404, "HEAD", json_form=json_form),
                entry("r-late", late + timedelta(milliseconds=200), 404, json_form=json_form),
                entry("r-unnotified", NOON, 404, json_form=json_form),  # no event for it
            ]
        )
    )
    result = import_registry_log(runtime, [str(log)])
    (source,) = result.sources
    assert (source.lines, source.manifest_responses, source.refused) == (5, 5, 4)
    assert result.set_aside == Counter({404: 3})
    assert result.days == {DAY}
    assert lake_ids(runtime) == {"event-r-served", "event-192.0.2.5"}

    process(runtime)
    assert actions(runtime, DAY) == Counter(pull_by_tag=2)
    assert set_aside_counts(runtime.settings)["refused"] == 3
    (kept,) = (runtime.paths.root / "lake" / "set-aside" / "refused" / "requests").iterdir()
    aside = pq.read_table(kept)
    columns = ("id", "request_id", "status")
    assert sorted(zip(*(aside[c].to_pylist() for c in columns), strict=True)) == [
        ("event-r-get", "r-get", 404),
        ("event-r-head", "r-head", 404),
        ("event-r-late", "r-late", 404),
    ]
    assert pc.all(pc.is_valid(aside["ip_hash"])).as_py()  # the lake's row: hashed, no address

    # the same log again: nothing is left to set aside, nothing changes
    again = import_registry_log(runtime, [str(log)])
    assert again.set_aside == Counter()
    process(runtime)
    assert actions(runtime, DAY) == Counter(pull_by_tag=2)
    assert set_aside_counts(runtime.settings)["refused"] == 3


def test_a_part_of_refused_requests_only_is_removed(runtime: Runtime, tmp_path: Path) -> None:
    write_spool(runtime, notified("r-1", "192.0.2.1", NOON))
    process(runtime)
    log = tmp_path / "registry.log"
    log.write_text(entry("r-1", NOON, 404))
    assert import_registry_log(runtime, [str(log)]).set_aside == Counter({404: 1})
    assert not list((runtime.paths.root / "lake" / "requests").glob("day=*/part-*.parquet"))
    process(runtime)
    assert actions(runtime, DAY) == Counter()


def test_the_real_registry_notifications_and_log_agree_with_its_access_log(
    runtime: Runtime, tmp_path: Path
) -> None:
    """The events a real Distribution 2.8.2 sent for four manifest requests of one client (a
    GET served 200; a GET and a HEAD refused 404 for want of an OCI Accept; a GET of an
    unknown tag refused 404, which it does not notify), and its log of them, which also holds
    its access log of the same requests (the combined lines): counted from the notifications
    with the log's refusals set aside, they make what the access log makes."""
    log = FIXTURES / "distribution-2.8.2-text.log"
    envelopes = json.loads((FIXTURES / "distribution-2.8.2-text-events.json").read_text())
    records = []
    for envelope in envelopes:
        body = json.dumps(envelope).encode()
        media_type = "application/vnd.docker.distribution.events.v1+json"
        records += parse_envelope(body, media_type, now_micros()).records
    assert [(r.method, r.tag) for r in records] == [("GET", "v1"), ("GET", "v1"), ("HEAD", "v1")]
    write_spool(runtime, *records)
    process(runtime)
    day = datetime.fromtimestamp(records[0].ts / 1e6, UTC).date()
    # over-counted: two GETs by tag are two pulls, the HEAD a version check
    assert actions(runtime, day) == Counter(pull_by_tag=2, version_check=1)

    assert import_registry_log(runtime, [str(log)]).set_aside == Counter({404: 2})
    process(runtime)
    assert actions(runtime, day) == Counter(pull_by_tag=1)  # the served GET alone

    # the same requests from the registry's access log, in another installation
    other = Runtime.open(catalog_settings(tmp_path / "from-access-log"))
    try:
        imported = import_logs(other, [str(log)], log_format="combined")
        assert imported.written == 1  # the 200; the 404s are skipped as non_2xx
        process(other)
        assert actions(other, day) == actions(runtime, day)
    finally:
        other.close()


def test_an_unreadable_source_is_refused_before_anything_is_written(runtime: Runtime) -> None:
    with pytest.raises(LogImportError, match="no such file"):
        import_registry_log(runtime, ["/nonexistent/registry.log"])


def test_the_command_reports_and_never_echoes_a_line(data_dir: Path, tmp_path: Path) -> None:
    data_dir.mkdir()  # an installation's data dir: the command makes none
    log = FIXTURES / "distribution-2.8.2-text.log"
    assert "secret-token" in log.read_text(errors="replace")  # the registry logged it
    done = run_cli(data_dir, "ingest", "registry-log", str(log))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{log}: 21 lines read, 4 manifest responses, 3 refused"
    # an empty lake: the refused responses match no notified request
    assert lines[1] == (
        "set aside 0 notified requests the registry refused; 3 refused responses match no "
        "request in the lake (not notified, or set aside before)"
    )
    assert "secret-token" not in done.stdout + done.stderr

    readme = Path(__file__).resolve().parents[2] / "README.md"
    wrong = run_cli(data_dir, "ingest", "registry-log", str(readme))
    assert wrong.returncode == 1
    assert f"{readme}: not a registry log" in " ".join(wrong.stderr.split())
    assert "Traceback" not in wrong.stderr


def test_the_command_refuses_a_data_dir_that_is_not_there(data_dir: Path) -> None:
    """A mistyped PULLSTATS_DATA_DIR used to become a new installation (catalog, keys, lake,
    spool), and the import "succeeded" on its empty lake: set aside 0, exit 0. It only ever
    acts on requests already in the lake, so it refuses as `process` does."""
    done = run_cli(
        data_dir, "ingest", "registry-log", str(FIXTURES / "distribution-2.8.2-text.log")
    )
    assert done.returncode == 1 and done.stdout == ""
    assert " ".join(done.stderr.split()) == (
        f"error: no pullstats data dir at {data_dir}: set PULLSTATS_DATA_DIR to the "
        "installation's data dir, or create one with `pullstats db upgrade`"
    )
    assert not data_dir.exists()

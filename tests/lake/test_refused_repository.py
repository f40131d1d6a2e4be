"""A registry log's refusal sets aside only the notified request of its own repository
(lake/refused.py, importers/registry_log.py, docs/operations.md).

A request id is the registry's: two registries notifying one installation (or a log copied
from another) can repeat one, and a notified request of another repository that carried it was
set aside too. Before: 6 pulls of ``rl/app`` (req-0 … req-5) and 1 of ``rl/other`` (req-0); a
log refusing req-0 … req-2 of ``rl/app`` and req-3 of ``zzz/other`` left app 2 and other 0
("set aside 5"). Now a log line refuses the request of its id in the repository its URI names.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from pullstats.importers.registry_log import import_registry_log
from pullstats.ingest.records import PullRequestRecord
from pullstats.lake.refused import find_refused
from pullstats.pipeline import process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import write_spool

DAY = date(2026, 1, 6)
NOON = datetime(2026, 1, 6, 12, tzinfo=UTC)
DIGEST = "sha256:" + "b" * 64


def notified(event: str, name: str, rid: str) -> PullRequestRecord:
    return PullRequestRecord(
        event,
        micros(NOON),
        "GET",
        name,
        "v1",
        DIGEST,
        "192.0.2.9",
        "curl/7.88.1",
        "notification",
        now_micros(),
        rid,
    )


def refusal(rid: str, uri: str) -> str:
    """A JSON ``response completed with error`` entry of Distribution's log."""
    return (
        json.dumps(
            {
                "time": (NOON + timedelta(milliseconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "level": "error",
                "msg": "response completed with error",
                "http.request.id": rid,
                "http.request.method": "GET",
                "http.request.uri": uri,
                "http.response.status": 404,
            }
        )
        + "\n"
    )


def actions_by_repository(runtime: Runtime) -> Counter[str]:
    path = runtime.paths.root / "lake" / "actions" / f"day={DAY}" / "actions.parquet"
    if not path.exists():
        return Counter()
    table = pq.read_table(path, columns=["namespace", "repository"])
    return Counter(
        f"{ns}/{repo}"
        for ns, repo in zip(
            table["namespace"].to_pylist(), table["repository"].to_pylist(), strict=True
        )
    )


def test_a_refusal_sets_aside_only_its_own_repositorys_request(
    runtime: Runtime, tmp_path: Path
) -> None:
    write_spool(
        runtime,
        *(notified(f"app-{i}", "rl/app", f"req-{i}") for i in range(6)),
        notified("other-0", "rl/other", "req-0"),  # the same request id, another repository
    )
    process(runtime)
    assert actions_by_repository(runtime) == Counter({"rl/app": 6, "rl/other": 1})

    log = tmp_path / "registry.log"
    log.write_text(
        "".join(refusal(f"req-{i}", "/v2/rl/app/manifests/v1") for i in range(3))
        + refusal("req-3", "/v2/zzz/other/manifests/v1")  # req-3 of rl/app was not refused
    )
    result = import_registry_log(runtime, [str(log)])
    assert result.sources[0].refused == 4
    assert result.set_aside == Counter({404: 3})
    process(runtime)
    assert actions_by_repository(runtime) == Counter({"rl/app": 3, "rl/other": 1})


def test_a_name_without_namespace_is_the_library_one(runtime: Runtime, tmp_path: Path) -> None:
    # the lake keeps `app` as library/app, whichever way the notification spelt it
    write_spool(
        runtime,
        notified("short", "app", "req-a"),
        notified("long", "library/app", "req-b"),
        notified("kept", "acme/app", "req-c"),
    )
    process(runtime)
    log = tmp_path / "registry.log"
    log.write_text(
        refusal("req-a", "/v2/library/app/manifests/v1")
        + refusal("req-b", "/v2/app/manifests/v1")
        + refusal("req-c", "/v2/app/manifests/v1")  # library/app, not acme/app
    )
    assert import_registry_log(runtime, [str(log)]).set_aside == Counter({404: 2})
    process(runtime)
    assert actions_by_repository(runtime) == Counter({"acme/app": 1})


def test_a_refusal_without_a_repository_matches_the_request_id_alone(runtime: Runtime) -> None:
    write_spool(
        runtime, notified("app-0", "rl/app", "req-0"), notified("other-0", "rl/other", "req-0")
    )
    process(runtime)
    when = micros(NOON)
    found = find_refused(runtime, {("req-0", None): (when, 404)})
    assert sorted(found.answers) == ["app-0", "other-0"]
    found = find_refused(runtime, {("req-0", "rl/other"): (when, 404)})
    assert found.answers == {"other-0": ("req-0", 404)}

"""The whole path on real files and a real server: ingest → process → export → login → API."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from pullstats.periods import PeriodKind, last_complete_months, period_of
from tests.conftest import Server, run_cli, start_server
from tests.envelopes import ENVELOPE_TYPE, LAYER, envelope, pull_event, push_event

INDEX = "sha256:" + "1" * 64
AMD64 = "sha256:" + "2" * 64
API = "/api/publisher/analytics/v1"


def set_up_accounts(data_dir: Path) -> str:
    """alice reads acme; bob reads globex; returns an ingest token."""
    for args, stdin in [
        (("users", "add", "alice", "--password-stdin"), "alice-secret\n"),
        (("users", "add", "bob", "--password-stdin"), "bob-keeps-his-counsel\n"),
        (("namespaces", "add", "acme"), None),
        (("namespaces", "add", "globex"), None),
        (("members", "add", "acme", "alice", "--role", "member"), None),
        (("members", "add", "globex", "bob", "--role", "owner"), None),
    ]:
        result = run_cli(data_dir, *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
    created = run_cli(data_dir, "ingest-tokens", "create", "registry-1")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("psi_")
    return token


def login(server: Server, user: str, password: str) -> str:
    with server.client() as client:
        response = client.post("/v2/users/login", json={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def test_notification_to_api_and_exports(data_dir: Path, tmp_path: Path) -> None:
    token = set_up_accounts(data_dir)
    today = datetime.now(UTC).date()
    month_start, _ = last_complete_months(today, 1)
    day = month_start + timedelta(days=9)
    noon = datetime.combine(day, time(12), UTC)
    events = [
        # ip A: a multi-arch docker pull by tag = one pull_by_tag
        pull_event(
            noon,
            "acme/api",
            method="HEAD",
            tag="1.0",
            digest=INDEX,
            media_type="application/vnd.docker.distribution.manifest.list.v2+json",
        ),
        pull_event(noon + timedelta(seconds=0.4), "acme/api", digest=INDEX),
        pull_event(noon + timedelta(seconds=0.9), "acme/api", digest=AMD64),
        # ip B: a pull by digest, and the blob it fetched (not a request)
        pull_event(noon, "acme/tools/cli", digest=AMD64, addr="[2001:db8::5]:4431"),
        pull_event(
            noon,
            "acme/tools/cli",
            digest="sha256:" + "9" * 64,
            addr="[2001:db8::5]:4431",
            media_type=LAYER,
            kind="blobs",
        ),
        # ip C: a version check
        pull_event(
            noon, "acme/api", method="HEAD", tag="latest", digest=INDEX, addr="198.51.100.2"
        ),
        # a push, and globex's pull that alice must never see
        push_event(noon, "acme/api"),
        pull_event(noon, "globex/web", tag="2.0", addr="198.51.100.9"),
    ]
    server = start_server(data_dir, tmp_path / "server.log")
    try:
        with server.client() as client:
            answer = client.post(
                "/ingest/v1/registry/events",
                json=envelope(*events),
                headers={"Authorization": f"Bearer {token}", "Content-Type": ENVELOPE_TYPE},
            )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "accepted": 6,
            "ignored": {"blob_request": 1, "push": 1},
            "rejected": [],
        }

        processed = run_cli(data_dir, "process")
        assert processed.returncode == 0, processed.stderr
        assert "6 new requests" in processed.stdout
        exported = run_cli(data_dir, "export", "--through", today.isoformat())
        assert exported.returncode == 0, exported.stderr

        alice = login(server, "alice", "alice-secret")
        with server.client() as client:
            client.headers["Authorization"] = f"Bearer {alice}"
            months = client.get(f"{API}/namespaces/acme/pulls").json()["pulls"]
            weeks = client.get(f"{API}/namespaces/acme/pulls", params={"timespan": "weeks"})
            by_repo = client.get(f"{API}/namespaces/acme/pulls", params={"group": "repo"})
            hidden = client.get(f"{API}/namespaces/globex/pulls")
            missing = client.get(f"{API}/namespaces/nobody/pulls")
    finally:
        server.stop()

    assert len(months) == 12
    assert months[-1]["start"] == f"{month_start.isoformat()}T00:00:00Z"
    assert (months[-1]["pullCount"], months[-1]["ipCount"]) == (2, 3)
    assert all(row["pullCount"] == 0 and row["ipCount"] == 0 for row in months[:-1])
    assert all(row["namespace"] == "acme" and "repo" not in row for row in months)

    week = period_of(PeriodKind.WEEK, day)
    week_rows = [r for r in weeks.json()["pulls"] if r["start"] == week.start_text]
    assert week_rows == [
        {
            "start": week.start_text,
            "end": week.end_text,
            "namespace": "acme",
            "pullCount": 2,
            "ipCount": 3,
        }
    ]
    repo_rows = {
        r["repo"]: (r["pullCount"], r["ipCount"])
        for r in by_repo.json()["pulls"]
        if r["start"] == months[-1]["start"]
    }
    assert repo_rows == {"api": (1, 2), "tools/cli": (1, 1)}
    # another namespace's data is indistinguishable from one that does not exist
    assert hidden.status_code == missing.status_code == 404

    summary = exported_rows(data_dir, "acme", "namespace-summary", week.label)
    assert summary == [
        [
            "period_start",
            "period_end",
            "namespace",
            "unique_ip_count",
            "pull_by_tag",
            "pull_by_digest",
            "version_check",
        ],
        [week.start_text, week.end_text, "acme", "3", "1", "1", "1"],
    ]
    raw = exported_rows(data_dir, "acme", "raw", week.label)
    # raw rows are ordered by timestamp, then namespace, repository, reference
    assert [(row[2], row[3], row[8]) for row in raw[1:]] == [
        ("api", "1.0", "pull_by_tag"),
        ("api", "latest", "version_check"),
        ("tools/cli", AMD64, "pull_by_digest"),
    ]


def exported_rows(data_dir: Path, namespace: str, view: str, label: str) -> list[list[str]]:
    files = list(
        (data_dir / "exports" / namespace / label).glob(
            f"*/{namespace}_{view}_{label}_part001.csv.gz"
        )
    )
    assert len(files) == 1, files
    text = gzip.decompress(files[0].read_bytes()).decode()
    return list(csv.reader(io.StringIO(text)))


def test_login_rejects_bad_credentials(server: Server) -> None:
    assert (
        run_cli(
            server.data_dir,
            "users",
            "add",
            "carol",
            "--password-stdin",
            stdin="carol-sings-in-the-rain\n",
        ).returncode
        == 0
    )
    with server.client() as client:
        wrong = client.post("/v2/users/login", json={"username": "carol", "password": "nope"})
        unknown = client.post("/v2/users/login", json={"username": "nobody", "password": "nope"})
        unauthenticated = client.get(f"{API}/namespaces/acme/pulls")
        garbage = client.get(
            f"{API}/namespaces/acme/pulls", headers={"Authorization": "Bearer x.y.z"}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect authentication credentials"}
    for response in (unauthenticated, garbage):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

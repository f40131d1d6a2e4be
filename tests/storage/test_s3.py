"""The lake and the exports on S3-compatible object storage (``moto_server`` on loopback).

The golden input (tests/exports/golden.py) processed with ``PULLSTATS_LAKE_URL`` and
``PULLSTATS_EXPORTS_URL`` on a bucket gives the same actions, rollups and export bytes as on
local files; downloads are presigned URLs fetched over HTTP; a bad bucket, credentials or
endpoint is one line naming the setting; an interrupted export rerun leaves each file once.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import shutil
import subprocess
import threading
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import delete, select

from pullstats.accounts import service
from pullstats.client import DvpClient, download, local_path, sync
from pullstats.config import Settings
from pullstats.db.models import ExportFile, PullRollup, SpoolProgress
from pullstats.exports.closing import export_closed
from pullstats.exports.signing import sign
from pullstats.ingest.time_window import TimeWindow
from pullstats.key_rings import download_key_ring
from pullstats.lake.retention import prune_lake
from pullstats.lake.set_aside import (
    set_aside_counts,
    set_aside_days,
    set_aside_requests,
    set_aside_root,
)
from pullstats.pipeline import end_of_day, process
from pullstats.rollups.series_query import Timespan
from pullstats.runtime import Runtime
from pullstats.s3_store import S3Store
from pullstats.storage import StorageError
from tests.conftest import (
    catalog_settings,
    cli_env,
    free_port,
    require_e2e_mark,
    run_pullstats_command,
    start_server,
)
from tests.exports.golden import GOLDEN, NAMESPACE, PERIODS, THROUGH, build
from tests.storage.conftest import S3Server, aws_env, start_moto, stop

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]

VIEWS = ("raw", "summary", "repo-summary", "namespace-summary")


def actions_and_rollups(runtime: Runtime) -> tuple[pa.Table, list[tuple[object, ...]]]:
    """Every action of the lake (sorted) and every rollup row of the catalog (sorted)."""
    lake = runtime.settings.lake
    tables = [pq.read_table(io.BytesIO(lake.read_bytes(key))) for key in lake.files("actions")]
    actions = pa.concat_tables(tables).sort_by(
        [(name, "ascending") for name in ("timestamp", "namespace", "repository", "ip_hash")]
    )
    with runtime.sessions() as session:
        rows = sorted(tuple(row) for row in session.execute(select(*PullRollup.__table__.columns)))
    return actions, rows


def on_s3(monkeypatch: pytest.MonkeyPatch, bucket: str) -> None:
    monkeypatch.setenv("PULLSTATS_LAKE_URL", f"s3://{bucket}/lake")
    monkeypatch.setenv("PULLSTATS_EXPORTS_URL", f"s3://{bucket}/exports")


def golden_on_s3(s3_env: S3Server, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The golden input built in ``data_dir`` with its lake and exports in a new bucket (the
    settings left pointing there); the bucket's name."""
    bucket = s3_env.bucket()
    on_s3(monkeypatch, bucket)
    build(data_dir)
    return bucket


def test_the_golden_input_on_s3_gives_the_local_actions_rollups_and_export_bytes(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = build(tmp_path / "local")
    # one ip-hash key for both installations, as nodes share one: the same address, one hash
    shutil.copytree(tmp_path / "local" / "keys", tmp_path / "s3" / "keys")
    bucket = s3_env.bucket()
    on_s3(monkeypatch, bucket)
    remote = build(tmp_path / "s3")
    assert remote == local
    for name, data in remote.items():
        assert data == (GOLDEN / name).read_bytes(), name
    # nothing of the lake or the exports was written into the S3 installation's data dir, nor
    # any folder of theirs made there (an empty lake/requests suggested a local lake in use)
    for folder in ("lake", "exports"):
        assert not (tmp_path / "s3" / folder).exists(), folder
    keys = s3_env.keys(bucket)
    assert "lake/_meta.json" in keys
    assert "lake/actions/day=2026-01-05/actions.parquet" in keys
    assert any(key.startswith("lake/requests/day=2026-01-05/part-") for key in keys)
    assert any(key.startswith("lake/imported/day=2026-01-07/part-") for key in keys)
    assert not any(".tmp" in key for key in keys)

    monkeypatch.delenv("PULLSTATS_LAKE_URL")
    monkeypatch.delenv("PULLSTATS_EXPORTS_URL")
    local_runtime = Runtime.open(catalog_settings(tmp_path / "local"))
    on_s3(monkeypatch, bucket)
    s3_runtime = Runtime.open(catalog_settings(tmp_path / "s3"))
    try:
        local_actions, local_rollups = actions_and_rollups(local_runtime)
        s3_actions, s3_rollups = actions_and_rollups(s3_runtime)
        assert s3_actions.num_rows == local_actions.num_rows == 13
        assert s3_actions.equals(local_actions)
        assert s3_rollups == local_rollups and len(local_rollups) > 0
    finally:
        local_runtime.close()
        s3_runtime.close()


def test_an_export_killed_before_its_catalog_swap_leaves_each_file_once_after_a_rerun(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = golden_on_s3(s3_env, tmp_path / "data", monkeypatch)
    before = s3_env.keys(bucket)
    # what a run killed after publishing its parts, before the catalog named them, leaves
    orphan = f"exports/{NAMESPACE}/2026-W02/0123456789ab/acme_raw_2026-W02_part001.csv.gz"
    s3_env.client().put_object(Bucket=bucket, Key=orphan, Body=b"half")  # type: ignore[attr-defined]
    runtime = Runtime.open(catalog_settings(tmp_path / "data"))
    try:
        # one day rebuilt: its week and month get a new generation and are exported again
        process(runtime, rebuild_from=date(2026, 1, 5), rebuild_to=date(2026, 1, 5))
        result = export_closed(runtime, now=end_of_day(THROUGH))
        assert result.failed == []
        with runtime.sessions() as session:
            named = set(session.scalars(select(ExportFile.path)))
    finally:
        runtime.close()
    after = s3_env.keys(bucket)
    assert orphan not in after
    exported = [key for key in after if key.startswith("exports/")]
    exported.remove("exports/_exports.json")  # the store's description: which store it is
    assert {key.removeprefix("exports/") for key in exported} == named
    # every view of every exported period once: one file name each, as before the rerun
    names = [key.rsplit("/", 1)[1] for key in exported]
    assert sorted(names) == sorted(
        key.rsplit("/", 1)[1]
        for key in before
        if key.startswith("exports/") and key != "exports/_exports.json"
    )
    assert len(names) == len(set(names))
    lake = [key for key in after if key.startswith("lake/")]
    assert lake == [key for key in before if key.startswith("lake/")]


def test_the_store_lists_by_prefix_and_publishes_whole_files(
    s3_env: S3Server, tmp_path: Path
) -> None:
    bucket = s3_env.bucket()
    store = S3Store(f"s3://{bucket}/some/prefix", "PULLSTATS_LAKE_URL")
    store.check()
    for key in (
        "requests/day=2026-01-01/part-a.parquet",
        "requests/day=2026-01-02/part-b.parquet",
        "actions/day=2026-01-01/actions.parquet",
    ):
        staged = tmp_path / "staged"
        staged.write_bytes(key.encode())
        store.publish(staged, key)
        assert not staged.exists()
    assert store.files("requests") == [
        "requests/day=2026-01-01/part-a.parquet",
        "requests/day=2026-01-02/part-b.parquet",
    ]
    assert store.folders("requests") == ["day=2026-01-01", "day=2026-01-02"]
    assert store.files("requests/day=2026-01") == []  # a folder, not a name prefix
    assert (
        store.read_bytes("actions/day=2026-01-01/actions.parquet")
        == b"actions/day=2026-01-01/actions.parquet"
    )
    assert store.delete_folder("requests/day=2026-01-01") == 1
    assert s3_env.keys(bucket) == [
        "some/prefix/actions/day=2026-01-01/actions.parquet",
        "some/prefix/requests/day=2026-01-02/part-b.parquet",
    ]
    with pytest.raises(FileNotFoundError):
        store.read_bytes("nothing/here")


def test_a_missing_bucket_is_one_line_naming_the_setting(
    s3_server: S3Server, tmp_path: Path
) -> None:
    env = {**s3_server.env(), "PULLSTATS_LAKE_URL": "s3://no-such-bucket-here/lake"}
    (tmp_path / "data").mkdir()  # the jobs refuse a data dir that is not there
    result = run_cli_env(tmp_path / "data", env, "process")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "PULLSTATS_LAKE_URL=s3://no-such-bucket-here/lake" in line
    assert "does not exist" in line
    assert not (tmp_path / "data" / "lake" / "_meta.json").exists()


def test_a_link_lifetime_s3_cannot_give_is_refused_at_start(
    s3_server: S3Server, tmp_path: Path
) -> None:
    """Presigned S3 URLs live at most 7 days (SigV4): a longer lifetime made links S3 refuses."""
    bucket = s3_server.bucket()
    env = {
        **s3_server.env(),
        "PULLSTATS_EXPORTS_URL": f"s3://{bucket}/exports",
        "PULLSTATS_DOWNLOAD_LINK_LIFETIME": "P8D",
    }
    (tmp_path / "data").mkdir()  # the jobs refuse a data dir that is not there
    result = run_cli_env(tmp_path / "data", env, "process")
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        "error: PULLSTATS_DOWNLOAD_LINK_LIFETIME='P8D': at most 7 days (P7D) with "
        f"exports on object storage (s3://{bucket}/exports): their download links are "
        "presigned S3 URLs, which live no longer"
    )
    env["PULLSTATS_DOWNLOAD_LINK_LIFETIME"] = "P7D"
    assert run_cli_env(tmp_path / "data", env, "process").returncode == 0


def test_an_unreachable_endpoint_is_one_line_naming_aws_endpoint_url(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**aws_env(endpoint), "PULLSTATS_EXPORTS_URL": "s3://exports-bucket/x"}
    (tmp_path / "data").mkdir()  # the jobs refuse a data dir that is not there
    result = run_cli_env(tmp_path / "data", env, "export")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith(f"error: AWS_ENDPOINT_URL: {endpoint} cannot be reached")
    assert "PULLSTATS_EXPORTS_URL=s3://exports-bucket/x" in line
    # botocore takes AWS_ENDPOINT_URL_S3 before it: the line named the other variable, and
    # the address the requests did not go to
    elsewhere = f"http://127.0.0.1:{free_port()}"
    result = run_cli_env(tmp_path / "data", {**env, "AWS_ENDPOINT_URL_S3": elsewhere}, "export")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith(f"error: AWS_ENDPOINT_URL_S3: {elsewhere} cannot be reached"), line


def test_an_endpoint_without_its_scheme_is_one_line_naming_aws_endpoint_url(
    tmp_path: Path,
) -> None:
    # http:// left out
    env = {**aws_env("127.0.0.1:9000"), "PULLSTATS_LAKE_URL": "s3://lake-bucket/x"}
    (tmp_path / "data").mkdir()  # the jobs refuse a data dir that is not there
    result = run_cli_env(tmp_path / "data", env, "process")
    assert result.returncode == 1
    assert one_line(result.stderr) == (
        "error: AWS_ENDPOINT_URL=127.0.0.1:9000: not a URL of an S3 server for "
        "PULLSTATS_LAKE_URL=s3://lake-bucket/x: give its scheme too (http://host:port or "
        "https://…)"
    )


def test_an_endpoint_that_is_no_s3_server_is_one_line_naming_aws_endpoint_url(
    tmp_path: Path,
) -> None:
    # a web server answering 404 to everything (another service on the port): before, the
    # line was "FileNotFoundError: Not Found", naming no setting
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    try:
        env = {**aws_env(endpoint), "PULLSTATS_EXPORTS_URL": "s3://exports-bucket/x"}
        (tmp_path / "data").mkdir()
        result = run_cli_env(tmp_path / "data", env, "export")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith(
        f"error: PULLSTATS_EXPORTS_URL=s3://exports-bucket/x: AWS_ENDPOINT_URL {endpoint} "
        "answered 404 to a listing of bucket 'exports-bucket': is it an S3 server, and does the "
        "bucket exist there?"
    ), line


def test_refused_credentials_are_one_line_naming_the_aws_keys(tmp_path: Path) -> None:
    # a moto server that checks credentials: none exist, so every key is refused
    process, endpoint = start_moto(tmp_path / "moto.log", {"INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "AKIAWRONGWRONGWRONG1",
            "AWS_SECRET_ACCESS_KEY": "wrong-secret",
            "AWS_REGION": "us-east-1",
            "PULLSTATS_LAKE_URL": "s3://any-bucket/lake",
        }
        (tmp_path / "data").mkdir()  # the jobs refuse a data dir that is not there
        result = run_cli_env(tmp_path / "data", env, "process")
    finally:
        stop(process)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "PULLSTATS_LAKE_URL=s3://any-bucket/lake: the AWS credentials were refused" in line
    assert "wrong-secret" not in line


def test_a_setting_that_is_no_store_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected s3://bucket/prefix"):
        Settings(data_dir=tmp_path, lake_url="gs://bucket/lake")
    with pytest.raises(StorageError, match="no bucket named"):
        S3Store("s3:///lake", "PULLSTATS_LAKE_URL")


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def run_cli_env(
    data_dir: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """``pullstats args`` in a child process, with ``env`` added to its environment."""
    require_e2e_mark("the pullstats command")
    return run_pullstats_command(list(args), cli_env(data_dir, env), None)


def test_the_api_hands_out_presigned_links_that_download_the_golden_files(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    bucket, raw, old_link = golden_with_a_member(s3_env, data_dir, monkeypatch)
    env = {**s3_env.env(), "PULLSTATS_LAKE_URL": f"s3://{bucket}/lake",
           "PULLSTATS_EXPORTS_URL": f"s3://{bucket}/exports"}  # fmt: skip
    server = start_server(data_dir, tmp_path / "server.log", env)
    try:
        with server.client() as client:
            links, redirect = week_links(client, old_link)
        # the client's sync over presigned links: another host, no token, Range for a resume
        root = tmp_path / "mirror"
        with DvpClient(server.url) as hub:
            hub.login("alice", "alice-password")
            mirrored = sync(hub, NAMESPACE, root, timespantypes=[Timespan.WEEKS])
        seen: list[httpx.Response] = []
        raw_file = next(f for f in mirrored.downloaded if f.dataview.value == "raw")
        whole = local_path(root, raw_file).read_bytes()
        (tmp_path / "raw.csv.gz.part").write_bytes(whole[: len(whole) // 2])
        with httpx.Client(event_hooks={"response": [seen.append]}) as http:
            download(http, raw_file, tmp_path / "raw.csv.gz")
    finally:
        server.stop()
    assert mirrored.failed == [] and mirrored.downloaded
    for file in mirrored.downloaded:
        assert file.url.startswith(f"{s3_env.endpoint}/{bucket}/exports/")
        if file.timespan == 2:
            golden = (GOLDEN / f"{NAMESPACE}_{file.dataview.value}_2026-W02.csv").read_bytes()
            assert gzip.decompress(local_path(root, file).read_bytes()) == golden
    assert (tmp_path / "raw.csv.gz").read_bytes() == whole
    assert [r.status_code for r in seen] == [206]
    assert seen[0].request.headers["range"] == f"bytes={len(whole) // 2}-"
    for view, data in links.items():
        assert len(data) == 1 and set(data[0]) == {"url", "size", "sha256"}  # as local
        url = data[0]["url"]
        assert url.startswith(f"{s3_env.endpoint}/{bucket}/exports/{NAMESPACE}/2026-W02/")
        assert "X-Amz-Expires=900" in url  # PULLSTATS_DOWNLOAD_LINK_LIFETIME's default
        body = httpx.get(url)  # from the store, not through our server
        assert body.status_code == 200 and len(body.content) == data[0]["size"]
        assert hashlib.sha256(body.content).hexdigest() == data[0]["sha256"]
        name = url.split("?")[0].rsplit("/", 1)[1]
        assert body.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert "X-Amz-Signature=" in url and "X-Amz-Credential=testing%2F" in url
        golden = (GOLDEN / f"{NAMESPACE}_{view}_2026-W02.csv").read_bytes()
        assert gzip.decompress(body.content) == golden, view
    # a /downloads link of the local kind answers with a fresh presigned URL of its file
    assert redirect.status_code == 307
    assert redirect.headers["cache-control"] == "private, no-store"  # the URL is a credential
    assert "/exports/acme/2026-W02/" in redirect.headers["location"]
    assert redirect.headers["location"].split("?")[0].endswith(raw.file_name)


def golden_with_a_member(
    s3_env: S3Server, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, ExportFile, str]:
    """The golden installation on a new bucket with alice a member of its namespace: the
    bucket, its first week's raw view, and a ``/downloads`` link of it handed out before the
    exports were on S3."""
    bucket = s3_env.bucket()
    on_s3(monkeypatch, bucket)
    build(data_dir)
    runtime = Runtime.open(catalog_settings(data_dir))
    try:
        with runtime.sessions.begin() as session:
            service.create_user(session, "alice", "alice-password")
            service.add_member(session, NAMESPACE, "alice", "member")
        with runtime.sessions() as session:
            raw = session.scalars(
                select(ExportFile).where(
                    ExportFile.view == "raw",
                    ExportFile.period_start == PERIODS[0].start,
                    ExportFile.period_kind == "week",
                    ExportFile.namespace == NAMESPACE,
                )
            ).one()
            return bucket, raw, grant_link(runtime, raw)
    finally:
        runtime.close()


def week_links(
    client: httpx.Client, old_link: str
) -> tuple[dict[str, list[dict[str, Any]]], httpx.Response]:
    """Signed in as alice: the links the API hands out for each view of 2026's second week,
    and the answer to ``old_link`` (a ``/downloads`` link of before the switch to S3)."""
    token = client.post(
        "/v2/users/login", json={"username": "alice", "password": "alice-password"}
    ).json()["token"]
    links = {}
    for view in VIEWS:
        answer = client.get(
            f"/api/publisher/analytics/v1/namespaces/{NAMESPACE}/pulls/exports/years/"
            f"2026/weeks/2/{view}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        links[view] = answer.json()["data"]
    return links, client.get(old_link)


def grant_link(runtime: Runtime, entry: ExportFile) -> str:
    """A ``/downloads`` link as the API hands out with exports on local files."""
    key = download_key_ring(runtime.settings).signing_key()
    grant = sign(key, entry.id, entry.sha256, 600)
    return f"/downloads/{entry.id}/{entry.file_name}?{grant.query()}"


def test_compaction_rerun_after_a_crash_before_its_progress_commit_adds_no_second_copy(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = golden_on_s3(s3_env, tmp_path / "data", monkeypatch)
    runtime = Runtime.open(catalog_settings(tmp_path / "data"))
    try:
        first_keys = s3_env.keys(bucket)
        first, _ = actions_and_rollups(runtime)
        # the state a crash leaves after the day parts were published and before the spool
        # progress was committed: the whole spool is read again by the next run
        with runtime.sessions.begin() as session:
            session.execute(delete(SpoolProgress))
        process(runtime)
        again, _ = actions_and_rollups(runtime)
    finally:
        runtime.close()
    requests = [key for key in s3_env.keys(bucket) if key.startswith("lake/requests/")]
    assert requests == [key for key in first_keys if key.startswith("lake/requests/")]
    assert again.equals(first)


def test_lake_retention_deletes_old_days_on_s3(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_env.bucket()
    on_s3(monkeypatch, bucket)
    monkeypatch.setenv("PULLSTATS_RETENTION_LAKE", "P1M")
    runtime = Runtime.open(catalog_settings(tmp_path / "data"))
    try:
        for key in ("requests/day=2026-01-25/part-a.parquet",
                    "requests/day=2026-01-26/part-b.parquet",
                    "actions/day=2026-01-25/actions.parquet"):  # fmt: skip
            staged = tmp_path / "staged"
            staged.write_bytes(b"x")
            runtime.settings.lake.publish(staged, key)
        # P1M on 2026-03-31: keep 2026-02-28 on, whole periods: delete before Mon 2026-01-26
        assert prune_lake(runtime, date(2026, 3, 31)) == [date(2026, 1, 25)]
    finally:
        runtime.close()
    assert s3_env.keys(bucket) == [
        "exports/_exports.json",
        "lake/_meta.json",
        "lake/requests/day=2026-01-26/part-b.parquet",
    ]


def test_days_outside_the_window_and_bad_records_are_set_aside_in_the_bucket(
    s3_env: S3Server, s3_installation: tuple[Runtime, str], tmp_path: Path
) -> None:
    runtime, bucket = s3_installation
    settings = runtime.settings
    rows = pa.table({"id": ["x1", "x2"], "ts": [1, 2], "recv": [3, 4]})
    staged = tmp_path / "part.parquet"
    pq.write_table(rows, staged)
    settings.lake.publish(staged, "requests/day=2999-01-01/part-a-0.parquet")
    window = TimeWindow.now(settings.max_clock_skew)
    assert set_aside_days(settings, window) == [date(2999, 1, 1)]
    set_aside_requests(settings, rows, "invalid_record")
    counts = set_aside_counts(settings)
    root = set_aside_root(settings)
    assert counts == {"timestamp_out_of_range": 2, "invalid_record": 2}
    assert root == f"s3://{bucket}/lake/set-aside"
    keys = s3_env.keys(bucket)
    assert "lake/set-aside/timestamp_out_of_range/requests/day=2999-01-01/part-a-0.parquet" in keys
    assert not any(key.startswith("lake/requests/") for key in keys)

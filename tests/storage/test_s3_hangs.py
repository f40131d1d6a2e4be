"""A store that stops answering in the middle of a job, behind a loopback proxy in front of
``moto_server`` (tests/storage/s3_proxy.py): the requests it receives are counted, never timed.

DuckDB reads the lake through s3fs (``duckdb_engine._open`` registers the store's filesystem;
its own httpfs is not used), so each of its reads is bounded by ``PULLSTATS_S3_TIMEOUT`` and sent
at most twice, as every other request is. What is checked here is what comes after DuckDB's
error, which holds only the text of s3fs's traceback: the store's own error, with its line
naming the settings, at once (``S3Store.failure_in``), not a check of every file of the read
for damage (lake/damaged_files.py), each fetched twice more; and when the check meets a store
that does not hand a file over, it stops there.

A large file is published as a multipart upload (s3fs: from 100 MiB, in parts of 50 MiB). When
the answer to its completion is lost after the store completed it, botocore sends the
completion again; ``moto_server`` answers that as AWS S3 does, with the completed object (an
idempotent retry), so the publish succeeds. A store that answers it ``NoSuchUpload`` instead
(MinIO does) would fail the publish although the object is whole: not handled, as there is no
such store here to test against (docs/operations.md, "Object storage").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pullstats.lake.damaged_files import set_aside_damaged
from pullstats.runtime import Runtime
from pullstats.s3_store import S3Store
from pullstats.storage import StorageError
from tests.conftest import catalog_settings, run_cli
from tests.storage.conftest import S3Server, aws_env
from tests.storage.s3_proxy import Request, s3_proxy
from tests.storage.test_s3 import golden_on_s3

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]


def _hold_parquet_reads(limit: int | None = None) -> Callable[[str, str], str]:
    """A rule leaving ``GET``s of Parquet files unanswered (the first ``limit`` of them, or
    all); listings, ``HEAD``s and the rest pass."""
    held = 0

    def rule(method: str, path: str) -> str:
        nonlocal held
        parquet = method == "GET" and path.split("?", 1)[0].endswith(".parquet")
        if parquet and (limit is None or held < limit):
            held += 1
            return "hold"
        return "forward"

    return rule


def _held(requests: list[Request]) -> list[str]:
    return [request.path for request in requests if request.action == "hold"]


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _no_answer(lake: str, endpoint: str) -> str:
    return (
        f"PULLSTATS_LAKE_URL={lake}: no answer from AWS_ENDPOINT_URL {endpoint} within "
        "PULLSTATS_S3_TIMEOUT=PT1S (each request is sent at most 2 times): check that S3 "
        "server, or raise PULLSTATS_S3_TIMEOUT if it is only slow (Read timeout on endpoint "
        f'URL: "{endpoint}/'
    )


@pytest.mark.parametrize("limit", [None, 2], ids=["hung", "two-reads-lost"])
def test_a_store_that_hangs_in_the_middle_of_a_read_stops_the_job_with_its_line(
    limit: int | None, s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = golden_on_s3(s3_env, tmp_path / "data", monkeypatch)
    lake = f"s3://{bucket}/lake"
    with s3_proxy(s3_env.endpoint, _hold_parquet_reads(limit)) as proxy:
        env = {
            **aws_env(proxy.endpoint),
            "PULLSTATS_LAKE_URL": lake,
            "PULLSTATS_EXPORTS_URL": f"s3://{bucket}/exports",
            "PULLSTATS_S3_TIMEOUT": "PT1S",
        }
        expected = "error: " + _no_answer(lake, proxy.endpoint)
        rebuild = ("--from", "2026-01-05", "--to", "2026-01-11", "--rebuild")
        processed = run_cli(tmp_path / "data", "process", *rebuild, env=env)
        held = _held(proxy.requests)
        assert processed.returncode == 1
        assert _one_line(processed.stderr).startswith(expected), processed.stderr
        # DuckDB's read of the week's first requests part, sent twice, and nothing more:
        # before, each of the read's 15 files was fetched in turn to check it for damage (32
        # requests), and the line was DuckDB's, holding s3fs's traceback (also when the store
        # answered those fetches: "two-reads-lost")
        [part] = set(held)
        assert part.startswith(f"/{bucket}/lake/requests/day%3D2026-01-05/part-"), part
        assert len(held) == 2, held
        if limit is not None:
            return  # the store answers again: what export does is what it does on a sound one

        proxy.requests.clear()
        exported = run_cli(
            tmp_path / "data", "export", "--through", "2026-02-01", "--rebuild", env=env
        )
        held = _held(proxy.requests)
        assert exported.returncode == 1
        assert _one_line(exported.stderr).startswith(expected), exported.stderr
        # the first file the export reads: the request part of 2026-01-12, a day with requests
        # and no actions file (classified to nothing), which the check for lost actions files
        # reads before any period is written (exports/missing_actions.py); before that check,
        # the first period's first actions file, read by DuckDB. Before either, every file of
        # each of the five periods (70 requests), each period's failure a line of its own
        # ("failed: Traceback (most recent call last):")
        [part] = set(held)
        assert part.startswith(f"/{bucket}/lake/requests/day%3D2026-01-12/part-"), held
        assert len(held) <= 4, held


def test_a_store_that_fails_to_hand_over_a_file_for_the_damage_check_stops_it_there(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's error about damaged data naming no file ("Invalid data") has the read's files
    checked one by one; a store that does not hand over the first stops the check there."""
    bucket = s3_env.bucket()
    keys = [f"lake/requests/day=2026-01-0{day}/part-a-0.parquet" for day in (5, 6, 7)]
    lake = f"s3://{bucket}/lake"
    with s3_proxy(s3_env.endpoint, _hold_parquet_reads()) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        monkeypatch.setenv("PULLSTATS_LAKE_URL", lake)
        monkeypatch.setenv("PULLSTATS_S3_TIMEOUT", "PT1S")
        runtime = Runtime.open(catalog_settings(tmp_path / "data"))
        for key in keys:  # after the start's look at the lake, which would read them
            s3_env.client().put_object(Bucket=bucket, Key=key, Body=b"PAR1")  # type: ignore[attr-defined]
        try:
            locations = [f"s3://{bucket}/{key}" for key in keys]
            error = duckdb.IOException("TProtocolException: Invalid data")
            with pytest.raises(StorageError) as failed:
                set_aside_damaged(runtime, error, lambda: locations)
        finally:
            runtime.close()
        held = _held(proxy.requests)
        assert str(failed.value).startswith(_no_answer(lake, proxy.endpoint)), failed.value
    # the first file, twice; before: each file twice (6), and no error of the store's
    assert held == [f"/{bucket}/{keys[0]}".replace("=", "%3D")] * 2, held
    assert s3_env.keys(bucket) == sorted([*keys, "lake/_meta.json"])  # nothing moved


#: a file s3fs uploads in three parts (two of 50 MiB and one byte)
_LARGE = 100 * 2**20 + 1


def test_a_multipart_completion_whose_answer_is_lost_is_sent_again_and_the_file_is_whole(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_env.bucket()
    staged = tmp_path / "large.parquet"
    with staged.open("wb") as out:  # distinct bytes in every part: a misassembly shows
        for index in range(_LARGE // 2**20 + 1):
            out.write(hashlib.sha256(str(index).encode()).digest() * (2**20 // 32))
        out.truncate(_LARGE)
    digest = hashlib.md5(staged.read_bytes()).hexdigest()
    completions = 0

    def cut_the_first_completion(method: str, path: str) -> str:
        nonlocal completions
        # CompleteMultipartUpload: POST …?uploadId=…; CreateMultipartUpload is POST …?uploads
        if method == "POST" and "uploadId=" in path:
            completions += 1
            return "cut" if completions == 1 else "forward"
        return "forward"

    with s3_proxy(s3_env.endpoint, cut_the_first_completion) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        store = S3Store(f"s3://{bucket}/exports", "PULLSTATS_EXPORTS_URL")
        store.publish(staged, "acme/large.parquet")
        sent = [(request.method, request.action) for request in proxy.requests]
    # one upload: created, three parts, completed (answer cut), completed again (answered)
    assert sent.count(("PUT", "forward")) == 3, sent
    assert sent[-2:] == [("POST", "cut"), ("POST", "forward")], sent
    assert len(sent) == 6, sent
    assert not staged.exists()  # published: the staged file is gone
    answer = s3_env.client().get_object(Bucket=bucket, Key="exports/acme/large.parquet")  # type: ignore[attr-defined]
    assert answer["ContentLength"] == _LARGE
    assert answer["ETag"].endswith('-3"')  # assembled from three parts
    assert hashlib.md5(answer["Body"].read()).hexdigest() == digest

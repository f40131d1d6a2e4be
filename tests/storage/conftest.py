"""A local S3-protocol server for the object-storage tests: ``moto_server`` on a free loopback
port, one per test session (per xdist worker), buckets made by each test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest

from pullstats.runtime import Runtime
from tests.conftest import catalog_settings, free_port

S3_MARK = pytest.mark.s3


def aws_env(endpoint: str) -> dict[str, str]:
    """The standard AWS settings that point a client at ``endpoint``, with moto's test keys."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    #: the server's output: a line per request (``"HEAD /bucket/key HTTP/1.1" 200``)
    log: Path

    def env(self) -> dict[str, str]:
        """The standard AWS settings that point a client at this server."""
        return aws_env(self.endpoint)

    def client(self) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def bucket(self) -> str:
        """A new empty bucket."""
        name = f"pullstats-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]
        return name

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)  # type: ignore[attr-defined]
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def start_moto(
    log: Path, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    env = {**os.environ, **(extra_env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out, env=env
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited: {log.read_text()}")
        try:
            httpx.get(endpoint + "/moto-api/", timeout=1)
            return process, endpoint
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("moto_server did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process, endpoint = start_moto(log)
    yield S3Server(endpoint, log)
    stop(process)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The AWS settings of ``s3_server`` in this process's environment, for the test."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def s3_installation(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, str]]:
    """An installation in ``tmp_path / "data"`` whose lake and exports are in a new bucket of
    ``s3_env`` (``PULLSTATS_LAKE_URL``, ``PULLSTATS_EXPORTS_URL``), and the bucket's name."""
    bucket = s3_env.bucket()
    monkeypatch.setenv("PULLSTATS_LAKE_URL", f"s3://{bucket}/lake")
    monkeypatch.setenv("PULLSTATS_EXPORTS_URL", f"s3://{bucket}/exports")
    runtime = Runtime.open(catalog_settings(tmp_path / "data"))
    try:
        yield runtime, bucket
    finally:
        runtime.close()

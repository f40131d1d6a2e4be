"""A real Distribution registry (Debian's ``docker-registry``, 2.8.2: scripts/system-deps.sh)
notifying a real ``pullstats serve``, and its own log imported with ``pullstats ingest
registry-log``: a manifest request it answered 404 is not a pull, from either source.

What the registry does that this holds pullstats to: it notifies a ``pull`` for a GET or HEAD
of an OCI manifest by a client whose ``Accept`` lists no OCI type, then answers 404; its log
has the 404 under the request id of the event.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from tests.conftest import Server, free_port, run_cli, start_server

REGISTRY = shutil.which("docker-registry")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def pullstats(data_dir: Path, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    created = run_cli(data_dir, "ingest-tokens", "create", "registry-1")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    server = start_server(data_dir, tmp_path / "server.log")
    yield server, token
    server.stop()


def start_registry(
    tmp_path: Path, ingest_url: str, token: str
) -> tuple[str, subprocess.Popen[bytes], Path]:
    if REGISTRY is None:  # as for Chromium: a missing system package fails, saying which
        pytest.fail("no docker-registry on PATH: scripts/system-deps.sh installs Debian's")
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        json.dumps(  # YAML is a superset of JSON
            {
                "version": 0.1,
                "log": {"level": "info", "formatter": "text"},
                "storage": {"filesystem": {"rootdirectory": str(tmp_path / "storage")}},
                "http": {"addr": f"127.0.0.1:{port}"},
                "notifications": {
                    "endpoints": [
                        {
                            "name": "pullstats",
                            "url": ingest_url,
                            "headers": {"Authorization": [f"Bearer {token}"]},
                            "timeout": "2s",
                            "threshold": 5,
                            "backoff": "1s",
                        }
                    ]
                },
            }
        )
    )
    log = tmp_path / "registry.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [REGISTRY, "serve", str(config)], stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v2/").status_code == 200:
                return url, process, log
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the registry did not start: {log.read_text(errors='replace')}")


def push_oci_image(registry: httpx.Client, name: str, tag: str) -> None:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    upload = registry.post(f"/v2/{name}/blobs/uploads/")
    location = upload.headers["location"]
    done = registry.put(
        f"{location}{'&' if '?' in location else '?'}digest={digest}", content=config
    )
    assert done.status_code == 201, done.text
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest,
            "size": len(config),
        },
        "layers": [],
    }
    pushed = registry.put(
        f"/v2/{name}/manifests/{tag}",
        content=json.dumps(manifest).encode(),
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert pushed.status_code == 201, pushed.text


def notified_pulls(data_dir: Path) -> int:
    lines = 0
    for segment in (data_dir / "spool").glob("*"):
        lines += segment.read_bytes().count(b'"src":"notification"')
    return lines


def actions(data_dir: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in (data_dir / "lake" / "actions").glob("day=*/actions.parquet"):
        found.update(pq.read_table(path, columns=["action"])["action"].to_pylist())
    return found


def test_a_404_the_real_registry_notified_is_not_counted(
    pullstats: tuple[Server, str], data_dir: Path, tmp_path: Path
) -> None:
    server, token = pullstats
    url, registry_process, log = start_registry(
        tmp_path, f"{server.url}/ingest/v1/registry/events", token
    )
    try:
        with httpx.Client(base_url=url, timeout=10) as registry:
            push_oci_image(registry, "acme/api", "1.0")
            served = registry.get("/v2/acme/api/manifests/1.0", headers={"Accept": OCI_MANIFEST})
            refused = registry.get(
                "/v2/acme/api/manifests/1.0", headers={"Accept": DOCKER_MANIFEST}
            )
            checked = registry.head(
                "/v2/acme/api/manifests/1.0", headers={"Accept": DOCKER_MANIFEST}
            )
        assert (served.status_code, refused.status_code, checked.status_code) == (200, 404, 404)
        deadline = time.monotonic() + 60  # the registry delivers on its own schedule
        while notified_pulls(data_dir) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert notified_pulls(data_dir) == 3  # the 404s too: the registry notifies them
    finally:
        registry_process.terminate()
        registry_process.wait(timeout=30)

    assert run_cli(data_dir, "process").returncode == 0
    # one client: two GETs by tag are two pulls, the HEAD a version check
    assert actions(data_dir) == Counter(pull_by_tag=2, version_check=1)

    imported = run_cli(data_dir, "ingest", "registry-log", str(log))
    assert imported.returncode == 0, imported.stderr
    assert "set aside 2 notified requests the registry refused (404: 2)" in imported.stdout
    assert token not in imported.stdout + imported.stderr  # the registry logged it at start
    assert run_cli(data_dir, "process").returncode == 0
    assert actions(data_dir) == Counter(pull_by_tag=1)  # the served GET, as its access log says
    status = run_cli(data_dir, "status")
    assert "refused 2" in status.stdout

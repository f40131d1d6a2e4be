"""Notification events as the CNCF Distribution registry sends them, for the notification tests.

Events are written the way the registry sends them (distribution's ``notifications`` docs):
``id``, ``timestamp``, ``action``, ``target`` {mediaType, size, digest, length, repository, url,
tag}, ``request`` {id, addr, host, method, useragent}, ``actor`` and ``source``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pullstats.ingest.notifications import (
    EnvelopeResult,
    parse_envelope,
)
from pullstats.ingest.records import PullRequestRecord

V1 = "application/vnd.docker.distribution.events.v1+json"
V2 = "application/vnd.docker.distribution.events.v2+json"
#: 2027-01-15: after every event of these tests (one more than a day later is rejected)
RECEIVED_US = 1_800_000_000_000_000

DIGEST = "sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf"
LAYER = "sha256:c04b14da8d1441880ed3fe6106fb2cc6fa1c9661846ac0266b8a5ec8edf37b7c"
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_UA = (
    "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0-45-generic os/linux arch/amd64 "
    "UpstreamClient(Docker-Client/27.3.1 \\(linux\\))"
)
REGISTRY = "registry.example.com"


def epoch_us(instant: datetime) -> int:
    """Microseconds since the epoch, computed independently of the code under test."""
    whole = int(instant.replace(microsecond=0).timestamp())
    return whole * 1_000_000 + instant.microsecond


def manifest_pull(
    *,
    event_id: str = "320678d8-ca14-430f-8bb6-4ca139cd83f7",
    timestamp: str = "2026-10-05T14:44:26.402973972Z",
    method: str = "GET",
    repository: str = "acme/web/app",
    tag: str | None = "1.0",
    digest: str = DIGEST,
    addr: str = "192.168.64.11:42961",
    useragent: str = DOCKER_UA,
    media_type: str = MANIFEST_V2,
) -> dict[str, Any]:
    """A manifest ``pull`` event as distribution sends it (by tag unless ``tag`` is None)."""
    target: dict[str, Any] = {
        "mediaType": media_type,
        "size": 708,
        "digest": digest,
        "length": 708,
        "repository": repository,
        "url": f"https://{REGISTRY}/v2/{repository}/manifests/{digest}",
    }
    if tag is not None:
        target["tag"] = tag
    return {
        "id": event_id,
        "timestamp": timestamp,
        "action": "pull",
        "target": target,
        "request": {
            "id": "6df24a34-0959-4923-81ca-14f09767db19",
            "addr": addr,
            "host": REGISTRY,
            "method": method,
            "useragent": useragent,
        },
        "actor": {},
        "source": {"addr": "registry-0:5000", "instanceID": "a53db899-3b4b-4a62-a067-8dd013beaca4"},
    }


def blob_pull() -> dict[str, Any]:
    event = manifest_pull(event_id="blob-1", tag=None, digest=LAYER)
    event["target"].update(
        mediaType="application/octet-stream",
        size=3_621_145,
        length=3_621_145,
        url=f"https://{REGISTRY}/v2/acme/web/app/blobs/{LAYER}",
    )
    return event


def push(event_id: str = "push-1") -> dict[str, Any]:
    event = manifest_pull(event_id=event_id, method="PUT")
    event["action"] = "push"
    event["actor"] = {"name": "ci-bot"}
    return event


def delete() -> dict[str, Any]:
    event = manifest_pull(event_id="delete-1", tag=None, method="DELETE")
    event["action"] = "delete"
    event["target"] = {"digest": DIGEST, "repository": "acme/web/app"}
    return event


def mount() -> dict[str, Any]:
    event = blob_pull()
    event.update(id="mount-1", action="mount")
    event["target"]["fromRepository"] = "acme/base"
    event["request"]["method"] = "POST"
    return event


def envelope(*events: Any) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def parse(*events: Any, content_type: str = V1) -> EnvelopeResult:
    return parse_envelope(envelope(*events), content_type, RECEIVED_US)


def only_record(outcome: PullRequestRecord | str) -> PullRequestRecord:
    assert isinstance(outcome, PullRequestRecord), outcome
    return outcome

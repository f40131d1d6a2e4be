"""Builders of CNCF Distribution notification events, as the registry sends them.

Shapes follow the Distribution notifications documentation: an envelope ``{"events": [...]}``
whose events carry ``id, timestamp, action, target, request, actor, source``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ENVELOPE_TYPE = "application/vnd.docker.distribution.events.v1+json"


def rfc3339(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds, as Go writes them


def pull_event(
    instant: datetime,
    repository: str,
    *,
    method: str = "GET",
    tag: str = "",
    digest: str = "sha256:" + "a" * 64,
    addr: str = "203.0.113.7:53412",
    useragent: str = "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.1 os/linux arch/amd64",
    media_type: str = MANIFEST,
    event_id: str | None = None,
    kind: str = "manifests",
) -> dict[str, Any]:
    reference = tag or digest
    return {
        "id": event_id or str(uuid.uuid4()),
        "timestamp": rfc3339(instant),
        "action": "pull",
        "target": {
            "mediaType": media_type,
            "size": 1234,
            "digest": digest,
            "length": 1234,
            "repository": repository,
            "url": f"https://registry.example.com/v2/{repository}/{kind}/{reference}",
            **({"tag": tag} if tag else {}),
        },
        "request": {
            "id": str(uuid.uuid4()),
            "addr": addr,
            "host": "registry.example.com",
            "method": method,
            "useragent": useragent,
        },
        "actor": {},
        "source": {"addr": "registry-0:5000", "instanceID": str(uuid.uuid4())},
    }


def push_event(instant: datetime, repository: str) -> dict[str, Any]:
    event = pull_event(instant, repository, method="PUT", tag="1.0")
    event["action"] = "push"
    return event


def envelope(*events: dict[str, Any]) -> dict[str, Any]:
    return {"events": list(events)}

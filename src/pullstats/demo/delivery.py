"""Delivering notification envelopes to a pullstats server the way a registry does.

Responsible for the HTTP side of ``pullstats generate --out URL``: one envelope at a time to
``POST /ingest/v1/registry/events`` with the ingest token, retrying a failed delivery (no
answer, 5xx, 429) with exponential backoff, as CNCF Distribution's notification endpoints do.
Unlike a registry it gives up after a bounded number of attempts, so a wrong URL ends the run
instead of hanging it. A 4xx other than 429 is a configuration or content error that no retry
can fix: it fails at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from pullstats.demo.render import ENVELOPE_MEDIA_TYPE

__all__ = ["DeliveryFailed", "DeliveryReport", "NotificationSender"]

INGEST_PATH = "/ingest/v1/registry/events"


class DeliveryFailed(Exception):
    """An envelope could not be delivered: refused (4xx) or out of attempts."""


@dataclass
class DeliveryReport:
    envelopes: int = 0
    events: int = 0  # events in envelopes the server answered 2xx
    accepted: int = 0  # stored as manifest requests, as the server reported
    ignored: int = 0
    rejected: int = 0
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # why deliveries were retried


class NotificationSender:
    """Posts envelopes to one server over a keep-alive connection."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        attempts: int = 8,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be >= 1")
        self.report = DeliveryReport()
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": ENVELOPE_MEDIA_TYPE,
                "User-Agent": "pullstats-generate",
            },
        )

    def __enter__(self) -> NotificationSender:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def send(self, body: bytes, events: int) -> None:
        """Deliver one envelope holding ``events`` events; DeliveryFailed when impossible."""
        delay = self._backoff
        for attempt in range(1, self._attempts + 1):
            problem = self._attempt(body, events)
            if problem is None:
                return
            if attempt == self._attempts:
                raise DeliveryFailed(f"gave up after {attempt} attempts: {problem}")
            self.report.retries += 1
            self.report.errors[problem] = self.report.errors.get(problem, 0) + 1
            time.sleep(delay)
            delay = min(delay * 2, self._max_backoff)

    def _attempt(self, body: bytes, events: int) -> str | None:
        """One delivery; None on success, else why it should be retried."""
        try:
            response = self._client.post(INGEST_PATH, content=body)
        except httpx.TransportError as error:
            return type(error).__name__
        if response.status_code == 429 or response.status_code >= 500:
            return f"HTTP {response.status_code}"
        if response.status_code >= 400:
            raise DeliveryFailed(
                f"the server refused the envelope: HTTP {response.status_code} "
                f"{response.text[:200]}"
            )
        answer = response.json()
        self.report.envelopes += 1
        self.report.events += events
        self.report.accepted += int(answer.get("accepted", 0))
        self.report.ignored += sum(int(n) for n in answer.get("ignored", {}).values())
        self.report.rejected += len(answer.get("rejected", []))
        return None

"""A manifest request the registry answers 404, as each source reports it (docs/data-definitions.md,
"Notifications of refused requests").

The case a real Distribution 2.8.2 showed: a client whose ``Accept`` lists no OCI type asks for
an OCI image index by tag. The registry answers 404 (``MANIFEST_UNKNOWN``), writes the 404 in its
access log, and still notifies a ``pull``: it notifies once its store has found the manifest,
before the handler refuses it, and the event holds neither the status nor the ``Accept`` header.
A 404 is not a pull (Docker Hub does not count it): the log import skips it; the notification
cannot be told from a served pull on its own, so it is counted until the registry's own log is
imported (``pullstats ingest registry-log``: tests/lake/test_refused.py,
tests/ingest/test_real_registry.py), and the docs say so where they define a request.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pullstats.ingest.notifications import parse_envelope
from pullstats.timestamps import micros
from tests.envelopes import ENVELOPE_TYPE, pull_event
from tests.ingest.access_log_parsing import parse_bytes

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCS = Path(__file__).resolve().parents[2] / "docs"
WHEN = datetime(2026, 10, 5, 12, 0, 0, tzinfo=UTC)
OLD_CLIENT = "curl/7.88.1"


def test_the_access_log_does_not_count_a_refused_request() -> None:
    line = (
        '192.0.2.44 - - [05/Oct/2026:12:00:00 +0000] "GET /v2/acme/api/manifests/1.0 HTTP/1.1" '
        f'404 96 "-" "{OLD_CLIENT}"\n'
    )
    parsed = parse_bytes(line.encode())
    assert parsed.requests.num_rows == 0
    assert parsed.skipped == Counter(non_2xx=1)


def test_the_notification_of_a_refused_request_looks_like_a_served_pull() -> None:
    event = pull_event(WHEN, "acme/api", tag="1.0", media_type=OCI_INDEX, useragent=OLD_CLIENT)
    received = micros(WHEN + timedelta(seconds=1))
    result = parse_envelope(json.dumps({"events": [event]}).encode(), ENVELOPE_TYPE, received)
    # nothing in the event tells the 404 apart: only its request id, which the registry's log
    # repeats with the status
    assert [(r.name, r.tag, r.ua) for r in result.records] == [("acme/api", "1.0", OLD_CLIENT)]
    assert result.records[0].rid == event["request"]["id"]


def test_the_docs_say_notifications_count_refused_requests() -> None:
    definitions = " ".join((DOCS / "data-definitions.md").read_text().split())
    assert "### Notifications of refused requests" in (DOCS / "data-definitions.md").read_text()
    assert "notifications over-count by these refused requests" in definitions
    assert "a refused line is skipped as `non_2xx`" in definitions
    assert "`pullstats ingest registry-log FILE...` reads the log" in definitions
    for page in DOCS.glob("*.md"):  # what they said before a real registry showed otherwise
        text = " ".join(page.read_text().split()).lower()
        assert "notifications describe only successful requests" not in text, page.name
        assert "send notifications only for successful requests" not in text, page.name


def test_the_docs_say_which_digest_each_source_reports() -> None:
    # a pull by tag of a multi-platform image: the notification names the index, the access
    # log the platform manifest the registry answered with (seen with Distribution 2.8.2)
    definitions = " ".join((DOCS / "data-definitions.md").read_text().split())
    assert "for a pull by tag of a multi-platform image is the **index**" in definitions
    assert "which can be the **platform** manifest the registry sent instead" in definitions
    assert "#reading-digest" in definitions
    assert "### Reading `digest`" in (DOCS / "exports.md").read_text()


def test_the_operator_guide_warns_that_the_registry_logs_the_ingest_token() -> None:
    guide = " ".join((DOCS / "operations.md").read_text().split())
    assert "**The registry writes this token into its own log.**" in guide
    assert "rotate the token ([Rotating an ingest token](#rotating-an-ingest-token))" in guide
    assert "## Rotating an ingest token" in (DOCS / "operations.md").read_text()

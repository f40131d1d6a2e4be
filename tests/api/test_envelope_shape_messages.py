"""The 400 messages for an ``events`` member that is not an array, as docs/operations.md's
ingest errors table lists them: an object, ``null``, a string or a number alike."""

from __future__ import annotations

import pytest

from pullstats.ingest.errors import InvalidEnvelope
from pullstats.ingest.notifications import envelope_events


@pytest.mark.parametrize("events", [b"{}", b"null", b'"x"', b"1"])
def test_events_that_are_not_an_array_say_so(events: bytes) -> None:
    with pytest.raises(InvalidEnvelope) as refused:
        envelope_events(b'{"events": ' + events + b"}", max_events=10)
    assert str(refused.value) == "body is not a notification envelope: 'events' must be an array"

"""Ingest errors.

ValueError
 └── UnparseableRequest     one event or line that cannot become a request (counted, skipped)
      └── TimestampOutOfRange   its time lies outside the accepted window (ingest/time_window.py)
InvalidEnvelope             a whole delivery that is not a notification envelope
 ├── UnsupportedMediaType   its content type is not an envelope's
 └── EnvelopeTooLarge       more bytes or events than the server takes

Parsing knows no HTTP: the API answers each kind with its own status.
"""

from __future__ import annotations

from pullstats.drop_reasons import DropReason


class UnparseableRequest(ValueError):
    """One event or log line that is malformed; it is rejected alone, the rest is kept."""

    #: The reason it is counted under (the ``reason`` label of ``pullstats_ingest_events``).
    reason = DropReason.INVALID_EVENT


class TimestampOutOfRange(UnparseableRequest):
    """A well-formed time before 2000-01-01 or past the server clock plus the allowed skew."""

    reason = DropReason.TIMESTAMP_OUT_OF_RANGE


class InvalidEnvelope(Exception):
    """A body that is not a notification envelope at all; nothing of it is stored."""


class UnsupportedMediaType(InvalidEnvelope):
    """A delivery whose content type is none of the envelope media types."""


class EnvelopeTooLarge(InvalidEnvelope):
    """A delivery past the body size or the events per envelope the server accepts."""

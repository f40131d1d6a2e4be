"""Ingest errors.

ValueError
 └── UnparseableRequest     one event or line that cannot become a request (counted, skipped)
InvalidEnvelope             a whole delivery that is not a notification envelope (4xx)
"""

from __future__ import annotations


class UnparseableRequest(ValueError):
    """One event or log line that is malformed; it is rejected alone, the rest is kept."""


class InvalidEnvelope(Exception):
    """A body that is not a notification envelope at all; nothing of it is stored."""

    def __init__(self, message: str, status_code: int = 400):
        super().__init__(message)
        self.status_code = status_code

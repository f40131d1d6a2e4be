"""Log lines of a server process on stderr, next to uvicorn's, unless logging is configured."""

from __future__ import annotations

import logging


def log_to_stderr(log: logging.Logger) -> None:
    """Show ``log``'s INFO lines on stderr when nothing else configured logging."""
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)

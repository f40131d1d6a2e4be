"""Log lines of a server process on stderr, next to uvicorn's, with client text made harmless.

Every log record starts a new line at column 0, and nothing a client sends can start another:
control, format and line-separator characters in a record (a path's ``%0D%0A``, an ANSI
escape, a NUL, a right-to-left override) are written as ``\\xNN``/``\\uNNNN`` escapes, and a
backslash as ``\\\\`` so an escape a client typed cannot pass for one we wrote. A traceback
keeps its lines, each indented, so a forged line inside an exception message still cannot pass
for a record of its own.
"""

from __future__ import annotations

import copy
import logging
import unicodedata
from types import TracebackType
from typing import Any

import uvicorn.config
import uvicorn.logging

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_ASCII_TABLE = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}
_ASCII_TABLE[ord("\\")] = "\\\\"


def _escape_char(char: str) -> str:
    if unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return char
    return _escaped(char)


def _escaped(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_control(text: str) -> str:
    """``text`` with every control/format/line-separator character and backslash escaped."""
    text = text.translate(_ASCII_TABLE)
    if text.isascii():
        return text
    return "".join(_escape_char(char) for char in text)


#: What a terminal line shows wrongly: controls (a newline, ESC), surrogates (a file name's
#: undecodable bytes), line and paragraph separators, and the direction controls that reorder
#: the text after them. Other format characters (an emoji's zero-width joiner) are shown.
_TERMINAL_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_DIRECTION_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def escape_for_terminal(text: str) -> str:
    """``text`` as one line a person reads: the characters above as ``\\xNN``/``\\uNNNN``
    escapes, a backslash and every other character as it is (a line read, not parsed back:
    unlike :func:`escape_control`, it need not tell an escape from a backslash)."""
    if text.isprintable():
        return text
    return "".join(
        _escaped(char)
        if unicodedata.category(char) in _TERMINAL_CATEGORIES or char in _DIRECTION_CONTROLS
        else char
        for char in text
    )


def _indented(text: str) -> str:
    """A traceback's lines, escaped, each after the first indented by two spaces."""
    return "\n  ".join(escape_control(line) for line in text.split("\n"))


class EscapingFormatter(logging.Formatter):
    """A formatter whose output holds no character a client could forge a line or colour with."""

    def format(self, record: logging.LogRecord) -> str:
        record = copy.copy(record)  # other handlers see the record as it was
        record.msg = escape_control(record.getMessage())
        record.args = None
        record.exc_text = None  # formatException below, not a text cached by another handler
        return super().format(record)

    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _indented(super().formatStack(stack_info))


class UvicornEscapingFormatter(EscapingFormatter, uvicorn.logging.DefaultFormatter):
    """uvicorn's own look (``INFO:     …``), escaped the same way."""


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with its formatters escaping client text."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    # the access formatter stays uvicorn's: its access log is off (api/metrics.py keeps ours)
    config["formatters"]["default"]["()"] = f"{__name__}.{UvicornEscapingFormatter.__name__}"
    return config


def log_to_stderr(log: logging.Logger) -> None:
    """Show ``log``'s INFO lines on stderr when nothing else configured logging."""
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(EscapingFormatter("%(levelname)s:     %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)

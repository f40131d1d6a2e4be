"""The rule that keeps a CSV cell pullstats writes from being run as a spreadsheet formula.

Pure, no I/O. A cell is **neutralised** — a ``'`` put before it — when its first character is

- one that starts a formula: ``= + - @``, their full-width forms ``＝ ＋ － ＠`` or their small
  forms ``﹦ ﹢ ﹣ ﹫``; or
- one a reader does not see: a control character (TAB, CR, LF, …), a space of any kind, or a
  format character (zero-width space U+200B, joiners, direction marks, the BOM U+FEFF, …).
  Spreadsheets skip some of these before deciding that a cell is a formula, so `` =1``,
  ``\\n=1`` and ``\\u200b=1`` are formulas to them; a cell that merely starts with one is
  neutralised too, which keeps the rule to one character.

A NUL character is replaced by U+FFFD wherever it is in a cell (a NUL ends a cell for C
readers). So, for any text, the written cell with its leading whitespace and invisible
characters removed starts with ``'`` or with a character that starts no formula, and it holds
no NUL. :func:`safe_cell` is the rule in Python; :func:`text_cell_sql` the same rule and the CSV
quoting as one SQL expression, the body of the ``text_cell`` function the export steps apply to
every text cell (``pullstats.exports.views``); :func:`unformula_sql` undoes the rule when
pullstats exports are imported again.
"""

from __future__ import annotations

import functools
import unicodedata

__all__ = [
    "FORMULA_STARTS",
    "NUL_REPLACEMENT",
    "is_invisible",
    "safe_cell",
    "text_cell_sql",
    "unformula_sql",
]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b")
#: What a NUL in a cell becomes.
NUL_REPLACEMENT = "\ufffd"
# control, format, space, line and paragraph separators: none of them is visible
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# every Cf, Zs, Zl and Zp character is in the first two planes or in plane 14 (tags)
_SCANNED = (range(0x0, 0x20000), range(0xE0000, 0xE1000))


def is_invisible(character: str) -> bool:
    """Whether a reader does not see ``character``: control, format or space character."""
    return unicodedata.category(character) in _INVISIBLE_CATEGORIES


def safe_cell(text: str) -> str:
    """``text`` as it may be written to a CSV cell (see the module docstring)."""
    text = text.replace("\0", NUL_REPLACEMENT)
    if text and (text[0] in FORMULA_STARTS or is_invisible(text[0])):
        return "'" + text
    return text


@functools.cache
def _invisible_ranges() -> tuple[tuple[int, int], ...]:
    ranges: list[tuple[int, int]] = []
    for block in _SCANNED:
        for code in block:
            # NUL is not among them: the cell is tested with its NUL already replaced
            if code == 0 or unicodedata.category(chr(code)) not in _INVISIBLE_CATEGORIES:
                continue
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return tuple(ranges)


@functools.cache
def _first_character_class() -> str:
    """An RE2 character class of every character that gets a cell neutralised.

    Built from Python's Unicode tables rather than RE2's ``\\p{…}`` classes, so the SQL rule is
    exactly :func:`safe_cell` whatever Unicode version DuckDB's RE2 was built with.
    """
    parts = [f"\\x{{{ord(c):x}}}" for c in sorted(FORMULA_STARTS)]
    parts += [
        f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}"
        for low, high in _invisible_ranges()
    ]
    return "[" + "".join(parts) + "]"


#: Printable ASCII that starts no formula: the first character of nearly every cell. A cell
#: starting with one and holding no NUL is written as it is, without the regular expression.
_PLAIN_FIRST = "unicode(s) BETWEEN 33 AND 126 AND unicode(s) NOT IN (43, 45, 61, 64)"


#: RFC 4180: a cell is quoted when it holds a double quote, a comma or a line break.
_NEEDS_QUOTES = (
    "(contains(s, '\"') OR contains(s, ',') OR contains(s, chr(10)) OR contains(s, chr(13)))"
)


def text_cell_sql() -> str:
    """A text ``s`` as the exports write it into a CSV cell, as an SQL expression (DuckDB
    dialect): :func:`safe_cell`, then quoted as RFC 4180 needs, only when it holds a comma, a
    double quote or a line break. NULL and empty text are an empty cell, never ``""``.

    It is one expression that names ``s`` a few times. An engine copies a function's argument
    into every place its body names it: quoting the result of a ``safe_cell`` function, whose
    text the quoting names seven times, had DuckDB plan seven copies of the neutralising rule
    for each cell of each query. Neither the ``'`` put before a cell nor U+FFFD needs quoting,
    so whether to quote is decided on ``s`` itself.
    """
    quote = f"CASE WHEN {_NEEDS_QUOTES} THEN '\"' ELSE '' END"
    mark = f"CASE WHEN regexp_matches(s, '^{_first_character_class()}') THEN '''' ELSE '' END"
    # the replacement as a literal character: chr() past 255 means another thing on Spark
    written = f"replace(replace(s, chr(0), '{NUL_REPLACEMENT}'), '\"', '\"\"')"
    return (
        "CASE WHEN s IS NULL THEN '' "
        f"WHEN {_PLAIN_FIRST} AND NOT (contains(s, chr(0)) OR {_NEEDS_QUOTES}) THEN s "
        f"ELSE {quote} || {mark} || {written} || {quote} END"
    )


def unformula_sql(column: str) -> str:
    """SQL for ``column`` without the ``'`` that :func:`safe_cell` put before it."""
    return (
        f"CASE WHEN starts_with({column}, '''') "
        f"AND regexp_matches({column}, '^''{_first_character_class()}') "
        f"THEN {column}[2:] ELSE {column} END"
    )

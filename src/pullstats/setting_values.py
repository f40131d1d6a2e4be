"""The value grammars of settings that pydantic does not read itself, and the refusal of a
setting that reads well but is refused where it is used. Kept apart from :mod:`pullstats.config`,
which declares the settings, and from everything else: they import nothing of pullstats."""

from __future__ import annotations

import re
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_network

#: a host name or IPv4 address, optionally ``*.`` before it: any name below
_HOST_PATTERN = re.compile(
    r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
)


def host_patterns(text: str) -> list[str]:
    """``PULLSTATS_ALLOWED_HOSTS``: ``"Stats.example.com, ::1"`` → ``["stats.example.com",
    "[::1]"]`` (an IPv6 address in brackets, as a Host header writes it); ``*`` is any host."""
    patterns = []
    for entry in text.split(","):
        host = entry.strip().lower()
        if not host:
            continue
        bare = host.removeprefix("[").removesuffix("]")
        try:
            IPv6Address(bare)
        except ValueError:
            if host != "*" and not _HOST_PATTERN.fullmatch(host):
                raise ValueError(
                    f"{entry.strip()[:60]!r} is not a host name: write each host alone (no "
                    "scheme, port or path), e.g. stats.example.com,10.0.0.5 or *.example.com"
                ) from None
        else:
            host = f"[{bare}]"
        patterns.append(host)
    return patterns


def parse_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16"`` → networks; a bad entry raises ValueError naming it."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r}") from None
    return tuple(networks)


def check_database_url(url: str) -> None:
    """Refuse a ``PULLSTATS_DATABASE_URL`` that is not SQLAlchemy's ``dialect[+driver]://`` of
    PostgreSQL or SQLite (read here by hand: the settings know no database)."""
    scheme, found, rest = url.partition("://")
    backend = scheme.partition("+")[0].lower()
    if not found or not backend:
        raise ValueError(
            "not a database URL: expected postgresql://user@host/database or sqlite:///path"
        )
    if backend == "postgres":
        raise ValueError("use postgresql:// for PostgreSQL, not postgres://")
    if backend not in ("postgresql", "sqlite"):
        raise ValueError(
            f"a {backend} catalog is not supported: use PostgreSQL (postgresql://…) or "
            "SQLite (sqlite:///…)"
        )
    # the drivers pullstats installs (psycopg 3, Python's sqlite3): another one's module is
    # missing, and the command failed with Python's ModuleNotFoundError
    driver = scheme.partition("+")[2].lower()
    ours = {"postgresql": "psycopg", "sqlite": "pysqlite"}[backend]
    if driver not in ("", ours):
        raise ValueError(
            f"the {driver} driver is not one pullstats installs: use {backend}+{ours}:// or "
            f"{backend}://"
        )
    _check_host_and_port(rest.partition("/")[0].rpartition("@")[2])


def _check_host_and_port(authority: str) -> None:
    """Refuse what SQLAlchemy would fail to read later with a bare ValueError naming no
    setting: a port that is not a number, an IPv6 address with no closing bracket."""
    port = ""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise ValueError("an IPv6 address in it has no closing ']'")
        after = authority[close + 1 :]
        if after and not after.startswith(":"):
            raise ValueError("its port is not a number")
        port = after[1:]
    elif ":" in authority:
        port = authority.rpartition(":")[2]
    if port and not port.isdigit():
        raise ValueError("its port is not a number")


#: The longest duration a setting takes: counted back from today, or on from now, a longer
#: one leaves the calendar (year 1 to 9999) and would fail the job that first uses it.
MAX_DURATION = timedelta(days=36525)
MAX_DURATION_TEXT = "100 years (P36525D)"


_SECOND = timedelta(seconds=1)
_A_SECOND = "must be at least 1 second (PT1S): "
#: Each duration setting's bounds, by field: the least it takes, the most (MAX_DURATION unless
#: said), and why a value out of them is refused
DURATION_BOUNDS: dict[str, tuple[timedelta, timedelta | None, str]] = {
    "close_grace": (
        timedelta(0),
        None,
        "must not be negative: a period would close before it ends",
    ),
    "retention_spool": (timedelta.min, None, ""),  # kept for the close grace at least
    # 0 or less: every login token and download link expired when made, and a login window
    # of 0 turns the login limits off (a link's lifetime is counted in whole seconds)
    "jwt_ttl": (_SECOND, None, _A_SECOND + "a login token would expire as it is made"),
    "login_attempts_window": (
        _SECOND,
        None,
        _A_SECOND + "a shorter window turns the login limits off",
    ),
    "download_link_lifetime": (
        _SECOND,
        None,
        _A_SECOND + "a download link would expire as it is made",
    ),
    "node_timeout": (
        timedelta(minutes=1),
        None,
        "must be at least 1 minute (PT1M): servers heartbeat every quarter of it, at most a "
        "minute apart",
    ),
    # the window must end well inside the calendar (see ingest/time_window.py)
    "max_clock_skew": (
        timedelta(0),
        timedelta(days=366),
        "must be between 0 and 366 days, e.g. P1D or PT12H",
    ),
    # a negative interval turned the schedule off as 0 does, and the log said it was 0
    "schedule_interval": (timedelta(0), None, "must not be negative: 0 turns the schedule off"),
}


def check_duration(field: str, value: timedelta) -> None:
    """Refuse a duration setting's value out of its :data:`DURATION_BOUNDS`, or past the
    calendar (:data:`MAX_DURATION`)."""
    least, most, why = DURATION_BOUNDS[field]
    if value < least or (most is not None and value > most):
        raise ValueError(why)
    if value > MAX_DURATION:
        raise ValueError(f"must be at most {MAX_DURATION_TEXT}")


def parse_months_days(text: str) -> tuple[int, int]:
    """``"P25M"`` → (25, 0), ``"P2Y"`` → (24, 0), ``"P760D"`` → (0, 760), ``"0"`` → (0, 0)."""
    value = text.strip().upper()
    if value == "0":
        return (0, 0)
    if len(value) >= 3 and value[0] == "P" and value[1:-1].isdigit() and value[-1] in "YMD":
        number = int(value[1:-1])
        months, days = {"Y": (12 * number, 0), "M": (number, 0), "D": (0, number)}[value[-1]]
        if months > 1200 or days > MAX_DURATION.days:
            raise ValueError("must be at most 100 years (P100Y, P1200M or P36525D; 0: for ever)")
        return months, days
    raise ValueError("expected a number of years, months or days: P2Y, P25M or P760D (0: for ever)")


class SettingRefused(ValueError):
    """A setting that reads well but that what uses it refuses (DuckDB its memory limit): told
    as ``PULLSTATS_NAME='value': reason``, like a setting refused when it is read."""

    def __init__(self, variable: str, value: str, reason: str) -> None:
        super().__init__(f"{variable}={value!r}: {reason}")


def duration_text(duration: timedelta) -> str:
    """``duration`` as ISO 8601, the way the duration settings are written, so that a message
    names a value the operator can set again: ``P7D``, ``P7DT1H``, ``PT2M``, ``PT1.5S``."""
    days, rest = divmod(duration.total_seconds(), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time_part = "".join(
        f"{amount:g}{unit}"
        for amount, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
        if amount
    )
    if not days and not time_part:
        return "PT0S"
    return "P" + (f"{days:g}D" if days else "") + (f"T{time_part}" if time_part else "")

"""Stored sign-ins: one token per base URL, in the user's config dir, readable by the user alone.

``pullstats hub login`` stores the token a login returned here, and later ``pullstats hub``
commands sign in with it, so a password and a TOTP code are typed once per token. The file is
JSON, ``hub-tokens.json`` in ``platformdirs.user_config_path("pullstats")`` (on Linux
``~/.config/pullstats``, or under ``$XDG_CONFIG_HOME``), or in ``$PULLSTATS_HUB_CONFIG_DIR``
when that is set. Every save writes the whole file to a new temporary file created with mode
0600 in the same folder (itself made 0700), then renames it into place: the file is never
readable by others, and a reader sees the old file or the new one, never half of one.

It holds the user name and the token, never a password. Nothing here prints or logs a token.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
import platformdirs

from pullstats.atomic_files import publish
from pullstats.client.errors import ClientError

#: Overrides the folder of the token file (tests use it; so may a user with several setups).
CONFIG_DIR_ENV = "PULLSTATS_HUB_CONFIG_DIR"
FILE_NAME = "hub-tokens.json"
#: The layout of the file; another one is refused rather than guessed at.
FORMAT = 1


class CredentialsError(ClientError):
    """The token file cannot be used, or a base URL is not one."""


@dataclass(frozen=True)
class StoredToken:
    url: str
    username: str
    token: str
    saved_at: datetime

    def __repr__(self) -> str:  # a token never reaches a log or a traceback through repr
        return f"StoredToken(url={self.url!r}, username={self.username!r}, token=...)"


def base_url(url: str) -> str:
    """The form a base URL is stored under: http(s), scheme and host in lower case, no
    trailing slash. A URL holding a user name or password is refused: credentials belong in
    the environment or the prompt, never in a URL that is stored and printed."""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:  # an unbalanced [ of an IPv6 host
        raise CredentialsError(
            f"{_shown(text)!r} is not a URL: write http(s)://host[:port]"
        ) from None
    if "@" in parts.netloc:  # refused before anything is echoed: it may hold a password
        raise CredentialsError(
            "the URL holds a user name or password: give them to `pullstats hub login` instead"
        )
    if parts.query or parts.fragment:  # may hold a token: never echoed
        raise CredentialsError(f"{_shown(text)!r}: a base URL has no query or fragment")
    try:
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise CredentialsError(f"{text!r} is not a URL: write http(s)://host[:port]") from None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
        raise CredentialsError(f"{text!r} is not a base URL: write http(s)://host[:port]")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _shown(text: str) -> str:
    """``text`` as an error may show it: without what follows a ``?`` or ``#``, nor anything
    before an ``@`` (a query's token, a password)."""
    head = text.split("?", 1)[0].split("#", 1)[0]
    scheme, found, rest = head.partition("://")
    if not found:
        return head.rpartition("@")[2]
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$PULLSTATS_HUB_CONFIG_DIR``, else the user's config dir for pullstats."""
    override = (os.environ if environ is None else environ).get(CONFIG_DIR_ENV)
    if override:
        return Path(override)
    return platformdirs.user_config_path("pullstats", appauthor=False)


def tokens_file(environ: Mapping[str, str] | None = None) -> Path:
    return config_dir(environ) / FILE_NAME


def load(url: str) -> StoredToken | None:
    """The token stored for ``url`` (any spelling :func:`base_url` accepts), or None."""
    key = base_url(url)
    entry = _read(tokens_file(), key).get(key)
    if entry is None:
        return None
    return StoredToken(
        key, entry["username"], entry["token"], datetime.fromisoformat(entry["saved_at"])
    )


def stored_urls() -> list[str]:
    """The base URLs a token is stored for, sorted."""
    return sorted(_read(tokens_file()))


def save(url: str, username: str, token: str) -> Path:
    """Store (or replace) the token of ``url``; returns the file's path."""
    key = base_url(url)
    path = tokens_file()
    entries = _read(path, key)
    entries[key] = {
        "username": username,
        "token": token,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write(path, entries)
    return path


def remove(url: str) -> bool:
    """Forget the token of ``url``; False when none was stored."""
    key = base_url(url)
    path = tokens_file()
    entries = _read(path, key)
    if key not in entries:
        return False
    del entries[key]
    _write(path, entries)
    return True


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, read without checking its signature (only its issuer can), or an
    empty dict when the token is not a JWT. For display and expiry only, never for trust."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def expires_at(token: str) -> datetime | None:
    """When a JWT says it expires (``exp``), or None when it says nothing."""
    exp = token_claims(token).get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    try:
        return datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def login_command(url: str | None) -> str:
    """The command a line that says to log in names: with ``--url`` when the server is known,
    since without it (and without PULLSTATS_HUB_URL) it would log in to Docker Hub."""
    return f"pullstats hub login --url {url}" if url else "pullstats hub login"


def _read(path: Path, url: str | None = None) -> dict[str, dict[str, str]]:
    """The file's entries; ``url``, the base URL a command wants, is named in what to do."""
    try:
        with open(path, encoding="utf-8") as handle:
            _check_private(path, os.fstat(handle.fileno()), url)
            text = handle.read()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise CredentialsError(f"{path}: cannot read the token file: {error.strerror}") from None
    redo = f"{path} is not a pullstats token file: remove it and run `{login_command(url)}`"
    try:
        body = json.loads(text)
    except ValueError:
        raise CredentialsError(redo) from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise CredentialsError(redo)
    entries = body.get("tokens")
    if not isinstance(entries, dict):
        raise CredentialsError(redo)
    for entry in entries.values():
        fields = ("username", "token", "saved_at")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in fields):
            raise CredentialsError(redo)
    return entries


def _check_private(path: Path, found: os.stat_result, url: str | None = None) -> None:
    """Refuse, as ssh does a key, a token file that another user could have written (their
    token: the commands would act as them) or may read (ours, leaked): what :func:`_write`
    ensures, checked on every read, since anything may have changed it since."""
    if not hasattr(os, "geteuid"):  # no POSIX owners and modes (Windows)
        return
    if found.st_uid != os.geteuid():
        raise CredentialsError(
            f"{path} belongs to another user (uid {found.st_uid}): it is not used; remove it "
            f"and run `{login_command(url)}`"
        )
    _check_folder(path.parent)
    if found.st_mode & 0o077:
        raise CredentialsError(
            f"{path} may be read or written by other users (mode {found.st_mode & 0o777:o}): "
            f"it is not used; chmod 600 {path}, and if others could read it, run "
            f"`{login_command(url)}`"
        )


def _check_folder(folder: Path) -> None:
    mode = folder.stat().st_mode
    if mode & 0o022:  # another user could replace the file with tokens of their own choosing
        raise CredentialsError(
            f"{folder} may be written by other users (mode {mode & 0o777:o}): "
            f"the token file is kept only in a folder they cannot write; chmod go-w {folder}"
        )


def _write(path: Path, entries: dict[str, dict[str, str]]) -> None:
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_folder(folder)
    text = json.dumps({"format": FORMAT, "tokens": entries}, indent=2, sort_keys=True) + "\n"
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a process of this pid that died mid-write
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        publish(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()

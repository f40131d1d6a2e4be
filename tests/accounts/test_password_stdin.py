"""``users add``'s password: read as UTF-8 whatever the locale, asked for without echo on a
terminal, and a user made without one is told so.

These run ``python -m pullstats`` itself, not the suite's forked command: the fork server gives
every command a UTF-8 standard input, and no terminal.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from pullstats.accounts import service
from pullstats.accounts.passwords import verify_password
from pullstats.runtime import Runtime
from tests.accounts.conftest import accounts_settings, run_pullstats
from tests.conftest import cli_env

#: a password with letters outside ASCII: in UTF-8 they are bytes a Latin-1 decoder reads as
#: other letters (ü as Ã¼)
PASSWORD = "Grüße aus Köln, fröhliche Bäume 77"


def _env(data_dir: Path, database_url: str | None, **more: str) -> dict[str, str]:
    return (
        cli_env(data_dir, {"PULLSTATS_DATABASE_URL": database_url} if database_url else {}) | more
    )


def _stored_password_is(data_dir: Path, database_url: str | None, user: str, password: str) -> bool:
    runtime = Runtime.open(accounts_settings(data_dir, database_url))
    try:
        with runtime.sessions() as session:
            return verify_password(service.get_user(session, user).password_hash, password)
    finally:
        runtime.close()


def test_a_utf8_password_is_stored_as_typed_under_any_locale(
    data_dir: Path, database_url: str | None
) -> None:
    """Under a Latin-1 locale the password's UTF-8 was read as other characters and stored so:
    the command said the user was created, and the real password never logged in."""
    added = subprocess.run(
        [sys.executable, "-m", "pullstats", "users", "add", "hal", "--password-stdin"],
        input=f"{PASSWORD}\r\n".encode(),  # a line from Windows: the \r\n is no part of it
        capture_output=True,
        env=_env(data_dir, database_url, PYTHONIOENCODING="latin-1"),
        timeout=120,
        check=False,
    )
    assert (added.returncode, added.stdout, added.stderr) == (0, b"user hal created\n", b"")
    assert _stored_password_is(data_dir, database_url, "hal", PASSWORD)


def test_a_closed_standard_input_is_no_password(data_dir: Path, database_url: str | None) -> None:
    """Started with standard input closed (``<&-``), Python has no ``sys.stdin``: that was an
    AttributeError line."""
    added = subprocess.run(
        [sys.executable, "-m", "pullstats", "users", "add", "hal", "--password-stdin"],
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.close(0),  # the shell's <&-
        capture_output=True,
        env=_env(data_dir, database_url),
        timeout=120,
        check=False,
    )
    assert (added.returncode, added.stdout) == (1, b"")
    assert added.stderr == b"error: no password on standard input (it is closed)\n"


def test_a_user_made_without_a_password_is_told_so(
    data_dir: Path, database_url: str | None
) -> None:
    """A password piped without --password-stdin was ignored in silence."""
    added = run_pullstats(data_dir, database_url, "users", "add", "jo", stdin=f"{PASSWORD}\n")
    assert (added.returncode, added.stderr) == (0, "")
    assert added.stdout == (
        "user jo created without a password: it logs in only with a personal access token "
        "(pullstats tokens create)\n"
    )
    assert not _stored_password_is(data_dir, database_url, "jo", PASSWORD)


def _read_until(fd: int, wanted: bytes, seen: bytearray, seconds: float) -> bool:
    """Read the terminal ``fd`` into ``seen`` until it holds ``wanted``, or until its end."""
    deadline = time.monotonic() + seconds
    while wanted not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side is closed
            return False
        if not chunk:
            return False
        seen += chunk
    return True


#: ``pullstats`` with the terminal on standard input as its controlling terminal (getpass
#: reads /dev/tty), as a login shell gives it one
ON_A_TERMINAL = """
import fcntl, runpy, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
sys.argv = ["pullstats", *sys.argv[1:]]
runpy.run_module("pullstats", run_name="__main__")
"""


def test_on_a_terminal_the_password_is_asked_for_and_not_echoed(
    data_dir: Path, database_url: str | None
) -> None:
    """It was read with no prompt, and the terminal showed it as it was typed."""
    controller, terminal = os.openpty()
    seen = bytearray()
    try:
        command = subprocess.Popen(
            [sys.executable, "-c", ON_A_TERMINAL, "users", "add", "tty", "--password-stdin"],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=_env(data_dir, database_url),
            start_new_session=True,  # a session of its own, whose terminal this is
        )
    finally:
        os.close(terminal)
    try:
        assert _read_until(controller, b"Password: ", seen, 60), bytes(seen)
        os.write(controller, f"{PASSWORD}\n".encode())
        _read_until(controller, b"user tty created\r\n", seen, 60)
        assert command.wait(timeout=60) == 0, bytes(seen)
    finally:
        command.kill()  # if it is still waiting for a password
        command.wait()
        os.close(controller)
    assert bytes(seen).replace(b"\r\n", b"\n") == b"Password: \nuser tty created\n"
    assert PASSWORD.encode() not in seen
    assert _stored_password_is(data_dir, database_url, "tty", PASSWORD)

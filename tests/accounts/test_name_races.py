"""Two operators adding the same user or namespace at once: the one that loses the race is told
the name is taken, in the same one line as when it was taken before, on either catalog.

``users add`` looks the name up, hashes the password (argon2: slow on purpose) and then inserts
the row; another ``users add`` of the name committed in between failed the insert with the
database's own error (PostgreSQL's ``IntegrityError: (psycopg.errors.UniqueViolation) …
[SQL: INSERT …]``, SQLite's ``UNIQUE constraint failed: users.name``). Here the race is made
certain: the racing command runs the real command line with its step between the look-up and
the insert (the hash for a user, the creation time for a namespace) replaced by running the
other ``pullstats`` command to its end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.accounts.conftest import PASSWORD, run_pullstats
from tests.conftest import cli_env

#: ``pullstats`` with the arguments after ``--``, which runs the other command (the arguments
#: before it) to its end between the look-up and the insert
RACING = """
import subprocess, sys
from pullstats.accounts import service
cut = sys.argv.index("--")
other, sys.argv = sys.argv[1:cut], ["pullstats", *sys.argv[cut + 1:]]
step = service.hash_password if other[:2] == ["users", "add"] else service._now
def meanwhile(*args):
    command = [sys.executable, "-m", "pullstats", *other]
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL)
    setattr(service, step.__name__, step)
    return step(*args)
setattr(service, step.__name__, meanwhile)
from pullstats.cli.main import run
run()
"""


@pytest.mark.parametrize(
    ("other", "racing", "taken"),
    [
        # the racing user has a password: its hash is the step between look-up and insert
        (["users", "add", "jo"], ["--password-stdin"], "user 'jo' already exists"),
        (["namespaces", "add", "acme"], [], "namespace 'acme' already exists"),
    ],
)
def test_a_name_taken_meanwhile_is_already_exists_in_one_line(
    data_dir: Path, database_url: str | None, other: list[str], racing: list[str], taken: str
) -> None:
    extra = {"PULLSTATS_DATABASE_URL": database_url} if database_url else {}
    lost = subprocess.run(
        [sys.executable, "-c", RACING, *other, "--", *other, *racing],
        input=f"{PASSWORD}\n",
        capture_output=True,
        text=True,
        env=cli_env(data_dir, extra),
        timeout=120,
        check=False,
    )
    assert (lost.returncode, lost.stderr) == (1, f"error: {taken}\n")
    # the other command's row, once
    listed = run_pullstats(data_dir, database_url, other[0], "list").stdout.splitlines()
    assert [line.split()[0] for line in listed[1:]] == [other[2]]

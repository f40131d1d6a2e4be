"""Namespace and repository names typed at the command line follow pullstats.names: a namespace
too long for an export file name is refused, with one line saying why, before anything is
stored."""

from __future__ import annotations

from pathlib import Path

from tests.accounts.conftest import PASSWORD, cli_outcome

NS64 = "n" * 64
NS65 = "n" * 65


def test_names_are_checked_by_every_command_that_takes_one(
    data_dir: Path, database_url: str | None
) -> None:
    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        return cli_outcome(data_dir, database_url, *args, stdin=stdin)

    assert run("users", "add", "alice", "--password-stdin", stdin=PASSWORD)[0] == 0
    assert run("namespaces", "add", NS64)[0] == 0

    code, _, stderr = run("namespaces", "add", "n" * 240)
    assert code == 1
    assert stderr.strip() == (
        f"error: namespace {'n' * 80!r}… (240 characters) is longer than 64 characters"
    )
    assert run("namespaces", "add", NS65)[0] == 1
    assert run("namespaces", "add", "Acme")[0] == 1

    code, _, stderr = run("members", "add", NS65, "alice")
    assert code == 1 and "is longer than 64 characters" in stderr

    code, _, stderr = run("namespaces", "extra-repos", "add", NS64, f"{NS65}/app")
    assert code == 1 and "its namespace is longer than 64 characters" in stderr
    code, _, stderr = run("namespaces", "extra-repos", "add", NS64, "other/" + "b" * 250)
    assert code == 1 and "longer than 255 characters" in stderr
    assert run("namespaces", "extra-repos", "add", NS65, "other/app")[0] == 1

    code, stdout, _ = run("namespaces", "list")
    assert code == 0
    assert [line.split()[0] for line in stdout.splitlines()[1:]] == [NS64]
    assert "other/" not in stdout

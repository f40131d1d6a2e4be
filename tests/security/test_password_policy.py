"""New passwords: at least 12 characters and not easy to guess (issue 14 §3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pullstats.accounts.errors import InvalidValue
from pullstats.accounts.login import authenticate
from pullstats.accounts.password_policy import check_new_password
from pullstats.demo.seed import DEMO_PASSWORD, DEMO_USER, seed_demo
from pullstats.runtime import Runtime
from tests.conftest import run_cli


def _add(data_dir: Path, password: str, *extra: str) -> tuple[int, str]:
    result = run_cli(
        data_dir, "users", "add", "alice", "--password-stdin", *extra, stdin=f"{password}\n"
    )
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("hunt2", "error: the password is too short: 5 characters, at least 12 are needed"),
        ("elevenchars", "error: the password is too short: 11 characters, at least 12 are needed"),
        ("password1234", "error: the password is too easy to guess"),
        ("qwertyuiop123", "error: the password is too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "error: the password is too easy to guess"),
        ("alice-alice-alice", "error: the password is too easy to guess"),
        ("x" * 1025, "error: the password is too long: at most 1024 characters"),
    ],
    ids=["5-chars", "11-chars", "common", "keyboard", "repeat", "own-name", "over-1024"],
)
def test_weak_passwords_are_refused_and_nothing_is_created(
    data_dir: Path, password: str, message: str
) -> None:
    code, stderr = _add(data_dir, password)
    assert code == 1
    assert stderr.startswith(message), stderr
    assert stderr.count("\n") == 1  # one line
    listed = run_cli(data_dir, "users", "list")
    assert "alice" not in listed.stdout


def test_a_strong_password_is_accepted(data_dir: Path) -> None:
    assert _add(data_dir, "correct horse battery staple") == (0, "")
    assert "alice" in run_cli(data_dir, "users", "list").stdout


def test_the_email_counts_as_a_known_word() -> None:
    check_new_password("kyberlimnots", "alice")  # fine on its own
    with pytest.raises(InvalidValue, match="too easy to guess"):
        check_new_password("kyberlimnots", "alice", "kyber.limnots@example.org")


def test_the_demo_password_still_logs_in(runtime: Runtime) -> None:
    """The demo's published password would not pass the policy (it names the product); the demo
    makes its user through the account service, outside the policy, so it keeps working."""
    with pytest.raises(InvalidValue):
        check_new_password(DEMO_PASSWORD, DEMO_USER)
    seed_demo(runtime, requests_per_day=1)
    with runtime.sessions.begin() as session:
        assert authenticate(session, DEMO_USER, DEMO_PASSWORD) is not None

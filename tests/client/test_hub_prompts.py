"""``pullstats hub login`` without a terminal (cron, CI, a pipe): the hidden prompt reads
standard input quietly, without getpass's warning and the line of its source it printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import cli_env

PROMPT = "Password or personal access token"
LOGIN = [sys.executable, "-m", "pullstats", "hub", "login"]


def login_without_a_terminal(tmp_path: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    env = cli_env(tmp_path / "data", {"XDG_CONFIG_HOME": str(tmp_path / "config")})
    return subprocess.run(
        [*LOGIN, "--url", "http://127.0.0.1:9", "--username", "alice"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        start_new_session=True,  # no controlling terminal: getpass cannot open /dev/tty
        timeout=120,
        check=False,
    )


def test_no_answer_is_one_line_after_the_prompt(tmp_path: Path) -> None:
    done = login_without_a_terminal(tmp_path, "")
    assert done.returncode == 1
    # no option takes a password: it said "give it as an option or on standard input"
    assert done.stderr == (
        f"{PROMPT}: error: no answer to {PROMPT!r}: give it on standard input or in "
        "PULLSTATS_HUB_PASSWORD\n"
    )


def test_a_password_on_standard_input_is_read_and_never_shown(tmp_path: Path) -> None:
    done = login_without_a_terminal(tmp_path, "s3cret-pass\n")
    assert done.returncode == 1
    # read, then sent to a port where nothing listens
    assert done.stderr.startswith(f"{PROMPT}: error: no answer from the server")
    assert "Warning" not in done.stderr and "s3cret-pass" not in done.stdout + done.stderr

"""``pullstats hub query`` prints export data to a person's terminal without its control
characters acting on the terminal, and on an ASCII-only one without failing; CSV and JSON keep
the values exact. The data is a raw part written here as a server's export would be (a user
agent is whatever a client sent); the query needs no server."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli_env, run_cli

#: a user agent as a hostile client could send it: clear the screen, red, a window title and
#: a hyperlink (OSC 0 and 8), a C1 CSI, a tab and a newline; then a plain non-ASCII one
HOSTILE = "docker/27\x1b[2J\x1b[31mred\x1b]0;pwned\x07\x1b]8;;http://x\x1b\\link\x9b1m\tx\ny"
ACCENTED = "curl/8.5 (café)"


def exports(root: Path) -> Path:
    part = root / "acme" / "2026" / "months" / "11" / "raw" / "part001.csv.gz"
    part.parent.mkdir(parents=True)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["timestamp", "namespace", "repository", "user_agent"])
    writer.writerow(["2026-11-10T12:00:00Z", "acme", "api", HOSTILE])
    writer.writerow(["2026-11-10T12:00:01Z", "acme", "api", ACCENTED])
    part.write_bytes(gzip.compress(text.getvalue().encode()))
    return root


SQL = "SELECT user_agent FROM raw ORDER BY timestamp"


def test_the_table_escapes_control_characters_and_machine_formats_keep_them(
    tmp_path: Path,
) -> None:
    root = exports(tmp_path / "exports")
    data = tmp_path / "data"
    table = run_cli(data, "hub", "query", str(root), SQL)
    assert table.returncode == 0, table.stderr
    # nothing but printable characters and the line ends reach the terminal
    assert all(c.isprintable() for c in table.stdout.replace("\n", "")), repr(table.stdout)
    lines = table.stdout.splitlines()
    assert len(lines) == 4  # the header, its rule and one line a row: the newline is escaped
    assert lines[2].strip() == (
        "docker/27\\x1b[2J\\x1b[31mred\\x1b]0;pwned\\x07\\x1b]8;;http://x\\x1b\\link\\x9b1m"
        "\\x09x\\x0ay"
    )
    assert lines[3].strip() == ACCENTED  # a UTF-8 terminal shows it as it is
    # machine formats: the exact values (JSON spells the controls as its own escapes)
    as_csv = run_cli(data, "hub", "query", str(root), SQL, "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [["user_agent"], [HOSTILE], [ACCENTED]]
    as_json = run_cli(data, "hub", "query", str(root), SQL, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert "\x1b" not in as_json.stdout and as_json.stdout.isascii()
    assert json.loads(as_json.stdout) == [{"user_agent": HOSTILE}, {"user_agent": ACCENTED}]


def test_an_ascii_terminal_gets_backslash_escapes_not_an_error(tmp_path: Path) -> None:
    root = exports(tmp_path / "exports")
    # a process of its own: the tests' forked commands write UTF-8 whatever the environment says
    env = cli_env(tmp_path / "data", {"PYTHONIOENCODING": "ascii"})

    def pullstats(*args: str) -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, "-m", "pullstats", "hub", "query", str(root), *args]
        return subprocess.run(command, capture_output=True, env=env, timeout=120, check=False)

    table = pullstats(SQL)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.decode("ascii").splitlines()
    assert lines[1].strip() and set(lines[1].strip()) == {"-"}  # the rule, drawn in ASCII
    assert lines[3].strip() == "curl/8.5 (caf\\xe9)"
    # CSV cannot keep the value exact there: one line saying so, and nothing half written
    as_csv = pullstats(SQL, "--format", "csv")
    assert as_csv.returncode == 1 and as_csv.stdout == b""
    said = as_csv.stderr.decode("ascii")
    # the first character ASCII lacks: HOSTILE's C1 CSI
    assert said.startswith("error: standard output's encoding (ascii) cannot write '\\x9b'")
    assert "PYTHONIOENCODING=utf-8" in said and len(said.splitlines()) == 1
    as_json = pullstats(SQL, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)[1] == {"user_agent": ACCENTED}

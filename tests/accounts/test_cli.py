"""The operator commands of accounts, through the real ``pullstats`` command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pyotp
import pytest

from pullstats.runtime import Runtime
from tests.accounts.conftest import PASSWORD, cli_outcome, run_pullstats
from tests.conftest import cli_env


def test_accounts_commands(data_dir: Path, database_url: str | None) -> None:
    def ok(*args: str, stdin: str | None = None) -> str:
        result = run_pullstats(data_dir, database_url, *args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def refused(*args: str) -> str:
        result = run_pullstats(data_dir, database_url, *args)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        return result.stderr

    ok("users", "add", "alice", "--password-stdin", "--email", "a@example.org", stdin=PASSWORD)
    ok("namespaces", "add", "acme")
    ok("members", "add", "acme", "alice", "--role", "owner")
    ok("namespaces", "extra-repos", "add", "acme", "other/app")
    assert re.search(r"^acme\s+1\s+other/app\s*$", ok("namespaces", "list"), re.MULTILINE)

    created = ok("tokens", "create", "alice", "--label", "ci", "--expires", "2099-01-31")
    token = created.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"pst_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", token)
    token_id = token.split("_")[1]
    listed = ok("tokens", "list")
    # the secret is shown once; it may itself hold "_" (base64url), so split off only two parts
    assert token not in listed and token.split("_", 2)[2] not in listed
    assert re.search(
        rf"^{token_id}\s+alice\s+ci\s+analytics:read\s+active\s+2099-01-31T00", listed, re.M
    )
    assert "unknown scope" in refused(
        "tokens", "create", "alice", "--label", "x", "--scope", "root"
    )
    assert "--expires" in refused("tokens", "create", "alice", "--label", "x", "--expires", "soon")
    assert "future" in refused(
        "tokens", "create", "alice", "--label", "x", "--expires", "2001-01-01"
    )
    assert "revoked" in ok("tokens", "revoke", token_id)
    assert re.search(rf"^{token_id}\s.*\srevoked\s", ok("tokens", "list", "alice"), re.M)

    enabled = ok("users", "totp", "enable", "alice")
    uri = enabled.rstrip("\n").splitlines()[-1]
    assert uri.startswith("otpauth://totp/") and "issuer=pullstats" in uri
    assert "▀" in enabled or "▄" in enabled  # the terminal QR code
    assert isinstance(pyotp.parse_uri(uri), pyotp.TOTP)
    assert "already on" in refused("users", "totp", "enable", "alice")
    # no padding after the last column: a script's grep 'acme$' finds the row
    assert re.search(r"^alice\s+a@example.org\s+active\s+on\s+acme$", ok("users", "list"), re.M)
    ok("users", "totp", "disable", "alice")
    ok("users", "disable", "alice")
    assert re.search(r"^alice\s+\S+\s+disabled\s+off\s", ok("users", "list"), re.M)

    ok("members", "remove", "acme", "alice")
    assert "not a member" in refused("members", "remove", "acme", "alice")
    assert "no user 'ghost'" in refused("tokens", "create", "ghost", "--label", "x")

    ingest = ok("ingest-tokens", "create", "registry-1").rstrip("\n").splitlines()[-1]
    ingest_id = ingest.split("_")[1]
    assert re.search(
        rf"^{ingest_id}\s+registry-1\s+\S+\s+active", ok("ingest-tokens", "list"), re.M
    )
    ok("ingest-tokens", "revoke", ingest_id)
    assert re.search(rf"^{ingest_id}\s.*revoked", ok("ingest-tokens", "list"), re.M)
    assert "no ingest token" in refused("ingest-tokens", "revoke", "0" * 16)


def test_an_expiry_outside_the_years_of_utc_is_one_line(data_dir: Path) -> None:
    """An offset that moves the time past year 9999 (or before year 1) in UTC failed as
    ``OverflowError: date value out of range``; refused before anything is opened."""
    for when in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00"):
        status, _, stderr = cli_outcome(
            data_dir, None, "tokens", "create", "alice", "--label", "e", "--expires", when
        )
        assert status == 1 and stderr == (
            f"error: --expires '{when}': in UTC that is outside the years 1 to 9999\n"
        )
    assert not data_dir.exists()


def test_labels_that_would_break_a_listing_are_refused(
    data_dir: Path, database_url: str | None
) -> None:
    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        return cli_outcome(data_dir, database_url, *args, stdin=stdin)

    assert run("users", "add", "alice", "--password-stdin", stdin=PASSWORD)[0] == 0
    control = "must not hold a control character (a newline, a tab, a change of text direction, …)"
    for args, message in [
        (("tokens", "create", "alice", "--label", "ci\nforged-row"), f"a token label {control}"),
        (("tokens", "create", "alice", "--label", "  "), "a token label must be 1 to 128"),
        (("ingest-tokens", "create", "reg\tfake"), f"an ingest token's name {control}"),
        (("ingest-tokens", "create", ""), "an ingest token's name must be 1 to 128 characters"),
        # the catalog's column is 128 characters: PostgreSQL refused longer ones with an error
        (("ingest-tokens", "create", "r" * 129), "an ingest token's name must be 1 to 128"),
    ]:
        status, _, stderr = run(*args)
        assert status == 1 and f"error: {message}" in stderr, (args, stderr)
    assert "alice" not in run("tokens", "list")[1]
    assert run("ingest-tokens", "list")[1].count("\n") <= 2  # a header, no row
    status, created, _ = run("ingest-tokens", "create", " mirror ✓ ")
    assert status == 0 and "created for mirror ✓;" in created
    # printed as it is, not as Rich markup: "[/x]" failed the command after the token was
    # made, so its secret was never shown
    status, created, _ = run("ingest-tokens", "create", "[/x] [bold]reg")
    assert status == 0 and "created for [/x] [bold]reg;" in created
    assert created.rstrip("\n").splitlines()[-1].startswith("psi_")


def test_a_password_that_is_no_utf8_or_a_name_too_long_is_one_line(
    data_dir: Path, database_url: str | None
) -> None:
    # a Latin-1 é: it failed as UnicodeEncodeError when hashed
    extra = {"PULLSTATS_DATABASE_URL": database_url} if database_url else {}
    latin1 = subprocess.run(
        [sys.executable, "-m", "pullstats", "users", "add", "jack", "--password-stdin"],
        input=b"caf\xe9-horse-battery-zebra\n",
        capture_output=True,
        env=cli_env(data_dir, extra),
        timeout=120,
        check=False,
    )
    assert latin1.returncode == 1
    assert latin1.stderr.decode().strip() == (
        "error: the password on standard input is not UTF-8 text"
    )
    long = run_pullstats(data_dir, database_url, "users", "add", "a" * 65)
    assert long.returncode == 1
    assert "use 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit" in long.stderr


def test_a_label_holds_no_control_character_or_line_separator() -> None:
    from pullstats.accounts.errors import InvalidValue
    from pullstats.accounts.service import checked_label

    assert checked_label("  CI — nightly ✓ ", "a label") == "CI — nightly ✓"
    assert checked_label("deploy 🚀‍🔥 ✓", "a label") == "deploy 🚀‍🔥 ✓"  # a joiner is no control
    for text in ("a\x00b", "a\x7fb", "a\x85b", "a\u2028b", "a\u2029b", "a\rb", "abc\u202edcba.exe",
                 "a\u2066b", "a\u200fb"):  # fmt: skip
        with pytest.raises(InvalidValue, match="must not hold a control character"):
            checked_label(text, "a label")


def test_revoking_takes_a_pasted_token_and_never_shows_a_secret(
    data_dir: Path, database_url: str | None
) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        return cli_outcome(data_dir, database_url, *args)

    assert run("users", "add", "alice")[0] == 0
    pat = run("tokens", "create", "alice", "--label", "ci")[1].rstrip("\n").splitlines()[-1]
    ingest = run("ingest-tokens", "create", "registry-1")[1].rstrip("\n").splitlines()[-1]
    pat_id, ingest_id = pat.split("_")[1], ingest.split("_")[1]

    # read from a file written on Windows, or pasted with a space: the token it names is revoked
    assert run("tokens", "revoke", f"{pat}\r\n") == (0, "access token revoked\n", "")
    assert re.search(rf"^{pat_id}\s.*\srevoked\s", run("tokens", "list")[1], re.M)
    assert run("ingest-tokens", "revoke", f" {ingest}") == (0, "ingest token revoked\n", "")
    assert re.search(rf"^{ingest_id}\s.*revoked", run("ingest-tokens", "list")[1], re.M)

    # tokens of no catalog entry, and a token given to the other kind's command: the refusal
    # names the id at most, never the secret
    unknown_pat = "pst_0123456789abcdef_" + "S" * 43
    unknown_ingest = "psi_0123456789abcdef_" + "T" * 43
    for args, line in [
        (
            ("tokens", "revoke", unknown_pat + "\r"),
            "error: no personal access token pst_0123456789abcdef_…",
        ),
        (
            ("ingest-tokens", "revoke", " " + unknown_ingest),
            "error: no ingest token psi_0123456789abcdef_…",
        ),
        (
            ("tokens", "revoke", ingest),
            "error: no personal access token: give its id (16 hex digits, as `pullstats tokens "
            "list` shows it) or the whole token (pst_<id>_<secret>); what was given is not "
            "shown, as it may be a secret",
        ),
        (
            ("ingest-tokens", "revoke", "x" + pat),
            "error: no ingest token: give its id (16 hex digits, as `pullstats ingest-tokens "
            "list` shows it) or the whole token (psi_<id>_<secret>); what was given is not "
            "shown, as it may be a secret",
        ),
        (("tokens", "revoke", "0" * 16), f"error: no personal access token {'0' * 16}"),
    ]:
        status, _, stderr = run(*args)
        assert (status, stderr) == (1, line + "\n"), args
    assert run("tokens", "revoke", pat_id) == (0, "access token was already revoked\n", "")


def test_an_email_that_would_forge_a_row_or_not_fit_is_refused(
    data_dir: Path, database_url: str | None
) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        return cli_outcome(data_dir, database_url, *args)

    forged = "x@y\nroot  admin@evil  active  on  acme"
    longest = "a" * 64 + "@" + "d" * 189  # 254 characters: the longest an SMTP path carries
    for email, message in [
        (forged, "--email must not hold a space or a control character (a newline, a tab, a "
                 "change of text direction, …)"),
        ("al ice@example.org", "--email must not hold a space or a control character"),
        ("al\u202eice@example.org", "--email must not hold a space or a control character"),
        # the catalog's column is 320 characters: PostgreSQL refused longer ones with an error
        ("a" * 400 + "@example.org", "--email is 412 bytes long: an address is at most 254 "
                                      "(the longest an SMTP path carries, RFC 5321)"),
        (longest + "d", "--email is 255 bytes long"),
        ("é" * 125 + "@example.org", "--email is 262 bytes long"),  # 137 characters
        ("alice.example.org", "--email must be an address, name@domain"),
        ("alice@", "--email must be an address, name@domain"),
        ("", "--email must be an address, name@domain"),
    ]:  # fmt: skip
        status, _, stderr = run("users", "add", "mallory", "--email", email)
        assert status == 1 and stderr.startswith(f"error: {message}"), (email, stderr)
        assert stderr.count("\n") == 1, stderr
    assert not data_dir.exists()  # refused before anything was made
    assert run("users", "add", "mallory", "--email", f" {longest} ")[0] == 0
    listed = run("users", "list")[1]
    assert listed.splitlines()[1].split() == ["mallory", longest, "active", "off", "-"]


def test_every_way_in_checks_the_email(runtime: Runtime) -> None:
    """The service refuses what the command line does, naming the value as its caller says."""
    from pullstats.accounts.errors import InvalidValue
    from pullstats.accounts.service import checked_email, create_user, list_users

    refused = pytest.raises(InvalidValue, match=r"^an e-mail address must not hold a space")
    with refused, runtime.sessions.begin() as session:
        create_user(session, "mallory", None, "x@y\nroot  admin@evil  active")
    with runtime.sessions.begin() as session:
        create_user(session, "al", None, " al@example.org ")
    with runtime.sessions() as session:
        assert [(u.name, u.email) for u in list_users(session)] == [("al", "al@example.org")]

    assert checked_email(" a@example.org\n", "an e-mail address") == "a@example.org"
    assert checked_email("ü@exämple.org", "--email") == "ü@exämple.org"
    for text, message in [
        ("a@b\x00c", "an e-mail address must not hold a space or a control character"),
        ("a\u2028@b", "an e-mail address must not hold a space or a control character"),
        ("@example.org", "an e-mail address must be an address, name@domain"),
        ("a" * 250 + "@b.de", "an e-mail address is 255 bytes long"),
        # an @ of the name is an address's only inside quotes (RFC 5321)
        ("a@b@c", "an e-mail address must be an address, name@domain"),
    ]:
        with pytest.raises(InvalidValue, match=re.escape(message)):
            checked_email(text, "an e-mail address")
    assert checked_email('"a@b"@example.org', "--email") == '"a@b"@example.org'


def test_a_listing_lines_up_wide_characters(data_dir: Path, database_url: str | None) -> None:
    """A column was padded by the count of characters, so an address with CJK characters (two
    terminal columns each) pushed the rest of its row out of line."""

    def run(*args: str) -> tuple[int, str, str]:
        return cli_outcome(data_dir, database_url, *args)

    assert run("users", "add", "al", "--email", "李@例え.jp")[0] == 0
    assert run("users", "add", "bob", "--email", "b@example.org")[0] == 0
    status, listed, _ = run("users", "list")
    assert status == 0
    # 李@例え.jp takes 2 + 1 + 2 + 2 + 3 = 10 columns: 3 spaces to b@example.org's 13
    assert [line.rstrip() for line in listed.splitlines()] == [
        "NAME  EMAIL          STATE   TOTP  NAMESPACES",
        "al    李@例え.jp     active  off   -",
        "bob   b@example.org  active  off   -",
    ]

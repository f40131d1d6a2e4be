"""The operator commands of accounts, through the real ``pullstats`` command line."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp

from tests.accounts.conftest import PASSWORD, run_pullstats


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
    assert re.search(r"^alice\s+a@example.org\s+active\s+on\s+acme\s*$", ok("users", "list"), re.M)
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

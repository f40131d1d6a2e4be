"""``pullstats keys rotate`` (issue 14 §2.9): a new key signs from then on, the old one verifies
until what it signed has expired and is then refused and deleted; a running server sees it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from pullstats.accounts import jwt_tokens
from pullstats.exports.signing import sign
from pullstats.key_rings import download_key_ring, jwt_key_ring
from pullstats.periods import last_complete_months
from pullstats.runtime import Runtime
from pullstats.signing_keys import FIRST_KID, KeyRing, prune, rotate
from tests.conftest import Server, catalog_settings, run_cli
from tests.security.conftest import PASSWORD

API = "/api/publisher/analytics/v1"
PULLS = f"{API}/namespaces/acme/pulls"
HOUR = 3600.0


# -- the key ring on real files, with the clock passed in --------------------------------------


def test_an_existing_key_file_is_the_first_key(tmp_path: Path) -> None:
    (tmp_path / "jwt.key").write_bytes(b"k" * 32)
    ring = KeyRing(tmp_path, "jwt", HOUR)
    key = ring.signing_key()
    assert (key.kid, key.secret, key.retired) == (FIRST_KID, b"k" * 32, None)


def test_the_first_key_leaves_the_operators_folder_as_it_was(tmp_path: Path) -> None:
    """PULLSTATS_KEYS_DIR is never re-permissioned: a group-readable shared mount stays one."""
    shared = tmp_path / "shared-keys"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    KeyRing(shared, "jwt", 3600).signing_key()
    assert (shared.stat().st_mode & 0o777, len(list(shared.iterdir()))) == (0o750, 1)
    made = tmp_path / "made" / "keys"  # a folder it makes is the owner's alone
    KeyRing(made, "jwt", 3600).signing_key()
    assert made.stat().st_mode & 0o777 == 0o700


def test_a_retired_key_verifies_for_its_lifetime_then_is_dropped(tmp_path: Path) -> None:
    ring = KeyRing(tmp_path, "jwt", HOUR)
    first = ring.signing_key()
    assert (tmp_path / "jwt.key").read_bytes() == first.secret  # a fresh data dir's first key
    new, dropped = rotate(ring, now=1_800_000_000.0)
    assert new.kid == "20270115T080000000000Z" and dropped == []
    assert ring.signing_key() == new
    assert ring.verifying_key(FIRST_KID, now=1_800_000_000.0 + HOUR - 1) is not None
    assert ring.verifying_key(FIRST_KID, now=1_800_000_000.0 + HOUR) is None
    assert ring.verifying_key(new.kid, now=1_900_000_000.0) == new  # the signing key never ends
    assert ring.verifying_key("20270115T080000000001Z") is None  # never made
    assert prune(ring, now=1_800_000_000.0 + HOUR - 1) == []
    assert [key.kid for key in prune(ring, now=1_800_000_000.0 + HOUR)] == [FIRST_KID]
    assert not (tmp_path / "jwt.key").exists()
    assert (tmp_path / "jwt" / f"{new.kid}.key").read_bytes() == new.secret


def test_a_mac_of_a_retired_key_is_accepted_for_its_lifetime(tmp_path: Path) -> None:
    """What the dashboard signs with HMACs (form tokens, a TOTP enrolment in progress) outlives
    a rotation as a JWT does."""
    ring = KeyRing(tmp_path, "jwt", HOUR)
    first = ring.signing_key()
    mac = hmac.new(first.secret, b"csrf:cookie", hashlib.sha256).hexdigest()
    assert ring.signs(b"csrf:cookie") == mac
    new, _ = rotate(ring, now=1_800_000_000.0)
    assert ring.signs(b"csrf:cookie") == (
        hmac.new(new.secret, b"csrf:cookie", hashlib.sha256).hexdigest()
    )
    assert ring.signed(b"csrf:cookie", mac, now=1_800_000_000.0 + HOUR - 1)
    assert not ring.signed(b"csrf:cookie", mac, now=1_800_000_000.0 + HOUR)
    assert not ring.signed(b"csrf:other", mac, now=1_800_000_000.0)
    assert not ring.signed(b"csrf:cookie", mac[:-1] + "\xe9", now=1_800_000_000.0)
    assert not ring.signed(b"csrf:cookie", "", now=1_800_000_000.0)


# -- a real server and the real command line --------------------------------------------------


def _login(server: Server) -> str:
    with server.client() as client:
        answer = client.post("/v2/users/login", json={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def _kid(token: str) -> str:
    header = token.split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


def _get(server: Server, path: str, token: str) -> httpx.Response:
    with server.client() as client:
        return client.get(path, headers={"Authorization": f"Bearer {token}"})


def _link(server: Server, token: str) -> str:
    month = last_complete_months(datetime.now(UTC).date(), 1)[0]
    path = f"{API}/namespaces/acme/pulls/exports/years/{month.year}/months/{month.month}/summary"
    answer = _get(server, path, token)
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["data"][0]["url"]
    return url


def _download(server: Server, url: str) -> int:
    with server.client() as client:
        return client.get(url).status_code


@pytest.mark.e2e
def test_a_rotation_reaches_a_running_server(world: Server) -> None:
    token_before = _login(world)  # signed before the rotation, not yet seen by the server
    link_before = _link(world, _login(world))
    assert _kid(token_before) == FIRST_KID
    assert parse_qs(urlsplit(link_before).query)["kid"] == [FIRST_KID]
    # what a data dir's server handed out before rotation existed: no kid, no sgen
    claims = jwt.decode(token_before, options={"verify_signature": False})
    del claims["sgen"]
    first_key = (world.data_dir / "keys" / "jwt.key").read_bytes()
    legacy_token = jwt.encode(claims, first_key, algorithm="HS256")
    assert "kid" not in jwt.get_unverified_header(legacy_token)
    legacy_link = link_before.replace("&kid=0", "")
    assert "kid=" not in legacy_link

    with world.client() as dashboard:
        csrf = _dashboard_before_rotation(world, dashboard)
        rotated = run_cli(world.data_dir, "keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        _dashboard_after_rotation(dashboard, csrf)
    new_kids = sorted(path.stem for path in (world.data_dir / "keys" / "jwt").iterdir())
    new_download_kids = [p.stem for p in (world.data_dir / "keys" / "download").iterdir()]
    assert len(new_kids) == 1 and len(new_download_kids) == 1
    assert f"jwt: key {new_kids[0]} signs from now on" in rotated.stdout
    assert "jwt: key 0 still verifies until " in rotated.stdout

    # the old key still verifies what it signed, the new key signs from now on
    assert _get(world, PULLS, token_before).status_code == 200
    assert _download(world, link_before) == 200
    assert _get(world, PULLS, legacy_token).status_code == 200
    assert _download(world, legacy_link) == 200
    token_after = _login(world)
    assert _kid(token_after) == new_kids[0]
    assert _get(world, PULLS, token_after).status_code == 200
    link_after = _link(world, token_after)
    assert parse_qs(urlsplit(link_after).query)["kid"] == new_download_kids
    assert _download(world, link_after) == 200

    listed = run_cli(world.data_dir, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert any(
        line.split()[:3] == ["jwt", "0", "-"] and "verifying until" in line
        for line in listed.stdout.splitlines()
    )
    assert any(
        line.split()[:2] == ["download", new_download_kids[0]] and line.endswith("signing")
        for line in listed.stdout.splitlines()
    )


@pytest.mark.e2e
def test_a_key_past_its_lifetime_is_refused_then_deleted(world: Server) -> None:
    """The first keys were retired two hours ago (longer than a JWT, a login_2fa_token or a
    link lives): what they signed is refused even where it has not expired itself."""
    settings = catalog_settings(world.data_dir)
    jwt_ring, download_ring = jwt_key_ring(settings), download_key_ring(settings)
    first_jwt, first_download = jwt_ring.signing_key(), download_ring.signing_key()
    user_id = jwt_tokens.verify(jwt_ring, _login(world)).subject
    link = urlsplit(_link(world, _login(world)))
    file_id, sha256 = (
        int(link.path.split("/")[2]),
        _sha256(world.data_dir, int(link.path.split("/")[2])),
    )
    current_jwt, _ = rotate(jwt_ring, now=time.time() - 2 * HOUR)
    current_download, _ = rotate(download_ring, now=time.time() - 2 * HOUR)

    old_token = jwt_tokens.issue(first_jwt, user_id, timedelta(hours=1))
    refused = _get(world, PULLS, old_token)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "invalid token: unknown or retired signing key"
    assert (
        _get(world, PULLS, jwt_tokens.issue(current_jwt, user_id, timedelta(hours=1))).status_code
        == 200
    )
    assert _kid(_login(world)) == current_jwt.kid

    base = f"{world.url}{link.path}"
    old_link = sign(first_download, file_id, sha256, 600)
    assert _download(world, f"{base}?{old_link.query()}") == 403
    new_link = sign(current_download, file_id, sha256, 600)
    assert _download(world, f"{base}?{new_link.query()}") == 200

    rotated = run_cli(world.data_dir, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "jwt: key 0 deleted (everything it signed has expired)" in rotated.stdout
    assert "download: key 0 deleted (everything it signed has expired)" in rotated.stdout
    assert not (world.data_dir / "keys" / "jwt.key").exists()
    assert not (world.data_dir / "keys" / "download.key").exists()
    # the key that signed until this rotation still verifies
    assert (
        _get(world, PULLS, jwt_tokens.issue(current_jwt, user_id, timedelta(hours=1))).status_code
        == 200
    )


def _sha256(data_dir: Path, file_id: int) -> str:
    from pullstats.db.models import ExportFile

    runtime = Runtime.open(catalog_settings(data_dir))
    try:
        with runtime.sessions() as session:
            entry = session.get(ExportFile, file_id)
            assert entry is not None
            return entry.sha256
    finally:
        runtime.close()


def test_keys_commands_need_an_existing_data_dir(tmp_path: Path) -> None:
    for command in (("keys", "rotate"), ("keys", "list")):
        result = run_cli(tmp_path / "nope", *command)
        assert result.returncode == 1
        assert result.stderr.startswith("error: no pullstats data dir at ")
        assert "or create one with `pullstats db upgrade`" in " ".join(result.stderr.split())
        assert not (tmp_path / "nope").exists()


def test_rotating_a_data_dir_that_never_served_makes_the_first_keys(tmp_path: Path) -> None:
    # no key signed anything yet: no "key 0 still verifies" about a key made that instant
    data_dir = tmp_path / "data"
    assert run_cli(data_dir, "db", "upgrade").returncode == 0
    rotated = run_cli(data_dir, "keys", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.splitlines() == [
        f"jwt: key {FIRST_KID} signs from now on (the first: nothing was signed before)",
        f"download: key {FIRST_KID} signs from now on (the first: nothing was signed before)",
    ]
    listed = run_cli(data_dir, "keys", "list").stdout.splitlines()
    assert [line.split()[::3] for line in listed[1:]] == [
        ["jwt", "signing"],
        ["download", "signing"],
    ]
    again = run_cli(data_dir, "keys", "rotate")  # now a rotation like any other
    assert f"jwt: key {FIRST_KID} still verifies until " in again.stdout


#: what the account page shows of a TOTP enrolment under way (beside its QR code)
ENROLLING = 'id="totp-secret"'


def _dashboard_before_rotation(world: Server, client: httpx.Client) -> str:
    """Sign in to the dashboard and start a TOTP enrolment; the account page's form token."""
    client.headers["Origin"] = world.url
    answer = client.post("/signin", data={"username": "alice", "secret": PASSWORD})
    assert answer.status_code == 303, answer.text
    # a non-ASCII enrolment cookie is no enrolment: it was a 500 (compare_digest raised)
    session = client.cookies["pullstats_session"]
    planted = f"pullstats_session={session}; pullstats_totp_enrolment=ABC.9999999999.\u00e9"
    page = client.get("/account", headers={"Cookie": planted.encode()})
    assert page.status_code == 200, page.text
    assert ENROLLING not in page.text
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/account").text)
    assert found is not None
    started = client.post("/account/2fa/start", data={"csrf_token": found.group(1)})
    assert started.status_code == 303, started.text
    assert ENROLLING in client.get("/account").text  # the enrolment's key and QR code
    return found.group(1)


def _dashboard_after_rotation(client: httpx.Client, csrf: str) -> None:
    """A page's forms, and a TOTP enrolment under way, still work after ``keys rotate``: they
    were refused as stale (the enrolment silently gone) as soon as the key changed."""
    assert ENROLLING in client.get("/account").text
    made = client.post(
        "/account/tokens",
        data={
            "csrf_token": csrf,
            "label": "after the rotation",
            "scope:analytics:read": "on",
            "password": PASSWORD,
        },
    )
    assert made.status_code == 303, made.text
    assert "stale" not in made.headers["location"], made.headers["location"]
    assert "after the rotation" in client.get("/account").text

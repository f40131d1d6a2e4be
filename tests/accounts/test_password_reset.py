"""``pullstats users password``: an operator sets the password of a user who forgot it (or
never had one), through the real command line, and the API's logins and tokens follow."""

from __future__ import annotations

from pathlib import Path

from pullstats.accounts import service, tokens
from tests.accounts.conftest import PASSWORD, Api, cli_outcome, seed_user

PULLS = "/api/publisher/analytics/v1/namespaces/acme/pulls"
NEW = "a-new-password-for-alice"
ENDED = "the sessions and JWTs issued to them before have ended"


def test_a_reset_password_logs_in_and_ends_the_old_sessions(
    api: Api, data_dir: Path, database_url: str | None
) -> None:
    seed_user(api.runtime, "alice", "acme")
    with api.runtime.sessions.begin() as session:
        pat = tokens.create_pat(session, "alice", "ci").text
    old_token = api.token("alice")
    pat_token = api.token("alice", pat)
    status, stdout, stderr = cli_outcome(
        data_dir, database_url, "users", "password", "alice", "--password-stdin", stdin=NEW
    )
    assert status == 0, stderr
    assert stdout.startswith(f"password of alice changed: {ENDED}")
    assert api.login("alice", PASSWORD).status_code == 401  # the forgotten one is gone
    assert api.get(PULLS, api.token("alice", NEW)).status_code == 200
    # every JWT issued before has ended, that of the PAT's login too; the PAT logs in again
    assert api.get(PULLS, old_token).status_code == 401
    assert api.get(PULLS, pat_token).status_code == 401
    assert api.get(PULLS, api.token("alice", pat)).status_code == 200


def test_a_user_made_without_a_password_is_given_one(
    api: Api, data_dir: Path, database_url: str | None
) -> None:
    with api.runtime.sessions.begin() as session:
        service.create_user(session, "ci-bot", None)
    assert api.login("ci-bot", NEW).status_code == 401
    status, stdout, stderr = cli_outcome(
        data_dir, database_url, "users", "password", "ci-bot", "--password-stdin", stdin=NEW
    )
    assert status == 0, stderr
    assert stdout.startswith(f"password of ci-bot set: {ENDED}")
    assert api.login("ci-bot", NEW).status_code == 200


def test_a_refused_reset_changes_nothing(
    api: Api, data_dir: Path, database_url: str | None
) -> None:
    seed_user(api.runtime, "alice", "acme")
    token = api.token("alice")
    for args, stdin, said in [
        # the policy of every new password: too short, or too easy to guess
        (("alice", "--password-stdin"), "short", "error: the password is too short"),
        (("alice", "--password-stdin"), "password1234", "error: the password is too easy"),
        # no silent change: the option is required, and the password must be there
        (("alice",), NEW, "error: give the new password on standard input with --password-stdin"),
        (("alice", "--password-stdin"), "", "error: no password on standard input"),
        (("nobody", "--password-stdin"), NEW, "error: no user 'nobody'"),
    ]:
        status, _, stderr = cli_outcome(
            data_dir, database_url, "users", "password", *args, stdin=stdin
        )
        assert (status, stderr.splitlines()[0][: len(said)]) == (1, said), stderr
    assert api.get(PULLS, token).status_code == 200  # the session goes on
    assert api.login("alice", NEW).status_code == 401

"""``pullstats generate``: files in each source format, and delivery to a real server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from pullstats.demo.delivery import DeliveryFailed, NotificationSender
from tests.conftest import Server, run_cli


def envelope_events(folder: Path) -> list[dict[str, object]]:
    return [
        event
        for path in sorted((folder / "notifications").glob("envelope-*.json"))
        for event in json.loads(path.read_bytes())["events"]
    ]


def test_generate_writes_envelopes_and_daily_logs(data_dir: Path, tmp_path: Path) -> None:
    args = ("--events", "3000", "--start", "2026-10-05", "--days", "2", "--seed", "5")
    out = tmp_path / "out"
    result = run_cli(
        data_dir, "generate", *args, "--out", str(out), "--format", "all", "--batch", "70"
    )
    assert result.returncode == 0, result.stderr
    events = envelope_events(out)
    logs = sorted((out / "nginx").glob("*.log"))
    assert [p.name for p in logs] == ["access-2026-10-05.log", "access-2026-10-06.log"]
    lines = sum(len(p.read_text().splitlines()) for p in logs)
    assert 2_700 < len(events) == lines < 3_300  # "about N": the generator's daily variation
    assert f"generated {len(events)} requests" in result.stdout
    sizes = [
        len(json.loads(p.read_bytes())["events"]) for p in sorted((out / "notifications").iterdir())
    ]
    assert set(sizes[:-1]) == {70} and 0 < sizes[-1] <= 70
    assert len({e["id"] for e in events}) == len(events)

    again = tmp_path / "again"
    assert (
        run_cli(
            data_dir, "generate", *args, "--out", str(again), "--format", "all", "--batch", "70"
        ).returncode
        == 0
    )
    for path in sorted(out.rglob("*.*")):
        assert (again / path.relative_to(out)).read_bytes() == path.read_bytes()


def test_generate_refuses_bad_combinations(data_dir: Path, tmp_path: Path) -> None:
    # each a usage error: exit status 2, as click gives for a value out of range
    nginx_to_url = run_cli(data_dir, "generate", "--out", "http://127.0.0.1:9", "--format", "nginx")
    assert nginx_to_url.returncode == 2 and "needs a folder" in nginx_to_url.stderr
    no_token = run_cli(data_dir, "generate", "--out", "http://127.0.0.1:9")
    assert no_token.returncode == 2 and "--token" in no_token.stderr
    assert "PULLSTATS_GENERATE_TOKEN" in no_token.stderr  # the other way to give it
    bad_day = run_cli(data_dir, "generate", "--out", str(tmp_path), "--start", "05/10/2026")
    assert bad_day.returncode == 2 and "--start" in bad_day.stderr
    # another scheme was a folder named "ftp:" in the working directory
    ftp = run_cli(data_dir, "generate", "--out", "ftp://127.0.0.1:9/in")
    assert ftp.returncode == 2 and ftp.stderr.strip() == (
        "error: --out ftp://127.0.0.1:9/in: a server URL is http:// or https://; a folder is a path"
    )
    for args, message in [
        (("--format", "csv"), "error: --format must be one of notifications, nginx, all"),
        # these failed with ValueError and OverflowError, or wrote into the working directory
        (("--seed", "-1"), "Invalid value for '--seed': -1 is not in the range x>=0"),
        (("--days", "100000000"), "Invalid value for '--days': 100000000 is not in the range"),
        # a mistyped count waited at 0% for ever
        (
            ("--events", "99999999999999999999999"),
            "Invalid value for '--events': 99999999999999999999999 is not in the range "
            "1<=x<=1000000000",
        ),
        (("--start", "9999-12-01", "--days", "100"), "the days would run past the year 9999"),
    ]:
        refused = run_cli(data_dir, "generate", "--out", str(tmp_path / "g"), *args)
        assert refused.returncode == 2 and message in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    empty = run_cli(data_dir, "generate", "--out", "")
    assert empty.returncode == 2 and "--out: name a folder, or a server URL" in empty.stderr
    assert not (tmp_path / "g").exists()


@pytest.mark.e2e
def test_generate_posts_to_a_server_and_every_event_is_stored(
    server: Server, data_dir: Path
) -> None:
    made = run_cli(data_dir, "ingest-tokens", "create", "generator")
    token = made.stdout.strip().splitlines()[-1]
    result = run_cli(
        data_dir, "generate", "--events", "1500", "--start", "2026-10-05", "--seed", "2",
        "--batch", "50", "--out", server.url, "--token", token,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reported = result.stdout.split("sent to", 1)[1]
    sent = int(reported.split(" events in ")[0].split()[-1])
    assert f"{sent} accepted, 0 ignored, 0 rejected" in reported
    spooled = sum(p.read_bytes().count(b"\n") for p in (data_dir / "spool").iterdir())
    assert 1_300 < sent == spooled

    # read from a file written on Windows: the line end is no part of the token (in a header
    # it was an illegal value, retried eight times)
    pasted = run_cli(
        data_dir, "generate", "--events", "10", "--out", server.url, "--token", f"{token}\r\n"
    )
    assert pasted.returncode == 0 and "0 rejected" in pasted.stdout, pasted.stderr

    wrong = run_cli(
        data_dir, "generate", "--events", "10", "--out", server.url, "--token", "psi_x_y"
    )
    assert wrong.returncode == 1 and "HTTP 401" in wrong.stderr


def _sender(answers: list[int]) -> tuple[NotificationSender, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = answers.pop(0)
        return httpx.Response(status, json={"accepted": 3, "ignored": {}, "rejected": []})

    sender = NotificationSender(
        "http://registry-endpoint", "psi_a_b", attempts=3, backoff=0.0,
        transport=httpx.MockTransport(answer),
    )  # fmt: skip
    return sender, seen


def test_sender_retries_failures_like_a_registry() -> None:
    sender, seen = _sender([503, 429, 200])
    with sender:
        sender.send(b'{"events": []}', 3)
    assert len(seen) == 3 and sender.report.retries == 2
    assert sender.report.errors == {"HTTP 503": 1, "HTTP 429": 1}
    assert (sender.report.events, sender.report.accepted) == (3, 3)
    request = seen[0]
    assert request.url.path == "/ingest/v1/registry/events"
    assert request.headers["authorization"] == "Bearer psi_a_b"
    assert request.headers["content-type"] == "application/vnd.docker.distribution.events.v1+json"


def test_sender_gives_up_after_its_attempts_and_at_once_on_a_refusal() -> None:
    sender, seen = _sender([500, 500, 500])
    with sender, pytest.raises(DeliveryFailed, match="gave up after 3 attempts: HTTP 500"):
        sender.send(b"{}", 1)
    sender, seen = _sender([401])
    with sender, pytest.raises(DeliveryFailed, match="refused the envelope: HTTP 401"):
        sender.send(b"{}", 1)
    assert len(seen) == 1


def test_generate_refuses_a_used_folder_and_says_when_it_drew_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = run_cli(data_dir, "generate", "--events", "300", "--seed", "4", "--out", str(out))
    assert first.returncode == 0, first.stderr
    envelopes = sorted((out / "notifications").iterdir())
    assert len(envelopes) >= 2  # 100 events an envelope
    contents = [p.read_bytes() for p in envelopes]
    # a smaller rerun overwrote the first envelopes and left the rest beside them
    again = run_cli(data_dir, "generate", "--events", "50", "--out", str(out))
    assert again.returncode == 2
    assert again.stderr.splitlines()[-1] == (
        f"error: --out {out}: {out / 'notifications'} holds {len(envelopes)} files already "
        "(an earlier run's?): name a new or empty folder, or empty this one"
    )
    assert sorted((out / "notifications").iterdir()) == envelopes
    assert [p.read_bytes() for p in envelopes] == contents  # nothing deleted or rewritten
    # nothing in nginx/ yet: the logs may go there
    logs = run_cli(data_dir, "generate", "--events", "50", "--out", str(out), "--format", "nginx")
    assert logs.returncode == 0, logs.stderr
    (tmp_path / "a-file").write_text("x")
    not_a_folder = run_cli(data_dir, "generate", "--out", str(tmp_path / "a-file"))
    assert not_a_folder.returncode == 2 and not_a_folder.stderr.splitlines()[-1] == (
        f"error: --out {tmp_path / 'a-file'}: {tmp_path / 'a-file'} is a file, not a folder"
    )
    # one event a day is too few for the traffic model's random sessions: said, not silent
    few = run_cli(data_dir, "generate", "--events", "1", "--out", str(tmp_path / "few"))
    assert few.returncode == 0, few.stderr
    assert "generated 0 requests" in few.stdout
    assert few.stderr.splitlines()[-1] == (
        "note: --events 1 over 1 day drew no request: ask for tens a day or more"
    )

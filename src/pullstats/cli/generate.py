"""``pullstats generate``: synthetic registry traffic as files in each source format, or POSTed.

Requests come from the seeded generator (:mod:`pullstats.demo.synthetic`) over the demo
catalog and are rendered by :mod:`pullstats.demo.render`. Into a folder it writes

- ``notifications/envelope-000001.json`` …: notification envelopes of ``--batch`` events;
- ``nginx/access-YYYY-MM-DD.log``: one access log per UTC day in the recommended format;

or, with ``--out http://HOST:PORT``, it delivers the envelopes to the server's ingest endpoint
one at a time, retrying like a registry (:mod:`pullstats.demo.delivery`). The same arguments
always produce the same events (ids included), so a repeated run is de-duplicated by the lake.

NumPy, Arrow and the generator are imported when the command runs, not with the command tree.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pullstats.cli.common import USAGE, counted, err, fail, out, progress

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from pullstats.demo.delivery import DeliveryReport
    from pullstats.demo.render import ManifestInfo

FORMATS = ("notifications", "nginx", "all")


class _FolderOutput:
    """Writes envelopes of exactly ``batch`` events (the last may hold fewer) and daily logs,
    into folders that hold nothing yet (:func:`_refuse_used`)."""

    def __init__(self, folder: Path, formats: set[str], batch: int) -> None:
        self.notifications = folder / "notifications" if "notifications" in formats else None
        self.nginx = folder / "nginx" if "nginx" in formats else None
        for sub in (self.notifications, self.nginx):
            if sub is not None:
                sub.mkdir(parents=True, exist_ok=True)
        self._batch = batch
        self._pending: list[str] = []
        self.envelopes = 0
        self.lines = 0

    def add(self, table: pa.Table, events: list[str] | None, log_lines: bytes | None) -> None:
        if events is not None:
            self._pending.extend(events)
            full = len(self._pending) - len(self._pending) % self._batch
            self._write_envelopes(self._pending[:full])
            del self._pending[:full]
        if log_lines is not None and self.nginx is not None:
            day = dt.datetime.fromtimestamp(table["ts"][0].as_py() / 1e6, dt.UTC).date()
            path = self.nginx / f"access-{day.isoformat()}.log"
            with open(path, "ab") as handle:  # a day's tables, one after another
                handle.write(log_lines)
            self.lines += table.num_rows

    def finish(self) -> None:
        self._write_envelopes(self._pending)
        self._pending = []

    def _write_envelopes(self, events: list[str]) -> None:
        from pullstats.demo.render import envelope_bodies

        if self.notifications is None:
            return
        for body in envelope_bodies(events, self._batch):
            self.envelopes += 1
            (self.notifications / f"envelope-{self.envelopes:06d}.json").write_bytes(body)


def _refuse_used(folder: Path, formats: set[str]) -> None:
    """Refuse folders that hold files already: a rerun with fewer events or other days left
    the rest of the earlier run's envelopes and logs beside the new ones, and an import of the
    folder took both. Nothing is deleted: ``--out`` may name a folder of real logs."""
    for name in sorted(formats):
        sub = folder / name
        for path in (folder, sub):
            if path.exists() and not path.is_dir():
                raise fail(f"--out {folder}: {path} is a file, not a folder", USAGE)
        held = sum(1 for _ in sub.iterdir()) if sub.is_dir() else 0
        if held:
            raise fail(
                f"--out {folder}: {sub} holds {counted(held, 'file')} already (an earlier "
                "run's?): name a new or empty folder, or empty this one",
                USAGE,
            )


def _parse_start(value: str | None, days: int) -> dt.date:
    if value is None:  # the last D complete days
        return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)
    try:
        first = dt.date.fromisoformat(value)
    except ValueError:
        raise fail(f"--start: {value!r} is not a date (YYYY-MM-DD)", USAGE) from None
    if (dt.date.max - first).days <= days:
        raise fail(f"--start {value} --days {days}: the days would run past the year 9999", USAGE)
    return first


#: The most requests one run generates (a day of two million, 500 times over).
MAX_EVENTS = 1_000_000_000


def generate_command(
    events: int = typer.Option(
        10_000,
        "--events",
        min=1,
        max=MAX_EVENTS,  # a mistyped count waited at 0% for an array it could never make
        metavar="N",
        help="About how many requests in all (at least one a day).",
    ),
    start: str | None = typer.Option(
        None, "--start", metavar="DAY", help="First UTC day (YYYY-MM-DD); default: --days days ago."
    ),
    days: int = typer.Option(
        1, "--days", min=1, max=36525, metavar="N", help="Days to spread the requests over."
    ),
    seed: int = typer.Option(
        0, "--seed", min=0, metavar="N", help="Random seed: the same seed, the same events."
    ),
    out_to: str = typer.Option(
        ...,
        "--out",
        metavar="DIR|URL",
        help="A folder to write into, or a server URL (http://HOST:PORT) to POST to.",
    ),
    format_: str = typer.Option(
        "notifications",
        "--format",
        metavar="FORMAT",
        help="notifications, nginx or all (a folder only).",
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        metavar="TOKEN",
        envvar="PULLSTATS_GENERATE_TOKEN",
        help="Ingest token (psi_…) for --out URL; or set PULLSTATS_GENERATE_TOKEN.",
    ),
    batch: int = typer.Option(
        100, "--batch", min=1, metavar="N", help="Events per notification envelope."
    ),
) -> None:
    """Generate realistic synthetic pull traffic: notification envelopes, nginx logs, or POSTs."""
    import numpy as np

    from pullstats.demo.catalog import DEMO_CATALOG
    from pullstats.demo.render import manifest_info, nginx_lines, notification_events
    from pullstats.demo.synthetic import generate_requests

    if format_ not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}", USAGE)
    if not out_to.strip():  # it would have written into the working directory
        raise fail("--out: name a folder, or a server URL (http://HOST:PORT)", USAGE)
    first = _parse_start(start, days)
    scheme = out_to.split("://", 1)[0].lower() if "://" in out_to else ""
    to_server = scheme in ("http", "https")
    if scheme and not to_server:  # it would have been a folder named "ftp:" here
        raise fail(
            f"--out {out_to}: a server URL is http:// or https://; a folder is a path", USAGE
        )
    if to_server and format_ != "notifications":
        raise fail(
            "--out URL posts notification envelopes: --format nginx/all needs a folder", USAGE
        )
    token = token.strip() if token else token  # a line end read from a file is no part of it
    if to_server and not token:
        raise fail(
            "--out URL needs --token or PULLSTATS_GENERATE_TOKEN (an ingest token from "
            "`pullstats ingest-tokens create`)",
            USAGE,
        )
    formats = {"notifications", "nginx"} if format_ == "all" else {format_}
    if not to_server:
        _refuse_used(Path(out_to), formats)
    tables = generate_requests(
        DEMO_CATALOG,
        start=first,
        days=days,
        requests_per_day=math.ceil(events / days),
        seed=seed,
    )
    manifests = manifest_info(DEMO_CATALOG)
    rng = np.random.default_rng([seed, 1])  # rendering's own stream: ids, ports, nanoseconds
    generated = 0
    with progress() as bars:
        task = bars.add_task("generate requests", total=events)

        def advance(table: pa.Table) -> None:
            nonlocal generated
            generated += table.num_rows
            bars.update(task, completed=generated, total=max(events, generated))

        if to_server:
            assert token is not None
            _post(out_to, token, batch, tables, manifests, rng, advance)
        else:
            folder = _FolderOutput(Path(out_to), formats, batch)
            for table in tables:
                folder.add(
                    table,
                    notification_events(table, manifests, rng) if folder.notifications else None,
                    nginx_lines(table, manifests) if folder.nginx else None,
                )
                advance(table)
            folder.finish()
        bars.update(task, total=generated, completed=generated)
    if not to_server:
        written = []
        if folder.notifications:
            written.append(f"{folder.envelopes} envelopes in {folder.notifications}")
        if folder.nginx:
            written.append(f"{folder.lines} log lines in {folder.nginx}")
        out.print(
            f"generated {generated} requests from {first} over {days} days (seed {seed}): "
            + ", ".join(written)
        )
    if not generated:  # the model draws each day's sessions at random: a few may come to none
        err.print(
            f"note: --events {events} over {counted(days, 'day')} drew no request: "
            "ask for tens a day or more"
        )


def _post(
    url: str,
    token: str,
    batch: int,
    tables: Iterator[pa.Table],
    manifests: ManifestInfo,
    rng: np.random.Generator,
    advance: Callable[[pa.Table], None],
) -> None:
    from pullstats.demo.delivery import DeliveryFailed, NotificationSender
    from pullstats.demo.render import envelope_bodies, notification_events

    with NotificationSender(url, token) as sender:
        try:
            for table in tables:
                events = notification_events(table, manifests, rng)
                for start, body in zip(
                    range(0, len(events), batch), envelope_bodies(events, batch), strict=True
                ):
                    sender.send(body, min(batch, len(events) - start))
                advance(table)
        except DeliveryFailed as error:
            raise fail(f"{url}: {error} ({_summary(sender.report)} before that)") from None
        report = sender.report
    out.print(f"sent to {url}: {_summary(report)}")


def _summary(report: DeliveryReport) -> str:
    text = (
        f"{report.events} events in {report.envelopes} envelopes delivered, "
        f"{report.accepted} accepted, {report.ignored} ignored, {report.rejected} rejected"
    )
    if report.retries:
        reasons = ", ".join(f"{why} ×{n}" for why, n in sorted(report.errors.items()))
        text += f", {report.retries} retries ({reasons})"
    return text

"""The golden exports: a small fixed input, processed and exported as an operator would.

The input is a handful of clients pulling two namespaces in January 2026 (ISO week 2026-W02 is
Monday 5 to Sunday 11 January), written to the spool as the server writes it, plus one row of
Docker Hub history imported from a raw CSV. ``process`` classifies and rolls it up; ``export``
closes the periods. The four views of namespace ``acme`` for 2026-W02 and for 2026-01,
decompressed, are the golden files in ``tests/fixtures/golden/``; ``test_golden.py`` compares
them byte for byte.

To regenerate them on purpose (a deliberate change of the export format or of the input), run
``python -m tests.exports.golden`` and review the diff: every changed byte is a change every
publisher's files will see.
"""

from __future__ import annotations

import gzip
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from pullstats.accounts import service
from pullstats.db.models import ExportFile
from pullstats.exports.closing import export_closed
from pullstats.importers.dockerhub_csv import import_files
from pullstats.ingest.records import PullRequestRecord
from pullstats.periods import Period
from pullstats.pipeline import end_of_day, process
from pullstats.runtime import Runtime
from pullstats.timestamps import micros
from tests.conftest import catalog_settings, write_spool

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
NAMESPACE = "acme"
PERIODS = (Period.week(2026, 2), Period.month(2026, 1))
#: ``export --through`` this day: January (and its weeks up to W05) has closed by then
THROUGH = date(2026, 2, 1)

IDX = "sha256:" + "1d" * 32  # acme/web:1.0, a multi-platform image index
AMD64 = "sha256:" + "a6" * 32  # its amd64 manifest
LATEST = "sha256:" + "1a" * 32  # acme/web:latest
CLI = "sha256:" + "c1" * 32  # acme/tools/cli:2.0
SHARED = "sha256:" + "5e" * 32  # partner/shared:2.0
PRIVATE = "sha256:" + "9e" * 32  # partner/private:2.0

DOCKER = "docker/27.3.1 go/go1.22.7 git-commit/41ca978 kernel/6.8.0 os/linux arch/amd64"
CONTAINERD = "containerd/1.7.22"
PODMAN = "containers/5.2.2 (github.com/containers/image)"
FORMULA = "=cmd|' /C calc'!A0"  # a client-chosen user agent that a spreadsheet would run
QUOTED = 'skopeo/1.16.1 (linux, "amd64")'  # a comma and quotes: a quoted CSV cell

# Clients: A 192.0.2.10 (docker), B 198.51.100.7 (containerd), C 2001:db8::5 (podman),
# D 203.0.113.9 (the formula agent), E 192.0.2.77 (skopeo, the quoted agent).
A, B, C, D, E = "192.0.2.10", "198.51.100.7", "2001:db8::5", "203.0.113.9", "192.0.2.77"

#: (id, time, method, repository name, tag, digest, client, user agent)
REQUESTS: tuple[tuple[str, datetime, str, str, str, str, str, str], ...] = (
    # Monday: A pulls acme/web:1.0 as docker does (HEAD, index, platform) = 1 pull_by_tag
    ("a1", datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC), "HEAD", "acme/web", "1.0", IDX, A, DOCKER),
    ("a2", datetime(2026, 1, 5, 9, 0, 0, 200_000, tzinfo=UTC), "GET", "acme/web", "", IDX, A,
     DOCKER),
    ("a3", datetime(2026, 1, 5, 9, 0, 0, 400_000, tzinfo=UTC), "GET", "acme/web", "", AMD64, A,
     DOCKER),
    # Tuesday: A only checks 1.0 (a lone HEAD by tag) = 1 version_check
    ("a4", datetime(2026, 1, 6, 9, 0, 0, tzinfo=UTC), "HEAD", "acme/web", "1.0", IDX, A, DOCKER),
    # Tuesday: B gets latest twice 3 s apart (two CI jobs behind one address) = 2 pull_by_tag
    ("b1", datetime(2026, 1, 6, 12, 0, 0, tzinfo=UTC), "GET", "acme/web", "latest", LATEST, B,
     CONTAINERD),
    ("b2", datetime(2026, 1, 6, 12, 0, 3, tzinfo=UTC), "GET", "acme/web", "latest", LATEST, B,
     CONTAINERD),
    # Wednesday: B pulls the amd64 manifest by digest = 1 pull_by_digest; and partner/private,
    # which acme's export does not cover
    ("b3", datetime(2026, 1, 7, 8, 0, 0, tzinfo=UTC), "GET", "acme/web", "", AMD64, B,
     CONTAINERD),
    ("b4", datetime(2026, 1, 7, 8, 0, 1, tzinfo=UTC), "GET", "partner/private", "2.0", PRIVATE,
     B, CONTAINERD),
    # Thursday: C checks tools/cli:2.0 and gets it 6 s later, too late to join
    # = 1 version_check + 1 pull_by_tag
    ("c1", datetime(2026, 1, 8, 10, 0, 0, tzinfo=UTC), "HEAD", "acme/tools/cli", "2.0", CLI, C,
     PODMAN),
    ("c2", datetime(2026, 1, 8, 10, 0, 6, tzinfo=UTC), "GET", "acme/tools/cli", "2.0", CLI, C,
     PODMAN),
    # Friday: D and E pull acme/web:1.0 by tag, with agents the CSV must neutralise and quote
    ("d1", datetime(2026, 1, 9, 15, 30, 0, 250_000, tzinfo=UTC), "GET", "acme/web", "1.0", IDX,
     D, FORMULA),
    ("e1", datetime(2026, 1, 9, 16, 0, 0, tzinfo=UTC), "GET", "acme/web", "1.0", IDX, E, QUOTED),
    # Sunday 23:59:59.8 → Monday 00:00:00.1: A pulls partner/shared (an extra repo of acme)
    # across midnight = 1 pull_by_tag on Sunday, in W02
    ("a5", datetime(2026, 1, 11, 23, 59, 59, 800_000, tzinfo=UTC), "HEAD", "partner/shared",
     "2.0", SHARED, A, DOCKER),
    ("a6", datetime(2026, 1, 12, 0, 0, 0, 100_000, tzinfo=UTC), "GET", "partner/shared", "",
     SHARED, A, DOCKER),
    # Tuesday of W04: C pulls acme/web:1.0 = January only, not W02
    ("c3", datetime(2026, 1, 20, 7, 0, 0, tzinfo=UTC), "GET", "acme/web", "1.0", IDX, C, PODMAN),
)  # fmt: skip

#: One pull Docker Hub recorded before the move, as its raw export writes it: no address, so
#: it adds a pull to acme/web:1.0 and nothing to any unique-IP count.
HUB_RAW = (
    "Timestamp,Namespace,Repository,Reference,Digest,Tag,Action day,HTTP method,Action,Type,"
    "Host,Country,Domain,User agent tool,User agent version\r\n"
    f"2026-01-07T08:30:00.000Z,acme,web,1.0,{IDX},1.0,2026-01-07,GET,pull_by_tag,hosting,aws,US,"
    ",docker,26.1.4\r\n"
)


def records() -> list[PullRequestRecord]:
    return [
        PullRequestRecord(
            event_id,
            micros(instant),
            method,
            name,
            tag,
            digest,
            ip,
            ua,
            "notification",
            micros(instant + timedelta(seconds=1)),  # arrived a second later
        )
        for event_id, instant, method, name, tag, digest, ip, ua in REQUESTS
    ]


def golden_name(namespace: str, view: str, period: Period) -> str:
    return f"{namespace}_{view}_{period.label}.csv"


def build(data_dir: Path) -> dict[str, bytes]:
    """Run the input through import, ``process`` and ``export`` in ``data_dir``; the golden
    files' names and their decompressed bytes."""
    runtime = Runtime.open(catalog_settings(data_dir))
    try:
        with runtime.sessions.begin() as session:
            for namespace in (NAMESPACE, "partner"):
                service.create_namespace(session, namespace)
            service.add_extra_repo(session, NAMESPACE, "partner/shared")
        hub = data_dir.parent / "hub_raw_2026-W02.csv"
        hub.write_text(HUB_RAW, newline="")
        reports = import_files(runtime, [hub])
        failed = [report.error for report in reports if report.status == "failed"]
        assert failed == [] and reports[0].rows == 1, failed
        write_spool(runtime, *records())
        process(runtime)
        result = export_closed(runtime, now=end_of_day(THROUGH))
        assert result.failed == [], result.failed
        return _golden_files(runtime)
    finally:
        runtime.close()


def _golden_files(runtime: Runtime) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    with runtime.sessions() as session:
        for period in PERIODS:
            entries = session.scalars(
                select(ExportFile)
                .where(
                    ExportFile.namespace == NAMESPACE,
                    ExportFile.period_kind == period.kind.value,
                    ExportFile.period_start == period.start,
                )
                .order_by(ExportFile.view, ExportFile.part)
            )
            for entry in entries:
                assert entry.part == 1, entry.file_name  # each view is one part here
                data = gzip.decompress(runtime.settings.exports_store.read_bytes(entry.path))
                found[golden_name(NAMESPACE, entry.view, period)] = data
    return found


def main() -> None:
    """Rewrite the golden files from the current code."""
    with tempfile.TemporaryDirectory() as scratch:
        files = build(Path(scratch) / "data")
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for old in GOLDEN.glob("*.csv"):
        old.unlink()
    for name, data in sorted(files.items()):
        (GOLDEN / name).write_bytes(data)
        sys.stdout.write(f"wrote {GOLDEN / name} ({len(data)} bytes)\n")


if __name__ == "__main__":
    main()

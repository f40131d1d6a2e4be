"""The golden exports: the four views of a small fixed input, byte for byte.

``tests/exports/golden.py`` holds the input and runs it through import, ``process`` and
``export``; ``tests/fixtures/golden/`` holds what that wrote for namespace ``acme``, week
2026-W02 and month 2026-01, decompressed. Regenerate them on purpose with
``python -m tests.exports.golden`` (CONTRIBUTING.md).

Numbers checked by hand against docs/data-definitions.md (clients A–E as in golden.py):

- ``acme/web`` ``1.0`` in 2026-W02: ``unique_ip_count`` 3, ``pull_by_tag`` 4,
  ``version_check`` 1. The pulls are A's HEAD + index GET + platform GET 0.4 s apart (one
  action: a platform GET by another digest may join), D's and E's GETs, and the imported
  Docker Hub row; A's lone HEAD on Tuesday is the version check. The unique IPs are A, D and E:
  version checks count, the imported row has no address.
- ``acme/web`` ``latest``: ``pull_by_tag`` 2 from one address (two GETs by tag 3 s apart never
  join); the GET by digest on Wednesday is a ``pull_by_digest`` whose reference is the digest.
- ``acme/tools/cli`` ``2.0``: a HEAD then a GET 6 s later, past the 5 s window: one
  ``version_check`` and one ``pull_by_tag``.
- The namespace row of ``acme`` in 2026-W02: 7 pulls by tag (4 + 2 + 1), 1 by digest, 2
  version checks and 5 unique IPs (A–E; not the sum 3 + 1 + 1 + 1 of the reference rows, and
  not counting A's pull of partner/shared, which is ``partner``'s row). In 2026-01 C's pull on
  the 20th adds one pull by tag to ``1.0`` and a fourth address to it, but no new address to
  the namespace.
- ``partner/shared``, an extra repo of ``acme``, appears under its own namespace; its pull
  starts Sunday 23:59:59.8 and ends after midnight, so it counts on Sunday, in 2026-W02;
  ``partner/private`` is not in ``acme``'s export.
- ``summary-report`` (Docker's Summary report) has the same pulls as the rollups, Docker's way:
  ``acme/web`` in 2026-W02 is 7 ``DATA_DOWNLOADS`` (6 by tag + 1 by digest), 1 version check,
  ``EVENT_COUNT`` 8; its tag ``1.0`` 4 + 1 = 5 and its digest row ``acme/web@sha256:a6…`` 1
  download. ``partner/shared`` keeps its own namespace in ``REFERENCE``. No namespace row
  (Docker's report has none). In 2026-01, C's pull makes ``1.0`` 5 downloads and ``acme/web`` 8.
- ``trends-report`` (Docker's Trends report) splits the same pulls by country, cloud, tool and
  tag: ``acme/web`` ``1.0`` in 2026-W02 is the Hub row (US, aws, docker: 1 download, no
  address, so 0 users), A's docker pull and check (2 pulls, 1 anonymous user), and one pull
  each by skopeo and by an agent no parser names; ``latest`` is one client's 2 containerd
  pulls (1 user); the pull by digest has the tag ``\\N``. No client signed in: every
  ``UNIQUE_AUTHENTICATED_USERS`` is 0. A client outside a known cloud is ``no csp``.
- ``co-usage-report`` (Docker's Technographic report) is its header alone: no two repositories
  share ten users here, and a pair of fewer is never reported.
- In raw: the user agent ``=cmd|' /C calc'!A0`` is written ``'=cmd|' /C calc'!A0``, and one
  holding a comma and quotes is quoted with its quotes doubled.
"""

from __future__ import annotations

from pathlib import Path

from tests.exports.golden import GOLDEN, NAMESPACE, PERIODS, build, golden_name

VIEWS = ("raw", "summary", "repo-summary", "namespace-summary", "summary-report",
         "trends-report", "co-usage-report")  # fmt: skip


def test_the_exports_of_the_fixed_input_equal_the_golden_files(tmp_path: Path) -> None:
    written = build(tmp_path / "data")
    expected = {golden_name(NAMESPACE, view, p) for view in VIEWS for p in PERIODS}
    assert set(written) == expected
    assert {path.name for path in GOLDEN.glob("*.csv")} == expected
    for name, data in sorted(written.items()):
        golden = (GOLDEN / name).read_bytes()
        # a readable diff first, then every byte (line ends, quoting, no BOM)
        assert data.decode().splitlines() == golden.decode().splitlines(), name
        assert data == golden, name

"""The vocabulary of the grouping rules' tests: requests of one partition, expected actions, and
the digests and methods they use."""

from __future__ import annotations

from pullstats.dvp_columns import ActionKind

Request = tuple[float, str, str, str]  # (seconds offset, method, tag or "", digest or "")
Expected = tuple[str, int, str, str]  # (action, first request index, digest, http_method)
Columns = tuple[list[int | None], list[str], list[str], list[str]]

IDX = "sha256:idx"  # a multi-arch image index
AMD64 = "sha256:amd64"  # its platform manifests
ARM64 = "sha256:arm64"
OTHER = "sha256:other"  # an unrelated digest

GET = "GET"
HEAD = "HEAD"
TAG = ActionKind.PULL_BY_TAG
DIG = ActionKind.PULL_BY_DIGEST
VC = ActionKind.VERSION_CHECK

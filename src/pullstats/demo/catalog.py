"""What the synthetic traffic pulls: repositories, their tags, and each tag's manifests.

:data:`DEMO_CATALOG` is the demo's; :func:`catalog_from_tags` makes one from names, with
made-up but stable digests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pullstats.ingest.errors import UnparseableRequest
from pullstats.ingest.notifications import parse_repository_name

_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class SyntheticTag:
    """A tag and the manifests it points to.

    ``index_digest`` is the image index of a multi-arch image, or the image manifest itself
    when ``platform_digests`` is empty (a single-arch image). ``platform_digests`` are the
    per-platform manifests, amd64 first then arm64.
    """

    name: str
    index_digest: str
    platform_digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class SyntheticCatalog:
    """What the generator pulls from.

    ``repositories`` are full names (``acme/api``, ``acme/tools/cli``, ``nginx``), most popular
    first: popularity falls off Zipf-like with the rank. ``tags[i]`` are the tags of
    ``repositories[i]``, most popular first.
    """

    repositories: tuple[str, ...]
    tags: tuple[tuple[SyntheticTag, ...], ...]

    def __post_init__(self) -> None:
        if not self.repositories:
            raise ValueError("a catalog needs at least one repository")
        if len(self.tags) != len(self.repositories):
            raise ValueError("tags must hold one tuple of tags per repository")
        if len(set(self.repositories)) != len(self.repositories):
            raise ValueError("repository names must be unique")
        for name, tags in zip(self.repositories, self.tags, strict=True):
            try:
                parse_repository_name(name)
            except UnparseableRequest as error:
                raise ValueError(str(error)) from None
            if not tags:
                raise ValueError(f"repository {name!r} has no tags")
            if len({tag.name for tag in tags}) != len(tags):
                raise ValueError(f"repository {name!r} lists a tag twice")
            for tag in tags:
                if not _TAG.match(tag.name):
                    raise ValueError(f"invalid tag {tag.name!r} in {name!r}")
                for digest in (tag.index_digest, *tag.platform_digests):
                    if not _DIGEST.match(digest):
                        raise ValueError(f"invalid digest {digest!r} in {name}:{tag.name}")

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The namespaces of the repositories, sorted (``library`` for one-component names)."""
        return tuple(
            sorted(
                {name.split("/", 1)[0] if "/" in name else "library" for name in self.repositories}
            )
        )


def catalog_from_tags(tags: Mapping[str, Sequence[str]], *, platforms: int = 2) -> SyntheticCatalog:
    """A catalog from tag names, with digests derived from the names (stable across runs).

    Repositories and their tags are given most popular first. ``latest`` points at the same
    manifests as the first other tag (the newest release), as it does on real registries.
    ``platforms=0`` makes single-arch images.
    """
    if platforms < 0:
        raise ValueError("platforms must be >= 0")
    built: list[tuple[SyntheticTag, ...]] = []
    for repository, names in tags.items():
        releases = [name for name in names if name != "latest"]
        row: list[SyntheticTag] = []
        for name in names:
            target = releases[0] if name == "latest" and releases else name
            row.append(
                SyntheticTag(
                    name=name,
                    index_digest=_digest(repository, target, "index"),
                    platform_digests=tuple(
                        _digest(repository, target, f"platform{k}") for k in range(platforms)
                    ),
                )
            )
        built.append(tuple(row))
    return SyntheticCatalog(repositories=tuple(tags), tags=tuple(built))


def _digest(repository: str, tag: str, part: str) -> str:
    return "sha256:" + hashlib.sha256(f"{repository}:{tag}:{part}".encode()).hexdigest()


#: Three namespaces, 4-6 repositories each (one nested), several tags each, all multi-arch
#: (an index plus amd64 and arm64 manifests per tag). Listed in popularity order.
DEMO_CATALOG = catalog_from_tags(
    {
        "acme/api": ["latest", "3.2.1", "3.2.0", "3.1.4", "3.0.0", "2.9.7"],
        "globex/gateway": ["latest", "1.14.2", "1.14.1", "1.13.0", "1.12.5"],
        "acme/web": ["latest", "3.2.1", "3.2.0", "3.1.4", "3.0.0"],
        "initech/tps-reports": ["latest", "4.0.2", "4.0.1", "3.9.0", "3.8.2"],
        "acme/worker": ["latest", "3.2.1", "3.2.0", "3.1.4"],
        "globex/billing": ["latest", "2.7.0", "2.6.3", "2.6.2", "2.5.0"],
        "acme/tools/cli": ["latest", "0.9.3", "0.9.2", "0.8.0"],
        "globex/search": ["latest", "8.15.1", "8.15.0", "8.14.3", "7.17.24"],
        "initech/printer-daemon": ["latest", "1.0.4", "1.0.3", "0.9.9"],
        "acme/proxy": ["latest", "1.27.2", "1.27.2-alpine", "1.26.2", "1.26.2-alpine"],
        "globex/ml-serving": ["latest", "2.4.0", "2.4.0-cpu", "2.3.1", "2.3.1-cpu"],
        "initech/redstapler": ["latest", "5.1.0", "5.0.2", "4.8.1"],
        "acme/db-migrate": ["latest", "1.8.0", "1.7.2", "1.7.1"],
        "globex/agent": ["latest", "0.31.0", "0.30.2", "0.30.1", "0.29.0"],
        "initech/portal": ["latest", "2024.10.1", "2024.9.3", "2024.9.2"],
    }
)

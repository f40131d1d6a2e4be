"""Which repositories are public: the only ones another namespace's co-usage report may name
(``pullstats repos publish``; exports/scope_rows.py reads them).

Publishing or withdrawing a repository changes what every namespace's co-usage report holds,
so every exported period is marked to be exported again by the next ``pullstats export``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pullstats.accounts.errors import NotFound
from pullstats.accounts.service import exports_again, qualified_repository
from pullstats.db.models import PublishedRepository


def publish(session: Session, name: str) -> bool:
    """Make ``namespace/repository`` public; False when it already was."""
    key = qualified_repository(name)
    if session.get(PublishedRepository, key) is not None:
        return False
    session.add(
        PublishedRepository(namespace=key[0], repository=key[1], published_at=datetime.now(UTC))
    )
    exports_again(session)
    return True


def unpublish(session: Session, name: str) -> None:
    """Make ``namespace/repository`` private again; NotFound when it was not public."""
    row = session.get(PublishedRepository, qualified_repository(name))
    if row is None:
        raise NotFound(f"{name!r} is not published")
    session.delete(row)
    exports_again(session)


def published(session: Session) -> list[tuple[str, datetime]]:
    """Every public repository (``namespace/repository``) and when it was published, by name."""
    rows = session.execute(
        select(
            PublishedRepository.namespace,
            PublishedRepository.repository,
            PublishedRepository.published_at,
        ).order_by(PublishedRepository.namespace, PublishedRepository.repository)
    )
    return [(f"{ns}/{repo}", when) for ns, repo, when in rows]

"""Namespace and repository names: the one grammar every entry point checks them against.

Pure, no I/O. A repository name follows CNCF Distribution's grammar: path components
``[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`` joined by ``/``, at most 255 characters in all.
Its namespace is its first component (``library`` for a name without a ``/``, as on Docker
Hub). pullstats adds a limit of its own: a namespace has at most :data:`MAX_NAMESPACE_LENGTH`
characters (Docker Hub's have at most 30), because export files are named after it and a file
name may not pass the filesystem's 255 bytes.

The CLI, the notification ingest, the access-log import and the Docker Hub CSV import all ask
this module, so a name one of them accepts is a name the others accept and the exports can
write. The access-log import checks names inside DuckDB: :func:`repository_name_sql` is the
same rule as SQL.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_NAMESPACE",
    "MAX_NAMESPACE_LENGTH",
    "MAX_REPOSITORY_LENGTH",
    "NAME_COMPONENT",
    "REPOSITORY_NAME",
    "InvalidName",
    "check_namespace",
    "check_repository",
    "namespace_name_sql",
    "namespace_of",
    "namespace_problem",
    "repository_name_sql",
    "repository_problem",
    "shown",
]

#: One path component. Matched whole (fullmatch) and ASCII-only: "$" alone would let a
#: trailing newline through, and \w or [a-z] with re.IGNORECASE other letters.
NAME_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*", re.ASCII)
#: A whole repository name in one match; the pattern is RE2-compatible (DuckDB uses it).
REPOSITORY_NAME = re.compile(rf"{NAME_COMPONENT.pattern}(?:/{NAME_COMPONENT.pattern})*", re.ASCII)
#: Distribution's limit on a whole repository name.
MAX_REPOSITORY_LENGTH = 255
#: pullstats' limit on a namespace: ``{namespace}_namespace-summary_2026-W45_part001.csv.gz``
#: and the temporary name it is written under stay far below 255 bytes.
MAX_NAMESPACE_LENGTH = 64
#: The namespace of a repository name without a ``/`` (Docker Hub's official images).
DEFAULT_NAMESPACE = "library"

_SHOWN = 80


class InvalidName(ValueError):
    """A namespace or repository name outside the grammar or its length limits."""


def shown(name: str) -> str:
    """``name`` quoted for a message, cut to 80 characters so a huge name stays readable."""
    return repr(name) if len(name) <= _SHOWN else f"{name[:_SHOWN]!r}… ({len(name)} characters)"


def namespace_problem(name: str) -> str | None:
    """Why ``name`` cannot be a namespace, or None when it can."""
    if not name:
        return "namespace is empty"
    if len(name) > MAX_NAMESPACE_LENGTH:
        return f"namespace {shown(name)} is longer than {MAX_NAMESPACE_LENGTH} characters"
    if not NAME_COMPONENT.fullmatch(name):
        return (
            f"invalid namespace {shown(name)}: use a-z and 0-9, separated by '.', '_', '__' "
            "or dashes"
        )
    return None


def repository_problem(name: str) -> str | None:
    """Why ``name`` (a whole name, ``ns/repo`` or ``repo``) cannot be a repository, or None."""
    if not name:
        return "repository name is empty"
    if len(name) > MAX_REPOSITORY_LENGTH:
        return f"repository name {shown(name)} is longer than {MAX_REPOSITORY_LENGTH} characters"
    if not REPOSITORY_NAME.fullmatch(name):
        return (
            f"invalid repository name {shown(name)}: use a-z and 0-9, separated by '.', '_', "
            "'__' or dashes, in components joined by '/'"
        )
    namespace, slash, _ = name.partition("/")
    if slash and len(namespace) > MAX_NAMESPACE_LENGTH:
        return (
            f"repository name {shown(name)}: its namespace is longer than "
            f"{MAX_NAMESPACE_LENGTH} characters"
        )
    return None


def check_namespace(name: str) -> str:
    """``name`` if it is a valid namespace; :class:`InvalidName` with the reason otherwise."""
    problem = namespace_problem(name)
    if problem:
        raise InvalidName(problem)
    return name


def check_repository(name: str) -> str:
    """``name`` if it is a valid repository name; :class:`InvalidName` otherwise."""
    problem = repository_problem(name)
    if problem:
        raise InvalidName(problem)
    return name


def namespace_of(name: str) -> str:
    """The namespace of a repository name: its first component, or ``library``."""
    namespace, slash, _ = name.partition("/")
    return namespace if slash else DEFAULT_NAMESPACE


def repository_name_sql(column: str) -> str:
    """A DuckDB condition true when ``column`` holds a valid repository name (never NULL for
    a non-NULL column): :func:`repository_problem` as SQL."""
    return (
        f"(length({column}) <= {MAX_REPOSITORY_LENGTH}"
        f" AND regexp_full_match({column}, '{REPOSITORY_NAME.pattern}')"
        f" AND (strpos({column}, '/') = 0 OR strpos({column}, '/') <= {MAX_NAMESPACE_LENGTH + 1}))"
    )


def namespace_name_sql(column: str) -> str:
    """A DuckDB condition true when ``column`` holds a valid namespace: :func:`namespace_problem`
    as SQL."""
    return (
        f"(length({column}) <= {MAX_NAMESPACE_LENGTH}"
        f" AND regexp_full_match({column}, '{NAME_COMPONENT.pattern}'))"
    )

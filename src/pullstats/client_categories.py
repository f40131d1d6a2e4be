"""Client tool → client category, and (category, cloud network) → inferred use case.

Pure and table-driven: :data:`CATEGORIES` says what each tool the user-agent parser
(:mod:`pullstats.enrich.user_agent`) names is, :data:`USE_CASES` what each category is used for,
and :data:`USE_CASE_OF_TOOL` the few tools used otherwise than their category. The tables are
the definitions (docs/data-definitions.md repeats them);
tests/fixtures/client_categories/cases.yaml holds the cases they are tested against.

The use case follows Docker's *Tracked companies* report: ``Local Dev`` (Docker Desktop, plain
``docker``), ``CI/CD`` (containerd, build tools, registry mirroring), ``Prod`` (Kubernetes and
other orchestrators), ``Unknown``; and Docker's rule that a local-dev tool seen from a cloud
network counts as CI/CD, and a CI/CD tool seen from a cloud network as Prod. A *cloud network*
is an address of a known cloud provider (the ``host`` enrichment column not empty), as Docker's
``CLOUD_SERVICE_PROVIDER`` is one unless it says ``no csp``.

Each function has a SQL twin (DuckDB dialect, over a column) built from the same tables, so a
pipeline step classifies millions of actions without a Python call per row.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from pullstats.sql_literals import sql_text

__all__ = [
    "CATEGORIES",
    "USE_CASES",
    "USE_CASE_OF_TOOL",
    "ClientCategory",
    "UnknownCategory",
    "UseCase",
    "categories_named",
    "category_bit",
    "category_bit_sql",
    "category_of",
    "category_set",
    "category_sql",
    "only_of",
    "use_case_of",
    "use_case_sql",
]


class ClientCategory(enum.StrEnum):
    ENGINE = "engine"  # a container engine pulling to run: docker, containerd, podman …
    BUILD = "build"  # a build or CI tool pulling base images: buildkit, kaniko, buildah
    ORCHESTRATOR = "orchestrator"  # a Kubernetes runtime pulling for its pods: CRI-O
    MIRROR = "mirror"  # a registry mirror or proxy filling its cache: Harbor, Artifactory
    SCANNER = "scanner"  # a vulnerability scanner or SBOM tool reading images: Trivy, Grype
    BOT = "bot"  # an update bot or notifier checking tags: Renovate, Watchtower, Diun
    LIBRARY = "library"  # a registry client library or tool: go-containerregistry, skopeo
    UNKNOWN = "unknown"  # a generic HTTP client, or an agent no parser knows


class UseCase(enum.StrEnum):
    """Docker's own spellings, so a publisher's spreadsheets of its reports work on ours."""

    LOCAL_DEV = "Local Dev"
    CI_CD = "CI/CD"
    PROD = "Prod"
    UNKNOWN = "Unknown"


C = ClientCategory

#: Every tool :func:`pullstats.enrich.user_agent.parse_user_agent` can name, and the clients
#: Docker's Trends reports name that no agent here tells (``docker-scout``) → its category; a
#: tool not listed (and "", no tool) is :attr:`ClientCategory.UNKNOWN`.
CATEGORIES: Mapping[str, ClientCategory] = {
    "docker": C.ENGINE,
    "podman": C.ENGINE,
    "containerd": C.ENGINE,  # ctr, nerdctl and kubelet's CRI plugin send the same agent
    "bootc": C.ENGINE,
    "cri-o": C.ORCHESTRATOR,  # CRI-O exists to run Kubernetes pods
    "buildkit": C.BUILD,
    "buildah": C.BUILD,
    "kaniko": C.BUILD,
    "harbor": C.MIRROR,
    "artifactory": C.MIRROR,
    "trivy": C.SCANNER,
    "docker-scout": C.SCANNER,  # named by Docker's Trends reports; it sends no agent of its own
    "grype": C.SCANNER,
    "syft": C.SCANNER,
    "renovate": C.BOT,
    "watchtower": C.BOT,
    "diun": C.BOT,
    # Snyk, Dependabot, Flux, Argo CD Image Updater and Keel send no agent of their own
    # (docs/enrichment.md): they arrive as docker, go-containerregistry, Go-http-client
    "skopeo": C.LIBRARY,
    "crane": C.LIBRARY,
    "go-containerregistry": C.LIBRARY,
    "containers-image": C.LIBRARY,
    "regclient": C.LIBRARY,
    # curl, wget, python-requests, Go-http-client: a script, whoever wrote it: unknown
}

#: What each category is used for, seen from outside a cloud network.
USE_CASES: Mapping[ClientCategory, UseCase] = {
    C.ENGINE: UseCase.LOCAL_DEV,
    C.BUILD: UseCase.CI_CD,
    C.MIRROR: UseCase.CI_CD,
    C.ORCHESTRATOR: UseCase.PROD,
    C.SCANNER: UseCase.UNKNOWN,
    C.BOT: UseCase.UNKNOWN,
    C.LIBRARY: UseCase.UNKNOWN,
    C.UNKNOWN: UseCase.UNKNOWN,
}

#: The tools whose use differs from their category's: Docker counts containerd as CI/CD, and
#: bootc updates the operating system of a running machine.
USE_CASE_OF_TOOL: Mapping[str, UseCase] = {
    "containerd": UseCase.CI_CD,
    "bootc": UseCase.PROD,
}

#: Docker's reclassification: the same tool seen from a cloud network is one step further on.
_IN_A_CLOUD: Mapping[UseCase, UseCase] = {
    UseCase.LOCAL_DEV: UseCase.CI_CD,
    UseCase.CI_CD: UseCase.PROD,
}


def category_of(tool: str) -> ClientCategory:
    """The category of a parsed user agent's tool (``user_agent_tool``)."""
    return CATEGORIES.get(tool, C.UNKNOWN)


def use_case_of(tool: str, cloud_provider: str) -> UseCase:
    """The inferred use case of a pull by ``tool`` from an address whose cloud provider is
    ``cloud_provider`` (the ``host`` column; "" outside a known cloud)."""
    use = USE_CASE_OF_TOOL.get(tool) or USE_CASES[category_of(tool)]
    return _IN_A_CLOUD.get(use, use) if cloud_provider else use


#: The one tool the user-agent parser names with capitals (Go's net/http default agent); every
#: other tool's name is lower-case
GO_HTTP_CLIENT = "Go-http-client"


def reported_tool_sql(name: str) -> str:
    """SQL for the tool of a client a report names (the text column ``name``: Docker's Trends
    report, ours read back), spelled as the user-agent parser spells it whatever the report's
    capitals: the same client is one tool from either source."""
    lowered = f"lower(coalesce({name}, ''))"
    spelled = f"WHEN {sql_text(GO_HTTP_CLIENT.lower())} THEN {sql_text(GO_HTTP_CLIENT)}"
    return f"CASE {lowered} {spelled} ELSE {lowered} END"


def _case(column: str, values: Mapping[str, str], default: str) -> str:
    whens = " ".join(
        f"WHEN {sql_text(key)} THEN {sql_text(value)}" for key, value in sorted(values.items())
    )
    return f"CASE coalesce({column}, '') {whens} ELSE {sql_text(default)} END"


def category_sql(tool: str) -> str:
    """SQL for :func:`category_of` of the text column ``tool``."""
    return _case(tool, {k: v.value for k, v in CATEGORIES.items()}, C.UNKNOWN.value)


def use_case_sql(tool: str, cloud_provider: str) -> str:
    """SQL for :func:`use_case_of` of the text columns ``tool`` and ``cloud_provider``."""
    tools = set(CATEGORIES) | set(USE_CASE_OF_TOOL)
    outside = {t: use_case_of(t, "").value for t in tools}
    inside = {t: use_case_of(t, "cloud").value for t in tools}
    return (
        f"CASE WHEN coalesce({cloud_provider}, '') = '' "
        f"THEN {_case(tool, outside, use_case_of('', '').value)} "
        f"ELSE {_case(tool, inside, use_case_of('', 'cloud').value)} END"
    )


def category_bit(category: ClientCategory) -> int:
    """The category's bit in a set of categories held as one integer (``trend_rollups``'
    ``categories``): 1 shifted by its place in :class:`ClientCategory`, whose members are only
    ever added at the end."""
    return 1 << list(ClientCategory).index(category)


def category_set(categories: Iterable[ClientCategory]) -> int:
    r"""A set of categories as one integer: their :func:`category_bit`\ s together."""
    bits = 0
    for category in categories:
        bits |= category_bit(category)
    return bits


def only_of(categories: int, left_out: int) -> bool:
    """Whether a set of categories (:func:`category_set`) holds none but those of
    ``left_out``: the users of such a set pulled only with clients left out."""
    return categories & ~left_out == 0


def category_bit_sql(category: str) -> str:
    """SQL for :func:`category_bit` of the text column ``category`` (a category's value)."""
    whens = " ".join(f"WHEN {sql_text(c.value)} THEN {category_bit(c)}" for c in ClientCategory)
    return f"CASE {category} {whens} END"


class UnknownCategory(ValueError):
    """A name that is no client category; the message lists the categories."""


def categories_named(raw: Iterable[str]) -> tuple[ClientCategory, ...]:
    """The client categories named by ``raw`` (each value a comma-separated list, as a query's
    ``exclude=scanner,bot``), in :class:`ClientCategory` order; :class:`UnknownCategory` for a
    name that is none."""
    given = {part.strip() for value in raw for part in value.split(",") if part.strip()}
    known = [category.value for category in ClientCategory]
    unknown = sorted(given.difference(known))
    if unknown:
        raise UnknownCategory(
            f"exclude: unknown client categor{'y' if len(unknown) == 1 else 'ies'} "
            f"{', '.join(map(repr, unknown))}: use {', '.join(known)}"
        )
    return tuple(category for category in ClientCategory if category.value in given)

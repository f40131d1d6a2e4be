"""The breakdown rollups (``rollups.breakdowns``): action counts by cloud provider, network type,
and client tool and version, at namespace and repository level, worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from pullstats.config import Settings
from pullstats.db.models import BreakdownRollup
from pullstats.duckdb_engine import DuckDBEngine
from pullstats.ingest.records import PullRequestRecord
from pullstats.pipeline import process
from pullstats.rollups.steps import BREAKDOWNS
from pullstats.runtime import Runtime
from pullstats.timestamps import micros, now_micros
from tests.conftest import actions_table, trend, trends_table, write_spool

A, B, C = b"\x0a" * 16, b"\x0b" * 16, b"\x0c" * 16


def action(
    repo: str, kind: str, ip: bytes | None, host: str, net: str, tool: str, version: str
) -> dict[str, object]:
    return dict(
        namespace="acme",
        repository=repo,
        reference="1.0",
        action=kind,
        ip_hash=ip,
        host=host,
        type=net,
        user_agent_tool=tool,
        user_agent_version=version,
        action_day=date(2026, 1, 5),
    )


ACTIONS = [
    action("api", "pull_by_tag", A, "aws", "hosting", "docker", "27.3.1"),
    action("api", "pull_by_tag", B, "aws", "hosting", "docker", "26.1.0"),
    action("api", "version_check", A, "aws", "hosting", "docker", "27.3.1"),
    action("web", "pull_by_digest", C, "", "isp", "containerd", "1.7.22"),
    action("web", "pull_by_tag", A, "gcp", "hosting", "", ""),
]


def test_breakdowns_count_each_dimension_at_both_levels(tmp_path: Path) -> None:
    table = DuckDBEngine(Settings(data_dir=tmp_path)).arrow(
        BREAKDOWNS, {"actions": actions_table(ACTIONS), "trends": []}
    )
    got = {
        (r["level"], r["repository"], r["dimension"], r["value"], r["version"]): (
            r["pull_by_tag"],
            r["pull_by_digest"],
            r["version_check"],
        )
        for r in table.to_pylist()
    }
    ns = "namespace"
    # by hand: aws holds api's three actions; gcp web's tag pull; '' web's digest pull
    assert {k[3:]: v for k, v in got.items() if k[0] == ns and k[2] == "host"} == {
        ("aws", ""): (2, 0, 1),
        ("gcp", ""): (1, 0, 0),
        ("", ""): (0, 1, 0),
    }
    assert {k[3:]: v for k, v in got.items() if k[0] == ns and k[2] == "type"} == {
        ("hosting", ""): (3, 0, 1),
        ("isp", ""): (0, 1, 0),
    }
    assert {k[3:]: v for k, v in got.items() if k[0] == ns and k[2] == "tool_version"} == {
        ("docker", "27.3.1"): (1, 0, 1),
        ("docker", "26.1.0"): (1, 0, 0),
        ("containerd", "1.7.22"): (0, 1, 0),
        ("", ""): (1, 0, 0),
    }
    # repository level: web only, by tool and version
    assert {k[3:]: v for k, v in got.items() if k[1] == "web" and k[2] == "tool_version"} == {
        ("containerd", "1.7.22"): (0, 1, 0),
        ("", ""): (1, 0, 0),
    }
    assert {k[1] for k in got if k[0] == "repository"} == {"api", "web"}
    assert {k[1] for k in got if k[0] == ns} == {""}
    # docker from aws is CI/CD (Docker's rule for a local-dev tool in a cloud); containerd
    # outside a cloud CI/CD; no tool: unknown
    assert {k[3]: v for k, v in got.items() if k[0] == ns and k[2] == "category"} == {
        "engine": (2, 1, 1),
        "unknown": (1, 0, 0),
    }
    assert {k[3]: v for k, v in got.items() if k[0] == ns and k[2] == "use_case"} == {
        "CI/CD": (2, 1, 1),
        "Unknown": (1, 0, 0),
    }
    # the namespace: 3 host + 2 type + 2 category + 2 use case + 4 tool-version rows; api
    # 1 + 1 + 1 + 1 + 2, web 2 + 2 + 2 + 2 + 2
    assert len(got) == 13 + 6 + 10


def test_breakdowns_split_by_client_category_and_inferred_use_case(tmp_path: Path) -> None:
    actions = [
        action("api", "pull_by_tag", A, "", "isp", "docker", "27.3.1"),  # Local Dev
        action("api", "pull_by_tag", B, "aws", "hosting", "docker", "27.3.1"),  # CI/CD: cloud
        action("api", "pull_by_tag", C, "", "isp", "containerd", "1.7.22"),  # CI/CD
        action("web", "pull_by_digest", A, "gcp", "hosting", "containerd", "1.7.22"),  # Prod
        action("web", "pull_by_tag", B, "", "business", "cri-o", "1.30.4"),  # Prod
        action("web", "version_check", C, "aws", "hosting", "renovate", "37.440.7"),  # Unknown
        action("web", "pull_by_tag", A, "", "isp", "trivy", "0.57.0"),  # Unknown
        action("web", "pull_by_tag", B, "azure", "hosting", "buildkit", "0.16.0"),  # Prod
    ]
    table = DuckDBEngine(Settings(data_dir=tmp_path)).arrow(
        BREAKDOWNS, {"actions": actions_table(actions), "trends": []}
    )

    def split(level: str, repository: str, dimension: str) -> dict[str, tuple[int, int, int]]:
        return {
            r["value"]: (r["pull_by_tag"], r["pull_by_digest"], r["version_check"])
            for r in table.to_pylist()
            if (r["level"], r["repository"], r["dimension"]) == (level, repository, dimension)
        }

    assert split("namespace", "", "category") == {
        "engine": (3, 1, 0),
        "orchestrator": (1, 0, 0),
        "build": (1, 0, 0),
        "scanner": (1, 0, 0),
        "bot": (0, 0, 1),
    }
    assert split("namespace", "", "use_case") == {
        "Local Dev": (1, 0, 0),
        "CI/CD": (2, 0, 0),
        "Prod": (2, 1, 0),
        "Unknown": (1, 0, 1),
    }
    assert split("repository", "api", "use_case") == {"Local Dev": (1, 0, 0), "CI/CD": (2, 0, 0)}
    assert split("repository", "web", "category") == {
        "engine": (0, 1, 0),
        "orchestrator": (1, 0, 0),
        "build": (1, 0, 0),
        "scanner": (1, 0, 0),
        "bot": (0, 0, 1),
    }


def test_breakdowns_take_imported_trends_reports(tmp_path: Path) -> None:
    # a live pull of api by docker from aws, and Docker's Trends report of the same period
    # downloaded twice (files a and b); repository old also has imported raw rows, which count
    # its Hub pulls already, so the report's rows of old are left out
    live = action("api", "pull_by_tag", A, "aws", "hosting", "docker", "27.3.1")
    raw = action("old", "pull_by_tag", None, "", "", "docker", "") | {"ruleset_version": 0}
    trends = trends_table(
        trend("api", "1.0", "gcp", "docker", 4, 1, "a"),
        trend("api", "", "", "trivy", 3, 0, "a"),  # no tag: pulled by digest
        trend("api", "1.0", "gcp", "docker", 5, 1, "b"),
        trend("old", "1.0", "", "docker", 7, 0, "a"),
    )
    table = DuckDBEngine(Settings(data_dir=tmp_path)).arrow(
        BREAKDOWNS, {"actions": actions_table([live, raw]), "trends": trends}
    )

    def split(repository: str, dimension: str) -> dict[tuple[str, str], tuple[int, int, int]]:
        level = "repository" if repository else "namespace"
        return {
            (r["value"], r["version"]): (r["pull_by_tag"], r["pull_by_digest"], r["version_check"])
            for r in table.to_pylist()
            if (r["level"], r["repository"], r["dimension"]) == (level, repository, dimension)
        }

    # api: live docker/aws 1 by tag; the report: docker/gcp max(4, 5) by tag and 1 check,
    # trivy (no cloud) 3 by digest (no tag); no version from a report
    assert split("api", "tool_version") == {
        ("docker", "27.3.1"): (1, 0, 0),
        ("docker", ""): (5, 0, 1),
        ("trivy", ""): (0, 3, 0),
    }
    assert split("api", "host") == {
        ("aws", ""): (1, 0, 0),
        ("gcp", ""): (5, 0, 1),
        ("", ""): (0, 3, 0),
    }
    assert split("api", "type") == {("hosting", ""): (6, 0, 1), ("", ""): (0, 3, 0)}
    # docker from a cloud: CI/CD (aws live, gcp reported); a scanner: Unknown
    assert split("api", "use_case") == {("CI/CD", ""): (6, 0, 1), ("Unknown", ""): (0, 3, 0)}
    assert split("api", "category") == {("engine", ""): (6, 0, 1), ("scanner", ""): (0, 3, 0)}
    # old: only its imported raw row (docker, no cloud: Local Dev), not the report's 7
    assert split("old", "use_case") == {("Local Dev", ""): (1, 0, 0)}
    assert split("", "category") == {("engine", ""): (7, 0, 1), ("scanner", ""): (0, 3, 0)}


def test_process_stores_the_breakdowns_with_the_periods_rollups(runtime: Runtime) -> None:
    when = micros(datetime(2026, 1, 5, 10, tzinfo=UTC))
    write_spool(
        runtime,
        *(
            PullRequestRecord(
                f"bd-{n}",
                when + n * 60_000_000,
                "GET",
                "acme/api",
                "1.0",
                "sha256:0d",
                ip,
                agent,
                "notification",
                now_micros(),
            )
            for n, (ip, agent) in enumerate(
                [
                    ("192.0.2.1", "docker/27.3.1 go/go1.22"),
                    ("192.0.2.2", "docker/27.3.1 go/go1.22"),
                    ("192.0.2.1", "containerd/1.7.22"),
                ]
            )
        ),
    )
    process(runtime)
    with runtime.sessions() as session:
        rows = session.execute(
            select(
                BreakdownRollup.period_kind,
                BreakdownRollup.value,
                BreakdownRollup.version,
                BreakdownRollup.pull_by_tag,
            ).where(
                BreakdownRollup.level == "namespace",
                BreakdownRollup.dimension == "tool_version",
            )
        ).all()
    assert sorted(rows) == [
        ("month", "containerd", "1.7.22", 1),
        ("month", "docker", "27.3.1", 2),
        ("week", "containerd", "1.7.22", 1),
        ("week", "docker", "27.3.1", 2),
    ]

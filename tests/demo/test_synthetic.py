"""Tests for ``demo.synthetic``: the shape, determinism and realism of the synthetic traffic.

Realism is checked the way the rest of pullstats will see the data: rows are parsed back as
spool lines and as registry notifications, and grouped into actions by the §3 rules.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pullstats.action_window import JOIN_WINDOW_US
from pullstats.classify.rules import group_requests
from pullstats.demo.catalog import DEMO_CATALOG, SyntheticCatalog, SyntheticTag, catalog_from_tags
from pullstats.demo.spool_encoding import to_spool_lines
from pullstats.demo.synthetic import MAX_CHUNK_ROWS, generate_requests
from pullstats.dvp_columns import ActionKind
from pullstats.enrich.user_agent import parse_user_agent
from pullstats.ingest.notifications import parse_event
from pullstats.ingest.records import SPOOL_SCHEMA, PullRequestRecord
from pullstats.timestamps import from_micros, micros

START = dt.date(2025, 3, 3)  # a Monday
DAY_US = 86_400 * 1_000_000
START_US = micros(dt.datetime(2025, 3, 3, tzinfo=dt.UTC))
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def generate(
    *,
    catalog: SyntheticCatalog = DEMO_CATALOG,
    days: int = 14,
    requests_per_day: int = 2_000,
    seed: int = 11,
    received_us: int | None = None,
) -> list[pa.Table]:
    return list(
        generate_requests(
            catalog,
            start=START,
            days=days,
            requests_per_day=requests_per_day,
            seed=seed,
            received_us=received_us,
        )
    )


@pytest.fixture(scope="module")
def tables() -> list[pa.Table]:
    return generate()


@pytest.fixture(scope="module")
def history(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables)


def partitions(table: pa.Table) -> Iterator[dict[str, list[Any]]]:
    """Rows per (ip, name), each sorted by ts: the classifier's partitions."""
    ordered = table.sort_by([("ip", "ascending"), ("name", "ascending"), ("ts", "ascending")])
    columns = ordered.to_pydict()
    start = 0
    for end in range(1, ordered.num_rows + 1):
        if end == ordered.num_rows or (columns["ip"][end], columns["name"][end]) != (
            columns["ip"][start],
            columns["name"][start],
        ):
            yield {key: values[start:end] for key, values in columns.items()}
            start = end


def classify(table: pa.Table) -> Counter[str]:
    counts: Counter[str] = Counter()
    for part in partitions(table):
        ts = part["ts"]
        gaps: list[int | None] = [None]
        gaps += [b - a for a, b in itertools.pairwise(ts)]
        grouped = group_requests(gaps, part["method"], part["tag"], part["digest"])
        counts.update(grouped.action)
    return counts


# --- surface and catalog -------------------------------------------------------------------


def test_demo_catalog_has_namespaces_nesting_and_multi_arch_tags() -> None:
    assert DEMO_CATALOG.namespaces == ("acme", "globex", "initech")
    per_namespace = Counter(name.split("/", 1)[0] for name in DEMO_CATALOG.repositories)
    assert all(4 <= count <= 8 for count in per_namespace.values())
    assert "acme/tools/cli" in DEMO_CATALOG.repositories
    for tags in DEMO_CATALOG.tags:
        assert tags[0].name == "latest"
        assert len(tags) >= 4
        for tag in tags:
            assert len(tag.platform_digests) == 2
            assert tag.index_digest not in tag.platform_digests
        # latest is the newest release, manifests and all
        assert (tags[0].index_digest, tags[0].platform_digests) == (
            tags[1].index_digest,
            tags[1].platform_digests,
        )
    indexes = [tag.index_digest for tags in DEMO_CATALOG.tags for tag in tags[1:]]
    assert len(set(indexes)) == len(indexes)


@pytest.mark.parametrize(
    ("repositories", "tags", "message"),
    [
        ((), (), "at least one repository"),
        (("acme/api",), (), "one tuple of tags per repository"),
        (("Acme/API",), ((SyntheticTag("latest", "sha256:" + "a" * 64),),), "invalid repository"),
        (("acme/api",), ((),), "has no tags"),
        (("acme/api",), ((SyntheticTag("-bad", "sha256:" + "a" * 64),),), "invalid tag"),
        (("acme/api",), ((SyntheticTag("latest", "md5:abc"),),), "invalid digest"),
    ],
)
def test_catalog_rejects_what_a_registry_would_not_hold(
    repositories: tuple[str, ...], tags: tuple[tuple[SyntheticTag, ...], ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticCatalog(repositories, tags)


def test_arguments_are_checked_when_called() -> None:
    with pytest.raises(ValueError):
        generate_requests(DEMO_CATALOG, start=START, days=-1, requests_per_day=1, seed=1)
    with pytest.raises(TypeError):
        generate_requests(
            DEMO_CATALOG,
            start=dt.datetime(2025, 3, 3, tzinfo=dt.UTC),
            days=1,
            requests_per_day=1,
            seed=1,
        )
    assert generate(days=0) == []
    assert generate(requests_per_day=0) == []


# --- shape -------------------------------------------------------------------------------------


def test_every_table_is_one_day_of_spool_rows_in_time_order(tables: list[pa.Table]) -> None:
    assert len(tables) == 14
    for day, table in enumerate(tables):
        assert table.schema.equals(SPOOL_SCHEMA)
        ts = table.column("ts").to_numpy()
        assert (ts[1:] >= ts[:-1]).all()
        assert START_US + day * DAY_US <= ts[0] and ts[-1] < START_US + (day + 1) * DAY_US
        assert table.column("src").unique().to_pylist() == ["notification"]
        recv = table.column("recv").to_numpy()
        assert ((recv >= ts) & (recv - ts <= 10_000_000)).all()
        for name in SPOOL_SCHEMA.names:
            assert table.column(name).null_count == 0


def test_same_arguments_same_tables_other_seed_other_tables(tables: list[pa.Table]) -> None:
    again = generate()
    assert len(again) == len(tables)
    assert all(a.equals(b) for a, b in zip(again, tables, strict=True))
    other = pa.concat_tables(generate(seed=12))
    assert not other.equals(pa.concat_tables(tables))


def test_received_us_is_used_as_given() -> None:
    table = pa.concat_tables(generate(days=2, received_us=1_800_000_000_000_000))
    assert table.column("recv").unique().to_pylist() == [1_800_000_000_000_000]


def test_ids_are_unique_uuid4s(history: pa.Table) -> None:
    ids = history.column("id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(UUID4.match(value) for value in ids)


@pytest.mark.slow
def test_busy_day_comes_in_bounded_chunks_in_time_order() -> None:
    chunks = generate(days=1, requests_per_day=450_000, seed=5)
    assert len(chunks) >= 3
    assert all(0 < chunk.num_rows <= MAX_CHUNK_ROWS for chunk in chunks)
    ts = pa.chunked_array([chunk.column("ts") for chunk in chunks]).to_numpy()
    assert (ts[1:] >= ts[:-1]).all()
    assert ts[0] >= START_US and ts[-1] < START_US + DAY_US
    assert 0.95 * 450_000 < len(ts) < 1.05 * 450_000


# --- rhythm and popularity ---------------------------------------------------------------------


def test_volume_averages_requests_per_day_with_quiet_weekends(tables: list[pa.Table]) -> None:
    per_day = [table.num_rows for table in tables]
    assert 0.95 * 2_000 * 14 < sum(per_day) < 1.05 * 2_000 * 14
    weekdays = [n for day, n in enumerate(per_day) if day % 7 < 5]
    weekends = [n for day, n in enumerate(per_day) if day % 7 >= 5]
    assert max(weekends) < min(weekdays)
    assert sum(weekends) / len(weekends) < 0.8 * sum(weekdays) / len(weekdays)


def test_traffic_grows_over_a_year() -> None:
    per_day = [table.num_rows for table in generate(days=364, requests_per_day=300, seed=3)]
    assert 0.95 * 300 * 364 < sum(per_day) < 1.05 * 300 * 364
    first, last = sum(per_day[:56]), sum(per_day[-56:])
    assert 1.1 * first < last < 1.5 * first


def test_popularity_is_zipf_like(history: pa.Table) -> None:
    by_repository = Counter(history.column("name").to_pylist())
    ranked = [name for name, _ in by_repository.most_common()]
    assert ranked[0] == DEMO_CATALOG.repositories[0]
    assert by_repository[ranked[0]] > 5 * by_repository[ranked[-1]]
    # tags are listed latest, newest release, older releases: count requests by that rank
    rank = {
        (repository, tag.name): position
        for repository, tags in zip(DEMO_CATALOG.repositories, DEMO_CATALOG.tags, strict=True)
        for position, tag in enumerate(tags)
    }
    names, tags = history.column("name").to_pylist(), history.column("tag").to_pylist()
    by_rank = Counter(rank[name, tag] for name, tag in zip(names, tags, strict=True) if tag)
    assert min(by_rank[0], by_rank[1]) > max(by_rank[r] for r in by_rank if r >= 2)
    assert by_rank[0] + by_rank[1] > 0.6 * sum(by_rank.values())


# --- clients -----------------------------------------------------------------------------------


def test_addresses_are_canonical_public_and_mostly_ipv4(history: pa.Table) -> None:
    addresses = history.column("ip").to_pylist()
    for text in set(addresses):
        address = ipaddress.ip_address(text)
        assert str(address) == text
        assert address.is_global
    v6 = sum(1 for text in addresses if ":" in text)
    assert 0.01 * len(addresses) < v6 < 0.2 * len(addresses)
    # NAT gateways and CI farms: a few addresses carry a large part of the traffic
    busiest = sum(n for _, n in Counter(addresses).most_common(len(set(addresses)) // 50))
    assert busiest > 0.15 * len(addresses)


def test_user_agents_cover_the_real_clients(history: pa.Table) -> None:
    agents = set(history.column("ua").unique().to_pylist())
    products = {agent.split("/", 1)[0] for agent in agents}
    assert products >= {
        "docker",
        "containerd",
        "containers",
        "buildkit",
        "cri-o",
        "crane",
        "kaniko",
        "Go-http-client",
        "curl",
        "Watchtower",
        "RenovateBot",
        "skopeo",
    }
    unknown = {agent for agent in agents if parse_user_agent(agent) == ("", "")}
    assert not unknown
    assert any(
        agent.startswith("docker/27.3.1 go/go1.22.7 git-commit/") and "os/linux arch/amd64" in agent
        for agent in agents
    )


# --- request sequences -------------------------------------------------------------------------


def test_pull_sequences_are_spelled_as_clients_spell_them(history: pa.Table) -> None:
    head_then_index_then_platform = 0
    lone_bot_heads = 0
    ci_bursts = 0
    for part in partitions(history):
        ts, method, tag, digest, agent = (
            part["ts"],
            part["method"],
            part["tag"],
            part["digest"],
            part["ua"],
        )
        n = len(ts)
        for i in range(n):
            soon = [j for j in range(i + 1, n) if ts[j] - ts[i] <= JOIN_WINDOW_US]
            if method[i] == "HEAD" and tag[i] and len(soon) >= 2:
                j, k = soon[0], soon[1]
                if (method[j], tag[j], digest[j]) == ("GET", "", digest[i]) and (
                    method[k] == "GET" and not tag[k] and digest[k] != digest[i]
                ):
                    head_then_index_then_platform += 1
            if agent[i].startswith(("Watchtower/", "Renovate/")):
                assert (method[i], bool(tag[i])) == ("HEAD", True)
                if not any(method[j] == "GET" for j in soon):
                    lone_bot_heads += 1
            # another job of the same pipeline opens a pull of the same tag within seconds
            if tag[i] and any(tag[j] == tag[i] and method[j] == method[i] for j in soon):
                ci_bursts += 1
    assert head_then_index_then_platform > 1_000
    assert lone_bot_heads > 500
    assert ci_bursts > 50
    by_digest = history.filter(pc.equal(history.column("tag"), ""))
    assert "GET" in by_digest.column("method").to_pylist()
    assert "HEAD" in by_digest.column("method").to_pylist()  # containerd resolving a digest
    by_tag = history.filter(pc.not_equal(history.column("tag"), ""))
    assert "GET" in by_tag.column("method").to_pylist()  # containers/image, crane, curl


def test_the_rules_find_every_action_kind_in_plausible_proportions(history: pa.Table) -> None:
    counts = classify(history)
    total = sum(counts.values())
    assert counts[ActionKind.PULL_BY_TAG] > 0.5 * total
    assert 0.05 * total < counts[ActionKind.PULL_BY_DIGEST] < 0.3 * total
    assert 0.1 * total < counts[ActionKind.VERSION_CHECK] < 0.35 * total
    # multi-arch pulls take two or three requests each
    assert 2.0 < history.num_rows / total < 3.0


def test_single_arch_images_and_one_component_names() -> None:
    catalog = catalog_from_tags(
        {"nginx": ["latest", "1.27.2", "1.26.2"], "grp/sub/app": ["latest", "0.1.0"]},
        platforms=0,
    )
    assert catalog.namespaces == ("grp", "library")
    table = pa.concat_tables(generate(catalog=catalog, days=3, requests_per_day=1_000))
    assert set(table.column("name").unique().to_pylist()) == {"nginx", "grp/sub/app"}
    manifests = {tag.index_digest for tags in catalog.tags for tag in tags}
    assert set(table.column("digest").unique().to_pylist()) <= manifests
    counts = classify(table)
    assert counts[ActionKind.PULL_BY_TAG] > 0.5 * sum(counts.values())
    assert table.num_rows / sum(counts.values()) < 2.0  # no platform manifest to fetch


def test_rows_are_requests_the_notification_parser_accepts(tables: list[pa.Table]) -> None:
    for row in tables[0].slice(0, 300).to_pylist():
        record = PullRequestRecord(**row)
        address = f"[{record.ip}]:443" if ":" in record.ip else f"{record.ip}:443"
        reference = record.tag or record.digest
        event = {
            "id": record.id,
            "timestamp": from_micros(record.ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "action": "pull",
            "target": {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "repository": record.name,
                "url": f"https://registry.example.com/v2/{record.name}/manifests/{reference}",
                "tag": record.tag,
                "digest": record.digest,
            },
            "request": {"addr": address, "method": record.method, "useragent": record.ua},
            "actor": {"name": record.user} if record.user else {},
        }
        assert parse_event(event, record.recv) == record


# --- spool lines -------------------------------------------------------------------------------


def test_spool_lines_are_what_records_write(tables: list[pa.Table]) -> None:
    table = tables[0]
    rendered = to_spool_lines(table)
    rows = table.to_pylist()
    assert rendered == b"".join(PullRequestRecord(**row).to_line() for row in rows)
    lines = rendered.splitlines(keepends=True)
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        assert line.endswith(b"\n")
        assert json.loads(line) == json.loads(PullRequestRecord(**row).to_line()) == row


def test_spool_lines_escape_like_the_json_module() -> None:
    awkward = [
        'quote " and backslash \\ and \\(linux\\)',
        "tab\tnewline\ncarriage\rbell\x07nul\x00",
        "ünïcödé, 日本語, emoji 🐳, U+2028 \u2028, DEL \x7f",
        "",
    ]
    table = pa.Table.from_pylist(
        [
            {
                "id": f"id-{i}",
                "ts": -5 + i,
                "method": "GET",
                "name": "a/b",
                "tag": text,
                "digest": "",
                "ip": "::1",
                "ua": text,
                "src": "log",
                "recv": 2**62 + i,
                "user": text,
            }
            for i, text in enumerate(awkward)
        ],
        schema=SPOOL_SCHEMA,
    )
    # a chunked, offset table as a concatenation or a slice hands over
    chunked = pa.concat_tables([table, table]).slice(1, 6)
    for candidate in (table, chunked, table.slice(2, 2), table.slice(0, 1)):
        expected = b"".join(PullRequestRecord(**row).to_line() for row in candidate.to_pylist())
        assert to_spool_lines(candidate) == expected


def test_spool_lines_refuse_other_tables() -> None:
    assert to_spool_lines(SPOOL_SCHEMA.empty_table()) == b""
    with pytest.raises(ValueError, match="not a spool table"):
        to_spool_lines(pa.table({"id": ["x"]}))
    row = {name: None for name in SPOOL_SCHEMA.names}
    with pytest.raises(ValueError, match="nulls"):
        to_spool_lines(pa.Table.from_pylist([row], schema=SPOOL_SCHEMA))

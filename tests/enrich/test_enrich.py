"""enrich() on the real bundled data, and on MaxMind databases written here with mmdb-writer."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from pullstats.config import Settings
from pullstats.enrich import ENRICHED_COLUMNS, enrich
from pullstats.enrich.organisations import network_type, provider_of
from tests.enrich.maxmind_files import write_country_db

# address → (country, host, type): well-known networks whose owners will not change soon
KNOWN = {
    "52.94.7.24": ("US", "aws", "hosting"),  # AWS DynamoDB, listed in AWS' ip-ranges.json
    "20.42.0.1": ("US", "azure", "hosting"),  # Azure service tags
    "129.146.1.1": ("US", "oracle", "hosting"),  # Oracle Cloud public ranges
    "5.9.1.1": ("DE", "hetzner", "hosting"),  # Hetzner: no published list, found by ASN name
    "2a01:4f8::1": ("DE", "hetzner", "hosting"),  # the same over IPv6
    "2606:4700::1111": ("US", "cloudflare", "hosting"),
    "10.1.2.3": ("", "", ""),  # private: nothing is known
    "not-an-ip": ("", "", ""),
    "": ("", "", ""),
}


def _rows(columns: dict[str, pa.Array], index: int) -> tuple[str, ...]:
    return tuple(columns[name][index].as_py() for name in ("country", "host", "type"))


def test_known_networks() -> None:
    ips = pa.array(list(KNOWN), pa.string())
    columns = enrich(ips, pa.array(["curl/8.5.0"] * len(KNOWN)))
    assert list(columns) == list(ENRICHED_COLUMNS)
    for index, (address, expected) in enumerate(KNOWN.items()):
        assert _rows(columns, index) == expected, address
    assert set(columns["domain"].to_pylist()) == {""}


def test_rows_keep_their_order_and_repeat_values() -> None:
    ips = pa.array(["5.9.1.1", "10.1.2.3", "5.9.1.1", None, "52.94.7.24"], pa.string())
    uas = pa.array(["curl/8.5.0", None, "containerd/v1.7.22", "curl/8.5.0", ""], pa.string())
    columns = enrich(ips, uas)
    assert columns["host"].to_pylist() == ["hetzner", "", "hetzner", "", "aws"]
    assert columns["user_agent_tool"].to_pylist() == ["curl", "", "containerd", "curl", ""]
    assert columns["user_agent_version"].to_pylist() == ["8.5.0", "", "1.7.22", "8.5.0", ""]
    assert all(len(column) == 5 and column.null_count == 0 for column in columns.values())


def test_empty_batch() -> None:
    columns = enrich(pa.array([], pa.string()), pa.array([], pa.string()))
    assert all(len(column) == 0 for column in columns.values())


@pytest.mark.parametrize(
    ("organisation", "host", "kind"),
    [
        ("AMAZON-02", "aws", "hosting"),
        ("AMAZONIA TELECOMUNICACOES LTDA", "", "isp"),  # a Brazilian ISP, not AWS
        ("GOOGLE-CLOUD-PLATFORM", "gcp", "hosting"),
        ("Alibaba Cloud Singapore Private Limited", "alibaba", "hosting"),
        ("Alibaba Travel Company (LTD)", "", "business"),
        ("Akamai Connected Cloud", "linode", "hosting"),
        ("OVH SAS", "ovh", "hosting"),
        ("Yonsei University", "", "education"),
        # national research networks, by the names their autonomous systems carry
        ("Jisc Services Limited", "", "education"),  # JANET
        ("Verein zur Foerderung eines Deutschen Forschungsnetzes e.V.", "", "education"),  # DFN
        ("China Education and Research Network Center", "", "education"),  # CERNET
        ("SOUTH-DAKOTA-RESEARCH-AND-EDUCATION-NETWORK", "", "education"),
        ("Rede Nacional de Ensino e Pesquisa", "", "education"),  # RNP
        ("SWITCH", "", "education"),
        ("SWITCH TV PTY LTD TA SWITCH MEDIA", "", "business"),  # anchored: not SWITCH
        ("ESNET S.C.", "", "business"),  # not ESnet
        ("Deutsche Telekom AG", "", "isp"),
        ("COMCAST-7922", "", "isp"),
        ("LeaseWeb Netherlands B.V.", "leaseweb", "hosting"),
        ("Equinix (EMEA) Acquisition Enterprises B.V.", "", "hosting"),
        ("Punjab National Bank", "", "business"),
        ("", "", ""),
    ],
)
def test_organisation_heuristics(organisation: str, host: str, kind: str) -> None:
    assert provider_of(organisation) == host
    assert network_type(organisation, provider_of(organisation)) == kind


def test_the_bundled_data_names_the_research_networks_education() -> None:
    # Oxford (JANET), TU Berlin (DFN), Tsinghua (CERNET): their networks' names in the data
    # are "Jisc Services Limited", the DFN's association and "China Education and Research
    # Network Center", none of which says JANET, DFN or CERNET
    columns = enrich(pa.array(["129.67.1.1", "130.149.7.201", "202.112.0.1"]), pa.array([""] * 3))
    assert columns["type"].to_pylist() == ["education"] * 3


def _write_asn_db(path: Path) -> None:
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["192.0.2.0/24"]),
        {
            "autonomous_system_number": 24940,
            "autonomous_system_organization": "Hetzner Online GmbH",
        },
    )
    writer.insert_network(
        IPSet(["2001:db8::/32"]),
        {"autonomous_system_number": 1, "autonomous_system_organization": "Example University"},
    )
    writer.to_db_file(str(path))


def test_maxmind_databases_replace_the_bundled_data(tmp_path: Path) -> None:
    country_db, asn_db = tmp_path / "country.mmdb", tmp_path / "asn.mmdb"
    write_country_db(country_db)
    _write_asn_db(asn_db)
    settings = Settings(data_dir=tmp_path, geoip_country_db=country_db, geoip_asn_db=asn_db)
    ips = pa.array(["192.0.2.7", "198.51.100.1", "2001:db8::1", "52.94.7.24", "bogus"])
    columns = enrich(ips, pa.array([""] * 5), settings)
    assert columns["country"].to_pylist() == ["NL", "SE", "JP", "", ""]
    assert columns["host"].to_pylist() == ["hetzner", "", "", "aws", ""]  # ranges still apply
    assert columns["type"].to_pylist() == ["hosting", "", "education", "hosting", ""]
    # without settings the same addresses get the bundled answers (documentation ranges: none)
    bundled = enrich(ips, pa.array([""] * 5))
    assert bundled["country"].to_pylist() == ["", "", "", "US", ""]


def test_an_enterprise_database_gives_the_network_type_maxmind_assigns(tmp_path: Path) -> None:
    # GeoIP2 Enterprise keeps organisation and category under traits; named as the organisation
    # database, its user_type wins over the name heuristic, and a published cloud range over both
    enterprise_db = tmp_path / "enterprise.mmdb"
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-Enterprise", ipv4_compatible=True)
    networks = {
        "192.0.2.0/25": ("Example Telecom", "business"),  # the name alone would say isp
        "192.0.2.128/25": ("Example Corp", "residential"),  # ... and this one business
        "198.51.100.0/24": ("Example Holdings", "college"),
        "203.0.113.0/24": ("Hetzner Online GmbH", "new_category"),  # unknown: the name decides
        "2001:db8::/32": ("Example Networks", "consumer_privacy_network"),
        "52.94.0.0/16": ("Example Reseller", "business"),  # inside AWS' published ranges
    }
    for network, (name, user_type) in networks.items():
        traits = {"autonomous_system_organization": name, "user_type": user_type}
        writer.insert_network(IPSet([network]), {"traits": traits})
    writer.to_db_file(str(enterprise_db))
    ips = ["192.0.2.7", "192.0.2.200", "198.51.100.1", "203.0.113.9", "2001:db8::1", "52.94.7.24"]
    settings = Settings(data_dir=tmp_path, geoip_asn_db=enterprise_db)
    columns = enrich(pa.array(ips), pa.array([""] * len(ips)), settings)
    assert columns["type"].to_pylist() == [
        "business", "isp", "education", "hosting", "hosting", "hosting"
    ]  # fmt: skip
    assert columns["host"].to_pylist() == ["", "", "", "hetzner", "", "aws"]
    assert network_type("Example Telecom", "") == "isp"  # what the name says without user_type


def test_maxmind_domain_database_fills_the_domain(tmp_path: Path) -> None:
    domain_db, enterprise_db = tmp_path / "domain.mmdb", tmp_path / "enterprise.mmdb"
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-Domain", ipv4_compatible=True)
    writer.insert_network(IPSet(["192.0.2.0/24"]), {"domain": "example.net"})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"domain": "example.co.uk"})
    writer.to_db_file(str(domain_db))
    # an Enterprise database keeps the domain among the traits
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-Enterprise", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["198.51.100.0/24"]),
        {
            "country": {"iso_code": "SE"},
            "traits": {"domain": "example.se", "user_type": "cellular"},
        },
    )
    writer.to_db_file(str(enterprise_db))
    ips = pa.array(["192.0.2.7", "2001:db8::1", "198.51.100.1", "203.0.113.1", "bogus", None])
    agents = pa.array([""] * len(ips))

    columns = enrich(ips, agents, Settings(data_dir=tmp_path, geoip_domain_db=domain_db))
    assert columns["domain"].to_pylist() == ["example.net", "example.co.uk", "", "", "", ""]
    columns = enrich(ips, agents, Settings(data_dir=tmp_path, geoip_domain_db=enterprise_db))
    assert columns["domain"].to_pylist() == ["", "", "example.se", "", "", ""]
    # without the setting the column stays empty, and the other columns do not depend on it
    without = enrich(ips, agents)
    assert set(without["domain"].to_pylist()) == {""}
    assert {name: without[name] for name in ("country", "host", "type")} == {
        name: columns[name] for name in ("country", "host", "type")
    }

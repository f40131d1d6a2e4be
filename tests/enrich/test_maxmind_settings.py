"""A MaxMind database named in a setting that cannot be read is refused naming the variable and
the file: by enrichment, and before anything is read or served by the commands that enrich
(``ingest logs``, ``process``) and by ``serve``, whose scheduled jobs enrich in children."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pullstats.cli.common import error_lines
from pullstats.config import Settings
from pullstats.enrich import enrich
from pullstats.enrich.maxmind import check_databases
from pullstats.setting_values import SettingRefused
from tests.conftest import free_port, run_cli
from tests.enrich.maxmind_files import write_country_db
from tests.test_cli_errors import one_error_line

#: the settings and their variables
DATABASES = [
    ("geoip_country_db", "PULLSTATS_GEOIP_COUNTRY_DB"),
    ("geoip_asn_db", "PULLSTATS_GEOIP_ASN_DB"),
    ("geoip_domain_db", "PULLSTATS_GEOIP_DOMAIN_DB"),
]

NOT_MMDB = "not a MaxMind database file (.mmdb), or a damaged one"


def unreadable(tmp_path: Path, kind: str) -> tuple[Path, str]:
    """A path that is no readable MaxMind database, of ``kind``, and the reason it is given."""
    path = tmp_path / "GeoLite2.mmdb"
    if kind == "missing":
        return path, "no such file"
    if kind == "directory":
        path.mkdir()
        return path, "a directory, not a MaxMind database file (.mmdb)"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("GeoLite2-Country_20261201.tar.gz\n")  # a download's name, not the file
    elif kind == "truncated":  # the end of a database, where its metadata is, cut off
        write_country_db(path)
        path.write_bytes(path.read_bytes()[:-200])
    return path, NOT_MMDB


@pytest.mark.parametrize(("setting", "variable"), DATABASES)
@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "text", "truncated"])
def test_an_unreadable_database_is_refused_naming_the_variable_and_the_file(
    tmp_path: Path, setting: str, variable: str, kind: str
) -> None:
    path, reason = unreadable(tmp_path, kind)
    settings = Settings(data_dir=tmp_path, **{setting: path})
    expected = [f"{variable}={str(path)!r}: {reason}"]
    with pytest.raises(SettingRefused) as checked:
        check_databases(settings)
    assert error_lines(checked.value) == expected
    with pytest.raises(SettingRefused) as enriching:
        enrich(pa.array(["192.0.2.1"]), pa.array([""]), settings)
    assert error_lines(enriching.value) == expected


def test_readable_databases_pass_the_check(tmp_path: Path) -> None:
    database = tmp_path / "GeoLite2-Country.mmdb"
    write_country_db(database)
    check_databases(Settings(data_dir=tmp_path))  # none named: nothing to open
    # one file named in all three settings, as an Enterprise database may be
    check_databases(
        Settings(
            data_dir=tmp_path,
            geoip_country_db=database,
            geoip_asn_db=database,
            geoip_domain_db=database,
        )
    )


LINE = (
    '192.0.2.7 - - [05/Oct/2026:14:44:26 +0200] "GET /v2/acme/app/manifests/1.0 HTTP/1.1" '
    '200 0 "-" "docker/27.3.1"\n'
)


def test_ingest_logs_refuses_an_unreadable_database_before_reading_and_imports_once_mended(
    data_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    log.write_text(LINE)
    database = tmp_path / "GeoLite2-Country.mmdb"
    env = {"PULLSTATS_GEOIP_COUNTRY_DB": str(database)}
    expected = f"error: PULLSTATS_GEOIP_COUNTRY_DB={str(database)!r}: no such file"
    assert one_error_line(run_cli(data_dir, "ingest", "logs", str(log), env=env)) == expected
    # refused before a line is read: a log without a request to enrich is refused as well
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert one_error_line(run_cli(data_dir, "ingest", "logs", str(empty), env=env)) == expected
    assert not list((data_dir / "lake").rglob("*.parquet"))  # nothing written
    write_country_db(database)
    imported = run_cli(data_dir, "ingest", "logs", str(log), env=env)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[0] == f"{log}: 1 lines read, 1 used, 0 skipped"
    # the line's country is the database's (192.0.2.0/24 is NL there), not the bundled data's
    [requests] = (data_dir / "lake" / "requests").rglob("*.parquet")
    countries = pq.read_table(requests, columns=["country"])["country"].to_pylist()
    assert countries == ["NL"]


def test_process_and_serve_refuse_an_unreadable_database_before_they_start(
    data_dir: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "GeoLite2-ASN.mmdb"
    damaged.write_bytes(b"\x00" * 4096)
    env = {"PULLSTATS_GEOIP_ASN_DB": str(damaged)}
    expected = f"error: PULLSTATS_GEOIP_ASN_DB={str(damaged)!r}: {NOT_MMDB}"
    data_dir.mkdir()  # the jobs refuse a data dir that is not there
    assert one_error_line(run_cli(data_dir, "process", env=env)) == expected
    # the server's scheduled jobs would each fail in a child while it served on
    serve = run_cli(data_dir, "serve", "--port", str(free_port()), env=env)
    assert one_error_line(serve) == expected

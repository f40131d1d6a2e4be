"""Settings that DuckDB or SQLAlchemy would refuse in words of their own are refused naming the
variable, as the one line the command line shows (``cli.common.error_lines``): when they are
read, or (DuckDB's memory limit, whose grammar is DuckDB's) when DuckDB is first opened; and a
limit DuckDB runs out of is told in the settings' names too."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from pydantic import TypeAdapter, ValidationError

from pullstats.cli.common import error_lines
from pullstats.config import Settings
from pullstats.duckdb_engine import connect
from pullstats.s3_store import S3Store
from pullstats.setting_values import SettingRefused, duration_text
from pullstats.store_settings import check_link_lifetime
from tests.conftest import run_cli


def refused_when_read(monkeypatch: pytest.MonkeyPatch, **environ: str) -> list[str]:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    return error_lines(refused.value)


def test_duckdb_threads_are_at_least_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refused_when_read(monkeypatch, PULLSTATS_DUCKDB_THREADS="0") == [
        "PULLSTATS_DUCKDB_THREADS='0': input should be greater than or equal to 1"
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("lots", "Memory must have a number (e.g. 1GB)"),
        ("800%", "Unable to parse valid percentage (input: 800%)"),
        ("1,5GB", "Unknown unit for memory: ',5gb'"),
    ],
)
def test_a_memory_limit_duckdb_cannot_read_names_the_setting(
    tmp_path: Path, value: str, reason: str
) -> None:
    settings = Settings(data_dir=tmp_path, duckdb_memory_limit=value, duckdb_threads=1)
    with pytest.raises(SettingRefused) as refused:
        connect(settings)
    [line] = error_lines(refused.value)
    assert line.startswith(f"PULLSTATS_DUCKDB_MEMORY_LIMIT={value!r}: DuckDB: {reason}")


@pytest.mark.parametrize("value", ["1.5GB", "800MiB", "2 gigabytes", "50%", "1g"])
def test_every_spelling_of_a_memory_limit_duckdb_reads_is_taken(tmp_path: Path, value: str) -> None:
    # threads=1: a configuration no other test opens, so this test opens its own database
    settings = Settings(data_dir=tmp_path, duckdb_memory_limit=value, duckdb_threads=1)
    connection = connect(settings)
    try:
        [(limit,)] = connection.execute("SELECT current_setting('memory_limit')").fetchall()
        assert limit.endswith("iB")  # DuckDB says it in its own units: 1.3 GiB for 1.5GB
    finally:
        connection.close()


def test_a_bad_catalog_url_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = "PULLSTATS_DATABASE_URL=(value not shown: it is a secret)"
    not_a_url = "not a database URL: expected postgresql://user@host/database or sqlite:///path"
    for url, message in [
        ("garbage", not_a_url),
        ("://db.example.com", not_a_url),
        ("postgres://app:s3cret@db.example.com/stats", "use postgresql:// for PostgreSQL, not postgres://"),
        ("MySQL+pymysql://app:s3cret@db.example.com/stats",
         "a mysql catalog is not supported: use PostgreSQL (postgresql://…) or SQLite (sqlite:///…)"),
        # a bare ValueError of SQLAlchemy's, later, that named no setting
        ("postgresql+psycopg://app:s3cret@127.0.0.1:notaport/stats", "its port is not a number"),
        ("postgresql://app:s3cret@[::1/stats", "an IPv6 address in it has no closing ']'"),
    ]:  # fmt: skip
        lines = refused_when_read(monkeypatch, PULLSTATS_DATABASE_URL=url)
        assert lines == [f"{hidden}: {message}"]
        assert "s3cret" not in lines[0]
    for url in ("postgresql+psycopg://app@127.0.0.1/stats", "sqlite:///catalog.sqlite3"):
        monkeypatch.setenv("PULLSTATS_DATABASE_URL", url)
        assert Settings().database_url_value == url


ABSOLUTE = "expected an absolute http(s) URL, e.g. https://stats.example.com"
CENTURY = "must be at most 100 years (P36525D)"
CENTURY_OF_MONTHS = "must be at most 100 years (P100Y, P1200M or P36525D; 0: for ever)"
EMPTY = "empty: name a path, or unset the variable for its default"
EMPTY_STORE = (
    "empty: name s3://bucket/prefix or a local folder, or unset the variable for its default "
    "(in the data dir)"
)
SHAPE = "http(s)://host[:port][/path]"
ENDPOINT = (
    f"expected the http(s) URL publishers reach the object store at: {SHAPE}, "
    "e.g. https://s3.example.com"
)
NO_QUERY = f"no query or fragment: expected {SHAPE} (a signature is the query)"
BAD_PORT = f"its port is not a number from 1 to 65535: expected {SHAPE}"
NOT_A_HOST = (
    "'{}' is not a host name: write each host alone (no scheme, port or path), e.g. "
    "stats.example.com,10.0.0.5 or *.example.com"
)
PUBLIC_NO_QUERY = "no query or fragment: links are this URL followed by a path"
AT_LEAST_A_SECOND = "must be at least 1 second (PT1S)"
NOT_NEGATIVE_INTERVAL = "must not be negative: 0 turns the schedule off"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PULLSTATS_PUBLIC_URL", "stats.example.com", ABSOLUTE),
        ("PULLSTATS_PUBLIC_URL", "ftp://stats.example.com", ABSOLUTE),
        # download links are this URL and a path: a fragment hid the path and its signature
        ("PULLSTATS_PUBLIC_URL", "https://stats.example.com/p?q=1", PUBLIC_NO_QUERY),
        ("PULLSTATS_PUBLIC_URL", "https://stats.example.com/#top", PUBLIC_NO_QUERY),
        # a Host header never names a scheme or a path, and its port is not compared
        ("PULLSTATS_ALLOWED_HOSTS", "https://stats.example.com", NOT_A_HOST.format(
            "https://stats.example.com")),
        ("PULLSTATS_ALLOWED_HOSTS", "stats.example.com,10.0.0.5:8000", NOT_A_HOST.format(
            "10.0.0.5:8000")),
        ("PULLSTATS_ALLOWED_HOSTS", "*stats.example.com", NOT_A_HOST.format(
            "*stats.example.com")),
        ("PULLSTATS_CLOSE_GRACE", "-PT1H", "must not be negative: a period would close before it"
         " ends"),
        ("PULLSTATS_CLOSE_GRACE", "7200", "expected a duration: ISO 8601 such as PT2H, PT15M, P7D"
         " or PT90S"),
        ("PULLSTATS_INGEST_MAX_BODY_BYTES", "-1", "input should be greater than or equal to 1024"),
        ("PULLSTATS_SPOOL_SEGMENT_BYTES", "0", "input should be greater than or equal to 4096"),
        # past the calendar once counted from today: year -974, an overflow, each failing a job
        ("PULLSTATS_RETENTION_LAKE", "P3000Y", CENTURY_OF_MONTHS),
        ("PULLSTATS_RETENTION_LAKE", "P99999999999999999999D", CENTURY_OF_MONTHS),
        ("PULLSTATS_RETENTION_LAKE", "P36526D", CENTURY_OF_MONTHS),
        ("PULLSTATS_CLOSE_GRACE", "P99999999D", CENTURY),
        ("PULLSTATS_DOWNLOAD_LINK_LIFETIME", "P36526D", CENTURY),
        ("PULLSTATS_JWT_TTL", "P99999999D", CENTURY),
        ("PULLSTATS_RETENTION_SPOOL", "P99999999D", CENTURY),
        ("PULLSTATS_DUCKDB_THREADS", "100000", "input should be less than or equal to 1024"),
        # every login token and download link expired when made; a login window of 0 let
        # every wrong password through to a 401, never a 429
        ("PULLSTATS_JWT_TTL", "-PT1H", f"{AT_LEAST_A_SECOND}: a login token would expire as it"
         " is made"),
        ("PULLSTATS_JWT_TTL", "PT0S", f"{AT_LEAST_A_SECOND}: a login token would expire as it"
         " is made"),
        ("PULLSTATS_DOWNLOAD_LINK_LIFETIME", "PT0.5S", f"{AT_LEAST_A_SECOND}: a download link"
         " would expire as it is made"),
        ("PULLSTATS_DOWNLOAD_LINK_LIFETIME", "-PT15M", f"{AT_LEAST_A_SECOND}: a download link"
         " would expire as it is made"),
        ("PULLSTATS_LOGIN_ATTEMPTS_WINDOW", "PT0S", f"{AT_LEAST_A_SECOND}: a shorter window"
         " turns the login limits off"),
        ("PULLSTATS_LOGIN_ATTEMPTS_WINDOW", "-PT15M", f"{AT_LEAST_A_SECOND}: a shorter window"
         " turns the login limits off"),
        # a negative interval turned the schedule off, logged as "is 0"
        ("PULLSTATS_SCHEDULE_INTERVAL", "-PT1M", NOT_NEGATIVE_INTERVAL),
        ("PULLSTATS_SCHEDULE_INTERVAL", "-5", NOT_NEGATIVE_INTERVAL),
        ("PULLSTATS_SCHEDULE_INTERVAL", "-0.2", NOT_NEGATIVE_INTERVAL),
        # 0 would be no timeout at all (aiohttp's sock_read), the hang this setting bounds
        ("PULLSTATS_S3_TIMEOUT", "PT0S", "input should be greater than or equal to 1 second"),
        ("PULLSTATS_S3_TIMEOUT", "-PT5S", "input should be greater than or equal to 1 second"),
        ("PULLSTATS_S3_TIMEOUT", "PT2H", "input should be less than or equal to 1 hour"),
        ("PULLSTATS_S3_TIMEOUT", "30", "expected a duration: ISO 8601 such as PT2H, PT15M, P7D"
         " or PT90S"),
        # DuckDB reads it as no limit at all
        ("PULLSTATS_DUCKDB_MEMORY_LIMIT", "-5GB", "must not be negative: a size such as 1.5GB,"
         " or a share such as 50%"),
        # Path("") is the working directory: the ip-hash key would be made wherever one ran
        ("PULLSTATS_DATA_DIR", "", EMPTY),
        ("PULLSTATS_KEYS_DIR", "", EMPTY),
        ("PULLSTATS_KEYS_DIR", " ", EMPTY),
        ("PULLSTATS_GEOIP_COUNTRY_DB", "", EMPTY),
        ("PULLSTATS_GEOIP_ASN_DB", "", EMPTY),
        ("PULLSTATS_GEOIP_DOMAIN_DB", "", EMPTY),
        # a node whose s3:// value was lost on the way would keep a lake of its own
        ("PULLSTATS_LAKE_URL", "", EMPTY_STORE),
        ("PULLSTATS_LAKE_URL", " ", EMPTY_STORE),
        ("PULLSTATS_EXPORTS_URL", "", EMPTY_STORE),
        ("PULLSTATS_EXPORTS_URL", "\t", EMPTY_STORE),
        # an object key takes them literally: the lake was written under "x?y=1/_meta.json"
        ("PULLSTATS_LAKE_URL", "s3://lake/x?y=1", "an s3:// URL has no query or fragment: "
         "expected s3://bucket/prefix"),
        ("PULLSTATS_EXPORTS_URL", "s3://exports/x#top", "an s3:// URL has no query or "
         "fragment: expected s3://bucket/prefix"),
        ("PULLSTATS_LAKE_URL", "s3://lake/x/../y", "no . or .. in an s3:// URL: name the "
         "prefix itself, s3://bucket/prefix"),
        # presigned URLs signed for an address nobody can fetch them from
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "s3.example.com", ENDPOINT),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "s3://pullstats-data", ENDPOINT),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "ftp://s3.example.com", ENDPOINT),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://", ENDPOINT),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://s3.example.com/?region=eu", NO_QUERY),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://s3.example.com#top", NO_QUERY),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://s3.example.com:99999", BAD_PORT),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://s3.example.com:http", BAD_PORT),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://s3.example .com", "no spaces or "
         f"control characters: expected {SHAPE}"),
        # hosts botocore refuses: every link would fail, blaming AWS_ENDPOINT_URL
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://exa_mple.com",
         f"'exa_mple.com' is not a host name or address: expected {SHAPE}"),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://-bad-.com",
         f"'-bad-.com' is not a host name or address: expected {SHAPE}"),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://s3.example.com:", BAD_PORT),
        ("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://s3.example.com/;x",
         f"no ';' parameters: expected {SHAPE} (they would not be signed)"),
    ],
)  # fmt: skip
def test_values_that_would_break_later_are_refused_when_read(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    assert refused_when_read(monkeypatch, **{variable: value}) == [
        f"{variable}={value!r}: {message}"
    ]


def test_a_refused_url_is_shown_without_its_user_and_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # it was shown whole, password included, on stderr and in a service's journal
    variable = "PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL"
    lines = refused_when_read(monkeypatch, **{variable: "https://minio:minio123@s3.example.com"})
    assert lines == [
        f"{variable}='https://***@s3.example.com': no user or password in it: presigned URLs "
        "are signed with the AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
    ]
    # the server's own URL: it went into every download link handed out
    monkeypatch.delenv(variable)
    lines = refused_when_read(monkeypatch, PULLSTATS_PUBLIC_URL="https://ops:hunter2@ex.com/p")
    assert lines == [
        "PULLSTATS_PUBLIC_URL='https://***@ex.com/p': no user or password in it: it is put in "
        "every link handed out"
    ]


def test_the_bounds_take_the_values_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in [
        ("PULLSTATS_LAKE_URL", "s3://lake/a.b/x..y/"),  # dots within a name are a name
        ("PULLSTATS_PUBLIC_URL", "https://stats.example.com/"),
        ("PULLSTATS_PUBLIC_URL", "http://127.0.0.1:8000"),
        ("PULLSTATS_CLOSE_GRACE", "PT0S"),
        ("PULLSTATS_INGEST_MAX_BODY_BYTES", "4096"),
        ("PULLSTATS_SPOOL_SEGMENT_BYTES", "4096"),
        ("PULLSTATS_RETENTION_LAKE", "P100Y"),
        ("PULLSTATS_DOWNLOAD_LINK_LIFETIME", "P36525D"),
        ("PULLSTATS_DUCKDB_THREADS", "1024"),
        ("PULLSTATS_S3_TIMEOUT", "PT1S"),
        ("PULLSTATS_JWT_TTL", "PT1S"),
        ("PULLSTATS_LOGIN_ATTEMPTS_WINDOW", "PT1S"),
        ("PULLSTATS_SCHEDULE_INTERVAL", "0"),
    ]:
        monkeypatch.setenv(variable, value)
    taken = Settings()
    assert taken.lake_retention == (1200, 0)
    assert (taken.download_link_lifetime.days, taken.duckdb_threads) == (36525, 1024)
    assert (taken.public_url, taken.close_grace.total_seconds()) == ("http://127.0.0.1:8000", 0)
    assert (taken.ingest_max_body_bytes, taken.spool_segment_bytes) == (4096, 4096)
    assert taken.s3_timeout.total_seconds() == 1
    assert (taken.jwt_ttl.total_seconds(), taken.login_attempts_window.total_seconds()) == (1, 1)
    assert taken.schedule_interval.total_seconds() == 0  # the schedule off
    monkeypatch.setenv("PULLSTATS_DOWNLOAD_LINK_LIFETIME", "PT1S")
    monkeypatch.setenv("PULLSTATS_SCHEDULE_INTERVAL", "0.2")  # what tests/exports use
    taken = Settings()
    assert taken.download_link_lifetime.total_seconds() == 1
    assert taken.schedule_interval.total_seconds() == 0.2
    monkeypatch.setenv("PULLSTATS_S3_TIMEOUT", "PT1H")
    assert Settings().s3_timeout.total_seconds() == 3600


@pytest.mark.e2e
def test_a_token_lifetime_of_no_time_is_refused_before_anything_is_made(data_dir: Path) -> None:
    # serve listened, and every login answered a token expired an hour before (serve reads the
    # settings as every command does; status, unlike serve, ends on the old code too)
    result = run_cli(data_dir, "status", env={"PULLSTATS_JWT_TTL": "-PT1H"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: PULLSTATS_JWT_TTL='-PT1H': {AT_LEAST_A_SECOND}: a login token would expire as "
        "it is made"
    ]
    assert not data_dir.exists()


@pytest.mark.e2e
def test_a_misspelt_setting_gets_a_note_and_the_command_runs_on(data_dir: Path) -> None:
    """PULLSTATS_CLOSEGRACE was ignored without a word: the command ran with the default."""
    env = {
        "PULLSTATS_CLOSEGRACE": "PT1H",
        "PULLSTATS_SOMETHING_ELSE": "1",
        "PULLSTATS_HUB_URL": "http://127.0.0.1:9",  # read by the hub commands
        "PULLSTATS_TEST_WHATEVER": "1",  # the test suite's own
    }
    result = run_cli(data_dir, "db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:2] == [
        "note: PULLSTATS_CLOSEGRACE is not a pullstats setting (did you mean "
        "PULLSTATS_CLOSE_GRACE?): it is ignored",
        "note: PULLSTATS_SOMETHING_ELSE is not a pullstats setting: it is ignored",
    ]
    assert "PULLSTATS_HUB_URL" not in result.stderr and "TEST_WHATEVER" not in result.stderr
    every = run_cli(data_dir, "status", env={"PULLSTATS_CLOSE_GRACE": "PT1H"})
    assert every.returncode == 0 and "note:" not in every.stderr, every.stderr


def test_duckdb_running_out_of_memory_names_the_settings_to_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # DuckDB's own advice names its SQL (SET threads=X, SET memory_limit=…), not the settings
    monkeypatch.setenv("PULLSTATS_DUCKDB_MEMORY_LIMIT", "1MB")
    with (
        duckdb.connect(config={"memory_limit": "1MB", "threads": 1}) as database,
        pytest.raises(duckdb.OutOfMemoryException) as ran_out,
    ):
        database.execute("SELECT list(repeat('x', 100)) FROM range(100000)").fetchall()
    [line] = error_lines(ran_out.value)
    assert line.startswith("DuckDB ran out of memory within PULLSTATS_DUCKDB_MEMORY_LIMIT='1MB' (")
    assert "allocate" in line  # DuckDB's own words: "failed to allocate data of size …"
    assert line.endswith(
        "): raise it, or lower PULLSTATS_DUCKDB_THREADS (each thread takes its share)"
    )
    assert "SET " not in line and "Possible solutions" not in line


LOCAL_EXPORTS = (
    "used only for the presigned URLs of exports on object storage, and PULLSTATS_EXPORTS_URL "
    "names none (the exports are local files, their links served by pullstats): set "
    "PULLSTATS_EXPORTS_URL=s3://bucket/prefix, or unset this one"
)


def test_a_public_endpoint_is_refused_unless_the_exports_are_on_object_storage(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # no link would use it; and a node missing PULLSTATS_EXPORTS_URL would export to its disk
    variable, value = "PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", "https://s3.example.com"
    line = f"{variable}={value!r}: {LOCAL_EXPORTS}"
    assert refused_when_read(monkeypatch, **{variable: value}) == [line]
    folder = str(tmp_path / "exports")
    assert refused_when_read(monkeypatch, PULLSTATS_EXPORTS_URL=folder) == [line]
    # a bad PULLSTATS_EXPORTS_URL is told once, by its own line
    assert refused_when_read(monkeypatch, PULLSTATS_EXPORTS_URL="gs://bucket/exports") == [
        "PULLSTATS_EXPORTS_URL='gs://bucket/exports': expected s3://bucket/prefix or a local folder"
    ]
    # empty is unset: the exports stay local, their links ours
    monkeypatch.delenv("PULLSTATS_EXPORTS_URL")
    monkeypatch.setenv(variable, " ")
    assert Settings().exports_store.presign("a/b.csv.gz", 60) is None


def test_a_public_endpoint_is_taken_with_the_exports_on_object_storage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PULLSTATS_EXPORTS_URL", "s3://pullstats-data/exports")
    for value, endpoint in [
        ("https://s3.example.com", "https://s3.example.com"),
        ("http://203.0.113.5:9000/", "http://203.0.113.5:9000"),
        (" https://stats.example.com/s3/ ", "https://stats.example.com/s3"),
        ("http://[2001:db8::1]:9000", "http://[2001:db8::1]:9000"),
    ]:
        monkeypatch.setenv("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL", value)
        store = Settings().exports_store
        assert isinstance(store, S3Store) and store.presign_endpoint == endpoint
    monkeypatch.delenv("PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL")
    store = Settings().exports_store
    assert isinstance(store, S3Store) and store.presign_endpoint is None  # AWS_ENDPOINT_URL


def test_a_refused_link_lifetime_is_named_as_it_can_be_set_again() -> None:
    """Seven days and an hour was shown as ``PT608400S``: a value nobody wrote."""
    with pytest.raises(SettingRefused) as refused:
        check_link_lifetime(timedelta(days=7, hours=1), "s3://exports/x")
    assert error_lines(refused.value)[0].startswith(
        "PULLSTATS_DOWNLOAD_LINK_LIFETIME='P7DT1H': at most 7 days (P7D)"
    )
    check_link_lifetime(timedelta(days=8), None)  # local exports: their links live as long


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(days=7), "P7D"),
        (timedelta(days=1, minutes=30), "P1DT30M"),
        (timedelta(hours=1), "PT1H"),
        (timedelta(seconds=90), "PT1M30S"),
        (timedelta(seconds=1.5), "PT1.5S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_durations_are_written_as_the_settings_take_them(duration: timedelta, text: str) -> None:
    assert duration_text(duration) == text
    assert TypeAdapter(timedelta).validate_python(text) == duration  # what a setting reads

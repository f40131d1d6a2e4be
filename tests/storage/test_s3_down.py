"""A store that goes down in the middle of ``export`` (its server, or the proxy in front of it,
killed: every connection refused), behind the loopback proxy of tests/storage/s3_proxy.py.

Every later period would fail alike, so the first failure stops the export with the store's one
line, as a hung store's does (test_s3_hangs.py), not a line per period; what was published
before stays served, and a rerun once the store is back completes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from pullstats.db.models import ExportFile
from pullstats.runtime import Runtime
from pullstats.s3_store import S3Store
from pullstats.storage import StoreUnreachable
from tests.conftest import catalog_settings, run_cli
from tests.storage.conftest import S3Server, aws_env
from tests.storage.s3_proxy import s3_proxy
from tests.storage.test_s3 import golden_on_s3

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]


def _down_at(kind: str, nth: int, action: str = "down") -> Callable[[str, str], str]:
    """A rule taking the store down (or making it refuse the credentials, with ``action``
    ``"refuse"``) at the ``nth`` request of ``kind``: a ``GET`` of a Parquet file of the lake
    (a read by DuckDB) or a ``PUT`` of an export (a publish)."""
    seen = 0

    def rule(method: str, path: str) -> str:
        nonlocal seen
        key = path.split("?", 1)[0]
        if kind == "read":
            matches = method == "GET" and "/lake/" in key and key.endswith(".parquet")
        else:
            matches = method == "PUT" and "/exports/" in key
        if matches:
            seen += 1
            if seen == nth:
                return action
        return "forward"

    return rule


def _exported(data_dir: Path) -> set[tuple[str, str, str]]:
    """The (namespace, period, path) of every export file the catalog names."""
    runtime = Runtime.open(catalog_settings(data_dir))
    try:
        with runtime.sessions() as session:
            rows = session.execute(
                select(ExportFile.namespace, ExportFile.period_start, ExportFile.path)
            )
            return {(namespace, str(start), path) for namespace, start, path in rows}
    finally:
        runtime.close()


@pytest.mark.parametrize(
    ("kind", "nth", "action"),
    [("read", 1, "down"), ("publish", 3, "down"), ("publish", 3, "refuse")],
    ids=["at-a-read", "at-a-publish", "refusing-the-keys-at-a-publish"],
)
def test_a_store_that_goes_down_in_the_middle_of_an_export_stops_it_with_one_line(
    kind: str,
    nth: int,
    action: str,
    s3_env: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    bucket = golden_on_s3(s3_env, data, monkeypatch)  # processed and exported once
    before = _exported(data)
    assert len({(namespace, start) for namespace, start, _ in before}) > 2  # several periods
    stores = {
        "PULLSTATS_LAKE_URL": f"s3://{bucket}/lake",
        "PULLSTATS_EXPORTS_URL": f"s3://{bucket}/exports",
    }
    rebuild = ("export", "--through", "2026-02-01", "--rebuild")
    with s3_proxy(s3_env.endpoint, _down_at(kind, nth, action)) as proxy:
        exported = run_cli(data, *rebuild, env={**aws_env(proxy.endpoint), **stores})
        assert (proxy.refusing if action == "refuse" else proxy.down).is_set()
    assert exported.returncode == 1
    lines = [line for line in exported.stderr.splitlines() if line.startswith("error:")]
    # before: a line per (namespace, period), each "export of namespace … failed: …"
    assert lines == [lines[0]], exported.stderr
    expected = f"error: AWS_ENDPOINT_URL: {proxy.endpoint} cannot be reached"
    if action == "refuse":  # keys rotated in the middle of the export
        expected = (
            f"error: PULLSTATS_EXPORTS_URL=s3://{bucket}/exports: the AWS credentials were "
            "refused (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
        )
    assert lines[0].startswith(expected), exported.stderr
    assert "Traceback" not in exported.stderr

    # what the catalog named before is still there: each period's files, old or new
    after = _exported(data)
    assert {(namespace, start) for namespace, start, _ in after} == {
        (namespace, start) for namespace, start, _ in before
    }
    keys = set(s3_env.keys(bucket))
    assert {f"exports/{path}" for _, _, path in after} <= keys

    rerun = run_cli(data, *rebuild, env={**s3_env.env(), **stores})
    assert rerun.returncode == 0, rerun.stderr
    assert {f"exports/{path}" for _, _, path in _exported(data)} <= set(s3_env.keys(bucket))


def test_a_connection_closed_before_an_answer_is_a_store_that_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a store that went down while a part was being uploaded: botocore's ConnectionClosedError
    # (not retried by s3fs), which `process` printed raw where the documented line says the
    # endpoint cannot be reached, and which an export took for one period's failure
    import botocore.exceptions as boto

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    store = S3Store("s3://lake-bucket/lake", "PULLSTATS_LAKE_URL")
    url = "http://127.0.0.1:9/lake-bucket/lake/requests/day%3D2026-01-05/part-1.parquet"

    def upload() -> None:
        raise boto.ConnectionClosedError(endpoint_url=url)

    with pytest.raises(StoreUnreachable) as raised:
        store._call(upload)
    assert str(raised.value).startswith(
        "AWS_ENDPOINT_URL: http://127.0.0.1:9 cannot be reached for "
        "PULLSTATS_LAKE_URL=s3://lake-bucket/lake (Connection was closed before"
    )
    # and as DuckDB passes it on, in the text of s3fs's traceback
    passed_on = store.failure_in(
        "IO Error: … ConnectionClosedError: Connection was closed before we received a valid "
        f'response from endpoint URL: "{url}".'
    )
    assert passed_on is not None and str(passed_on) == str(raised.value)

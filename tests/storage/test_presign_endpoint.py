"""``PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL``: the exports' presigned download URLs are signed for
the address publishers reach the object store at, while every request of the servers goes on to
``AWS_ENDPOINT_URL``.

One ``moto_server`` plays both: the servers reach it as ``http://127.0.0.1:PORT`` (the internal
address, ``AWS_ENDPOINT_URL``) and publishers as ``http://localhost:PORT`` (the public one).
moto does not check a presigned URL's signature, so :func:`signature_holds` checks it as a
store does: SigV4 signs the ``Host`` header, and a URL signed for another host is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import pytest

from pullstats.config import Settings
from pullstats.s3_store import S3Store
from tests.conftest import free_port, start_server
from tests.exports.golden import NAMESPACE
from tests.storage.conftest import S3Server
from tests.storage.test_s3 import golden_with_a_member, week_links

pytestmark = [pytest.mark.s3, pytest.mark.scaleout, pytest.mark.xdist_group("s3")]

PUBLIC_ENDPOINT = "PULLSTATS_EXPORTS_PUBLIC_ENDPOINT_URL"


def public(endpoint: str) -> str:
    """The same moto_server under another host name, as publishers would reach it."""
    assert endpoint.startswith("http://127.0.0.1:")
    return endpoint.replace("://127.0.0.1:", "://localhost:")


def signature_holds(url: str, host: str, secret: str = "testing") -> bool:
    """Whether ``url``'s SigV4 query signature (AWS's "Authenticating Requests: Using Query
    Parameters") is right for a GET whose ``Host`` header is ``host``, as the store that
    receives it computes it."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    fields = dict(query)
    assert fields["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert fields["X-Amz-SignedHeaders"] == "host"

    def encoded(text: str) -> str:
        return quote(text, safe="-_.~")

    canonical_query = "&".join(
        f"{encoded(name)}={encoded(value)}"
        for name, value in sorted(query)
        if name != "X-Amz-Signature"
    )
    request = f"GET\n{parts.path}\n{canonical_query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
    scope = fields["X-Amz-Credential"].split("/", 1)[1]  # day/region/s3/aws4_request
    digest = hashlib.sha256(request.encode()).hexdigest()
    to_sign = f"AWS4-HMAC-SHA256\n{fields['X-Amz-Date']}\n{scope}\n{digest}"
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["X-Amz-Signature"])


def test_the_api_hands_out_urls_signed_for_the_public_endpoint(
    s3_env: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    bucket, raw, old_link = golden_with_a_member(s3_env, data_dir, monkeypatch)
    internal, outside = s3_env.endpoint, public(s3_env.endpoint)
    env = {
        **s3_env.env(),  # AWS_ENDPOINT_URL: the internal address
        "PULLSTATS_LAKE_URL": f"s3://{bucket}/lake",
        "PULLSTATS_EXPORTS_URL": f"s3://{bucket}/exports",
        PUBLIC_ENDPOINT: outside + "/",
    }
    server = start_server(data_dir, tmp_path / "server.log", env)
    try:
        with server.client() as client:
            links, redirect = week_links(client, old_link)
    finally:
        server.stop()
    internal_host, outside_host = urlsplit(internal).netloc, urlsplit(outside).netloc
    for view, data in links.items():
        [link] = data
        url = link["url"]
        assert url.startswith(f"{outside}/{bucket}/exports/{NAMESPACE}/2026-W02/"), url
        assert "X-Amz-Expires=900" in url
        # signed for the host publishers send, which a store checks; not for the internal one
        assert signature_holds(url, outside_host), view
        assert not signature_holds(url, internal_host), view
        body = httpx.get(url)  # from the store through the public address, not our server
        assert body.status_code == 200, body.text
        assert len(body.content) == link["size"]
        assert hashlib.sha256(body.content).hexdigest() == link["sha256"]
        name = url.split("?")[0].rsplit("/", 1)[1]
        assert body.headers["content-disposition"] == f'attachment; filename="{name}"'
    # a /downloads link of the local kind: its 307 points at the public address too
    assert redirect.status_code == 307
    location = redirect.headers["location"]
    assert location.startswith(f"{outside}/{bucket}/exports/{NAMESPACE}/2026-W02/"), location
    assert location.split("?")[0].endswith(raw.file_name)
    assert signature_holds(location, outside_host)
    assert not signature_holds(location, internal_host)
    fetched = httpx.get(location)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == raw.sha256


def test_the_store_reads_and_writes_at_aws_endpoint_url_and_signs_for_the_public_one(
    s3_env: S3Server, tmp_path: Path
) -> None:
    bucket = s3_env.bucket()
    # nothing listens at the public address: signing is local, no request goes there
    nowhere = f"http://127.0.0.1:{free_port()}"
    store = S3Store(f"s3://{bucket}/exports", "PULLSTATS_EXPORTS_URL", nowhere)
    store.check()
    staged = tmp_path / "part.csv.gz"
    staged.write_bytes(b"the bytes")
    store.publish(staged, "acme/2026-W02/x/acme_raw_2026-W02_part001.csv.gz")
    assert store.read_bytes("acme/2026-W02/x/acme_raw_2026-W02_part001.csv.gz") == b"the bytes"
    url = store.presign("acme/2026-W02/x/acme_raw_2026-W02_part001.csv.gz", 60, "a.csv.gz")
    assert url is not None
    assert url.startswith(f"{nowhere}/{bucket}/exports/acme/2026-W02/x/acme_raw_"), url
    assert signature_holds(url, urlsplit(nowhere).netloc)
    assert not signature_holds(url, urlsplit(s3_env.endpoint).netloc)
    # without it, as before: signed for AWS_ENDPOINT_URL (and the check above is no tautology)
    default = S3Store(f"s3://{bucket}/exports", "PULLSTATS_EXPORTS_URL")
    url = default.presign("acme/2026-W02/x/acme_raw_2026-W02_part001.csv.gz", 60)
    assert url is not None and url.startswith(f"{s3_env.endpoint}/{bucket}/exports/acme/")
    assert signature_holds(url, urlsplit(s3_env.endpoint).netloc)
    assert httpx.get(url).content == b"the bytes"


def test_the_setting_reaches_the_exports_store_and_keeps_its_path(
    s3_env: S3Server, tmp_path: Path
) -> None:
    bucket = s3_env.bucket()
    settings = Settings(
        data_dir=tmp_path,
        lake_url=f"s3://{bucket}/lake",
        exports_url=f"s3://{bucket}/exports",
        exports_public_endpoint_url=" https://downloads.example.com/s3/ ",
    )
    url = settings.exports_store.presign("acme/f.csv.gz", 300, "f.csv.gz")
    # a path prefix is signed too, as botocore signs an AWS_ENDPOINT_URL with a path
    assert url is not None
    assert url.startswith(f"https://downloads.example.com/s3/{bucket}/exports/acme/f.csv.gz?")
    assert signature_holds(url, "downloads.example.com")
    # the lake never presigns; its store keeps no public endpoint
    lake = settings.lake
    assert isinstance(lake, S3Store) and lake.presign_endpoint is None

"""``PULLSTATS_ALLOWED_HOSTS``: a server answers only requests whose ``Host`` it names. A web
page that reaches a server through DNS rebinding (its own name, resolved to the server's
address) sends its own name, and is refused before any route, cached answer or ingest reads
the request."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import catalog_settings, fresh_runtime, start_server


@pytest.mark.e2e
def test_a_request_naming_another_host_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    fresh_runtime(catalog_settings(data_dir)).close()
    env = {"PULLSTATS_ALLOWED_HOSTS": "Stats.Example.com, 127.0.0.1, *.internal.example"}
    server = start_server(data_dir, tmp_path / "server.log", env)
    try:
        port = server.url.rsplit(":", 1)[1]

        def answer(method: str, path: str, host: str) -> httpx.Response:
            headers = {"Host": host, "Content-Type": "application/json"}
            body = b"{}" if method == "POST" else None
            return httpx.request(method, server.url + path, headers=headers, content=body)

        for host in ("stats.example.com", f"127.0.0.1:{port}", "node-1.internal.example"):
            assert answer("GET", "/healthz", host).status_code == 200, host
        for host in ("rebind.example", f"localhost:{port}", "internal.example", "[::1]"):
            for method, path in [
                ("GET", "/healthz"),
                ("GET", "/api/publisher/analytics/v1/namespaces/acme/pulls"),  # cached routes
                ("POST", "/v2/users/login"),
                ("POST", "/ingest/v1/registry/events"),  # answered before the routes
                ("GET", "/"),
            ]:
                refused = answer(method, path, host)
                assert refused.status_code == 400, (host, path, refused.text)
                assert refused.text == "Invalid host header"
    finally:
        server.stop()

"""A failure of the server itself is a JSON 500 that names nothing of it, and the log keeps it.

Starlette's own answer was ``500`` with a plain-text ``Internal Server Error``: not the
``{"detail": …}`` every other error of the API has, which Docker Hub's clients read. The
failure here is a real one of the catalog (its ``users`` table gone while the server runs),
met by a request anyone may send, on the suite's catalog (SQLite, or PostgreSQL with
``PULLSTATS_TEST_CATALOG=postgresql``).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.conftest import catalog_settings, fresh_runtime, start_server


def test_an_unexpected_error_is_a_json_500_and_a_traceback_in_the_log(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = fresh_runtime(catalog_settings(data_dir))
    log = tmp_path / "server.log"
    server = start_server(data_dir, log)
    try:
        with runtime.engine.begin() as connection:
            connection.execute(text("ALTER TABLE users RENAME TO users_gone"))
        with server.client() as client:
            answer = client.post("/v2/users/login", json={"username": "a", "password": "b"})
            assert answer.status_code == 500
            assert answer.headers["content-type"] == "application/json"
            assert answer.json() == {"detail": "internal server error"}
            assert "users" not in answer.text  # nothing of the error: no table, no SQL
            # the headers every other answer has (Starlette sends this one outside them all)
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"
        with server.client() as client:  # uvicorn closes the connection of a failed request
            assert client.get("/healthz").status_code == 200  # the server goes on answering
    finally:
        server.stop()
        with runtime.engine.begin() as connection:  # as it was, for the catalog's clean-up
            connection.execute(text("ALTER TABLE users_gone RENAME TO users"))
        runtime.close()
    logged = log.read_text()
    assert "Exception in ASGI application" in logged
    assert "Traceback (most recent call last)" in logged
    assert "users" in logged  # the error itself, in the log only

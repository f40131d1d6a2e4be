"""``pullstats serve`` and ``pullstats demo``: the server, and a demo installation to try it.

Both check the address before any work, so a busy port or a wrong host is one line at once,
not a uvicorn traceback after the demo has spent a minute seeding.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from pathlib import Path
from typing import Any

import typer

from pullstats.cli import jobs
from pullstats.cli.common import fail, opened, out
from pullstats.config import Settings

#: Where ``pullstats demo`` keeps its installation unless told otherwise: never the real one.
DEMO_DATA_DIR = Path("./pullstats-demo-data")


def check_listen_address(host: str, port: int) -> None:
    """Fail with one line unless the server will be able to listen on ``host:port``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise fail(f"--host {host}: not an address or a name this machine can resolve") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as error:
            raise fail(_bind_problem(host, port, error, infos[0])) from None


def _bind_problem(host: str, port: int, error: OSError, info: tuple[Any, ...]) -> str:
    if error.errno == errno.EADDRINUSE:
        free = _free_port_after(port, info)
        return (
            f"port {port} on {host} is already in use: stop what listens there "
            "(another pullstats?) or pick a free port with --port"
            + (f", e.g. --port {free}" if free is not None else "")
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return f"--host {host}: not an address of this machine"
    if error.errno == errno.EACCES:
        return f"port {port} on {host} needs privileges: pick a port above 1023 with --port"
    return f"cannot listen on {host} port {port}: {error.strerror}"


#: how many ports after a busy one are tried for the one the message suggests
_PORTS_TRIED = 20


def _free_port_after(port: int, info: tuple[Any, ...]) -> int | None:
    """The first of the ports after ``port`` that ``info``'s address can bind now (None if
    none of :data:`_PORTS_TRIED` can): a suggestion that is busy too sends the operator round
    again."""
    family, kind, proto, _, address = info
    for candidate in range(port + 1, min(port + _PORTS_TRIED, 65535) + 1):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address[0], candidate, *address[2:]))
            except OSError:
                continue
            return candidate
    return None


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` stands for is this machine's loopback."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    return bool(addresses) and all(address.is_loopback for address in addresses)


def run_server(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    from pullstats.api.app import create_app
    from pullstats.api.http_protocol import BoundedHeadProtocol
    from pullstats.duckdb_engine import check_settings
    from pullstats.enrich.maxmind import check_databases
    from pullstats.logs import uvicorn_log_config

    if workers > 1 and settings.database_url_value.startswith("sqlite"):
        raise fail("--workers > 1 needs PostgreSQL (PULLSTATS_DATABASE_URL): SQLite is per process")
    check_listen_address(host, port)
    with opened(settings) as runtime:
        # create or check the catalog and the keys before the first request, and claim the
        # node name (refused if another live data dir has it)
        runtime.node_seen()
    # the scheduled jobs open DuckDB and enrich in children: a memory limit DuckDB cannot read,
    # or a MaxMind database that cannot be read, stops the server here, not each job in the log
    check_settings(settings)
    check_databases(settings)
    if workers > 1:  # each worker process builds its own app from the same environment
        uvicorn.run(
            "pullstats.api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            proxy_headers=False,  # X-Forwarded-For is read only from PULLSTATS_TRUSTED_PROXIES
            access_log=False,  # ours (PULLSTATS_ACCESS_LOG) leaves query strings out
            log_config=uvicorn_log_config(),
            http=BoundedHeadProtocol,  # 431 past PULLSTATS_MAX_REQUEST_HEAD_BYTES
            h11_max_incomplete_event_size=settings.max_request_head_bytes,
        )
    else:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="info",
            proxy_headers=False,
            access_log=False,
            log_config=uvicorn_log_config(),
            http=BoundedHeadProtocol,  # 431 past PULLSTATS_MAX_REQUEST_HEAD_BYTES
            h11_max_incomplete_event_size=settings.max_request_head_bytes,
        )


def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", metavar="ADDRESS", help="Address to listen on."
    ),
    port: int = typer.Option(
        8000, "--port", min=1, max=65535, metavar="PORT", help="Port to listen on."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, metavar="N", help="Worker processes (PostgreSQL only)."
    ),
) -> None:
    """Serve the API, ingest, downloads and the dashboard on one port; run the job schedule."""
    run_server(Settings(), host, port, workers)


def demo(
    port: int = typer.Option(
        8000, "--port", min=1, max=65535, metavar="PORT", help="Port to serve on."
    ),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        metavar="ADDRESS",
        help="Address to serve on: loopback, unless --allow-remote.",
    ),
    data_dir: str = typer.Option(
        str(DEMO_DATA_DIR),
        "--data-dir",
        metavar="DIR",
        help="The demo's own data dir (PULLSTATS_DATA_DIR and PULLSTATS_DATABASE_URL are not "
        "used: the demo never writes into a real installation).",
    ),
    requests_per_day: int = typer.Option(
        1500, "--requests-per-day", min=1, metavar="N", help="Average synthetic requests per day."
    ),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="Serve on a --host other machines can reach, although anyone who knows the "
        "published demo password can then log in.",
    ),
) -> None:
    """Fill a demo data dir with a year of synthetic pulls, a demo user and exports, then serve."""
    from pullstats.demo.seed import (
        DEMO_PASSWORD,
        DEMO_USER,
        NotADemoDir,
        claim_data_dir,
        seed_demo,
    )

    if not allow_remote and not is_loopback(host):
        raise fail(
            f"--host {host} can be reached from other machines, and the demo user's password "
            f"({DEMO_PASSWORD}) is public: serve on 127.0.0.1, or add --allow-remote"
        )
    if not data_dir.strip():  # as a Path, "" is ".": the demo would fill the current folder
        raise fail("--data-dir: empty: name a folder, or leave the option out for the default")
    check_listen_address(host, port)  # before a minute of seeding, not after
    try:
        claim_data_dir(Path(data_dir))  # never a real installation's folder
    except NotADemoDir as error:
        raise fail(str(error)) from None
    # the demo's own installation: the environment may name a real one. On loopback it answers
    # only to loopback names: a web page that reaches it through DNS rebinding names its own
    # host, and the demo user's password is public
    hosts = f"localhost,127.0.0.1,::1,{host}" if is_loopback(host) else None
    settings = Settings(data_dir=Path(data_dir), database_url=None, allowed_hosts=hosts)
    with opened(settings) as runtime:
        seeded = seed_demo(runtime, requests_per_day=requests_per_day)
        if seeded.resumed_per_day is not None:
            out.print(
                f"finishing the interrupted first run's data set: --requests-per-day "
                f"{seeded.resumed_per_day} (not {requests_per_day}); a new --data-dir starts "
                "another"
            )
        if seeded.generated:
            out.print(f"generated {seeded.generated} synthetic requests")
        result = jobs.run_process(runtime)
        out.print(f"processed: {result.compaction.written} new requests, {result.actions} actions")
        exported = jobs.run_export(runtime, None)
        out.print(f"exported {len(exported.exported)} namespace periods ({exported.files} files)")
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    out.print(f"\npullstats demo is at {base}/  (API reference: {base}/docs)")
    out.print(f"data dir: {settings.paths.root}")
    out.print(f"log in as {DEMO_USER} / {DEMO_PASSWORD}")
    if seeded.ingest_token:
        out.print(f"registry ingest token: {seeded.ingest_token}")
    else:  # shown once, by the run that made it (which may have been interrupted before)
        out.print(
            f"registry ingest token: PULLSTATS_DATA_DIR={settings.paths.root} "
            "pullstats ingest-tokens create NAME makes one"
        )
    out.print(
        f"try: curl -s -X POST {base}/v2/users/login -H 'Content-Type: application/json' "
        f'-d \'{{"username": "{DEMO_USER}", "password": "{DEMO_PASSWORD}"}}\'\n'
    )
    run_server(settings, host, port)

"""What every benchmark prints: the environment it ran in and Markdown result tables.

docs/benchmarks.md asks each entry to record versions, commit and machine; this module gathers
them once so every benchmark reports them the same way.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
from sqlalchemy.engine import make_url

import pullstats
from pullstats.lake_schema import ACTIONS

ROOT = Path(__file__).resolve().parent.parent


def environment() -> list[tuple[str, str]]:
    """(name, value) rows describing this run's software and machine."""
    return [
        ("pullstats", f"{pullstats.__version__} ({_commit()})"),
        ("Python", platform.python_version()),
        ("DuckDB", duckdb.__version__),
        ("SQLite", sqlite3.sqlite_version),
        ("CPU", f"{_cpu_model()}, {os.cpu_count()} cores"),
        ("memory", _memory()),
        ("OS", platform.platform()),
    ]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def print_environment(command: str | None = None) -> None:
    """The command line (default: this script with ``sys.argv`` as given) and the environment."""
    if command is None:
        command = " ".join(["python", os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    print(f"command: `{command}`\n")
    print(markdown_table(("", ""), environment()))
    print()


def spread(values: list[float], unit: str, digits: int = 1) -> str:
    """The median of ``values`` with ``unit``, and their range when there are several."""
    text = f"{statistics.median(values):,.{digits}f} {unit}".rstrip()
    if len(values) > 1:
        text += f" ({min(values):,.{digits}f}–{max(values):,.{digits}f})"
    return text


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of already sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def pullstats_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pullstats", *args]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment for a pullstats child process working on ``data_dir`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULLSTATS_")}
    env["PULLSTATS_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def add_database_url(parser: argparse.ArgumentParser) -> None:
    """``--database-url``: the catalog in that database instead of the data dir's SQLite."""
    parser.add_argument(
        "--database-url",
        help="catalog database (an empty one: it is migrated); default: SQLite in the data dir",
    )


def catalog_env(database_url: str | None) -> dict[str, str]:
    """The environment that puts a command's catalog in ``database_url`` (none: the default)."""
    return {"PULLSTATS_DATABASE_URL": database_url} if database_url else {}


def shown_arguments(database_url: str | None) -> list[str]:
    """The command's arguments as they may be printed: a database URL without its password."""
    return [
        make_url(arg).render_as_string(hide_password=True) if arg == database_url else arg
        for arg in sys.argv[1:]
    ]


def actions_table(rows: int, columns: dict[str, object]) -> pa.Table:
    """A table of the lake's actions schema (``lake_schema.ACTIONS``) with ``rows`` rows: the
    ``columns`` given, each cast to the schema's type, and nulls in every other nullable
    column, so a column added to the schema does not break the benchmarks that build action
    files by hand. A column the schema says is never null must be given."""
    unknown = set(columns) - set(ACTIONS.columns)
    if unknown:
        raise ValueError(f"not columns of the actions schema: {sorted(unknown)}")
    arrays = []
    for field in ACTIONS.schema:
        if field.name in columns:
            values = columns[field.name]
            array = values if isinstance(values, pa.Array) else pa.array(values)
            arrays.append(array.cast(field.type))
        elif field.nullable:
            arrays.append(pa.nulls(rows, field.type))
        else:
            raise ValueError(f"column {field.name} is never null in the actions schema: give it")
    table = pa.Table.from_arrays(arrays, schema=ACTIONS.schema)
    assert table.num_rows == rows, (table.num_rows, rows)
    return table


def _commit() -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown commit"
    return result.stdout.strip() or "unknown commit"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    data_dir: Path, log: Path, workers: int = 1, **extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """``pullstats serve`` (``workers`` processes) on a free loopback port, once /healthz
    answers; (process, base URL). ``extra`` are more environment variables
    (``PULLSTATS_DATABASE_URL``, …)."""
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            pullstats_command(
                "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)
            ),
            env=cli_env(data_dir, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(process, f"{url}/healthz", log)
    return process, url


def start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A local S3-protocol server (``moto_server``, a test dependency) on a free loopback
    port, logging a line per request to ``log``; (process, endpoint URL)."""
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out
        )
    endpoint = f"http://127.0.0.1:{port}"
    wait_until_up(process, f"{endpoint}/moto-api/", log)
    return process, endpoint


def wait_until_up(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Wait (up to a minute) until ``url`` answers 200; exit with the server's ``log`` if the
    server exits or never answers."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    sys.exit(f"server did not start:\n{log.read_text()}")


@dataclass
class Run:
    seconds: float
    peak_rss_mib: float
    output: str
    errors: str
    #: the child's user + system CPU time: less moved than ``seconds`` by other processes
    cpu_seconds: float = 0.0


# The peak RSS of a child is read by a tiny wrapper process between the benchmark and the
# child: Linux carries a process's high-water RSS over fork and exec, so a child started by the
# benchmark itself reports at least the benchmark's own peak (one holding 600 MiB saw 613 MiB
# for `python -c pass`). The wrapper (Python without site or user paths, about 10 MiB) forks
# and execs the command, waits for it with wait4 and writes on fd ``argv[1]`` its exit status,
# peak RSS (KiB), user + system CPU seconds, and the wall seconds from just before the fork to
# its end: the wrapper's own start-up is not in them. A child's peak RSS still includes the
# wrapper's RSS at the fork (its floor, about 10 MiB).
_WRAPPER = """
import os, sys, time
fd = int(sys.argv[1])
began = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.close(fd)
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as error:  # what Popen would have raised: said on the child's stderr
        os.write(2, f"{sys.argv[2]}: {error}\\n".encode())
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - began
cpu = usage.ru_utime + usage.ru_stime
os.write(fd, f"{status} {usage.ru_maxrss} {cpu!r} {seconds!r}".encode())
"""


@dataclass(frozen=True)
class Measured:
    exit_code: int
    seconds: float
    peak_rss_mib: float
    cpu_seconds: float


def start_measured(command: list[str], **popen: object) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` under the wrapper (``popen``: Popen's arguments, env, stdout, …); the
    process and the read end of its report, for :func:`finish_measured`."""
    read, write = os.pipe()
    try:
        process = subprocess.Popen(  # type: ignore[call-overload]
            [sys.executable, "-S", "-I", "-c", _WRAPPER, str(write), *command],
            pass_fds=(write,),
            **popen,
        )
    finally:
        os.close(write)
    return process, read


def finish_measured(process: subprocess.Popen[bytes], read: int) -> Measured:
    """Wait for the wrapper; the child's exit code, wall seconds, peak RSS and CPU seconds."""
    process.wait()
    with os.fdopen(read, "rb") as report:
        text = report.read().decode()
    if process.returncode != 0 or not text:
        sys.exit(f"the measuring wrapper failed (exit {process.returncode})")
    status, maxrss, cpu, seconds = text.split()
    return Measured(
        os.waitstatus_to_exitcode(int(status)),
        float(seconds),
        int(maxrss) / 1024,  # ru_maxrss is KiB on Linux
        float(cpu),
    )


def run_child(command: list[str], env: dict[str, str], scratch: Path, expected: int = 0) -> Run:
    """Run a child to completion through the measuring wrapper: its wall time, its own peak RSS
    and CPU time (not the benchmark's); exit with its standard error if it fails (ends with
    another status than ``expected``)."""
    out_path, err_path = scratch / "child.out", scratch / "child.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        measured = finish_measured(*start_measured(command, env=env, stdout=out, stderr=err))
    output, errors = out_path.read_text(), err_path.read_text()
    if measured.exit_code != expected:
        sys.exit(f"{' '.join(command)} failed (exit {measured.exit_code}):\n{errors}")
    return Run(measured.seconds, measured.peak_rss_mib, output, errors, measured.cpu_seconds)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing: apt-get install wrk")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or sys.exit("wrk did not install")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(
    binary: str,
    url: str,
    token: str | None,
    connections: int,
    seconds: float,
    threads: int,
    cookie: str | None = None,
) -> dict[str, float]:
    """wrk on ``url`` (with a bearer ``token`` or a ``cookie`` header): requests/s, p50 and p99
    in ms; the output is shown when a request failed or was not 2xx/3xx."""
    command = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if token:
        command[1:1] = ["-H", f"Authorization: Bearer {token}"]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    completed = re.search(r"^\s*(\d+) requests in ", output, re.M)
    if not completed or int(completed.group(1)) == 0:
        # wrk prints zeros then, which would read as a measurement
        print(output, file=sys.stderr)
        sys.exit(f"wrk completed no request to {url}: no figures for it")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency = {}
    for quantile, value, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M):
        latency[quantile] = float(value) * _UNITS[unit]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    if non_2xx or errors or len(latency) != 2:
        print(output, file=sys.stderr)
    if len(latency) != 2:
        sys.exit(f"could not read wrk's latency distribution for {url}")
    return {"rps": rps, "p50": latency["50"], "p99": latency["99"]}

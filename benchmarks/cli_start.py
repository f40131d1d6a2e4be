"""How long a ``pullstats`` command takes before it does anything: each command with nothing to
do, best of ``--repeat`` runs (wall and CPU seconds), against the interpreter's own start
(``python -c pass``) in the same run; with ``--source``, another checkout's ``src/`` too,
alternating with this one.

    python benchmarks/cli_start.py [--repeat 7] [--source CHECKOUT]

The commands run on one data dir made once (a catalog, a namespace, every period processed and
exported): ``--version``, ``--help``, ``hub whoami`` (no token stored: it exits 1 after reading
the stored credentials, the client's start), ``users list``, ``status``, ``process``, ``export``
and ``ingest logs`` of an empty file. Best of N, not the median: what a command costs when the
machine is not in the way.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from _common import cli_env, markdown_table, print_environment, pullstats_command, run_child

#: (arguments, the exit status it must end with)
COMMANDS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("--version",), 0),
    (("--help",), 0),
    (("hub", "whoami"), 1),
    (("users", "list"), 0),
    (("status",), 0),
    (("process",), 0),
    (("export",), 0),
    (("ingest", "logs", "{empty}"), 0),
)


@dataclass
class Code:
    name: str
    pythonpath: str | None
    #: per command, the (wall, CPU) seconds of each run
    runs: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def timed(
    command: list[str], env: dict[str, str], scratch: Path, expected: int = 0
) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one child (:func:`run_child`)."""
    run = run_child(command, env, scratch, expected)
    return run.seconds, run.cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command, each code")
    parser.add_argument("--source", type=Path, help="also run this checkout's src/ (old code)")
    args = parser.parse_args()
    print_environment(" ".join(["python benchmarks/cli_start.py", *sys.argv[1:]]))
    codes = [Code("this checkout", None)]
    if args.source:
        codes.append(Code(args.source.name or str(args.source), str(args.source / "src")))
    with tempfile.TemporaryDirectory(prefix="cli-start-") as scratch_dir:
        scratch = Path(scratch_dir)
        data_dir = scratch / "data"
        empty = scratch / "empty.log"
        empty.write_bytes(b"")
        # hub tokens would be read from the user's config dir: an empty one of its own
        env = cli_env(data_dir, XDG_CONFIG_HOME=str(scratch / "config"))
        for setup in (("namespaces", "add", "acme"), ("process",), ("export",)):
            run_child(pullstats_command(*setup), env, scratch)
        baseline: list[tuple[float, float]] = []
        for _ in range(args.repeat):
            baseline.append(timed([sys.executable, "-c", "pass"], env, scratch))
            for arguments, expected in COMMANDS:
                shown = " ".join(arguments).replace("{empty}", "EMPTY.log")
                command = pullstats_command(*(a.format(empty=empty) for a in arguments))
                for code in codes:
                    code_env = dict(env)
                    if code.pythonpath:
                        code_env["PYTHONPATH"] = code.pythonpath
                    run = timed(command, code_env, scratch, expected)
                    code.runs.setdefault(shown, []).append(run)
    print(f"best of {args.repeat} runs, wall seconds (CPU seconds)\n")

    def best(runs: list[tuple[float, float]]) -> str:
        wall = min(seconds for seconds, _ in runs)
        cpu = min(cpu for _, cpu in runs)
        return f"{wall:.2f} s ({cpu:.2f} s)"

    rows: list[list[str]] = [["`python -c pass`", *(best(baseline) for _ in codes)]]
    for shown in codes[0].runs:
        rows.append([f"`pullstats {shown}`", *(best(code.runs[shown]) for code in codes)])
    print(markdown_table(["command", *(code.name for code in codes)], rows))


if __name__ == "__main__":
    main()

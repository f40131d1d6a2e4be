"""Grouping one client's day-long chain of back-to-back GETs into actions.

Run (from the repository root):

    python benchmarks/group_chains.py --requests 21600,100000,1000000 [--source CHECKOUT]

A client that fetches a new digest every 4 s all day (a loop pulling by digest, or many nodes
behind one address) never pauses past the join window: each GET may join the action of the
one before it, so whether it does waits on every request before it (docs/data-definitions.md,
"From requests to actions"). For each size in `--requests`, in a child process, this times
best of `--repeat`:

- `group_columns` (pullstats.classify.grouping), what `process` runs on every partition;
- the baseline: `group_requests` (pullstats.classify.rules), the rules as written, one Python
  pass over the requests: the cost of looking at each request once;
- with `--source`: `group_columns` of that checkout's `src`, alternating with this one's, and
  the actions of both checked equal.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _common import ROOT, markdown_table, print_environment

_STEP_US = 4_000_000

#: run in the child: time the grouping of a chain of N requests, print the seconds as JSON
_CHILD = """
import json, sys, time
import numpy as np, pyarrow as pa
from pullstats.classify.grouping import group_columns
from pullstats.classify.rules import group_requests
n, repeat, step, rules = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
digests = [f"sha256:{i:064x}" for i in range(n)]
gaps = np.full(n, step, np.int64)
starts = np.zeros(n, np.bool_)
starts[:1] = True
columns = (pa.array(["GET"] * n), pa.array([""] * n), pa.array(digests))
times, first = [], None
for _ in range(repeat):
    began = time.perf_counter()
    out = group_columns(gaps, starts, *columns)
    times.append(time.perf_counter() - began)
    first = out.first_request.tolist()
result = {"columns": min(times), "actions": len(first), "first": first[:: max(1, n // 1000)]}
if rules:
    began = time.perf_counter()
    by_rules = group_requests([None] + [step] * (n - 1), ["GET"] * n, [""] * n, digests)
    result["rules"] = time.perf_counter() - began
    assert list(by_rules.first_request) == first
print(json.dumps(result))
"""


def _time(source: Path, n: int, repeat: int, rules: bool, timeout: float) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(source / "src")}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, *map(str, (n, repeat, _STEP_US, int(rules)))],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return {"columns": None}
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _seconds(value: object) -> str:
    return "—" if value is None else f"{float(str(value)):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", default="21600,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--source", type=Path, help="another checkout, timed against this one")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds a child may take (— when over)"
    )
    args = parser.parse_args()
    print_environment("python benchmarks/group_chains.py " + " ".join(sys.argv[1:]))
    header = ["requests", "actions", "`group_columns`", "`group_requests` (baseline)"]
    if args.source:
        header.append(f"`group_columns` of {args.source}")
    rows = []
    for n in (int(part) for part in args.requests.split(",")):
        ours = _time(ROOT, n, args.repeat, True, args.timeout)
        row = [f"{n:,}", f"{ours.get('actions', 0):,}", _seconds(ours["columns"])]
        row.append(_seconds(ours.get("rules")))
        if args.source:
            theirs = _time(args.source.resolve(), n, 1, False, args.timeout)
            if theirs["columns"] is not None and theirs["first"] != ours["first"]:
                raise SystemExit(f"{n} requests: the two checkouts group them otherwise")
            row.append(_seconds(theirs["columns"]))
        rows.append(row)
        print(f"{n:,} requests done", file=sys.stderr)
    print(markdown_table(header, rows))
    print(f"\none chain of GETs {_STEP_US // 1_000_000} s apart, each by a new digest; best of "
          f"{args.repeat} (the baseline and --source: one run each)")  # fmt: skip


if __name__ == "__main__":
    main()

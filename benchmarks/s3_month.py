"""The month's access log end to end with the lake and the exports on S3: `ingest logs`,
`process`, `export` against a local S3-protocol server, timed, with the requests each made.

Run (from the repository root):

    python benchmarks/s3_month.py                              # 200,000 lines of October 2026
    python benchmarks/s3_month.py --source ../old --repeat 3   # old and new code, alternating

The same log and commands as `benchmarks/month_e2e.py` (its `write_log` and `pipeline`), but
each run's data dir has `PULLSTATS_LAKE_URL` and `PULLSTATS_EXPORTS_URL` on a new bucket of one
`moto_server` on loopback (`moto[server]`, a test dependency). The server logs a line per
request; they are counted by kind for each command: `HEAD` (an object's size and time),
`GET` of an object (its bytes), `LIST` (`ListObjectsV2`, a page of up to 1000 keys) and `PUT`.

moto answers in a millisecond or two, a real bucket in tens: the request counts say what a
real bucket would cost better than the seconds here do. With `--source CHECKOUT` old and new
code alternate in each repeat, and their `process` and `export` summaries must agree.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import boto3
from _common import markdown_table, print_environment, spread, start_moto
from month_e2e import STEPS, Code, pipeline, write_log

_LISTING = re.compile(r'"GET /[^/ ?]+\?list-type=2')
_OBJECT = re.compile(r'"([A-Z]+) /[^/ ?]+/\S')
KINDS = ("HEAD", "GET", "LIST", "PUT")
# the server colours the lines of some answers (206, 404): the colour codes are dropped
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def requests_in(lines: list[str]) -> Counter[str]:
    counted: Counter[str] = Counter()
    for line in (_COLOUR.sub("", line) for line in lines):
        if _LISTING.search(line):
            counted["LIST"] += 1
        elif match := _OBJECT.search(line):
            counted[match.group(1)] += 1
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="about this many")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, fresh buckets")
    parser.add_argument("--source", type=Path, help="also run this checkout's src/ (old code)")
    args = parser.parse_args()
    print_environment()

    codes = [Code("this checkout", None)]
    if args.source is not None:
        codes.insert(0, Code(f"{args.source} (old)", str(args.source.resolve() / "src")))
    counts: dict[str, dict[str, list[Counter[str]]]] = {
        code.name: {step: [] for step in STEPS} for code in codes
    }
    with tempfile.TemporaryDirectory(prefix="pullstats-bench-") as tmp:
        root = Path(tmp)
        log = root / "access.log"
        lines = write_log(log, args.lines, args.seed)
        server_log = root / "moto.log"
        moto, endpoint = start_moto(server_log)
        aws = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
        }
        os.environ.update(aws)  # the children's environment (cli_env keeps AWS_*)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        try:
            for attempt in range(args.repeat):
                summaries = set()
                for number, code in enumerate(codes):
                    bucket = f"pullstats-bench-{uuid.uuid4().hex[:12]}"
                    s3.create_bucket(Bucket=bucket)
                    seen = 0

                    def set_up() -> None:
                        # the setup's requests (`namespaces add`) are no step's
                        nonlocal seen
                        seen = len(server_log.read_text(errors="replace").splitlines())

                    def counted(step: str, code: Code = code) -> None:
                        nonlocal seen
                        logged = server_log.read_text(errors="replace").splitlines()
                        counts[code.name][step].append(requests_in(logged[seen:]))
                        seen = len(logged)

                    env = {
                        "PULLSTATS_LAKE_URL": f"s3://{bucket}/lake",
                        "PULLSTATS_EXPORTS_URL": f"s3://{bucket}/exports",
                    }
                    data_dir = root / f"data-{attempt}-{number}"
                    pipeline(code, log, data_dir, root, env, after_step=counted, after_setup=set_up)
                    summaries.add(
                        tuple(
                            code.steps[step][-1].output.strip().splitlines()[-1]
                            for step in ("process", "export")
                        )
                    )
                if len(summaries) > 1:
                    sys.exit(f"old and new code disagree: {sorted(summaries)}")
        finally:
            moto.terminate()
            moto.wait(timeout=30)

    print(
        f"data: {lines:,} nginx lines of October 2026 (seed {args.seed}); moto_server on "
        f"loopback; {args.repeat} run(s), median (range)\n"
    )
    header = ["", *(f"{c.name}: seconds" for c in codes)]
    header += [f"{c.name}: {kind}" for kind in KINDS for c in codes]
    rows: list[list[object]] = []
    for step in STEPS:
        row: list[object] = [f"`{step}`"]
        row += [spread([r.seconds for r in c.steps[step]], "s", 2) for c in codes]
        row += [
            spread([float(n[kind]) for n in counts[c.name][step]], "", 0)
            for kind in KINDS
            for c in codes
        ]
        rows.append(row)
    print(markdown_table(header, rows))
    for code in codes:
        print(f"\n{code.name}: {code.steps['export'][-1].output.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()

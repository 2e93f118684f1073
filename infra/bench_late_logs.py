#!/usr/bin/env python3
"""The night's peak RSS against the number of late-log items (issue 18): seeds COUNT late-log
items (`LATE#<yyyy-mm>`, one per stream record, as a backfill writes them) for one month of the
running local stack's Reports table, then runs a stored night of a date of that month from the
DeploymentLogs table under /usr/bin/time -v and prints its peak RSS and how many late logs it
named. Each count gets a month of its own (2019-01, 2019-02, ...), so one invocation compares
counts side by side.

    STATE=$(mktemp -d); .venv/bin/python infra/local_stack.py start --state $STATE
    set -a; source $STATE/env; set +a
    .venv/bin/python infra/bench_late_logs.py --job $CARGO_TARGET_DIR/release/nightly-reports \\
        --counts 0,100000,300000

Items are written with boto3 batch writes straight to the emulator (what the late-logs function
writes, minus the stream); the night reads them through the real SDK, one 1 MB Query page at a
time (moto applies DynamoDB's 1 MB page limit).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import boto3


def seed(table, month, count):
    """COUNT late-log items of `month`'s 1st..28th, half changed before the 15th's night."""
    start = time.monotonic()
    with table.batch_writer() as batch:
        for i in range(count):
            day = 1 + i % 28
            date = f"{month}-{day:02d}"
            changed = f"{month}-{min(day + 1, 28):02d}T0{i % 10}:00:00Z"
            batch.put_item(Item={
                "pk": f"LATE#{month}", "sk": f"{date}#bench-{i:09d}", "kind": "late_log",
                "report_date": date, "changed_at": changed, "change": "MODIFY",
                "log_pk": f"DAY#{date}#{i % 16:02d}", "log_sk": f"{date}T12:00:00Z#bench-{i}",
                "expires_at": 4102444800,
            })
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--job", required=True, help="nightly-reports binary")
    ap.add_argument("--counts", default="0,100000")
    args = ap.parse_args()
    table = boto3.resource("dynamodb").Table(os.environ.get("REPORTS_TABLE", "Reports"))
    print("| late-log items | seeding s | night wall s | night peak RSS MiB | late logs named |")
    print("|---|---|---|---|---|")
    for n, count in enumerate(int(c) for c in args.counts.split(",")):
        month = f"2019-{n + 1:02d}"
        seconds = seed(table, month, count)
        out = tempfile.mkdtemp(prefix="bench-late-logs-")
        # The 15th: no marks yet, so the night reads the month so far (empty) and counts the
        # late logs of the dates it reports.
        cmd = ["/usr/bin/time", "-v", args.job, "--date", f"{month}-15", "--out", out, "--no-send"]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "RUST_LOG": "warn"})
        if proc.returncode != 0:
            sys.exit(f"night failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr).group(1)
        parts = [float(p) for p in wall.split(":")]
        wall_s = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        try:
            named = json.loads(proc.stdout).get("late_log_count")
        except ValueError:
            named = "?"
        print(f"| {count:,} | {seconds:.0f} | {wall_s:.1f} | {rss:.1f} | {named} |", flush=True)


if __name__ == "__main__":
    main()

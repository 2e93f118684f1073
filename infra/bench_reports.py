#!/usr/bin/env python3
"""./dev bench-reports: the nightly report job against DuckDB on the same export file.

Generates COUNT deployment logs (default 1,000,000; one day, 500 providers) as a DynamoDB-JSON
export with the job's own generator, then runs, RUNS times each and side by side:

* the job:   nightly-reports --date D --from-export FILE --out DIR --rejects-ok
* DuckDB:    read_json + a group-by (report date, provider, product, currency) with DECIMAL sums
             of revenue and remuneration, written to CSV (infra/bench_reports.py, DUCKDB_SQL)
* cat FILE:  the read floor

and prints wall time, CPU time and peak RSS (all from /usr/bin/time -v) as medians, and the
job's throughput relative to DuckDB's. --stream-count N also measures the job's peak RSS on N
logs streamed from the generator through a pipe (no file on disk), e.g. 10,000,000.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

DUCKDB_SQL = """
COPY (
  SELECT CAST(CAST(Item.finished_at.S AS TIMESTAMPTZ) AS DATE) AS report_date,
         Item.provider_id.S AS provider_id, Item.product_id.S AS product_id, Item.currency.S AS currency,
         count(*) AS deployments,
         count(*) FILTER (WHERE Item.status.S = 'SUCCEEDED') AS succeeded,
         count(*) FILTER (WHERE Item.status.S = 'FAILED') AS failed,
         sum(CASE WHEN Item.status.S = 'SUCCEEDED'
             THEN CAST(Item.quantity.N AS DECIMAL(38, 4)) * CAST(Item.unit_price.N AS DECIMAL(38, 6)) END) AS revenue,
         sum(CASE WHEN Item.status.S = 'SUCCEEDED'
             THEN CAST(Item.quantity.N AS DECIMAL(38, 4)) * CAST(Item.unit_price.N AS DECIMAL(38, 6))
                  * CAST(Item.provider_share.N AS DECIMAL(38, 4)) END) AS remuneration,
         sum(len(Item.errors.L)) AS errors
  FROM read_json('{path}', format = 'newline_delimited')
  WHERE CAST(CAST(Item.finished_at.S AS TIMESTAMPTZ) AS DATE) = DATE '{date}'
  GROUP BY ALL ORDER BY ALL
) TO '{out}' (HEADER)
"""


def timed(cmd, **kw):
    """Runs cmd under /usr/bin/time -v; returns (wall s, cpu s, peak RSS MiB)."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, **kw)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return parse_time(proc.stderr)


def parse_time(text):
    def field(name):
        m = re.search(rf"{re.escape(name)}: (.+)", text)
        if not m:
            sys.exit(f"/usr/bin/time -v printed no {name!r}:\n{text[-2000:]}")
        return m.group(1).strip()
    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return seconds, cpu, int(field("Maximum resident set size (kbytes)")) / 1024


def median_of(runs):
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--job", required=True, help="release nightly-reports binary")
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--date", default="2026-02-14")
    ap.add_argument("--providers", type=int, default=500)
    ap.add_argument("--stream-count", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    args = ap.parse_args()
    import duckdb  # noqa: F401  (installed by ./dev bench-reports)

    work = tempfile.mkdtemp(prefix="bench-reports-")
    export = os.path.join(work, "export.json")
    try:
        gen = [args.job, "generate", "--count", str(args.count), "--from", args.date, "--to", args.date,
               "--providers", str(args.providers), "--out", export]
        subprocess.run(gen, check=True, stderr=subprocess.DEVNULL)
        size = os.path.getsize(export) / 2**20
        print(f"{args.count:,} logs, {size:.0f} MiB of DynamoDB-JSON export lines, {args.providers} providers, "
              f"report date {args.date}; median of {args.runs} runs, side by side", flush=True)
        job, duck, cat = [], [], []
        script = DUCKDB_SQL.format(path=export, date=args.date, out=os.path.join(work, "duckdb.csv"))
        for run in range(args.runs):
            # Each run writes a fresh report directory, as a night does (a re-run of a date also
            # swaps out and deletes the previous one; that is not what is compared here). They
            # are deleted together at the end, not before the next run: on ext4, creating ~1,500
            # files right after deleting as many costs ~0.3 CPU-s more (the allocator skips
            # recently freed inodes), which a night starting a day after the last never pays.
            job.append(timed([args.job, "--date", args.date, "--from-export", export,
                              "--out", os.path.join(work, f"out-{run}"), "--rejects-ok"],
                             env={**os.environ, "RUST_LOG": "warn"}))
            duck.append(timed([sys.executable, "-c", f"import duckdb; duckdb.sql(\"SET TimeZone = 'UTC'\"); duckdb.sql({script!r})"]))
            cat.append(timed(["cat", export]))
        rows = [("nightly-reports --from-export", median_of(job)), ("DuckDB read_json + group-by", median_of(duck)),
                ("cat (read floor)", median_of(cat))]
        print(f"| {'':32} | {'wall s':>7} | {'CPU s':>6} | {'peak RSS MiB':>12} |")
        print(f"|{'-' * 34}|{'-' * 9}|{'-' * 8}|{'-' * 14}|")
        for name, (wall, cpu, rss) in rows:
            print(f"| {name:32} | {wall:7.2f} | {cpu:6.2f} | {rss:12.0f} |")
        jw, dw, cw = rows[0][1][0], rows[1][1][0], rows[2][1][0]
        print(f"job throughput vs DuckDB: {dw / jw:.2f}x  (>= 1.0 means at or ahead);"
              f" job wall / cat wall: {f'{jw / cw:.1f}x' if cw else 'n/a (cat under 0.01 s)'}")
        if args.stream_count:
            out = os.path.join(work, "out-stream")
            cmd = (f"{args.job} generate --count {args.stream_count} --from {args.date} --to {args.date} "
                   f"--providers {args.providers} --out /dev/stdout 2>/dev/null | "
                   f"/usr/bin/time -v {args.job} --date {args.date} --from-export /dev/stdin --out {out} --rejects-ok")
            proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, env={**os.environ, "RUST_LOG": "warn"})
            if proc.returncode != 0:
                sys.exit(f"streamed run failed:\n{proc.stderr[-2000:]}")
            wall, cpu, rss = parse_time(proc.stderr)
            print(f"{args.stream_count:,} logs streamed through a pipe: job peak RSS {rss:.0f} MiB "
                  f"(wall {wall:.1f} s, CPU {cpu:.1f} s, generator included in wall)")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""How long the MPA campaign takes, and how many AWS calls it makes per provider.

A benchmark, not a test (`./dev bench-campaign`, docs/performance.md, "MPA campaign"): against the
private local stack `./dev` starts (moto), it seeds N provider records approved on the first MPA
version (MPA_CURRENT_VERSION) and a second version stored as data (the `MPA` / `VERSIONS` item, as
`MpaVersionPublished` leaves it), then runs the release job's campaign alone
(`nightly-reports mpa-campaign`) twice: the campaign (N notices) and a re-run (none: the ledger
has them all). Every AWS call goes through a counting proxy in front of moto (DynamoDB by
operation, SES `SendRawEmail`), which can also hold each call `--latency-ms` (a stand-in for the
network and service time moto on 127.0.0.1 does not have).

It prints, per run: wall time, DynamoDB calls per provider by operation, SES calls per provider;
then the time for 10,000 providers: the larger of the SES bound (10,000 / rate) and the
round-trip bound measured here (this run's wall time per notice x 10,000).

Usage: bench_campaign.py --job PATH [--providers 500] [--rate 1000] [--concurrency 8] [--latency-ms 0]
"""

import argparse
import collections
import json
import os
import subprocess
import threading
import time
import urllib.parse

import boto3

from bench_sends import start_latency_proxy


def start_counting_proxy(upstream: str, latency: float, counts: collections.Counter, lock: threading.Lock):
    """Forwards every request to `upstream` (after `latency` seconds) and counts it by operation."""

    def count(headers, body):
        target = headers.get("X-Amz-Target") or ""
        if target.startswith("DynamoDB_"):
            operation = "dynamodb:" + target.split(".", 1)[1]
        else:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            operation = "ses:" + form.get("Action", ["?"])[0] if "Action" in form else "other"
        with lock:
            counts[operation] += 1

    return start_latency_proxy(upstream, latency, count)


def s(value):
    return {"S": value}


def seed(count: int, version: str):
    """N providers approved on the first version, and `version` published as data after it."""
    dynamodb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    table = os.environ["MARKETPLACE_TABLE"]
    first = os.environ["MPA_CURRENT_VERSION"]
    epoch = "1970-01-01T00:00:00Z"

    def mpa_version(name, url, effective, by, event):
        return {"M": {"version": s(name), "text_url": s(url), "effective_at": s(effective), "published_at": s(epoch),
                      "published_by": s(by), "event_id": s(event)}}

    versions = {
        "pk": s("MPA"), "sk": s("VERSIONS"), "item_type": s("mpa_versions"), "revision": {"N": "1"},
        "version": {"N": "1"},
        "versions": {"L": [
            mpa_version(first, os.environ["MPA_URL"], epoch, "configuration", "MPA_CURRENT_VERSION"),
            mpa_version(version, f"https://marketplace.example.com/legal/mpa/{version}", "2099-01-01T00:00:00Z",
                        "bench", f"bench-{version}"),
        ]},
    }
    dynamodb.put_item(TableName=table, Item=versions)
    requests = []
    for i in range(count):
        pid = f"campaign-{i:05}"
        item = {
            "pk": s(f"PROVIDER#{pid}"), "sk": s("PROFILE"), "item_type": s("provider"), "provider_id": s(pid),
            "account_alias": s(f"{pid}-prod"), "company_name": s(f"Provider {i} Ltd"),
            "contact_name": s(f"Contact {i}"), "contact_email": s(f"bench-{pid}@provider.example"),
            "status": s("PortalAccountCreated"), "created_at": s("2026-01-05T10:00:00Z"), "created_by": s("bench"),
            "created_by_event": s(f"bench-{pid}"), "version": {"N": "3"},
            "mpa": {"M": {
                "version": s(first), "status": s("Approved"),
                "accepted_by": {"M": {"id": s("u-1"), "name": s(f"Acceptor {i}"),
                                      "email": s(f"acceptor-{pid}@provider.example")}},
                "accepted_at": s("2026-01-06T10:00:00Z"), "accepted_event": s(f"accept-{pid}"),
                "decided_by": s("team-1"), "decided_at": s("2026-01-07T10:00:00Z"),
                "decided_event": s(f"approve-{pid}"),
            }},
        }
        requests.append({"PutRequest": {"Item": item}})
        if len(requests) == 25:
            dynamodb.batch_write_item(RequestItems={table: requests})
            requests = []
    if requests:
        dynamodb.batch_write_item(RequestItems={table: requests})


def run_campaign(job: str, endpoint: str, rate: int, concurrency: int, counts, lock) -> dict:
    env = dict(os.environ, REPORT_SEND_CONCURRENCY=str(concurrency), SES_MAX_SEND_RATE=str(rate),
               AWS_ENDPOINT_URL=endpoint, RUST_LOG="error")
    with lock:
        counts.clear()
    started = time.monotonic()
    done = subprocess.run([job, "mpa-campaign"], env=env, capture_output=True, text=True, timeout=36000)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"job failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    with lock:
        calls = dict(counts)
    return {"wall": wall, "campaign": summary.get("mpa_campaign") or {}, "calls": calls}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", required=True, help="the release nightly-reports binary")
    parser.add_argument("--providers", type=int, default=500)
    parser.add_argument("--rate", type=int, default=1000, help="SES_MAX_SEND_RATE (14: SES's default production rate)")
    parser.add_argument("--concurrency", type=int, default=8, help="REPORT_SEND_CONCURRENCY")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="held on every AWS call")
    args = parser.parse_args()

    counts, lock = collections.Counter(), threading.Lock()
    proxy = start_counting_proxy(os.environ["AWS_ENDPOINT_URL"], args.latency_ms / 1000, counts, lock)
    endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"
    version = f"bench-{int(time.time())}"
    seed(args.providers, version)
    n = args.providers
    print(f"{n} providers approved on {os.environ['MPA_CURRENT_VERSION']}, MPA version {version} stored; "
          f"SES_MAX_SEND_RATE={args.rate}, REPORT_SEND_CONCURRENCY={args.concurrency}, "
          f"added latency {args.latency_ms:g} ms per call", flush=True)
    runs = {}
    for name, expected in (("campaign", n), ("re-run", 0)):
        result = run_campaign(args.job, endpoint, args.rate, args.concurrency, counts, lock)
        sent = result["campaign"].get("sent")
        if sent != expected or result["campaign"].get("failed"):
            raise SystemExit(f"{name}: expected {expected} notices sent, got {result['campaign']}")
        runs[name] = result
        print(f"{name}: {result['wall']:.2f} s, {sent} notices sent", flush=True)
    proxy.shutdown()

    print("\n| run | wall s | notices/s | DynamoDB calls / provider | SES calls / provider | DynamoDB calls by operation |")
    print("|---|---|---|---|---|---|")
    for name, r in runs.items():
        dynamo = {k.split(":", 1)[1]: v for k, v in r["calls"].items() if k.startswith("dynamodb:")}
        ses = sum(v for k, v in r["calls"].items() if k.startswith("ses:"))
        per_s = r["campaign"].get("sent", 0) / r["wall"]
        by_op = ", ".join(f"{op} {v}" for op, v in sorted(dynamo.items()))
        print(f"| {name} | {r['wall']:.2f} | {per_s:.1f} | {sum(dynamo.values()) / n:.2f} | {ses / n:.2f} | {by_op} |")
    wall = runs["campaign"]["wall"]
    if n / wall >= 0.8 * args.rate:
        # Paced: the rate, not the round trips, set this run's time.
        print(f"\npaced at the rate while measured: {n} / {args.rate} = {n / args.rate:.1f} s, measured {wall:.1f} s; "
              f"run with a high --rate to measure the round-trip bound")
        round_trip_bound = 0.0
    else:
        per_notice = wall / n
        round_trip_bound = per_notice * 10_000
        print(f"\n10,000 providers: round-trip bound here {round_trip_bound:.0f} s "
              f"({per_notice * 1000:.1f} ms per notice x 10,000, {args.concurrency} in flight)")
    for rate in (14, 1):
        ses_bound = 10_000 / rate
        total = max(ses_bound, round_trip_bound)
        print(f"  at {rate:>2}/s: max(10,000 / {rate} = {ses_bound:.0f} s, {round_trip_bound:.0f} s) = {total:.0f} s "
              f"({total / 60:.1f} min, {total / 3600:.2f} h)")

if __name__ == "__main__":
    main()

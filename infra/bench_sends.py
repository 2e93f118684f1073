#!/usr/bin/env python3
"""How long the report job takes to email N providers, one delivery at a time vs concurrently.

A benchmark, not a test (`./dev bench-sends`, docs/performance.md, "Internet scale, on paper"): against the
private local stack `./dev` starts (moto, which serves one request at a time), it seeds N provider
records, generates one day of deployment logs for them with the job's own generator, then runs
the release job (`--from-export … --no-store --resend`: every provider's report and the team
summary go through the delivery ledger and SES) with `REPORT_SEND_CONCURRENCY=1` and with the
default, interleaved, `--runs` times each, and prints the medians. Every run is checked to have
sent N + 1 emails.

`--latency-ms X` puts a proxy in front of moto that holds every request X ms before forwarding
it: a stand-in for the network and service time of real DynamoDB and SES calls, which moto on
127.0.0.1 does not have. `--rate` is `SES_MAX_SEND_RATE` (default: high enough not to limit,
so the figures show the round trips; 14 shows the account's default rate).

Usage: bench_sends.py --job PATH [--providers 200] [--runs 3] [--concurrency 8] [--rate 1000]
                      [--latency-ms 0]
"""

import argparse
import http.client
import http.server
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse

import boto3


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def start_latency_proxy(upstream: str, latency: float, observe=None):
    """Forwards every request to `upstream` after `latency` seconds."""
    up = urllib.parse.urlparse(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK would add ~40 ms to every call on top of `latency`.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if observe:
                observe(self.headers, body)
            time.sleep(latency)
            connection = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            headers["Host"] = up.netloc
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            connection.close()
            self.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def seed_providers(count: int):
    """Provider records `provider-0000`.. (the generator's ids), as the portal stores them."""
    dynamodb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    table = os.environ["MARKETPLACE_TABLE"]
    for i in range(count):
        pid = f"provider-{i:04}"
        item = {
            "pk": f"PROVIDER#{pid}", "sk": "PROFILE", "item_type": "provider", "provider_id": pid,
            "account_alias": f"{pid}-prod", "company_name": f"Provider {i} Ltd", "contact_name": f"Contact {i}",
            "contact_email": f"bench-{pid}@provider.example", "status": "PortalAccountCreated",
            "created_at": "2026-01-05T10:00:00Z", "created_by": "bench", "created_by_event": f"bench-{pid}",
        }
        attributes = {k: {"S": v} for k, v in item.items()}
        attributes["version"] = {"N": "1"}
        dynamodb.put_item(TableName=table, Item=attributes)


def run_job(job: str, export: str, out: str, date: str, concurrency: int, rate: int, endpoint: str) -> dict:
    env = dict(os.environ, REPORT_SEND_CONCURRENCY=str(concurrency), SES_MAX_SEND_RATE=str(rate),
               AWS_ENDPOINT_URL=endpoint, RUST_LOG="error")
    started = time.monotonic()
    done = subprocess.run([job, "--date", date, "--from-export", export, "--no-store", "--resend", "--rejects-ok",
                           "--out", out], env=env, capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"job failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall": wall, "sent": summary["emails_sent"], "failed": summary["failed_deliveries"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--job", required=True, help="the release nightly-reports binary")
    parser.add_argument("--providers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8, help="the concurrent side (REPORT_SEND_CONCURRENCY)")
    parser.add_argument("--rate", type=int, default=1000, help="SES_MAX_SEND_RATE of both sides")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()

    endpoint = os.environ["AWS_ENDPOINT_URL"]
    proxy = None
    if args.latency_ms > 0:
        proxy = start_latency_proxy(endpoint, args.latency_ms / 1000)
        endpoint = f"http://127.0.0.1:{proxy.server_address[1]}"
    date = "2026-01-15"
    with tempfile.TemporaryDirectory(prefix="bench-sends-") as work:
        seed_providers(args.providers)
        export = os.path.join(work, "logs.json")
        subprocess.run([args.job, "generate", "--count", str(args.providers * 10), "--providers", str(args.providers),
                        "--from", date, "--to", date, "--out", export], check=True, capture_output=True)
        sides = {1: [], args.concurrency: []}
        for run in range(args.runs):
            for concurrency in sides:
                result = run_job(args.job, export, os.path.join(work, f"out-{run}-{concurrency}"), date,
                                 concurrency, args.rate, endpoint)
                if result["sent"] != args.providers + 1 or result["failed"]:
                    raise SystemExit(f"expected {args.providers + 1} emails, got {result}")
                sides[concurrency].append(result["wall"])
                print(f"run {run + 1}: concurrency {concurrency:>2}: {result['wall']:.2f} s, {result['sent']} emails",
                      flush=True)
    if proxy:
        proxy.shutdown()
    load = os.getloadavg()
    print(f"\n{args.providers} providers + the team, SES_MAX_SEND_RATE={args.rate}, "
          f"added latency {args.latency_ms:g} ms per call, medians of {args.runs} "
          f"(load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}):")
    print("| REPORT_SEND_CONCURRENCY | wall s | emails/s |")
    print("|---|---|---|")
    for concurrency, walls in sides.items():
        median = statistics.median(walls)
        print(f"| {concurrency} | {median:.2f} | {(args.providers + 1) / median:.1f} |")
    one, many = (statistics.median(w) for w in sides.values())
    print(f"speed-up: {one / many:.2f}x")


if __name__ == "__main__":
    main()

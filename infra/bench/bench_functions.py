#!/usr/bin/env python3
"""Cold start, size, AWS round trips and warm latency of the Lambda binaries (`./dev bench-functions`).

    bench_functions.py --bin-dir DIR [--hello FILE] [--baseline-dir DIR] [--runs 30] [--events 200]
                       [--init-only]

DIR holds `cargo lambda build --release` output (DIR/<binary>/bootstrap); --hello is the
hello-world yardstick (default DIR/hello-lambda/bootstrap), so older binaries can be measured
against the same one (or side by side: --baseline-dir). Prints Markdown tables:

1. Init: process spawn -> the first GET of the Runtime API's /invocation/next, against a minimal
   Runtime API served here on 127.0.0.1; median (and p90) of --runs interleaved runs per binary
   (after one unmeasured round), peak RSS at that moment (VmHWM; the process is then killed),
   file size, and the ratio to the hello-world. The environment is what
   Lambda gives a function (credentials and region in variables, no endpoint overrides).
2. Per event type (needs the local stack's environment, which `./dev bench-functions` exports):
   each function runs as one long-lived process against the same minimal Runtime API, reaching
   moto through infra/checks/recording_proxy.py. --events fresh events per type (distinct
   providers, each walked through sign-up -> MPA accepted -> MPA approved -> product published
   -> a malformed sign-up, the tables emptied between providers) are delivered one at a time,
   one SQS record per invocation; with --baseline-dir the older functions run too, on their own
   providers, interleaved provider by provider. Printed:
   DynamoDB round trips and SES calls per event (HTTP requests the proxy saw; a transaction is
   one), and warm latency (Runtime API: event handed out -> response posted) p50/p99, the first
   invocation of each process excluded.

Every process it starts is stopped before it returns; every wait is bounded.
"""

import argparse
import http.server
import json
import os
import pathlib
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FUNCTIONS = ["signup-notification", "mpa-approval", "product-publishing", "nightly-reports", "late-logs"]
HELLO = "hello-lambda"
WAIT = 30.0  # seconds any single wait may take

# What Lambda puts in a function's environment (plus the template's variables); no endpoints.
LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
    "AWS_SECRET_ACCESS_KEY": "bench-secret-access-key",
    "AWS_SESSION_TOKEN": "bench-session-token",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "LAMBDA_TASK_ROOT": "/var/task",
    "TZ": ":UTC",
    "RUST_LOG": "info",
    "SENDER_ADDRESS": "no-reply@marketplace.example.com",
    "REPLY_TO_ADDRESS": "support@marketplace.example.com",
    "TEAM_INBOX": "marketplace-team@marketplace.example.com",
    "PORTAL_URL": "https://portal.marketplace.example.com",
    "GUIDE_URL": "https://docs.marketplace.example.com/providers/getting-started",
    "MPA_CURRENT_VERSION": "2026-01",
    "MPA_URL": "https://marketplace.example.com/legal/mpa",
    "STOREFRONT_URL": "https://marketplace.example.com/products/",
    "DEFAULT_REPRESENTATIVE_NAME": "Marketplace Provider Desk",
    "DEFAULT_REPRESENTATIVE_EMAIL": "providers@marketplace.example.com",
    "MARKETPLACE_TABLE": "Marketplace",
    "IDEMPOTENCY_TABLE": "Idempotency",
    "DEPLOYMENT_LOGS_TABLE": "DeploymentLogs",
    "REPORTS_TABLE": "Reports",
    "REPORTS_OUT_DIR": "/tmp/reports",
    "REPORT_PARTIALS_BUCKET": "report-partials",
}
# Variables the local stack exports that a function run against it needs.
STACK_VARS = ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SENDER_ADDRESS", "REPLY_TO_ADDRESS",
              "TEAM_INBOX", "PORTAL_URL", "GUIDE_URL", "MPA_CURRENT_VERSION", "MARKETPLACE_TABLE",
              "IDEMPOTENCY_TABLE", "MPA_URL", "STOREFRONT_URL", "DEFAULT_REPRESENTATIVE_NAME",
              "DEFAULT_REPRESENTATIVE_EMAIL"]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# ---------------------------------------------------------------- cold start


def spawn(binary: pathlib.Path, env: dict) -> int:
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        return os.posix_spawn(str(binary), [str(binary)], env,
                              file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                                            (os.POSIX_SPAWN_DUP2, devnull, 2)])
    finally:
        os.close(devnull)


def one_cold_start(binary: pathlib.Path, name: str, listener: socket.socket):
    """(init seconds, peak RSS KiB) of one start of `binary`, or raises naming what went wrong."""
    port = listener.getsockname()[1]
    env = dict(LAMBDA_ENV, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}", AWS_LAMBDA_FUNCTION_NAME=name.split()[0])
    start = time.perf_counter()
    pid = spawn(binary, env)
    try:
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(WAIT)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                data += chunk
            elapsed = time.perf_counter() - start
            request_line = data.split(b"\r\n", 1)[0].decode("latin-1")
            if "/runtime/invocation/next" not in request_line:
                raise RuntimeError(f"{name}: first request was {request_line!r}, not a poll of /next (init failed?)")
            # The new image's high-water mark (rusage's ru_maxrss would include the spawning
            # Python's memory, which Linux carries across exec).
            status = pathlib.Path(f"/proc/{pid}/status").read_text()
            peak_kib = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return elapsed, peak_kib


def cold_starts(binaries: dict, runs: int):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(WAIT)
    samples = {name: [] for name in binaries}
    with listener:
        for round_ in range(runs + 1):  # round 0 warms the page cache and is not counted
            for name, binary in binaries.items():
                elapsed, rss = one_cold_start(binary, name, listener)
                if round_:
                    samples[name].append((elapsed, rss))
    return samples


def print_cold_starts(binaries: dict, samples: dict, runs: int):
    hello = statistics.median(s[0] for s in samples[HELLO])
    print(f"\nInit (spawn -> first poll of /next; median of {runs} interleaved runs) and size:\n")
    print("| binary | size | init median | init min | init p90 | x hello-world (median) | peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for name, binary in binaries.items():
        init = [s[0] for s in samples[name]]
        rss = max(s[1] for s in samples[name])
        size = binary.stat().st_size
        print(f"| {name} | {size / 2**20:.2f} MiB | {statistics.median(init) * 1e3:.2f} ms | {min(init) * 1e3:.2f} ms "
              f"| {percentile(init, 90) * 1e3:.2f} ms | {statistics.median(init) / hello:.2f} | {rss / 1024:.1f} MiB |")


# ---------------------------------------------------------------- runtime API


class RuntimeApi:
    """A minimal Lambda Runtime API for one function process: hands out one event at a time."""

    def __init__(self):
        self.events = queue.Queue()
        self.results = queue.Queue()
        self.handed_out = {}
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.reply(404)
                request_id, body = api.events.get()
                if request_id is None:  # shutting down: leave the poll hanging until the process dies
                    return
                deadline_ms = int((time.time() + 30) * 1000)
                self.reply(200, body, [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                    ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
                    ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                ])
                api.handed_out[request_id] = time.perf_counter()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path.strip("/").split("/")
                now = time.perf_counter()
                self.reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])
                if len(parts) >= 5 and parts[2] == "invocation":
                    api.results.put((parts[3], parts[4], body, now))
                else:
                    api.results.put((None, "init-error", body, now))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, payload: dict):
        """(response JSON, seconds from hand-out to response)."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, json.dumps(payload).encode()))
        rid, kind, body, at = self.results.get(timeout=WAIT)
        if rid != request_id or kind != "response":
            raise RuntimeError(f"invocation {request_id}: got {kind} {body[:500]!r}")
        return json.loads(body), at - self.handed_out.pop(request_id)

    def close(self):
        self.events.put((None, None))
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- events


def sample_body(file: str) -> str:
    return json.loads((ROOT / "events" / file).read_text())["Records"][0]["body"]


def sqs_event(body: str) -> dict:
    record = json.loads((ROOT / "events" / "provider-account-created.json").read_text())["Records"][0]
    record = dict(record, messageId=str(uuid.uuid4()), body=body)
    return {"Records": [record]}


def event_for(file: str, provider: str, product: str) -> dict:
    """A sample event with a fresh id, for `provider` (and `product`)."""
    envelope = json.loads(sample_body(file).replace("acme-software", provider).replace("acme-vault", product))
    envelope["id"] = str(uuid.uuid4())
    return sqs_event(json.dumps(envelope))


def malformed_signup(provider: str) -> dict:
    envelope = json.loads(sample_body("provider-account-created.json"))
    envelope["id"] = str(uuid.uuid4())
    envelope["detail"] = {"provider_id": provider}
    return sqs_event(json.dumps(envelope))


# ---------------------------------------------------------------- per event type


class CallLog:
    """Reads what recording_proxy.py appended since the last look."""

    def __init__(self, path: pathlib.Path):
        self.path, self.offset = path, 0

    def since_last(self):
        with self.path.open() as f:
            f.seek(self.offset)
            text = f.read()
            self.offset = f.tell()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


class Wiper:
    """Empties the portal tables between providers, straight at moto (not through the proxy):
    moto copies a whole table for every transaction, so a table that grew over the run would
    make the later events slower there than the earlier ones, which DynamoDB does not."""

    def __init__(self, endpoint: str, tables):
        import boto3

        self.client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=os.environ.get("AWS_REGION"),
                                   aws_access_key_id="local", aws_secret_access_key="local")
        self.tables = {t: [k["AttributeName"] for k in self.client.describe_table(TableName=t)["Table"]["KeySchema"]]
                       for t in tables if t}

    def wipe(self):
        for table, keys in self.tables.items():
            for page in self.client.get_paginator("scan").paginate(TableName=table):
                for item in page["Items"]:
                    self.client.delete_item(TableName=table, Key={k: item[k] for k in keys})


def start_proxy(upstream: str, work: pathlib.Path):
    log, port_file = work / "calls.jsonl", work / "proxy-port"
    log.touch()
    proxy = subprocess.Popen([sys.executable, str(ROOT / "infra/checks/recording_proxy.py"), "--upstream", upstream,
                              "--log", str(log), "--port-file", str(port_file)], start_new_session=True)
    deadline = time.monotonic() + WAIT
    while not (port_file.exists() and port_file.read_text().strip()):
        if proxy.poll() is not None or time.monotonic() > deadline:
            proxy.kill()
            raise RuntimeError("recording_proxy.py did not start")
        time.sleep(0.05)
    return proxy, f"http://127.0.0.1:{port_file.read_text().strip()}", CallLog(log)


def per_event_type(variants: dict, events: int):
    """{variant: {event label: (DynamoDB round trips, SES calls, warm latencies, wrong outcomes)}};
    `variants` maps a label to a directory of binaries, all run side by side, interleaved."""
    upstream = os.environ.get("AWS_ENDPOINT_URL")
    if not upstream:
        raise SystemExit("no AWS_ENDPOINT_URL: run through `./dev bench-functions` (it starts the local stack)")
    plan = [
        ("sign-up", "signup-notification", lambda p, q: event_for("provider-account-created.json", p, q), 0),
        ("MPA accepted", "mpa-approval", lambda p, q: event_for("mpa-accepted.json", p, q), 0),
        ("MPA approved", "mpa-approval", lambda p, q: event_for("mpa-approved.json", p, q), 0),
        ("product published", "product-publishing", lambda p, q: event_for("product-publish-requested.json", p, q), 0),
        # A permanently invalid event is recorded as REJECTED and acknowledged (not retried): no
        # batch item failure.
        ("invalid payload (rejected)", "signup-notification", lambda p, q: malformed_signup(p + "-x"), 0),
    ]
    results = {variant: {label: ([], [], [], [0]) for label, *_ in plan} for variant in variants}
    with tempfile.TemporaryDirectory(prefix="bench-functions-") as tmp:
        proxy, endpoint, calls = start_proxy(upstream, pathlib.Path(tmp))
        processes, apis = [], {}
        try:
            for variant, bin_dir in variants.items():
                for name in FUNCTIONS[:3]:
                    api = RuntimeApi()
                    env = dict(LAMBDA_ENV, **{k: os.environ[k] for k in STACK_VARS if k in os.environ},
                               AWS_ENDPOINT_URL=endpoint, AWS_LAMBDA_RUNTIME_API=api.address,
                               AWS_LAMBDA_FUNCTION_NAME=name)
                    env.pop("AWS_SESSION_TOKEN")
                    log = open(pathlib.Path(tmp) / f"{variant}-{name}.log", "wb")
                    processes.append(subprocess.Popen([str(bin_dir / name / "bootstrap")], env=env, stdout=log,
                                                      stderr=log, start_new_session=True))
                    apis[variant, name] = api
            tag = uuid.uuid4().hex[:6]
            warm = set()
            tables = Wiper(upstream, [os.environ.get(v) for v in ("MARKETPLACE_TABLE", "IDEMPOTENCY_TABLE")])
            calls.since_last()
            for i in range(events):
                for n, variant in enumerate(variants):
                    provider, product = f"bench-{tag}-{n}-{i:04d}", f"bench-product-{tag}-{n}-{i:04d}"
                    for label, function, make, expected_failures in plan:
                        dynamodb, ses, latencies, wrong = results[variant][label]
                        response, seconds = apis[variant, function].invoke(make(provider, product))
                        if len(response.get("batchItemFailures", [])) != expected_failures:
                            wrong[0] += 1
                        made = calls.since_last()
                        dynamodb.append(len({c["request"] for c in made if c["action"].startswith("dynamodb:")}))
                        ses.append(len({c["request"] for c in made if c["action"].startswith("ses:")}))
                        if (variant, function) in warm:
                            latencies.append(seconds)
                        warm.add((variant, function))
                tables.wipe()
        finally:
            for api in apis.values():
                api.close()
            for process in processes + [proxy]:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=WAIT)
    return results


def spread(values):
    low, high = min(values), max(values)
    return str(low) if low == high else f"{statistics.median(values):g} ({low}-{high})"


def print_per_event_type(results: dict, events: int):
    print(f"\nPer event type ({events} events each, one per invocation, local stack behind recording_proxy.py"
          + (", variants interleaved" if len(results) > 1 else "") + "):\n")
    print("| binaries | event | DynamoDB round trips | SES calls | warm p50 | warm p99 | outcome as expected |")
    print("|---|---|---|---|---|---|---|")
    for variant, by_event in results.items():
        for label, (dynamodb, ses, latencies, wrong) in by_event.items():
            print(f"| {variant} | {label} | {spread(dynamodb)} | {spread(ses)} | {percentile(latencies, 50) * 1e3:.1f} ms "
                  f"| {percentile(latencies, 99) * 1e3:.1f} ms | {len(dynamodb) - wrong[0]}/{len(dynamodb)} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True, type=pathlib.Path)
    parser.add_argument("--hello", type=pathlib.Path)
    parser.add_argument("--baseline-dir", type=pathlib.Path,
                        help="older binaries (same layout) to start interleaved with these, marked (baseline)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--init-only", action="store_true", help="skip the per-event-type part (no stack needed)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop what was started (the finally blocks)
    if args.runs < 1 or args.events < 2:
        parser.error("--runs must be >= 1 and --events >= 2")
    binaries = {HELLO: args.hello or args.bin_dir / HELLO / "bootstrap"}
    binaries.update({name: args.bin_dir / name / "bootstrap" for name in FUNCTIONS})
    if args.baseline_dir:
        # A baseline from before a function existed (late-logs) is measured without it.
        binaries.update({f"{name} (baseline)": args.baseline_dir / name / "bootstrap" for name in FUNCTIONS
                         if (args.baseline_dir / name / "bootstrap").exists()})
    missing = [str(b) for b in binaries.values() if not b.exists()]
    if missing:
        raise SystemExit(f"missing binaries: {', '.join(missing)} (cargo lambda build --release first)")
    print_cold_starts(binaries, cold_starts(binaries, args.runs), args.runs)
    if not args.init_only:
        variants = {"this build": args.bin_dir}
        if args.baseline_dir:
            variants["baseline"] = args.baseline_dir
        print_per_event_type(per_event_type(variants, args.events), args.events)


if __name__ == "__main__":
    main()

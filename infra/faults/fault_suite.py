#!/usr/bin/env python3
"""The fault suite: the real portal function binaries, killed, throttled and slowed down, delivered
to the way SQS delivers them, against the local stack.

    fault_suite.py --bin-dir DIR [--only NAME] [--table FILE] [--repeat N] [--load]

Needs the local stack's environment (MOTO_ENDPOINT, table names, email settings: `./dev test` runs
it inside `with_stack`, on a fresh stack of its own) and Debian's `faketime` (libfaketime).

Pieces, all in this process, all on 127.0.0.1:
- A fault proxy between the functions and moto: forwards every request, and per receive can kill
  the function process at its N-th AWS call (before forwarding it, or after the upstream answered
  and before the function sees the answer), throttle a service (DynamoDB `ThrottlingException`,
  SES `Throttling`, as the services send them) or make every DynamoDB call slow. Calls are the
  function's calls, told apart by the SDK's `amz-sdk-invocation-id`: an attempt the SDK retries is
  the same call, and once the call a kill aims at has arrived nothing else reaches the emulator,
  so a kill lands at exactly the call it names, on any machine.
- A minimal Lambda Runtime API server per receive: one invocation (`/next` with the SQS batch,
  `Lambda-Runtime-Deadline-Ms`), then the response or error. The process is a NEW process of the
  real binary for every receive.
- A virtual clock per receive: the function's wall clock (libfaketime reading a timestamp file on
  every call) is frozen at the queue's virtual time and moved only by the suite: a slow DynamoDB
  call moves it by its latency instead of sleeping, and a call that would end past the deadline
  is where Lambda stops the process. The deadline guard's decisions, and whether an invocation
  meets its deadline, are the same on an idle and a busy machine.
- A small SQS emulation with template.yaml's own numbers: a failed record (reported in
  batchItemFailures, or in an invocation that crashed or timed out) becomes visible again after the
  queue's VisibilityTimeout; after maxReceiveCount receives it goes to the dead-letter queue.

Every scenario asserts per event: exactly one state change with its one audit entry, exactly the
expected emails (one per kind) with one `EmailSent` audit entry each, the receives it must take,
and nothing in the dead-letter queue. The one documented exception is the SES window (crate docs
of `marketplace_portal::outbox`): a process death after SES accepted an email and before its
settle write returned makes the redelivery send that email again.

Prints a line per scenario and a closing `N passed, M failed` line; exits 1 when any scenario
failed. `--repeat N` runs every scenario N times; `--load` keeps every core busy with a CPU hog
meanwhile. Bounded: every wait has a timeout and every process (hogs included) is killed.
"""

import argparse
import concurrent.futures
import http.client
import http.server
import json
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
# Scenarios run side by side, each worker with its own fault proxy (the functions mostly wait).
WORKERS = 4
# Real seconds after which a receive whose process neither answered nor was stopped counts as hung.
HANG_BOUND_S = 120
# The functions' SDK timeouts here (see `invoke`): well inside the hang bound.
SDK_TIMEOUT_MS = 60_000
# Functions SNS invokes (asynchronously: one notification per invocation, retried by Lambda).
SNS_FUNCTIONS = set()
# Lambda's wait before it retries a failed asynchronous invocation (about a minute, then two).
ASYNC_RETRY_DELAY_S = 60


# ------------------------------------------------------------------ template numbers

def template_numbers():
    """(function timeout s, {function binary: (visibility timeout s, maxReceiveCount)})."""
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    resources = template["Resources"]
    timeout = int(template["Globals"]["Function"]["Timeout"])
    queues = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") == "SNS":
                # Asynchronous invocation: the first try and EventInvokeConfig's retries.
                retries = int(resource["Properties"].get("EventInvokeConfig", {}).get("MaximumRetryAttempts", 2))
                queues[binary] = (ASYNC_RETRY_DELAY_S, 1 + retries)
                SNS_FUNCTIONS.add(binary)
                continue
            if event.get("Type") != "SQS":
                continue
            queue_id = event["Properties"]["Queue"]["Fn::GetAtt"][0]
            props = resources[queue_id]["Properties"]
            queues[binary] = (int(props["VisibilityTimeout"]), int(props["RedrivePolicy"]["maxReceiveCount"]))
            own_timeout = resource["Properties"].get("Timeout")
            if own_timeout is not None:
                raise SystemExit(f"{binary} overrides the global timeout; the suite assumes the global one")
    return timeout, queues


# ------------------------------------------------------------------ fault proxy

class QuietServer(http.server.ThreadingHTTPServer):
    """Connections cut by a killed function are expected here, not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def operation_of(headers, body: bytes) -> str:
    target = headers.get("X-Amz-Target", "")
    if target.startswith("DynamoDB_"):
        return "dynamodb:" + target.split(".", 1)[1]
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body else {}
    if "Action" in form:
        return "ses:" + form["Action"][0]
    return "unknown"


THROTTLED = {
    "dynamodb": (400, "application/x-amz-json-1.0", json.dumps({
        "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "message": "Rate of requests exceeds the allowed throughput."}).encode()),
    "ses": (400, "text/xml", b'<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error>'
            b"<Type>Sender</Type><Code>Throttling</Code><Message>Maximum sending rate exceeded.</Message>"
            b"</Error><RequestId>fault-suite</RequestId></ErrorResponse>"),
}


class Faults:
    """What the proxy does to the calls of the current receive, and the receive's virtual clock.

    Calls are counted as the function makes them, not as HTTP attempts: the SDK names each call
    (`amz-sdk-invocation-id`, the same on every retry of it), so an attempt the SDK retries (a
    timed-out attempt on a loaded machine, a throttled one) is the same call and does not move a
    kill point. Once the call a kill is aimed at has arrived, nothing after it reaches the
    emulator: the kill lands at that call and nowhere else, whatever the machine's speed.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.reset(None)

    def reset(self, process, kill_at=None, throttle=(), latency=0.0, clock=None):
        with self.lock:
            self.process = process
            self.kill_at = kill_at  # (1-based call index, "before" | "after")
            self.throttle = set(throttle)
            self.latency = latency
            self.clock = clock
            self.calls = []  # one operation name per call (retries of a call are not calls)
            self.call_ids = {}  # SDK invocation id -> 1-based call index
            self.attempts = 0
            self.stopping = False  # the kill's call arrived: nothing else goes through
            self.killed = False
            self.timed_out = False

    def kill(self):
        self.killed = True
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class VirtualClock:
    """The wall clock a function process sees (libfaketime reading FAKETIME_TIMESTAMP_FILE on
    every call, FAKETIME_NO_CACHE): frozen, and moved only by the suite. A receive starts at the
    queue's virtual time; slow DynamoDB calls move it by their latency instead of sleeping. So the
    deadline guard's decisions and whether an invocation meets its deadline depend on what the
    function does, never on how busy the machine is. (tokio's timers and the SDK's timeouts run on
    the monotonic clock, which libfaketime leaves alone.)"""

    def __init__(self, path: pathlib.Path, at: float, deadline: float):
        self.path, self.at, self.deadline = path, at, deadline
        self.write()

    def write(self):
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.at)) + f".{int(round(self.at % 1 * 1000)):03d}"
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, self.path)  # a reader sees the old or the new time, never half of it

    def advance(self, seconds: float) -> bool:
        """Moves the clock on; False when that passes the invocation's deadline."""
        self.at += seconds
        if self.at > self.deadline:
            self.at = self.deadline
            self.write()
            return False
        self.write()
        return True


def start_proxy(upstream: str, faults: Faults):
    up = urllib.parse.urlparse(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            op = operation_of(self.headers, body)
            service = op.split(":", 1)[0]
            call_id = self.headers.get("amz-sdk-invocation-id") or str(uuid.uuid4())
            with faults.lock:
                if faults.killed or faults.stopping:
                    self.close_connection = True
                    return
                faults.attempts += 1
                if call_id not in faults.call_ids:
                    faults.calls.append(op)
                    faults.call_ids[call_id] = len(faults.calls)
                index = faults.call_ids[call_id]
                kill = faults.kill_at if faults.kill_at and faults.kill_at[0] == index else None
                if kill:
                    faults.stopping = True
                throttled = service in faults.throttle
                latency = faults.latency if service == "dynamodb" else 0.0
                if latency and faults.clock is not None and not faults.clock.advance(latency):
                    # The call would end after the deadline: Lambda stops the process there.
                    faults.timed_out = True
                    faults.stopping = True
                    kill = (index, "before")
            if kill and kill[1] == "before":
                with faults.lock:
                    faults.kill()
                self.close_connection = True
                return
            if throttled:
                self.reply(*THROTTLED[service])
                return
            connection = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            headers["Host"] = up.netloc
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            connection.close()
            if kill:  # "after": the upstream did it, the function never hears back
                with faults.lock:
                    faults.kill()
                self.close_connection = True
                return
            self.reply(response.status, response.getheader("Content-Type", "application/octet-stream"), data,
                       [(k, v) for k, v in response.getheaders()
                        if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date",
                                             "content-type")])

        def reply(self, status, content_type, data, extra=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    server = QuietServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ------------------------------------------------------------------ Lambda Runtime API (one invocation)

class RuntimeApi:
    def __init__(self, payload: dict, deadline_ms: int, function: str):
        self.payload = json.dumps(payload).encode()
        self.deadline_ms = deadline_ms
        self.request_id = str(uuid.uuid4())
        self.function = function
        self.handed_out = False
        self.result = None  # ("response" | "error", body)
        self.done = threading.Event()
        self.closing = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if not self.path.endswith("/invocation/next"):
                    return self.reply(404, b"{}")
                if api.handed_out:
                    api.closing.wait(120)  # the next invocation never comes; the process is killed
                    self.close_connection = True
                    return
                api.handed_out = True
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Lambda-Runtime-Aws-Request-Id", api.request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(api.deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                                 f"arn:aws:lambda:us-east-1:123456789012:function:{api.function}")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Length", str(len(api.payload)))
                self.end_headers()
                self.wfile.write(api.payload)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "/response" in self.path:
                    api.result = ("response", body)
                elif "/error" in self.path:
                    api.result = ("error", body)
                api.done.set()
                self.reply(202, b"{}")

            def reply(self, status, data):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------ the queue

def sns_event(records):
    """The SNS event of one notification, as Lambda hands it over: its message id is stable across
    Lambda's retries (derived from the message), distinct between notifications."""
    (_, body, _), = records
    message_id = str(uuid.uuid5(uuid.NAMESPACE_URL, body))
    topic = "arn:aws:sns:us-east-1:123456789012:marketplace-email-feedback"
    return {"Records": [{
        "EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": f"{topic}:fault-suite",
        "Sns": {"Type": "Notification", "MessageId": message_id, "TopicArn": topic, "Subject": None,
                "Message": body, "Timestamp": "2026-11-25T10:10:00.000Z", "SignatureVersion": "1",
                "Signature": "EXAMPLE", "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": {}}}]}


class Harness:
    def __init__(self, bin_dir: pathlib.Path, timeout_s: int, queues: dict):
        self.bin_dir = bin_dir
        self.timeout_s = timeout_s
        self.queues = queues
        self.moto = os.environ["MOTO_ENDPOINT"]
        self.record_budget_ms = template_record_budget_ms()
        self.faults = Faults()
        self.proxy = start_proxy(self.moto, self.faults)
        # Every receive's clock starts from this whole second (plus the queue's virtual time).
        self.epoch = float(int(time.time()))
        self.clock_dir = tempfile.mkdtemp(prefix="fault-suite-clock-")
        self.clock_file = pathlib.Path(self.clock_dir) / "now"
        self.proxy_url = f"http://127.0.0.1:{self.proxy.server_address[1]}"

    def invoke(self, function, records, offset_s, timeout_ms, record_budget_ms, faults, env_extra=None):
        """One receive: a new process of the binary; returns (outcome, failed message ids, calls, attempts)."""
        batch = {"Records": [{"messageId": mid, "receiptHandle": mid, "body": body, "eventSource": "aws:sqs",
                              "attributes": {"ApproximateReceiveCount": str(n)}, "messageAttributes": {}}
                             for mid, body, n in records]}
        if function in SNS_FUNCTIONS:
            batch = sns_event(records)
        start = self.epoch + offset_s
        clock = VirtualClock(self.clock_file, start, start + timeout_ms / 1000)
        api = RuntimeApi(batch, int(round(clock.deadline * 1000)), function)
        env = dict(os.environ)
        env.update({
            "AWS_ENDPOINT_URL": self.proxy_url,
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": function,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "RECORD_TIME_BUDGET_MS": str(record_budget_ms),
            # The SDK's timeouts run on the real (monotonic) clock, and here they would time the
            # machine, not the service: on a busy machine the emulator can take seconds to answer.
            # Only the hang bound limits a call; the guard is tested on the virtual clock, the
            # timeouts' arithmetic in crates/aws/src/sdk.rs.
            "SDK_ATTEMPT_TIMEOUT_MS": str(SDK_TIMEOUT_MS),
            "SDK_CALL_TIMEOUT_MS": str(SDK_TIMEOUT_MS),
            "RUST_LOG": os.environ.get("FAULT_SUITE_LOG", "warn"),
            "LD_PRELOAD": FAKETIME_LIB,
            "FAKETIME_TIMESTAMP_FILE": str(self.clock_file),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "FAKETIME_NO_CACHE": "1",
        })
        env.update(env_extra or {})
        env.pop("FAKETIME", None)
        for name in list(env):
            if name.startswith("AWS_ENDPOINT_URL_"):
                del env[name]
        # The faults are armed before the process exists, so that no call of it can come first.
        self.faults.reset(None, clock=clock, **faults)
        process = subprocess.Popen([str(self.bin_dir / function)], env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=None if os.environ.get("FAULT_SUITE_LOG") else subprocess.DEVNULL)
        with self.faults.lock:
            self.faults.process = process
            if self.faults.killed:
                self.faults.kill()
        # The deadline is virtual (the proxy stops the process when a call passes it); this real
        # bound only catches a process that hangs, which fails the scenario.
        finished, bound = False, time.monotonic() + HANG_BOUND_S
        while time.monotonic() < bound:
            if api.done.wait(0.01):
                finished = True
                break
            if process.poll() is not None:
                finished = api.done.is_set()
                break
        hung = not finished and process.poll() is None
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        with self.faults.lock:
            calls, attempts = list(self.faults.calls), self.faults.attempts
            killed, timed_out = self.faults.killed, self.faults.timed_out
        self.faults.reset(None)
        api.close()
        if finished and not killed and api.result and api.result[0] == "response":
            response = json.loads(api.result[1])
            failed = [] if function in SNS_FUNCTIONS else [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
            return "ok", failed, calls, attempts, clock.at - start
        outcome = "timeout" if timed_out else "killed" if killed else "hung" if hung else "error"
        return outcome, [mid for mid, _, _ in records], calls, attempts, clock.at - start

    def deliver(self, function, bodies, faults_for_receive=lambda n: {}, timeout_ms=None, record_budget_ms=None,
                max_receives=12, env_extra=None):
        """Delivers `bodies` through the emulated queue until it is empty; returns a log."""
        visibility, max_receive_count = self.queues[function]
        timeout_ms = timeout_ms or self.timeout_s * 1000
        record_budget_ms = record_budget_ms or self.record_budget_ms
        queue = [{"id": f"msg-{i}", "body": b, "receives": 0, "visible_at": 0} for i, b in enumerate(bodies)]
        dlq, log, now, receive = [], [], 0, 0
        while queue and receive < max_receives:
            visible = [m for m in queue if m["visible_at"] <= now][:1 if function in SNS_FUNCTIONS else 10]
            if not visible:
                now = min(m["visible_at"] for m in queue)
                continue
            receive += 1
            for m in visible:
                m["receives"] += 1
            outcome, failed, calls, attempts, elapsed = self.invoke(
                function, [(m["id"], m["body"], m["receives"]) for m in visible], now, timeout_ms,
                record_budget_ms, faults_for_receive(receive), env_extra)
            log.append({"receive": receive, "at": now, "outcome": outcome, "records": len(visible),
                        "failed": len(failed), "calls": calls, "retried_attempts": attempts - len(calls)})
            for m in visible:
                if m["id"] not in failed:
                    queue.remove(m)
                elif m["receives"] >= max_receive_count:
                    queue.remove(m)
                    dlq.append(m)
                else:
                    m["visible_at"] = now + visibility
            # The next receive of a still-visible message comes a moment after this one ended.
            now += max(1, int(elapsed) + 1)
        return {"receives": receive, "log": log, "dlq": dlq, "left": queue}


# ------------------------------------------------------------------ the stack's state

def dynamodb():
    import boto3

    from botocore.config import Config

    # The suite's own reads wait as long as a hang bound: on a busy machine the emulator is slow.
    return boto3.client("dynamodb", endpoint_url=os.environ["MOTO_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local",
                        config=Config(read_timeout=HANG_BOUND_S, connect_timeout=HANG_BOUND_S))


def partition(provider_id):
    items, kwargs = [], {}
    while True:
        out = dynamodb().query(TableName=os.environ["MARKETPLACE_TABLE"], KeyConditionExpression="pk = :pk",
                               ExpressionAttributeValues={":pk": {"S": f"PROVIDER#{provider_id}"}}, **kwargs)
        items += out["Items"]
        if "LastEvaluatedKey" not in out:
            return items
        kwargs["ExclusiveStartKey"] = out["LastEvaluatedKey"]


def s(item, name):
    return item.get(name, {}).get("S", "")


def emails_mentioning(needle):
    """The raw messages SES accepted that contain `needle` (filtered inside the emulator)."""
    query = urllib.parse.urlencode({"contains": needle})
    with urllib.request.urlopen(f"{os.environ['MOTO_ENDPOINT']}/_local/ses/raw-messages?{query}", timeout=HANG_BOUND_S) as r:
        return [m for m in json.load(r) if needle in m["raw_data"]]


# ------------------------------------------------------------------ events

def envelope(detail_type, detail, when="2026-11-25T10:00:00Z"):
    return json.dumps({"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type,
                       "source": "marketplace.portal", "account": "123456789012", "time": when,
                       "region": "us-east-1", "resources": [], "detail": detail})


def signup(provider):
    return envelope("ProviderAccountCreated", {
        "provider_id": provider, "account_alias": f"{provider}-prod", "company_name": f"Company {provider}",
        "contact_name": "Jane Doe", "contact_email": f"{provider}@provider.example",
        "actor": {"id": "team-member-7", "role": "marketplace-team"}}, "2026-11-25T09:00:00Z")


def accepted(provider):
    return envelope("MpaAccepted", {
        "provider_id": provider, "mpa_version": os.environ["MPA_CURRENT_VERSION"],
        "accepted_by": {"id": "user-1", "name": "Jane Doe", "email": f"legal-{provider}@provider.example"},
        "accepted_at": "2026-11-25T09:30:00Z",
        "actor": {"id": "user-1", "role": "provider", "provider_id": provider}}, "2026-11-25T09:30:00Z")


def approved(provider):
    return envelope("MpaApproved", {
        "provider_id": provider, "mpa_version": os.environ["MPA_CURRENT_VERSION"],
        "actor": {"id": "team-member-9", "role": "marketplace-team"}}, "2026-11-25T09:40:00Z")


def publish(provider):
    return envelope("ProductPublishRequested", {
        "provider_id": provider, "product_id": "vault", "actor": {"id": "user-1", "role": "provider",
                                                                  "provider_id": provider},
        "listing": {"name": f"Vault of {provider}", "summary": "Secrets.", "description": "Stores secrets.",
                    "category": "security", "support_email": "support@acme.example", "blueprint_id": "bp-1",
                    "provider_share": "0.7",
                    "pricing": [{"model": "hourly", "unit": "vm-hour", "unit_price": "0.125", "currency": "USD"}]}},
        "2026-11-25T09:50:00Z")


def withdraw(provider):
    return envelope("ProductWithdrawn", {
        "provider_id": provider, "product_id": "vault", "actor": {"id": "user-1", "role": "provider",
                                                                  "provider_id": provider},
        "reason": "Replaced by Vault 4."}, "2026-11-25T10:00:00Z")


def contact_changed(provider):
    return envelope("ProviderContactChanged", {
        "provider_id": provider, "contact_name": "Omar Haddad", "contact_email": f"new-{provider}@provider.example",
        "actor": {"id": "user-1", "role": "provider", "provider_id": provider}}, "2026-11-25T09:20:00Z")


def offboard(provider):
    return envelope("ProviderOffboarded", {
        "provider_id": provider, "actor": {"id": "team-member-9", "role": "marketplace-team"},
        "reason": "Agreement ended."}, "2026-11-25T10:00:00Z")


def bounce(provider):
    """SES's event-publishing notification of a permanent bounce of the provider's contact."""
    address = f"{provider}@provider.example"
    return json.dumps({
        "eventType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "feedbackId": f"feedback-{provider}",
                   "timestamp": "2026-11-25T10:05:00.000Z",
                   "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1",
                                          "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]},
        "mail": {"timestamp": "2026-11-25T10:04:59.000Z", "source": "no-reply@marketplace.example.com",
                 "messageId": f"ses-{provider}", "destination": [address],
                 "tags": {"provider_id": [provider], "email_kind": ["welcome"]}}})


def event_id_of(body):
    """The id the function records its state change and emails under: the EventBridge event's,
    or an SES notification's feedback id."""
    data = json.loads(body)
    return data["id"] if "id" in data else data["bounce"]["feedbackId"]


# path name -> (function, event factory, setup steps [(function, factory)], emails the event causes)
PATHS = {
    "sign-up": ("signup-notification", signup, [], 1),
    "contact change": ("signup-notification", contact_changed, [("signup-notification", signup)], 2),
    "MPA accepted": ("mpa-approval", accepted, [("signup-notification", signup)], 2),
    "MPA approved": ("mpa-approval", approved, [("signup-notification", signup), ("mpa-approval", accepted)], 1),
    "publishing": ("product-publishing", publish, [("signup-notification", signup), ("mpa-approval", accepted),
                                                   ("mpa-approval", approved)], 2),
    "withdrawal": ("product-publishing", withdraw, [("signup-notification", signup), ("mpa-approval", accepted),
                                                    ("mpa-approval", approved), ("product-publishing", publish)], 2),
    "offboarding": ("signup-notification", offboard, [("signup-notification", signup), ("mpa-approval", accepted),
                                                      ("mpa-approval", approved), ("product-publishing", publish)], 1),
    # A new MPA version: one write and no email, on a Marketplace table of the scenario's own
    # (VersionScenario): a published version applies to every provider of its table.
    "MPA version": ("mpa-approval", None, [], 0),
    # SNS invokes email-feedback (Lambda retries a failed invocation twice): the team is told once.
    "bounce": ("email-feedback", bounce, [("signup-notification", signup)], 1),
}


class Scenario:
    def __init__(self, harness, path):
        self.harness = harness
        self.function, self.factory, self.setup, self.emails = PATHS[path]
        self.provider = f"fault-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        for function, factory in self.setup:
            result = harness.deliver(function, [factory(self.provider)])
            # The setup is not under test: any number of receives, as long as it got through.
            assert not result["dlq"] and not result["left"], f"setup {function} failed: {result['log']}"
        self.emails_before = len(emails_mentioning(self.provider))
        self.body = self.factory(self.provider)
        self.event_id = event_id_of(self.body)

    def run(self, **kwargs):
        return self.harness.deliver(self.function, [self.body], **kwargs)

    def check(self, result, extra_emails=0):
        """Problems with the outcome (empty when exactly once held)."""
        problems = []
        if result["dlq"]:
            problems.append(f"{len(result['dlq'])} in the dead-letter queue")
        if result["left"]:
            problems.append("still in the queue after the receive bound")
        audit = [i for i in partition(self.provider)
                 if s(i, "sk").startswith("AUDIT#") and s(i, "event_id") == self.event_id]
        states = [i for i in audit if s(i, "step") == "0-state"]
        sent = [i for i in audit if s(i, "action") == "EmailSent"]
        emails = len(emails_mentioning(self.provider)) - self.emails_before
        if len(states) != 1:
            problems.append(f"{len(states)} state changes")
        if len(sent) != self.emails:
            problems.append(f"{len(sent)} EmailSent audit entries (expected {self.emails})")
        if emails != self.emails + extra_emails:
            problems.append(f"{emails} emails (expected {self.emails + extra_emails})")
        return problems


class VersionScenario:
    """`MpaVersionPublished` on a private `Marketplace` table: exactly one versions item at
    revision 1 holding the new version, one entry in the agreement's audit trail, no email."""

    def __init__(self, harness, path):
        self.harness = harness
        self.function = PATHS[path][0]
        self.table = f"fault-mpa-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        dynamodb().create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.version = f"v-{uuid.uuid4().hex[:12]}"
        self.body = envelope("MpaVersionPublished", {
            "mpa_version": self.version, "text_url": f"https://marketplace.example.com/legal/mpa/{self.version}",
            "effective_at": "2027-01-01T00:00:00Z", "actor": {"id": "team-member-9", "role": "marketplace-team"}},
            "2026-11-25T10:00:00Z")
        self.event_id = json.loads(self.body)["id"]
        self.emails_before = len(emails_mentioning(self.version))

    def run(self, **kwargs):
        return self.harness.deliver(self.function, [self.body], env_extra={"MARKETPLACE_TABLE": self.table}, **kwargs)

    def check(self, result, extra_emails=0):
        problems = []
        if result["dlq"] or result["left"]:
            problems.append(f"{len(result['dlq'])} in the dead-letter queue, {len(result['left'])} left")
        items = dynamodb().query(TableName=self.table, KeyConditionExpression="pk = :pk",
                                 ExpressionAttributeValues={":pk": {"S": "MPA"}})["Items"]
        versions = [i for i in items if s(i, "sk") == "VERSIONS"]
        audit = [i for i in items if s(i, "sk").startswith("AUDIT#") and s(i, "event_id") == self.event_id]
        if len(versions) != 1 or versions[0].get("version", {}).get("N") != "1":
            problems.append(f"versions item: {versions}")
        elif self.version not in json.dumps(versions[0]):
            problems.append("the new version is not in the versions item")
        if len(audit) != 1:
            problems.append(f"{len(audit)} audit entries")
        if len(emails_mentioning(self.version)) != self.emails_before + extra_emails:
            problems.append("an email was sent")
        return problems


def scenario_for(harness, path):
    return VersionScenario(harness, path) if path == "MPA version" else Scenario(harness, path)


# ------------------------------------------------------------------ the suite

def clean_calls(harness, path):
    scenario = scenario_for(harness, path)
    result = scenario.run()
    problems = scenario.check(result)
    assert not problems, f"{path} without faults: {problems}"
    return result["log"][0]["calls"]


def outcome_text(result, problems, verdict_ok):
    """(the receives as text, the verdict)."""
    receives = " → ".join(f"{e['outcome']}" + (f" ({e['failed']} failed)" if e["outcome"] == "ok" and e["failed"] else "")
                          for e in result["log"])
    return receives, (verdict_ok if not problems else "FAILED: " + "; ".join(problems))


def template_record_budget_ms():
    """RECORD_TIME_BUDGET_MS as template.yaml gives it to the portal functions."""
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    return int(template["Globals"]["Function"]["Environment"]["Variables"]["RECORD_TIME_BUDGET_MS"])


class CpuLoad:
    """Busy loops on every core while the suite runs (`--load`): the machine a CI run may get.
    Bounded: each loop is killed when the suite ends, ends by itself when the suite is gone
    (killed without its cleanup: the loop's parent changes) and after `HOG_BOUND_S` in any case."""

    HOG_BOUND_S = 3600

    def __init__(self, processes: int):
        code = (f"import os, time\nparent = {os.getpid()}\nend = time.monotonic() + {self.HOG_BOUND_S}\n"
                "while time.monotonic() < end and os.getppid() == parent:\n"
                "    for _ in range(100000):\n        pass\n")
        self.hogs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(processes)]

    def stop(self):
        for hog in self.hogs:
            hog.kill()
            hog.wait(timeout=10)


def run_suite(args, harnesses, timeout_s, budget_ms):
    """One pass over every scenario; returns {name: (receives, text, verdict, failed)} in order."""
    rows = {}

    def wanted(name):
        return not args.only or args.only in name

    def record(name, result, problems, verdict_ok="exactly once"):
        receives, verdict = outcome_text(result, problems, verdict_ok)
        retried = sum(e.get("retried_attempts", 0) for e in result["log"])
        rows[name] = (result["receives"], receives, verdict, bool(problems))
        print(f"{'ok  ' if not problems else 'FAIL'} {name}: {result['receives']} receives ({receives}): {verdict}"
              + (f" [{retried} attempts retried by the SDK]" if retried else ""), flush=True)

    scale = 6
    deadline_ms, budget_scaled_ms, latency_s = timeout_s * 1000 // scale, budget_ms // scale, 0.1

    def slow_batch(harness):
        # A batch of 10 sign-ups with slow DynamoDB against the function timeout, scaled down 6x:
        # the template's timeout and record budget divided by 6, and every DynamoDB call taking
        # 100 ms of the functions' (virtual) clock. The same code path: the guard compares the
        # time left with the budget. Time is the suite's: the outcome is the same on any machine.
        providers = [f"slow-{os.getpid()}-{i}-{uuid.uuid4().hex[:6]}" for i in range(10)]
        result = harness.deliver("signup-notification", [signup(p) for p in providers],
                                 faults_for_receive=lambda n: {"latency": latency_s}, timeout_ms=deadline_ms,
                                 record_budget_ms=budget_scaled_ms)
        problems = []
        if result["dlq"] or result["left"]:
            problems.append(f"{len(result['dlq'])} in the dead-letter queue, {len(result['left'])} left")
        if any(e["outcome"] != "ok" for e in result["log"]):
            problems.append("an invocation did not finish before its deadline")
        # What the guard must do, from the calls one record makes: a record takes `per_record`
        # of the clock and starts only while budget + the 1 s response margin are left.
        per_record = sum(1 for op in result["log"][0]["calls"] if op.startswith("dynamodb:")) * latency_s
        started = result["log"][0]["records"] - result["log"][0]["failed"]
        per_record /= max(started, 1)
        room = deadline_ms / 1000 - budget_scaled_ms / 1000 - 1
        expected = min(10, int(room / per_record + 1e-9) + 1) if per_record else 10
        if started != expected:
            problems.append(f"the first receive started {started} records (the guard's arithmetic: {expected})")
        if result["receives"] < 2:
            problems.append("the guard deferred no record: the scenario does not test it")
        for p in providers:
            states = [i for i in partition(p) if s(i, "step") == "0-state"]
            if len(states) != 1 or len(emails_mentioning(p)) != 1:
                problems.append(f"{p}: {len(states)} state changes, {len(emails_mentioning(p))} emails")
        return result, problems, f"exactly once, no invocation timed out ({started} started in the first)"

    def kill(path, index, op, when):
        def run(harness):
            scenario = scenario_for(harness, path)
            result = scenario.run(faults_for_receive=lambda n: {"kill_at": (index, when)} if n == 1 else {})
            problems = scenario.check(result, extra_emails=1 if op == "ses:SendRawEmail" and when == "after" else 0)
            killed_at = result["log"][0]["calls"][index - 1] if len(result["log"][0]["calls"]) >= index else None
            if killed_at != op:
                problems.append(f"call {index} was {killed_at}, not {op}")
            if result["log"][0]["outcome"] != "killed" or result["receives"] != 2:
                problems.append(f"expected killed → ok, got {[e['outcome'] for e in result['log']]}")
            # The SES window: SES accepted the email, the process died before its settle returned.
            in_window = op == "ses:SendRawEmail" and when == "after"
            return (result, problems,
                    "state once; that email twice (the SES window: re-sent, EmailsResent)" if in_window
                    else "exactly once")
        return run

    def throttle(path, service, receives):
        def run(harness):
            scenario = scenario_for(harness, path)
            result = scenario.run(faults_for_receive=lambda n: {"throttle": [service]} if n <= receives else {})
            problems = scenario.check(result)
            if result["receives"] != receives + 1:
                problems.append(f"{result['receives']} receives (expected {receives + 1})")
            return result, problems, "exactly once"
        return run

    def run_job(name, job):
        harness = harnesses.get()
        try:
            record(name, *job(harness))
        except Exception as e:  # a broken scenario is a failed one, not a crashed suite
            record(name, {"receives": 0, "log": []}, [f"{type(e).__name__}: {e}"])
        finally:
            harnesses.put(harness)

    jobs = [(f"sign-up: batch of 10, slow DynamoDB (+100 ms/call) against a {deadline_ms / 1000:g} s deadline "
             f"and a {budget_scaled_ms} ms record budget (template's {timeout_s} s and {budget_ms} ms scaled 1:{scale})",
             slow_batch)]
    # A kill at every AWS call of each path. Dying *before* call k leaves the same state as dying
    # after call k-1 answered (the function never acts on the answer), so the kills are: before
    # the first call, and after each call (the service did it, the function never heard back).
    for path in PATHS:
        if not any(wanted(f"{path}: {kind}") for kind in ("kill", "throttled")):
            continue
        harness = harnesses.get()
        try:
            calls = clean_calls(harness, path)
        finally:
            harnesses.put(harness)
        points = [(1, calls[0], "before")] + [(i, op, "after") for i, op in enumerate(calls, start=1)]
        for index, op, when in points:
            jobs.append((f"{path}: kill {when} call {index} ({op})", kill(path, index, op, when)))
        # Throttling of each service for one and for two receives.
        for service, label in (("dynamodb", "DynamoDB"), ("ses", "SES")):
            if not any(op.startswith(f"{service}:") for op in calls):
                continue  # a path that never calls the service (a new MPA version sends no email)
            for receives in (1, 2):
                jobs.append((f"{path}: {label} throttled for {receives} receive(s)", throttle(path, service, receives)))
    jobs = [(name, job) for name, job in jobs if wanted(name)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(lambda j: run_job(*j), jobs))
    return {name: rows[name] for name, _ in jobs if name in rows}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", required=True, type=pathlib.Path)
    parser.add_argument("--only", help="run only scenarios whose name contains this")
    parser.add_argument("--table", type=pathlib.Path, help="also write the results as a Markdown table here")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole suite this many times")
    parser.add_argument("--load", action="store_true",
                        help="keep every core busy with a CPU hog while the suite runs (bounded, stopped at the end)")
    args = parser.parse_args()
    if not pathlib.Path(FAKETIME_LIB).exists():
        raise SystemExit(f"{FAKETIME_LIB} missing: apt-get install faketime")
    timeout_s, queues = template_numbers()
    budget_ms = template_record_budget_ms()
    harnesses = queue.Queue()
    for _ in range(WORKERS):
        harnesses.put(Harness(args.bin_dir, timeout_s, queues))
    load = CpuLoad(os.cpu_count() or 2) if args.load else None
    started, passes, rows = time.time(), [], {}
    try:
        for n in range(1, args.repeat + 1):
            pass_started = time.time()
            rows = run_suite(args, harnesses, timeout_s, budget_ms)
            failed = sum(1 for *_, bad in rows.values() if bad)
            passes.append((len(rows), failed, time.time() - pass_started))
            print(f"\nfault suite pass {n}/{args.repeat}{' under load' if load else ''}: {len(rows)} scenarios, "
                  f"{failed} failed, {passes[-1][2]:.0f} s\n", flush=True)
    finally:
        if load:
            load.stop()
        while not harnesses.empty():
            harness = harnesses.get()
            harness.proxy.shutdown()
            shutil.rmtree(harness.clock_dir, ignore_errors=True)
    if args.table:
        lines = ["| scenario | receives | outcome |", "|---|---|---|"]
        lines += [f"| {n} | {r[0]}: {r[1]} | {r[2]} |" for n, r in rows.items()]
        args.table.write_text("\n".join(lines) + "\n")
    scenarios = sum(n for n, _, _ in passes)
    failed = sum(f for _, f, _ in passes)
    print(f"fault suite: {len(passes)} pass(es){' under load' if load else ''}, {scenarios} scenarios in "
          f"{time.time() - started:.0f} s; {sum(1 for _, f, _ in passes if f)} pass(es) with failures")
    print(f"{scenarios - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())

#!/usr/bin/env python3
"""The fault suite: the real portal function binaries, killed, throttled and slowed down, delivered
to the way SQS delivers them (and email-feedback as SNS invokes it), against the local stack.
The scenarios are in `scenarios.py`, the fault proxy in `proxy.py`.

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
import uuid

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
from proxy import Faults, QuietServer, VirtualClock, start_proxy  # noqa: E402
from scenarios import HANG_BOUND_S, PATHS, emails_mentioning, partition, s, scenario_for, signup  # noqa: E402
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
# Scenarios run side by side, each worker with its own fault proxy (the functions mostly wait).
WORKERS = 4
# Real seconds after which a receive whose process neither answered nor was stopped counts as hung.
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

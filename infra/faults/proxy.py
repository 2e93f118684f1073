"""The fault suite's fault proxy, between the functions and moto: forwards every request and, per
receive, kills the function process at its N-th AWS call, throttles a service as it would, or
slows DynamoDB down on the virtual clock (`VirtualClock`). Used by `fault_suite.py`."""

import http.client
import http.server
import json
import os
import pathlib
import threading
import time
import urllib.parse
import uuid


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

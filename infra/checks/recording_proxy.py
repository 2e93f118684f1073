#!/usr/bin/env python3
"""An HTTP proxy in front of the local AWS emulator that records which AWS actions reach it.

    recording_proxy.py --upstream http://127.0.0.1:PORT --log calls.jsonl [--port-file FILE]

Listens on 127.0.0.1 (a free port, written to --port-file), forwards every request to the
upstream unchanged and appends one JSON line per IAM-relevant action to --log:
{"action": "dynamodb:PutItem", "table": "Marketplace"} (plus "index" for a query of an index;
DynamoDB transactions and batches are
split into their items, since IAM authorises those per item and table) or
{"action": "ses:SendRawEmail"}. Every line also carries "request", the number of the HTTP request
it came in (the items of one transaction share it: `./dev bench-functions` counts round trips
with it). The end-to-end test points a function at it and has
policy_check.py --observed confirm every recorded call is granted on that very table.
"""

import argparse
import http.client
import http.server
import itertools
import json
import pathlib
import threading
import urllib.parse

TRANSACT_ITEM_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                         "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


S3_OBJECT_ACTIONS = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "GetObject", "DELETE": "DeleteObject"}


def actions_of(headers, body: bytes, path: str, method: str = "POST"):
    target = headers.get("X-Amz-Target", "")
    if "/s3/aws4_request" in headers.get("Authorization", ""):
        # Path-style S3 REST: /bucket/key (an object) or /bucket (the bucket).
        bucket, _, key = urllib.parse.urlparse(path).path.lstrip("/").partition("/")
        action = S3_OBJECT_ACTIONS.get(method, "unknown") if key else "ListBucket"
        yield {"action": f"s3:{action}", "bucket": bucket}
        return
    if target.startswith("DynamoDB_"):
        operation = target.split(".", 1)[1]
        request = json.loads(body or b"{}")
        if operation in ("TransactWriteItems", "TransactGetItems"):
            for item in request.get("TransactItems", []):
                for kind, detail in item.items():
                    yield {"action": f"dynamodb:{TRANSACT_ITEM_ACTIONS[kind]}", "table": detail.get("TableName")}
        elif operation in ("BatchWriteItem", "BatchGetItem"):
            for table in request.get("RequestItems", {}):
                yield {"action": f"dynamodb:{operation}", "table": table}
        else:
            call = {"action": f"dynamodb:{operation}", "table": request.get("TableName")}
            if request.get("IndexName"):
                call["index"] = request["IndexName"]
            yield call
        return
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body else {}
    if "Action" in form:
        service = "ses" if "Email" in form["Action"][0] or "Identity" in form["Action"][0] else "unknown"
        yield {"action": f"{service}:{form['Action'][0]}"}
        return
    yield {"action": "unknown", "target": target, "path": path}


def serve(upstream: str, log: pathlib.Path, port_file: pathlib.Path):
    up = urllib.parse.urlparse(upstream)
    lock = threading.Lock()
    requests = itertools.count(1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

        def log_message(self, *args):
            pass

        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.startswith("/moto-api"):
                with lock, log.open("a") as f:
                    request = next(requests)
                    for call in actions_of(self.headers, body, self.path, self.command):
                        f.write(json.dumps({**call, "request": request}) + "\n")
            connection = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            headers["Host"] = up.netloc
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            self.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            connection.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    serve(args.upstream, pathlib.Path(args.log), pathlib.Path(args.port_file))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""moto's server with requests applied one at a time.

moto 5.2.5 implements TransactWriteItems by deep-copying the tables, applying the writes and, on a
failed condition, restoring the copy. Under concurrent requests (its stock server is threaded) one
transaction's rollback can restore a snapshot over another's writes, so a conditional write that
lost a race can leave half of itself behind. Real DynamoDB isolates transactions. Serialising
request handling (connections stay concurrent, keep-alive keeps working) restores that guarantee,
which the race tests rely on.

It also serves `GET /_local/ses/raw-messages[?contains=TEXT]`: the raw messages SES accepted (what
`/moto-api/data.json` lists under `ses` -> `RawMessage`), optionally only those containing TEXT,
without serialising every other service's state, which takes seconds once the tables hold a few
thousand items.

It also stops a leak: moto keeps every model instance it creates for its dashboard
(`/moto-api/data.json`), and the deep copy TransactWriteItems takes of its tables creates a copy of
every item, so each transaction leaked a copy of whole tables (one table of 1,500 items: 85 MB
after 1,500 plain puts, 1.4 GB after 1,500 transactions; the fault suite's emulator grew by
12 MB/s and slowed with it). Nothing here reads DynamoDB through the dashboard, so the tracked
DynamoDB instances are dropped after each transaction.

Usage: moto_server.py -H 127.0.0.1 -p PORT
"""

import argparse
import json
import os
import threading
import urllib.parse

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class Serialised:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            if environ.get("PATH_INFO") == "/_local/ses/raw-messages":
                query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
                return raw_messages(start_response, query.get("contains", [None])[0])
            return list(self.app(environ, start_response))


def raw_messages(start_response, contains=None):
    """Every raw message, or those whose MIME text contains `contains` (served under the lock, so
    a short answer keeps the functions' calls waiting for less time)."""
    from moto.ses.models import RawMessage, ses_backends

    messages = []
    for account in ses_backends.values():
        for backend in account.values():
            for m in backend.sent_messages:
                if isinstance(m, RawMessage) and (contains is None or contains in m.raw_data):
                    messages.append({"id": m.id, "source": m.source, "destinations": m.destinations,
                                     "raw_data": m.raw_data})
    body = json.dumps(messages).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def drop_tracked_copies_after_transactions():
    """Wraps DynamoDB's TransactWriteItems so that the instances moto tracked during it (the table
    copies among them) are forgotten (see the module docs)."""
    from moto.core.model_instances import model_data
    from moto.dynamodb.models import DynamoDBBackend

    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self, *args, **kwargs):
        try:
            return transact(self, *args, **kwargs)
        finally:
            for model in model_data.get("dynamodb", {}).values():
                model.instances_tracked = []

    DynamoDBBackend.transact_write_items = transact_write_items


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    drop_tracked_copies_after_transactions()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()

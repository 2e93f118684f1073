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

It also keeps TransactWriteItems cheap. moto backs a transaction up by deep-copying every table it
names, so one transaction costs time in proportion to the whole table (the fault suite's passes
slowed from 55 s to 1,000 s over 18 repeats as its tables grew, until a batch of ten sign-ups
waited more than the suite's hang bound), and it tracks every copied item for its dashboard
(`/moto-api/data.json`), so each transaction leaked a copy of whole tables (one table of 1,500
items: 85 MB after 1,500 plain puts, 1.4 GB after 1,500 transactions). Here a transaction backs up
only the items it names and the length of the tables' streams, and restores them when it is
cancelled (requests are serialised, so nothing else can write in between); the instances moto
tracked during it are dropped (nothing here reads DynamoDB through the dashboard).

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


def cheap_transactions():
    """Wraps DynamoDB's TransactWriteItems: backs up only the items a transaction names, restores
    them if it is cancelled, and forgets the instances moto tracked during it (see the module docs)."""
    import copy
    import types

    import moto.dynamodb.models as models
    from moto.core.model_instances import model_data
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    real_deepcopy = copy.deepcopy
    # moto's own backup of whole tables becomes the tables themselves (its restore then puts each
    # table back in its place); every other deep copy in the module stays one.
    models.copy = types.SimpleNamespace(
        deepcopy=lambda x, memo=None: x if isinstance(x, Table) else real_deepcopy(x, memo))
    transact = models.DynamoDBBackend.transact_write_items

    def backup(self, transact_items):
        items, streams = [], {}
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            key = op.get("Item") if op_type == "Put" else op.get("Key")
            try:
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            except (KeyError, TypeError):
                continue  # moto refuses the request before it writes anything
            items.append((table, hash_key, range_key, real_deepcopy(table.get_item(hash_key, range_key))))
            if table.stream_shard is not None:
                streams[id(table)] = (table.stream_shard, len(table.stream_shard.items))
        return items, streams

    def restore(items, streams):
        for table, hash_key, range_key, old in reversed(items):
            if old is None:
                if range_key is not None:
                    table.items.get(hash_key, {}).pop(range_key, None)
                else:
                    table.items.pop(hash_key, None)
            elif range_key is not None:
                table.items[hash_key][range_key] = old
            else:
                table.items[hash_key] = old
        for shard, length in streams.values():
            del shard.items[length:]

    def transact_write_items(self, transact_items, *args, **kwargs):
        items, streams = backup(self, transact_items)
        try:
            return transact(self, transact_items, *args, **kwargs)
        except BaseException:
            restore(items, streams)
            raise
        finally:
            for model in model_data.get("dynamodb", {}).values():
                model.instances_tracked = []

    models.DynamoDBBackend.transact_write_items = transact_write_items


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    cheap_transactions()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Serialised(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()

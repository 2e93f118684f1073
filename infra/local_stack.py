#!/usr/bin/env python3
"""Local AWS stack for development and tests: a moto server on 127.0.0.1.

    local_stack.py start [--state DIR]   start moto on a free port, create the tables from
                                         template.yaml, verify the SES sender; writes DIR/env
    local_stack.py stop  [--state DIR]   stop it again
    local_stack.py create-tables --endpoint URL

The tables are created from template.yaml's AWS::DynamoDB::Table resources (the one source of
truth): key schema, attribute definitions, GSIs, billing mode and TTL. The local table name is the
logical id without its "Table" suffix (MarketplaceTable -> Marketplace).
"""

import argparse
import os
import pathlib
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
REGION = "us-east-1"
SENDER = "no-reply@marketplace.example.com"
CONFIGURATION_SET = "marketplace-email"


def local_table_name(logical_id: str) -> str:
    return logical_id[: -len("Table")] if logical_id.endswith("Table") else logical_id


def table_definitions(template_path: pathlib.Path):
    """Yields (local name, logical id, properties) for every DynamoDB table in the template."""
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(template_path))
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::DynamoDB::Table":
            yield local_table_name(logical_id), logical_id, resource.get("Properties", {})


def plain(value):
    """cfn-lint's YAML nodes -> plain Python values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def create_tables(endpoint: str, template_path: pathlib.Path = ROOT / "template.yaml"):
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id="local", aws_secret_access_key="local")
    existing = set(client.list_tables()["TableNames"])
    created = []
    for name, _logical_id, props in table_definitions(template_path):
        props = plain(props)
        if name in existing:
            continue
        args = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = [
                {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
                for gsi in props["GlobalSecondaryIndexes"]
            ]
        if props.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        client.create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": True})
        created.append(name)
    return created


def create_buckets(endpoint: str, template_path: pathlib.Path = ROOT / "template.yaml"):
    """Creates every AWS::S3::Bucket of the template; local name: ReportPartialsBucket -> report-partials-bucket."""
    import boto3
    from cfnlint.decode import cfn_yaml

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                      aws_access_key_id="local", aws_secret_access_key="local")
    created = []
    for logical_id, resource in cfn_yaml.load(str(template_path)).get("Resources", {}).items():
        if resource.get("Type") == "AWS::S3::Bucket":
            name = env_name(logical_id).lower().replace("_", "-")
            s3.create_bucket(Bucket=name)
            created.append((name, logical_id))
    return created


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(endpoint: str, proc: subprocess.Popen, timeout: float = 180.0):
    """Waits until moto answers. Importing moto takes seconds on a busy machine, so the bound is
    generous; a server that exited is reported at once, with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"moto exited with {proc.returncode} before answering on {endpoint}")
        try:
            with urllib.request.urlopen(endpoint + "/moto-api/", timeout=5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"moto did not answer on {endpoint} within {timeout:.0f}s")


def start(state: pathlib.Path):
    state.mkdir(parents=True, exist_ok=True)
    if (state / "pid").exists():
        stop(state)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = open(state / "moto.log", "wb")
    server = pathlib.Path(__file__).resolve().parent / "moto_server.py"
    proc = subprocess.Popen([sys.executable, str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log,
                            start_new_session=True)
    (state / "pid").write_text(str(proc.pid))
    wait_ready(endpoint, proc)
    tables = create_tables(endpoint)
    buckets = create_buckets(endpoint)

    import boto3
    ses = boto3.client("ses", endpoint_url=endpoint, region_name=REGION,
                       aws_access_key_id="local", aws_secret_access_key="local")
    ses.verify_email_identity(EmailAddress=SENDER)
    # Every email goes out under the configuration set, with its message tags, as on AWS
    # (the emulator accepts them; SES's event publishing itself is not emulated).
    ses.create_configuration_set(ConfigurationSet={"Name": CONFIGURATION_SET})

    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "MOTO_ENDPOINT": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_EC2_METADATA_DISABLED": "true",
        "SENDER_ADDRESS": SENDER,
        "SES_CONFIGURATION_SET": CONFIGURATION_SET,
        "REPLY_TO_ADDRESS": "support@marketplace.example.com",
        "TEAM_INBOX": "marketplace-team@marketplace.example.com",
        "PORTAL_URL": "https://portal.marketplace.example.com",
        "GUIDE_URL": "https://docs.marketplace.example.com/providers/getting-started",
        "MPA_CURRENT_VERSION": "2026-01",
        "MPA_URL": "https://marketplace.example.com/legal/mpa",
        "STOREFRONT_URL": "https://marketplace.example.com/products/",
        "DEFAULT_REPRESENTATIVE_NAME": "Marketplace Provider Desk",
        "DEFAULT_REPRESENTATIVE_EMAIL": "providers@marketplace.example.com",
        # The portal functions' SDK timeouts (2 s an attempt, 4 s a call: crates/aws/src/sdk.rs) are
        # sized for AWS. A local emulator on a machine with both cores busy can take longer, and an
        # attempt cut short by its timeout is retried: a SendRawEmail the emulator had in fact
        # accepted would then go out twice. So everything run against this stack waits for the
        # emulator as long as it takes (the fault suite sets its own, per scenario).
        "SDK_ATTEMPT_TIMEOUT_MS": "60000",
        "SDK_CALL_TIMEOUT_MS": "60000",
    }
    for name, logical_id, _ in table_definitions(ROOT / "template.yaml"):
        env[env_name(logical_id)] = name
    for name, logical_id in buckets:
        env[env_name(logical_id)] = name
    # Shell-quoted: some values have spaces (DEFAULT_REPRESENTATIVE_NAME).
    (state / "env").write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
    print(f"local stack: moto pid {proc.pid} on {endpoint}; tables created: {', '.join(tables) or 'none'}",
          file=sys.stderr)


def env_name(logical_id: str) -> str:
    """MarketplaceTable -> MARKETPLACE_TABLE, DeploymentLogsTable -> DEPLOYMENT_LOGS_TABLE."""
    out = []
    for i, c in enumerate(logical_id):
        if c.isupper() and i > 0 and not logical_id[i - 1].isupper():
            out.append("_")
        out.append(c.upper())
    return "".join(out)


def stop(state: pathlib.Path):
    pid_file = state / "pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["start", "stop", "create-tables"])
    parser.add_argument("--state", default=str(ROOT / ".local-stack"))
    parser.add_argument("--endpoint")
    args = parser.parse_args()
    state = pathlib.Path(args.state)
    if args.command == "start":
        start(state)
    elif args.command == "stop":
        stop(state)
    else:
        if not args.endpoint:
            parser.error("create-tables needs --endpoint")
        print(create_tables(args.endpoint))


if __name__ == "__main__":
    main()

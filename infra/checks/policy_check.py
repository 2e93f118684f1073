#!/usr/bin/env python3
"""Least-privilege check: each function's IAM policy grants exactly the AWS actions its code can call.

    policy_check.py [--template template.yaml] [--bin-dir DIR]   check every function
    policy_check.py --self-test                                   prove the check catches drift
    policy_check.py --observed calls.jsonl --function LOGICAL_ID  calls recorded by recording_proxy.py
                                                                  are granted on the tables they touched

Granted side: the `Policies` statements of every `AWS::Serverless::Function` in template.yaml
(explicit statements only; SAM policy templates are refused because their actions are not visible
here). What SAM adds by itself (CloudWatch Logs, X-Ray, the SQS event source, async failure
destinations) is the Lambda runtime's, not the code's, and is not part of `Policies`.

Code side: the function's own binary (`Metadata.BuildProperties.Binary`, a debug build under
`$CARGO_TARGET_DIR/debug/`). The linker drops every function that nothing reaches, so the
`aws_sdk_<service>::operation::<op>::<Op>::orchestrate` symbols left in the binary are the SDK
operations its code can call, through whichever crates it depends on (`orchestrate_with_stop_point`
alone marks a presigned request: whoever uses the URL acts with the function's grant). This over-approximates
only through trait objects (every method of an implementation used as `dyn Trait` is kept),
which errs towards granting an action the function might reach, never towards missing one.

IAM actions are not always the API names: DynamoDB TransactWriteItems is authorised per item
(PutItem, UpdateItem, DeleteItem, ConditionCheckItem, known from which transaction item builders
are linked in) and TransactGetItems as GetItem. Credential-provider clients built into
aws-config (STS, SSO, SSO-OIDC) are not the code's calls and are ignored.

Resources are checked too: DynamoDB actions only on tables of this template (or their indexes),
SES actions only on the configured sender identity, never "*". Which table an action needs cannot
be read from the binary, so the end-to-end test adds the dynamic half: it runs the function
through `cargo lambda watch` behind recording_proxy.py and `--observed` confirms every recorded
(action, table) is granted on that table.
"""

import argparse
import copy
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

SERVICE_PREFIX = {
    "dynamodb": "dynamodb",
    "ses": "ses",
    "sesv2": "ses",
    "s3": "s3",
    "sqs": "sqs",
    "sns": "sns",
    "eventbridge": "events",
    "scheduler": "scheduler",
    "sfn": "states",
    "cloudwatch": "cloudwatch",
    "secretsmanager": "secretsmanager",
    "ssm": "ssm",
}
# aws-config's credential providers, not calls the code makes.
IGNORED_CRATES = {"sts", "sso", "ssooidc"}
# Operations the SDK itself links in, not the code: aws-sdk-s3's S3 Express identity provider
# (CreateSession, used only for directory buckets, which this template has none of).
IGNORED_OPERATIONS = {("s3", "create_session")}
# API operation -> IAM action(s) where they differ from the PascalCase operation name.
SPECIAL = {
    ("s3", "list_objects_v2"): ["s3:ListBucket"],
    ("s3", "list_objects"): ["s3:ListBucket"],
    ("s3", "head_object"): ["s3:GetObject"],
    ("s3", "head_bucket"): ["s3:ListBucket"],
    ("s3", "create_multipart_upload"): ["s3:PutObject"],
    ("s3", "upload_part"): ["s3:PutObject"],
    ("s3", "complete_multipart_upload"): ["s3:PutObject"],
    ("s3", "abort_multipart_upload"): ["s3:AbortMultipartUpload"],
    ("dynamodb", "transact_get_items"): ["dynamodb:GetItem"],
}
# DynamoDB transaction items -> the IAM action each needs (TransactWriteItems itself is no IAM action).
TRANSACT_ITEMS = {
    "_put::PutBuilder": "dynamodb:PutItem",
    "_update::UpdateBuilder": "dynamodb:UpdateItem",
    "_delete::DeleteBuilder": "dynamodb:DeleteItem",
    "_condition_check::ConditionCheckBuilder": "dynamodb:ConditionCheckItem",
}

# `orchestrate_with_stop_point` alone: a presigned request (aws-sdk-s3 `presigned()`), which is
# signed with the function's credentials, so its action must be granted like a call.
OPERATION = re.compile(r"\baws_sdk_(\w+?)::operation::(\w+)::\w+::orchestrate(?:_with_stop_point)?\b")
TRANSACT_ITEM = re.compile(r"\baws_sdk_dynamodb::types::(_\w+::\w+Builder)::build\b")


def pascal(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


def actions_called(binary: pathlib.Path) -> set:
    """The IAM actions the SDK operations linked into `binary` need."""
    out = subprocess.run(["nm", "--demangle", "--defined-only", str(binary)],
                         check=True, capture_output=True, text=True).stdout
    operations = {(m.group(1), m.group(2)) for m in OPERATION.finditer(out)}
    actions = set()
    for crate, op in operations:
        if crate in IGNORED_CRATES or (crate, op) in IGNORED_OPERATIONS:
            continue
        if crate not in SERVICE_PREFIX:
            raise SystemExit(f"{binary.name}: calls {crate}::{op}, a service this check has no IAM prefix for; "
                             "add it to SERVICE_PREFIX in infra/checks/policy_check.py")
        if crate == "dynamodb" and op == "transact_write_items":
            items = {TRANSACT_ITEMS[m.group(1)] for m in TRANSACT_ITEM.finditer(out) if m.group(1) in TRANSACT_ITEMS}
            if not items:
                raise SystemExit(f"{binary.name}: calls TransactWriteItems but no transaction item builder was found")
            actions |= items
            continue
        actions.update(SPECIAL.get((crate, op), [f"{SERVICE_PREFIX[crate]}:{pascal(op)}"]))
    return actions


def as_list(value):
    return value if isinstance(value, list) else [value]


def ref_text(node) -> str:
    """A short text form of a (possibly intrinsic) resource value, for checks and messages."""
    if isinstance(node, dict) and len(node) == 1:
        (key, value), = node.items()
        if key == "Fn::GetAtt":
            return "GetAtt:" + (".".join(value) if isinstance(value, list) else str(value))
        if key == "Fn::Sub":
            return "Sub:" + (value[0] if isinstance(value, list) else str(value))
        if key == "Ref":
            return "Ref:" + str(value)
    return str(node)


def granted(name: str, function: dict, tables: set, problems: list) -> set:
    """The Allow actions of the function's `Policies`, checking their shape and resources."""
    actions = set()
    for policy in as_list(function.get("Properties", {}).get("Policies", [])):
        if not isinstance(policy, dict) or "Statement" not in policy:
            problems.append(f"{name}: policy {policy!r} is not an explicit policy document; "
                            "write the statements out so their actions can be checked")
            continue
        for statement in as_list(policy["Statement"]):
            if statement.get("Effect") != "Allow":
                continue
            statement_actions = [str(a) for a in as_list(statement.get("Action", []))]
            resources = [ref_text(r) for r in as_list(statement.get("Resource", []))]
            for action in statement_actions:
                if "*" in action:
                    problems.append(f"{name}: wildcard action {action!r}")
                service = action.split(":", 1)[0]
                for resource in resources:
                    if resource == "*" or resource.endswith(":*"):
                        problems.append(f"{name}: {action} on every resource ({resource})")
                    elif service == "dynamodb" and not table_resource(resource, tables):
                        problems.append(f"{name}: {action} on {resource}, which is not a table of this template")
                    elif service == "ses" and not resource.endswith(
                            (":identity/${SenderAddress}", ":configuration-set/${EmailConfigurationSet}")):
                        problems.append(f"{name}: {action} on {resource}, not the configured sender identity "
                                        "or configuration set")
            actions.update(statement_actions)
    return actions


def table_resource(resource: str, tables: set) -> bool:
    m = re.fullmatch(r"GetAtt:(\w+)\.Arn|Sub:\$\{(\w+)\.Arn\}/index/[\w.*-]+", resource)
    return bool(m) and (m.group(1) or m.group(2)) in tables


def check(template: dict, bin_dir: pathlib.Path, verbose: bool = True) -> list:
    resources = template.get("Resources", {})
    tables = {k for k, v in resources.items() if v.get("Type") == "AWS::DynamoDB::Table"}
    problems = []
    functions = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"}
    if not functions:
        problems.append("template.yaml has no AWS::Serverless::Function")
    for name, function in sorted(functions.items()):
        binary_name = function.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if not binary_name:
            problems.append(f"{name}: Metadata.BuildProperties.Binary names no binary")
            continue
        binary = bin_dir / str(binary_name)
        if not binary.exists():
            problems.append(f"{name}: binary {binary} is missing (build the workspace first)")
            continue
        calls = actions_called(binary)
        grants = granted(name, function, tables, problems)
        for action in sorted(calls - grants):
            problems.append(f"{name}: {binary_name} calls {action} but its Policies do not grant it")
        for action in sorted(grants - calls):
            problems.append(f"{name}: its Policies grant {action} but {binary_name} never calls it")
        if verbose:
            print(f"{name} ({binary_name}): {', '.join(sorted(calls)) or 'no AWS API calls'}")
    return problems


def check_observed(template: dict, function: str, observed: pathlib.Path, verbose: bool = True) -> list:
    """Every call recorded by recording_proxy.py must be granted on the very table it touched."""
    import json

    properties = template["Resources"][function]["Properties"]
    statements = [s for p in as_list(properties.get("Policies", [])) if isinstance(p, dict)
                  for s in as_list(p.get("Statement", [])) if s.get("Effect") == "Allow"]
    problems, seen = [], set()
    for line in observed.read_text().splitlines():
        call = json.loads(line)
        key = (call["action"], call.get("table"), call.get("index"))
        if key in seen:
            continue
        seen.add(key)
        action, table, index = key
        where = f" on {table}" + (f" index {index}" if index else "") if table else ""
        grants = [s for s in statements if action in as_list(s.get("Action", []))]
        if not grants:
            problems.append(f"{function}: called {action}{where}, which its Policies do not grant")
        elif table:
            # The logical id is the local table name + "Table" (infra/local_stack.py).
            wanted = ({f"Sub:${{{table}Table.Arn}}/index/{index}", f"Sub:${{{table}Table.Arn}}/index/*"} if index
                      else {f"GetAtt:{table}Table.Arn"})
            resources = [ref_text(r) for s in grants for r in as_list(s.get("Resource", []))]
            if not wanted & set(resources):
                problems.append(f"{function}: called {action}{where}, but grants it only on {resources}")
    if not seen:
        problems.append(f"{function}: {observed} recorded no calls at all")
    for action, table, index in sorted(seen, key=str) if verbose else []:
        print(f"{function}: observed {action}" + (f" on {table}" + (f" index {index}" if index else "") if table else ""))
    return problems


def self_test(template: dict, bin_dir: pathlib.Path):
    """Mutates the template in memory and requires the check to notice each mutation."""
    def first_statement_function():
        for name, res in template["Resources"].items():
            if res.get("Type") == "AWS::Serverless::Function" and res["Properties"].get("Policies"):
                return name
        raise SystemExit("self-test needs a function with Policies")

    name = first_statement_function()
    cases = {}
    t = copy.deepcopy(template)
    statements = t["Resources"][name]["Properties"]["Policies"][0]["Statement"]
    counts = {}
    for stmt in statements:
        for action in as_list(stmt["Action"]):
            counts[action] = counts.get(action, 0) + 1
    stmt, dropped = next((st, a) for st in statements for a in as_list(st["Action"]) if counts[a] == 1)
    stmt["Action"] = [a for a in as_list(stmt["Action"]) if a != dropped]
    cases[f"drop {dropped}"] = (t, "do not grant it")
    t = copy.deepcopy(template)
    t["Resources"][name]["Properties"]["Policies"][0]["Statement"][0]["Action"] = \
        as_list(t["Resources"][name]["Properties"]["Policies"][0]["Statement"][0]["Action"]) + ["dynamodb:Scan"]
    cases["add dynamodb:Scan"] = (t, "never calls it")
    t = copy.deepcopy(template)
    t["Resources"][name]["Properties"]["Policies"][0]["Statement"][0]["Action"] = ["dynamodb:*"]
    cases["wildcard"] = (t, "wildcard action")
    t = copy.deepcopy(template)
    t["Resources"][name]["Properties"]["Policies"][0]["Statement"][0]["Resource"] = "*"
    cases["resource *"] = (t, "on every resource")
    t = copy.deepcopy(template)
    t["Resources"][name]["Properties"]["Policies"] = [{"DynamoDBCrudPolicy": {"TableName": "x"}}]
    cases["policy template"] = (t, "not an explicit policy document")
    # A presigned request (no plain `orchestrate` symbol) needs its action granted too.
    if "ReportsApiFunction" in template["Resources"]:
        t = copy.deepcopy(template)
        for st in t["Resources"]["ReportsApiFunction"]["Properties"]["Policies"][0]["Statement"]:
            st["Action"] = [a for a in as_list(st["Action"]) if a != "s3:GetObject"]
        cases["drop the presigned s3:GetObject of ReportsApiFunction"] = (t, "calls s3:GetObject but")
    failed = []
    for label, (mutated, expected) in cases.items():
        problems = check(mutated, bin_dir, verbose=False)
        if not any(expected in p for p in problems):
            failed.append(f"self-test: mutation '{label}' of {name} was not reported (got {problems})")

    # The dynamic half: a recorded call on a table the action is not granted on, and one not granted at all.
    import json
    import tempfile
    statements = template["Resources"][name]["Properties"]["Policies"][0]["Statement"]
    tables = {ref_text(r).split(":", 1)[1].removesuffix("Table.Arn") for st in statements
              for r in as_list(st.get("Resource", [])) if ref_text(r).startswith("GetAtt:")}
    observed_cases = {"not granted at all": ({"action": "dynamodb:Scan", "table": sorted(tables)[0]}, "do not grant")}
    for action in sorted({a for st in statements for a in as_list(st["Action"]) if a.startswith("dynamodb:")}):
        granted_on = {ref_text(r) for st in statements if action in as_list(st["Action"]) for r in as_list(st["Resource"])}
        other = next((t for t in sorted(tables) if f"GetAtt:{t}Table.Arn" not in granted_on), None)
        if other:
            observed_cases["granted on another table"] = ({"action": action, "table": other}, "grants it only on")
            break
    else:
        failed.append(f"self-test: {name} grants every DynamoDB action on every table; cannot test table scoping")
    for label, (call, expected) in observed_cases.items():
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write(json.dumps(call) + "\n")
        problems = check_observed(template, name, pathlib.Path(f.name), verbose=False)
        os.unlink(f.name)
        if not any(expected in p for p in problems):
            failed.append(f"self-test: observed call '{label}' {call} of {name} was not reported (got {problems})")
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument("--bin-dir", default=str(target / "debug"))
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--observed", help="calls recorded by recording_proxy.py (JSON lines)")
    parser.add_argument("--function", help="with --observed: the logical id of the function that made them")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "infra"))
    from local_stack import plain
    from cfnlint.decode import cfn_yaml

    template = plain(cfn_yaml.load(args.template))
    bin_dir = pathlib.Path(args.bin_dir)
    if args.observed:
        if not args.function:
            parser.error("--observed needs --function")
        problems = check_observed(template, args.function, pathlib.Path(args.observed))
    elif args.self_test:
        problems = self_test(template, bin_dir)
    else:
        problems = check(template, bin_dir)
    for p in problems:
        print(f"policy check: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print("policy check: ok" + (" (self-test)" if args.self_test else " (observed calls)" if args.observed else ""))


if __name__ == "__main__":
    main()

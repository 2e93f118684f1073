"""The fault suite's scenarios: the events each path delivers (as the portal, or SES through SNS,
sends them), the paths (function, event, setup, emails), and what each scenario asserts about the
stack's state afterwards. The harness that delivers them is `fault_suite.py`."""

import json
import os
import urllib.parse
import urllib.request
import uuid

# The longest a process, or one of the suite's own reads, may take before it counts as hung.
HANG_BOUND_S = 120


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

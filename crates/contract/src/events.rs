//! The JSON Schemas (draft 2020-12) of the `detail` of every portal event the functions accept,
//! built from the rules the code checks ([`marketplace_portal::fields`], the currency table, the
//! billing models, the publishing bounds) and written to `contract/events/<detail-type>.schema.json`.
//!
//! A schema describes what the portal sends: trimmed text, decimals as text. Where the code is
//! more lenient (it trims, it also reads numbers, ...) the schema is the contract; the cases are
//! listed in `docs/contract.md` and pinned by `tests/events.rs`.

use marketplace_core::billing::BillingModel;
use marketplace_core::money::currency_codes;
use marketplace_portal::event::{Actor, PORTAL_SOURCE};
use marketplace_portal::fields;
use marketplace_portal::product::{MAX_PLANS, MAX_PRICE_DECIMALS};
use marketplace_portal::{contact, mpa, offboarding, product, signup};
use serde_json::{json, Map, Value};

use crate::patterns::{self, decimal, one_of, or_null, text, timestamp, unused_text};
use crate::{version, ID_BASE, MAJOR};

/// Every portal event type the functions accept, in the order of the portal's lifecycle.
pub const DETAIL_TYPES: [&str; 9] = [
    signup::DETAIL_TYPE,
    contact::DETAIL_TYPE,
    mpa::ACCEPTED,
    mpa::APPROVED,
    mpa::REJECTED,
    mpa::VERSION_PUBLISHED,
    product::DETAIL_TYPE,
    product::WITHDRAWN,
    offboarding::DETAIL_TYPE,
];

/// The schema file of `detail_type`, relative to `contract/`.
pub fn file_name(detail_type: &str) -> String {
    format!("events/{detail_type}.schema.json")
}

/// The schema of `detail_type`'s `detail`, or `None` for a type no function accepts.
pub fn schema(detail_type: &str) -> Option<Value> {
    let (description, required, properties) = match detail_type {
        signup::DETAIL_TYPE => signup_detail(),
        contact::DETAIL_TYPE => contact_detail(),
        mpa::VERSION_PUBLISHED => version_detail(),
        mpa::ACCEPTED | mpa::APPROVED | mpa::REJECTED => mpa_detail(detail_type),
        product::DETAIL_TYPE => publish_detail(),
        product::WITHDRAWN => withdrawal_detail(),
        offboarding::DETAIL_TYPE => offboarding_detail(),
        _ => return None,
    };
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{ID_BASE}/v{MAJOR}/{}", file_name(detail_type)),
        "title": format!("{detail_type} detail"),
        "description": description,
        "x-contract-version": version(),
        "x-detail-type": detail_type,
        "x-source": PORTAL_SOURCE,
    });
    schema["type"] = json!("object");
    schema["required"] = json!(required);
    schema["properties"] = Value::Object(properties);
    if detail_type == contact::DETAIL_TYPE {
        // What to change: the contact (name and address together), the representative, or both.
        schema["anyOf"] = json!([
            { "required": ["contact_name", "contact_email"] },
            { "required": ["representative"], "properties": { "representative": { "type": "object" } } },
        ]);
    }
    Some(schema)
}

type Detail = (&'static str, Vec<&'static str>, Map<String, Value>);

fn properties(pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(name, schema)| (name.to_owned(), schema)).collect()
}

fn object(required: &[&str], pairs: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    json!({ "type": "object", "required": required, "properties": properties(pairs) })
}

fn provider_id() -> Value {
    text(fields::PROVIDER_ID, "The provider's id, as the portal issued it.")
}

/// Who sent a command: any portal user (the function decides what the role may do).
fn actor(description: &str) -> Value {
    let mut actor = object(
        &["id", "role"],
        [
            ("id", text(fields::ACTOR_ID, "The portal user's id.")),
            ("role", text(fields::ACTOR_ROLE, "`provider` (a provider's user) or `marketplace-team`; other roles are refused by the function, not by the shape.")),
            ("provider_id", or_null(json!({ "type": "string", "description": "For role `provider`: the provider the user belongs to." }))),
        ],
    );
    actor["description"] = json!(description);
    actor
}

fn signup_detail() -> Detail {
    let team_actor = object(
        &["id", "role"],
        [
            ("id", text(fields::ACTOR_ID, "The team member's portal user id.")),
            (
                "role",
                json!({ "const": Actor::MARKETPLACE_TEAM, "description": "Only the marketplace team creates portal accounts." }),
            ),
            ("provider_id", unused_text("Not used.")),
        ],
    );
    let representative = or_null(object(
        &["name", "email"],
        [
            ("name", text(fields::PERSON_NAME, "The representative's name.")),
            ("email", text(fields::EMAIL, "The representative's address.")),
        ],
    ));
    (
        "A marketplace team member created a Provider Portal account for a provider's cloud account alias: the provider is recorded and welcomed.",
        vec!["provider_id", "account_alias", "company_name", "contact_name", "contact_email", "actor"],
        properties([
            ("provider_id", provider_id()),
            ("account_alias", text(fields::ACCOUNT_ALIAS, "The provider's cloud account alias.")),
            ("company_name", text(fields::COMPANY_NAME, "The provider's company name.")),
            ("contact_name", text(fields::CONTACT_NAME, "Who the welcome email greets.")),
            ("contact_email", text(fields::EMAIL, "Where the welcome email goes.")),
            ("representative", with_description(representative, "The provider's own Marketplace Representative; absent or null: the team's default.")),
            ("actor", with_description(team_actor, "The team member who created the account.")),
        ]),
    )
}

fn contact_detail() -> Detail {
    let representative = or_null(object(
        &["name", "email"],
        [
            ("name", text(fields::PERSON_NAME, "The new representative's name.")),
            ("email", text(fields::EMAIL, "The new representative's address.")),
        ],
    ));
    (
        "A provider's contact changed (from the provider's own users or the marketplace team), or the team gave the provider another Marketplace Representative: the old and the new contact are told, and every later email, report and statement goes to the new contact. At least one of the contact (name and address together) and the representative.",
        vec!["provider_id", "actor"],
        properties([
            ("provider_id", provider_id()),
            ("contact_name", text(fields::CONTACT_NAME, "The new contact's name (with contact_email).")),
            ("contact_email", text(fields::EMAIL, "The new contact's address (with contact_name).")),
            ("representative", with_description(representative, "The provider's new Marketplace Representative: only the marketplace team may change it.")),
            ("actor", actor("Who changed it: a user of the provider (role `provider`, their `provider_id`) or the marketplace team (`marketplace-team`), which alone may change the representative.")),
        ]),
    )
}

fn version_detail() -> Detail {
    let team_actor = object(
        &["id", "role"],
        [
            ("id", text(fields::ACTOR_ID, "The team member's portal user id.")),
            (
                "role",
                json!({ "const": Actor::MARKETPLACE_TEAM, "description": "Only the marketplace team publishes MPA versions." }),
            ),
            ("provider_id", unused_text("Not used.")),
        ],
    );
    (
        "The marketplace team published a new version of the Marketplace Provider Agreement: every provider approved on an older version is asked to accept it; from its effective date, publishing needs it accepted and approved. It may not take effect before the event's time nor before the latest version does.",
        vec!["actor", "effective_at", "mpa_version", "text_url"],
        properties([
            ("mpa_version", text(fields::MPA_VERSION, "The new version's name, e.g. `2027-01`.")),
            ("text_url", json!({
                "type": "string",
                "description": "Where providers read the version's text: an https:// address.",
                "pattern": format!("^https://[^/\"<>{blank}][^\"<>{blank}]*$", blank = r"\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028-\u202F\u205F\u2066-\u2069\u3000"),
            })),
            ("effective_at", timestamp("From when publishing needs this version approved (RFC 3339).")),
            ("actor", with_description(team_actor, "The team member who published it.")),
        ]),
    )
}

fn mpa_detail(detail_type: &str) -> Detail {
    let accepted = detail_type == mpa::ACCEPTED;
    let rejected = detail_type == mpa::REJECTED;
    let person = object(
        &["id", "name", "email"],
        [
            ("id", text(fields::PERSON_ID, "Their portal user id: the actor's own id.")),
            ("name", text(fields::PERSON_NAME, "Their name.")),
            ("email", text(fields::EMAIL, "Where the receipt and the decision go.")),
        ],
    );
    let unused_person = json!({
        "type": ["object", "null"],
        "description": "Not used by this event.",
        "properties": { "id": unused_text("Not used."), "name": unused_text("Not used."), "email": unused_text("Not used.") },
    });
    let (description, mut required) = match detail_type {
        mpa::ACCEPTED => (
            "A provider's user accepted a version of the Marketplace Provider Agreement in their own name.",
            vec!["provider_id", "mpa_version", "accepted_by", "accepted_at", "actor"],
        ),
        mpa::APPROVED => (
            "The marketplace team approved a provider's pending MPA acceptance.",
            vec!["provider_id", "mpa_version", "actor"],
        ),
        _ => (
            "The marketplace team rejected a provider's pending MPA acceptance, with the reason the provider is told.",
            vec!["provider_id", "mpa_version", "actor", "reason"],
        ),
    };
    required.sort_unstable();
    let properties = properties([
        ("provider_id", provider_id()),
        (
            "mpa_version",
            text(
                fields::MPA_VERSION,
                "The MPA version: the current one for an acceptance, the accepted one for a decision.",
            ),
        ),
        ("accepted_by", if accepted { with_description(person, "Who accepted: the actor.") } else { unused_person }),
        (
            "accepted_at",
            if accepted { timestamp("When they accepted (RFC 3339).") } else { unused_text("Not used by this event.") },
        ),
        (
            "actor",
            actor(if accepted {
                "The provider's user who accepted (role `provider`, their `provider_id`)."
            } else {
                "The team member who decided (role `marketplace-team`)."
            }),
        ),
        (
            "reason",
            if rejected {
                text(fields::REJECTION_REASON, "Why the acceptance was rejected: quoted to the provider.")
            } else {
                unused_text("Not used by this event.")
            },
        ),
    ]);
    (description, required, properties)
}

fn publish_detail() -> Detail {
    let plan = object(
        &["model", "unit", "unit_price", "currency"],
        [
            ("model", one_of("How the plan bills.", BillingModel::ALL.iter().map(|m| m.as_str()))),
            ("unit", text(fields::PLAN_UNIT, "What one unit is, e.g. `vm-hour`.")),
            ("unit_price", decimal(&format!("The price of one unit as decimal text: not negative, at most {MAX_PRICE_DECIMALS} decimal places (trailing zeros do not count)."), &patterns::price_pattern(MAX_PRICE_DECIMALS))),
            ("currency", one_of("An ISO 4217 currency code.", currency_codes())),
        ],
    );
    let listing = object(
        &["name", "summary", "description", "category", "support_email", "blueprint_id", "provider_share", "pricing"],
        [
            ("name", text(fields::LISTING_NAME, "The product name.")),
            ("summary", text(fields::LISTING_SUMMARY, "The summary.")),
            ("description", text(fields::LISTING_DESCRIPTION, "The description.")),
            ("category", text(fields::LISTING_CATEGORY, "The category.")),
            ("support_email", text(fields::EMAIL, "The support email address.")),
            (
                "support_url",
                json!({
                    "type": ["string", "null"],
                    "description": "The support web page: an https:// address (empty or null: none).",
                    "pattern": format!("^(?:https://[^/\"<>{blank}][^\"<>{blank}]*)?$", blank = r"\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028-\u202F\u205F\u2066-\u2069\u3000"),
                }),
            ),
            ("blueprint_id", text(fields::BLUEPRINT_ID, "What the marketplace deploys.")),
            (
                "provider_share",
                decimal(
                    "The provider's share of revenue as decimal text, more than 0 and at most 1 (`0.7` is 70 %).",
                    patterns::SHARE,
                ),
            ),
            (
                "pricing",
                json!({ "type": "array", "description": "The price plans; no two with the same model, unit and currency.", "minItems": 1, "maxItems": MAX_PLANS, "items": plan }),
            ),
        ],
    );
    (
        "A provider's user or the marketplace team asks to publish a product. An event valid against this schema is publishable as far as its shape goes; one whose `listing` alone fails it is still processed: the product is refused (kept as a draft) with every reason.",
        vec!["provider_id", "product_id", "actor", "listing"],
        properties([
            ("provider_id", provider_id()),
            ("product_id", text(fields::PRODUCT_ID, "The product's id within the provider.")),
            ("actor", actor("Who asks: the provider's own user (role `provider`, its `provider_id`) or the marketplace team.")),
            ("listing", with_description(listing, "The product listing as the portal's form has it.")),
        ]),
    )
}

fn withdrawal_detail() -> Detail {
    (
        "A provider's user or the marketplace team withdraws a published product from the storefront, with a reason both the provider and the team are told. Withdrawing a product that does not exist or is not published is refused by the function, not by the shape.",
        vec!["provider_id", "product_id", "actor", "reason"],
        properties([
            ("provider_id", provider_id()),
            ("product_id", text(fields::PRODUCT_ID, "The product's id within the provider.")),
            ("actor", actor("Who withdraws: the provider's own user (role `provider`, its `provider_id`) or the marketplace team.")),
            ("reason", text(fields::WITHDRAWAL_REASON, "Why the product is withdrawn: quoted to the provider and the team.")),
        ]),
    )
}

fn offboarding_detail() -> Detail {
    (
        "The marketplace team offboarded a provider: its published products are withdrawn, it is sent no further email, and its personal data is erased after the retention period (90 days). Offboarding a provider that does not exist is refused by the function, not by the shape.",
        vec!["provider_id", "actor", "reason"],
        properties([
            ("provider_id", provider_id()),
            ("actor", actor("The team member who offboarded it (role `marketplace-team`; any other role is refused by the function, not by the shape).")),
            ("reason", text(fields::OFFBOARDING_REASON, "Why: kept on the provider record and quoted to the team.")),
        ]),
    )
}

fn with_description(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

//! The event corpus the contract is held to: the sample events (`events/*.json`, the portal
//! crate's fixtures) and, per event type, the cases the tests send (tests/tests/signup.rs,
//! mpa.rs, publishing.rs; the portal crate's unit tests), boundary values at every limit, and
//! the known differences between the schema and the more lenient code, each with its reason.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// What the schema and the code say of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Both accept it.
    Accepted,
    /// Both refuse it.
    Refused,
    /// The code accepts it, the schema (what the portal is asked to send) does not.
    CodeOnly(&'static str),
    /// The schema accepts it, the code refuses it: a rule JSON Schema cannot state.
    SchemaOnly(&'static str),
}

pub struct Case {
    pub name: &'static str,
    pub detail_type: &'static str,
    pub detail: Value,
    pub expect: Expect,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the repository").to_path_buf()
}

fn json_file(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every portal event of the sample SQS events in `events/`: (file, detail type, detail).
pub fn samples() -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(root().join("events")).expect("events/").filter_map(|e| Some(e.ok()?.path())).collect();
    files.sort();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        for (detail_type, detail) in marketplace_contract::check::portal_events_in_sqs(&json_file(path)) {
            found.push((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), detail_type, detail));
        }
    }
    found
}

/// The portal crate's fixtures (`crates/portal/tests/fixtures`): (file, detail type, detail).
pub fn fixtures() -> Vec<(String, String, Value)> {
    let dir = root().join("crates/portal/tests/fixtures");
    [
        ("provider-account-created.json", "ProviderAccountCreated"),
        ("mpa-accepted.json", "MpaAccepted"),
        ("mpa-approved.json", "MpaApproved"),
        ("mpa-rejected.json", "MpaRejected"),
        ("product-publish-requested.json", "ProductPublishRequested"),
    ]
    .into_iter()
    .map(|(file, detail_type)| (file.to_owned(), detail_type.to_owned(), json_file(&dir.join(file))))
    .collect()
}

fn sample(detail_type: &str) -> Value {
    samples().into_iter().find(|(_, t, _)| t == detail_type).map(|(_, _, d)| d).expect("a sample of every type")
}

fn x(n: usize) -> String {
    "x".repeat(n)
}

/// Every case, with what both sides are expected to say.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |detail_type: &'static str, name: &'static str, expect: Expect, edit: &dyn Fn(&mut Value)| {
        let mut detail = sample(detail_type);
        edit(&mut detail);
        cases.push(Case { name, detail_type, detail, expect });
    };
    use Expect::*;
    let remove = |pointer: &'static str| {
        move |d: &mut Value| {
            let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
            if let Some(object) = d.pointer_mut(parent).and_then(Value::as_object_mut) {
                object.remove(key);
            }
        }
    };
    let set = |pointer: &'static str, value: Value| {
        move |d: &mut Value| {
            let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
            match d.pointer_mut(parent) {
                Some(Value::Object(object)) => {
                    object.insert(key.to_owned(), value.clone());
                }
                Some(Value::Array(items)) => items[key.parse::<usize>().expect("an index")] = value.clone(),
                _ => panic!("{parent} is not in the sample"),
            }
        }
    };
    let padded = "known difference: the code trims surrounding whitespace; the contract asks for trimmed text";
    let sequence = "known difference: serde also reads an object written as an array of its fields in order";
    let numbers = "known difference: the code also reads JSON numbers; the contract asks for decimal text, exact";
    let lenient_decimal =
        "known difference: the code reads any text rust_decimal parses; the contract asks for plain decimals";
    let rfc3339 = "known difference: chrono also reads a space for `T` and a leap second in any minute";
    let unique = "JSON Schema cannot state that no two plans share model, unit and currency";

    // ProviderAccountCreated: tests/tests/signup.rs, crates/portal/src/signup.rs, boundaries.
    let t = "ProviderAccountCreated";
    add(t, "the sample", Accepted, &|_| {});
    add(t, "without a representative", Accepted, &remove("/representative"));
    add(t, "a null representative", Accepted, &set("/representative", Value::Null));
    add(t, "company name of 200 characters", Accepted, &set("/company_name", json!(x(200))));
    add(t, "account alias of 63 characters", Accepted, &set("/account_alias", json!(x(63))));
    add(t, "provider id of 64 characters", Accepted, &set("/provider_id", json!(x(64))));
    add(
        t,
        "an address with a tag and subdomains",
        Accepted,
        &set("/contact_email", json!("jane.doe+portal@mail.example.co.uk")),
    );
    add(t, "unknown fields are ignored", Accepted, &|d| d["campaign"] = json!({"source": "fair"}));
    add(t, "an unused actor provider id", Accepted, &set("/actor/provider_id", json!("anything")));
    add(t, "non-ASCII letters in a name", Accepted, &set("/contact_name", json!("Zoë Ångström-Øre")));
    add(t, "missing contact_email", Refused, &remove("/contact_email"));
    add(t, "missing actor", Refused, &remove("/actor"));
    add(t, "not an address", Refused, &set("/contact_email", json!("jane-at-acme")));
    add(
        t,
        "header injection in address",
        Refused,
        &set("/contact_email", json!("jane@acme.example\r\nBcc: x@evil.example")),
    );
    add(t, "control characters in name", Refused, &set("/contact_name", json!("Jane\r\nBcc: x@evil.example")));
    add(t, "a bidi override in a name", Refused, &set("/contact_name", json!("Jane\u{202E}eoD")));
    add(t, "company name of 201 characters", Refused, &set("/company_name", json!(x(201))));
    add(t, "account alias of 64 characters", Refused, &set("/account_alias", json!(x(64))));
    add(t, "provider id of 65 characters", Refused, &set("/provider_id", json!(x(65))));
    add(t, "provider role", Refused, &set("/actor/role", json!("provider")));
    add(t, "provider_id with separator", Refused, &set("/provider_id", json!("acme#1")));
    add(t, "provider_id starting with a dash", Refused, &set("/provider_id", json!("-acme")));
    add(t, "field of the wrong type", Refused, &set("/company_name", json!(42)));
    add(t, "an unused field of the wrong type", Refused, &set("/actor/provider_id", json!(7)));
    add(
        t,
        "a malformed representative",
        Refused,
        &set("/representative", json!({"name": "", "email": "not-an-address"})),
    );
    add(t, "control characters in the representative", Refused, &set("/representative/name", json!("Ana\r\nBcc: x")));
    add(t, "an address without a dotted domain", Refused, &set("/contact_email", json!("jane@example")));
    add(t, "a non-ASCII address", Refused, &set("/contact_email", json!("jané@example.com")));
    add(t, "a double dot in an address", Refused, &set("/contact_email", json!("jane..doe@example.com")));
    add(t, "a local part of 65 characters", Refused, &set("/contact_email", json!(format!("{}@example.com", x(65)))));
    add(t, "actor id of 129 characters", Refused, &set("/actor/id", json!(x(129))));
    add(t, "an empty detail", Refused, &|d| *d = json!({}));
    add(t, "a null detail", Refused, &|d| *d = Value::Null);
    add(t, "a padded representative name", CodeOnly(padded), &set("/representative/name", json!(" Ana Ortiz ")));
    add(t, "an actor as an array", CodeOnly(sequence), &set("/actor", json!(["team-7", "marketplace-team", null])));

    // MpaAccepted: tests/tests/mpa.rs, crates/portal/src/mpa/tests.rs.
    let t = "MpaAccepted";
    add(t, "the sample", Accepted, &|_| {});
    add(
        t,
        "a time with an offset and fractions",
        Accepted,
        &set("/accepted_at", json!("2026-11-25T10:30:00.125+01:00")),
    );
    add(t, "a lowercase t and z", Accepted, &set("/accepted_at", json!("2026-11-25t10:30:00z")));
    add(t, "an MPA version of 32 characters", Accepted, &set("/mpa_version", json!(x(32))));
    add(
        t,
        "acceptance by another provider's user (authorisation, not shape)",
        Accepted,
        &set("/actor/provider_id", json!("someone-else")),
    );
    add(
        t,
        "acceptance by the marketplace team (authorisation)",
        Accepted,
        &set("/actor", json!({"id": "user-1", "role": "marketplace-team"})),
    );
    add(t, "acceptance in someone else's name (authorisation)", Accepted, &set("/actor/id", json!("user-2")));
    add(t, "an old version (the state machine's refusal)", Accepted, &set("/mpa_version", json!("2025-01")));
    add(t, "acceptance with a bad address and time", Refused, &|d| {
        d["accepted_by"]["email"] = json!("nobody");
        d["accepted_at"] = json!("yesterday");
    });
    add(t, "no acceptance time", Refused, &remove("/accepted_at"));
    add(t, "no accepting person", Refused, &remove("/accepted_by"));
    add(t, "a date that does not exist", Refused, &set("/accepted_at", json!("2026-02-30T10:00:00Z")));
    add(t, "a time without an offset", Refused, &set("/accepted_at", json!("2026-11-25T10:30:00")));
    add(t, "a time without seconds", Refused, &set("/accepted_at", json!("2026-11-25T10:30Z")));
    add(t, "an MPA version of 33 characters", Refused, &set("/mpa_version", json!(x(33))));
    add(t, "no actor role", Refused, &remove("/actor/role"));
    add(t, "no provider id", Refused, &remove("/provider_id"));
    add(t, "a person's name of 201 characters", Refused, &set("/accepted_by/name", json!(x(201))));
    add(t, "a space for T", CodeOnly(rfc3339), &set("/accepted_at", json!("2026-11-25 10:30:00Z")));

    let t = "MpaApproved";
    add(t, "the sample", Accepted, &|_| {});
    add(t, "approval by a provider (authorisation, not shape)", Accepted, &set("/actor/role", json!("provider")));
    add(t, "an unused reason", Accepted, &|d| d["reason"] = json!("looks fine"));
    add(t, "null unused fields", Accepted, &|d| {
        d["accepted_by"] = Value::Null;
        d["accepted_at"] = Value::Null;
    });
    add(t, "an unused field of the wrong type", Refused, &|d| d["reason"] = json!(5));
    add(t, "an unused person as text", Refused, &|d| d["accepted_by"] = json!("Bob"));
    add(t, "no actor", Refused, &remove("/actor"));
    add(t, "an empty MPA version", Refused, &set("/mpa_version", json!("")));

    let t = "MpaRejected";
    add(t, "the sample", Accepted, &|_| {});
    add(
        t,
        "a reason of several lines",
        Accepted,
        &set("/reason", json!("Missing:\n\t- the tax form\r\n\t- the signature")),
    );
    add(t, "a reason of 2000 characters", Accepted, &set("/reason", json!(x(2000))));
    add(t, "rejection without a reason", Refused, &remove("/reason"));
    add(t, "an empty reason", Refused, &set("/reason", json!("")));
    add(t, "a reason of 2001 characters", Refused, &set("/reason", json!(x(2001))));
    add(t, "a bell in the reason", Refused, &set("/reason", json!("missing\u{0007}")));

    // ProductPublishRequested: tests/tests/publishing.rs, crates/portal/src/product/tests.rs.
    let t = "ProductPublishRequested";
    add(t, "the sample", Accepted, &|_| {});
    add(
        t,
        "the team without a provider id",
        Accepted,
        &set("/actor", json!({"id": "team-member-9", "role": "marketplace-team"})),
    );
    add(t, "a customer (authorisation, not shape)", Accepted, &set("/actor/role", json!("customer")));
    add(t, "no support page", Accepted, &remove("/listing/support_url"));
    add(t, "a null support page", Accepted, &set("/listing/support_url", Value::Null));
    add(t, "an empty support page", Accepted, &set("/listing/support_url", json!("")));
    add(t, "the whole revenue", Accepted, &set("/listing/provider_share", json!("1.0")));
    add(t, "a free plan", Accepted, &set("/listing/pricing/0/unit_price", json!("0")));
    add(
        t,
        "trailing zeros do not count as decimal places",
        Accepted,
        &set("/listing/pricing/0/unit_price", json!("1.5000000")),
    );
    add(t, "six decimal places", Accepted, &set("/listing/pricing/0/unit_price", json!("0.000125")));
    add(t, "a description of 10000 characters", Accepted, &set("/listing/description", json!(x(10_000))));
    add(
        t,
        "twenty plans",
        Accepted,
        &set(
            "/listing/pricing",
            json!((0..20)
                .map(|i| json!({"model": "usage", "unit": format!("unit-{i}"), "unit_price": "1", "currency": "JPY"}))
                .collect::<Vec<_>>()),
        ),
    );
    add(t, "The summary is required", Refused, &remove("/listing/summary"));
    add(t, "The description is 10001 characters long", Refused, &set("/listing/description", json!(x(10_001))));
    add(t, "The product name contains control characters", Refused, &set("/listing/name", json!("Vault\u{0007}")));
    add(t, "The category is required", Refused, &set("/listing/category", json!("  ")));
    add(t, "The support web page must be https", Refused, &set("/listing/support_url", json!("javascript:alert(1)")));
    add(t, "a plain http support page", Refused, &set("/listing/support_url", json!("http://acme.example")));
    add(t, "The blueprint ID must be", Refused, &set("/listing/blueprint_id", json!("bp with spaces")));
    add(t, "Your share of revenue must be more than 0%", Refused, &set("/listing/provider_share", json!("0")));
    add(t, "a share over 100%", Refused, &set("/listing/provider_share", json!("1.5")));
    add(t, "At least one price plan is required", Refused, &set("/listing/pricing", json!([])));
    add(
        t,
        "21 plans",
        Refused,
        &set(
            "/listing/pricing",
            json!((0..21)
                .map(|i| json!({"model": "usage", "unit": format!("u{i}"), "unit_price": "1", "currency": "EUR"}))
                .collect::<Vec<_>>()),
        ),
    );
    add(t, "Price plan 1: the currency must be", Refused, &set("/listing/pricing/0/currency", json!("XYZ")));
    add(t, "a lowercase currency", Refused, &set("/listing/pricing/0/currency", json!("usd")));
    add(t, "Price plan 1: the price must be a number", Refused, &set("/listing/pricing/0/unit_price", json!("cheap")));
    add(t, "a negative price", Refused, &set("/listing/pricing/0/unit_price", json!("-1")));
    add(t, "seven decimal places", Refused, &set("/listing/pricing/0/unit_price", json!("0.1234567")));
    add(t, "an exponent", Refused, &set("/listing/pricing/0/unit_price", json!("1e3")));
    add(t, "an unknown billing model", Refused, &set("/listing/pricing/0/model", json!("weekly")));
    add(t, "a plan that is not an object", Refused, &set("/listing/pricing/1", json!(3)));
    add(t, "a name that is not text", Refused, &set("/listing/name", json!(42)));
    add(t, "every reason at once", Refused, &|d| {
        d["listing"]["name"] = json!("");
        d["listing"]["support_email"] = json!("support-at-acme");
        d["listing"]["provider_share"] = json!("1.5");
        d["listing"]["pricing"] = json!([{"model": "x"}, 3]);
    });
    add(t, "no listing", Refused, &remove("/listing"));
    add(t, "a listing that is not an object", Refused, &set("/listing", json!("Acme Vault")));
    add(t, "no product id", Refused, &remove("/product_id"));
    add(t, "no actor", Refused, &remove("/actor"));
    add(t, "Price plan 2 repeats another plan", SchemaOnly(unique), &|d| {
        d["listing"]["pricing"][1] = d["listing"]["pricing"][0].clone()
    });
    add(t, "numbers for share and price", CodeOnly(numbers), &|d| {
        d["listing"]["provider_share"] = json!(1);
        d["listing"]["pricing"][0]["unit_price"] = json!(0.25);
    });
    add(t, "a share without its leading zero", CodeOnly(lenient_decimal), &set("/listing/provider_share", json!(".5")));
    add(t, "a padded currency code", CodeOnly(padded), &set("/listing/pricing/0/currency", json!(" USD ")));

    // ProductWithdrawn: tests/tests/withdrawal.rs, crates/portal/src/product/withdrawal_tests.rs.
    let t = "ProductWithdrawn";
    add(t, "the sample", Accepted, &|_| {});
    add(
        t,
        "the team without a provider id",
        Accepted,
        &set("/actor", json!({"id": "team-member-9", "role": "marketplace-team"})),
    );
    add(t, "a customer (authorisation, not shape)", Accepted, &set("/actor/role", json!("customer")));
    add(t, "a reason of 2000 characters", Accepted, &set("/reason", json!(x(2000))));
    add(t, "a reason of several lines", Accepted, &set("/reason", json!("Replaced:\n\t- by Vault 4")));
    add(t, "no reason", Refused, &remove("/reason"));
    add(t, "an empty reason", Refused, &set("/reason", json!("")));
    add(t, "a reason of 2001 characters", Refused, &set("/reason", json!(x(2001))));
    add(t, "no product id", Refused, &remove("/product_id"));
    add(t, "no actor", Refused, &remove("/actor"));
    add(t, "a padded product id", CodeOnly(padded), &set("/product_id", json!(" acme-vault ")));

    // ProviderOffboarded: tests/tests/offboarding.rs, crates/portal/src/offboarding/tests.rs.
    let t = "ProviderOffboarded";
    add(t, "the sample", Accepted, &|_| {});
    add(t, "a reason of 2000 characters", Accepted, &set("/reason", json!(x(2000))));
    add(t, "no reason", Refused, &remove("/reason"));
    add(t, "an empty reason", Refused, &set("/reason", json!("")));
    add(t, "a reason of 2001 characters", Refused, &set("/reason", json!(x(2001))));
    add(t, "no provider id", Refused, &remove("/provider_id"));
    add(t, "no actor", Refused, &remove("/actor"));

    // ProviderContactChanged: tests/tests/contact.rs, crates/portal/src/contact_tests.rs.
    let t = "ProviderContactChanged";
    add(t, "the sample", Accepted, &|_| {});
    let representative = json!({"name": "Ana Ortiz", "email": "ana@marketplace.example"});
    add(t, "contact and representative", Accepted, &set("/representative", representative.clone()));
    add(t, "the representative alone", Accepted, &|d| {
        let object = d.as_object_mut().expect("an object");
        object.remove("contact_name");
        object.remove("contact_email");
        object.insert("representative".into(), representative.clone());
    });
    add(t, "nothing to change", Refused, &|d| {
        let object = d.as_object_mut().expect("an object");
        object.remove("contact_name");
        object.remove("contact_email");
    });
    add(t, "a name without an address", Refused, &remove("/contact_email"));
    add(t, "an address without a name", Refused, &remove("/contact_name"));
    add(t, "not an address", Refused, &set("/contact_email", json!("omar-at-acme")));
    add(t, "a representative without an address", Refused, &set("/representative", json!({"name": "Ana"})));
    add(t, "no actor", Refused, &remove("/actor"));
    add(t, "a padded address", CodeOnly(padded), &set("/contact_email", json!(" omar@acme.example ")));

    // MpaVersionPublished: tests/tests/mpa_versions.rs, crates/portal/src/mpa/versions.rs.
    let t = "MpaVersionPublished";
    add(t, "the sample", Accepted, &|_| {});
    add(t, "a version of 32 characters", Accepted, &set("/mpa_version", json!(x(32))));
    add(t, "a version of 33 characters", Refused, &set("/mpa_version", json!(x(33))));
    add(t, "an http text address", Refused, &set("/text_url", json!("http://marketplace.example.com/mpa")));
    add(t, "no text address", Refused, &remove("/text_url"));
    add(t, "not a timestamp", Refused, &set("/effective_at", json!("next month")));
    add(t, "no effective date", Refused, &remove("/effective_at"));
    add(t, "a provider's user", Refused, &set("/actor/role", json!("provider")));
    add(t, "a padded text address", CodeOnly(padded), &set("/text_url", json!(" https://m.example.com/mpa ")));
    cases
}

//! Erasing an offboarded provider's personal data once its retention period is over (the rule:
//! [`super`] module docs). Pure: what the erased records look like; the nightly job reads and
//! writes them (`jobs/nightly-reports`, `erasure`).
//!
//! Erased: on the provider record the contact's name and address, the former contact's (a contact
//! change), the MPA acceptor's name and address, and the undeliverable addresses; in audit entries
//! and email outbox items every value under a key that names a person or an address (`to`,
//! `name`, `email`, `contact_name`, ...) and every text that holds an address. Kept: ids, the
//! company name, statuses, dates, amounts, and the products' listings (public storefront text).
//! Erasing twice changes nothing, so a run that dies half-way is simply run again.

use chrono::{DateTime, Utc};
use serde_json::Value;

use marketplace_core::provider::Provider;

/// What an erased name or address reads.
pub const ERASED: &str = "[erased]";

/// Keys whose values name a person or an address, wherever they appear in a record's details.
const PERSONAL_KEYS: [&str; 10] = [
    "to",
    "name",
    "email",
    "contact_name",
    "contact_email",
    "previous_contact_name",
    "previous_contact_email",
    "address",
    "addresses",
    "recipients",
];

/// True when `provider`'s personal data is due to be erased at `now` and has not been.
pub fn is_due(provider: &Provider, now: DateTime<Utc>) -> bool {
    provider.is_offboarded()
        && provider.offboarding.as_ref().is_some_and(|o| o.erased_at.is_none() && o.erase_after <= now)
}

/// `provider` with its personal data erased and the erasure recorded (`erased_at`, a new version).
pub fn erased_provider(provider: &Provider, now: DateTime<Utc>) -> Provider {
    let mut erased = provider.clone();
    erased.contact_name = ERASED.into();
    erased.contact_email = ERASED.into();
    if let Some(mpa) = erased.mpa.as_mut() {
        mpa.accepted_by.name = ERASED.into();
        mpa.accepted_by.email = ERASED.into();
    }
    if let Some(change) = erased.contact_changed.as_mut() {
        change.previous_contact_name = ERASED.into();
        change.previous_contact_email = ERASED.into();
    }
    for undeliverable in &mut erased.undeliverable {
        undeliverable.address = ERASED.into();
    }
    if let Some(offboarding) = erased.offboarding.as_mut() {
        offboarding.erased_at = Some(now);
    }
    erased.version = provider.version + 1;
    erased
}

/// `value` with every name and address erased, or `None` when it holds none (nothing to write).
pub fn erased_value(value: &Value) -> Option<Value> {
    let mut erased = value.clone();
    erase_in(&mut erased, false);
    (erased != *value).then_some(erased)
}

fn erase_in(value: &mut Value, personal: bool) {
    match value {
        Value::String(text) if text != ERASED && (personal || text.contains('@')) => *text = ERASED.into(),
        Value::Array(items) => items.iter_mut().for_each(|item| erase_in(item, personal)),
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                erase_in(field, personal || PERSONAL_KEYS.contains(&key.as_str()));
            }
        }
        _ => {}
    }
}

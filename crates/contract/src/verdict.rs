//! What the code says of an event's shape: the very parsing and validation the functions run
//! before they touch a store (`marketplace_portal`), without the store. Authorisation, the MPA
//! state machine and the provider's existence are not shape, and are not judged here.

use chrono::{DateTime, Utc};
use marketplace_portal::event::{PortalEvent, PORTAL_SOURCE};
use marketplace_portal::mpa::MpaCommand;
use marketplace_portal::product::{validate_listing, PublishRequest, WithdrawalRequest};
use marketplace_portal::signup::ProviderAccountCreated;
use marketplace_portal::{contact, mpa, product, signup};
use serde_json::Value;

/// `Ok` when the code accepts `detail` as a `detail_type` event (for `ProductPublishRequested`:
/// the request is valid and its listing publishable), otherwise why not.
pub fn code(detail_type: &str, detail: &Value) -> Result<(), String> {
    let event = PortalEvent {
        id: "contract-check".into(),
        detail_type: detail_type.into(),
        source: PORTAL_SOURCE.into(),
        time: DateTime::<Utc>::UNIX_EPOCH,
        detail: detail.clone(),
    };
    let refused = |e: marketplace_core::DomainError| e.to_string();
    match detail_type {
        signup::DETAIL_TYPE => {
            event.detail::<ProviderAccountCreated>().and_then(|d| d.validate()).map(drop).map_err(refused)
        }
        mpa::ACCEPTED | mpa::APPROVED | mpa::REJECTED => MpaCommand::from_event(&event).map(drop).map_err(refused),
        mpa::VERSION_PUBLISHED => mpa::NewVersion::from_event(&event).map(drop).map_err(refused),
        contact::DETAIL_TYPE => contact::ContactChangeRequest::from_event(&event).map(drop).map_err(refused),
        product::DETAIL_TYPE => {
            let request = PublishRequest::from_event(&event).map_err(refused)?;
            validate_listing(request.listing.as_ref()).map(drop).map_err(|problems| problems.join("; "))
        }
        product::WITHDRAWN => WithdrawalRequest::from_event(&event).map(drop).map_err(refused),
        marketplace_portal::offboarding::DETAIL_TYPE => {
            marketplace_portal::offboarding::OffboardingRequest::from_event(&event).map(drop).map_err(refused)
        }
        other => Err(format!("no function accepts {other:?} events")),
    }
}

/// Why the code refuses `detail` for a rule JSON Schema cannot state, if it does: two price
/// plans with the same model, unit and currency (`uniqueItems` compares whole plans, prices
/// included). The schema accepts such a detail; the code refuses the listing.
pub fn beyond_json_schema(detail_type: &str, detail: &Value) -> Option<&'static str> {
    if detail_type != product::DETAIL_TYPE {
        return None;
    }
    let plans = detail["listing"]["pricing"].as_array()?;
    let key = |plan: &Value| {
        let text = |name: &str| plan[name].as_str().map(str::trim).unwrap_or_default().to_owned();
        (text("model"), text("unit"), text("currency"))
    };
    let keys: Vec<_> = plans.iter().map(key).collect();
    let repeated = keys.iter().enumerate().any(|(i, k)| keys[..i].contains(k));
    repeated.then_some("two price plans with the same model, unit and currency")
}

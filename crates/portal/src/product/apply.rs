//! How every product event is applied, whatever it decides: read the product, decide, write it
//! with its audit entry and email intents in one conditional write (its `version`), re-read and
//! decide again when another writer got there first, then send the change's emails once. A
//! redelivery of an event the product already applied only sends what may be missing.

use super::model::Product;
use crate::event::PortalEvent;
use crate::outbox::{kinds, send_once};
use crate::ports::{AuditEntry, Precondition, Services};
use crate::race::{retry_lost_races, Attempt};
use marketplace_core::email::Email;
use marketplace_core::provider::Provider;
use marketplace_core::DomainError;

/// What an event does to the product as read.
pub(crate) enum ProductChange {
    /// Write this record, with the audit entry of the change.
    Write(Box<Product>, AuditEntry),
    /// Nothing to write or send; why, for the event's outcome.
    Unchanged(String),
}

/// Applies `decide`'s change to `provider`'s product `product_id` (`first_read`: the product as
/// read with the provider) and sends the emails `emails` makes of the written record. Returns the
/// record written (or already written by this event), or why nothing changed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_product_change(
    services: &Services<'_>,
    event: &PortalEvent,
    provider: &Provider,
    product_id: &str,
    first_read: Option<Product>,
    actor_id: &str,
    decide: impl Fn(Option<&Product>) -> Result<ProductChange, DomainError>,
    emails: impl Fn(&Product) -> Vec<(&'static str, Email)>,
) -> Result<Result<Product, String>, DomainError> {
    let provider_id = &provider.provider_id;
    let first_read = std::sync::Mutex::new(Some(first_read));
    let outcome = retry_lost_races("product change", || async {
        // The first attempt uses the product read with the provider; a lost race reads it again.
        let taken = first_read.lock().ok().and_then(|mut first| first.take());
        let existing = match taken {
            Some(existing) => existing,
            None => services.store.get_product(provider_id, product_id).await?,
        };
        if let Some(existing) = existing.as_ref().filter(|p| p.last_event == event.id) {
            // Applied by an earlier delivery of this event: only its emails may be missing.
            return Ok(Attempt::Done(Ok((existing.clone(), false))));
        }
        let (next, audit) = match decide(existing.as_ref())? {
            ProductChange::Write(next, audit) => (next, audit),
            ProductChange::Unchanged(why) => return Ok(Attempt::Done(Err(why))),
        };
        let precondition = existing.as_ref().map_or(Precondition::Absent, |p| Precondition::Version(p.version));
        let write = services.store.put_product(&next, precondition, &audit, &kinds(&emails(&next))).await;
        Attempt::after(write, Ok((*next, true)))
    })
    .await?;
    let (product, intents_recorded) = match outcome {
        Ok(applied) => applied,
        Err(unchanged) => return Ok(Err(unchanged)),
    };
    send_once(services, event, provider, actor_id, emails(&product), intents_recorded).await?;
    Ok(Ok(product))
}

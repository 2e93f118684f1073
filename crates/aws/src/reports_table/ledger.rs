//! The delivery ledger (`DELIVERY#<date>` items for daily reports, `DELIVERY#STATEMENT#<yyyy-mm>`
//! for monthly statements): conditional claim, hand-over, record and release for
//! `marketplace_reports::delivery` (whose module docs give the protocol). `state` is `CLAIMED`,
//! `SENDING` (handed to SES), `SENT` or `SUPPRESSED` (the recipient is undeliverable); every write is conditional on the run's `token`, so an
//! SDK retry of a write that succeeded passes again.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use marketplace_core::DomainError;
use marketplace_reports::delivery::{ClaimRefused, DeliveryLedger};
use marketplace_reports::storage::{delivery_key, DeliveryOf, Recipient};

use super::table::ReportsTable;
use crate::attributes::Item;
use crate::sdk_error::sdk_error;

/// Claimed by a run that has not handed the delivery to SES: nothing of it went out.
const CLAIMED: &str = "CLAIMED";
/// Handed to SES: sent or not, nobody knows until it is recorded (in doubt after a crash).
/// Entries written before the hand-over step existed were `SENDING` from their claim on, and
/// stay in doubt: the safe reading.
const SENDING: &str = "SENDING";
/// Delivered (SES message ids kept).
const SENT: &str = "SENT";
/// Not sent: the recipient's address is undeliverable (the reason kept). Claimable again, so a
/// run after the contact changed sends it.
const SUPPRESSED: &str = "SUPPRESSED";

fn ledger_key(of: DeliveryOf, to: &Recipient) -> Item {
    let (pk, sk) = delivery_key(of, to);
    Item::from([("pk".to_owned(), Av::S(pk)), ("sk".to_owned(), Av::S(sk))])
}

#[async_trait]
impl DeliveryLedger for ReportsTable {
    async fn claim(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        force: bool,
    ) -> Result<Result<(), ClaimRefused>, DomainError> {
        let mut item = ledger_key(of, to);
        item.insert("state".into(), Av::S(CLAIMED.into()));
        item.insert("token".into(), Av::S(token.into()));
        item.insert("claimed_at".into(), Av::S(chrono::Utc::now().to_rfc3339()));
        let mut put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        if !force {
            // Free, or claimed but never handed to SES (its run died or lost the race before
            // sending anything), or this run's own claim (an SDK retry of a put that succeeded).
            put = put
                .condition_expression(
                    "attribute_not_exists(pk) OR #state IN (:claimed, :suppressed) OR #token = :token",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":claimed", Av::S(CLAIMED.into()))
                .expression_attribute_values(":suppressed", Av::S(SUPPRESSED.into()))
                .expression_attribute_values(":token", Av::S(token.into()));
        }
        match put.send().await {
            Ok(_) => Ok(Ok(())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                let existing = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(ledger_key(of, to)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| sdk_error("GetItem delivery ledger", e))?;
                let state = existing.item.as_ref().and_then(|i| i.get("state")).and_then(|s| s.as_s().ok());
                Ok(Err(if state.is_some_and(|s| s == SENT) {
                    ClaimRefused::AlreadySent
                } else {
                    ClaimRefused::InDoubt
                }))
            }
            Err(e) => Err(sdk_error("PutItem delivery ledger", e)),
        }
    }

    async fn hand_over(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<bool, DomainError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(of, to)))
            .update_expression("SET #state = :sending, handed_over_at = :at")
            .condition_expression("#token = :token AND #state IN (:claimed, :sending)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":sending", Av::S(SENDING.into()))
            .expression_attribute_values(":claimed", Av::S(CLAIMED.into()))
            .expression_attribute_values(":at", Av::S(chrono::Utc::now().to_rfc3339()))
            .expression_attribute_values(":token", Av::S(token.into()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem delivery ledger (hand over)", e)),
        }
    }

    async fn record_sent(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        message_ids: &[String],
    ) -> Result<(), DomainError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(of, to)))
            .update_expression("SET #state = :sent, message_ids = :ids, sent_at = :at")
            .condition_expression("#token = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":sent", Av::S(SENT.into()))
            .expression_attribute_values(":ids", Av::L(message_ids.iter().cloned().map(Av::S).collect()))
            .expression_attribute_values(":at", Av::S(chrono::Utc::now().to_rfc3339()))
            .expression_attribute_values(":token", Av::S(token.into()))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem delivery ledger", e))?;
        Ok(())
    }

    async fn record_suppressed(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        reason: &str,
    ) -> Result<(), DomainError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(of, to)))
            .update_expression("SET #state = :suppressed, reason = :reason, suppressed_at = :at")
            .condition_expression("#token = :token AND #state = :claimed")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":suppressed", Av::S(SUPPRESSED.into()))
            .expression_attribute_values(":claimed", Av::S(CLAIMED.into()))
            .expression_attribute_values(":reason", Av::S(reason.into()))
            .expression_attribute_values(":at", Av::S(chrono::Utc::now().to_rfc3339()))
            .expression_attribute_values(":token", Av::S(token.into()))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem delivery ledger (suppressed)", e))?;
        Ok(())
    }

    async fn release(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<(), DomainError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(ledger_key(of, to)))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", Av::S(token.into()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(sdk_error("DeleteItem delivery ledger", e)),
        }
    }
}

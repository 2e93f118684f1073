//! The delivery ledger (`DELIVERY#<date>` items for daily reports, `DELIVERY#STATEMENT#<yyyy-mm>`
//! for monthly statements): conditional claim, record and release for
//! `marketplace_reports::delivery`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use marketplace_core::DomainError;
use marketplace_reports::delivery::{ClaimRefused, DeliveryLedger};
use marketplace_reports::storage::{delivery_key, DeliveryOf, Recipient};

use super::table::ReportsTable;
use crate::attributes::Item;
use crate::sdk_error::sdk_error;

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
        item.insert("state".into(), Av::S("SENDING".into()));
        item.insert("token".into(), Av::S(token.into()));
        item.insert("claimed_at".into(), Av::S(chrono::Utc::now().to_rfc3339()));
        let mut put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        if !force {
            put = put.condition_expression("attribute_not_exists(pk)");
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
                let sent = existing
                    .item
                    .as_ref()
                    .and_then(|i| i.get("state"))
                    .and_then(|s| s.as_s().ok())
                    .is_some_and(|s| s == "SENT");
                Ok(Err(if sent { ClaimRefused::AlreadySent } else { ClaimRefused::InDoubt }))
            }
            Err(e) => Err(sdk_error("PutItem delivery ledger", e)),
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
            .expression_attribute_values(":sent", Av::S("SENT".into()))
            .expression_attribute_values(":ids", Av::L(message_ids.iter().cloned().map(Av::S).collect()))
            .expression_attribute_values(":at", Av::S(chrono::Utc::now().to_rfc3339()))
            .expression_attribute_values(":token", Av::S(token.into()))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem delivery ledger", e))?;
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

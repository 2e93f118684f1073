//! Who a delivery's ledger already has as sent, read in one paged `Query` of its partition
//! (`DELIVERY#MPA#<version>`: one item per provider): the MPA campaign reads it once a run, so
//! that a re-run skips every notice sent before without a claim (two round trips) per provider.
//! A read, not a decision: a provider not listed still goes through the ledger's claim.

use std::collections::BTreeSet;

use marketplace_reports::storage::{delivery_key, DeliveryOf, Recipient};

use super::table::{KeyQuery, ReportsTable};
use crate::attributes::text;
use crate::sdk_error::AwsError;

/// The ledger's `state` of a delivery recorded as sent (`super::ledger`).
const SENT: &str = "SENT";

impl ReportsTable {
    /// The providers whose delivery of `of` the ledger records as sent.
    pub async fn sent_to_providers(&self, of: DeliveryOf) -> Result<BTreeSet<String>, AwsError> {
        let (pk, prefix) = delivery_key(of, &Recipient::Provider(String::new()));
        let items = self.query(KeyQuery::on("pk", pk).sk_prefix(prefix.clone())).await?;
        Ok(items
            .iter()
            .filter(|item| text(item, "state") == SENT)
            .filter_map(|item| text(item, "sk").strip_prefix(&prefix).map(str::to_owned))
            .collect())
    }
}

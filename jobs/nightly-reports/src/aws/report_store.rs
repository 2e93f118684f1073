//! Report and summary items in the `Reports` table (`BatchWriteItem`, 25 per call); key design in
//! `marketplace_domain::report::storage`.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use marketplace_aws::attributes::to_item;
use marketplace_domain::report::storage::{delivery_key, report_items, Recipient, BY_DATE_INDEX};
use marketplace_domain::report::DailyReport;
use marketplace_domain::DomainError;

use super::{batch_put, dynamo, AwsError};

/// The `Reports` table: report items and the delivery ledger.
#[derive(Clone, Debug)]
pub struct ReportsTable {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl ReportsTable {
    /// Store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        ReportsTable { client, table: table.into() }
    }

    /// Stores a date's report and summary rows, then deletes rows of that date a previous run
    /// stored that this run no longer has (a re-computation can only shrink after corrected
    /// logs); returns how many items were written.
    pub async fn store(&self, report: &DailyReport) -> Result<usize, AwsError> {
        let items = report_items(report).iter().map(to_item).collect::<Result<Vec<_>, DomainError>>()?;
        let current: HashSet<(String, String)> = items.iter().map(item_key).collect();
        let written = batch_put(&self.client, &self.table, items).await?;
        let date = report.date;
        let mut stored = self.query_keys(None, "pk", &format!("SUMMARY#{date}")).await?;
        stored.extend(self.query_keys(Some(BY_DATE_INDEX), "gsi1pk", &format!("DAY#{date}")).await?);
        for stale in stored.into_iter().filter(|k| !current.contains(k)) {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", Av::S(stale.0))
                .key("sk", Av::S(stale.1))
                .send()
                .await
                .map_err(dynamo("DeleteItem", &self.table))?;
        }
        Ok(written)
    }

    /// The (`pk`, `sk`) of every item whose `key` is `value` (on the table or an index), all pages.
    async fn query_keys(&self, index: Option<&str>, key: &str, value: &str) -> Result<Vec<(String, String)>, AwsError> {
        let items: Vec<HashMap<String, Av>> = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", key)
            .expression_attribute_values(":v", Av::S(value.to_owned()))
            .projection_expression("pk, sk")
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(dynamo("Query", &self.table))?;
        Ok(items.iter().map(item_key).collect())
    }

    pub(crate) fn key(date: NaiveDate, to: &Recipient) -> HashMap<String, Av> {
        let (pk, sk) = delivery_key(date, to);
        HashMap::from([("pk".to_owned(), Av::S(pk)), ("sk".to_owned(), Av::S(sk))])
    }
}

fn item_key(item: &HashMap<String, Av>) -> (String, String) {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    (text("pk"), text("sk"))
}

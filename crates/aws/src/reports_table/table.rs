//! The `Reports` table as a store: its client and name, and the paged key queries and replacing
//! writes the item adapters beside this file share.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::Client;

use crate::attributes::{text, Item};
use crate::batch_write::batch_put;
use crate::sdk_error::AwsError;

/// The `Reports` table: report rows, month sums, late logs, statements and the delivery ledger.
#[derive(Clone, Debug)]
pub struct ReportsTable {
    pub(super) client: Client,
    pub(super) table: String,
    /// `Limit` of every `Query` page (`None`: DynamoDB's 1 MB pages).
    pub(super) page_limit: Option<i32>,
}

impl ReportsTable {
    /// Store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        ReportsTable { client, table: table.into(), page_limit: None }
    }

    /// The same store reading pages of at most `limit` items (tests force page boundaries).
    pub fn with_page_limit(mut self, limit: i32) -> Self {
        self.page_limit = Some(limit);
        self
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// Puts one item (a plain `PutItem`: the same content overwrites itself unchanged).
    pub(super) async fn put(&self, item: Item) -> Result<(), AwsError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(AwsError::dynamo("PutItem", &self.table))?;
        Ok(())
    }

    /// Writes `items`, then deletes the `stored` keys they do not overwrite; returns how many
    /// items were written.
    pub(super) async fn replace(&self, stored: Vec<(String, String)>, items: Vec<Item>) -> Result<usize, AwsError> {
        let current: HashSet<(String, String)> = items.iter().map(item_key).collect();
        let written = batch_put(&self.client, &self.table, items).await?;
        for stale in stored.into_iter().filter(|k| !current.contains(k)) {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", Av::S(stale.0))
                .key("sk", Av::S(stale.1))
                .send()
                .await
                .map_err(AwsError::dynamo("DeleteItem", &self.table))?;
        }
        Ok(written)
    }

    /// The keys of every item of a key condition.
    pub(super) async fn keys(&self, query: KeyQuery<'_>) -> Result<Vec<(String, String)>, AwsError> {
        Ok(self.query(query.projection("pk, sk")).await?.iter().map(item_key).collect())
    }

    /// Every item of a key condition, all pages.
    pub(super) async fn query(&self, q: KeyQuery<'_>) -> Result<Vec<Item>, AwsError> {
        let mut condition = "#k = :v".to_owned();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(str::to_owned))
            .set_limit(self.page_limit)
            .expression_attribute_names("#k", q.key)
            .expression_attribute_values(":v", Av::S(q.value));
        match q.sk {
            SortKeys::All => {}
            SortKeys::Prefix(prefix) => {
                condition.push_str(" AND begins_with(sk, :prefix)");
                request = request.expression_attribute_values(":prefix", Av::S(prefix));
            }
            SortKeys::Between(lo, hi) => {
                condition.push_str(" AND sk BETWEEN :lo AND :hi");
                request =
                    request.expression_attribute_values(":lo", Av::S(lo)).expression_attribute_values(":hi", Av::S(hi));
            }
        }
        request
            .key_condition_expression(condition)
            .set_projection_expression(q.projection.map(str::to_owned))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(AwsError::dynamo("Query", &self.table))
    }
}

/// A query's key condition on the table or an index.
pub(super) struct KeyQuery<'a> {
    index: Option<&'a str>,
    key: &'a str,
    value: String,
    sk: SortKeys,
    projection: Option<&'a str>,
}

/// Which sort keys of the partition a query reads.
enum SortKeys {
    All,
    /// `begins_with(sk, prefix)`.
    Prefix(String),
    /// `sk BETWEEN lo AND hi`.
    Between(String, String),
}

impl<'a> KeyQuery<'a> {
    /// Items whose `key` (`pk`, or an index's key) is `value`.
    pub(super) fn on(key: &'a str, value: String) -> Self {
        KeyQuery { index: None, key, value, sk: SortKeys::All, projection: None }
    }
    pub(super) fn index(mut self, index: &'a str) -> Self {
        self.index = Some(index);
        self
    }
    pub(super) fn sk_prefix(mut self, prefix: String) -> Self {
        self.sk = SortKeys::Prefix(prefix);
        self
    }
    pub(super) fn sk_between(mut self, (lo, hi): (String, String)) -> Self {
        self.sk = SortKeys::Between(lo, hi);
        self
    }
    fn projection(mut self, projection: &'a str) -> Self {
        self.projection = Some(projection);
        self
    }
}

fn item_key(item: &Item) -> (String, String) {
    (text(item, "pk"), text(item, "sk"))
}

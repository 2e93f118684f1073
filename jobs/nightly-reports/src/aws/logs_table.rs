//! The DynamoDB source: one report run reads its days as [`SHARDS`] `Query` calls per day on
//! `pk = DAY#<date>#<shard>` (shards `00`..`15`), at most `parallelism` at a time, following
//! `LastEvaluatedKey`. Pages go out through a bounded channel as they arrive (the aggregation
//! is `crate::pipeline::aggregate_pages`), so memory is a few pages plus the group totals.

use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use futures::{stream, StreamExt, TryStreamExt};
use marketplace_aws::attributes::{report_item, sdk_item};
use marketplace_aws::batch_write::batch_put;
use marketplace_aws::sdk_error::AwsError;
use marketplace_reports::storage::day_key::{log_partition, SHARDS};
use marketplace_reports::Item;
use tokio::sync::mpsc;

use crate::partition::Partition;

/// The `DeploymentLogs` table as a source.
#[derive(Clone, Debug)]
pub struct DeploymentLogTable {
    client: Client,
    table: String,
    /// `Limit` of every `Query` page (`None`: DynamoDB's 1 MB pages).
    page_limit: Option<i32>,
}

impl DeploymentLogTable {
    /// Source over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DeploymentLogTable { client, table: table.into(), page_limit: None }
    }

    /// The same source reading pages of at most `limit` items (tests force page boundaries).
    pub fn with_page_limit(mut self, limit: i32) -> Self {
        self.page_limit = Some(limit);
        self
    }

    /// The (day, shard) units of `days`, in order; partitions take every N-th.
    pub fn units(days: impl Iterator<Item = NaiveDate>, partition: Option<Partition>) -> Vec<(NaiveDate, u32)> {
        days.flat_map(|d| (0..SHARDS).map(move |s| (d, s)))
            .enumerate()
            .filter(|(k, _)| partition.is_none_or(|p| p.owns(*k)))
            .map(|(_, u)| u)
            .collect()
    }

    /// Reads every (day, shard) unit, at most `parallelism` shard queries at a time, sending
    /// each non-empty page with its day to `pages`. Stops early, without error, once the
    /// receiver is gone (the aggregation failed and reports why).
    pub async fn read(
        &self,
        units: Vec<(NaiveDate, u32)>,
        parallelism: usize,
        pages: mpsc::Sender<(NaiveDate, Vec<Item>)>,
    ) -> Result<(), AwsError> {
        stream::iter(units)
            .map(|(day, shard)| self.query_shard(day, shard, pages.clone()))
            .buffer_unordered(parallelism.max(1))
            .try_for_each(|()| async { Ok(()) })
            .await
    }

    async fn query_shard(
        &self,
        day: NaiveDate,
        shard: u32,
        pages: mpsc::Sender<(NaiveDate, Vec<Item>)>,
    ) -> Result<(), AwsError> {
        let pk = log_partition(day, shard);
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", Av::S(pk.clone()))
                .set_exclusive_start_key(start.take())
                .set_limit(self.page_limit)
                .send()
                .await
                .map_err(AwsError::dynamo("Query", &self.table))?;
            let page: Vec<Item> = out.items.unwrap_or_default().into_iter().map(report_item).collect();
            if !page.is_empty() && pages.send((day, page)).await.is_err() {
                return Ok(()); // the aggregator stopped; its error is reported there
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(()),
            }
        }
    }

    /// Loads items (e.g. from the generator) into the table.
    pub async fn load(&self, items: Vec<Item>) -> Result<usize, AwsError> {
        batch_put(&self.client, &self.table, items.iter().map(sdk_item).collect()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketplace_reports::aggregate::Aggregator;
    use marketplace_reports::ReportPlan;

    #[test]
    fn a_day_is_sixteen_shards_and_partitions_split_them() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 2).unwrap_or_default();
        let days = || Aggregator::new(ReportPlan::single(d)).days_to_read().collect::<Vec<_>>().into_iter();
        let all = DeploymentLogTable::units(days(), None);
        assert_eq!(all.len(), 2 * 16, "Feb 1 and 2 (month to date)");
        let parts: Vec<Vec<(NaiveDate, u32)>> =
            (0..3).map(|index| DeploymentLogTable::units(days(), Some(Partition { index, count: 3 }))).collect();
        let mut union: Vec<(NaiveDate, u32)> = parts.iter().flatten().copied().collect();
        assert_eq!(union.len(), all.len(), "no unit is in two partitions");
        union.sort();
        let mut sorted_all = all.clone();
        sorted_all.sort();
        assert_eq!(union, sorted_all, "together the partitions cover every unit");
        assert!(parts.iter().all(|p| !p.is_empty()));
    }
}

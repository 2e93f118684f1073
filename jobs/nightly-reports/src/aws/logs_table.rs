//! The DynamoDB source: one report run reads its days as 16 `Query` calls per day on
//! `pk = DAY#<date>#<shard>` (shards `00`..`15`), at most `parallelism` at a time, following
//! `LastEvaluatedKey`. Pages flow through a bounded channel into the aggregator, so memory is a
//! few pages plus the group totals.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use futures::{stream, StreamExt, TryStreamExt};
use marketplace_reports::aggregate::Aggregator;
use marketplace_reports::attribute::Item;
use marketplace_reports::record::day_of_partition_key;
use tokio::sync::mpsc;

use super::{batch_put, dynamo, from_sdk, to_sdk, AwsError, SHARDS};
use crate::partition::Partition;
use crate::spill::{Spill, SPILL_ROWS};

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

    async fn query_shard(&self, day: NaiveDate, shard: u32, tx: mpsc::Sender<Vec<Item>>) -> Result<(), AwsError> {
        let pk = format!("DAY#{day}#{shard:02}");
        let mut start: Option<HashMap<String, Av>> = None;
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
                .map_err(dynamo("Query", &self.table))?;
            let page: Vec<Item> = out
                .items
                .unwrap_or_default()
                .iter()
                .map(|i| i.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect())
                .collect();
            if !page.is_empty() && tx.send(page).await.is_err() {
                return Ok(()); // the aggregator stopped; its error is reported there
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(()),
            }
        }
    }

    /// Counts the days `agg` reads (from its `read_from` to the plan's last date; or one
    /// partition of their day-shards) into it.
    pub async fn aggregate(
        &self,
        agg: Aggregator,
        partition: Option<Partition>,
        parallelism: usize,
        spill: Option<&Spill>,
    ) -> Result<Aggregator, AwsError> {
        Ok(self.aggregate_counting(agg, partition, parallelism, spill).await?.0)
    }

    /// [`Self::aggregate`], also returning how many items each day's shards held.
    pub async fn aggregate_counting(
        &self,
        agg: Aggregator,
        partition: Option<Partition>,
        parallelism: usize,
        spill: Option<&Spill>,
    ) -> Result<(Aggregator, BTreeMap<NaiveDate, u64>), AwsError> {
        let units = Self::units(agg.days_to_read(), partition);
        let (tx, mut rx) = mpsc::channel::<Vec<Item>>(parallelism.max(1) * 2);
        let producer = async move {
            let result = stream::iter(units)
                .map(|(day, shard)| self.query_shard(day, shard, tx.clone()))
                .buffer_unordered(parallelism.max(1))
                .try_for_each(|()| async { Ok(()) })
                .await;
            drop(tx);
            result
        };
        let consumer = async {
            let mut agg = agg;
            let mut failed = None;
            let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
            while let Some(page) = rx.recv().await {
                if failed.is_some() {
                    continue;
                }
                for item in &page {
                    if let Some(day) = day_of_partition_key(item) {
                        *per_day.entry(day).or_default() += 1;
                    }
                }
                for item in &page {
                    if let Err(e) = agg.ingest_item(item, &|| "item without deployment_id or keys".to_owned()) {
                        failed = Some(AwsError::from(e));
                        break;
                    }
                }
                if let Some(spill) = spill.filter(|_| agg.held_rows() >= SPILL_ROWS) {
                    if let Err(e) = spill.add(agg.take_rows()) {
                        failed = Some(AwsError::Spill(e));
                    }
                }
            }
            if let (None, Some(spill)) = (&failed, spill) {
                if let Err(e) = spill.add(agg.take_rows()) {
                    failed = Some(AwsError::Spill(e));
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok((agg, per_day)),
            }
        };
        let (produced, consumed) = tokio::join!(producer, consumer);
        produced?;
        let (agg, per_day) = consumed?;
        tracing::info!(groups = agg.group_count(), stats = ?agg.stats(), "DeploymentLogs aggregated");
        Ok((agg, per_day))
    }

    /// Loads items (e.g. from the generator) into the table.
    pub async fn load(&self, items: Vec<Item>) -> Result<usize, AwsError> {
        let items = items.iter().map(|i| i.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()).collect();
        batch_put(&self.client, &self.table, items).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

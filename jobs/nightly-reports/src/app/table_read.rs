//! A run's read of the DeploymentLogs table: the source's pages
//! ([`DeploymentLogTable::read`]) flow through a bounded channel into the aggregator
//! ([`aggregate_pages`]), so memory is a few pages plus the group totals.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use marketplace_reports::aggregate::Aggregator;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::error::AppError;
use crate::aws::DeploymentLogTable;
use crate::partition::Partition;
use crate::pipeline::aggregate_pages;
use crate::spill::Spill;

/// What a table run read: when its read of the DeploymentLogs day-shards started, and how many
/// items each day held. Both go into the dates' month-sums marks. A scale-out partition hands
/// its own over to the merge beside its partial (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRead {
    /// When the run started reading (changes from then on may be missing from its reports).
    pub started_at: DateTime<Utc>,
    /// Items read per day.
    pub items: BTreeMap<NaiveDate, u64>,
}

impl TableRead {
    /// What the partitions' reads together read: from the earliest start on (a change before it
    /// was read by every partition; one at or after it may be missing from one), every day's
    /// items summed.
    pub fn combined(reads: impl IntoIterator<Item = TableRead>) -> Option<TableRead> {
        reads.into_iter().reduce(|mut all, read| {
            all.started_at = all.started_at.min(read.started_at);
            for (date, n) in read.items {
                *all.items.entry(date).or_insert(0) += n;
            }
            all
        })
    }
}

/// Counts the days `agg` reads (from its `read_from` to the plan's last date; or one
/// partition of their day-shards) into it, at most `parallelism` shard queries at a time;
/// returns it with how many items each day's shards held.
pub async fn read_table(
    logs: &DeploymentLogTable,
    agg: Aggregator,
    partition: Option<Partition>,
    parallelism: usize,
    spill: Option<&Spill>,
) -> Result<(Aggregator, BTreeMap<NaiveDate, u64>), AppError> {
    let units = DeploymentLogTable::units(agg.days_to_read(), partition);
    let (pages, received) = mpsc::channel(parallelism.max(1) * 2);
    let (read, aggregated) = tokio::join!(logs.read(units, parallelism, pages), aggregate_pages(agg, received, spill));
    read?;
    let (agg, per_day) = aggregated?;
    tracing::info!(groups = agg.group_count(), stats = ?agg.stats(), "DeploymentLogs aggregated");
    Ok((agg, per_day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_read_from_the_earliest_start_and_their_days_add_up() {
        let read = |start: &str, n: u64| TableRead {
            started_at: start.parse().expect("instant"),
            items: [("2026-02-14".parse().expect("date"), n)].into_iter().collect(),
        };
        let all = TableRead::combined([read("2026-02-15T02:00:07Z", 3), read("2026-02-15T02:00:01Z", 4)]);
        assert_eq!(all, Some(read("2026-02-15T02:00:01Z", 7)));
        assert_eq!(TableRead::combined([]), None);
    }
}

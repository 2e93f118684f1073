//! The exact month sums of a report date (every group of its month so far) and the mark that
//! they are complete, written last; what a later night builds on and what tells late logs.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue as Av;
use chrono::{DateTime, NaiveDate, Utc};
use marketplace_core::DomainError;
use marketplace_reports::aggregate::{Aggregator, GroupKey, GroupTotals};
use marketplace_reports::storage::{
    day_key, month_sums_mark_sk, month_sums_pk, MonthSumsItem, MonthSumsMark, MONTH_SUMS_MARK_PREFIX,
};

use super::table::{KeyQuery, ReportsTable};
use crate::attributes::{from_item, to_item};
use crate::sdk_error::AwsError;

impl ReportsTable {
    /// Stores the exact month sums as of `date` (every group of the month so far), replacing
    /// what an earlier run stored for that date, and marks the date complete last (with the
    /// number of DeploymentLogs items read for it and when that read started, when known).
    pub async fn store_month_sums(
        &self,
        date: NaiveDate,
        agg: &Aggregator,
        logs_read: Option<u64>,
        read_started_at: Option<DateTime<Utc>>,
    ) -> Result<usize, AwsError> {
        let month = agg.month_to_date(date)?;
        let day: HashMap<&GroupKey, &GroupTotals> = agg.day_totals(date).collect();
        let items = month
            .iter()
            .map(|(key, mtd)| to_item(&MonthSumsItem::new(date, key, mtd, day.get(key).copied())))
            .collect::<Result<Vec<_>, DomainError>>()?;
        let stored = self.keys(KeyQuery::on("pk", month_sums_pk(date)).sk_prefix(day_key::day_prefix(date))).await?;
        let written = self.replace(stored, items).await?;
        self.put(to_item(&MonthSumsMark::new(date, month.len() as u64, logs_read, read_started_at))?).await?;
        Ok(written + 1)
    }

    /// The mark of `date`'s month sums, if the date was stored.
    pub async fn month_sums_mark(&self, date: NaiveDate) -> Result<Option<MonthSumsMark>, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Av::S(month_sums_pk(date)))
            .key("sk", Av::S(month_sums_mark_sk(date)))
            .send()
            .await
            .map_err(AwsError::dynamo("GetItem", &self.table))?;
        Ok(out.item.as_ref().map(from_item).transpose()?)
    }

    /// The month-sums marks of `month`'s month (one paged `Query`), by date.
    pub async fn month_sums_marks(&self, month: NaiveDate) -> Result<BTreeMap<NaiveDate, MonthSumsMark>, AwsError> {
        let query = KeyQuery::on("pk", month_sums_pk(month)).sk_prefix(MONTH_SUMS_MARK_PREFIX.to_owned());
        let mut marks = BTreeMap::new();
        for item in self.query(query).await? {
            let mark: MonthSumsMark = from_item(&item)?;
            marks.insert(mark.report_date, mark);
        }
        Ok(marks)
    }

    /// Dates of `month`'s month whose month sums are complete, ascending.
    pub async fn month_sums_dates(&self, month: NaiveDate) -> Result<Vec<NaiveDate>, AwsError> {
        let keys =
            self.keys(KeyQuery::on("pk", month_sums_pk(month)).sk_prefix(MONTH_SUMS_MARK_PREFIX.to_owned())).await?;
        let mut dates: Vec<NaiveDate> = keys
            .iter()
            .filter_map(|(_, sk)| sk.strip_prefix(MONTH_SUMS_MARK_PREFIX).and_then(|d| d.parse().ok()))
            .collect();
        dates.sort();
        Ok(dates)
    }

    /// The exact month-to-date sums of every group as of `date`.
    pub async fn month_sums(&self, date: NaiveDate) -> Result<Vec<(GroupKey, GroupTotals)>, AwsError> {
        let query = KeyQuery::on("pk", month_sums_pk(date)).sk_prefix(day_key::day_prefix(date));
        let mut sums = Vec::new();
        for item in self.query(query).await? {
            let stored: MonthSumsItem = from_item(&item)?;
            sums.push(stored.totals().map_err(|e| DomainError::infra("read month sums", e))?);
        }
        Ok(sums)
    }
}

//! Report, summary and month-sums items in the `Reports` table (`BatchWriteItem`, 25 per call);
//! key design in `marketplace_reports::storage`.

use std::collections::{BTreeMap, HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, NaiveDate, Utc};
use marketplace_aws::attributes::{from_item, to_item};
use marketplace_core::DomainError;
use marketplace_reports::aggregate::{Aggregator, GroupKey, GroupTotals};
use marketplace_reports::storage::{
    late_logs_pk, month_sums_mark_sk, month_sums_pk, month_sums_prefix, report_items, LateLogItem, MonthSumsItem,
    MonthSumsMark, BY_DATE_INDEX, MONTH_SUMS_MARK_PREFIX,
};
use marketplace_reports::DailyReport;

use super::{batch_put, dynamo, AwsError};

/// The `Reports` table: report items, month sums and (in [`super::ledger`]) the delivery ledger.
#[derive(Clone, Debug)]
pub struct ReportsTable {
    pub(crate) client: Client,
    pub(crate) table: String,
    /// `Limit` of every `Query` page (`None`: DynamoDB's 1 MB pages).
    pub(crate) page_limit: Option<i32>,
}

/// A query's key condition on the table or an index.
struct KeyQuery<'a> {
    index: Option<&'a str>,
    key: &'a str,
    value: String,
    /// `begins_with(sk, prefix)` on the table's sort key.
    sk_prefix: Option<String>,
    projection: Option<&'a str>,
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

    /// Stores a date's report and summary rows, then deletes rows of that date a previous run
    /// stored that this run no longer has (a re-computation can only shrink after corrected
    /// logs); returns how many items were written.
    pub async fn store(&self, report: &DailyReport) -> Result<usize, AwsError> {
        let items = report_items(report).iter().map(to_item).collect::<Result<Vec<_>, DomainError>>()?;
        let date = report.date;
        let mut stored = self.keys(KeyQuery::on("pk", format!("SUMMARY#{date}"))).await?;
        stored.extend(self.keys(KeyQuery::on("gsi1pk", format!("DAY#{date}")).index(BY_DATE_INDEX)).await?);
        self.replace(stored, items).await
    }

    /// Writes `items`, then deletes the `stored` keys they do not overwrite.
    async fn replace(&self, stored: Vec<(String, String)>, items: Vec<HashMap<String, Av>>) -> Result<usize, AwsError> {
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
                .map_err(dynamo("DeleteItem", &self.table))?;
        }
        Ok(written)
    }

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
        let stored = self.keys(KeyQuery::on("pk", month_sums_pk(date)).sk_prefix(month_sums_prefix(date))).await?;
        let written = self.replace(stored, items).await?;
        let mark = to_item(&MonthSumsMark::new(date, month.len() as u64, logs_read, read_started_at))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(mark))
            .send()
            .await
            .map_err(dynamo("PutItem", &self.table))?;
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
            .map_err(dynamo("GetItem", &self.table))?;
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

    /// The late logs the `late-logs` function recorded for dates of `month`'s month (one paged
    /// `Query` of `LATE#<yyyy-mm>`).
    pub async fn late_logs(&self, month: NaiveDate) -> Result<Vec<LateLogItem>, AwsError> {
        let mut late = Vec::new();
        for item in self.query(KeyQuery::on("pk", late_logs_pk(month))).await? {
            late.push(from_item(&item)?);
        }
        Ok(late)
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
        let query = KeyQuery::on("pk", month_sums_pk(date)).sk_prefix(month_sums_prefix(date));
        let mut sums = Vec::new();
        for item in self.query(query).await? {
            let stored: MonthSumsItem = from_item(&item)?;
            sums.push(stored.totals().map_err(|e| DomainError::infra("read month sums", e))?);
        }
        Ok(sums)
    }

    async fn keys(&self, query: KeyQuery<'_>) -> Result<Vec<(String, String)>, AwsError> {
        Ok(self.query(query.projection("pk, sk")).await?.iter().map(item_key).collect())
    }

    /// Every item of a key condition, all pages.
    async fn query(&self, q: KeyQuery<'_>) -> Result<Vec<HashMap<String, Av>>, AwsError> {
        let mut condition = "#k = :v".to_owned();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(str::to_owned))
            .set_limit(self.page_limit)
            .expression_attribute_names("#k", q.key)
            .expression_attribute_values(":v", Av::S(q.value));
        if let Some(prefix) = q.sk_prefix {
            condition.push_str(" AND begins_with(sk, :prefix)");
            request = request.expression_attribute_values(":prefix", Av::S(prefix));
        }
        request
            .key_condition_expression(condition)
            .set_projection_expression(q.projection.map(str::to_owned))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(dynamo("Query", &self.table))
    }
}

impl<'a> KeyQuery<'a> {
    fn on(key: &'a str, value: String) -> Self {
        KeyQuery { index: None, key, value, sk_prefix: None, projection: None }
    }
    fn index(mut self, index: &'a str) -> Self {
        self.index = Some(index);
        self
    }
    fn sk_prefix(mut self, prefix: String) -> Self {
        self.sk_prefix = Some(prefix);
        self
    }
    fn projection(mut self, projection: &'a str) -> Self {
        self.projection = Some(projection);
        self
    }
}

fn item_key(item: &HashMap<String, Av>) -> (String, String) {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    (text("pk"), text("sk"))
}

//! AWS side of the job, built on `marketplace-aws` (SDK config from the environment, SES raw
//! mailer, provider store, attribute conversion):
//!
//! * [`DeploymentLogTable`] — the DynamoDB source: one report run reads every day of its plan
//!   as 16 `Query` calls per day on `pk = DAY#<date>#<shard>` (shards `00`..`15`), at most
//!   `parallelism` at a time, following `LastEvaluatedKey`. Pages flow through a bounded
//!   channel into the aggregator, so memory is a few pages plus the group totals.
//! * [`ReportsTable`] — stores report and summary items (`BatchWriteItem`, 25 per call,
//!   unprocessed items retried) and implements the delivery ledger (see
//!   `marketplace_domain::report::storage` for the key design and
//!   `marketplace_domain::report::delivery` for the protocol).
//! * [`deliver_reports`] — emails each provider its files and the team the summary, once.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue as Av, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;
use futures::{stream, StreamExt, TryStreamExt};
use marketplace_aws::attributes::to_item;
use marketplace_domain::ports::{Mailer, ProviderStore};
use marketplace_domain::report::aggregate::{AggregateError, Aggregator};
use marketplace_domain::report::attribute::{AttributeValue, Item};
use marketplace_domain::report::delivery::{deliver_once, ClaimRefused, Delivered, DeliveryLedger};
use marketplace_domain::report::email::{provider_report_email, team_summary_email, ATTACHMENT_BUDGET_BYTES};
use marketplace_domain::report::storage::{delivery_key, report_items, Recipient, BY_DATE_INDEX};
use marketplace_domain::report::{DailyReport, ReportPlan};
use marketplace_domain::{DomainError, PortalConfig};
use tokio::sync::mpsc;

use crate::partition::Partition;

/// Day-shards per day (`DAY#<date>#00` .. `#15`).
pub const SHARDS: u32 = 16;

/// Errors of the AWS stages.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A DynamoDB call failed.
    #[error("DynamoDB {operation} on {table}: {message}")]
    Dynamo {
        /// Operation.
        operation: &'static str,
        /// Table.
        table: String,
        /// SDK error text.
        message: String,
    },
    /// An S3 call (scale-out partials) failed.
    #[error("S3 {operation} on bucket {bucket}: {message}")]
    S3 {
        /// Operation.
        operation: &'static str,
        /// Bucket.
        bucket: String,
        /// SDK error text.
        message: String,
    },
    /// Aggregation failed.
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
    /// Domain / mailer / store failure.
    #[error(transparent)]
    Domain(#[from] DomainError),
}

fn dynamo<'a, E, R>(operation: &'static str, table: &'a str) -> impl FnOnce(SdkError<E, R>) -> AwsError + 'a
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| AwsError::Dynamo { operation, table: table.to_owned(), message: DisplayErrorContext(e).to_string() }
}

/// SDK attribute value → the domain's neutral one.
pub fn from_sdk(v: &Av) -> AttributeValue {
    match v {
        Av::S(s) => AttributeValue::S(s.clone()),
        Av::N(n) => AttributeValue::N(n.clone()),
        Av::L(l) => AttributeValue::L(l.iter().map(from_sdk).collect()),
        Av::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), from_sdk(v))).collect()),
        Av::Bool(b) => AttributeValue::BOOL(*b),
        Av::Null(b) => AttributeValue::NULL(*b),
        Av::Ss(v) => AttributeValue::SS(v.clone()),
        Av::Ns(v) => AttributeValue::NS(v.clone()),
        // Binary is never part of the contract; keep its type so the reject reason names it.
        _ => AttributeValue::B(String::new()),
    }
}

/// The domain's attribute value → SDK attribute value (for loading generated items).
pub fn to_sdk(v: &AttributeValue) -> Av {
    match v {
        AttributeValue::S(s) => Av::S(s.clone()),
        AttributeValue::N(n) => Av::N(n.clone()),
        AttributeValue::L(l) => Av::L(l.iter().map(to_sdk).collect()),
        AttributeValue::M(m) => Av::M(m.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()),
        AttributeValue::BOOL(b) => Av::Bool(*b),
        AttributeValue::NULL(b) => Av::Null(*b),
        AttributeValue::SS(v) => Av::Ss(v.clone()),
        AttributeValue::NS(v) => Av::Ns(v.clone()),
        AttributeValue::B(_) | AttributeValue::BS(_) => Av::Null(true),
    }
}

/// Writes items with `BatchWriteItem`, 25 at a time, retrying unprocessed items with backoff.
pub async fn batch_put(client: &Client, table: &str, items: Vec<HashMap<String, Av>>) -> Result<usize, AwsError> {
    let count = items.len();
    let mut requests: Vec<WriteRequest> = Vec::with_capacity(items.len());
    for item in items {
        let put = PutRequest::builder().set_item(Some(item)).build().map_err(|e| AwsError::Dynamo {
            operation: "BatchWriteItem",
            table: table.to_owned(),
            message: e.to_string(),
        })?;
        requests.push(WriteRequest::builder().put_request(put).build());
    }
    for chunk in requests.chunks(25) {
        let mut pending = chunk.to_vec();
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let out = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(dynamo("BatchWriteItem", table))?;
            pending = out.unprocessed_items.and_then(|mut m| m.remove(table)).unwrap_or_default();
            if !pending.is_empty() {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt.min(20)))).await;
            }
        }
    }
    Ok(count)
}

/// The `DeploymentLogs` table as a source.
#[derive(Clone, Debug)]
pub struct DeploymentLogTable {
    client: Client,
    table: String,
}

impl DeploymentLogTable {
    /// Source over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DeploymentLogTable { client, table: table.into() }
    }

    /// The (day, shard) units of `plan`, in order; partitions take every N-th.
    pub fn units(plan: &ReportPlan, partition: Option<Partition>) -> Vec<(NaiveDate, u32)> {
        plan.days_to_read()
            .flat_map(|d| (0..SHARDS).map(move |s| (d, s)))
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

    /// Aggregates the plan's days (or one partition of its day-shards).
    pub async fn aggregate(
        &self,
        plan: ReportPlan,
        partition: Option<Partition>,
        parallelism: usize,
    ) -> Result<Aggregator, AwsError> {
        let units = Self::units(&plan, partition);
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
            let mut agg = Aggregator::new(plan);
            let mut failed = None;
            while let Some(page) = rx.recv().await {
                if failed.is_some() {
                    continue;
                }
                for item in &page {
                    if let Err(e) = agg.ingest_item(item, &|| "item without deployment_id or keys".to_owned()) {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                Some(e) => Err(AwsError::from(e)),
                None => Ok(agg),
            }
        };
        let (produced, consumed) = tokio::join!(producer, consumer);
        produced?;
        let agg = consumed?;
        tracing::info!(groups = agg.group_count(), stats = ?agg.stats(), "DeploymentLogs aggregated");
        Ok(agg)
    }

    /// Loads items (e.g. from the generator) into the table.
    pub async fn load(&self, items: Vec<Item>) -> Result<usize, AwsError> {
        let items = items.iter().map(|i| i.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()).collect();
        batch_put(&self.client, &self.table, items).await
    }
}

/// The `Reports` table: report items and the delivery ledger.
#[derive(Clone, Debug)]
pub struct ReportsTable {
    client: Client,
    table: String,
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
        let current: std::collections::HashSet<(String, String)> = items.iter().map(item_key).collect();
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

    fn key(date: NaiveDate, to: &Recipient) -> HashMap<String, Av> {
        let (pk, sk) = delivery_key(date, to);
        HashMap::from([("pk".to_owned(), Av::S(pk)), ("sk".to_owned(), Av::S(sk))])
    }
}

fn item_key(item: &HashMap<String, Av>) -> (String, String) {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    (text("pk"), text("sk"))
}

fn infra<E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
) -> impl FnOnce(SdkError<E, R>) -> DomainError {
    move |e| DomainError::infra(operation, DisplayErrorContext(e))
}

#[async_trait]
impl DeliveryLedger for ReportsTable {
    async fn claim(
        &self,
        date: NaiveDate,
        to: &Recipient,
        token: &str,
        force: bool,
    ) -> Result<Result<(), ClaimRefused>, DomainError> {
        let mut item = Self::key(date, to);
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
                    .set_key(Some(Self::key(date, to)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(infra("GetItem delivery ledger"))?;
                let sent = existing
                    .item
                    .as_ref()
                    .and_then(|i| i.get("state"))
                    .and_then(|s| s.as_s().ok())
                    .is_some_and(|s| s == "SENT");
                Ok(Err(if sent { ClaimRefused::AlreadySent } else { ClaimRefused::InDoubt }))
            }
            Err(e) => Err(infra("PutItem delivery ledger")(e)),
        }
    }

    async fn record_sent(
        &self,
        date: NaiveDate,
        to: &Recipient,
        token: &str,
        message_ids: &[String],
    ) -> Result<(), DomainError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(date, to)))
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
            .map_err(infra("UpdateItem delivery ledger"))?;
        Ok(())
    }

    async fn release(&self, date: NaiveDate, to: &Recipient, token: &str) -> Result<(), DomainError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(date, to)))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", Av::S(token.into()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(infra("DeleteItem delivery ledger")(e)),
        }
    }
}

/// Counts of one delivery pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Messages sent.
    pub sent: usize,
    /// Deliveries skipped as already sent.
    pub already_sent: usize,
    /// Deliveries skipped as in doubt (claimed, never recorded).
    pub in_doubt: usize,
    /// Providers without a contact address in the provider store.
    pub no_recipient: usize,
}

/// Everything delivery needs.
pub struct DeliveryServices<'a> {
    /// Ledger.
    pub ledger: &'a dyn DeliveryLedger,
    /// Mailer (SES).
    pub mailer: &'a dyn Mailer,
    /// Provider contact addresses.
    pub providers: &'a dyn ProviderStore,
    /// Sender, reply-to, team inbox, portal URL.
    pub config: &'a PortalConfig,
}

/// Emails every provider of `report` its files and the team the summary, once per (date,
/// recipient) unless `resend`.
pub async fn deliver_reports(
    services: &DeliveryServices<'_>,
    report: &DailyReport,
    resend: bool,
) -> Result<DeliveryCounts, AwsError> {
    let mut counts = DeliveryCounts::default();
    let token = format!("{}-{}", std::process::id(), chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
    let tally = |d: Delivered, counts: &mut DeliveryCounts| match d {
        Delivered::Sent(ids) => counts.sent += ids.len(),
        Delivered::AlreadySent => counts.already_sent += 1,
        Delivered::InDoubt => {
            counts.in_doubt += 1;
        }
    };
    for provider_id in report.providers.keys() {
        let Some(provider) = services.providers.get_provider(provider_id).await? else {
            tracing::warn!(provider_id, "no provider record: report not emailed");
            counts.no_recipient += 1;
            continue;
        };
        let Some(email) = provider_report_email(
            services.config,
            report,
            provider_id,
            provider.contact_email,
            ATTACHMENT_BUDGET_BYTES,
        ) else {
            continue;
        };
        let to = Recipient::Provider(provider_id.clone());
        let outcome =
            deliver_once(services.ledger, services.mailer, report.date, &to, &[email], &token, resend).await?;
        if outcome == Delivered::InDoubt {
            tracing::warn!(provider_id, date = %report.date, "delivery in doubt (claimed earlier, never recorded); use --resend after checking");
        }
        tally(outcome, &mut counts);
    }
    let team = team_summary_email(services.config, report, ATTACHMENT_BUDGET_BYTES);
    let outcome =
        deliver_once(services.ledger, services.mailer, report.date, &Recipient::Team, &[team], &token, resend).await?;
    tally(outcome, &mut counts);
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_sixteen_shards_and_partitions_split_them() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 2).unwrap_or_default();
        let plan = ReportPlan::single(d);
        let all = DeploymentLogTable::units(&plan, None);
        assert_eq!(all.len(), 2 * 16, "Feb 1 and 2 (month to date)");
        let p0 = DeploymentLogTable::units(&plan, Some(Partition { index: 0, count: 3 }));
        let p1 = DeploymentLogTable::units(&plan, Some(Partition { index: 1, count: 3 }));
        let p2 = DeploymentLogTable::units(&plan, Some(Partition { index: 2, count: 3 }));
        assert_eq!(p0.len() + p1.len() + p2.len(), all.len());
    }

    #[test]
    fn sdk_conversion_round_trips_nested_values() {
        let v = AttributeValue::M(Item::from([(
            "errors".to_owned(),
            AttributeValue::L(vec![AttributeValue::S("x".into()), AttributeValue::N("1.50".into())]),
        )]));
        assert_eq!(from_sdk(&to_sdk(&v)), v);
    }
}

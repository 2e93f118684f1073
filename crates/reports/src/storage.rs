//! The `Reports` table: report rows as items, and the delivery ledger.
//!
//! Keys are strings `pk` / `sk`; one GSI `ByDate` on `gsi1pk` / `gsi1sk`.
//!
//! | item            | `pk`                    | `sk`                                        | `gsi1pk`     | `gsi1sk` |
//! |-----------------|-------------------------|---------------------------------------------|--------------|----------|
//! | report row      | `PROVIDER#<provider>`   | `DAY#<date>#PRODUCT#<product>#<currency>`   | `DAY#<date>` | `PROVIDER#<provider>#PRODUCT#<product>#<currency>` |
//! | summary row     | `SUMMARY#<date>`        | `PROVIDER#<provider>#<currency>`            | —            | — |
//! | delivery ledger | `DELIVERY#<date>`       | `PROVIDER#<provider>` or `TEAM`             | —            | — |
//! | statement ledger | `DELIVERY#STATEMENT#<yyyy-mm>` | `PROVIDER#<provider>`              | —            | — |
//! | MPA notice ledger | `DELIVERY#MPA#<version>` | `PROVIDER#<provider>`                      | —            | — |
//! | monthly statement | `PROVIDER#<provider>` | `STATEMENT#<yyyy-mm>`                       | —            | — |
//! | month sums      | `SUMS#<yyyy-mm>`        | `DAY#<date>#PROVIDER#<provider>#PRODUCT#<product>#<currency>` | — | — |
//! | month-sums mark | `SUMS#<yyyy-mm>`        | `DATE#<date>`                               | —            | — |
//! | late log        | `LATE#<yyyy-mm>`        | `<date>#<stream event id>`                  | —            | — |
//! | send-rate slots | `SES#RATE`              | `<epoch second>` (`sent`: messages taken)    | —            | — |
//!
//! * **Month sums** (issue 9) make a night read only its own day: for every group of the month
//!   so far, the exact (unrounded) month-to-date sums as of a report date, plus that day's own
//!   exact sums when the group had deployments on it. The next night's month-to-date is these
//!   sums plus its own day. The mark is written after all of a date's sums, so a date without a
//!   mark is one whose sums cannot be trusted (never stored, or a crash while storing); the job
//!   then reads the logs of the days since the last marked date instead. The mark is the one
//!   item with a run timestamp: when the run started reading the date's logs
//!   ([`MonthSumsMark::read_started_at`]).
//! * A **late log** ([`LateLogItem`]) is a change to a DeploymentLogs item (insert, update or
//!   delete) of a date whose report was already stored, made after that report's run started
//!   reading ([`changed_after_read`]). The `late-logs` function writes one per DynamoDB stream
//!   record (keyed by its event id, so a redelivered record is written once); the next night
//!   reads the month's late logs with one `Query` and names, per date, those newer than the
//!   date's latest run ([`late_counts`]): a re-run of the date makes the older ones moot. They
//!   expire (TTL attribute `expires_at`) after [`LATE_LOG_RETENTION_DAYS`].
//! * The portal reads one provider's figures for a date range with one `Query`:
//!   `pk = PROVIDER#p AND sk BETWEEN "DAY#<from>" AND "DAY#<to>~"` (`~` sorts after `#`).
//!   Every `DAY#` key is built and read in [`day_key`].
//! * The marketplace team reads a date's summary with `Query pk = SUMMARY#<date>`, and every
//!   product row of a date through the GSI: `gsi1pk = DAY#<date>`.
//! * Items carry no run timestamp, so a re-run writes byte-identical items (plain `PutItem`
//!   overwrites). Money is stored as strings with exactly the currency's minor-unit places (the
//!   CSV's text; DynamoDB numbers would drop trailing zeros), counts as numbers.
//! * Ledger items are written only by the delivery protocol ([`super::delivery`]). A daily
//!   report's delivery is keyed by its date, a monthly statement's by its month
//!   ([`DeliveryOf`]), so the two never share a ledger item.
//! * A **monthly statement** ([`StatementItem`]) lives in the provider's partition beside its
//!   daily rows; `STATEMENT#` sorts after every `DAY#` key, so the portal's date-range query
//!   (`DAY#<from>` .. `DAY#<to>~`) never meets it. It carries no run timestamp either: a re-run
//!   of the month puts the same item again.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::aggregate::{Counts, DailyReport, GroupKey, GroupTotals, RowMoney};
use super::statement::{Month, Statement};
use marketplace_core::money::{format_money, parse_dynamodb_number, Currency};

pub mod day_key;
pub mod late_log;
pub mod mpa_notice;

pub use late_log::{changed_after_read, late_counts, late_log_sk, late_logs_pk, LateLogItem, LATE_LOG_RETENTION_DAYS};
pub use mpa_notice::MpaNoticeOf;

/// Name of the by-date GSI.
pub const BY_DATE_INDEX: &str = "ByDate";

/// Money as stored: formatted strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMoney {
    /// Rounded revenue.
    pub billable_revenue: String,
    /// Rounded remuneration.
    pub remuneration_value: String,
    /// Revenue − remuneration.
    pub marketplace_fee: String,
}

impl StoredMoney {
    fn new(m: &RowMoney, currency: Currency) -> Self {
        StoredMoney {
            billable_revenue: format_money(m.billable_revenue, currency),
            remuneration_value: format_money(m.remuneration_value, currency),
            marketplace_fee: format_money(m.marketplace_fee, currency),
        }
    }
}

/// One item of the `Reports` table (report row or summary row). Serialises to the item's
/// attributes (strings as `S`, numbers as `N`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportItem {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
    /// GSI partition key (report rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    /// GSI sort key (report rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
    /// `report` or `summary`.
    pub kind: &'static str,
    /// Report date.
    pub report_date: String,
    /// Provider.
    pub provider_id: String,
    /// Product (report rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Product name (report rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// Currency code.
    pub currency: String,
    /// Counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Money.
    #[serde(flatten)]
    pub money: StoredMoney,
}

/// Every item a date's report stores: the product rows, then the summary rows.
pub fn report_items(report: &DailyReport) -> Vec<ReportItem> {
    let date = report.date.to_string();
    let mut items = Vec::new();
    for p in report.providers.values() {
        for r in &p.deployments {
            let group = format!("PRODUCT#{}#{}", r.product_id, r.currency);
            items.push(ReportItem {
                pk: format!("PROVIDER#{}", r.provider_id),
                sk: day_key::day_prefix(report.date) + &group,
                gsi1pk: Some(day_key::day(report.date)),
                gsi1sk: Some(format!("PROVIDER#{}#{group}", r.provider_id)),
                kind: "report",
                report_date: date.clone(),
                provider_id: r.provider_id.clone(),
                product_id: Some(r.product_id.clone()),
                product_name: Some(r.product_name.clone()),
                currency: r.currency.to_string(),
                counts: r.counts,
                money: StoredMoney::new(&r.money, r.currency),
            });
        }
    }
    for s in &report.summary {
        items.push(ReportItem {
            pk: format!("SUMMARY#{date}"),
            sk: format!("PROVIDER#{}#{}", s.provider_id, s.currency),
            gsi1pk: None,
            gsi1sk: None,
            kind: "summary",
            report_date: date.clone(),
            provider_id: s.provider_id.clone(),
            product_id: None,
            product_name: None,
            currency: s.currency.to_string(),
            counts: s.counts,
            money: StoredMoney::new(&s.money, s.currency),
        });
    }
    items
}

/// Who a delivery goes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    /// One provider's report email.
    Provider(String),
    /// The marketplace team's summary email.
    Team,
}

/// What a delivery carries: a date's daily report, or a month's statement. It names the
/// delivery's ledger item ([`delivery_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryOf {
    /// The daily report of a date (provider emails and the team summary).
    DailyReport(NaiveDate),
    /// The monthly statement of a month (provider emails only).
    Statement(Month),
    /// The MPA campaign's notice of a new version (providers only: [`crate::mpa_campaign`]).
    MpaNotice(MpaNoticeOf),
}

impl DeliveryOf {
    /// The email kind SES's message tag names (`email_kind`).
    pub fn email_kind(&self) -> &'static str {
        match self {
            DeliveryOf::DailyReport(_) => "report",
            DeliveryOf::Statement(_) => "statement",
            DeliveryOf::MpaNotice(_) => "mpa-notice",
        }
    }
}

impl From<MpaNoticeOf> for DeliveryOf {
    fn from(notice: MpaNoticeOf) -> Self {
        DeliveryOf::MpaNotice(notice)
    }
}

impl From<NaiveDate> for DeliveryOf {
    fn from(date: NaiveDate) -> Self {
        DeliveryOf::DailyReport(date)
    }
}

impl From<Month> for DeliveryOf {
    fn from(month: Month) -> Self {
        DeliveryOf::Statement(month)
    }
}

impl std::fmt::Display for DeliveryOf {
    /// `2026-02-14` for a daily report, `statement 2026-02` for a statement (log lines).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryOf::DailyReport(date) => write!(f, "{date}"),
            DeliveryOf::Statement(month) => write!(f, "statement {month}"),
            DeliveryOf::MpaNotice(notice) => write!(f, "MPA {}", notice.version()),
        }
    }
}

/// Ledger key of one delivery: `(DELIVERY#<date>, PROVIDER#<id> | TEAM)` for a daily report,
/// `(DELIVERY#STATEMENT#<yyyy-mm>, PROVIDER#<id> | TEAM)` for a statement.
pub fn delivery_key(of: impl Into<DeliveryOf>, recipient: &Recipient) -> (String, String) {
    let sk = match recipient {
        Recipient::Provider(p) => format!("PROVIDER#{p}"),
        Recipient::Team => "TEAM".to_owned(),
    };
    let pk = match of.into() {
        DeliveryOf::DailyReport(date) => format!("DELIVERY#{date}"),
        DeliveryOf::Statement(month) => format!("DELIVERY#STATEMENT#{month}"),
        DeliveryOf::MpaNotice(notice) => format!("DELIVERY#MPA#{}", notice.version()),
    };
    (pk, sk)
}

/// Key of the account's SES send-rate slots of one UTC second (`delivery::SendRate`):
/// `(SES#RATE, <seconds since the epoch>)`. Expires an hour on (TTL `expires_at`).
pub fn send_rate_key(second: u64) -> (String, String) {
    ("SES#RATE".to_owned(), second.to_string())
}

/// How long a send-rate item is kept after its second.
pub const SEND_RATE_RETENTION_SECONDS: u64 = 3600;

/// Sort key of a provider's statement of `month`: `STATEMENT#<yyyy-mm>`.
pub fn statement_sk(month: Month) -> String {
    format!("STATEMENT#{month}")
}

/// A monthly statement as stored in the `Reports` table: the statement's own fields (money as
/// strings with the currency's minor-unit places, counts as numbers, lines and totals as lists
/// of maps) under the provider's partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementItem {
    /// `PROVIDER#<provider>`.
    pub pk: String,
    /// `STATEMENT#<yyyy-mm>`.
    pub sk: String,
    /// Always `statement`.
    pub kind: String,
    /// The statement.
    #[serde(flatten)]
    pub statement: Statement,
    /// How the statement reconciles with the daily rows (stated with every statement).
    pub reconciliation: String,
}

impl StatementItem {
    /// The item of `statement`.
    pub fn new(statement: &Statement) -> Self {
        StatementItem {
            pk: format!("PROVIDER#{}", statement.provider_id),
            sk: statement_sk(statement.month),
            kind: "statement".to_owned(),
            statement: statement.clone(),
            reconciliation: super::statement::RECONCILIATION.to_owned(),
        }
    }
}

/// Partition key of a month's sums: `SUMS#<yyyy-mm>`.
pub fn month_sums_pk(date: NaiveDate) -> String {
    format!("SUMS#{}", date.format("%Y-%m"))
}

/// Sort key of a date's month-sums mark: `DATE#<date>`.
pub fn month_sums_mark_sk(date: NaiveDate) -> String {
    format!("DATE#{date}")
}

/// Sort-key prefix of every month-sums mark: `DATE#`.
pub const MONTH_SUMS_MARK_PREFIX: &str = "DATE#";

/// One group's exact month-to-date sums as of `report_date` (see the module docs). Money is the
/// exact decimal text, never rounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthSumsItem {
    /// `SUMS#<yyyy-mm>`.
    pub pk: String,
    /// `DAY#<date>#PROVIDER#<provider>#PRODUCT#<product>#<currency>`.
    pub sk: String,
    /// Always `month_sums`.
    pub kind: String,
    /// The report date the sums are as of (inclusive).
    pub report_date: NaiveDate,
    /// Provider.
    pub provider_id: String,
    /// Product.
    pub product_id: String,
    /// Name of the latest deployment of the month so far (see `GroupTotals::named_by`).
    pub product_name: String,
    /// Currency code.
    pub currency: Currency,
    /// `finished_at` of the deployment that named the product.
    pub named_at: DateTime<Utc>,
    /// Deployment that named the product.
    pub named_by: String,
    /// Month-to-date counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Exact month-to-date Σ quantity × unit_price.
    pub revenue_exact: String,
    /// Exact month-to-date Σ quantity × unit_price × provider_share.
    pub remuneration_exact: String,
    /// That day's own deployments, when the group had any on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_deployments: Option<u64>,
    /// That day's exact revenue, when the group had deployments on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_revenue_exact: Option<String>,
    /// That day's exact remuneration, when the group had deployments on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_remuneration_exact: Option<String>,
}

/// A stored month-sums item that does not read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("month-sums item {sk}: {reason}")]
pub struct BadMonthSums {
    /// Its sort key.
    pub sk: String,
    /// What is wrong.
    pub reason: String,
}

impl MonthSumsItem {
    /// The item for one group: month-to-date `mtd`, and `day` when the group had deployments on
    /// `date`.
    pub fn new(date: NaiveDate, key: &GroupKey, mtd: &GroupTotals, day: Option<&GroupTotals>) -> Self {
        MonthSumsItem {
            pk: month_sums_pk(date),
            sk: format!(
                "{}PROVIDER#{}#PRODUCT#{}#{}",
                day_key::day_prefix(date),
                key.provider_id,
                key.product_id,
                key.currency
            ),
            kind: "month_sums".to_owned(),
            report_date: date,
            provider_id: key.provider_id.clone(),
            product_id: key.product_id.clone(),
            product_name: mtd.product_name.clone(),
            currency: key.currency,
            named_at: mtd.named_by.0,
            named_by: mtd.named_by.1.clone(),
            counts: mtd.counts,
            revenue_exact: mtd.revenue.to_string(),
            remuneration_exact: mtd.remuneration.to_string(),
            day_deployments: day.map(|d| d.counts.deployments),
            day_revenue_exact: day.map(|d| d.revenue.to_string()),
            day_remuneration_exact: day.map(|d| d.remuneration.to_string()),
        }
    }

    /// The group and its exact month-to-date totals.
    pub fn totals(&self) -> Result<(GroupKey, GroupTotals), BadMonthSums> {
        let exact = |text: &str| -> Result<Decimal, BadMonthSums> {
            parse_dynamodb_number(text)
                .ok_or_else(|| BadMonthSums { sk: self.sk.clone(), reason: format!("`{text}` is not a decimal") })
        };
        Ok((
            GroupKey {
                provider_id: self.provider_id.clone(),
                product_id: self.product_id.clone(),
                currency: self.currency,
            },
            GroupTotals {
                product_name: self.product_name.clone(),
                named_by: (self.named_at, self.named_by.clone()),
                counts: self.counts,
                revenue: exact(&self.revenue_exact)?,
                remuneration: exact(&self.remuneration_exact)?,
            },
        ))
    }
}

/// The mark that a date's month sums are complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthSumsMark {
    /// `SUMS#<yyyy-mm>`.
    pub pk: String,
    /// `DATE#<date>`.
    pub sk: String,
    /// Always `month_sums_mark`.
    pub kind: String,
    /// The report date.
    pub report_date: NaiveDate,
    /// Month-sums items stored for the date.
    pub groups: u64,
    /// DeploymentLogs items the run read for the date (absent when it read an export): a later
    /// count that differs shows logs that arrived (or left) after the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<u64>,
    /// When the run started reading the date's DeploymentLogs items (absent when it read an
    /// export, or for a mark stored before this field): a change to a log of the date at or
    /// after it may be missing from the report ([`changed_after_read`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_started_at: Option<DateTime<Utc>>,
}

impl MonthSumsMark {
    /// The mark of `date` with `groups` items, built from `items` logs read from
    /// `read_started_at` on.
    pub fn new(date: NaiveDate, groups: u64, items: Option<u64>, read_started_at: Option<DateTime<Utc>>) -> Self {
        MonthSumsMark {
            pk: month_sums_pk(date),
            sk: month_sums_mark_sk(date),
            kind: "month_sums_mark".to_owned(),
            report_date: date,
            groups,
            items,
            read_started_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_sums_keep_exact_decimals_and_read_back() {
        let date: NaiveDate = "2026-02-14".parse().expect("date");
        let key =
            GroupKey { provider_id: "acme".into(), product_id: "vault".into(), currency: "USD".parse().expect("usd") };
        let totals = GroupTotals {
            product_name: "Vault".into(),
            named_by: ("2026-02-14T02:00:00Z".parse().expect("instant"), "d-9".into()),
            counts: Counts { deployments: 3, succeeded: 2, failed: 1, errors_in_succeeded: 0, errors_in_failed: 2 },
            revenue: "1201.944999".parse().expect("dec"),
            remuneration: "840.5350000001".parse().expect("dec"),
        };
        let item = MonthSumsItem::new(date, &key, &totals, None);
        assert_eq!(item.pk, "SUMS#2026-02");
        assert_eq!(item.sk, "DAY#2026-02-14#PROVIDER#acme#PRODUCT#vault#USD");
        assert_eq!(item.revenue_exact, "1201.944999");
        assert_eq!(item.totals().expect("reads back"), (key, totals));
        assert_eq!(MonthSumsMark::new(date, 1, Some(3), None).sk, "DATE#2026-02-14");
    }

    #[test]
    fn late_logs_are_keyed_by_month_and_date() {
        let date: NaiveDate = "2026-02-14".parse().expect("date");
        assert_eq!(late_logs_pk(date), "LATE#2026-02");
        assert_eq!(late_log_sk(date, "e-1"), "2026-02-14#e-1");
    }

    #[test]
    fn a_change_is_late_from_the_second_the_read_started_on() {
        let date: NaiveDate = "2026-02-14".parse().expect("date");
        let started: DateTime<Utc> = "2026-02-15T02:00:00.400Z".parse().expect("instant");
        let mark = MonthSumsMark::new(date, 1, Some(3), Some(started));
        let at = |t: &str| t.parse::<DateTime<Utc>>().expect("instant");
        assert!(!changed_after_read(at("2026-02-15T01:59:59Z"), &mark), "read by the run");
        assert!(changed_after_read(at("2026-02-15T02:00:00Z"), &mark), "same second (streams round down): late");
        assert!(changed_after_read(at("2026-02-16T09:00:00Z"), &mark));
        let without_start = MonthSumsMark::new(date, 1, None, None);
        assert!(changed_after_read(at("2026-02-15T01:00:00Z"), &without_start), "no read start: every change");
    }

    #[test]
    fn a_rerun_makes_the_late_logs_before_it_moot() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("date");
        let at = |t: &str| t.parse::<DateTime<Utc>>().expect("instant");
        let late =
            |date: &str, id: &str, when: &str| LateLogItem::new(d(date), id, at(when), "INSERT", ("DAY#x#00", "sk"));
        let items = [
            late("2026-02-13", "a", "2026-02-15T10:00:00Z"),
            late("2026-02-13", "b", "2026-02-16T10:00:00Z"),
            late("2026-02-14", "c", "2026-02-15T10:00:00Z"),
        ];
        let mut marks = std::collections::BTreeMap::new();
        // The 13th was re-run on the 16th at 02:00: only the change after it counts.
        marks.insert(d("2026-02-13"), MonthSumsMark::new(d("2026-02-13"), 1, None, Some(at("2026-02-16T02:00:00Z"))));
        marks.insert(d("2026-02-14"), MonthSumsMark::new(d("2026-02-14"), 1, None, Some(at("2026-02-15T02:00:00Z"))));
        let counts = late_counts(&items, &marks);
        assert_eq!(counts.into_iter().collect::<Vec<_>>(), vec![(d("2026-02-13"), 1), (d("2026-02-14"), 1)]);
        assert_eq!(items[0].expires_at - items[0].changed_at.timestamp(), 62 * 86_400);
    }

    #[test]
    fn daily_ledger_keys_are_unchanged_and_statements_have_their_own() {
        let date: NaiveDate = "2026-02-14".parse().expect("date");
        let acme = Recipient::Provider("acme".into());
        assert_eq!(delivery_key(date, &acme), ("DELIVERY#2026-02-14".to_owned(), "PROVIDER#acme".to_owned()));
        assert_eq!(delivery_key(date, &Recipient::Team), ("DELIVERY#2026-02-14".to_owned(), "TEAM".to_owned()));
        let month: Month = "2026-02".parse().expect("month");
        assert_eq!(delivery_key(month, &acme), ("DELIVERY#STATEMENT#2026-02".to_owned(), "PROVIDER#acme".to_owned()));
        let notice = MpaNoticeOf::new("2027-01").expect("short");
        assert_eq!(delivery_key(notice, &acme), ("DELIVERY#MPA#2027-01".to_owned(), "PROVIDER#acme".to_owned()));
        assert_eq!(DeliveryOf::from(notice).to_string(), "MPA 2027-01");
        assert_eq!(statement_sk(month), "STATEMENT#2026-02");
        assert!(statement_sk(month).as_str() > "DAY#2026-02-28~", "the portal's day ranges never meet it");
    }
}

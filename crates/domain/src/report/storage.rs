//! The `Reports` table: report rows as items, and the delivery ledger.
//!
//! Keys are strings `pk` / `sk`; one GSI `ByDate` on `gsi1pk` / `gsi1sk`.
//!
//! | item            | `pk`                    | `sk`                                        | `gsi1pk`     | `gsi1sk` |
//! |-----------------|-------------------------|---------------------------------------------|--------------|----------|
//! | report row      | `PROVIDER#<provider>`   | `DAY#<date>#PRODUCT#<product>#<currency>`   | `DAY#<date>` | `PROVIDER#<provider>#PRODUCT#<product>#<currency>` |
//! | summary row     | `SUMMARY#<date>`        | `PROVIDER#<provider>#<currency>`            | —            | — |
//! | delivery ledger | `DELIVERY#<date>`       | `PROVIDER#<provider>` or `TEAM`             | —            | — |
//!
//! * The portal reads one provider's figures for a date range with one `Query`:
//!   `pk = PROVIDER#p AND sk BETWEEN "DAY#<from>" AND "DAY#<to>~"` (`~` sorts after `#`).
//! * The marketplace team reads a date's summary with `Query pk = SUMMARY#<date>`, and every
//!   product row of a date through the GSI: `gsi1pk = DAY#<date>`.
//! * Items carry no run timestamp, so a re-run writes byte-identical items (plain `PutItem`
//!   overwrites). Money is stored as strings with exactly the currency's minor-unit places (the
//!   CSV's text; DynamoDB numbers would drop trailing zeros), counts as numbers.
//! * Ledger items are written only by the delivery protocol ([`super::delivery`]).

use serde::Serialize;

use super::aggregate::{Counts, DailyReport, RowMoney};
use crate::money::{format_money, Currency};

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
                sk: format!("DAY#{date}#{group}"),
                gsi1pk: Some(format!("DAY#{date}")),
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

/// Ledger key of one delivery: `(DELIVERY#<date>, PROVIDER#<id> | TEAM)`.
pub fn delivery_key(date: chrono::NaiveDate, recipient: &Recipient) -> (String, String) {
    let sk = match recipient {
        Recipient::Provider(p) => format!("PROVIDER#{p}"),
        Recipient::Team => "TEAM".to_owned(),
    };
    (format!("DELIVERY#{date}"), sk)
}

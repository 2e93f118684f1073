//! The daily rows a statement sums, as read back from the `Reports` table.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::attribute::{AttributeValue, Item};
use crate::rows::{Counts, RowMoney};
use marketplace_core::money::Currency;

/// A report row or summary row read back from the `Reports` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRow {
    /// Report date.
    pub report_date: NaiveDate,
    pub provider_id: String,
    /// Product (report rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// Product name (report rows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    pub currency: Currency,
    /// Counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// Money, in the currency's minor units.
    #[serde(flatten)]
    pub money: RowMoney,
}

/// A stored item that is not a well-formed report or summary row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored report item {pk}/{sk}: {reason}")]
pub struct StoredRowError {
    /// Its partition key.
    pub pk: String,
    /// Its sort key.
    pub sk: String,
    /// What is wrong with it.
    pub reason: String,
}

impl StoredRow {
    /// Reads an item written by [`crate::storage::report_items`] (kind `report` or `summary`).
    pub fn from_item(item: &Item) -> Result<StoredRow, StoredRowError> {
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => Some(s.as_str()),
            _ => None,
        };
        let error = |reason: String| StoredRowError {
            pk: text("pk").unwrap_or_default().to_owned(),
            sk: text("sk").unwrap_or_default().to_owned(),
            reason,
        };
        let required = |name: &str| text(name).ok_or_else(|| error(format!("no string attribute `{name}`")));
        let count = |name: &str| match item.get(name) {
            Some(AttributeValue::N(n)) => n.parse::<u64>().map_err(|_| error(format!("`{name}` = {n} is not a count"))),
            _ => Err(error(format!("no number attribute `{name}`"))),
        };
        let kind = required("kind")?;
        if kind != "report" && kind != "summary" {
            return Err(error(format!("kind `{kind}` is neither `report` nor `summary`")));
        }
        let currency: Currency = required("currency")?.parse().map_err(|e| error(format!("{e}")))?;
        let money = |name: &str| -> Result<Decimal, StoredRowError> {
            let text = required(name)?;
            let amount = Decimal::from_str(text).map_err(|_| error(format!("`{name}` = {text} is not an amount")))?;
            if amount.scale() != currency.minor_units() {
                return Err(error(format!("`{name}` = {text} is not in {currency}'s minor units")));
            }
            Ok(amount)
        };
        let date = required("report_date")?;
        Ok(StoredRow {
            report_date: NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|_| error(format!("report_date `{date}` is not a date")))?,
            provider_id: required("provider_id")?.to_owned(),
            product_id: text("product_id").map(str::to_owned),
            product_name: text("product_name").map(str::to_owned),
            currency,
            counts: Counts {
                deployments: count("deployments")?,
                succeeded: count("succeeded")?,
                failed: count("failed")?,
                errors_in_succeeded: count("errors_in_succeeded")?,
                errors_in_failed: count("errors_in_failed")?,
            },
            money: RowMoney {
                billable_revenue: money("billable_revenue")?,
                remuneration_value: money("remuneration_value")?,
                marketplace_fee: money("marketplace_fee")?,
            },
        })
    }
}

//! The fast paths of the export source: one DynamoDB-JSON export line straight into a typed
//! log, without building the attribute map.
//!
//! Both only lend the line's text to the contract's rule core ([`crate::record::check`]), so
//! they apply the very same rules. They accept only the common case — every contract attribute
//! present with its exact DynamoDB type and a valid value — and anything else (a missing or
//! wrongly typed attribute, a `NULL`, a value out of range, a line that is not JSON) returns
//! `None`: the caller then takes the general path ([`crate::attribute::parse_export_line`] +
//! [`crate::record::parse_deployment_log`]), which names the reason. So every path counts
//! exactly the same logs with the same values; `tests::fast_and_general_paths_agree` checks it
//! on every kind of reject.
//!
//! 1. [`scan_valid_export_line`]: a hand-written scanner (`fast::scanner`) for the export line's
//!    fixed shape, borrowing every string from the line (escaped text is decoded into a
//!    scratch buffer). It gives up on anything unusual — a surrogate escape, a nested value in
//!    an attribute it does not know, a duplicate key, a missing attribute — so it only ever
//!    speeds up lines whose outcome the serde path would have given too
//!    (`scanner_agrees_with_serde` checks it on generated lines).
//! 2. [`parse_valid_export_line`]: the line through `serde_json` into the same shape, for the
//!    lines the scanner gives up on.

use std::borrow::Cow;

use serde::Deserialize;

use crate::record::{check, Attribute, ContractViolation, DeploymentLog, EntryAttribute, LogAttributes, ValidLog};

mod scanner;

/// The log of a line the scanner takes, borrowing its text from the line (and from `scratch`,
/// where text with escape sequences is decoded); `None` when the scanner gives up or the line
/// breaks the contract: then take [`parse_valid_export_line`] and the general path.
pub fn scan_valid_export_line<'a>(line: &'a str, scratch: &'a mut String) -> Option<ValidLog<'a>> {
    let mut entries = Vec::new();
    let attributes = scanner::scan_export_line(line, scratch, &mut entries)?;
    let scratch: &'a String = scratch;
    check(&scanner::ScannedLine { line, scratch, attributes, entries: &entries }).ok()
}

/// The log of a valid export line, or `None` when the line needs the general path.
pub fn parse_valid_export_line(line: &str) -> Option<DeploymentLog> {
    let line: ExportLineRef<'_> = serde_json::from_str(line).ok()?;
    check(&&line.item).ok().map(|log| log.to_owned_log())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct S<'a> {
    #[serde(rename = "S", borrow)]
    s: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct N<'a> {
    #[serde(rename = "N", borrow)]
    n: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorEntry<'a> {
    #[serde(borrow)]
    code: S<'a>,
    #[serde(borrow)]
    message: S<'a>,
    #[serde(borrow)]
    at: S<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct M<'a> {
    #[serde(rename = "M", borrow)]
    m: ErrorEntry<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct L<'a> {
    #[serde(rename = "L", borrow)]
    l: Vec<M<'a>>,
}

/// The contract's attributes with their DynamoDB types, as serde reads them (any other attribute,
/// `pk` and `sk` included, is skipped).
#[derive(Deserialize)]
struct Log<'a> {
    #[serde(borrow)]
    deployment_id: S<'a>,
    #[serde(borrow)]
    provider_id: S<'a>,
    #[serde(borrow)]
    product_id: S<'a>,
    #[serde(borrow)]
    product_name: S<'a>,
    #[serde(borrow)]
    customer_alias: S<'a>,
    #[serde(borrow)]
    started_at: S<'a>,
    #[serde(borrow)]
    finished_at: S<'a>,
    #[serde(borrow)]
    status: S<'a>,
    #[serde(borrow)]
    errors: L<'a>,
    #[serde(borrow)]
    billing_model: S<'a>,
    #[serde(borrow)]
    quantity: N<'a>,
    #[serde(borrow)]
    unit_price: N<'a>,
    #[serde(borrow)]
    currency: S<'a>,
    #[serde(borrow)]
    provider_share: N<'a>,
}

/// One export line in the serde path's shape, borrowing from the line where no escape is decoded.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportLineRef<'a> {
    #[serde(rename = "Item", borrow)]
    item: Log<'a>,
}

/// What serde read: every attribute is there with its type.
impl<'a> LogAttributes<'a> for &'a Log<'_> {
    fn text(&self, attribute: Attribute) -> Result<&'a str, ContractViolation> {
        let log: &'a Log<'_> = self;
        Ok(match attribute {
            Attribute::DeploymentId => &log.deployment_id.s,
            Attribute::ProviderId => &log.provider_id.s,
            Attribute::ProductId => &log.product_id.s,
            Attribute::ProductName => &log.product_name.s,
            Attribute::CustomerAlias => &log.customer_alias.s,
            Attribute::StartedAt => &log.started_at.s,
            Attribute::FinishedAt => &log.finished_at.s,
            Attribute::Status => &log.status.s,
            Attribute::BillingModel => &log.billing_model.s,
            Attribute::Quantity => &log.quantity.n,
            Attribute::UnitPrice => &log.unit_price.n,
            Attribute::Currency => &log.currency.s,
            Attribute::ProviderShare => &log.provider_share.n,
        })
    }

    fn error_count(&self) -> Result<usize, ContractViolation> {
        Ok(self.errors.l.len())
    }

    fn error_text(&self, index: usize, field: EntryAttribute) -> Result<&'a str, ContractViolation> {
        let log: &'a Log<'_> = self;
        let entry = &log.errors.l.get(index).ok_or(ContractViolation::MissingAttribute(field.list_name()))?.m;
        Ok(match field {
            EntryAttribute::Code => &entry.code.s,
            EntryAttribute::Message => &entry.message.s,
            EntryAttribute::At => &entry.at.s,
        })
    }
}

#[cfg(test)]
mod tests;

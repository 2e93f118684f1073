//! The general path: the contract checked on an attribute map ([`Item`]), which also names an
//! attribute that is missing or of the wrong DynamoDB type, and the [`Rejected`] row of an item
//! that breaks it.

use chrono::{DateTime, NaiveDate, Utc};

use super::contract::{check, Attribute, ContractViolation, EntryAttribute, LogAttributes};
use super::log::{DeploymentLog, ValidLog};
use crate::attribute::{AttributeValue, Item};

/// An item that was not counted, with enough to find it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// `deployment_id` if readable, else `pk`/`sk`, else the caller's locator (file and line).
    pub key: String,
    /// Report date the item belongs to, if it can be told (from `finished_at`, else from the
    /// `DAY#<date>#<shard>` partition key).
    pub report_date: Option<NaiveDate>,
    /// Why it was rejected.
    pub reason: ContractViolation,
}

impl Rejected {
    /// The reject of `item` for `reason`. `locator` names the item when it has neither a
    /// `deployment_id` nor `pk`/`sk` (e.g. `"deployments-0001.json.gz line 12"`).
    pub fn of_item(item: &Item, reason: ContractViolation, locator: &dyn Fn() -> String) -> Rejected {
        let report_date = match item.get("finished_at") {
            Some(AttributeValue::S(text)) => {
                DateTime::parse_from_rfc3339(text).ok().map(|d| d.with_timezone(&Utc).date_naive())
            }
            _ => None,
        }
        .or_else(|| day_of_partition_key(item));
        Rejected { key: reject_key(item, locator), report_date, reason }
    }
}

/// The contract on an item: its log, borrowing the item's text, or the first rule it breaks.
pub fn check_item(item: &Item) -> Result<ValidLog<'_>, ContractViolation> {
    check(&item)
}

/// Parses one item against the contract into a log of its own. `locator` names the item when it
/// has neither a `deployment_id` nor `pk`/`sk` (e.g. `"deployments-0001.json.gz line 12"`).
pub fn parse_deployment_log(item: &Item, locator: &dyn Fn() -> String) -> Result<DeploymentLog, Box<Rejected>> {
    match check_item(item) {
        Ok(log) => Ok(log.to_owned_log()),
        Err(reason) => Err(Box::new(Rejected::of_item(item, reason, locator))),
    }
}

/// Reads the `DAY#<YYYY-MM-DD>#<shard>` partition key's date, if there is one.
pub fn day_of_partition_key(item: &Item) -> Option<NaiveDate> {
    let Some(AttributeValue::S(pk)) = item.get("pk") else {
        return None;
    };
    crate::storage::day_key::leading_date(pk)
}

fn reject_key(item: &Item, locator: &dyn Fn() -> String) -> String {
    if let Some(AttributeValue::S(id)) = item.get("deployment_id") {
        if !id.is_empty() {
            return id.clone();
        }
    }
    match (item.get("pk"), item.get("sk")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => format!("pk={pk} sk={sk}"),
        _ => locator(),
    }
}

/// An item's attributes: each must be present (not `NULL`) with its DynamoDB type.
impl<'a> LogAttributes<'a> for &'a Item {
    fn text(&self, attribute: Attribute) -> Result<&'a str, ContractViolation> {
        let (item, name) = (*self, attribute.name());
        match (item.get(name), attribute.dynamodb_type()) {
            (None | Some(AttributeValue::NULL(_)), _) => Err(ContractViolation::MissingAttribute(name)),
            (Some(AttributeValue::S(text)), "S") | (Some(AttributeValue::N(text)), "N") => Ok(text),
            (Some(other), expected) => {
                Err(ContractViolation::WrongType { attribute: name.to_owned(), expected, found: other.type_name() })
            }
        }
    }

    fn error_count(&self) -> Result<usize, ContractViolation> {
        error_list(self).map(<[AttributeValue]>::len)
    }

    fn error_text(&self, index: usize, field: EntryAttribute) -> Result<&'a str, ContractViolation> {
        let entry = error_list(self)?.get(index).ok_or(ContractViolation::MissingAttribute(field.list_name()))?;
        let AttributeValue::M(map) = entry else {
            return Err(ContractViolation::WrongType {
                attribute: format!("errors[{index}]"),
                expected: "M",
                found: entry.type_name(),
            });
        };
        match map.get(field.name()) {
            None | Some(AttributeValue::NULL(_)) => Err(ContractViolation::MissingAttribute(field.list_name())),
            Some(AttributeValue::S(text)) => Ok(text),
            Some(other) => Err(ContractViolation::WrongType {
                attribute: format!("errors[{index}].{}", field.name()),
                expected: "S",
                found: other.type_name(),
            }),
        }
    }
}

/// The `errors` attribute: a list.
fn error_list(item: &Item) -> Result<&[AttributeValue], ContractViolation> {
    match item.get("errors") {
        None | Some(AttributeValue::NULL(_)) => Err(ContractViolation::MissingAttribute("errors")),
        Some(AttributeValue::L(list)) => Ok(list),
        Some(other) => {
            Err(ContractViolation::WrongType { attribute: "errors".into(), expected: "L", found: other.type_name() })
        }
    }
}

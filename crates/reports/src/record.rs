//! The deployment-log contract: parsing an [`Item`] into a typed [`DeploymentLog`], or into a
//! [`Rejected`] item with the reason it breaks the contract.
//!
//! Contract (issue "Nightly deployment reports"): `deployment_id`, `provider_id`, `product_id`,
//! `product_name`, `customer_alias`, `started_at`, `finished_at` (RFC 3339), `status`
//! (`SUCCEEDED` | `FAILED`), `errors` (list of maps `{code, message, at}`), `billing_model`
//! (`hourly` | `monthly` | `one_time` | `usage`), `quantity` ≥ 0, `unit_price` ≥ 0, `currency`
//! (a supported ISO 4217 code, see [`marketplace_core::money`]), `provider_share` in (0, 1].
//!
//! Extra rules protect the job itself, so that no single log can stop a night:
//! * `provider_id` names a directory of the output, so it must be a safe path segment
//!   (`[A-Za-z0-9._-]`, at most 128 characters, not `.` or `..`);
//! * every text field is bounded ([`TEXT_LIMITS`], in bytes): ids end up in DynamoDB keys of the
//!   `Reports` table (at most 1,024 bytes per sort key) and every field in CSV rows and emails;
//! * at most [`MAX_ERRORS`] error entries per deployment;
//! * `quantity` ≤ [`MAX_QUANTITY`] and `unit_price` ≤ [`MAX_UNIT_PRICE`], so that
//!   `quantity × unit_price` and any realistic sum of them fit `Decimal`; a sum that still does
//!   not fit rejects the log that would overflow it (see `aggregate`).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::attribute::{AttributeValue, Item};
use marketplace_core::money::{parse_dynamodb_number, Currency};

/// Outcome of a finished deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DeploymentStatus {
    /// Deployed; billable.
    #[serde(rename = "SUCCEEDED")]
    Succeeded,
    /// Not deployed; never billed.
    #[serde(rename = "FAILED")]
    Failed,
}

impl DeploymentStatus {
    /// The wire spelling (`SUCCEEDED` / `FAILED`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Succeeded => "SUCCEEDED",
            DeploymentStatus::Failed => "FAILED",
        }
    }
}

impl fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the deployment is billed: the listing's billing models. It does not change the arithmetic
/// (quantity × unit price), but it is part of the contract, so an unknown model is a reject.
pub use marketplace_core::billing::BillingModel;

/// One error entry recorded during a deployment (successful deployments may have some too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentErrorEntry {
    /// Machine-readable code, e.g. `VM_TIMEOUT`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A deployment log that honours the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentLog {
    /// Deployment id.
    pub deployment_id: String,
    /// Provider owning the product.
    pub provider_id: String,
    /// Product deployed.
    pub product_id: String,
    /// Product display name at deployment time.
    pub product_name: String,
    /// Customer alias shown to the provider.
    pub customer_alias: String,
    /// Start (UTC).
    pub started_at: DateTime<Utc>,
    /// End (UTC); its UTC date is the report date the deployment belongs to.
    pub finished_at: DateTime<Utc>,
    /// Outcome.
    pub status: DeploymentStatus,
    /// Error entries in recorded order.
    pub errors: Vec<DeploymentErrorEntry>,
    /// Billing model.
    pub billing_model: BillingModel,
    /// Billed quantity (≥ 0, may be fractional).
    pub quantity: Decimal,
    /// Price per unit (≥ 0, up to 6 decimal places).
    pub unit_price: Decimal,
    /// Billing currency.
    pub currency: Currency,
    /// The provider's share of revenue, in (0, 1].
    pub provider_share: Decimal,
}

impl DeploymentLog {
    /// The report date (UTC date of `finished_at`).
    pub fn report_date(&self) -> NaiveDate {
        self.finished_at.date_naive()
    }
}

/// Why an item breaks the contract. Messages are meant for the operator reading `rejected.csv`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractViolation {
    /// A required attribute is absent.
    #[error("missing attribute `{0}`")]
    MissingAttribute(&'static str),
    /// An attribute has the wrong DynamoDB type.
    #[error("attribute `{attribute}` must be of type {expected}, found {found}")]
    WrongType {
        /// Attribute name (dotted path for nested ones).
        attribute: String,
        /// Expected DynamoDB type.
        expected: &'static str,
        /// Type found.
        found: &'static str,
    },
    /// `status` is neither `SUCCEEDED` nor `FAILED`.
    #[error("unknown status `{0}` (expected SUCCEEDED or FAILED)")]
    UnknownStatus(String),
    /// `currency` is not a supported ISO 4217 code.
    #[error("unknown currency `{0}`")]
    UnknownCurrency(String),
    /// `billing_model` is not one of the four models.
    #[error("unknown billing model `{0}` (expected hourly, monthly, one_time or usage)")]
    UnknownBillingModel(String),
    /// A number attribute cannot be read as an exact decimal.
    #[error("attribute `{attribute}` is not a number: `{value}`")]
    UnparseableNumber {
        /// Attribute name.
        attribute: &'static str,
        /// Text found.
        value: String,
    },
    /// A date attribute is not RFC 3339.
    #[error("attribute `{attribute}` is not an RFC 3339 date-time: `{value}`")]
    UnparseableDate {
        /// Attribute name (dotted path for nested ones).
        attribute: String,
        /// Text found.
        value: String,
    },
    /// `quantity` below zero.
    #[error("negative quantity {0}")]
    NegativeQuantity(Decimal),
    /// `unit_price` below zero.
    #[error("negative unit price {0}")]
    NegativeUnitPrice(Decimal),
    /// `provider_share` not in (0, 1].
    #[error("provider share {0} outside (0, 1]")]
    ShareOutOfRange(Decimal),
    /// `provider_id` cannot be used as a directory name.
    #[error("provider id `{0}` is not a safe identifier ([A-Za-z0-9._-], 1..=128 chars)")]
    UnsafeProviderId(String),
    /// A text field is longer than the contract allows.
    #[error("attribute `{attribute}` is {length} bytes long (at most {max})")]
    TooLong {
        /// Attribute name.
        attribute: &'static str,
        /// Its limit in bytes.
        max: usize,
        /// Its length in bytes.
        length: usize,
    },
    /// More error entries than the contract allows.
    #[error("{0} error entries (at most 100)")]
    TooManyErrors(usize),
    /// `quantity` or `unit_price` above its bound.
    #[error("attribute `{attribute}` is {value}, above its bound {max}")]
    OutOfRange {
        /// Attribute name.
        attribute: &'static str,
        /// Value.
        value: Decimal,
        /// Bound.
        max: Decimal,
    },
    /// Counting the log would overflow its group's exact sum.
    #[error("amounts overflow the exact sum of {0} on its day")]
    SumOverflow(String),
    /// The source could not even read an item (e.g. a malformed export line).
    #[error("not a DynamoDB-JSON item: {0}")]
    Unreadable(String),
}

/// Byte limits of the contract's text fields.
pub const TEXT_LIMITS: &[(&str, usize)] = &[
    ("deployment_id", MAX_ID),
    ("product_id", MAX_ID),
    ("product_name", MAX_NAME),
    ("customer_alias", MAX_NAME),
    ("errors[].code", MAX_ID),
    ("errors[].message", MAX_MESSAGE),
];

const MAX_ID: usize = 128;
const MAX_NAME: usize = 256;
const MAX_MESSAGE: usize = 2048;

/// Most error entries one deployment may carry.
pub const MAX_ERRORS: usize = 100;

/// Largest `quantity` accepted.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0); // 10^12

/// Largest `unit_price` accepted.
pub const MAX_UNIT_PRICE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0); // 10^9

/// `text`, unless it is longer than `max` bytes (the limit of `attribute` in [`TEXT_LIMITS`]).
fn bounded<'a>(attribute: &'static str, max: usize, text: &'a str) -> Result<&'a str, ContractViolation> {
    if text.len() > max {
        return Err(ContractViolation::TooLong { attribute, max, length: text.len() });
    }
    Ok(text)
}

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

fn string_attr<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, ContractViolation> {
    match item.get(name) {
        None | Some(AttributeValue::NULL(_)) => Err(ContractViolation::MissingAttribute(name)),
        Some(AttributeValue::S(s)) => Ok(s),
        Some(other) => {
            Err(ContractViolation::WrongType { attribute: name.to_owned(), expected: "S", found: other.type_name() })
        }
    }
}

fn number_attr(item: &Item, name: &'static str) -> Result<Decimal, ContractViolation> {
    let text = match item.get(name) {
        None | Some(AttributeValue::NULL(_)) => return Err(ContractViolation::MissingAttribute(name)),
        Some(AttributeValue::N(n)) => n,
        Some(other) => {
            return Err(ContractViolation::WrongType {
                attribute: name.to_owned(),
                expected: "N",
                found: other.type_name(),
            })
        }
    };
    parse_dynamodb_number(text)
        .ok_or_else(|| ContractViolation::UnparseableNumber { attribute: name, value: text.clone() })
}

fn parse_instant(attribute: &str, text: &str) -> Result<DateTime<Utc>, ContractViolation> {
    if let Some(at) = whole_second_utc(text) {
        return Ok(at);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| ContractViolation::UnparseableDate { attribute: attribute.to_owned(), value: text.to_owned() })
}

fn date_attr(item: &Item, name: &'static str) -> Result<DateTime<Utc>, ContractViolation> {
    parse_instant(name, string_attr(item, name)?)
}

fn is_safe_identifier(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id != "."
        && id != ".."
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn parse_errors(item: &Item) -> Result<Vec<DeploymentErrorEntry>, ContractViolation> {
    let list = match item.get("errors") {
        None | Some(AttributeValue::NULL(_)) => return Err(ContractViolation::MissingAttribute("errors")),
        Some(AttributeValue::L(list)) => list,
        Some(other) => {
            return Err(ContractViolation::WrongType {
                attribute: "errors".into(),
                expected: "L",
                found: other.type_name(),
            })
        }
    };
    if list.len() > MAX_ERRORS {
        return Err(ContractViolation::TooManyErrors(list.len()));
    }
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            let AttributeValue::M(map) = entry else {
                return Err(ContractViolation::WrongType {
                    attribute: format!("errors[{i}]"),
                    expected: "M",
                    found: entry.type_name(),
                });
            };
            let field = |name: &'static str| -> Result<&str, ContractViolation> {
                string_attr(map, name).map_err(|e| match e {
                    ContractViolation::MissingAttribute(_) => ContractViolation::MissingAttribute(match name {
                        "code" => "errors[].code",
                        "message" => "errors[].message",
                        _ => "errors[].at",
                    }),
                    ContractViolation::WrongType { expected, found, .. } => {
                        ContractViolation::WrongType { attribute: format!("errors[{i}].{name}"), expected, found }
                    }
                    other => other,
                })
            };
            Ok(DeploymentErrorEntry {
                code: bounded("errors[].code", MAX_ID, field("code")?)?.to_owned(),
                message: bounded("errors[].message", MAX_MESSAGE, field("message")?)?.to_owned(),
                at: parse_instant(&format!("errors[{i}].at"), field("at")?)?,
            })
        })
        .collect()
}

/// Reads the `DAY#<YYYY-MM-DD>#<shard>` partition key's date, if there is one.
pub fn day_of_partition_key(item: &Item) -> Option<NaiveDate> {
    let Some(AttributeValue::S(pk)) = item.get("pk") else {
        return None;
    };
    let rest = pk.strip_prefix("DAY#")?;
    NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d").ok()
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

fn parse_valid(item: &Item) -> Result<DeploymentLog, ContractViolation> {
    let deployment_id = bounded("deployment_id", MAX_ID, string_attr(item, "deployment_id")?)?;
    let provider_id = string_attr(item, "provider_id")?;
    if !is_safe_identifier(provider_id) {
        return Err(ContractViolation::UnsafeProviderId(provider_id.to_owned()));
    }
    let product_id = bounded("product_id", MAX_ID, string_attr(item, "product_id")?)?;
    let product_name = bounded("product_name", MAX_NAME, string_attr(item, "product_name")?)?;
    let customer_alias = bounded("customer_alias", MAX_NAME, string_attr(item, "customer_alias")?)?;
    let started_at = date_attr(item, "started_at")?;
    let finished_at = date_attr(item, "finished_at")?;
    let status = match string_attr(item, "status")? {
        "SUCCEEDED" => DeploymentStatus::Succeeded,
        "FAILED" => DeploymentStatus::Failed,
        other => return Err(ContractViolation::UnknownStatus(other.to_owned())),
    };
    let errors = parse_errors(item)?;
    let billing_model = string_attr(item, "billing_model")?;
    let billing_model =
        billing_model.parse().map_err(|()| ContractViolation::UnknownBillingModel(billing_model.to_owned()))?;
    let quantity = number_attr(item, "quantity")?;
    if quantity.is_sign_negative() && !quantity.is_zero() {
        return Err(ContractViolation::NegativeQuantity(quantity));
    }
    if quantity > MAX_QUANTITY {
        return Err(ContractViolation::OutOfRange { attribute: "quantity", value: quantity, max: MAX_QUANTITY });
    }
    let unit_price = number_attr(item, "unit_price")?;
    if unit_price.is_sign_negative() && !unit_price.is_zero() {
        return Err(ContractViolation::NegativeUnitPrice(unit_price));
    }
    if unit_price > MAX_UNIT_PRICE {
        return Err(ContractViolation::OutOfRange { attribute: "unit_price", value: unit_price, max: MAX_UNIT_PRICE });
    }
    let currency = string_attr(item, "currency")?;
    let currency = currency.parse::<Currency>().map_err(|_| ContractViolation::UnknownCurrency(currency.to_owned()))?;
    let provider_share = number_attr(item, "provider_share")?;
    if provider_share <= Decimal::ZERO || provider_share > Decimal::ONE {
        return Err(ContractViolation::ShareOutOfRange(provider_share));
    }
    Ok(DeploymentLog {
        deployment_id: deployment_id.to_owned(),
        provider_id: provider_id.to_owned(),
        product_id: product_id.to_owned(),
        product_name: product_name.to_owned(),
        customer_alias: customer_alias.to_owned(),
        started_at,
        finished_at,
        status,
        errors,
        billing_model,
        quantity,
        unit_price,
        currency,
        provider_share,
    })
}

/// The contract's attributes as borrowed text (the export fast path, [`super::fast`]).
#[derive(Debug, Clone, Copy)]
pub struct RawLog<'a, 'e> {
    /// `deployment_id`.
    pub deployment_id: &'a str,
    /// `provider_id`.
    pub provider_id: &'a str,
    /// `product_id`.
    pub product_id: &'a str,
    /// `product_name`.
    pub product_name: &'a str,
    /// `customer_alias`.
    pub customer_alias: &'a str,
    /// `started_at` text.
    pub started_at: &'a str,
    /// `finished_at` text.
    pub finished_at: &'a str,
    /// `status` text.
    pub status: &'a str,
    /// `errors` entries.
    pub errors: &'e [RawErrorEntry<'a>],
    /// `billing_model` text.
    pub billing_model: &'a str,
    /// `quantity` number text.
    pub quantity: &'a str,
    /// `unit_price` number text.
    pub unit_price: &'a str,
    /// `currency` code.
    pub currency: &'a str,
    /// `provider_share` number text.
    pub provider_share: &'a str,
}

/// One `errors` entry as borrowed text.
#[derive(Debug, Clone, Copy)]
pub struct RawErrorEntry<'a> {
    /// `code`.
    pub code: &'a str,
    /// `message`.
    pub message: &'a str,
    /// `at` text.
    pub at: &'a str,
}

/// The contract's value checks on attributes already known to have the right DynamoDB types:
/// the same checks, through the same functions, as the general path.
pub fn check_valid(raw: &RawLog<'_, '_>) -> Result<DeploymentLog, ContractViolation> {
    check_valid_ref(raw).map(|log| log.to_owned_log())
}

/// A valid deployment log that borrows its text from the input line: what the export fast path
/// aggregates without allocating ([`super::aggregate::Aggregator::add_valid`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidLog<'a> {
    /// Deployment id.
    pub deployment_id: &'a str,
    /// Provider owning the product.
    pub provider_id: &'a str,
    /// Product deployed.
    pub product_id: &'a str,
    /// Product display name at deployment time.
    pub product_name: &'a str,
    /// Customer alias shown to the provider.
    pub customer_alias: &'a str,
    /// Start (UTC).
    pub started_at: DateTime<Utc>,
    /// End (UTC).
    pub finished_at: DateTime<Utc>,
    /// Outcome.
    pub status: DeploymentStatus,
    /// Error entries in recorded order (`code`, `message`, `at`).
    pub errors: Vec<(&'a str, &'a str, DateTime<Utc>)>,
    /// Billing model.
    pub billing_model: BillingModel,
    /// Billed quantity.
    pub quantity: Decimal,
    /// Price per unit.
    pub unit_price: Decimal,
    /// Billing currency.
    pub currency: Currency,
    /// The provider's share of revenue.
    pub provider_share: Decimal,
}

impl ValidLog<'_> {
    /// The owned form.
    pub fn to_owned_log(&self) -> DeploymentLog {
        DeploymentLog {
            deployment_id: self.deployment_id.to_owned(),
            provider_id: self.provider_id.to_owned(),
            product_id: self.product_id.to_owned(),
            product_name: self.product_name.to_owned(),
            customer_alias: self.customer_alias.to_owned(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            status: self.status,
            errors: self
                .errors
                .iter()
                .map(|&(code, message, at)| DeploymentErrorEntry {
                    code: code.to_owned(),
                    message: message.to_owned(),
                    at,
                })
                .collect(),
            billing_model: self.billing_model,
            quantity: self.quantity,
            unit_price: self.unit_price,
            currency: self.currency,
            provider_share: self.provider_share,
        }
    }
}

impl DeploymentLog {
    /// The borrowed form.
    pub fn as_valid(&self) -> ValidLog<'_> {
        ValidLog {
            deployment_id: &self.deployment_id,
            provider_id: &self.provider_id,
            product_id: &self.product_id,
            product_name: &self.product_name,
            customer_alias: &self.customer_alias,
            started_at: self.started_at,
            finished_at: self.finished_at,
            status: self.status,
            errors: self.errors.iter().map(|e| (e.code.as_str(), e.message.as_str(), e.at)).collect(),
            billing_model: self.billing_model,
            quantity: self.quantity,
            unit_price: self.unit_price,
            currency: self.currency,
            provider_share: self.provider_share,
        }
    }
}

/// [`check_valid`] without copying the text: the log borrows from `raw`.
pub fn check_valid_ref<'a>(raw: &RawLog<'a, '_>) -> Result<ValidLog<'a>, ContractViolation> {
    let deployment_id = bounded("deployment_id", MAX_ID, raw.deployment_id)?;
    if !is_safe_identifier(raw.provider_id) {
        return Err(ContractViolation::UnsafeProviderId(raw.provider_id.to_owned()));
    }
    let product_id = bounded("product_id", MAX_ID, raw.product_id)?;
    let product_name = bounded("product_name", MAX_NAME, raw.product_name)?;
    let customer_alias = bounded("customer_alias", MAX_NAME, raw.customer_alias)?;
    let started_at = parse_instant("started_at", raw.started_at)?;
    let finished_at = parse_instant("finished_at", raw.finished_at)?;
    let status = match raw.status {
        "SUCCEEDED" => DeploymentStatus::Succeeded,
        "FAILED" => DeploymentStatus::Failed,
        other => return Err(ContractViolation::UnknownStatus(other.to_owned())),
    };
    if raw.errors.len() > MAX_ERRORS {
        return Err(ContractViolation::TooManyErrors(raw.errors.len()));
    }
    let errors = raw
        .errors
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok((
                bounded("errors[].code", MAX_ID, e.code)?,
                bounded("errors[].message", MAX_MESSAGE, e.message)?,
                // The attribute name is only built for the error (not once per entry).
                whole_second_utc(e.at)
                    .map(Ok)
                    .unwrap_or_else(|| DateTime::parse_from_rfc3339(e.at).map(|d| d.with_timezone(&Utc)))
                    .map_err(|_| ContractViolation::UnparseableDate {
                        attribute: format!("errors[{i}].at"),
                        value: e.at.to_owned(),
                    })?,
            ))
        })
        .collect::<Result<Vec<_>, ContractViolation>>()?;
    let billing_model =
        raw.billing_model.parse().map_err(|()| ContractViolation::UnknownBillingModel(raw.billing_model.to_owned()))?;
    let number = |attribute: &'static str, text: &str| {
        parse_dynamodb_number(text)
            .ok_or_else(|| ContractViolation::UnparseableNumber { attribute, value: text.to_owned() })
    };
    let quantity = number("quantity", raw.quantity)?;
    if quantity.is_sign_negative() && !quantity.is_zero() {
        return Err(ContractViolation::NegativeQuantity(quantity));
    }
    if quantity > MAX_QUANTITY {
        return Err(ContractViolation::OutOfRange { attribute: "quantity", value: quantity, max: MAX_QUANTITY });
    }
    let unit_price = number("unit_price", raw.unit_price)?;
    if unit_price.is_sign_negative() && !unit_price.is_zero() {
        return Err(ContractViolation::NegativeUnitPrice(unit_price));
    }
    if unit_price > MAX_UNIT_PRICE {
        return Err(ContractViolation::OutOfRange { attribute: "unit_price", value: unit_price, max: MAX_UNIT_PRICE });
    }
    let currency =
        raw.currency.parse::<Currency>().map_err(|_| ContractViolation::UnknownCurrency(raw.currency.to_owned()))?;
    let provider_share = number("provider_share", raw.provider_share)?;
    if provider_share <= Decimal::ZERO || provider_share > Decimal::ONE {
        return Err(ContractViolation::ShareOutOfRange(provider_share));
    }
    Ok(ValidLog {
        deployment_id,
        provider_id: raw.provider_id,
        product_id,
        product_name,
        customer_alias,
        started_at,
        finished_at,
        status,
        errors,
        billing_model,
        quantity,
        unit_price,
        currency,
        provider_share,
    })
}

/// Parses one item against the contract. `locator` names the item when it has neither a
/// `deployment_id` nor `pk`/`sk` (e.g. `"deployments-0001.json.gz line 12"`).
pub fn parse_deployment_log(item: &Item, locator: &dyn Fn() -> String) -> Result<DeploymentLog, Box<Rejected>> {
    parse_valid(item).map_err(|reason| {
        let report_date = match item.get("finished_at") {
            Some(AttributeValue::S(text)) => {
                DateTime::parse_from_rfc3339(text).ok().map(|d| d.with_timezone(&Utc).date_naive())
            }
            _ => None,
        }
        .or_else(|| day_of_partition_key(item));
        Box::new(Rejected { key: reject_key(item, locator), report_date, reason })
    })
}

/// Canonical RFC 3339 text of an instant as printed in the reports (`2026-02-14T00:00:00Z`,
/// fractional seconds only when present).
pub fn format_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (the shape every log uses) without the general RFC 3339 parser;
/// `None` for anything else (a fraction, an offset, a leap second, an invalid date), which the
/// general parser then decides. Tested to agree with it.
fn whole_second_utc(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?;
    Some(date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)?.and_utc())
}

/// Appends [`format_instant`]'s text to `out`; whole seconds of years 0–9999 (every instant of
/// a real report) without going through the formatter.
pub fn push_instant(out: &mut String, at: DateTime<Utc>) {
    let t = at.naive_utc();
    if at.timestamp_subsec_nanos() != 0 || !(0..=9999).contains(&t.year()) {
        out.push_str(&format_instant(at));
        return;
    }
    push_date(out, t.date());
    let mut buf = *b"T00:00:00Z";
    let two = |buf: &mut [u8; 10], at: usize, v: u32| {
        buf[at] = b'0' + (v / 10 % 10) as u8;
        buf[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut buf, 1, t.hour());
    two(&mut buf, 4, t.minute());
    two(&mut buf, 7, t.second());
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Appends `date` as `YYYY-MM-DD` (chrono's `%Y-%m-%d`).
pub fn push_date(out: &mut String, date: NaiveDate) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&date.format("%Y-%m-%d").to_string());
        return;
    }
    let mut buf = *b"0000-00-00";
    let y = year as u32;
    for (i, div) in [1000, 100, 10, 1].into_iter().enumerate() {
        buf[i] = b'0' + (y / div % 10) as u8;
    }
    buf[5] = b'0' + (date.month() / 10) as u8;
    buf[6] = b'0' + (date.month() % 10) as u8;
    buf[8] = b'0' + (date.day() / 10) as u8;
    buf[9] = b'0' + (date.day() % 10) as u8;
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::parse_export_line;

    #[test]
    fn whole_second_parser_agrees_with_rfc3339() {
        let chrono = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|d| d.with_timezone(&Utc));
        let mut texts: Vec<String> = [
            "2026-02-14T21:52:10Z",
            "2026-02-29T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2026-02-14T23:59:60Z",
            "2026-13-01T00:00:00Z",
            "2026-02-14t21:52:10Z",
            "2026-02-14 21:52:10Z",
            "2026-02-14T21:52:10z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2026-02-14T24:00:00Z",
            "2026-02-14T21:60:10Z",
            "+026-02-14T21:52:10Z",
            "2026-02-14T21:52:1aZ",
            "2026-02-14T21:52:10.5Z",
            "2026-02-14T21:52:10+00:00",
        ]
        .map(str::to_owned)
        .to_vec();
        let mut seed = 7u64;
        for _ in 0..5000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let d = |k: u32| ((seed >> k) % 10).to_string();
            texts.push(format!(
                "{}{}{}{}-{}{}-{}{}T{}{}:{}{}:{}{}Z",
                d(1),
                d(5),
                d(9),
                d(13),
                d(17).replace(|c: char| c > '1', "0"),
                d(21),
                d(25).replace(|c: char| c > '3', "1"),
                d(29),
                d(33).replace(|c: char| c > '2', "1"),
                d(37),
                d(41).replace(|c: char| c > '6', "5"),
                d(45),
                d(49).replace(|c: char| c > '6', "5"),
                d(53)
            ));
        }
        let mut fast_taken = 0;
        for t in &texts {
            if let Some(at) = whole_second_utc(t) {
                fast_taken += 1;
                assert_eq!(Some(at), chrono(t), "{t}");
            }
            assert_eq!(parse_instant("x", t).ok(), chrono(t), "{t}");
        }
        assert!(fast_taken > 1000, "the common shape takes the fast path ({fast_taken})");
    }

    #[test]
    fn push_instant_and_push_date_print_what_chrono_prints() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut instants: Vec<DateTime<Utc>> =
            ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-14T21:52:10.5Z"]
                .iter()
                .map(|t| t.parse().expect("instant"))
                .collect();
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let secs = (seed % 400_000_000_000) as i64 - 100_000_000_000;
            let nanos = if seed.is_multiple_of(5) { (seed >> 20) as u32 % 1_000_000_000 } else { 0 };
            instants.extend(DateTime::<Utc>::from_timestamp(secs, nanos));
        }
        for at in instants {
            let mut text = String::from("x");
            push_instant(&mut text, at);
            assert_eq!(text, format!("x{}", format_instant(at)));
            let mut date = String::new();
            push_date(&mut date, at.date_naive());
            assert_eq!(date, at.date_naive().format("%Y-%m-%d").to_string());
        }
    }

    pub(crate) const VALID: &str = r#"{"Item": {"pk": {"S": "DAY#2026-02-14#02"}, "sk": {"S": "2026-02-14T22:40:10Z#d-1"}, "deployment_id": {"S": "d-1"}, "provider_id": {"S": "acme"}, "product_id": {"S": "vault"}, "product_name": {"S": "Vault"}, "customer_alias": {"S": "C1"}, "started_at": {"S": "2026-02-14T21:51:10Z"}, "finished_at": {"S": "2026-02-14T22:40:10Z"}, "status": {"S": "SUCCEEDED"}, "errors": {"L": [{"M": {"code": {"S": "VM_TIMEOUT"}, "message": {"S": "slow"}, "at": {"S": "2026-02-14T21:52:10Z"}}}]}, "billing_model": {"S": "hourly"}, "quantity": {"N": "3.25"}, "unit_price": {"N": "0.125"}, "currency": {"S": "USD"}, "provider_share": {"N": "0.7"}}}"#;

    fn with(attr: &str, value: AttributeValue) -> Item {
        let mut item = parse_export_line(VALID).expect("valid fixture");
        item.insert(attr.to_owned(), value);
        item
    }

    fn without(attr: &str) -> Item {
        let mut item = parse_export_line(VALID).expect("valid fixture");
        item.remove(attr);
        item
    }

    fn reason(item: &Item) -> ContractViolation {
        parse_deployment_log(item, &|| "line 1".into()).expect_err("must be rejected").reason
    }

    #[test]
    fn valid_item_parses_into_typed_log() {
        let log = parse_deployment_log(&parse_export_line(VALID).expect("fixture"), &|| String::new()).expect("valid");
        assert_eq!(log.deployment_id, "d-1");
        assert_eq!(log.status, DeploymentStatus::Succeeded);
        assert_eq!(log.quantity, "3.25".parse::<Decimal>().expect("dec"));
        assert_eq!(log.errors.len(), 1);
        assert_eq!(log.report_date(), NaiveDate::from_ymd_opt(2026, 2, 14).expect("date"));
    }

    #[test]
    fn unknown_status_is_rejected_with_its_deployment_id_and_date() {
        let item = with("status", AttributeValue::S("IN_PROGRESS".into()));
        let rejected = parse_deployment_log(&item, &|| "line 1".into()).expect_err("reject");
        assert_eq!(rejected.key, "d-1");
        assert_eq!(rejected.report_date, NaiveDate::from_ymd_opt(2026, 2, 14));
        assert_eq!(rejected.reason, ContractViolation::UnknownStatus("IN_PROGRESS".into()));
    }

    #[test]
    fn unknown_currency_is_rejected() {
        let item = with("currency", AttributeValue::S("XYZ".into()));
        assert_eq!(reason(&item), ContractViolation::UnknownCurrency("XYZ".into()));
    }

    #[test]
    fn negative_quantity_and_price_are_rejected_but_zero_is_fine() {
        assert!(matches!(
            reason(&with("quantity", AttributeValue::N("-2".into()))),
            ContractViolation::NegativeQuantity(_)
        ));
        assert!(matches!(
            reason(&with("unit_price", AttributeValue::N("-0.01".into()))),
            ContractViolation::NegativeUnitPrice(_)
        ));
        let zero = with("quantity", AttributeValue::N("-0".into()));
        assert!(parse_deployment_log(&zero, &|| String::new()).is_ok());
    }

    #[test]
    fn share_outside_zero_exclusive_one_inclusive_is_rejected() {
        for bad in ["0", "1.0001", "-0.5"] {
            assert!(
                matches!(
                    reason(&with("provider_share", AttributeValue::N(bad.into()))),
                    ContractViolation::ShareOutOfRange(_)
                ),
                "{bad}"
            );
        }
        let one = with("provider_share", AttributeValue::N("1".into()));
        assert!(parse_deployment_log(&one, &|| String::new()).is_ok());
    }

    #[test]
    fn unparseable_number_and_date_are_rejected() {
        assert!(matches!(
            reason(&with("quantity", AttributeValue::N("three".into()))),
            ContractViolation::UnparseableNumber { attribute: "quantity", .. }
        ));
        assert!(matches!(
            reason(&with("started_at", AttributeValue::S("yesterday".into()))),
            ContractViolation::UnparseableDate { .. }
        ));
        let bad_error_at = with(
            "errors",
            AttributeValue::L(vec![AttributeValue::M(
                [
                    ("code".to_owned(), AttributeValue::S("X".into())),
                    ("message".to_owned(), AttributeValue::S("m".into())),
                    ("at".to_owned(), AttributeValue::S("2026-13-01".into())),
                ]
                .into(),
            )]),
        );
        assert!(
            matches!(reason(&bad_error_at), ContractViolation::UnparseableDate { attribute, .. } if attribute == "errors[0].at")
        );
    }

    #[test]
    fn scientific_notation_numbers_are_exact() {
        let item = with("quantity", AttributeValue::N("1.5E+2".into()));
        let log = parse_deployment_log(&item, &|| String::new()).expect("valid");
        assert_eq!(log.quantity, Decimal::from(150));
    }

    #[test]
    fn missing_attribute_is_rejected_and_date_falls_back_to_partition_key() {
        let item = without("finished_at");
        let rejected = parse_deployment_log(&item, &|| "line 1".into()).expect_err("reject");
        assert_eq!(rejected.reason, ContractViolation::MissingAttribute("finished_at"));
        assert_eq!(rejected.report_date, NaiveDate::from_ymd_opt(2026, 2, 14));
    }

    #[test]
    fn item_without_id_or_keys_is_named_by_its_locator() {
        let mut item = without("deployment_id");
        item.remove("pk");
        let rejected = parse_deployment_log(&item, &|| "file.json line 7".into()).expect_err("reject");
        assert_eq!(rejected.key, "file.json line 7");
        assert_eq!(rejected.reason, ContractViolation::MissingAttribute("deployment_id"));
    }

    #[test]
    fn wrong_attribute_type_is_rejected() {
        let item = with("quantity", AttributeValue::S("3".into()));
        assert!(matches!(reason(&item), ContractViolation::WrongType { expected: "N", found: "S", .. }));
    }

    #[test]
    fn provider_id_that_could_escape_the_output_directory_is_rejected() {
        for bad in ["..", "a/b", "", "x\\y"] {
            assert!(
                matches!(
                    reason(&with("provider_id", AttributeValue::S(bad.into()))),
                    ContractViolation::UnsafeProviderId(_)
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn unknown_billing_model_is_rejected() {
        assert!(matches!(
            reason(&with("billing_model", AttributeValue::S("weekly".into()))),
            ContractViolation::UnknownBillingModel(_)
        ));
    }

    #[test]
    fn oversized_text_too_many_errors_and_out_of_range_amounts_are_rejected() {
        let long = |n: usize| AttributeValue::S("x".repeat(n));
        assert_eq!(
            reason(&with("product_id", long(129))),
            ContractViolation::TooLong { attribute: "product_id", max: 128, length: 129 }
        );
        assert!(parse_deployment_log(&with("product_id", long(128)), &String::new).is_ok());
        assert!(matches!(reason(&with("deployment_id", long(200))), ContractViolation::TooLong { .. }));
        assert!(matches!(reason(&with("product_name", long(300))), ContractViolation::TooLong { .. }));
        assert!(matches!(reason(&with("customer_alias", long(300))), ContractViolation::TooLong { .. }));
        let entry = |message: AttributeValue| {
            AttributeValue::M(Item::from([
                ("code".to_owned(), AttributeValue::S("X".into())),
                ("message".to_owned(), message),
                ("at".to_owned(), AttributeValue::S("2026-02-14T21:52:10Z".into())),
            ]))
        };
        assert!(matches!(
            reason(&with("errors", AttributeValue::L(vec![entry(long(2049))]))),
            ContractViolation::TooLong { attribute: "errors[].message", .. }
        ));
        let many = AttributeValue::L(vec![entry(AttributeValue::S("m".into())); 101]);
        assert_eq!(reason(&with("errors", many)), ContractViolation::TooManyErrors(101));
        assert!(matches!(
            reason(&with("quantity", AttributeValue::N("1000000000001".into()))),
            ContractViolation::OutOfRange { attribute: "quantity", .. }
        ));
        assert!(matches!(
            reason(&with("unit_price", AttributeValue::N("1e10".into()))),
            ContractViolation::OutOfRange { attribute: "unit_price", .. }
        ));
        assert_eq!(MAX_QUANTITY, Decimal::from(1_000_000_000_000u64));
    }

    #[test]
    fn instants_print_canonically() {
        let at = parse_instant("x", "2026-02-14T01:00:00+01:00").expect("valid");
        assert_eq!(format_instant(at), "2026-02-14T00:00:00Z");
    }
}

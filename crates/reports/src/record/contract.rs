//! The rule core: [`check`] reads a log's attributes in the contract's order from a
//! [`LogAttributes`] source and returns the [`ValidLog`] or the first [`ContractViolation`].
//!
//! `check` is generic, not `dyn`: each source gets its own copy, and for the export fast paths,
//! whose attributes always have the right types, the lookups that cannot fail compile away.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::instant::parse_utc;
use super::log::{DeploymentErrorEntry, DeploymentLog, DeploymentStatus, ValidLog};
use marketplace_core::money::{parse_dynamodb_number, Currency};

/// The contract's scalar attributes (`errors` apart), in the order [`check`] reads them
/// (`errors` between `status` and `billing_model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    /// `deployment_id`.
    DeploymentId,
    /// `provider_id`.
    ProviderId,
    /// `product_id`.
    ProductId,
    /// `product_name`.
    ProductName,
    /// `customer_alias`.
    CustomerAlias,
    /// `started_at`.
    StartedAt,
    /// `finished_at`.
    FinishedAt,
    /// `status`.
    Status,
    /// `billing_model`.
    BillingModel,
    /// `quantity`.
    Quantity,
    /// `unit_price`.
    UnitPrice,
    /// `currency`.
    Currency,
    /// `provider_share`.
    ProviderShare,
}

impl Attribute {
    /// Every attribute, in order: `ALL[a as usize] == a`.
    pub const ALL: [Attribute; 13] = [
        Attribute::DeploymentId,
        Attribute::ProviderId,
        Attribute::ProductId,
        Attribute::ProductName,
        Attribute::CustomerAlias,
        Attribute::StartedAt,
        Attribute::FinishedAt,
        Attribute::Status,
        Attribute::BillingModel,
        Attribute::Quantity,
        Attribute::UnitPrice,
        Attribute::Currency,
        Attribute::ProviderShare,
    ];

    /// Its name in the item.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::DeploymentId => "deployment_id",
            Attribute::ProviderId => "provider_id",
            Attribute::ProductId => "product_id",
            Attribute::ProductName => "product_name",
            Attribute::CustomerAlias => "customer_alias",
            Attribute::StartedAt => "started_at",
            Attribute::FinishedAt => "finished_at",
            Attribute::Status => "status",
            Attribute::BillingModel => "billing_model",
            Attribute::Quantity => "quantity",
            Attribute::UnitPrice => "unit_price",
            Attribute::Currency => "currency",
            Attribute::ProviderShare => "provider_share",
        }
    }

    /// The attribute called `name` (a `match`: one comparison, not a search); `None` for `errors`
    /// and attributes outside the contract.
    pub fn from_name(name: &str) -> Option<Attribute> {
        Some(match name {
            "deployment_id" => Attribute::DeploymentId,
            "provider_id" => Attribute::ProviderId,
            "product_id" => Attribute::ProductId,
            "product_name" => Attribute::ProductName,
            "customer_alias" => Attribute::CustomerAlias,
            "started_at" => Attribute::StartedAt,
            "finished_at" => Attribute::FinishedAt,
            "status" => Attribute::Status,
            "billing_model" => Attribute::BillingModel,
            "quantity" => Attribute::Quantity,
            "unit_price" => Attribute::UnitPrice,
            "currency" => Attribute::Currency,
            "provider_share" => Attribute::ProviderShare,
            _ => return None,
        })
    }

    /// Its DynamoDB type: `N` for the three numbers, `S` for the rest.
    pub fn dynamodb_type(self) -> &'static str {
        match self {
            Attribute::Quantity | Attribute::UnitPrice | Attribute::ProviderShare => "N",
            _ => "S",
        }
    }
}

/// The fields of an `errors` entry (each an `S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryAttribute {
    /// `code`.
    Code,
    /// `message`.
    Message,
    /// `at`.
    At,
}

impl EntryAttribute {
    /// Its name in the entry's map.
    pub fn name(self) -> &'static str {
        match self {
            EntryAttribute::Code => "code",
            EntryAttribute::Message => "message",
            EntryAttribute::At => "at",
        }
    }

    /// Its name in reject reasons that do not say which entry (`errors[].code`).
    pub fn list_name(self) -> &'static str {
        match self {
            EntryAttribute::Code => "errors[].code",
            EntryAttribute::Message => "errors[].message",
            EntryAttribute::At => "errors[].at",
        }
    }
}

/// A deployment log's attributes as a source lends them, borrowed for `'a`. [`check`] asks for
/// each in the contract's order, so a source that may lack an attribute, or hold it with another
/// DynamoDB type, reports that at the same point of the order as every other rule.
pub trait LogAttributes<'a> {
    /// The text of `attribute`: an `S` value, or an `N` value's number text.
    fn text(&self, attribute: Attribute) -> Result<&'a str, ContractViolation>;
    /// How many `errors` entries there are.
    fn error_count(&self) -> Result<usize, ContractViolation>;
    /// The text of `field` in entry `index` (below [`Self::error_count`]).
    fn error_text(&self, index: usize, field: EntryAttribute) -> Result<&'a str, ContractViolation>;
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

/// Most bytes of an id: `deployment_id`, `product_id`, `errors[].code`.
pub const MAX_ID: usize = 128;
/// Most bytes of a name: `product_name`, `customer_alias`.
pub const MAX_NAME: usize = 256;
/// Most bytes of an `errors[].message`.
pub const MAX_MESSAGE: usize = 2048;

/// Most error entries one deployment may carry.
pub const MAX_ERRORS: usize = 100;

/// Largest `quantity` accepted.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0); // 10^12

/// Largest `unit_price` accepted.
pub const MAX_UNIT_PRICE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0); // 10^9

/// The contract, once: the log `attributes` hold, typed and borrowing its text from them, or the
/// first rule it breaks (attributes are read, and rules applied, in the contract's order).
pub fn check<'a>(attributes: &impl LogAttributes<'a>) -> Result<ValidLog<'a>, ContractViolation> {
    let text = |attribute: Attribute| attributes.text(attribute);
    let bounded_text = |attribute: Attribute, max| bounded(attribute.name(), max, text(attribute)?);
    let instant_of = |attribute: Attribute| instant(text(attribute)?, || attribute.name().to_owned());
    let deployment_id = bounded_text(Attribute::DeploymentId, MAX_ID)?;
    let provider_id = text(Attribute::ProviderId)?;
    if !is_safe_identifier(provider_id) {
        return Err(ContractViolation::UnsafeProviderId(provider_id.to_owned()));
    }
    let product_id = bounded_text(Attribute::ProductId, MAX_ID)?;
    let product_name = bounded_text(Attribute::ProductName, MAX_NAME)?;
    let customer_alias = bounded_text(Attribute::CustomerAlias, MAX_NAME)?;
    let started_at = instant_of(Attribute::StartedAt)?;
    let finished_at = instant_of(Attribute::FinishedAt)?;
    let status = match text(Attribute::Status)? {
        "SUCCEEDED" => DeploymentStatus::Succeeded,
        "FAILED" => DeploymentStatus::Failed,
        other => return Err(ContractViolation::UnknownStatus(other.to_owned())),
    };
    let errors = error_entries(attributes)?;
    let billing_model = text(Attribute::BillingModel)?;
    let billing_model =
        billing_model.parse().map_err(|()| ContractViolation::UnknownBillingModel(billing_model.to_owned()))?;
    let quantity =
        amount(Attribute::Quantity, text(Attribute::Quantity)?, MAX_QUANTITY, ContractViolation::NegativeQuantity)?;
    let unit_price = amount(
        Attribute::UnitPrice,
        text(Attribute::UnitPrice)?,
        MAX_UNIT_PRICE,
        ContractViolation::NegativeUnitPrice,
    )?;
    let currency = text(Attribute::Currency)?;
    let currency = currency.parse::<Currency>().map_err(|_| ContractViolation::UnknownCurrency(currency.to_owned()))?;
    let provider_share = number(Attribute::ProviderShare, text(Attribute::ProviderShare)?)?;
    if provider_share <= Decimal::ZERO || provider_share > Decimal::ONE {
        return Err(ContractViolation::ShareOutOfRange(provider_share));
    }
    Ok(DeploymentLog {
        deployment_id,
        provider_id,
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

/// The `errors` entries: at most [`MAX_ERRORS`], each with a bounded code and message and an
/// RFC 3339 `at`.
fn error_entries<'a>(
    attributes: &impl LogAttributes<'a>,
) -> Result<Vec<DeploymentErrorEntry<&'a str>>, ContractViolation> {
    let count = attributes.error_count()?;
    if count > MAX_ERRORS {
        return Err(ContractViolation::TooManyErrors(count));
    }
    let mut entries = Vec::with_capacity(count);
    for index in 0..count {
        let field = |field: EntryAttribute| attributes.error_text(index, field);
        let code = bounded(EntryAttribute::Code.list_name(), MAX_ID, field(EntryAttribute::Code)?)?;
        let message = bounded(EntryAttribute::Message.list_name(), MAX_MESSAGE, field(EntryAttribute::Message)?)?;
        // The attribute name is only built for the error (not once per entry).
        let at = instant(field(EntryAttribute::At)?, || format!("errors[{index}].at"))?;
        entries.push(DeploymentErrorEntry { code, message, at });
    }
    Ok(entries)
}

/// `text`, unless it is longer than `max` bytes.
fn bounded<'a>(attribute: &'static str, max: usize, text: &'a str) -> Result<&'a str, ContractViolation> {
    if text.len() > max {
        return Err(ContractViolation::TooLong { attribute, max, length: text.len() });
    }
    Ok(text)
}

fn is_safe_identifier(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id != "."
        && id != ".."
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// An RFC 3339 instant in UTC; `attribute` names it in the violation.
fn instant(text: &str, attribute: impl FnOnce() -> String) -> Result<DateTime<Utc>, ContractViolation> {
    parse_utc(text).ok_or_else(|| ContractViolation::UnparseableDate { attribute: attribute(), value: text.to_owned() })
}

/// A DynamoDB number's exact value.
fn number(attribute: Attribute, text: &str) -> Result<Decimal, ContractViolation> {
    parse_dynamodb_number(text)
        .ok_or_else(|| ContractViolation::UnparseableNumber { attribute: attribute.name(), value: text.to_owned() })
}

/// A number in `0 ..= max` (`-0` is zero); a negative one is the violation `negative` makes.
fn amount(
    attribute: Attribute,
    text: &str,
    max: Decimal,
    negative: fn(Decimal) -> ContractViolation,
) -> Result<Decimal, ContractViolation> {
    let value = number(attribute, text)?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err(negative(value));
    }
    if value > max {
        return Err(ContractViolation::OutOfRange { attribute: attribute.name(), value, max });
    }
    Ok(value)
}

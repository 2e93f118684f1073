//! The one converter of DynamoDB attribute values, SDK type ↔ the two forms the code reads:
//!
//! * serde records ([`to_item`], [`from_item`], through JSON values), so records are stored as
//!   plain attributes the portal can read (strings as `S`, numbers as `N`, objects as `M`...);
//! * with the `reports` feature, the report engine's neutral items ([`report_item`],
//!   [`sdk_item`]): deployment logs and stored report rows, typed as DynamoDB types them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use marketplace_core::DomainError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Number, Value};

pub type Item = HashMap<String, AttributeValue>;

pub fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attribute(v))).collect()),
    }
}

pub fn from_attribute(value: &AttributeValue) -> Result<Value, DomainError> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => {
            let number: Number = n
                .parse()
                .map_err(|e| DomainError::infra("read item", format!("number {n:?} is not representable: {e}")))?;
            Value::Number(number)
        }
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attribute).collect::<Result<_, _>>()?),
        AttributeValue::M(map) => Value::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), from_attribute(v)?))).collect::<Result<Map<_, _>, DomainError>>()?,
        ),
        AttributeValue::Ss(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        other => return Err(DomainError::infra("read item", format!("unsupported attribute {other:?}"))),
    })
}

/// Serialises `record` into item attributes (it must serialise to a JSON object).
pub fn to_item<T: Serialize>(record: &T) -> Result<Item, DomainError> {
    match serde_json::to_value(record).map_err(|e| DomainError::infra("serialise item", e))? {
        Value::Object(map) => {
            Ok(map.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), to_attribute(v))).collect())
        }
        other => Err(DomainError::infra("serialise item", format!("expected an object, got {other}"))),
    }
}

/// Deserialises item attributes into `T`, ignoring attributes `T` does not know (keys, TTLs...).
pub fn from_item<T: DeserializeOwned>(item: &Item) -> Result<T, DomainError> {
    let map =
        item.iter().map(|(k, v)| Ok((k.clone(), from_attribute(v)?))).collect::<Result<Map<_, _>, DomainError>>()?;
    serde_json::from_value(Value::Object(map)).map_err(|e| DomainError::infra("deserialise item", e))
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A whole number as a DynamoDB number.
pub fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A time as epoch seconds (DynamoDB's TTL format), rounded up so that an expiry never comes early.
pub fn epoch(t: DateTime<Utc>) -> AttributeValue {
    let seconds = t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0);
    AttributeValue::N(seconds.to_string())
}

/// A string attribute of an item ("" when absent or not a string).
pub fn text(item: &Item, name: &str) -> String {
    item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

/// An SDK item as the report engine's neutral item (moved, not copied: the report job's table
/// source converts every deployment log it reads).
#[cfg(feature = "reports")]
pub fn report_item(item: Item) -> marketplace_reports::Item {
    item.into_iter().map(|(k, v)| (k, report_value(v))).collect()
}

#[cfg(feature = "reports")]
fn report_value(value: AttributeValue) -> marketplace_reports::AttributeValue {
    use marketplace_reports::AttributeValue as Neutral;
    match value {
        AttributeValue::S(s) => Neutral::S(s),
        AttributeValue::N(n) => Neutral::N(n),
        AttributeValue::L(l) => Neutral::L(l.into_iter().map(report_value).collect()),
        AttributeValue::M(m) => Neutral::M(report_item(m)),
        AttributeValue::Bool(b) => Neutral::BOOL(b),
        AttributeValue::Null(b) => Neutral::NULL(b),
        AttributeValue::Ss(v) => Neutral::SS(v),
        AttributeValue::Ns(v) => Neutral::NS(v),
        // Binary is never part of the contract; keep its type so a reject reason names it.
        _ => Neutral::B(String::new()),
    }
}

/// The report engine's neutral item as an SDK item (for loading generated deployment logs).
#[cfg(feature = "reports")]
pub fn sdk_item(item: &marketplace_reports::Item) -> Item {
    item.iter().map(|(k, v)| (k.clone(), sdk_value(v))).collect()
}

#[cfg(feature = "reports")]
fn sdk_value(value: &marketplace_reports::AttributeValue) -> AttributeValue {
    use marketplace_reports::AttributeValue as Neutral;
    match value {
        Neutral::S(s) => AttributeValue::S(s.clone()),
        Neutral::N(n) => AttributeValue::N(n.clone()),
        Neutral::L(l) => AttributeValue::L(l.iter().map(sdk_value).collect()),
        Neutral::M(m) => AttributeValue::M(sdk_item(m)),
        Neutral::BOOL(b) => AttributeValue::Bool(*b),
        Neutral::NULL(b) => AttributeValue::Null(*b),
        Neutral::SS(v) => AttributeValue::Ss(v.clone()),
        Neutral::NS(v) => AttributeValue::Ns(v.clone()),
        Neutral::B(_) | Neutral::BS(_) => AttributeValue::Null(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "reports")]
    #[test]
    fn report_items_round_trip_nested_values() {
        use marketplace_reports::AttributeValue as Neutral;
        let item = marketplace_reports::Item::from([(
            "errors".to_owned(),
            Neutral::L(vec![Neutral::S("x".into()), Neutral::N("1.50".into()), Neutral::BOOL(true)]),
        )]);
        assert_eq!(report_item(sdk_item(&item)), item);
        let binary = Item::from([("b".to_owned(), AttributeValue::B(vec![1u8].into()))]);
        assert_eq!(report_item(binary)["b"].type_name(), "B", "binary keeps its type for the reject reason");
    }

    #[test]
    fn values_round_trip_through_attributes() {
        let value = serde_json::json!({"a": "x", "n": 12, "f": "1.250", "l": [true, {"m": 1}], "z": null});
        let item = match to_attribute(&value) {
            AttributeValue::M(m) => m,
            _ => unreachable!(),
        };
        assert_eq!(item["n"], AttributeValue::N("12".into()));
        assert_eq!(from_attribute(&AttributeValue::M(item)).unwrap(), value);
    }
}

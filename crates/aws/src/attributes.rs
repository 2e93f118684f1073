//! Converting between serde values and DynamoDB attribute values, so records are stored as plain
//! attributes the portal can read (strings as `S`, numbers as `N`, objects as `M`...).

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

#[cfg(test)]
mod tests {
    use super::*;

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

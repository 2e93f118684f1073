//! A neutral, SDK-free model of DynamoDB attribute values.
//!
//! Deployment logs arrive in two shapes: as DynamoDB-JSON lines of a table export
//! (`{"Item": {"deployment_id": {"S": "d-1"}, "quantity": {"N": "3.25"}, ...}}`) and as
//! `aws_sdk_dynamodb` items returned by `Query`. Both are converted into [`Item`] (the export by
//! serde, the SDK item by a small conversion in the job's DynamoDB source), so one parser
//! ([`super::record::parse_deployment_log`]) serves both and the domain never sees AWS types.
//!
//! The enum is externally tagged exactly like DynamoDB JSON, so `serde_json` reads and writes the
//! wire format directly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One DynamoDB item: attribute name → value. Ordered so serialised items are deterministic.
pub type Item = BTreeMap<String, AttributeValue>;

/// One DynamoDB attribute value in DynamoDB-JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum AttributeValue {
    /// String.
    S(String),
    /// Number, kept as its exact decimal text.
    N(String),
    /// List.
    L(Vec<AttributeValue>),
    /// Map.
    M(Item),
    /// Boolean.
    BOOL(bool),
    /// Null (always `true` on the wire).
    NULL(bool),
    /// String set.
    SS(Vec<String>),
    /// Number set.
    NS(Vec<String>),
    /// Binary, base64 text.
    B(String),
    /// Binary set, base64 texts.
    BS(Vec<String>),
}

impl AttributeValue {
    /// DynamoDB's type descriptor (`"S"`, `"N"`, ...), used in reject reasons.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::L(_) => "L",
            AttributeValue::M(_) => "M",
            AttributeValue::BOOL(_) => "BOOL",
            AttributeValue::NULL(_) => "NULL",
            AttributeValue::SS(_) => "SS",
            AttributeValue::NS(_) => "NS",
            AttributeValue::B(_) => "B",
            AttributeValue::BS(_) => "BS",
        }
    }
}

/// One line of a DynamoDB table export (`{"Item": {...}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportLine {
    /// The exported item.
    #[serde(rename = "Item")]
    pub item: Item,
}

/// Parses one DynamoDB-JSON export line.
pub fn parse_export_line(line: &str) -> Result<Item, serde_json::Error> {
    serde_json::from_str::<ExportLine>(line).map(|l| l.item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_line_with_nested_list_of_maps_round_trips() {
        let line = r#"{"Item":{"errors":{"L":[{"M":{"code":{"S":"X"}}}]},"quantity":{"N":"3.25"}}}"#;
        let item = parse_export_line(line).expect("valid line");
        assert_eq!(item["quantity"], AttributeValue::N("3.25".into()));
        let AttributeValue::L(errors) = &item["errors"] else { panic!("errors is a list") };
        assert_eq!(errors.len(), 1);
        let back = serde_json::to_string(&ExportLine { item }).expect("serialises");
        assert_eq!(back, line);
    }

    #[test]
    fn export_line_without_item_wrapper_is_an_error() {
        assert!(parse_export_line(r#"{"deployment_id":{"S":"d"}}"#).is_err());
    }
}

//! The fast path of the export source: one DynamoDB-JSON export line straight into a typed
//! [`DeploymentLog`], borrowing every string from the line (no attribute map is built).
//!
//! It accepts only the common case — every contract attribute present with its exact
//! DynamoDB type and a valid value — and applies the contract's checks in the same functions
//! as [`super::record`]. Anything else (a missing or wrongly typed attribute, a `NULL`, a value
//! out of range, a line that is not JSON) returns `None`, and the caller takes the general
//! path ([`super::attribute::parse_export_line`] + [`super::record::parse_deployment_log`]),
//! which names the reason. So both paths count exactly the same logs with the same values;
//! `tests::fast_and_general_paths_agree` checks it on every kind of reject.

use std::borrow::Cow;

use serde::Deserialize;

use super::record::{check_valid, DeploymentLog, RawErrorEntry, RawLog};

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

/// One export line in the fast path's shape (borrowing from the line). Any serde JSON parser
/// can produce it; [`parse_valid_export_line`] uses `serde_json`, the job a SIMD parser.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportLineRef<'a> {
    #[serde(rename = "Item", borrow)]
    item: Log<'a>,
}

/// The log of a valid export line, or `None` when the line needs the general path.
pub fn parse_valid_export_line(line: &str) -> Option<DeploymentLog> {
    valid_log(serde_json::from_str(line).ok()?)
}

/// The log of a parsed export line, or `None` when it breaks the contract (the general path
/// then names the reason).
pub fn valid_log(line: ExportLineRef<'_>) -> Option<DeploymentLog> {
    let l = line.item;
    let errors: Vec<RawErrorEntry<'_>> = l
        .errors
        .l
        .iter()
        .map(|e| RawErrorEntry { code: &e.m.code.s, message: &e.m.message.s, at: &e.m.at.s })
        .collect();
    check_valid(&RawLog {
        deployment_id: &l.deployment_id.s,
        provider_id: &l.provider_id.s,
        product_id: &l.product_id.s,
        product_name: &l.product_name.s,
        customer_alias: &l.customer_alias.s,
        started_at: &l.started_at.s,
        finished_at: &l.finished_at.s,
        status: &l.status.s,
        errors: &errors,
        billing_model: &l.billing_model.s,
        quantity: &l.quantity.n,
        unit_price: &l.unit_price.n,
        currency: &l.currency.s,
        provider_share: &l.provider_share.n,
    })
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::attribute::parse_export_line;
    use crate::report::record::parse_deployment_log;

    const GOLDEN: &str =
        include_str!("../../../../jobs/nightly-reports/tests/fixtures/reports-2026-02-14/deployment-logs-export.json");

    fn general(line: &str) -> Option<DeploymentLog> {
        parse_export_line(line).ok().and_then(|item| parse_deployment_log(&item, &String::new).ok())
    }

    #[test]
    fn fast_and_general_paths_agree() {
        let valid = GOLDEN.lines().find(|l| general(l).is_some()).expect("a valid golden line");
        let mut lines: Vec<String> = GOLDEN.lines().map(str::to_owned).collect();
        for (from, to) in [
            (r#""status": {"S": "SUCCEEDED"}"#, r#""status": {"NULL": true}"#),
            (r#""status": {"S": "SUCCEEDED"}"#, r#""status": {"S": "SUCCEEDED", "N": "1"}"#),
            (r#""status": {"S": "SUCCEEDED"}"#, r#""status": {"S": "DONE"}"#),
            (r#""currency": {"S": "USD"}"#, r#""currency": {"S": "usd"}"#),
            (r#""product_name": {"S": "Acme Vault"}"#, r#""product_name": {"S": "Acme \"Vault\" \u00e9"}"#),
            (r#""quantity": {"N": ""#, r#""quantity": {"S": ""#),
            (r#""provider_id": {"S": "acme-software"}"#, r#""provider_id": {"S": "../acme"}"#),
            (r#""errors": {"L": []}"#, r#""errors": {"L": [{"M": {"code": {"S": "X"}}}]}"#),
            (r#""errors": {"L": []}"#, r#""errors": {"NULL": true}"#),
            (r#""unit_price": {"N": ""#, r#""unit_price": {"N": "1e3"#),
            (r#"{"Item": "#, r#"{"Other": 1, "Item": "#),
        ] {
            lines.push(valid.replacen(from, to, 1));
        }
        lines.push("not json".to_owned());
        lines.push(valid.replacen(r#""deployment_id""#, r#""deployment_id": {"S": "dup"}, "deployment_id""#, 1));
        let mut agreed_valid = 0;
        for line in &lines {
            let fast = parse_valid_export_line(line);
            let slow = general(line);
            // The fast path may hand an unusual line to the general path (None), but what it
            // accepts, the general path accepts with the very same values.
            if fast.is_some() {
                assert_eq!(fast, slow, "{line}");
                agreed_valid += 1;
            }
        }
        assert!(agreed_valid >= 25, "the fast path takes the common case ({agreed_valid})");
        // The unusual-but-valid lines: escaped text is still taken by the fast path.
        let escaped = valid.replacen(r#""product_name": {"S": ""#, r#""product_name": {"S": "\"Q\" "#, 1);
        assert_eq!(parse_valid_export_line(&escaped), general(&escaped));
        assert!(parse_valid_export_line(&escaped).is_some());
    }
}

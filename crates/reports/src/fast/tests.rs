use proptest::prelude::*;

use super::*;
use crate::attribute::parse_export_line;
use crate::record::{parse_deployment_log, DeploymentErrorEntry};

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

/// A JSON string literal of `text`, escaping non-ASCII as `\uXXXX` when `escape_unicode`.
fn json_string(text: &str, escape_unicode: bool) -> String {
    let plain = serde_json::to_string(text).expect("a string serialises");
    if !escape_unicode {
        return plain;
    }
    plain.chars().map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) }).collect()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9-]{1,12}",
        1 => "[a-zA-Z0-9 ,\"\\\\é日\n\t\u{1F600}-]{0,12}",
        1 => Just(String::new()),
    ]
}

fn one_of(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::sample::select(values).prop_map(str::to_owned)
}

/// (attribute name, value JSON) pairs of a line; values are sometimes of the wrong type.
fn attributes() -> impl Strategy<Value = Vec<(String, String)>> {
    let instant = || one_of(&["2026-02-14T10:00:00Z", "2026-02-14T10:00:00.25Z", "2026-02-14T12:00:00+02:00", "x"]);
    let scalars = (
        (text(), one_of(&["acme", "globex-labs", "../x", "é"]), text(), text(), text()),
        (instant(), instant(), one_of(&["SUCCEEDED", "FAILED", "DONE"]), one_of(&["hourly", "monthly", "weird"])),
        (one_of(&["1", "2.5", "0.125", "1e2", "-1"]), one_of(&["49.99", "0.000001", "12"])),
        (one_of(&["USD", "EUR", "JPY", "usd"]), one_of(&["0.7", "1", "2"])),
    );
    let entry = (text(), text(), instant(), any::<u8>());
    (scalars, proptest::collection::vec(entry, 0..3), any::<u8>(), any::<bool>()).prop_map(
        |(
            ((id, provider, product, name, alias), (start, end, status, model), (qty, price), (cur, share)),
            errs,
            typo,
            esc,
        )| {
            let s = |v: &str| format!(r#"{{"S": {}}}"#, json_string(v, esc));
            let n = |v: &str| format!(r#"{{"N": {}}}"#, json_string(v, esc));
            let entries: Vec<String> = errs
                .iter()
                .map(|(code, message, at, shape)| {
                    let mut keys = vec![("code", s(code)), ("message", s(message)), ("at", s(at))];
                    keys.rotate_left(usize::from(shape % 3));
                    if shape.is_multiple_of(11) {
                        keys.pop(); // a missing key
                    }
                    let body: Vec<String> = keys.iter().map(|(k, v)| format!(r#""{k}": {v}"#)).collect();
                    format!(r#"{{"M": {{{}}}}}"#, body.join(", "))
                })
                .collect();
            let mut attrs = vec![
                ("pk".to_owned(), s("DAY#2026-02-14#01")),
                ("deployment_id".to_owned(), s(&id)),
                ("provider_id".to_owned(), s(&provider)),
                ("product_id".to_owned(), s(&product)),
                ("product_name".to_owned(), s(&name)),
                ("customer_alias".to_owned(), s(&alias)),
                ("started_at".to_owned(), s(&start)),
                ("finished_at".to_owned(), s(&end)),
                ("status".to_owned(), s(&status)),
                ("errors".to_owned(), format!(r#"{{"L": [{}]}}"#, entries.join(", "))),
                ("billing_model".to_owned(), s(&model)),
                ("quantity".to_owned(), n(&qty)),
                ("unit_price".to_owned(), n(&price)),
                ("currency".to_owned(), s(&cur)),
                ("provider_share".to_owned(), n(&share)),
            ];
            // Occasionally: a wrong type, a missing attribute, a NULL, a nested attribute.
            let k = usize::from(typo) % attrs.len();
            match typo / 32 {
                0 => attrs[k].1 = attrs[k].1.replacen(r#"{"S""#, r#"{"N""#, 1).replacen(r#"{"N""#, r#"{"S""#, 1),
                1 => {
                    attrs.remove(k);
                }
                2 => attrs[k].1 = r#"{"NULL": true}"#.to_owned(),
                3 => attrs.push(("extra".to_owned(), r#"{"M": {"a": {"S": "b"}}}"#.to_owned())),
                4 => attrs.push((attrs[k].0.clone(), attrs[k].1.clone())), // a duplicate key
                _ => {}
            }
            attrs
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// What the scanner accepts, the serde path accepts with the same values; and on the
    /// plain shape (no surrogate escapes, no raw tab/CR/LF, no NULL or nested value, no
    /// doubled key) the
    /// scanner takes every line the serde path takes.
    #[test]
    fn scanner_agrees_with_serde(attrs in attributes(), order in any::<u64>(), spacing in 0usize..3) {
        let mut attrs = attrs;
        // Reorder the keys (a deterministic shuffle from `order`).
        let mut seed = order;
        for i in (1..attrs.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            attrs.swap(i, (seed >> 33) as usize % (i + 1));
        }
        let (colon, comma) = [(": ", ", "), (":", ","), (" :\n", "\t,\r\n ")][spacing];
        let body: Vec<String> = attrs.iter().map(|(k, v)| format!("\"{k}\"{colon}{v}")).collect();
        let line = format!("{{\"Item\"{colon}{{{}}}}}", body.join(comma));
        let mut scratch = String::new();
        let scanned = scan_valid_export_line(&line, &mut scratch).map(|log| log.to_owned_log());
        let serde = parse_valid_export_line(&line);
        if scanned.is_some() {
            prop_assert_eq!(&scanned, &serde, "{}", line);
        }
        let mut names: Vec<&str> = attrs.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        let doubled = names.windows(2).any(|w| w[0] == w[1]);
        let surrogate = ["\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf"].iter().any(|u| line.contains(u));
        let control = line.bytes().any(|b| b < 0x20);
        // An attribute outside the contract that is neither S nor N is left to serde.
        let other = line.contains(r#""M": {"a""#) || line.contains(r#"{"NULL""#);
        let plain = !surrogate && !control && !other && !doubled;
        if plain && serde.is_some() {
            prop_assert!(scanned.is_some(), "the scanner gave up on a plain line: {}", line);
        }
    }
}

#[test]
fn scanner_takes_the_generated_shape_escapes_included() {
    let line = r#"{"Item": {"pk": {"S": "DAY#2026-02-14#02"}, "deployment_id": {"S": "d-1"}, "provider_id": {"S": "acme"}, "product_id": {"S": "vault"}, "product_name": {"S": "Vault é 日"}, "customer_alias": {"S": "C1"}, "started_at": {"S": "2026-02-14T21:51:10Z"}, "finished_at": {"S": "2026-02-14T22:40:10Z"}, "status": {"S": "FAILED"}, "errors": {"L": [{"M": {"at": {"S": "2026-02-14T21:52:10Z"}, "code": {"S": "VM_TIMEOUT"}, "message": {"S": "slow, \"very\""}}}]}, "billing_model": {"S": "hourly"}, "quantity": {"N": "3.25"}, "unit_price": {"N": "0.125"}, "currency": {"S": "USD"}, "provider_share": {"N": "0.7"}}}"#;
    let mut scratch = String::new();
    let log = scan_valid_export_line(line, &mut scratch).expect("the usual shape is scanned");
    assert_eq!(log.product_name, "Vault é 日");
    assert_eq!(
        log.errors,
        [DeploymentErrorEntry {
            code: "VM_TIMEOUT",
            message: "slow, \"very\"",
            at: "2026-02-14T21:52:10Z".parse().expect("instant")
        }]
    );
    assert_eq!(Some(log.to_owned_log()), parse_valid_export_line(line));
    for (escape, decoded) in [(r"\u00e9\n\t\/\\", "é\n\t/\\"), (r"\u65E5", "日")] {
        let escaped = line.replace("Vault é 日", escape);
        let log = scan_valid_export_line(&escaped, &mut scratch).expect("escapes are decoded");
        assert_eq!(log.product_name, decoded);
        assert_eq!(Some(log.to_owned_log()), parse_valid_export_line(&escaped));
    }
    for given_up in [r"\ud83d\ude00", r"\x", r"\u12", "tab\there"] {
        let odd = line.replace("Vault é 日", given_up);
        assert!(scan_valid_export_line(&odd, &mut scratch).is_none(), "{given_up}: serde decides");
    }
}

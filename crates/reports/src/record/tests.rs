use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::instant::{parse_utc, whole_second_utc};
use super::*;
use crate::attribute::{parse_export_line, AttributeValue, Item};

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
        assert_eq!(parse_utc(t), chrono(t), "{t}");
    }
    assert!(fast_taken > 1000, "the common shape takes the fast path ({fast_taken})");
}

#[test]
fn push_instant_and_push_date_print_what_chrono_prints() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut instants: Vec<DateTime<Utc>> = ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-14T21:52:10.5Z"]
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

const VALID: &str = r#"{"Item": {"pk": {"S": "DAY#2026-02-14#02"}, "sk": {"S": "2026-02-14T22:40:10Z#d-1"}, "deployment_id": {"S": "d-1"}, "provider_id": {"S": "acme"}, "product_id": {"S": "vault"}, "product_name": {"S": "Vault"}, "customer_alias": {"S": "C1"}, "started_at": {"S": "2026-02-14T21:51:10Z"}, "finished_at": {"S": "2026-02-14T22:40:10Z"}, "status": {"S": "SUCCEEDED"}, "errors": {"L": [{"M": {"code": {"S": "VM_TIMEOUT"}, "message": {"S": "slow"}, "at": {"S": "2026-02-14T21:52:10Z"}}}]}, "billing_model": {"S": "hourly"}, "quantity": {"N": "3.25"}, "unit_price": {"N": "0.125"}, "currency": {"S": "USD"}, "provider_share": {"N": "0.7"}}}"#;

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
    let at = parse_utc("2026-02-14T01:00:00+01:00").expect("valid");
    assert_eq!(format_instant(at), "2026-02-14T00:00:00Z");
}

#[test]
fn every_attribute_name_reads_back_as_its_attribute() {
    for (k, attribute) in Attribute::ALL.into_iter().enumerate() {
        assert_eq!(attribute as usize, k, "{attribute:?}");
        assert_eq!(Attribute::from_name(attribute.name()), Some(attribute), "{attribute:?}");
    }
    assert_eq!(Attribute::from_name("pk"), None);
    assert_eq!(Attribute::from_name("errors"), None);
}

#[test]
fn a_log_breaking_several_rules_is_rejected_for_the_first_in_contract_order() {
    let mut item = with("deployment_id", AttributeValue::S("x".repeat(129)));
    item.remove("provider_id");
    assert!(matches!(reason(&item), ContractViolation::TooLong { attribute: "deployment_id", .. }));
    let mut item = with("status", AttributeValue::S("DONE".into()));
    item.insert("quantity".into(), AttributeValue::S("1".into()));
    item.remove("errors");
    assert_eq!(reason(&item), ContractViolation::UnknownStatus("DONE".into()));
    let item = with(
        "errors",
        AttributeValue::L(vec![AttributeValue::M(Item::from([(
            "code".to_owned(),
            AttributeValue::S("x".repeat(129)),
        )]))]),
    );
    assert!(matches!(reason(&item), ContractViolation::TooLong { attribute: "errors[].code", .. }));
}

use rust_decimal::Decimal;
use serde_json::json;

use super::emails::{emails_for, percent};
use super::model::{Product, PublishOutcome, DETAIL_TYPE, MAX_REASONS, MAX_REASON_CHARS, MAX_REQUEST_BYTES};
use super::rules::{decide, mpa_refusal, validate_listing, Decision, PublishRequest};
use crate::event::{Actor, PortalEvent};
use marketplace_core::agreement::{MpaVersion, MpaVersions};
use marketplace_core::billing::BillingModel;
use marketplace_core::provider::{MpaRecord, MpaStatus, Person, Provider};
use marketplace_core::PortalConfig;

fn listing() -> serde_json::Value {
    json!({
        "name": "Vault", "summary": "Secrets.", "description": "Stores secrets.", "category": "security",
        "support_email": "support@acme.example", "blueprint_id": "bp-1", "provider_share": "0.7",
        "pricing": [{"model": "usage", "unit": "GB", "unit_price": "0.000001", "currency": "JPY"}]
    })
}

#[test]
fn a_complete_listing_is_valid_and_keeps_decimal_precision() {
    let l = validate_listing(Some(&listing())).unwrap();
    assert_eq!(l.pricing[0].unit_price.to_string(), "0.000001");
    assert_eq!(l.pricing[0].model, BillingModel::Usage);
    assert_eq!(l.support_url, None);
}

#[test]
fn numbers_are_accepted_for_share_and_price() {
    let mut raw = listing();
    raw["provider_share"] = json!(1);
    raw["pricing"][0]["unit_price"] = json!(0.25);
    let l = validate_listing(Some(&raw)).unwrap();
    assert_eq!(l.provider_share, Decimal::ONE);
    assert_eq!(l.pricing[0].unit_price.to_string(), "0.25");
}

#[test]
fn trailing_zeros_do_not_count_as_decimal_places() {
    let mut raw = listing();
    raw["pricing"][0]["unit_price"] = json!("1.5000000");
    assert!(validate_listing(Some(&raw)).is_ok());
}

#[test]
fn every_problem_is_listed() {
    let problems = validate_listing(Some(&json!({"pricing": [{"model": "x"}, 3]}))).unwrap_err();
    for fragment in [
        "The product name is required",
        "The summary is required",
        "The description is required",
        "The category is required",
        "The support email address is required",
        "The blueprint ID must be",
        "Your share of revenue is required",
        "Price plan 1: the billing model must be hourly, monthly, one-time or usage",
        "Price plan 1: the unit is required",
        "Price plan 1: the currency must be",
        "Price plan 1: the price must be a number",
        "Price plan 2 is not a plan",
    ] {
        assert!(problems.iter().any(|p| p.contains(fragment)), "{fragment} missing from {problems:#?}");
    }
    assert_no_field_paths(&problems);
    assert!(validate_listing(None).unwrap_err()[0].starts_with("The listing is missing"));
}

/// No problem names a field by its JSON path (`listing.pricing[0].unit_price`).
fn assert_no_field_paths(problems: &[String]) {
    for problem in problems {
        assert!(!problem.contains("listing."), "{problem}");
        assert!(!problem.contains('['), "{problem}");
        assert!(!problem.contains("_price") && !problem.contains("provider_share"), "{problem}");
    }
}

#[test]
fn every_plan_problem_is_plain_language() {
    let mut raw = listing();
    raw["provider_share"] = json!("1.5");
    raw["support_url"] = json!("http://acme.example");
    raw["pricing"] = json!([
        {"model": "usage", "unit": "GB", "unit_price": "1", "currency": "JPY"},
        {"model": "hourly", "unit": "vm-hour", "unit_price": "0.0000001", "currency": "usd"},
        {"model": "monthly", "unit": "seat", "unit_price": "-1", "currency": "EUR"},
        {"model": "usage", "unit": "GB", "unit_price": "2", "currency": "JPY"}
    ]);
    let problems = validate_listing(Some(&raw)).unwrap_err();
    assert_eq!(
        problems,
        [
            "The support web page must be an address starting with https:// (got \"http://acme.example\")",
            "Your share of revenue must be more than 0% and at most 100% (got 150%)",
            "Price plan 2: the currency must be a three-letter ISO 4217 code such as USD or EUR (got \"usd\")",
            "Price plan 2: the price has more than 6 digits after the decimal point (got 0.0000001)",
            "Price plan 3: the price must not be negative (got -1)",
            "Price plan 4 repeats another plan (pay per use, per GB, in JPY)",
        ]
    );
    assert_no_field_paths(&problems);
}

/// A freshly signed-up provider without an MPA.
fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&chrono::Utc)
}

fn provider() -> Provider {
    Provider::example()
}

fn published(raw: serde_json::Value) -> Product {
    let listing = validate_listing(Some(&raw)).unwrap();
    written(decide(None, &request(raw), &[], Some(&listing), &event_at("e1", "2026-11-25T10:00:00Z")))
}

#[test]
fn the_published_email_links_the_storefront_page_with_shares_in_percent_and_models_in_words() {
    let mut raw = listing();
    raw["provider_share"] = json!("0.875");
    raw["pricing"] = json!([
        {"model": "hourly", "unit": "vm-hour", "unit_price": "0.000125", "currency": "USD"},
        {"model": "monthly", "unit": "seat", "unit_price": "49.99", "currency": "EUR"},
        {"model": "one_time", "unit": "licence", "unit_price": "500", "currency": "EUR"},
        {"model": "usage", "unit": "GB", "unit_price": "0.02", "currency": "USD"}
    ]);
    let mut config = PortalConfig::example();
    config.storefront_url = "https://shop.example.com/p".into();
    let emails = emails_for(&provider(), &published(raw), &config);
    assert_eq!(emails.len(), 2);
    for (kind, email) in &emails {
        for part in [&email.text, &email.html] {
            assert!(part.contains("https://shop.example.com/p/p"), "{kind}: storefront page of product `p`");
            assert!(part.contains("87.5% of what customers pay (the marketplace keeps 12.5%)"), "{kind}");
            for words in ["Charged by the hour", "Monthly subscription", "One-time purchase", "Pay per use"] {
                assert!(part.contains(words), "{kind} lacks {words}");
            }
            assert!(part.contains("0.000125 USD per vm-hour"), "{kind}");
            assert!(part.contains("500 EUR per licence, once"), "{kind}");
            assert!(!part.contains("0.875") && !part.contains("one_time"), "{kind}: no raw share or model");
        }
        assert!(email.html.contains("<a href=\"https://shop.example.com/p/p\">"), "{kind}");
    }
}

#[test]
fn a_storefront_link_is_escaped_in_html() {
    let mut config = PortalConfig::example();
    config.storefront_url = "https://shop.example.com/p&x\'".into();
    let emails = emails_for(&provider(), &published(listing()), &config);
    let html = &emails[0].1.html;
    assert!(html.contains("href=\"https://shop.example.com/p&amp;x&#39;/p\""), "{html}");
}

fn refused(reasons: &[String], raw: serde_json::Value) -> Product {
    let listing = validate_listing(Some(&raw)).ok();
    written(decide(None, &request(raw), reasons, listing.as_ref(), &event_at("e1", "2026-11-25T10:00:00Z")))
}

#[test]
fn a_new_mpa_version_refuses_publishing_only_from_its_effective_date_and_an_early_acceptance_keeps_the_old_approval() {
    let config = PortalConfig::example();
    let first = config.mpa_current_version.clone();
    let mut versions = MpaVersions::from_config(&config);
    versions.versions.push(MpaVersion {
        version: "2027-01".into(),
        text_url: "https://marketplace.example.com/legal/mpa/2027-01".into(),
        effective_at: at("2027-01-01T00:00:00Z"),
        published_at: at("2026-12-01T00:00:00Z"),
        published_by: "team-9".into(),
        event_id: "e-2027".into(),
    });
    let record = |version: &str, status, still_approved: Option<&str>| Provider {
        mpa: Some(MpaRecord {
            version: version.into(),
            status,
            accepted_by: Person { id: "u1".into(), name: "Jane".into(), email: "jane@acme.example".into() },
            accepted_at: at("2026-11-01T00:00:00Z"),
            accepted_event: "e-accept".into(),
            decided_by: None,
            decided_at: None,
            decided_event: None,
            rejection_reason: None,
            still_approved: still_approved.map(str::to_string),
        }),
        ..provider()
    };
    let (before, after) = (at("2026-12-31T23:00:00Z"), at("2027-01-01T00:00:00Z"));
    let approved_on_first = record(&first, MpaStatus::Approved, None);
    assert_eq!(mpa_refusal(&approved_on_first, &versions, before), None);
    let refusal = mpa_refusal(&approved_on_first, &versions, after).expect("refused from the effective date");
    assert!(refusal.contains("version 2027-01 is not approved"), "{refusal}");
    let accepted_early = record("2027-01", MpaStatus::PendingApproval, Some(&first));
    assert_eq!(mpa_refusal(&accepted_early, &versions, before), None, "the old approval still counts");
    assert!(mpa_refusal(&accepted_early, &versions, after).unwrap().contains("waiting for the marketplace team"));
    assert_eq!(mpa_refusal(&record("2027-01", MpaStatus::Approved, Some(&first)), &versions, after), None);
}

#[test]
fn a_refusal_for_the_mpa_alone_does_not_ask_to_fix_the_listing() {
    let config = PortalConfig::example();
    let mpa = mpa_refusal(&provider(), &MpaVersions::from_config(&config), chrono::Utc::now()).unwrap();
    let product = refused(std::slice::from_ref(&mpa), listing());
    assert!(product.refused_for_mpa_only);
    let emails = emails_for(&provider(), &product, &config);
    let email = &emails[0].1;
    assert!(!email.text.contains("Fix the listing"), "{}", email.text);
    assert!(email.text.contains("Your listing itself is complete and needs no change"), "{}", email.text);
    assert!(email.text.contains("Marketplace Provider Agreement version 2026-01 is not approved for Acme"));
    assert!(email.text.contains("https://marketplace.example.com/legal/mpa"), "links the agreement");

    // The MPA and the listing: the listing must be fixed too.
    let mut bad = listing();
    bad["pricing"][0]["unit_price"] = json!("cheap");
    let mut reasons = vec![mpa];
    reasons.extend(validate_listing(Some(&bad)).unwrap_err());
    let product = refused(&reasons, bad);
    assert!(!product.refused_for_mpa_only);
    let text = &emails_for(&provider(), &product, &config)[0].1.text;
    assert!(text.contains("Fix the listing in the Provider Portal"), "{text}");
    assert!(text.contains("Price plan 1: the price must be a number such as 0.125"), "{text}");
    assert!(!text.contains("pricing[0]") && !text.contains("unit_price"), "{text}");
}

#[test]
fn a_product_stored_before_the_mpa_only_flag_reads_as_a_listing_refusal() {
    let mut stored = serde_json::to_value(refused(&["x".into()], json!({}))).unwrap();
    assert!(stored.get("refused_for_mpa_only").is_none(), "false is not stored");
    stored.as_object_mut().unwrap().remove("refused_for_mpa_only");
    let read: Product = serde_json::from_value(stored).unwrap();
    assert!(!read.refused_for_mpa_only);
}

#[test]
fn shares_read_as_percentages() {
    assert_eq!(percent("0.7".parse().unwrap()), "70%");
    assert_eq!(percent("1".parse().unwrap()), "100%");
    assert_eq!(percent("0.8750".parse().unwrap()), "87.5%");
    assert_eq!(percent("0.00001".parse().unwrap()), "0.001%");
}

#[test]
fn authorisation_needs_the_providers_own_user_or_the_team() {
    let request = |role: &str, of: Option<&str>| PublishRequest {
        provider_id: "acme".into(),
        product_id: "p".into(),
        actor: Actor { id: "u".into(), role: role.into() },
        actor_provider_id: of.map(str::to_string),
        listing: None,
    };
    assert!(request("provider", Some("acme")).authorize().is_ok());
    assert!(request("marketplace-team", None).authorize().is_ok());
    assert!(request("provider", Some("globex")).authorize().is_err());
    assert!(request("provider", None).authorize().is_err());
    assert!(request("customer", Some("acme")).authorize().is_err());
}

fn request(listing: serde_json::Value) -> PublishRequest {
    PublishRequest {
        provider_id: "acme".into(),
        product_id: "p".into(),
        actor: Actor { id: "u".into(), role: "provider".into() },
        actor_provider_id: Some("acme".into()),
        listing: Some(listing),
    }
}

fn event_at(id: &str, time: &str) -> PortalEvent {
    PortalEvent {
        id: id.into(),
        detail_type: DETAIL_TYPE.into(),
        source: "marketplace.portal".into(),
        time: time.parse().unwrap(),
        detail: json!({}),
    }
}

fn written(decision: Decision) -> Product {
    match decision {
        Decision::Write(p) => *p,
        other => panic!("expected a write, got {other:?}"),
    }
}

#[test]
fn an_older_request_never_overwrites_a_newer_listing() {
    let newer = validate_listing(Some(&listing())).unwrap();
    let req = request(listing());
    let product = written(decide(None, &req, &[], Some(&newer), &event_at("e2", "2026-11-25T10:00:05Z")));
    let mut old_raw = listing();
    old_raw["name"] = json!("Old name");
    let old = validate_listing(Some(&old_raw)).unwrap();
    let stale = decide(Some(&product), &request(old_raw), &[], Some(&old), &event_at("e1", "2026-11-25T10:00:01Z"));
    assert_eq!(stale, Decision::Stale { applied_at: product.updated_at });
    // The same instant applies in arrival order.
    let same = decide(Some(&product), &req, &["x".into()], None, &event_at("e3", "2026-11-25T10:00:05Z"));
    assert_eq!(written(same).last_outcome, PublishOutcome::Refused);
}

#[test]
fn a_refused_request_is_stored_within_one_item() {
    let mut deep = json!("leaf");
    for _ in 0..100 {
        deep = json!({ "n": deep });
    }
    let huge = json!({
        "name": "x".repeat(10_000), "description": "y".repeat(300_000), "nested": deep, "big": 1e300
    });
    let reasons: Vec<String> = (0..500).map(|i| format!("reason {i}: {}", "z".repeat(5_000))).collect();
    let product = written(decide(None, &request(huge), &reasons, None, &event_at("e1", "2026-11-25T10:00:00Z")));
    let stored = product.requested_listing.as_deref().unwrap();
    assert!(stored.len() <= MAX_REQUEST_BYTES + 64, "{}", stored.len());
    assert!(stored.contains("(cut: "), "says it was cut");
    assert_eq!(product.requested_name.as_ref().unwrap().chars().count(), 100);
    assert_eq!(product.refusal_reasons.len(), MAX_REASONS + 1);
    assert!(product.refusal_reasons.iter().all(|r| r.len() <= MAX_REASON_CHARS + 64));
    assert_eq!(product.refusal_reasons[MAX_REASONS], "… and 450 more problems");
    let item_bytes = serde_json::to_string(&product).unwrap().len();
    assert!(item_bytes < 100 * 1024, "far below DynamoDB's 400 KB item limit: {item_bytes}");
}

#[test]
fn a_repeated_refused_request_changes_nothing_unless_the_request_or_its_reasons_changed() {
    let mut invalid = listing();
    invalid["blueprint_id"] = json!("");
    let reasons = vec!["The blueprint ID is required".to_string()];
    let refused =
        written(decide(None, &request(invalid.clone()), &reasons, None, &event_at("e1", "2026-11-25T10:00:00Z")));
    let again =
        decide(Some(&refused), &request(invalid.clone()), &reasons, None, &event_at("e2", "2026-11-25T10:00:01Z"));
    assert_eq!(again, Decision::AlreadyRefused { refused_by: "e1".into() });

    let mut changed = invalid.clone();
    changed["name"] = json!("Vault 2");
    let other = decide(Some(&refused), &request(changed), &reasons, None, &event_at("e3", "2026-11-25T10:00:02Z"));
    assert_eq!(written(other).version, 2, "a changed request is refused again");
    let more = vec![reasons[0].clone(), "The MPA is not approved".to_string()];
    let other = decide(Some(&refused), &request(invalid), &more, None, &event_at("e4", "2026-11-25T10:00:03Z"));
    assert_eq!(written(other).refusal_reasons, more, "the same request refused for other reasons is recorded");

    // Refused for the MPA alone, then the MPA approved: the same request now publishes.
    let valid = validate_listing(Some(&listing())).unwrap();
    let mpa = vec!["The MPA is not approved".to_string()];
    let refused =
        written(decide(None, &request(listing()), &mpa, Some(&valid), &event_at("e5", "2026-11-25T10:00:04Z")));
    let same = decide(Some(&refused), &request(listing()), &mpa, Some(&valid), &event_at("e6", "2026-11-25T10:00:05Z"));
    assert_eq!(same, Decision::AlreadyRefused { refused_by: "e5".into() });
    let published = written(decide(
        Some(&refused),
        &request(listing()),
        &[],
        Some(&valid),
        &event_at("e7", "2026-11-25T10:00:06Z"),
    ));
    assert_eq!(published.last_outcome, PublishOutcome::Published);
}

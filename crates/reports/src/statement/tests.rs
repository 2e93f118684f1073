use super::*;
use crate::attribute::{AttributeValue, Item};

fn date(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

/// A stored row of acme's `product` (named `<product> name`): one of `deployments` failed, three
/// errors.
pub(crate) fn row(
    day: &str,
    product: &str,
    currency: &str,
    deployments: u64,
    revenue: &str,
    remuneration: &str,
) -> StoredRow {
    let revenue = dec(revenue);
    let remuneration = dec(remuneration);
    StoredRow {
        report_date: date(day),
        provider_id: "acme".into(),
        product_id: Some(product.into()),
        product_name: Some(format!("{product} name")),
        currency: currency.parse().expect("currency"),
        counts: Counts {
            deployments,
            succeeded: deployments - 1,
            failed: 1,
            errors_in_succeeded: 2,
            errors_in_failed: 1,
        },
        money: RowMoney {
            billable_revenue: revenue,
            remuneration_value: remuneration,
            marketplace_fee: revenue - remuneration,
        },
    }
}

pub(crate) fn feb() -> Month {
    "2026-02".parse().expect("month")
}

#[test]
fn months_parse_strictly_and_know_their_days() {
    let m = feb();
    assert_eq!(m.to_string(), "2026-02");
    assert_eq!(m.first_day(), date("2026-02-01"));
    assert_eq!(m.last_day(), date("2026-02-28"));
    assert_eq!("2024-02".parse::<Month>().expect("leap").last_day(), date("2024-02-29"));
    assert_eq!("2026-12".parse::<Month>().expect("december").last_day(), date("2026-12-31"));
    for bad in ["2026-2", "2026-13", "2026-00", "26-02", "2026-02-01", "2026/02", "+026-02", "", "abcd-ef"] {
        assert!(bad.parse::<Month>().is_err(), "{bad} parsed");
    }
}

#[test]
fn a_month_is_closed_only_after_it_ends() {
    assert!(!feb().is_closed(date("2026-02-28")));
    assert!(feb().is_closed(date("2026-03-01")));
    assert!(!feb().is_closed(date("2026-01-31")));
}

#[test]
fn statement_lines_are_exact_sums_of_the_daily_rows() {
    let rows = vec![
        row("2026-02-14", "vault", "USD", 3, "1200.00", "840.00"),
        row("2026-02-01", "vault", "USD", 2, "0.01", "0.01"),
        row("2026-02-14", "vault", "JPY", 1, "1501", "1051"),
        row("2026-02-28", "backup", "USD", 4, "10.05", "7.03"),
        row("2026-02-28", "backup", "BHD", 1, "1.005", "0.704"),
    ];
    let s = monthly_statement("acme", feb(), &rows).expect("statement");
    assert_eq!(s.days_with_rows, 3);
    let keys: Vec<_> = s.lines.iter().map(|l| (l.product_id.as_str(), l.currency.code())).collect();
    assert_eq!(keys, [("backup", "BHD"), ("backup", "USD"), ("vault", "JPY"), ("vault", "USD")]);
    let vault_usd = &s.lines[3];
    assert_eq!(vault_usd.days_with_rows, 2);
    assert_eq!(vault_usd.counts.deployments, 5);
    assert_eq!(vault_usd.counts.failed, 2);
    assert_eq!(vault_usd.errors, 6);
    assert_eq!(vault_usd.money.billable_revenue.to_string(), "1200.01");
    assert_eq!(vault_usd.money.remuneration_value.to_string(), "840.01");
    assert_eq!(vault_usd.money.marketplace_fee.to_string(), "360.00");
    let usd = s.totals.iter().find(|t| t.currency.code() == "USD").expect("USD total");
    assert_eq!(usd.money.billable_revenue.to_string(), "1210.06");
    assert_eq!(usd.money.remuneration_value.to_string(), "847.04");
    assert_eq!(usd.money.marketplace_fee.to_string(), "363.02");
    assert_eq!(usd.counts.deployments, 9);
    // Every line and total reconciles: the sum of its rows, fee = revenue − remuneration.
    for line in &s.lines {
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r.product_id.as_deref() == Some(&line.product_id) && r.currency == line.currency)
            .collect();
        let sum: Decimal = mine.iter().map(|r| r.money.billable_revenue).sum();
        assert_eq!(line.money.billable_revenue, sum);
        assert_eq!(line.money.billable_revenue - line.money.remuneration_value, line.money.marketplace_fee);
    }
    let json = serde_json::to_value(&s).expect("json");
    assert_eq!(json["month"], "2026-02");
    assert_eq!(json["lines"][0]["billable_revenue"], "1.005");
    assert_eq!(json["lines"][2]["billable_revenue"], "1501");
    assert_eq!(json["lines"][3]["deployments"], 5);
    assert_eq!(json["lines"][3]["product_name"], "vault name");
}

#[test]
fn the_csv_lists_lines_then_totals_and_reads_back_through_serde() {
    let mut named = row("2026-02-14", "vault", "USD", 3, "1200.00", "840.00");
    named.product_name = Some("=HYPERLINK(\"x\"), \"Vault\"".into());
    let rows = vec![named, row("2026-02-28", "backup", "JPY", 1, "1501", "1051")];
    let s = monthly_statement("acme", feb(), &rows).expect("statement");
    let csv = statement_csv(&s);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], STATEMENT_HEADER);
    assert_eq!(lines[1], "2026-02,product,acme,backup,backup name,JPY,1,1,0,1,2,1,3,1501,1051,450");
    assert_eq!(
        lines[2],
        "2026-02,product,acme,vault,\"'=HYPERLINK(\"\"x\"\"), \"\"Vault\"\"\",USD,1,3,2,1,2,1,3,1200.00,840.00,360.00"
    );
    assert_eq!(lines[3], "2026-02,total,acme,,,JPY,,1,0,1,2,1,3,1501,1051,450");
    assert_eq!(lines[4], "2026-02,total,acme,,,USD,,3,2,1,2,1,3,1200.00,840.00,360.00");
    assert_eq!(lines.len(), 5);
    assert!(csv.ends_with('\n'));
    assert_eq!(statement_csv(&s), csv, "same statement, same bytes");
    let quiet = monthly_statement("acme", feb(), &[]).expect("statement");
    assert_eq!(statement_csv(&quiet), format!("{STATEMENT_HEADER}\n"));
    let back: Statement = serde_json::from_value(serde_json::to_value(&s).expect("json")).expect("reads back");
    assert_eq!(back, s);
}

#[test]
fn the_latest_day_names_the_product() {
    let mut early = row("2026-02-01", "vault", "USD", 2, "1.00", "0.70");
    early.product_name = Some("Old name".into());
    let late = row("2026-02-20", "vault", "USD", 2, "1.00", "0.70");
    let s = monthly_statement("acme", feb(), &[late, early]).expect("statement");
    assert_eq!(s.lines[0].product_name, "vault name");
}

#[test]
fn a_quiet_month_is_a_zero_statement() {
    let s = monthly_statement("acme", feb(), &[]).expect("statement");
    assert_eq!(s.days_with_rows, 0);
    assert!(s.lines.is_empty() && s.totals.is_empty());
}

#[test]
fn rows_that_cannot_reconcile_are_refused() {
    let mut other = row("2026-02-01", "vault", "USD", 2, "1.00", "0.70");
    other.provider_id = "globex".into();
    assert!(matches!(monthly_statement("acme", feb(), &[other]), Err(StatementError::OtherProvider { .. })));
    let march = row("2026-03-01", "vault", "USD", 2, "1.00", "0.70");
    assert!(matches!(monthly_statement("acme", feb(), &[march]), Err(StatementError::OutsideMonth { .. })));
    let mut summary = row("2026-02-01", "vault", "USD", 2, "1.00", "0.70");
    summary.product_id = None;
    assert!(matches!(monthly_statement("acme", feb(), &[summary]), Err(StatementError::NoProduct { .. })));
    let twice =
        [row("2026-02-01", "vault", "USD", 2, "1.00", "0.70"), row("2026-02-01", "vault", "USD", 2, "1.00", "0.70")];
    assert!(matches!(monthly_statement("acme", feb(), &twice), Err(StatementError::Duplicate { .. })));
    let unrounded = row("2026-02-01", "vault", "USD", 2, "1.001", "0.700");
    assert!(matches!(monthly_statement("acme", feb(), &[unrounded]), Err(StatementError::Unreconcilable { .. })));
    let mut bad_fee = row("2026-02-01", "vault", "USD", 2, "1.00", "0.70");
    bad_fee.money.marketplace_fee = dec("0.31");
    assert!(matches!(monthly_statement("acme", feb(), &[bad_fee]), Err(StatementError::Unreconcilable { .. })));
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn stored_items_read_back_as_written() {
    let s = |v: &str| AttributeValue::S(v.into());
    let n = |v: &str| AttributeValue::N(v.into());
    let good = item(&[
        ("pk", s("PROVIDER#acme")),
        ("sk", s("DAY#2026-02-14#PRODUCT#vault#USD")),
        ("kind", s("report")),
        ("report_date", s("2026-02-14")),
        ("provider_id", s("acme")),
        ("product_id", s("vault")),
        ("product_name", s("Acme Vault")),
        ("currency", s("USD")),
        ("deployments", n("3")),
        ("succeeded", n("2")),
        ("failed", n("1")),
        ("errors_in_succeeded", n("0")),
        ("errors_in_failed", n("4")),
        ("billable_revenue", s("1200.00")),
        ("remuneration_value", s("840.00")),
        ("marketplace_fee", s("360.00")),
    ]);
    let row = StoredRow::from_item(&good).expect("row");
    assert_eq!(row.report_date, date("2026-02-14"));
    assert_eq!(row.product_name.as_deref(), Some("Acme Vault"));
    assert_eq!(row.counts.errors_in_failed, 4);
    assert_eq!(row.money.marketplace_fee, dec("360.00"));

    let mut unrounded = good.clone();
    unrounded.insert("billable_revenue".into(), s("1200.0"));
    let e = StoredRow::from_item(&unrounded).expect_err("scale");
    assert!(e.to_string().contains("minor units") && e.sk.starts_with("DAY#2026-02-14"), "{e}");
    let mut no_count = good.clone();
    no_count.remove("failed");
    assert!(StoredRow::from_item(&no_count).is_err());
    let mut ledger = good;
    ledger.insert("kind".into(), s("delivery"));
    assert!(StoredRow::from_item(&ledger).is_err());
}

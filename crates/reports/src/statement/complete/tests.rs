use super::*;
use crate::statement::monthly_statement;
use crate::statement::tests::{feb, row};

fn date(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

/// acme's exact month sums of one group, with the counts [`row`] gives `days` rows of
/// `deployments` each.
fn sums(
    product: &str,
    currency: &str,
    days: u64,
    deployments: u64,
    revenue: &str,
    remuneration: &str,
) -> (GroupKey, GroupTotals) {
    (
        GroupKey {
            provider_id: "acme".into(),
            product_id: product.into(),
            currency: currency.parse().expect("currency"),
        },
        GroupTotals {
            product_name: format!("{product} name"),
            named_by: ("2026-02-28T10:00:00Z".parse().expect("instant"), "d-1".into()),
            counts: Counts {
                deployments: days * deployments,
                succeeded: days * (deployments - 1),
                failed: days,
                errors_in_succeeded: 2 * days,
                errors_in_failed: days,
            },
            revenue: dec(revenue),
            remuneration: dec(remuneration),
        },
    )
}

#[test]
fn every_day_without_a_finished_run_is_named_consecutive_days_as_a_range() {
    let finished: Vec<NaiveDate> = feb()
        .first_day()
        .iter_days()
        .take(28)
        .filter(|d| ![date("2026-02-03"), date("2026-02-10"), date("2026-02-11"), date("2026-02-12")].contains(d))
        .filter(|d| *d != date("2026-02-28"))
        .chain([date("2026-03-01")])
        .collect();
    let missing = days_without_finished_run(feb(), &finished);
    assert_eq!(missing.len(), 5);
    assert_eq!(name_days(&missing), "2026-02-03, 2026-02-10..2026-02-12, 2026-02-28");
    let all: Vec<NaiveDate> = feb().first_day().iter_days().take(28).collect();
    assert!(days_without_finished_run(feb(), &all).is_empty(), "a finished month misses nothing");
    assert_eq!(days_without_finished_run(feb(), &[]).len(), 28, "a month never run misses every day");
    assert_eq!(days_without_finished_run("2024-02".parse().expect("leap"), &[]).len(), 29);
}

#[test]
fn a_statement_within_the_rounding_of_its_daily_rows_reconciles() {
    // Exact days of 0.005 and 0.0051 round (half to even) to rows of 0.00 and 0.01: the rows
    // sum to 0.01, the exact month sum is 0.0101, within two half cents of it.
    let rows =
        [row("2026-02-01", "vault", "USD", 2, "0.00", "0.00"), row("2026-02-02", "vault", "USD", 2, "0.01", "0.00")];
    let statement = monthly_statement("acme", feb(), &rows).expect("statement");
    let month_sums = [sums("vault", "USD", 2, 2, "0.0101", "0.0050"), sums("vault", "USD", 1, 1, "9", "9")];
    let mut other = month_sums[1].clone();
    other.0.provider_id = "globex".into();
    assert_eq!(reconcile(&statement, &[month_sums[0].clone(), other]), Ok(()), "globex's sums are not acme's");
    let quiet = monthly_statement("acme", feb(), &[]).expect("zero statement");
    assert_eq!(reconcile(&quiet, &[]), Ok(()), "a quiet month has no month sums either");
}

#[test]
fn a_statement_missing_the_rows_of_a_group_in_the_month_sums_is_refused() {
    // The last day's run stored its month sums (backup had deployments), then died before its
    // report rows: no row of backup at all.
    let rows = [row("2026-02-01", "vault", "USD", 2, "10.00", "7.00")];
    let statement = monthly_statement("acme", feb(), &rows).expect("statement");
    let err =
        reconcile(&statement, &[sums("vault", "USD", 1, 2, "10.00", "7.00"), sums("backup", "EUR", 1, 4, "1", "1")])
            .expect_err("refused");
    assert_eq!(err.last_day, date("2026-02-28"));
    assert_eq!(err.differences, ["backup in EUR: no daily rows, 4 deployments in the month sums"]);
    assert_eq!(
        err.to_string(),
        "does not reconcile with the month sums of 2026-02-28: backup in EUR: no daily rows, 4 deployments in the month sums"
    );
}

#[test]
fn a_statement_whose_counts_differ_from_the_month_sums_is_refused() {
    // One day's rows of vault are missing: 2 deployments in the rows, 4 in the month sums.
    let rows = [row("2026-02-01", "vault", "USD", 2, "10.00", "7.00")];
    let statement = monthly_statement("acme", feb(), &rows).expect("statement");
    let err = reconcile(&statement, &[sums("vault", "USD", 2, 2, "10.00", "7.00")]).expect_err("refused");
    assert_eq!(
        err.differences,
        ["vault in USD: deployments/succeeded/failed/errors 2/1/1/3 in the daily rows, 4/2/2/6 in the month sums"]
    );
}

#[test]
fn a_statement_whose_money_is_beyond_the_rounding_of_its_rows_is_refused() {
    // Same counts, but a day's row holds another run's revenue: off by 1.00, where two rows may
    // be off by 0.01 at most.
    let rows =
        [row("2026-02-01", "vault", "USD", 2, "10.00", "7.00"), row("2026-02-02", "vault", "USD", 2, "5.00", "3.00")];
    let statement = monthly_statement("acme", feb(), &rows).expect("statement");
    let err = reconcile(&statement, &[sums("vault", "USD", 2, 2, "14.00", "10.011")]).expect_err("refused");
    assert_eq!(
        err.differences,
        [
            "vault in USD: billable revenue 15.00 in the daily rows, exactly 14.00 in the month sums (the rounding of 2 daily rows allows ±0.010)",
            "vault in USD: remuneration 10.00 in the daily rows, exactly 10.011 in the month sums (the rounding of 2 daily rows allows ±0.010)",
        ]
    );
    // At the bound exactly, it reconciles.
    assert_eq!(reconcile(&statement, &[sums("vault", "USD", 2, 2, "15.010", "9.990")]), Ok(()));
}

#[test]
fn daily_rows_of_a_group_without_month_sums_are_refused() {
    let rows = [row("2026-02-01", "vault", "JPY", 2, "1000", "700")];
    let statement = monthly_statement("acme", feb(), &rows).expect("statement");
    let err = reconcile(&statement, &[]).expect_err("refused");
    assert_eq!(err.differences, ["vault in JPY: 2 deployments in the daily rows, none in the month sums"]);
}

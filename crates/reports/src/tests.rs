//! Aggregation rules, end to end through the pure pipeline (item → files).

use chrono::NaiveDate;

use super::aggregate::{Aggregator, DailyReport, ReportPlan};
use super::attribute::{AttributeValue, Item};
use super::files::{deployments_csv, errors_csv, month_to_date_csv, summary_csv};

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

/// A valid item; override attributes with `set`.
struct Log(Item);

impl Log {
    fn new(id: &str, finished_at: &str) -> Self {
        let mut item = Item::new();
        for (k, v) in [
            ("deployment_id", id),
            ("provider_id", "acme"),
            ("product_id", "vault"),
            ("product_name", "Vault"),
            ("customer_alias", "C1"),
            ("started_at", "2026-02-14T00:00:00Z"),
            ("finished_at", finished_at),
            ("status", "SUCCEEDED"),
            ("billing_model", "hourly"),
            ("currency", "USD"),
        ] {
            item.insert(k.into(), AttributeValue::S(v.into()));
        }
        for (k, v) in [("quantity", "1"), ("unit_price", "1"), ("provider_share", "0.7")] {
            item.insert(k.into(), AttributeValue::N(v.into()));
        }
        item.insert("errors".into(), AttributeValue::L(vec![]));
        Log(item)
    }
    fn s(mut self, k: &str, v: &str) -> Self {
        self.0.insert(k.into(), AttributeValue::S(v.into()));
        self
    }
    fn n(mut self, k: &str, v: &str) -> Self {
        self.0.insert(k.into(), AttributeValue::N(v.into()));
        self
    }
    fn error(mut self, code: &str, message: &str, at: &str) -> Self {
        let entry = AttributeValue::M(
            [
                ("code".to_owned(), AttributeValue::S(code.into())),
                ("message".to_owned(), AttributeValue::S(message.into())),
                ("at".to_owned(), AttributeValue::S(at.into())),
            ]
            .into(),
        );
        if let Some(AttributeValue::L(list)) = self.0.get_mut("errors") {
            list.push(entry);
        }
        self
    }
}

fn run(plan: ReportPlan, logs: Vec<Log>) -> Vec<DailyReport> {
    let mut agg = Aggregator::new(plan);
    for (i, log) in logs.iter().enumerate() {
        agg.ingest_item(&log.0, &|| format!("line {}", i + 1)).expect("no overflow");
    }
    agg.finish().expect("finishes")
}

fn run_day(day: &str, logs: Vec<Log>) -> DailyReport {
    run(ReportPlan::single(date(day)), logs).remove(0)
}

const D: &str = "2026-02-14";

#[test]
fn revenue_ties_round_half_to_even_once_per_group() {
    // 0.125 + 0.0 → 0.12 (tie to even), remuneration 0.0875 → 0.09.
    let r = run_day(D, vec![Log::new("a", "2026-02-14T01:00:00Z").n("quantity", "1").n("unit_price", "0.125")]);
    let row = &r.providers["acme"].deployments[0];
    assert_eq!(row.money.billable_revenue.to_string(), "0.12");
    assert_eq!(row.money.remuneration_value.to_string(), "0.09");
    assert_eq!(row.money.marketplace_fee.to_string(), "0.03");

    // Two 0.005 lines: per-line rounding would give 0.00 + 0.00; the group sum 0.01 is exact.
    let r = run_day(
        D,
        vec![
            Log::new("a", "2026-02-14T01:00:00Z").n("unit_price", "0.005"),
            Log::new("b", "2026-02-14T02:00:00Z").n("unit_price", "0.005"),
        ],
    );
    assert_eq!(r.providers["acme"].deployments[0].money.billable_revenue.to_string(), "0.01");

    // 0.135 ties up to the even 0.14.
    let r = run_day(D, vec![Log::new("a", "2026-02-14T01:00:00Z").n("unit_price", "0.135").n("provider_share", "1")]);
    let m = r.providers["acme"].deployments[0].money;
    assert_eq!((m.billable_revenue.to_string(), m.marketplace_fee.to_string()), ("0.14".into(), "0.00".into()));
}

#[test]
fn jpy_has_no_decimal_places_and_ties_go_to_even() {
    // 3.25 × 15 = 48.75 → 49; × 0.75 = 36.5625 → 37; 24 × 2 = 48 → ×0.75 = 36.
    // 2.5 yen ties to 2.
    let r = run_day(
        D,
        vec![
            Log::new("a", "2026-02-14T01:00:00Z")
                .s("currency", "JPY")
                .n("quantity", "3.25")
                .n("unit_price", "15")
                .n("provider_share", "0.75"),
            Log::new("b", "2026-02-14T02:00:00Z")
                .s("currency", "JPY")
                .n("quantity", "24")
                .n("unit_price", "2")
                .n("provider_share", "0.75"),
        ],
    );
    let row = &r.providers["acme"].deployments[0];
    // Σ revenue = 96.75 → 97; Σ remuneration = 72.5625 → 73; fee 24.
    assert_eq!(row.money.billable_revenue.to_string(), "97");
    assert_eq!(row.money.remuneration_value.to_string(), "73");
    assert_eq!(row.money.marketplace_fee.to_string(), "24");

    let tie = run_day(
        D,
        vec![Log::new("a", "2026-02-14T01:00:00Z")
            .s("currency", "JPY")
            .n("unit_price", "2.5")
            .n("provider_share", "1")],
    );
    assert_eq!(tie.providers["acme"].deployments[0].money.billable_revenue.to_string(), "2");
}

#[test]
fn one_product_billed_in_several_currencies_gets_one_row_per_currency() {
    let r = run_day(
        D,
        vec![
            Log::new("a", "2026-02-14T01:00:00Z").s("currency", "USD").n("unit_price", "10"),
            Log::new("b", "2026-02-14T02:00:00Z").s("currency", "EUR").n("unit_price", "20"),
            Log::new("c", "2026-02-14T03:00:00Z").s("currency", "BHD").n("unit_price", "1.2345"),
        ],
    );
    let csv = deployments_csv(r.date, &r.providers["acme"].deployments);
    assert_eq!(
        csv,
        "report_date,provider_id,product_id,product_name,currency,deployments,succeeded,failed,errors_in_succeeded,errors_in_failed,billable_revenue,remuneration_value,marketplace_fee\n\
         2026-02-14,acme,vault,Vault,BHD,1,1,0,0,0,1.234,0.864,0.370\n\
         2026-02-14,acme,vault,Vault,EUR,1,1,0,0,0,20.00,14.00,6.00\n\
         2026-02-14,acme,vault,Vault,USD,1,1,0,0,0,10.00,7.00,3.00\n"
    );
    let summary = summary_csv(r.date, &r.summary);
    assert_eq!(summary.lines().count(), 4, "{summary}");
}

#[test]
fn errors_on_successful_deployments_are_counted_and_listed_but_failed_ones_are_not_billed() {
    let r = run_day(
        D,
        vec![
            Log::new("ok", "2026-02-14T05:00:00Z")
                .n("unit_price", "100")
                .error("VM_TIMEOUT", "slow, retried", "2026-02-14T04:00:00Z")
                .error("DISK_FULL", "cleaned", "2026-02-14T04:00:00Z"),
            Log::new("bad", "2026-02-14T06:00:00Z").s("status", "FAILED").n("unit_price", "100").error(
                "BOOT",
                "no boot",
                "2026-02-14T03:00:00Z",
            ),
        ],
    );
    let p = &r.providers["acme"];
    let row = &p.deployments[0];
    assert_eq!((row.counts.deployments, row.counts.succeeded, row.counts.failed), (2, 1, 1));
    assert_eq!((row.counts.errors_in_succeeded, row.counts.errors_in_failed), (2, 1));
    assert_eq!(row.money.billable_revenue.to_string(), "100.00");
    assert_eq!(
        errors_csv(&p.errors),
        "report_date,provider_id,product_id,deployment_id,customer_alias,deployment_status,error_at,error_code,error_message\n\
         2026-02-14,acme,vault,bad,C1,FAILED,2026-02-14T03:00:00Z,BOOT,no boot\n\
         2026-02-14,acme,vault,ok,C1,SUCCEEDED,2026-02-14T04:00:00Z,VM_TIMEOUT,\"slow, retried\"\n\
         2026-02-14,acme,vault,ok,C1,SUCCEEDED,2026-02-14T04:00:00Z,DISK_FULL,cleaned\n"
    );
}

#[test]
fn contract_breaking_items_are_rejected_not_counted() {
    let r = run_day(
        D,
        vec![
            Log::new("good", "2026-02-14T01:00:00Z"),
            Log::new("status", "2026-02-14T01:00:00Z").s("status", "IN_PROGRESS"),
            Log::new("neg", "2026-02-14T01:00:00Z").n("quantity", "-1"),
            Log::new("share", "2026-02-14T01:00:00Z").n("provider_share", "1.5"),
            Log::new("cur", "2026-02-14T01:00:00Z").s("currency", "ABC"),
            Log::new("num", "2026-02-14T01:00:00Z").n("unit_price", "1,5"),
            Log::new("other-day", "2026-02-13T01:00:00Z").s("status", "?"),
        ],
    );
    assert_eq!(r.providers["acme"].deployments[0].counts.deployments, 1);
    let ids: Vec<_> = r.rejected.iter().map(|x| x.deployment_id.as_str()).collect();
    assert_eq!(ids, ["cur", "neg", "num", "share", "status"]);
}

#[test]
fn a_deployment_finishing_at_midnight_belongs_to_the_new_day() {
    let reports = run(
        ReportPlan::new(date("2026-02-13"), date("2026-02-14")).expect("plan"),
        vec![Log::new("m", "2026-02-14T00:00:00Z"), Log::new("e", "2026-02-13T23:59:59.999Z")],
    );
    assert_eq!(reports[0].providers["acme"].deployments[0].counts.deployments, 1);
    assert_eq!(reports[1].providers["acme"].deployments[0].counts.deployments, 1);
    assert_eq!(reports[1].providers["acme"].month_to_date[0].counts.deployments, 2);
}

#[test]
fn month_to_date_rounds_exact_month_sums_and_keeps_products_without_sales_today() {
    // Three days of 0.005 each: every daily row rounds to 0.00 (tie to even), but the exact
    // month sum 0.015 rounds to 0.02. January is outside the month; `backup` sold only on the 10th.
    let r = run_day(
        D,
        vec![
            Log::new("a", "2026-02-01T01:00:00Z").n("unit_price", "0.005"),
            Log::new("b", "2026-02-05T01:00:00Z").n("unit_price", "0.005"),
            Log::new("c", "2026-02-14T01:00:00Z").n("unit_price", "0.005"),
            Log::new("jan", "2026-01-31T23:00:00Z").n("unit_price", "1000"),
            Log::new("other", "2026-02-10T01:00:00Z").s("product_id", "backup").n("unit_price", "3"),
        ],
    );
    let p = &r.providers["acme"];
    assert_eq!(p.deployments.len(), 1);
    assert_eq!(
        month_to_date_csv(r.month_start, r.date, &p.month_to_date),
        "period_start,period_end,provider_id,product_id,product_name,currency,deployments,succeeded,failed,errors_in_succeeded,errors_in_failed,billable_revenue,remuneration_value,marketplace_fee\n\
         2026-02-01,2026-02-14,acme,backup,Vault,USD,1,1,0,0,0,3.00,2.10,0.90\n\
         2026-02-01,2026-02-14,acme,vault,Vault,USD,3,3,0,0,0,0.02,0.01,0.01\n"
    );
}

#[test]
fn provider_without_deployments_on_the_date_gets_no_files_and_no_summary_row() {
    let r = run_day(
        D,
        vec![
            Log::new("a", "2026-02-14T01:00:00Z"),
            Log::new("b", "2026-02-10T01:00:00Z").s("provider_id", "quiet"),
            Log::new("c", "2026-02-14T01:00:00Z").s("provider_id", "only-rejects").s("status", "X"),
        ],
    );
    assert_eq!(r.providers.keys().collect::<Vec<_>>(), ["acme"]);
    assert_eq!(r.summary.len(), 1);
}

#[test]
fn summary_sums_rounded_provider_rows_so_files_reconcile() {
    let r = run_day(
        D,
        vec![
            Log::new("a", "2026-02-14T01:00:00Z").n("unit_price", "0.005"),
            Log::new("b", "2026-02-14T01:00:00Z").s("product_id", "p2").n("unit_price", "0.005"),
        ],
    );
    // Each product: revenue 0.005 → 0.00 (even), remuneration 0.0035 → 0.00; the summary sums
    // the rounded rows (0.00), not the exact 0.01, so it reconciles with the provider files.
    assert_eq!(
        summary_csv(r.date, &r.summary),
        "report_date,provider_id,currency,deployments,succeeded,failed,errors_in_succeeded,errors_in_failed,billable_revenue,remuneration_value,marketplace_fee\n\
         2026-02-14,acme,USD,2,2,0,0,0,0.00,0.00,0.00\n"
    );
}

#[test]
fn text_fields_from_input_are_neutralised_against_formula_injection() {
    let r = run_day(
        D,
        vec![Log::new("=1+1", "2026-02-14T01:00:00Z")
            .s("product_id", "-p")
            .s("product_name", "@SUM(A1)")
            .s("customer_alias", "+C")
            .error("=CMD", "\tmsg", "2026-02-14T00:30:00Z")],
    );
    let p = &r.providers["acme"];
    assert_eq!(
        deployments_csv(r.date, &p.deployments).lines().nth(1),
        Some("2026-02-14,acme,'-p,'@SUM(A1),USD,1,1,0,1,0,1.00,0.70,0.30")
    );
    assert_eq!(
        errors_csv(&p.errors).lines().nth(1),
        Some("2026-02-14,acme,'-p,'=1+1,'+C,SUCCEEDED,2026-02-14T00:30:00Z,'=CMD,'\tmsg")
    );
}

#[test]
fn merging_partials_equals_a_single_pass_regardless_of_split() {
    let logs = || {
        vec![
            Log::new("a", "2026-02-14T01:00:00Z").n("unit_price", "0.005").s("product_name", "Old"),
            Log::new("b", "2026-02-14T09:00:00Z").n("unit_price", "0.005").s("product_name", "New"),
            Log::new("c", "2026-02-03T01:00:00Z").n("unit_price", "7").error("E", "m", "2026-02-03T00:00:00Z"),
            Log::new("d", "2026-02-14T02:00:00Z").error("E", "m", "2026-02-14T00:00:00Z"),
            Log::new("e", "2026-02-14T02:00:00Z").s("status", "NOPE"),
        ]
    };
    let plan = ReportPlan::single(date(D));
    let mut single = Aggregator::new(plan);
    for l in logs() {
        single.ingest_item(&l.0, &String::new).expect("ok");
    }
    // Reverse order, split in two, round-tripped through JSON.
    let mut left = Aggregator::new(plan);
    let mut right = Aggregator::new(plan);
    for (i, l) in logs().into_iter().rev().enumerate() {
        let target = if i % 2 == 0 { &mut left } else { &mut right };
        target.ingest_item(&l.0, &String::new).expect("ok");
    }
    let json = serde_json::to_string(&right.to_partial()).expect("serialises");
    let right = Aggregator::from_partial(serde_json::from_str(&json).expect("parses"));
    left.merge(right).expect("same plan");
    assert_eq!(left.to_partial(), single.to_partial());
    let (a, b) = (left.finish().expect("ok"), single.finish().expect("ok"));
    assert_eq!(a, b);
    assert_eq!(a[0].providers["acme"].deployments[0].product_name, "New");
}

#[test]
fn partials_of_different_plans_refuse_to_merge() {
    let mut a = Aggregator::new(ReportPlan::single(date(D)));
    let b = Aggregator::new(ReportPlan::single(date("2026-02-15")));
    assert!(a.merge(b).is_err());
}

#[test]
fn plan_reads_from_the_first_of_the_month() {
    let plan = ReportPlan::new(date("2026-03-02"), date("2026-03-03")).expect("plan");
    assert_eq!(plan.read_from(), date("2026-03-01"));
    assert_eq!(plan.days_to_read().count(), 3);
    assert_eq!(plan.report_dates().count(), 2);
    assert!(ReportPlan::new(date("2026-03-03"), date("2026-03-02")).is_err());
}

#[test]
fn a_log_that_would_overflow_its_group_sum_is_rejected_and_the_rest_is_reported() {
    use super::record::parse_deployment_log;
    use rust_decimal::Decimal;
    let parse = |log: Log| parse_deployment_log(&log.0, &String::new).expect("valid");
    let mut agg = Aggregator::new(ReportPlan::single(date(D)));
    let mut huge = parse(Log::new("huge-1", "2026-02-14T01:00:00Z"));
    huge.quantity = Decimal::MAX;
    huge.unit_price = Decimal::ONE;
    huge.provider_share = Decimal::ONE;
    agg.add(huge.clone()).expect("first fits");
    huge.deployment_id = "huge-2".into();
    agg.add(huge.clone()).expect("a sum overflow is a reject, not an error");
    huge.deployment_id = "huge-3".into();
    huge.unit_price = Decimal::TWO;
    agg.add(huge).expect("a product overflow is a reject, not an error");
    agg.add(parse(Log::new("fine", "2026-02-14T02:00:00Z").s("product_id", "other"))).expect("fine");
    let stats = agg.stats();
    assert_eq!((stats.items, stats.counted, stats.rejected), (4, 2, 2));
    let report = agg.finish().expect("finishes").remove(0);
    let rejected: Vec<_> = report.rejected.iter().map(|r| (r.deployment_id.as_str(), r.reason.as_str())).collect();
    assert_eq!(
        rejected,
        [
            ("huge-2", "amounts overflow the exact sum of acme/vault/USD on its day"),
            ("huge-3", "amounts overflow the exact sum of acme/vault/USD on its day")
        ]
    );
    assert_eq!(report.providers["acme"].deployments.len(), 2, "both groups reported");
}

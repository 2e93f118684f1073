//! Only a complete month is stated: a month with days without a finished daily run is refused
//! whole, naming them; a provider whose daily rows disagree with the last day's month sums is
//! neither stored nor sent. Both are stated by the next run after the days are re-run, and a run
//! of a month already sent sends nothing (the schedule fires daily on the 1st to the 7th).

use super::*;

/// The job's dailies for `first..=last`, from the DeploymentLogs table, stored only.
async fn dailies(aws: &AwsContext, first: &str, last: &str, out: &Path) {
    let plan = ReportPlan::new(first.parse().expect("date"), last.parse().expect("date")).expect("plan");
    run_job(&table_run(plan, out), &Resend::Nothing, Some(aws)).await.expect("dailies");
}

/// Deletes `provider_id`'s report rows of `date`, as a run that died after storing the date's
/// month sums and mark but before its report rows leaves them.
async fn lose_report_rows(table: &str, provider_id: &str, date: &str) -> usize {
    let rows = partition(table, &format!("PROVIDER#{provider_id}"), &format!("DAY#{date}#")).await;
    for row in &rows {
        dynamodb()
            .await
            .delete_item()
            .table_name(table)
            .key("pk", row["pk"].clone())
            .key("sk", row["sk"].clone())
            .send()
            .await
            .expect("delete row");
    }
    rows.len()
}

/// Providers named after the golden ones with `suffix`, their logs in `month`, and each one
/// stored with a published product.
async fn published_golden_providers(aws: &AwsContext, month: &str, suffix: &str) -> Vec<String> {
    let ids: Vec<String> = GOLDEN.iter().map(|p| format!("{p}-{suffix}")).collect();
    assert_eq!(aws.logs.load(golden_logs(month, &ids, suffix)).await.expect("load"), 34);
    for id in &ids {
        store_provider(aws, &provider(id, None), ProductStatus::Published).await;
    }
    ids
}

#[tokio::test]
async fn a_month_with_days_without_a_finished_daily_run_is_refused_naming_them_until_they_are_run() {
    let aws = private_context().await;
    let suffix = unique("m").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let ids = published_golden_providers(&aws, "2025-02-", &suffix).await;
    let out = std::env::temp_dir().join(unique("statements-incomplete"));
    let month: Month = "2025-02".parse().expect("month");
    // The 3rd and 4th failed, the 10th was never run, the 28th (the last day) is still going.
    dailies(&aws, "2025-02-01", "2025-02-02", &out).await;
    dailies(&aws, "2025-02-05", "2025-02-09", &out).await;
    dailies(&aws, "2025-02-11", "2025-02-27", &out).await;

    let days = |list: &[&str]| list.iter().map(|d| d.parse().expect("date")).collect::<Vec<chrono::NaiveDate>>();
    let missing = days(&["2025-02-03", "2025-02-04", "2025-02-10", "2025-02-28"]);
    match run_statements(&request(month, &out), &aws).await {
        Err(e @ StatementRunError::MonthIncomplete { .. }) => {
            assert!(
                e.to_string().contains("no finished daily run for 2025-02-03..2025-02-04, 2025-02-10, 2025-02-28"),
                "{e}"
            );
            assert!(matches!(e, StatementRunError::MonthIncomplete { missing: ref m, .. } if *m == missing));
        }
        other => panic!("expected the month refused, got {other:?}"),
    }
    // The schedule's run on the 1st is refused the same way.
    let scheduled = |at: &str| -> ScheduledRun {
        serde_json::from_value(serde_json::json!({"mode": "statement", "scheduled_time": at})).expect("payload")
    };
    match handle_scheduled(&scheduled("2025-03-01T03:30:00Z"), &aws, &out, 4).await {
        Err(AppError::Statement(StatementRunError::MonthIncomplete { month: m, missing: got })) => {
            assert_eq!((m, got), (month, missing.clone()))
        }
        other => panic!("expected the scheduled run refused, got {other:?}"),
    }
    // Refused whole: nothing stored, claimed or sent.
    let table = aws.reports.table_name().to_owned();
    for id in &ids {
        assert!(aws.reports.statement(id, month).await.expect("read").is_none(), "{id}: no statement stored");
        assert!(statement_emails(&format!("statements-{id}@provider.example")).is_empty(), "{id}: nothing sent");
    }
    assert!(partition(&table, "DELIVERY#STATEMENT#2025-02", "").await.is_empty(), "no delivery claimed");

    // The operator re-runs the 3rd to the end of the month (a re-run takes the later dates along);
    // the schedule's next run (the 2nd) states the month, the one after (the 7th) sends nothing.
    dailies(&aws, "2025-02-03", "2025-02-28", &out).await;
    let stated = handle_scheduled(&scheduled("2025-03-02T03:30:00Z"), &aws, &out, 4).await.expect("stated");
    assert_eq!((stated["month"].as_str(), stated["emails_sent"].as_u64()), (Some("2025-02"), Some(3)), "{stated}");
    assert_eq!(stated["statements_unreconciled"].as_u64(), Some(0));
    let again = handle_scheduled(&scheduled("2025-03-07T03:30:00Z"), &aws, &out, 4).await.expect("re-run");
    assert_eq!((again["emails_sent"].as_u64(), again["emails_already_sent"].as_u64()), (Some(0), Some(3)), "{again}");
    for id in &ids {
        assert_eq!(statement_emails(&format!("statements-{id}@provider.example")).len(), 1, "{id}: once");
    }
}

#[tokio::test]
async fn a_statement_that_does_not_reconcile_with_the_last_days_month_sums_is_not_stored_or_sent_until_re_run() {
    let aws = private_context().await;
    let suffix = unique("r").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let ids = published_golden_providers(&aws, "2025-06-", &suffix).await;
    let (acme, others) = (&ids[0], &ids[1..]);
    let out = std::env::temp_dir().join(unique("statements-unreconciled"));
    let month: Month = "2025-06".parse().expect("month");
    dailies(&aws, "2025-06-01", "2025-06-30", &out).await;
    // Every day is marked finished, but acme's rows of the 15th are gone: the 15th's run stored
    // its month sums, then died before its report rows.
    let table = aws.reports.table_name().to_owned();
    assert_eq!(lose_report_rows(&table, acme, "2025-06-15").await, 1);

    let summary = match run_statements(&request(month, &out), &aws).await {
        Err(StatementRunError::Incomplete(summary)) => summary,
        other => panic!("expected acme's statement refused, got {other:?}"),
    };
    assert_eq!(summary.statements_unreconciled, 1, "{summary:?}");
    assert_eq!(summary.failed_deliveries.len(), 1, "{summary:?}");
    let failure = &summary.failed_deliveries[0];
    assert!(
        failure.starts_with(&format!("{acme}: statement does not reconcile with the month sums of 2025-06-30: ")),
        "{failure}"
    );
    assert!(failure.contains("in the daily rows") && failure.contains("in the month sums"), "{failure}");
    assert_eq!((summary.statements_stored, summary.emails_sent), (2, 2), "the others are stated: {summary:?}");
    assert!(aws.reports.statement(acme, month).await.expect("read").is_none(), "acme's statement not stored");
    assert!(statement_emails(&format!("statements-{acme}@provider.example")).is_empty(), "acme: nothing sent");
    let ledger = partition(&table, "DELIVERY#STATEMENT#2025-06", "PROVIDER#").await;
    assert_eq!(ledger.len(), 2, "acme's delivery was never claimed");

    // The 15th re-run (with the later dates): the next run states acme, and only acme.
    dailies(&aws, "2025-06-15", "2025-06-30", &out).await;
    let rerun = run_statements(&request(month, &out), &aws).await.expect("reconciled");
    assert_eq!((rerun.statements_unreconciled, rerun.emails_sent, rerun.emails_already_sent), (0, 1, 2), "{rerun:?}");
    for id in std::iter::once(acme).chain(others) {
        assert_eq!(statement_emails(&format!("statements-{id}@provider.example")).len(), 1, "{id}: once");
    }
}

//! Concurrent deliveries against the local stack, through the real SDK and the real delivery
//! ledger: 40 providers' daily reports and monthly statements sent with several deliveries in
//! flight — each provider exactly one email, the summary counts right, one rejected address
//! stopping nobody else and named at the end, two runs at once still sending each email once,
//! and a re-run sending nothing.

use std::num::{NonZeroU32, NonZeroUsize};

use marketplace_aws::reports_table::ReportsTable;
use marketplace_aws::DynamoProviderStore;
use marketplace_reports::delivery::{Resend, SendLimits};
use marketplace_reports::statement::Month;
use marketplace_reports::ReportPlan;
use marketplace_tests::deliveries::*;
use marketplace_tests::reports::*;
use marketplace_tests::*;
use nightly_reports::app::{run_job, AppError, AwsContext, JobRequest, Source};
use nightly_reports::cli::Delivery;
use nightly_reports::pipeline::RunSummary;
use nightly_reports::statement_run::{run_statements, StatementRequest, StatementRunError, StatementSummary};

/// Providers per test.
const PROVIDERS: usize = 40;
/// The one whose address SES rejects.
const BROKEN: usize = 17;

/// Several deliveries in flight; a send rate high enough that the test waits little for pacing
/// (the pacing itself has its unit tests in `marketplace_reports::delivery`).
fn limits() -> SendLimits {
    SendLimits { concurrency: NonZeroUsize::new(8).expect("8"), per_second: NonZeroU32::new(200).expect("200") }
}

fn ids(prefix: &str) -> Vec<String> {
    provider_ids(prefix, PROVIDERS)
}

/// Every delivery of a daily run lands in exactly one bucket: 40 providers and the team.
fn daily_buckets(s: &RunSummary) -> usize {
    s.emails_sent + s.emails_already_sent + s.deliveries_in_doubt + s.failed_deliveries.len()
}

#[tokio::test]
async fn forty_reports_go_out_concurrently_once_each_and_a_rejected_address_stops_nobody() {
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    aws.sends = limits();
    let ids = ids("daily");
    let marketplace = aws.providers.table().to_owned();
    store_providers(&marketplace, &ids, Some(BROKEN), false).await;
    // A date of its own (the team's ledger entry and summary are per date), so that the test
    // also passes again on a stack that ran it before.
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default().unsigned_abs();
    let day: chrono::NaiveDate = "2001-01-01".parse().expect("date");
    let date = (day + chrono::Days::new(nanos % 7000)).to_string();
    let date = date.as_str();
    let request = JobRequest {
        plan: ReportPlan::single(date.parse().expect("date")),
        source: Source::Export(export_file(&ids, date)),
        partition: None,
        out: std::env::temp_dir().join(unique("sends-out")),
        delivery: Delivery { store: false, send: true, resend: false },
        parallelism: 1,
    };
    let broken = &ids[BROKEN];

    // Two runs of the date at once, each with 8 deliveries in flight, through the real ledger.
    let (a, b) =
        tokio::join!(run_job(&request, &Resend::Nothing, Some(&aws)), run_job(&request, &Resend::Nothing, Some(&aws)));
    let mut sent = 0;
    for result in [a, b] {
        let summary = match result {
            Err(AppError::Undelivered(summary)) => {
                assert_eq!(summary.failed_deliveries.len(), 1, "{:?}", summary.failed_deliveries);
                assert!(summary.failed_deliveries[0].starts_with(&format!("{date} {broken}: ")));
                summary
            }
            // The other run may have found the broken provider's claim taken (in doubt).
            Ok(summary) => Box::new(summary),
            Err(e) => panic!("unexpected failure: {e}"),
        };
        assert_eq!(daily_buckets(&summary), PROVIDERS + 1, "each delivery counted once: {summary:?}");
        assert_eq!(summary.providers_without_contact, 0);
        sent += summary.emails_sent;
    }
    assert_eq!(sent, PROVIDERS, "39 providers and the team, once between both runs");
    let per = emails_per_address(&format!("report for {date}"));
    for (i, id) in ids.iter().enumerate() {
        let expected = usize::from(i != BROKEN);
        assert_eq!(per.get(&address(id)).copied().unwrap_or(0), expected, "{id}");
    }
    assert_eq!(team_emails_about(&format!("summary for {date}")).len(), 1, "the team summary once");

    // A re-run sends nothing and still names the provider SES refuses.
    match run_job(&request, &Resend::Nothing, Some(&aws)).await {
        Err(AppError::Undelivered(again)) => {
            assert_eq!((again.emails_sent, again.emails_already_sent), (0, PROVIDERS), "{again:?}");
            assert_eq!(again.failed_deliveries.len(), 1);
            assert!(again.failed_deliveries[0].starts_with(&format!("{date} {broken}: ")));
        }
        other => panic!("the broken address must fail the re-run: {other:?}"),
    }
    assert_eq!(emails_per_address(&format!("report for {date}")), per, "nothing new went out");
}

fn statement_buckets(s: &StatementSummary) -> usize {
    s.emails_sent + s.emails_already_sent + s.deliveries_in_doubt + s.failed_deliveries.len()
}

#[tokio::test]
async fn forty_statements_go_out_concurrently_once_each_and_a_rejected_address_stops_nobody() {
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    aws.sends = limits();
    let client = dynamodb().await;
    aws.providers = DynamoProviderStore::new(client.clone(), private_table("Marketplace-sends", false).await);
    aws.reports = ReportsTable::new(client, private_table("Reports-sends", true).await);
    let ids = ids("stmt");
    store_providers(aws.providers.table(), &ids, Some(BROKEN), true).await;
    let broken = &ids[BROKEN];
    let month: Month = "2025-05".parse().expect("month");
    // A quiet month for these providers, but every day of it run (a statement needs that).
    let plan = ReportPlan::new(month.first_day(), month.last_day()).expect("plan");
    let dailies = table_run(plan, &std::env::temp_dir().join(unique("sends-statements-dailies")));
    run_job(&dailies, &Resend::Nothing, Some(&aws)).await.expect("dailies");
    let request = StatementRequest {
        month,
        out: std::env::temp_dir().join(unique("sends-statements")),
        send: true,
        resend: Resend::Nothing,
        scan_page_limit: Some(7),
    };

    let (a, b) = tokio::join!(run_statements(&request, &aws), run_statements(&request, &aws));
    let mut sent = 0;
    for result in [a, b] {
        let summary = match result {
            Err(StatementRunError::Incomplete(summary)) => {
                assert_eq!(summary.failed_deliveries.len(), 1, "{:?}", summary.failed_deliveries);
                assert!(summary.failed_deliveries[0].starts_with(&format!("{broken}: statement email not sent")));
                summary
            }
            Ok(summary) => Box::new(summary),
            Err(e) => panic!("unexpected failure: {e}"),
        };
        assert_eq!(summary.providers, PROVIDERS);
        assert_eq!((summary.statements_stored, summary.zero_statements), (PROVIDERS, PROVIDERS), "quiet month");
        assert_eq!(statement_buckets(&summary), PROVIDERS, "each delivery counted once: {summary:?}");
        sent += summary.emails_sent;
    }
    assert_eq!(sent, PROVIDERS - 1, "every provider but the broken one, once between both runs");
    let per = emails_per_address("statement for May 2025");
    for (i, id) in ids.iter().enumerate() {
        let expected = usize::from(i != BROKEN);
        assert_eq!(per.get(&address(id)).copied().unwrap_or(0), expected, "{id}");
    }

    match run_statements(&request, &aws).await {
        Err(StatementRunError::Incomplete(again)) => {
            assert_eq!((again.emails_sent, again.emails_already_sent), (0, PROVIDERS - 1), "{again:?}");
            assert_eq!(again.failed_deliveries.len(), 1);
        }
        other => panic!("the broken address must fail the re-run: {other:?}"),
    }
    assert_eq!(emails_per_address("statement for May 2025"), per, "nothing new went out");
}

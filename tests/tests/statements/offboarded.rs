//! An offboarded provider whose only product was withdrawn by the offboarding: its statement is
//! still made and stored (running deployments keep being billed: the statement run counts withdrawn
//! products), and counted, never emailed (it is sent no further email).

use marketplace_core::provider::{Offboarding, ProviderStatus};

use super::*;

#[tokio::test]
async fn an_offboarded_provider_gets_its_statement_stored_and_counted_not_emailed() {
    let aws = private_context().await;
    let suffix = unique("o").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let ids: Vec<String> = ["gone", "staying"].iter().map(|p| format!("{p}-{suffix}")).collect();
    let at = chrono::Utc::now();
    let gone = Provider {
        status: ProviderStatus::Offboarded,
        offboarding: Some(Offboarding {
            event_id: unique("evt"),
            at,
            by: "team-member-9".into(),
            reason: "Agreement ended.".into(),
            erase_after: at + chrono::Duration::days(90),
            erased_at: None,
        }),
        ..provider(&ids[0], None)
    };
    store_provider(&aws, &gone, ProductStatus::Withdrawn).await;
    store_provider(&aws, &provider(&ids[1], None), ProductStatus::Published).await;
    let month: Month = "2025-08".parse().expect("month");
    let out = std::env::temp_dir().join(unique("statements-offboarded"));
    let plan = ReportPlan::new(month.first_day(), month.last_day()).expect("plan");
    run_job(&table_run(plan, &out), &Resend::Nothing, Some(&aws)).await.expect("dailies");

    let summary = run_statements(&request(month, &out), &aws).await.expect("statements");
    assert_eq!((summary.providers, summary.statements_stored), (2, 2), "both stated: {summary:?}");
    assert_eq!((summary.providers_offboarded, summary.emails_sent), (1, 1), "{summary:?}");
    assert!(statement_emails(&gone.contact_email).is_empty(), "nothing to the offboarded provider");
    assert_eq!(statement_emails(&provider(&ids[1], None).contact_email).len(), 1);
    assert!(aws.reports.statement(&ids[0], month).await.expect("read").is_some(), "its statement is stored");
}

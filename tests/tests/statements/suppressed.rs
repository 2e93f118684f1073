//! A provider whose contact address is undeliverable (SES bounce or complaint): its statement is
//! stored, its email recorded as suppressed in the delivery ledger and counted, on every run, until
//! its contact changes; then the next run sends it.

use marketplace_core::provider::{Undeliverable, UndeliverableReason};

use super::*;

#[tokio::test]
async fn an_undeliverable_contact_gets_its_statement_stored_not_emailed_until_the_contact_changes() {
    let aws = private_context().await;
    let suffix = unique("u").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let ids: Vec<String> = ["bounced", "fine"].iter().map(|p| format!("{p}-{suffix}")).collect();
    let mut bounced = provider(&ids[0], None);
    bounced.undeliverable.push(Undeliverable {
        address: bounced.contact_email.clone(),
        reason: UndeliverableReason::Complaint,
        detail: "abuse".into(),
        at: chrono::Utc::now(),
        feedback_id: unique("feedback"),
    });
    for p in [bounced.clone(), provider(&ids[1], None)] {
        store_provider(&aws, &p, ProductStatus::Published).await;
    }
    let month: Month = "2025-05".parse().expect("month");
    let out = std::env::temp_dir().join(unique("statements-suppressed"));
    let plan = ReportPlan::new(month.first_day(), month.last_day()).expect("plan");
    run_job(&table_run(plan, &out), &Resend::Nothing, Some(&aws)).await.expect("dailies");

    for run in ["first", "re-run"] {
        let summary = run_statements(&request(month, &out), &aws).await.expect("statements");
        assert_eq!(summary.providers_suppressed, 1, "{run}: {summary:?}");
        assert_eq!(summary.statements_stored, 2, "{run}: both statements are stored");
        assert!(statement_emails(&bounced.contact_email).is_empty(), "{run}: nothing to the undeliverable contact");
        assert_eq!(statement_emails(&provider(&ids[1], None).contact_email).len(), 1, "{run}: the other once");
    }

    // The contact changes (ProviderContactChanged): the suppressed delivery is claimable, so the
    // next run sends the statement to the new contact.
    let changed =
        Provider { contact_email: format!("new-{}", bounced.contact_email), undeliverable: vec![], ..bounced };
    store_provider(&aws, &changed, ProductStatus::Published).await;
    let summary = run_statements(&request(month, &out), &aws).await.expect("statements");
    assert_eq!((summary.providers_suppressed, summary.emails_sent), (0, 1), "{summary:?}");
    assert_eq!(statement_emails(&changed.contact_email).len(), 1);
}

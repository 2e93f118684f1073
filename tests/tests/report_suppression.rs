//! The report job and undeliverable contacts, against the local stack through the real SDK and
//! the real delivery ledger: a provider whose contact SES reported undeliverable gets no report
//! email, its delivery is recorded `SUPPRESSED` (with the reason) and counted, a re-run does the
//! same, and once its contact is changed the next run sends it the report.

use aws_sdk_dynamodb::types::AttributeValue;
use marketplace_core::provider::{Undeliverable, UndeliverableReason};
use marketplace_reports::delivery::{Resend, SendLimits};
use marketplace_reports::storage::{delivery_key, DeliveryOf, Recipient};
use marketplace_reports::ReportPlan;
use marketplace_tests::deliveries::*;
use marketplace_tests::*;
use nightly_reports::app::{run_job, AwsContext, JobRequest, Source};
use nightly_reports::cli::Delivery;

/// Stores provider `id`'s record as `deliveries::provider` makes it, its contact `undeliverable`
/// or replaced by `contact`.
async fn store(table: &str, id: &str, undeliverable: bool, contact: Option<String>) {
    let mut record = provider(id, false);
    if undeliverable {
        record.undeliverable.push(Undeliverable {
            address: record.contact_email.clone(),
            reason: UndeliverableReason::PermanentBounce,
            detail: "Permanent/General".into(),
            at: chrono::Utc::now(),
            feedback_id: unique("feedback"),
        });
    }
    if let Some(contact) = contact {
        record.contact_email = contact;
    }
    let mut item = marketplace_aws::attributes::to_item(&record).expect("item");
    item.insert("pk".into(), AttributeValue::S(format!("PROVIDER#{id}")));
    item.insert("sk".into(), AttributeValue::S("PROFILE".into()));
    item.insert("item_type".into(), AttributeValue::S("provider".into()));
    dynamodb().await.put_item().table_name(table).set_item(Some(item)).send().await.expect("put provider");
}

/// The delivery ledger entry of `id`'s report of `date`: (state, reason).
async fn ledger_entry(date: &str, id: &str) -> (String, String) {
    let (pk, sk) = delivery_key(
        DeliveryOf::from(date.parse::<chrono::NaiveDate>().expect("date")),
        &Recipient::Provider(id.into()),
    );
    let table = std::env::var("REPORTS_TABLE").expect("REPORTS_TABLE");
    let item = dynamodb()
        .await
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk))
        .send()
        .await
        .expect("get ledger entry")
        .item
        .unwrap_or_default();
    (attr_s(&item, "state"), attr_s(&item, "reason"))
}

#[tokio::test]
async fn a_provider_whose_contact_is_undeliverable_gets_no_report_until_its_contact_changes() {
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    aws.sends = SendLimits::default();
    let ids = provider_ids("suppress", 2);
    let (bounced, fine) = (&ids[0], &ids[1]);
    let marketplace = aws.providers.table().to_owned();
    store(&marketplace, bounced, true, None).await;
    store(&marketplace, fine, false, None).await;
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default().unsigned_abs();
    let day: chrono::NaiveDate = "2001-01-01".parse().expect("date");
    let date = (day + chrono::Days::new(nanos % 7000)).to_string();
    let request = JobRequest {
        plan: ReportPlan::single(date.parse().expect("date")),
        source: Source::Export(export_file(&ids, &date)),
        partition: None,
        out: std::env::temp_dir().join(unique("suppress-out")),
        delivery: Delivery { store: false, send: true, resend: false },
        parallelism: 1,
    };
    let reports = |to: &str| emails_per_address(&format!("report for {date}")).get(to).copied().unwrap_or(0);

    for run in ["first", "re-run"] {
        let summary = run_job(&request, &Resend::Nothing, Some(&aws)).await.expect("the run succeeds");
        assert_eq!(summary.providers_suppressed, 1, "{run}: {summary:?}");
        assert_eq!(reports(&address(bounced)), 0, "{run}: nothing to the undeliverable contact");
        assert_eq!(reports(&address(fine)), 1, "{run}: the other provider gets its report once");
        let (state, reason) = ledger_entry(&date, bounced).await;
        assert_eq!(state, "SUPPRESSED", "{run}");
        assert!(reason.contains("contact address is undeliverable: PermanentBounce"), "{run}: {reason}");
        assert!(!reason.contains('@'), "{reason}");
    }

    // The contact is changed (what ProviderContactChanged does): the next run sends the report.
    let replaced = format!("new-{}", address(bounced));
    store(&marketplace, bounced, false, Some(replaced.clone())).await;
    let summary = run_job(&request, &Resend::Nothing, Some(&aws)).await.expect("the run succeeds");
    assert_eq!(summary.providers_suppressed, 0, "{summary:?}");
    assert_eq!(reports(&replaced), 1, "the new contact gets the report");
    assert_eq!(ledger_entry(&date, bounced).await.0, "SENT");
}

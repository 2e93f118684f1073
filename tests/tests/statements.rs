//! Monthly statements against the local stack: the daily job stores a month of report rows (the
//! golden logs moved to a month of their own), then the statement run states that month for every
//! provider with a published product — statement items and CSV objects read back, one email per
//! provider through the real delivery ledger, re-runs that send nothing and rewrite identical
//! bytes, a quiet provider's zero statement, concurrent runs, and an open month refused; a month
//! with days without a finished daily run, or rows that disagree with the last day's month sums,
//! refused until they are re-run (`statements/complete.rs`).
//!
//! Each test has a `Marketplace` and a `Reports` table of its own (same keys as template.yaml's),
//! because the statement run scans the whole `Marketplace` table for published products: on the
//! shared tables it would also state (and email) every other test's providers.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aws_sdk_dynamodb::types::AttributeValue;
use marketplace_aws::report_files::statement_object_key;
use marketplace_aws::reports_table::ReportsTable;
use marketplace_aws::DynamoProviderStore;
use marketplace_core::provider::{reports_help_line, Provider, ProviderStatus, Representative};
use marketplace_portal::product::{Product, ProductStatus, PublishOutcome};
use marketplace_reports::attribute::parse_export_line;
use marketplace_reports::delivery::Resend;
use marketplace_reports::statement::{statement_csv, Month, Statement};
use marketplace_reports::ReportPlan;
use marketplace_tests::reports::*;
use marketplace_tests::*;
use nightly_reports::app::{handle_scheduled, run_job, AppError, AwsContext, JobRequest, ScheduledRun, Source};
use nightly_reports::cli::Delivery;
use nightly_reports::statement_run::{run_statements, StatementRequest, StatementRunError};
use rust_decimal::Decimal;

const GOLDEN: [&str; 3] = ["acme-software", "globex-labs", "initech"];

#[path = "statements/complete.rs"]
mod complete;
#[path = "statements/offboarded.rs"]
mod offboarded;
#[path = "statements/suppressed.rs"]
mod suppressed;

/// The job's AWS context on private `Marketplace` and `Reports` tables (the rest shared), with
/// pages of two items on every `Reports` query.
async fn private_context() -> AwsContext {
    moto_endpoint();
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    let client = dynamodb().await;
    aws.providers = DynamoProviderStore::new(client.clone(), private_table("Marketplace-stmt", false).await);
    aws.reports = ReportsTable::new(client, private_table("Reports-stmt", true).await).with_page_limit(2);
    aws
}

async fn put(table: &str, mut item: HashMap<String, AttributeValue>, pk: String, sk: String, item_type: &str) {
    item.insert("pk".into(), AttributeValue::S(pk));
    item.insert("sk".into(), AttributeValue::S(sk));
    item.insert("item_type".into(), AttributeValue::S(item_type.into()));
    dynamodb().await.put_item().table_name(table).set_item(Some(item)).send().await.expect("put item");
}

fn provider(id: &str, representative: Option<Representative>) -> Provider {
    Provider {
        provider_id: id.into(),
        account_alias: format!("{id}-prod"),
        company_name: format!("{id} <Inc>"),
        contact_name: format!("Contact of {id}"),
        contact_email: format!("statements-{id}@provider.example"),
        status: ProviderStatus::PortalAccountCreated,
        created_at: chrono::Utc::now(),
        created_by: "team-member-7".into(),
        created_by_event: unique("evt"),
        version: 1,
        mpa: None,
        representative,
        ..Provider::example()
    }
}

/// Stores the provider record and one product in `status`.
async fn store_provider(aws: &AwsContext, provider: &Provider, status: ProductStatus) {
    let table = aws.providers.table().to_owned();
    let pk = format!("PROVIDER#{}", provider.provider_id);
    put(
        &table,
        marketplace_aws::attributes::to_item(provider).expect("item"),
        pk.clone(),
        "PROFILE".into(),
        "provider",
    )
    .await;
    let product = Product {
        provider_id: provider.provider_id.clone(),
        product_id: "listed-product".into(),
        status,
        listing: None,
        requested_listing: None,
        requested_name: None,
        refusal_reasons: Vec::new(),
        refused_for_mpa_only: false,
        published_at: None,
        withdrawal: None,
        updated_at: chrono::Utc::now(),
        last_event: unique("evt"),
        last_outcome: PublishOutcome::Published,
        version: 1,
    };
    let item = marketplace_aws::attributes::to_item(&product).expect("item");
    put(&table, item, pk, "PRODUCT#listed-product".into(), "product").await;
}

/// The golden logs moved to `month` (`YYYY-MM-`), for the providers `ids` (in [`GOLDEN`] order)
/// and deployment ids of their own.
fn golden_logs(month: &str, ids: &[String], suffix: &str) -> Vec<marketplace_reports::Item> {
    std::fs::read_to_string(fixture().join("deployment-logs-export.json"))
        .expect("fixture")
        .lines()
        .map(|l| {
            let mut line = l.replace("2026-02-", month);
            for (p, id) in GOLDEN.iter().zip(ids) {
                line = line.replace(&format!("\"{p}\""), &format!("\"{id}\""));
            }
            parse_export_line(&line.replace("\"d-", &format!("\"d-{suffix}-"))).expect("export line")
        })
        .collect()
}

/// Raw items of a `Reports` partition with sort keys starting with `prefix` (every item: "").
async fn partition(table: &str, pk: &str, prefix: &str) -> Vec<HashMap<String, AttributeValue>> {
    let mut query = dynamodb()
        .await
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(pk.into()));
    if !prefix.is_empty() {
        query = query
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":prefix", AttributeValue::S(prefix.into()));
    }
    let items = query.into_paginator().items().send().collect::<Result<Vec<_>, _>>().await.expect("query");
    let mut items = items;
    items.sort_by_key(|i| attr_s(i, "sk"));
    items
}

async fn s3_object(key: &str) -> Vec<u8> {
    let bucket = std::env::var("REPORT_FILES_BUCKET").expect("REPORT_FILES_BUCKET: the local stack creates the bucket");
    let sdk = marketplace_aws::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let object = s3.get_object().bucket(&bucket).key(key).send().await.expect("get object");
    object.body.collect().await.expect("body").into_bytes().to_vec()
}

fn statement_emails(address: &str) -> Vec<SentEmail> {
    emails_to(address).into_iter().filter(|e| e.subject.contains("statement")).collect()
}

fn dec(text: &str) -> Decimal {
    text.parse().expect("decimal")
}

/// Per (product, currency): (deployments, revenue, remuneration, fee) summed straight from the
/// stored daily rows.
async fn sums_of_daily_rows(
    table: &str,
    provider_id: &str,
    month: &str,
) -> BTreeMap<(String, String), (u64, Decimal, Decimal, Decimal)> {
    let mut sums: BTreeMap<(String, String), (u64, Decimal, Decimal, Decimal)> = BTreeMap::new();
    for row in partition(table, &format!("PROVIDER#{provider_id}"), &format!("DAY#{month}-")).await {
        let s = sums.entry((attr_s(&row, "product_id"), attr_s(&row, "currency"))).or_default();
        s.0 += row.get("deployments").and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok()).expect("count");
        s.1 += dec(&attr_s(&row, "billable_revenue"));
        s.2 += dec(&attr_s(&row, "remuneration_value"));
        s.3 += dec(&attr_s(&row, "marketplace_fee"));
    }
    sums
}

/// `GET /providers/{p}/statements/{month}` as provider `p`, through the API's handler.
async fn api_statement(reader: &reports_api::AwsReportReader, p: &str, month: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/api-provider-statement.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("sample is JSON");
    let route = format!("/providers/{p}/statements/{month}");
    event["rawPath"] = serde_json::json!(route);
    event["requestContext"]["http"]["path"] = serde_json::json!(route);
    event.as_object_mut().expect("event").remove("pathParameters");
    event["requestContext"]["authorizer"]["jwt"]["claims"] =
        serde_json::json!({"sub": "user-1", "marketplace_role": "provider", "marketplace_provider_id": p});
    let request = reports_api::lambda_http::request::from_str(&event.to_string()).expect("an HTTP API v2 event");
    let response = reports_api::handle(reader, chrono::Utc::now().date_naive(), &request).await;
    assert_eq!(response.status(), 200, "{route}");
    match response.body() {
        reports_api::lambda_http::Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
        other => panic!("{route}: unexpected body {other:?}"),
    }
}

fn request(month: Month, out: &Path) -> StatementRequest {
    StatementRequest { month, out: out.to_owned(), send: true, resend: Resend::Nothing, scan_page_limit: Some(1) }
}

#[tokio::test]
async fn statements_are_stored_emailed_once_reconcile_with_the_dailies_and_re_run_identically() {
    let aws = private_context().await;
    let suffix = unique("s").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let ids: Vec<String> = GOLDEN.iter().map(|p| format!("{p}-{suffix}")).collect();
    let quiet = format!("quiet-{suffix}");
    let own_representative = Representative { name: "Ana Ortiz".into(), email: "ana@marketplace.example".into() };
    let providers = [
        provider(&ids[0], Some(own_representative)),
        provider(&ids[1], None),
        provider(&ids[2], None),
        provider(&quiet, None),
    ];
    // acme, globex and the quiet provider have a published product; initech only a draft, so it
    // gets no statement although it has daily rows.
    for (p, status) in providers.iter().zip([
        ProductStatus::Published,
        ProductStatus::Published,
        ProductStatus::Draft,
        ProductStatus::Published,
    ]) {
        store_provider(&aws, p, status).await;
    }

    // The dailies of the month: the golden logs (the 11th..15th) in March 2025, every day of the
    // month run (a statement needs a finished run of each), stored only.
    let month: Month = "2025-03".parse().expect("month");
    assert_eq!(aws.logs.load(golden_logs("2025-03-", &ids, &suffix)).await.expect("load"), 34);
    let out = std::env::temp_dir().join(unique("statements-out"));
    let dailies = JobRequest {
        plan: ReportPlan::new(month.first_day(), month.last_day()).expect("plan"),
        source: Source::Table,
        partition: None,
        out: out.clone(),
        delivery: Delivery { store: true, send: false, resend: false },
        parallelism: 4,
    };
    let stored = run_job(&dailies, &Resend::Nothing, Some(&aws)).await.expect("dailies");
    assert!(stored.items_stored > 0, "{stored:?}");

    // The statement run, the Scan of published products in pages of one item.
    let summary = run_statements(&request(month, &out), &aws).await.expect("statements");
    assert_eq!(
        (summary.providers, summary.statements_stored, summary.zero_statements, summary.files_uploaded),
        (3, 3, 1, 3),
        "{summary:?}"
    );
    assert_eq!((summary.emails_sent, summary.emails_already_sent, summary.deliveries_in_doubt), (3, 0, 0));

    let reports = aws.reports.clone();
    let reports_table = aws.reports.table_name().to_owned();
    let mut stored_items = Vec::new();
    let mut objects = Vec::new();
    for p in [&ids[0], &ids[1], &quiet] {
        // The stored item reads back as the statement, and it is the sum of the stored daily rows.
        let item = reports.statement(p, month).await.expect("read").expect("statement stored");
        assert_eq!(
            (item.pk.as_str(), item.sk.as_str(), item.kind.as_str()),
            (&*format!("PROVIDER#{p}"), "STATEMENT#2025-03", "statement")
        );
        let statement: Statement = item.statement.clone();
        let sums = sums_of_daily_rows(&reports_table, p, "2025-03").await;
        assert_eq!(statement.lines.len(), sums.len(), "{p}");
        for line in &statement.lines {
            let s = sums[&(line.product_id.clone(), line.currency.to_string())];
            assert_eq!(
                (
                    line.counts.deployments,
                    line.money.billable_revenue,
                    line.money.remuneration_value,
                    line.money.marketplace_fee
                ),
                s,
                "{p} {} {}: the statement line is the sum of its daily rows",
                line.product_id,
                line.currency
            );
        }
        for total in &statement.totals {
            let revenue: Decimal =
                sums.iter().filter(|((_, c), _)| *c == total.currency.to_string()).map(|(_, s)| s.1).sum();
            assert_eq!(total.money.billable_revenue, revenue, "{p} {}", total.currency);
        }
        if *p == quiet {
            assert!(statement.lines.is_empty() && statement.totals.is_empty(), "a quiet month is a zero statement");
        } else {
            assert!(!statement.lines.is_empty(), "{p} had deployments");
        }
        // The CSV object is the statement's file, and the email's attachment.
        let key = statement_object_key(month, p);
        assert_eq!(key, format!("statements/2025-03/providers/{p}/statement.csv"));
        let bytes = s3_object(&key).await;
        assert_eq!(bytes, statement_csv(&statement).into_bytes());
        let mails = statement_emails(&format!("statements-{p}@provider.example"));
        assert_eq!(mails.len(), 1, "{p}: one statement email");
        let mail = &mails[0];
        assert_eq!(mail.subject, format!("{p} <Inc>: your marketplace statement for March 2025"));
        assert!(mail.text.starts_with(&format!("Hello Contact of {p},")), "{}", mail.text);
        assert_eq!(mail.attachments, vec![("statement-2025-03.csv".to_owned(), bytes.clone())]);
        let record = providers.iter().find(|r| &r.provider_id == p).expect("provider");
        let help = reports_help_line(Some(record), &aws.config);
        let body = mail.text.split("\n-- \n").next().expect("body");
        assert!(body.trim_end().ends_with(&help), "{p}: the body ends with the help line: {body}");
        if *p == quiet {
            assert!(mail.text.contains("no deployments in March 2025"), "{}", mail.text);
        }
        stored_items.push(partition(&reports_table, &format!("PROVIDER#{p}"), "STATEMENT#").await);
        objects.push(bytes);
    }
    assert!(reports.statement(&ids[2], month).await.expect("read").is_none(), "no published product, no statement");
    assert!(statement_emails(&format!("statements-{}@provider.example", ids[2])).is_empty());
    assert!(stored_items[0][0].get("lines").is_some_and(|l| l.as_l().is_ok()), "lines are a list of maps");
    let ledger = partition(&reports_table, "DELIVERY#STATEMENT#2025-03", "PROVIDER#").await;
    assert_eq!(ledger.iter().map(|i| attr_s(i, "state")).collect::<Vec<_>>(), ["SENT", "SENT", "SENT"]);
    assert!(partition(&reports_table, "DELIVERY#2025-03-15", "").await.is_empty(), "dailies were not sent");
    assert!(partition(&reports_table, "DELIVERY#2025-03-31", "").await.is_empty(), "dailies were not sent");

    // The portal reads the stored statement through the reports API (the provider's own).
    let reader = reports_api::AwsReportReader::new(
        &marketplace_aws::sdk_config().await,
        &reports_table,
        aws.providers.table(),
        std::env::var("REPORT_FILES_BUCKET").expect("REPORT_FILES_BUCKET"),
    );
    for p in [&ids[0], &quiet] {
        let body = api_statement(&reader, p, "2025-03").await;
        let stored = reports.statement(p, month).await.expect("read").expect("stored");
        let mut expected = serde_json::to_value(&stored.statement).expect("json");
        expected["source"] = serde_json::json!("stored");
        expected["reconciliation"] = serde_json::json!(stored.reconciliation);
        assert_eq!(body, expected, "{p}: the API answers the stored statement");
    }
    // Before its statement run, a month is computed the same way from the daily rows.
    let computed = api_statement(&reader, &ids[0], "2025-02").await;
    assert_eq!((computed["source"].as_str(), computed["lines"].as_array().map(Vec::len)), (Some("computed"), Some(0)));

    // A re-run sends nothing and rewrites identical items and bytes.
    let again = run_statements(&request(month, &out), &aws).await.expect("re-run");
    assert_eq!((again.emails_sent, again.emails_already_sent, again.statements_stored), (0, 3, 3));
    for (k, p) in [&ids[0], &ids[1], &quiet].into_iter().enumerate() {
        assert_eq!(partition(&reports_table, &format!("PROVIDER#{p}"), "STATEMENT#").await, stored_items[k]);
        assert_eq!(s3_object(&statement_object_key(month, p)).await, objects[k]);
        assert_eq!(statement_emails(&format!("statements-{p}@provider.example")).len(), 1, "{p}: nothing new");
    }

    // An operator's re-send of one provider, then the Lambda payloads: with a month, and as the
    // schedule sends it on the 1st and again daily until the 7th (the month before
    // scheduled_time): nothing new.
    let resend = StatementRequest { resend: Resend::Providers([ids[1].clone()].into()), ..request(month, &out) };
    let resent = run_statements(&resend, &aws).await.expect("re-send");
    assert_eq!((resent.emails_sent, resent.emails_already_sent), (1, 2));
    assert_eq!(statement_emails(&format!("statements-{}@provider.example", ids[1])).len(), 2);
    for payload in [
        serde_json::json!({"mode": "statement", "month": "2025-03"}),
        serde_json::json!({"mode": "statement", "scheduled_time": "2025-04-01T03:30:00Z"}),
        serde_json::json!({"mode": "statement", "scheduled_time": "2025-04-07T03:30:00Z"}),
    ] {
        let run: ScheduledRun = serde_json::from_value(payload.clone()).expect("payload");
        let result = handle_scheduled(&run, &aws, &out, 4).await.expect("statement payload");
        assert_eq!(result["month"], "2025-03", "{payload}");
        assert_eq!((result["emails_sent"].as_u64(), result["emails_already_sent"].as_u64()), (Some(0), Some(3)));
    }

    // The month still running is refused, whichever way it is asked for.
    let this_month = Month::of(chrono::Utc::now().date_naive());
    let run: ScheduledRun =
        serde_json::from_value(serde_json::json!({"mode": "statement", "month": this_month.to_string()}))
            .expect("payload");
    match handle_scheduled(&run, &aws, &out, 4).await {
        Err(AppError::Statement(StatementRunError::MonthOpen { month, .. })) => assert_eq!(month, this_month),
        other => panic!("expected the open month refused, got {other:?}"),
    }
    assert!(matches!(run_statements(&request(this_month, &out), &aws).await, Err(StatementRunError::MonthOpen { .. })));
    assert!(
        serde_json::from_value::<ScheduledRun>(serde_json::json!({"mode": "statement", "month": "2025-3"})).is_err()
    );
}

#[tokio::test]
async fn a_rejected_address_stops_no_other_statement_and_concurrent_runs_send_each_once() {
    let aws = private_context().await;
    let suffix = unique("c").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let ids: Vec<String> = ["alpha", "beta", "gamma"].iter().map(|p| format!("{p}-{suffix}")).collect();
    let mut broken = provider(&ids[2], None);
    // SES refuses an address without a domain (moto does too).
    broken.contact_email = "statements-without-domain".into();
    for p in [provider(&ids[0], None), provider(&ids[1], None), broken.clone()] {
        store_provider(&aws, &p, ProductStatus::Published).await;
    }
    let month: Month = "2025-04".parse().expect("month");
    let out = std::env::temp_dir().join(unique("statements-concurrent"));
    // A quiet month for these providers, but every day of it run (a statement needs that).
    let plan = ReportPlan::new(month.first_day(), month.last_day()).expect("plan");
    run_job(&table_run(plan, &out), &Resend::Nothing, Some(&aws)).await.expect("dailies");

    // Two runs of the month at once, through the real delivery ledger.
    let both = request(month, &out);
    let (a, b) = tokio::join!(run_statements(&both, &aws), run_statements(&both, &aws));
    let mut sent = 0;
    for result in [a, b] {
        match result {
            Err(StatementRunError::Incomplete(summary)) => {
                assert!(
                    summary.failed_deliveries.iter().all(|f| f.starts_with(&ids[2])),
                    "only gamma is named: {:?}",
                    summary.failed_deliveries
                );
                assert_eq!(summary.statements_stored, 3, "gamma's statement is stored all the same");
                sent += summary.emails_sent;
            }
            // The other run may have found gamma's claim taken (in doubt) and failed nothing.
            Ok(summary) => sent += summary.emails_sent,
            Err(e) => panic!("unexpected failure: {e}"),
        }
    }
    assert_eq!(sent, 2, "alpha and beta, once between both runs");
    for p in &ids[..2] {
        assert_eq!(statement_emails(&format!("statements-{p}@provider.example")).len(), 1, "{p}: exactly once");
    }

    // Fixed address: the next run delivers gamma only (its failed claim was released).
    let fixed = provider(&ids[2], None);
    store_provider(&aws, &fixed, ProductStatus::Published).await;
    let retry = run_statements(&request(month, &out), &aws).await.expect("retry");
    assert_eq!((retry.emails_sent, retry.emails_already_sent, retry.zero_statements), (1, 2, 3), "{retry:?}");
    assert_eq!(statement_emails(&fixed.contact_email).len(), 1);
}

//! The reports API (`functions/reports-api`) against the local stack: report items stored in the
//! `Reports` table exactly as the job stores them (the domain's aggregation of generated
//! deployment logs, `report_items`, `to_item`), report files put into the local report-files
//! bucket, and API Gateway HTTP API (payload 2.0) events with JWT claims — the sample events in
//! `events/api-*.json`, re-aimed — sent through the handler, and once through `cargo lambda
//! watch` + `cargo lambda invoke`. Every answer is checked against the published OpenAPI document
//! (`contract/reports-api.openapi.json`) by `marketplace_tests::api`.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::NaiveDate;
use marketplace_core::money::format_money;
use marketplace_reports::aggregate::ReportRow;
use marketplace_reports::storage::report_items;
use marketplace_reports::{Aggregator, DailyReport, ReportPlan};
use marketplace_tests::api::{self, Answer};
use marketplace_tests::lambda_watch::{event_file, LambdaWatch, RecordingProxy};
use marketplace_tests::*;
use nightly_reports::generate::{generate, GeneratorConfig};
use reports_api::AwsReportReader;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn date(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn sample(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(event_file(name)).expect("sample event")).expect("sample is JSON")
}

fn provider_claims(provider_id: &str) -> Value {
    json!({"sub": "user-1", "marketplace_role": "provider", "marketplace_provider_id": provider_id})
}

fn team_claims() -> Value {
    json!({"sub": "team-member-7", "marketplace_role": "team"})
}

/// The provider-reports sample event re-aimed at `path?query`, with `claims` as the JWT
/// authorizer's (`None`: no authorizer context at all).
fn request_event(path: &str, query: &str, claims: Option<Value>) -> Value {
    let mut event = sample("api-provider-reports.json");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["rawQueryString"] = json!(query);
    let pairs: serde_json::Map<String, Value> =
        query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_owned(), json!(v))).collect();
    event["queryStringParameters"] = Value::Object(pairs);
    let object = event.as_object_mut().expect("event object");
    object.remove("pathParameters");
    match claims {
        Some(claims) => event["requestContext"]["authorizer"]["jwt"]["claims"] = claims,
        None => {
            event["requestContext"].as_object_mut().expect("context").remove("authorizer");
        }
    }
    event
}

async fn send(reader: &AwsReportReader, event: &Value) -> Answer {
    api::send(reader, today(), event).await
}

async fn get(reader: &AwsReportReader, path: &str, query: &str, claims: Option<Value>) -> Answer {
    send(reader, &request_event(path, query, claims)).await
}

/// A problem document with this status and `type` slug.
fn assert_problem(answer: &Answer, status: u16, slug: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.content_type, "application/problem+json", "{answer:?}");
    assert_eq!(answer.body["type"], format!("urn:marketplace:problem:{slug}"), "{answer:?}");
    assert_eq!(answer.body["status"], status, "{answer:?}");
    assert!(answer.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{answer:?}");
}

async fn reader() -> AwsReportReader {
    moto_endpoint();
    AwsReportReader::from_env().await.expect("the local stack's environment names the tables and the bucket")
}

/// Daily reports of `providers` (standing in, in order, for the generator's provider-0000,
/// provider-0001, ...) for `from..=to`, stored in the `Reports` table as the job stores them.
async fn seed_reports(providers: &[String], from: NaiveDate, to: NaiveDate, count: u64, seed: u64) -> Vec<DailyReport> {
    let config = GeneratorConfig {
        seed,
        count,
        from,
        to,
        providers: u32::try_from(providers.len()).expect("few providers"),
        reject_per_million: 0,
    };
    let mut aggregator = Aggregator::new(ReportPlan::new(from, to).expect("plan"));
    generate(&config, |mut item| {
        if let Some(marketplace_reports::AttributeValue::S(id)) = item.get("provider_id") {
            let index: usize = id.trim_start_matches("provider-").parse().expect("generated provider id");
            item.insert("provider_id".into(), marketplace_reports::AttributeValue::S(providers[index].clone()));
        }
        aggregator.ingest_item(&item, &|| "generated".into())
    })
    .expect("generated logs aggregate");
    let reports = aggregator.finish().expect("reports");
    let table = std::env::var("REPORTS_TABLE").expect("REPORTS_TABLE");
    let dynamodb = dynamodb().await;
    let items: Vec<_> = reports.iter().flat_map(report_items).collect();
    for chunk in items.chunks(25) {
        let writes = chunk
            .iter()
            .map(|item| {
                let item = marketplace_aws::attributes::to_item(item).expect("item");
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item)).build().expect("put"))
                    .build()
            })
            .collect();
        let out = dynamodb.batch_write_item().request_items(&table, writes).send().await.expect("batch write");
        assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    }
    reports
}

/// The provider's daily rows of `reports`, as (date, product, currency) → row.
fn expected_rows(reports: &[DailyReport], provider_id: &str) -> BTreeMap<(String, String, String), ReportRow> {
    reports
        .iter()
        .flat_map(|r| {
            r.providers.get(provider_id).into_iter().flat_map(move |p| {
                p.deployments.iter().map(move |row| {
                    ((r.date.to_string(), row.product_id.clone(), row.currency.to_string()), row.clone())
                })
            })
        })
        .collect()
}

/// Every row of a paged listing, following `next`; also returns the number of pages.
async fn all_pages(reader: &AwsReportReader, path: &str, query: &str, claims: &Value) -> (Vec<Value>, usize) {
    let mut rows = Vec::new();
    let mut pages = 0;
    let mut next: Option<String> = None;
    loop {
        let query = match &next {
            Some(token) => format!("{query}&next={token}"),
            None => query.to_owned(),
        };
        let answer = get(reader, path, &query, Some(claims.clone())).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.content_type, "application/json");
        pages += 1;
        rows.extend(answer.body["rows"].as_array().expect("rows").iter().cloned());
        match answer.body["next"].as_str() {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
        assert!(pages < 1000, "paging does not end");
    }
    (rows, pages)
}

#[tokio::test]
async fn a_provider_reads_its_daily_rows_page_by_page_and_only_its_own() {
    let app = app().await;
    let reader = reader().await;
    let (acme, _) = signed_up_provider(&app, "api-acme").await;
    let (globex, _) = signed_up_provider(&app, "api-globex").await;
    let others: Vec<String> = (0..3).map(|i| unique(&format!("api-other{i}"))).collect();
    // acme stands in for provider-0003 (four products, several currencies), globex for 0002.
    let providers = vec![others[0].clone(), others[1].clone(), globex.clone(), acme.clone()];
    let reports = seed_reports(&providers, date("2026-01-01"), date("2026-01-31"), 900, 11).await;
    let expected = expected_rows(&reports, &acme);
    assert!(expected.len() > 40, "the seed gives acme enough rows to page: {}", expected.len());

    let path = format!("/providers/{acme}/reports");
    let (rows, pages) =
        all_pages(&reader, &path, "from=2026-01-01&to=2026-01-31&limit=17", &provider_claims(&acme)).await;
    assert_eq!(pages, expected.len().div_ceil(17), "pages of 17 rows, no empty last page");
    assert_eq!(rows.len(), expected.len());
    for row in &rows {
        assert_eq!(row["provider_id"], acme.as_str());
        let key = (
            row["report_date"].as_str().expect("date").to_owned(),
            row["product_id"].as_str().expect("product").to_owned(),
            row["currency"].as_str().expect("currency").to_owned(),
        );
        let want = expected.get(&key).unwrap_or_else(|| panic!("unexpected row {row}"));
        assert_eq!(row["product_name"], want.product_name.as_str());
        assert_eq!(row["deployments"], want.counts.deployments);
        assert_eq!(row["failed"], want.counts.failed);
        assert_eq!(row["errors_in_failed"], want.counts.errors_in_failed);
        assert_eq!(row["billable_revenue"], format_money(want.money.billable_revenue, want.currency));
        assert_eq!(row["remuneration_value"], format_money(want.money.remuneration_value, want.currency));
        assert_eq!(row["marketplace_fee"], format_money(want.money.marketplace_fee, want.currency));
    }
    let distinct: std::collections::BTreeSet<_> = rows.iter().map(|r| r.to_string()).collect();
    assert_eq!(distinct.len(), rows.len(), "no row twice across pages");

    // A narrower range holds only its days; the team reads the same rows.
    let (week, _) = all_pages(&reader, &path, "from=2026-01-10&to=2026-01-16", &team_claims()).await;
    let in_week = expected.keys().filter(|(d, _, _)| d.as_str() >= "2026-01-10" && d.as_str() <= "2026-01-16").count();
    assert_eq!(week.len(), in_week);
    assert!(week.iter().all(|r| r["report_date"].as_str().is_some_and(|d| ("2026-01-10"..="2026-01-16").contains(&d))));

    // A token belongs to its query: reused for another range or provider it is refused.
    let first = get(&reader, &path, "from=2026-01-01&to=2026-01-31&limit=5", Some(provider_claims(&acme))).await;
    let token = first.body["next"].as_str().expect("a next token").to_owned();
    let other_range =
        get(&reader, &path, &format!("from=2026-01-01&to=2026-01-30&next={token}"), Some(provider_claims(&acme))).await;
    assert_problem(&other_range, 400, "invalid-next");
    let globex_path = format!("/providers/{globex}/reports");
    let other_provider = get(
        &reader,
        &globex_path,
        &format!("from=2026-01-01&to=2026-01-31&next={token}"),
        Some(provider_claims(&globex)),
    )
    .await;
    assert_problem(&other_provider, 400, "invalid-next");
    let tampered =
        get(&reader, &path, "from=2026-01-01&to=2026-01-31&next=eyJxIjoiYSJ9", Some(provider_claims(&acme))).await;
    assert_problem(&tampered, 400, "invalid-next");
    // A forged token of this very query whose sort key is longer than DynamoDB accepts: 400, not 500.
    let long_sk = format!("DAY#2026-01-15#PRODUCT#{}", "x".repeat(reports_api::paging::MAX_SORT_KEY_BYTES));
    let forged = reports_api::paging::encode(&format!("reports|{acme}|2026-01-01|2026-01-31"), &long_sk);
    let too_long = format!("from=2026-01-01&to=2026-01-31&next={forged}");
    assert_problem(&get(&reader, &path, &too_long, Some(provider_claims(&acme))).await, 400, "invalid-next");

    // Another provider's data: 404, the very answer an unknown provider gets.
    let foreign = get(&reader, &globex_path, "from=2026-01-01&to=2026-01-31", Some(provider_claims(&acme))).await;
    assert_problem(&foreign, 404, "not-found");
    let unknown_id = unique("api-nobody");
    let unknown =
        get(&reader, &format!("/providers/{unknown_id}/reports"), "from=2026-01-01&to=2026-01-31", Some(team_claims()))
            .await;
    assert_problem(&unknown, 404, "not-found");
    assert_eq!(foreign.body["title"], unknown.body["title"]);
    assert_eq!(
        foreign.body["detail"].as_str().map(|d| d.replace(&globex, "ID")),
        unknown.body["detail"].as_str().map(|d| d.replace(&unknown_id, "ID"))
    );
    // The team reads globex's rows; a provider cannot.
    let globex_rows = get(&reader, &globex_path, "from=2026-01-01&to=2026-01-31&limit=500", Some(team_claims())).await;
    assert_eq!(globex_rows.status, 200);
    assert_eq!(globex_rows.body["rows"].as_array().map(Vec::len), Some(expected_rows(&reports, &globex).len()));
}

/// Sums of daily rows of one product and currency.
#[derive(Default)]
struct Sums {
    deployments: u64,
    failed: u64,
    errors: u64,
    revenue: Decimal,
    remuneration: Decimal,
    fee: Decimal,
}

#[tokio::test]
async fn statements_reconcile_to_the_cent_with_the_daily_rows() {
    let app = app().await;
    let reader = reader().await;
    let (acme, _) = signed_up_provider(&app, "api-stmt").await;
    let providers: Vec<String> = vec![unique("api-s0"), unique("api-s1"), unique("api-s2"), acme.clone()];
    // February plus the first days of March: the statement must leave March out.
    seed_reports(&providers, date("2026-02-01"), date("2026-03-03"), 1200, 29).await;
    let claims = provider_claims(&acme);

    let statement = get(&reader, &format!("/providers/{acme}/statements/2026-02"), "", Some(claims.clone())).await;
    assert_eq!(statement.status, 200, "{statement:?}");
    let body = &statement.body;
    assert_eq!(body["month"], "2026-02");
    assert_eq!(body["provider_id"], acme.as_str());
    assert!(body["reconciliation"].as_str().is_some_and(|r| r.contains("sum of the month's daily rows")));

    // The same month's daily rows, read through the API, summed by product and currency.
    let (rows, _) =
        all_pages(&reader, &format!("/providers/{acme}/reports"), "from=2026-02-01&to=2026-02-28&limit=50", &claims)
            .await;
    assert!(!rows.is_empty());
    let dec = |v: &Value| v.as_str().expect("amount").parse::<Decimal>().expect("decimal");
    let mut sums: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for row in &rows {
        let key = (
            row["product_id"].as_str().unwrap_or_default().to_owned(),
            row["currency"].as_str().unwrap_or_default().to_owned(),
        );
        let s = sums.entry(key).or_default();
        s.deployments += row["deployments"].as_u64().unwrap_or_default();
        s.failed += row["failed"].as_u64().unwrap_or_default();
        s.errors += row["errors_in_succeeded"].as_u64().unwrap_or_default()
            + row["errors_in_failed"].as_u64().unwrap_or_default();
        s.revenue += dec(&row["billable_revenue"]);
        s.remuneration += dec(&row["remuneration_value"]);
        s.fee += dec(&row["marketplace_fee"]);
    }
    let lines = body["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), sums.len(), "one line per product and currency with rows");
    for line in lines {
        let key = (
            line["product_id"].as_str().unwrap_or_default().to_owned(),
            line["currency"].as_str().unwrap_or_default().to_owned(),
        );
        let s = sums.get(&key).unwrap_or_else(|| panic!("a line without daily rows: {line}"));
        assert_eq!(line["deployments"].as_u64(), Some(s.deployments), "{line}");
        assert_eq!(line["failed"].as_u64(), Some(s.failed), "{line}");
        assert_eq!(line["errors"].as_u64(), Some(s.errors), "{line}");
        // To the cent: the very same decimal text, scale included.
        assert_eq!(dec(&line["billable_revenue"]), s.revenue, "{line}");
        assert_eq!(line["billable_revenue"].as_str().map(|t| t.to_owned()), Some(s.revenue.to_string()), "{line}");
        assert_eq!(dec(&line["remuneration_value"]), s.remuneration, "{line}");
        assert_eq!(dec(&line["marketplace_fee"]), s.fee, "{line}");
        assert_eq!(s.revenue - s.remuneration, s.fee, "fee = revenue - remuneration");
    }
    for total in body["totals"].as_array().expect("totals") {
        let currency = total["currency"].as_str().expect("currency");
        let revenue: Decimal = sums.iter().filter(|((_, c), _)| c == currency).map(|(_, s)| s.revenue).sum();
        assert_eq!(dec(&total["billable_revenue"]), revenue, "{total}");
    }

    // A quiet month of an existing provider: a zero statement.
    let quiet = get(&reader, &format!("/providers/{acme}/statements/2025-11"), "", Some(claims.clone())).await;
    assert_eq!(quiet.status, 200, "{quiet:?}");
    assert_eq!(quiet.body["days_with_rows"], 0);
    assert_eq!(quiet.body["lines"], json!([]));
    assert_eq!(quiet.body["totals"], json!([]));
    // An unknown provider, another provider's statement, an open month, a malformed month.
    let nobody =
        get(&reader, &format!("/providers/{}/statements/2026-02", unique("api-nobody")), "", Some(team_claims())).await;
    assert_problem(&nobody, 404, "not-found");
    let foreign =
        get(&reader, &format!("/providers/{}/statements/2026-02", providers[0]), "", Some(claims.clone())).await;
    assert_problem(&foreign, 404, "not-found");
    let this_month = today().format("%Y-%m").to_string();
    let open = get(&reader, &format!("/providers/{acme}/statements/{this_month}"), "", Some(claims.clone())).await;
    assert_problem(&open, 400, "month-not-closed");
    for bad in ["2026-2", "2026-13", "february", "2026-02-01"] {
        let answer = get(&reader, &format!("/providers/{acme}/statements/{bad}"), "", Some(claims.clone())).await;
        assert_problem(&answer, 400, "invalid-month");
    }
    // The team reads the same statement.
    let team = get(&reader, &format!("/providers/{acme}/statements/2026-02"), "", Some(team_claims())).await;
    assert_eq!(team.body, statement.body);
}

#[tokio::test]
async fn report_files_come_with_presigned_urls_that_download() {
    let app = app().await;
    let reader = reader().await;
    let (acme, _) = signed_up_provider(&app, "api-files").await;
    let (globex, _) = signed_up_provider(&app, "api-files-other").await;
    let bucket = std::env::var("REPORT_FILES_BUCKET").expect("REPORT_FILES_BUCKET: the local stack creates the bucket");
    let sdk = marketplace_aws::sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let files = [
        (format!("reports/2026-02-14/providers/{acme}/deployments.csv"), "date,product\n2026-02-14,vault\n".to_owned()),
        (format!("reports/2026-02-14/providers/{acme}/errors.csv"), "date,code\n".to_owned()),
        (
            format!("reports/2026-02-14/providers/{acme}/month-to-date.csv"),
            "month,revenue\n2026-02,\"1,200.00\"\n".to_owned(),
        ),
        (format!("reports/2026-02-14/providers/{globex}/deployments.csv"), "globex only\n".to_owned()),
        (format!("reports/2026-02-15/providers/{acme}/deployments.csv"), "the next day\n".to_owned()),
    ];
    for (key, body) in &files {
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(body.clone().into_bytes().into())
            .send()
            .await
            .expect("put object");
    }

    let answer =
        get(&reader, &format!("/providers/{acme}/reports/2026-02-14/files"), "", Some(provider_claims(&acme))).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["expires_in_seconds"], 300);
    let listed = answer.body["files"].as_array().expect("files");
    let names: Vec<&str> = listed.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, ["deployments.csv", "errors.csv", "month-to-date.csv"]);
    for (file, (key, body)) in listed.iter().zip(&files) {
        assert_eq!(file["key"], key.as_str());
        assert_eq!(file["size"].as_u64(), Some(body.len() as u64));
        let url = file["url"].as_str().expect("url");
        assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=300"), "{url}");
        let downloaded =
            ureq::get(url).call().unwrap_or_else(|e| panic!("download {url}: {e}")).into_string().expect("text");
        assert_eq!(&downloaded, body, "{key}");
    }
    // (moto does not verify signatures, so a URL re-aimed at another key cannot be tested here.)

    let quiet =
        get(&reader, &format!("/providers/{acme}/reports/2026-02-13/files"), "", Some(provider_claims(&acme))).await;
    assert_eq!(quiet.status, 200);
    assert_eq!(quiet.body["files"], json!([]));
    let foreign =
        get(&reader, &format!("/providers/{globex}/reports/2026-02-14/files"), "", Some(provider_claims(&acme))).await;
    assert_problem(&foreign, 404, "not-found");
    let team = get(&reader, &format!("/providers/{globex}/reports/2026-02-14/files"), "", Some(team_claims())).await;
    assert_eq!(team.body["files"].as_array().map(Vec::len), Some(1));
    let bad_date =
        get(&reader, &format!("/providers/{acme}/reports/2026-02-30/files"), "", Some(provider_claims(&acme))).await;
    assert_problem(&bad_date, 400, "invalid-date");
}

#[tokio::test]
async fn the_team_reads_a_days_summary_and_providers_cannot() {
    let app = app().await;
    let reader = reader().await;
    let (acme, _) = signed_up_provider(&app, "api-sum").await;
    let providers: Vec<String> = (0..5).map(|i| unique(&format!("api-sum{i}"))).chain([acme.clone()]).collect();
    // One day of its own, so that the summary partition holds this test's providers only.
    let day = "2024-07-09";
    let reports = seed_reports(&providers, date(day), date(day), 400, 47).await;
    let expected = &reports[0].summary;
    assert!(expected.len() > 5);

    let (rows, pages) = all_pages(&reader, "/team/summary", &format!("date={day}&limit=4"), &team_claims()).await;
    assert_eq!(pages, expected.len().div_ceil(4));
    assert_eq!(rows.len(), expected.len());
    for (row, want) in rows.iter().zip(expected) {
        assert_eq!(row["provider_id"], want.provider_id.as_str());
        assert_eq!(row["currency"], want.currency.to_string());
        assert_eq!(row["deployments"], want.counts.deployments);
        assert_eq!(row["billable_revenue"], format_money(want.money.billable_revenue, want.currency));
    }
    let provider = get(&reader, "/team/summary", &format!("date={day}"), Some(provider_claims(&acme))).await;
    assert_problem(&provider, 403, "team-only");
    let quiet = get(&reader, "/team/summary", "date=2024-07-08", Some(team_claims())).await;
    assert_eq!((quiet.status, quiet.body["rows"].clone(), quiet.body["next"].clone()), (200, json!([]), Value::Null));
    assert_problem(&get(&reader, "/team/summary", "", Some(team_claims())).await, 400, "missing-parameter");
    assert_problem(&get(&reader, "/team/summary", "date=09.07.2024", Some(team_claims())).await, 400, "invalid-date");
}

#[tokio::test]
async fn missing_forged_and_mismatched_claims_are_refused() {
    let app = app().await;
    let reader = reader().await;
    let (acme, _) = signed_up_provider(&app, "api-auth").await;
    let path = format!("/providers/{acme}/reports");
    let query = "from=2026-01-01&to=2026-01-31";

    // No authorizer context at all (the sample without claims, too).
    assert_problem(&get(&reader, &path, query, None).await, 401, "unauthenticated");
    let mut no_claims = sample("api-no-claims.json");
    no_claims["rawPath"] = json!(path);
    assert_problem(&send(&reader, &no_claims).await, 401, "unauthenticated");
    // Identity claimed outside the verified claims: headers and query parameters count for nothing.
    let mut forged = request_event(&path, &format!("{query}&marketplace_role=team"), None);
    forged["headers"]["x-marketplace-role"] = json!("team");
    forged["headers"]["x-marketplace-provider-id"] = json!(acme);
    assert_problem(&send(&reader, &forged).await, 401, "unauthenticated");
    // Verified tokens whose claims do not name a usable caller.
    for claims in [
        json!({}),
        json!({"sub": "user-1"}),
        json!({"marketplace_role": "provider"}),
        json!({"marketplace_role": "admin", "marketplace_provider_id": acme}),
        json!({"marketplace_role": "TEAM"}),
        json!({"marketplace_role": "provider", "marketplace_provider_id": format!("{acme}/../x")}),
        json!({"role": "team", "provider_id": acme}),
    ] {
        let answer = get(&reader, &path, query, Some(claims.clone())).await;
        assert_problem(&answer, 401, "unauthenticated");
        assert_eq!(answer.body["instance"], path.as_str());
    }
    // A provider token for another provider is that provider, not acme: 404 for acme's data.
    let other = provider_claims(&unique("api-auth-other"));
    assert_problem(&get(&reader, &path, query, Some(other)).await, 404, "not-found");
    // The sample of a provider reading another provider's reports.
    let sample_other = send(&reader, &sample("api-other-provider.json")).await;
    assert_problem(&sample_other, 404, "not-found");
    // The owner and the team get through.
    assert_eq!(get(&reader, &path, query, Some(provider_claims(&acme))).await.status, 200);
    assert_eq!(get(&reader, &path, query, Some(team_claims())).await.status, 200);
    // Unknown routes and methods, whoever asks.
    for unknown in ["/providers", "/providers/{id}", "/team", "/team/summary/extra", "/reports"] {
        let unknown = unknown.replace("{id}", &acme);
        assert_problem(&get(&reader, &unknown, "", Some(team_claims())).await, 404, "not-found");
    }
    let mut post = request_event(&path, query, Some(provider_claims(&acme)));
    post["requestContext"]["http"]["method"] = json!("POST");
    assert_problem(&send(&reader, &post).await, 405, "method-not-allowed");
}

#[tokio::test]
async fn bad_parameters_are_400_problems() {
    let app = app().await;
    let reader = reader().await;
    let (acme, _) = signed_up_provider(&app, "api-params").await;
    let path = format!("/providers/{acme}/reports");
    let claims = provider_claims(&acme);
    for (query, slug) in [
        ("from=2026-01-01&to=2026-04-03", "range-too-long"),
        ("from=2025-01-01&to=2026-01-01", "range-too-long"),
        ("from=2026-02-10&to=2026-02-01", "invalid-range"),
        ("from=2026-1-01&to=2026-01-31", "invalid-date"),
        ("from=2026-01-01&to=2026-01-32", "invalid-date"),
        ("from=2026-01-01&to=20260131", "invalid-date"),
        ("from=2026-01-01&to=2026-01-31T00:00:00Z", "invalid-date"),
        ("from=yesterday&to=2026-01-31", "invalid-date"),
        ("from=2026-01-01", "missing-parameter"),
        ("", "missing-parameter"),
        ("from=2026-01-01&to=2026-01-31&from=2026-01-02", "repeated-parameter"),
        ("from=2026-01-01&to=2026-01-31&limit=0", "invalid-limit"),
        ("from=2026-01-01&to=2026-01-31&limit=501", "invalid-limit"),
        ("from=2026-01-01&to=2026-01-31&limit=many", "invalid-limit"),
        ("from=2026-01-01&to=2026-01-31&next=%%%", "invalid-next"),
    ] {
        let answer = get(&reader, &path, query, Some(claims.clone())).await;
        assert_problem(&answer, 400, slug);
    }
    // The longest range allowed, 92 days, is answered.
    assert_eq!(get(&reader, &path, "from=2026-01-01&to=2026-04-02", Some(claims)).await.status, 200);
}

/// The sample events through the real runtime protocol: `cargo lambda watch` runs the
/// `reports-api` binary, `cargo lambda invoke` sends it API Gateway events. Its DynamoDB calls go
/// through the recording proxy and are checked against its policy, table by table.
#[test]
fn the_api_answers_through_cargo_lambda_watch() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let (acme, statement) = runtime.block_on(async {
        let app = app().await;
        let reader = reader().await;
        let (acme, _) = signed_up_provider(&app, "api-watch").await;
        seed_reports(&[unique("api-w0"), acme.clone()], date("2026-02-01"), date("2026-02-28"), 200, 5).await;
        let statement =
            get(&reader, &format!("/providers/{acme}/statements/2026-02"), "", Some(provider_claims(&acme))).await;
        assert_eq!(statement.status, 200);
        (acme, statement.body)
    });
    let mut proxy = RecordingProxy::start(&moto_endpoint());
    let watch = LambdaWatch::start(&[("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint())]);
    let dir = std::env::temp_dir().join(unique("api-events"));
    std::fs::create_dir_all(&dir).expect("event dir");
    // The samples, re-aimed from acme-software at this test's provider.
    let aimed = |name: &str| {
        let text = std::fs::read_to_string(event_file(name)).expect("sample").replace("acme-software", &acme);
        let path = dir.join(name);
        std::fs::write(&path, text).expect("event file");
        path
    };
    // Each answer is checked against the OpenAPI document too (`marketplace_tests::api::invoked`).
    let invoke = |name: &str| {
        let path = aimed(name);
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("event")).expect("JSON");
        let response = watch.invoke("reports-api", &path);
        let (status, body) = api::invoked(&event, &response);
        (status, body, response)
    };

    let (status, body, _) = invoke("api-provider-statement.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, statement, "the binary answers what the handler answers");
    let (status, body, _) = invoke("api-provider-reports.json");
    assert_eq!(status, 200, "{body}");
    assert!(body["rows"].as_array().is_some_and(|r| !r.is_empty()), "{body}");
    let (status, _, no_claims) = invoke("api-no-claims.json");
    assert_eq!(status, 401);
    assert_eq!(no_claims["headers"]["content-type"], "application/problem+json", "{no_claims}");
    assert_eq!(invoke("api-other-provider.json").0, 404);
    assert_eq!(invoke("api-team-summary.json").0, 200);
    assert_eq!(invoke("api-provider-report-files.json").0, 200);
    proxy.assert_calls_granted_to("ReportsApiFunction");
    drop(watch);
    let _ = std::fs::remove_dir_all(&dir);
}

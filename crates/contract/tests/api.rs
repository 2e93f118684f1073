//! The reports API against its OpenAPI document without the local stack: the document's schemas
//! compile, the sample API Gateway requests (`events/api-*.json`) are requests it describes, and
//! every answer of the real handler over an in-memory reader — every route, page, problem and
//! status the function gives, 405 and 500 included — is a response it describes (status, media
//! type, required headers, body). `tests/tests/reports_api.rs` does the same against the stack.

use std::path::Path;
use std::sync::OnceLock;

use async_trait::async_trait;
use chrono::NaiveDate;
use marketplace_aws::report_files::FileLink;
use marketplace_aws::reports_table::{ItemPage, PageQuery};
use marketplace_aws::sdk_error::AwsError;
use marketplace_contract::check::api::{api, Api, Response};
use marketplace_contract::{released_dir, MAJOR, OPENAPI_FILE};
use marketplace_reports::attribute::{AttributeValue, Item};
use marketplace_reports::statement::{monthly_statement, Month, StoredRow};
use marketplace_reports::storage::StatementItem;
use reports_api::lambda_http::{self, Body};
use reports_api::ReportReader;
use serde_json::{json, Value};

/// `acme` with a few daily rows in January and February 2026 (February's statement stored),
/// files on 2026-01-15; `broken` exists but its partition cannot be read.
struct Memory;

fn row(kind: &str, provider: &str, date: &str, product: Option<&str>, currency: &str, revenue: &str) -> Item {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: u64| AttributeValue::N(v.to_string());
    let mut item = Item::new();
    let sk = match product {
        Some(p) => format!("DAY#{date}#PRODUCT#{p}#{currency}"),
        None => format!("PROVIDER#{provider}#{currency}"),
    };
    item.insert("sk".into(), s(&sk));
    item.insert("kind".into(), s(kind));
    item.insert("report_date".into(), s(date));
    item.insert("provider_id".into(), s(provider));
    if let Some(p) = product {
        item.insert("product_id".into(), s(p));
        item.insert("product_name".into(), s(&format!("Acme {p}")));
    }
    item.insert("currency".into(), s(currency));
    for (name, value) in
        [("deployments", 3), ("succeeded", 2), ("failed", 1), ("errors_in_succeeded", 0), ("errors_in_failed", 2)]
    {
        item.insert(name.into(), n(value));
    }
    let zero = if currency == "JPY" { "0" } else { "0.00" };
    item.insert("billable_revenue".into(), s(revenue));
    item.insert("remuneration_value".into(), s(revenue));
    item.insert("marketplace_fee".into(), s(zero));
    item
}

fn acme_rows() -> Vec<Item> {
    let mut rows = Vec::new();
    for date in ["2026-01-14", "2026-01-15", "2026-02-02", "2026-02-03"] {
        rows.push(row("report", "acme", date, Some("vault"), "USD", "12.50"));
        rows.push(row("report", "acme", date, Some("vault"), "JPY", "300"));
        rows.push(row("report", "acme", date, Some("keys"), "EUR", "0.99"));
    }
    rows
}

fn failed() -> AwsError {
    AwsError::Dynamo { operation: "Query", table: "Reports".into(), message: "throttled".into() }
}

#[async_trait]
impl ReportReader for Memory {
    async fn provider_exists(&self, provider_id: &str) -> Result<bool, AwsError> {
        Ok(["acme", "broken"].contains(&provider_id))
    }

    async fn partition(&self, query: PageQuery<'_>) -> Result<ItemPage, AwsError> {
        let mut items = match query.pk {
            "PROVIDER#acme" => acme_rows(),
            "SUMMARY#2026-01-15" => vec![
                row("summary", "acme", "2026-01-15", None, "USD", "12.50"),
                row("summary", "globex", "2026-01-15", None, "EUR", "1.00"),
            ],
            "PROVIDER#broken" => return Err(failed()),
            _ => Vec::new(),
        };
        let sk = |item: &Item| match item.get("sk") {
            Some(AttributeValue::S(sk)) => sk.clone(),
            _ => String::new(),
        };
        items.sort_by_key(sk);
        items.retain(|i| {
            let key = sk(i);
            query.sk_range.is_none_or(|(lo, hi)| lo <= key.as_str() && key.as_str() <= hi)
                && query.after_sk.is_none_or(|after| key.as_str() > after)
        });
        let limit = query.limit.unwrap_or(usize::MAX);
        let more = items.len() > limit;
        items.truncate(limit);
        Ok(ItemPage { items, more })
    }

    async fn statement(&self, provider_id: &str, month: Month) -> Result<Option<StatementItem>, AwsError> {
        if provider_id != "acme" || month.to_string() != "2026-02" {
            return Ok(None);
        }
        let rows: Vec<StoredRow> = acme_rows()
            .iter()
            .filter_map(|i| StoredRow::from_item(i).ok())
            .filter(|r| month.contains(r.report_date))
            .collect();
        Ok(monthly_statement(provider_id, month, &rows).ok().map(|s| StatementItem::new(&s)))
    }

    async fn files(&self, provider_id: &str, date: NaiveDate) -> Result<Vec<FileLink>, AwsError> {
        if date.to_string() != "2026-01-15" {
            return Ok(Vec::new());
        }
        let key = format!("reports/{date}/providers/{provider_id}/deployments.csv");
        Ok(vec![FileLink {
            name: "deployments.csv".into(),
            url: format!("https://report-files.s3.amazonaws.com/{key}?X-Amz-Expires=300&X-Amz-Signature=abc"),
            key,
            size: 42,
        }])
    }
}

/// The released document of this major version, read as a client should: unknown fields ignored.
fn released() -> &'static Api {
    static RELEASED: OnceLock<Api> = OnceLock::new();
    RELEASED.get_or_init(|| {
        let path = released_dir(MAJOR).join(OPENAPI_FILE);
        Api::load(&path).unwrap_or_else(|e| panic!("{e}: freeze the release with `./dev contract --release`")).opened()
    })
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("the repository")
}

fn sample(name: &str) -> Value {
    let path = repo().join("events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("JSON")
}

fn provider(id: &str) -> Value {
    json!({ "sub": "user-1", "marketplace_role": "provider", "marketplace_provider_id": id })
}

fn team() -> Value {
    json!({ "sub": "team-7", "marketplace_role": "team" })
}

/// The handler's answer to `method path?query` with `claims`, checked against the document;
/// returns (status, body).
async fn ask(method: &str, path: &str, query: &str, claims: Option<Value>) -> (u16, Value) {
    let mut event = sample("api-provider-reports.json");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["path"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["rawQueryString"] = json!(query);
    let pairs: serde_json::Map<String, Value> =
        query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_owned(), json!(v))).collect();
    event["queryStringParameters"] = Value::Object(pairs);
    match claims {
        Some(claims) => event["requestContext"]["authorizer"]["jwt"]["claims"] = claims,
        None => drop(event["requestContext"].as_object_mut().map(|c| c.remove("authorizer"))),
    }
    let request = lambda_http::request::from_str(&event.to_string()).expect("an HTTP API event");
    let today = NaiveDate::from_ymd_opt(2026, 3, 10).expect("date");
    let response = reports_api::handle(&Memory, today, &request).await;
    let body: Value = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("JSON"),
        _ => Value::Null,
    };
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let content_type = headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.clone()).unwrap_or_default();
    let status = response.status().as_u16();
    let answer = Response { status, content_type: &content_type, headers: headers.clone(), body: &body };
    if let Err(e) = api().check_response(method, path, &answer) {
        panic!("{method} {path}?{query}: {e}");
    }
    if let Err(e) = released().check_response(method, path, &answer) {
        panic!("breaking change: released version {MAJOR} does not describe this answer (new major version?): {e}");
    }
    (status, body)
}

#[test]
fn every_schema_of_the_document_compiles() {
    let document: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("contract/reports-api.openapi.json")).expect("the document"),
    )
    .expect("JSON");
    assert_eq!(document["openapi"], "3.1.0");
    for name in document["components"]["schemas"].as_object().expect("schemas").keys() {
        let mut root = json!({ "$ref": format!("#/components/schemas/{name}") });
        root["components"] = document["components"].clone();
        marketplace_contract::check::validator(&root).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn the_sample_requests_are_requests_the_document_describes() {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("events"))
        .expect("events/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("api-"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    for name in names {
        let event = sample(&name);
        let method = event["requestContext"]["http"]["method"].as_str().expect("method");
        let path = event["rawPath"].as_str().expect("rawPath");
        let query: Vec<(String, String)> = event["queryStringParameters"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        api().check_request(method, path, &query).unwrap_or_else(|e| panic!("{name}: {e}"));
        let claims = &event["requestContext"]["authorizer"]["jwt"]["claims"];
        let named = api().check_claims(claims);
        assert_eq!(named.is_ok(), name != "api-no-claims.json", "{name}: {named:?}");
    }
    // And what the document refuses, the function refuses.
    let bad = |q: &[(&str, &str)]| q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    let reports = "/providers/acme/reports";
    for query in [
        bad(&[("from", "2026-01-01")]),
        bad(&[("from", "2026-1-01"), ("to", "2026-01-31")]),
        bad(&[("from", "2026-01-01"), ("to", "2026-01-31"), ("limit", "501")]),
        bad(&[("from", "2026-01-01"), ("to", "2026-01-31"), ("limit", "ten")]),
        bad(&[("from", "2026-01-01"), ("from", "2026-01-02"), ("to", "2026-01-31")]),
    ] {
        assert!(api().check_request("GET", reports, &query).is_err(), "{query:?}");
    }
    assert!(api().check_request("GET", "/providers/acme/statements/2026-13", &[]).is_err());
    assert!(api().check_request("GET", "/team", &[]).is_err());
    assert!(api().check_claims(&json!({ "marketplace_role": "provider", "marketplace_provider_id": "a/b" })).is_err());
    assert!(api().check_claims(&json!({ "marketplace_role": "TEAM" })).is_err());
}

#[tokio::test]
async fn every_answer_of_the_handler_is_described_by_the_document() {
    let acme = provider("acme");
    let reports = "/providers/acme/reports";
    // Pages, followed to the end.
    let mut query = "from=2026-01-01&to=2026-02-28&limit=5".to_owned();
    let mut pages = 0;
    loop {
        let (status, body) = ask("GET", reports, &query, Some(acme.clone())).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        match body["next"].as_str() {
            Some(next) => query = format!("from=2026-01-01&to=2026-02-28&limit=5&next={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 3, "12 rows in pages of 5");
    let statuses = [
        (ask("GET", reports, "from=2026-01-01&to=2026-01-31", Some(team())).await.0, 200),
        (ask("GET", "/providers/acme/reports/2026-01-15/files", "", Some(acme.clone())).await.0, 200),
        (ask("GET", "/providers/acme/reports/2026-01-16/files", "", Some(acme.clone())).await.0, 200),
        (ask("GET", "/providers/acme/statements/2026-01", "", Some(acme.clone())).await.0, 200),
        (ask("GET", "/providers/acme/statements/2026-02", "", Some(team())).await.0, 200),
        (ask("GET", "/providers/acme/statements/2025-11", "", Some(acme.clone())).await.0, 200),
        (ask("GET", "/team/summary", "date=2026-01-15&limit=1", Some(team())).await.0, 200),
        (ask("GET", "/team/summary", "date=2026-01-16", Some(team())).await.0, 200),
        (ask("GET", reports, "from=2026-01-01&to=2026-04-03", Some(acme.clone())).await.0, 400),
        (ask("GET", reports, "from=2026-02-01&to=2026-01-01", Some(acme.clone())).await.0, 400),
        (ask("GET", reports, "from=2026-01-01", Some(acme.clone())).await.0, 400),
        (ask("GET", reports, "from=2026-01-01&to=2026-01-31&limit=0", Some(acme.clone())).await.0, 400),
        (ask("GET", reports, "from=2026-01-01&to=2026-01-31&next=%%%", Some(acme.clone())).await.0, 400),
        (ask("GET", "/providers/acme/reports/2026-02-30/files", "", Some(acme.clone())).await.0, 400),
        (ask("GET", "/providers/acme/statements/2026-3", "", Some(acme.clone())).await.0, 400),
        (ask("GET", "/providers/acme/statements/2026-03", "", Some(acme.clone())).await.0, 400),
        (ask("GET", "/team/summary", "", Some(team())).await.0, 400),
        (ask("GET", reports, "from=2026-01-01&to=2026-01-31", None).await.0, 401),
        (
            ask("GET", reports, "from=2026-01-01&to=2026-01-31", Some(json!({ "marketplace_role": "admin" }))).await.0,
            401,
        ),
        (ask("GET", "/team/summary", "date=2026-01-15", Some(acme.clone())).await.0, 403),
        (ask("GET", "/providers/globex/reports", "from=2026-01-01&to=2026-01-31", Some(acme.clone())).await.0, 404),
        (ask("GET", "/providers/nobody/statements/2026-01", "", Some(team())).await.0, 404),
        (ask("GET", "/providers/acme", "", Some(team())).await.0, 404),
        (ask("POST", reports, "from=2026-01-01&to=2026-01-31", Some(acme.clone())).await.0, 405),
        (ask("GET", "/providers/broken/reports", "from=2026-01-01&to=2026-01-31", Some(team())).await.0, 500),
    ];
    for (i, (got, want)) in statuses.iter().enumerate() {
        assert_eq!(got, want, "request {i}");
    }
    let (_, stored) = ask("GET", "/providers/acme/statements/2026-02", "", Some(acme.clone())).await;
    assert_eq!(stored["source"], "stored");
    let (_, computed) = ask("GET", "/providers/acme/statements/2026-01", "", Some(acme)).await;
    assert_eq!(computed["source"], "computed");
    assert_eq!(computed["lines"].as_array().map(Vec::len), Some(3));
}

#[test]
fn what_the_document_does_not_describe_is_refused() {
    let page = json!({ "provider_id": "acme", "from": "2026-01-01", "to": "2026-01-31", "rows": [], "next": null });
    let ok = |status: u16, content_type: &'static str, body: Value, headers: &[(&str, &str)]| {
        let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        api().check_response("GET", "/providers/acme/reports", &Response { status, content_type, headers, body: &body })
    };
    let cache = [("cache-control", "private, no-store")];
    ok(200, "application/json", page.clone(), &cache).expect("the page as answered");
    let mut extra = page.clone();
    extra["secret"] = json!("leaked");
    let refused = [
        ("an undocumented field", ok(200, "application/json", extra, &cache)),
        ("a missing field", ok(200, "application/json", json!({ "rows": [] }), &cache)),
        (
            "a number for a date",
            ok(
                200,
                "application/json",
                {
                    let mut p = page.clone();
                    p["from"] = json!(20260101);
                    p
                },
                &cache,
            ),
        ),
        (
            "a date that does not exist",
            ok(
                200,
                "application/json",
                {
                    let mut p = page.clone();
                    p["to"] = json!("2026-02-30");
                    p
                },
                &cache,
            ),
        ),
        ("another media type", ok(200, "text/plain", page.clone(), &cache)),
        ("no Cache-Control", ok(200, "application/json", page.clone(), &[])),
        ("an undocumented status", ok(418, "application/json", page, &cache)),
        (
            "a 400 of another route's type",
            ok(
                400,
                "application/problem+json",
                json!({ "type": "urn:marketplace:problem:month-not-closed", "title": "Invalid request parameter", "status": 400, "detail": "x" }),
                &[("cache-control", "no-store")],
            ),
        ),
        (
            "a problem without detail",
            ok(
                404,
                "application/problem+json",
                json!({ "type": "urn:marketplace:problem:not-found", "title": "Not found", "status": 404 }),
                &[("cache-control", "no-store")],
            ),
        ),
    ];
    for (what, result) in refused {
        assert!(result.is_err(), "{what} passed");
    }
}

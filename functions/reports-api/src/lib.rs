//! The Provider Portal's read API for reports (issue 10), behind an API Gateway HTTP API with a
//! JWT authorizer. Providers read their own figures; the marketplace team reads everyone's.
//!
//! | route | who | answers |
//! |-------|-----|---------|
//! | `GET /providers/{id}/reports?from=D1&to=D2[&limit=N][&next=T]` | the provider, the team | daily rows per product and currency, ≤ 92 days, pages of ≤ 500 rows |
//! | `GET /providers/{id}/reports/{date}/files` | the provider, the team | the day's report files with presigned URLs (5 minutes) |
//! | `GET /providers/{id}/statements/{YYYY-MM}` | the provider, the team | the statement of a closed month |
//! | `GET /team/summary?date=D[&limit=N][&next=T]` | the team | the day's summary rows per provider and currency |
//!
//! Who the caller is comes from the verified token claims only ([`access`]); errors are RFC 9457
//! problem details ([`problem`]): 400 bad parameters ([`params`], [`paging`]), 401 no or
//! unusable claims, 403 a provider on a team route, 404 an unknown route, an unknown provider or
//! another provider's id (the same answer, so ids cannot be probed). Figures come from the
//! `Reports` table as `marketplace_reports::storage` lays it out; a statement is the one
//! the monthly run stored (`source: stored`) or, before that run, computed the same way by
//! `marketplace_reports::statement` (`source: computed`); files are the objects under
//! `reports/<date>/providers/<provider_id>/` in the report-files bucket.

pub mod access;
pub mod paging;
pub mod params;
pub mod problem;
pub mod reader;

use chrono::NaiveDate;
use lambda_http::http::header;
use lambda_http::{Body, Request, RequestExt, Response};
use marketplace_reports::attribute::{AttributeValue, Item};
use marketplace_reports::statement::{monthly_statement, StoredRow};
use marketplace_reports::storage::{statement_sk, StatementItem};
use serde_json::{json, Value};

use access::Route;
pub use lambda_http;
pub use problem::Problem;
pub use reader::{AwsReportReader, ReportReader};

/// The function's name (its binary and `cargo lambda` name).
pub const FUNCTION: &str = "reports-api";

/// How statements reconcile with the daily rows (stated in every statement).
pub use marketplace_reports::statement::RECONCILIATION;

/// Object key prefix of a provider's report files for a day.
pub fn files_prefix(provider_id: &str, date: NaiveDate) -> String {
    format!("reports/{date}/providers/{provider_id}/")
}

/// Answers one request. `today` (UTC) decides which months are closed.
pub async fn handle(reader: &dyn ReportReader, today: NaiveDate, request: &Request) -> Response<Body> {
    let path = match request.raw_http_path() {
        "" => request.uri().path().to_owned(),
        raw => raw.to_owned(),
    };
    let outcome = answer(reader, today, request, &path).await;
    let status = match &outcome {
        Ok(_) => 200,
        Err(p) => p.status,
    };
    tracing::info!(method = %request.method(), path = %path, status, "{FUNCTION}");
    match outcome {
        Ok(body) => Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CACHE_CONTROL, "private, no-store")
            .body(Body::Text(body.to_string()))
            .unwrap_or_else(|_| Problem::internal().response()),
        Err(problem) => problem.at(&path).response(),
    }
}

async fn answer(reader: &dyn ReportReader, today: NaiveDate, request: &Request, path: &str) -> Result<Value, Problem> {
    let claims = request
        .request_context_ref()
        .and_then(|context| context.authorizer())
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .map(|jwt| &jwt.claims);
    let caller = access::caller(claims)?;
    let route = access::route(request.method().as_str(), path)?;
    access::authorise(&caller, &route)?;
    let query = request.query_string_parameters_ref();
    let params = params::Params::from_pairs(query.into_iter().flat_map(|q| q.iter()));
    match route {
        Route::Reports { provider_id } => {
            let q = params::range_query(&params)?;
            existing(reader, &provider_id).await?;
            let (lo, hi) = (format!("DAY#{}", q.from), format!("DAY#{}~", q.to));
            let fingerprint = format!("reports|{provider_id}|{}|{}", q.from, q.to);
            let (rows, next) =
                page(reader, &format!("PROVIDER#{provider_id}"), Some((&lo, &hi)), &fingerprint, &q.page).await?;
            Ok(json!({ "provider_id": provider_id, "from": q.from, "to": q.to, "rows": rows, "next": next }))
        }
        Route::Files { provider_id, date } => {
            let date = params::date("date", &date)?;
            existing(reader, &provider_id).await?;
            let files = reader.files(&files_prefix(&provider_id, date)).await.map_err(internal)?;
            Ok(json!({
                "provider_id": provider_id,
                "date": date,
                "expires_in_seconds": reader::PRESIGNED_URL_TTL.as_secs(),
                "files": files,
            }))
        }
        Route::Statement { provider_id, month } => {
            let month = access::closed_month(params::month(&month)?, today)?;
            existing(reader, &provider_id).await?;
            let pk = format!("PROVIDER#{provider_id}");
            // The statement the monthly run stored (and emailed), when there is one; otherwise
            // computed from the daily rows the same way.
            let sk = statement_sk(month);
            let stored = reader.partition(&pk, Some((&sk, &sk)), None, Some(1)).await.map_err(internal)?.items;
            let (statement, source) = match stored.first() {
                Some(item) => {
                    let item: StatementItem = serde_json::from_value(json_of_item(item)).map_err(internal)?;
                    (item.statement, "stored")
                }
                None => {
                    let (lo, hi) = (format!("DAY#{}", month.first_day()), format!("DAY#{}~", month.last_day()));
                    let items = reader.partition(&pk, Some((&lo, &hi)), None, None).await.map_err(internal)?.items;
                    let rows =
                        items.iter().map(StoredRow::from_item).collect::<Result<Vec<_>, _>>().map_err(internal)?;
                    (monthly_statement(&provider_id, month, &rows).map_err(internal)?, "computed")
                }
            };
            if statement.provider_id != provider_id || statement.month != month {
                return Err(internal(format!("stored statement {pk}/{sk} names another provider or month")));
            }
            let mut body = serde_json::to_value(&statement).map_err(internal)?;
            body["source"] = json!(source);
            body["reconciliation"] = json!(RECONCILIATION);
            Ok(body)
        }
        Route::TeamSummary => {
            let q = params::summary_query(&params)?;
            let fingerprint = format!("summary|{}", q.date);
            let (rows, next) = page(reader, &format!("SUMMARY#{}", q.date), None, &fingerprint, &q.page).await?;
            Ok(json!({ "date": q.date, "rows": rows, "next": next }))
        }
    }
}

/// 404 unless the provider exists (the same answer as for another provider's id).
async fn existing(reader: &dyn ReportReader, provider_id: &str) -> Result<(), Problem> {
    match reader.provider_exists(provider_id).await.map_err(internal)? {
        true => Ok(()),
        false => Err(Problem::no_such_provider(provider_id)),
    }
}

/// One page of stored rows of partition `pk` and the token of the next page.
async fn page(
    reader: &dyn ReportReader,
    pk: &str,
    sk_range: Option<(&str, &str)>,
    fingerprint: &str,
    page: &params::Page,
) -> Result<(Vec<StoredRow>, Option<String>), Problem> {
    // Summary partitions hold only `PROVIDER#...` sort keys ('$' sorts right after '#').
    let (lo, hi) = sk_range.unwrap_or(("PROVIDER#", "PROVIDER$"));
    let after = page.next.as_deref().map(|t| paging::decode(t, fingerprint, lo, hi)).transpose()?;
    let found = reader.partition(pk, sk_range, after.as_deref(), Some(page.limit)).await.map_err(internal)?;
    let rows = found.items.iter().map(StoredRow::from_item).collect::<Result<Vec<_>, _>>().map_err(internal)?;
    let next = match found.items.last() {
        Some(last) if found.more => Some(paging::encode(fingerprint, &sort_key(last))),
        _ => None,
    };
    Ok((rows, next))
}

/// A stored item as JSON (numbers as JSON numbers), for reading it back with serde.
fn json_of_item(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), json_of(v))).collect())
}

fn json_of(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n.parse::<serde_json::Number>().map(Value::Number).unwrap_or(Value::String(n.clone())),
        AttributeValue::L(items) => Value::Array(items.iter().map(json_of).collect()),
        AttributeValue::M(map) => json_of_item(map),
        AttributeValue::BOOL(b) => Value::Bool(*b),
        AttributeValue::SS(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        AttributeValue::NS(items) => Value::Array(
            items.iter().map(|n| n.parse::<serde_json::Number>().map(Value::Number).unwrap_or(Value::Null)).collect(),
        ),
        _ => Value::Null,
    }
}

fn sort_key(item: &Item) -> String {
    match item.get("sk") {
        Some(AttributeValue::S(sk)) => sk.clone(),
        _ => String::new(),
    }
}

/// A backend or stored-data failure: logged in full, answered as a bare 500.
fn internal(error: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %error, "{FUNCTION}: cannot answer");
    Problem::internal()
}

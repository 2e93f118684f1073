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
//! `reports/<date>/providers/<provider_id>/` in the report-files bucket. What the API reads is
//! a [`ReportReader`] (`marketplace_aws::report_reader`, with its SDK implementation).

pub mod access;
pub mod paging;
pub mod params;
pub mod problem;

use chrono::NaiveDate;
use lambda_http::http::header;
use lambda_http::{Body, Request, RequestExt, Response};
pub use marketplace_aws::report_files::PRESIGNED_URL_TTL;
use marketplace_aws::reports_table::PageQuery;
use marketplace_reports::attribute::{AttributeValue, Item};
use marketplace_reports::statement::{monthly_statement, StoredRow};
use marketplace_reports::storage::day_key;
use serde_json::{json, Value};

use access::Route;
pub use lambda_http;
pub use marketplace_aws::report_reader::{AwsReportReader, ReportReader};
pub use problem::Problem;

/// The function's name (its binary and `cargo lambda` name).
pub const FUNCTION: &str = "reports-api";

/// How statements reconcile with the daily rows (stated in every statement).
pub use marketplace_reports::statement::RECONCILIATION;

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
            let (lo, hi) = day_key::days(q.from, q.to);
            let fingerprint = format!("reports|{provider_id}|{}|{}", q.from, q.to);
            let (rows, next) =
                page(reader, &format!("PROVIDER#{provider_id}"), Some((&lo, &hi)), &fingerprint, &q.page).await?;
            Ok(json!({ "provider_id": provider_id, "from": q.from, "to": q.to, "rows": rows, "next": next }))
        }
        Route::Files { provider_id, date } => {
            let date = params::date("date", &date)?;
            existing(reader, &provider_id).await?;
            let files = reader.files(&provider_id, date).await.map_err(internal)?;
            Ok(json!({
                "provider_id": provider_id,
                "date": date,
                "expires_in_seconds": PRESIGNED_URL_TTL.as_secs(),
                "files": files,
            }))
        }
        Route::Statement { provider_id, month } => {
            let month = access::closed_month(params::month(&month)?, today)?;
            existing(reader, &provider_id).await?;
            // The statement the monthly run stored (and emailed), when there is one; otherwise
            // computed from the daily rows the same way.
            let (statement, source) = match reader.statement(&provider_id, month).await.map_err(internal)? {
                Some(item) => (item.statement, "stored"),
                None => {
                    let (lo, hi) = day_key::days(month.first_day(), month.last_day());
                    let pk = format!("PROVIDER#{provider_id}");
                    let all = PageQuery { pk: &pk, sk_range: Some((&lo, &hi)), after_sk: None, limit: None };
                    let items = reader.partition(all).await.map_err(internal)?.items;
                    let rows =
                        items.iter().map(StoredRow::from_item).collect::<Result<Vec<_>, _>>().map_err(internal)?;
                    (monthly_statement(&provider_id, month, &rows).map_err(internal)?, "computed")
                }
            };
            if statement.provider_id != provider_id || statement.month != month {
                return Err(internal(format!(
                    "stored statement of {provider_id} for {month} names another provider or month"
                )));
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
    let query = PageQuery { pk, sk_range, after_sk: after.as_deref(), limit: Some(page.limit) };
    let found = reader.partition(query).await.map_err(internal)?;
    let rows = found.items.iter().map(StoredRow::from_item).collect::<Result<Vec<_>, _>>().map_err(internal)?;
    let next = match found.items.last() {
        Some(last) if found.more => Some(paging::encode(fingerprint, &sort_key(last))),
        _ => None,
    };
    Ok((rows, next))
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

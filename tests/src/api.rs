//! The reports API as the tests call it: an API Gateway (payload 2.0) event through the real
//! handler, or a `cargo lambda invoke` answer of the binary, each answer checked against the
//! published OpenAPI document (`contract/reports-api.openapi.json`): status, media type,
//! required headers and body, problem documents included.

use chrono::NaiveDate;
use marketplace_contract::check::api::{assert_response_documented, Response};
use reports_api::lambda_http::{self, Body};
use reports_api::ReportReader;
use serde_json::Value;

/// One answer of the API.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

fn route(event: &Value) -> (&str, &str) {
    let method = event["requestContext"]["http"]["method"].as_str().unwrap_or("GET");
    (method, event["rawPath"].as_str().unwrap_or_default())
}

/// `event` through `reports_api::handle` on `today`; the answer is one the document describes.
pub async fn send(reader: &dyn ReportReader, today: NaiveDate, event: &Value) -> Answer {
    let request = lambda_http::request::from_str(&event.to_string()).expect("an HTTP API v2 event");
    let response = reports_api::handle(reader, today, &request).await;
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}")),
        Body::Binary(bytes) => serde_json::from_slice(bytes).expect("JSON body"),
        _ => Value::Null,
    };
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    let content_type = headers.iter().find(|(n, _)| n == "content-type").map(|(_, v)| v.clone()).unwrap_or_default();
    let status = response.status().as_u16();
    let (method, path) = route(event);
    assert_response_documented(method, path, &Response { status, content_type: &content_type, headers, body: &body });
    Answer { status, content_type, body }
}

/// The (status, body) of the binary's answer to `event` through `cargo lambda invoke` (an API
/// Gateway response: `statusCode`, `headers`, `body` text); the answer is one the document describes.
pub fn invoked(event: &Value, response: &Value) -> (u64, Value) {
    let status = response["statusCode"].as_u64().unwrap_or_else(|| panic!("not an HTTP API response: {response}"));
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or("null")).expect("JSON body");
    let headers: Vec<(String, String)> = response["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
        .collect();
    let content_type = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.clone());
    let (method, path) = route(event);
    let answer = Response {
        status: u16::try_from(status).unwrap_or_default(),
        content_type: content_type.as_deref().unwrap_or_default(),
        headers,
        body: &body,
    };
    assert_response_documented(method, path, &answer);
    (status, body)
}

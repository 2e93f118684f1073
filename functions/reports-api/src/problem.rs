//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! `type` is a URN naming the problem (`urn:marketplace:problem:<slug>`); the URNs are stable
//! identifiers a client can match on, not links. `detail` says what to change.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// One problem: status, kind and a detail the caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `urn:marketplace:problem:<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, fixed per type.
    pub title: &'static str,
    /// The HTTP status, repeated in the body as RFC 9457 recommends.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl Problem {
    fn new(status: StatusCode, slug: &str, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:marketplace:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
        }
    }

    /// 400: a parameter is missing or malformed.
    pub fn bad_parameter(slug: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, slug, "Invalid request parameter", detail)
    }

    /// 401: no usable identity in the request's verified claims.
    pub fn unauthenticated(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Not authenticated", detail)
    }

    /// 403: a provider on a marketplace-team route.
    pub fn team_only() -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "team-only",
            "Marketplace team only",
            "This route is for the marketplace team.",
        )
    }

    /// 404 for a provider the caller may not see or that does not exist: the two are
    /// indistinguishable on purpose, so provider ids cannot be probed.
    pub fn no_such_provider(provider_id: &str) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("No provider `{provider_id}` found."))
    }

    /// 404: no such route.
    pub fn no_such_route(path: &str) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("No route `{path}`."))
    }

    /// 405: the route exists, the method does not.
    pub fn method_not_allowed(method: &str) -> Problem {
        Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{method} is not allowed here; use GET."),
        )
    }

    /// 500: the stored data or a backend failed; details go to the log, not to the caller.
    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "The reports could not be read right now; please try again later.",
        )
    }

    /// With `instance` set to the request path.
    pub fn at(mut self, path: &str) -> Problem {
        self.instance = Some(path.to_owned());
        self
    }

    /// The HTTP response.
    pub fn response(&self) -> Response<Body> {
        let body = serde_json::to_string(self).unwrap_or_default();
        let mut builder = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/problem+json")
            .header(header::CACHE_CONTROL, "no-store");
        if self.status == StatusCode::METHOD_NOT_ALLOWED.as_u16() {
            builder = builder.header(header::ALLOW, "GET");
        }
        if self.status == StatusCode::UNAUTHORIZED.as_u16() {
            builder = builder.header(header::WWW_AUTHENTICATE, "Bearer");
        }
        builder.body(Body::Text(body)).unwrap_or_else(|_| Response::new(Body::Empty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_rfc_9457_documents() {
        let r =
            Problem::bad_parameter("invalid-date", "`from` must be YYYY-MM-DD").at("/providers/a/reports").response();
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/problem+json");
        let Body::Text(text) = r.body() else { panic!("text body") };
        let json: serde_json::Value = serde_json::from_str(text).expect("json");
        assert_eq!(json["type"], "urn:marketplace:problem:invalid-date");
        assert_eq!(json["status"], 400);
        assert_eq!(json["title"], "Invalid request parameter");
        assert_eq!(json["instance"], "/providers/a/reports");
        assert_eq!(Problem::unauthenticated("x").response().headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(Problem::method_not_allowed("POST").response().headers()[header::ALLOW], "GET");
    }
}

//! Who is calling (from the JWT claims API Gateway verified) and what they may read.
//!
//! The HTTP API's JWT authorizer checks the token's signature, issuer (`JwtIssuer`), audience
//! (`JwtAudience`) and expiry, and passes the claims in the request context. Two claims name the
//! caller (identity providers put them in the token as custom claims):
//!
//! | claim | values |
//! |-------|--------|
//! | [`ROLE_CLAIM`] `marketplace_role` | `provider` or `team` |
//! | [`PROVIDER_CLAIM`] `marketplace_provider_id` | the provider's id (role `provider` only) |
//!
//! Only the authorizer's claims count: headers, query parameters and the body are never read for
//! identity, so a request cannot claim a role by itself. A provider reads only its own
//! provider routes; any other provider id answers 404, exactly like an unknown provider, so ids
//! cannot be probed. Team routes answer a provider with 403.

use std::collections::HashMap;

use chrono::NaiveDate;
use marketplace_reports::statement::Month;

use crate::problem::{Problem, MONTH_NOT_CLOSED};

/// Claim holding the caller's role.
pub const ROLE_CLAIM: &str = "marketplace_role";
/// Claim holding a provider caller's provider id.
pub const PROVIDER_CLAIM: &str = "marketplace_provider_id";

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A provider's user, reading that provider's data.
    Provider(String),
    /// The marketplace team, reading everyone's.
    Team,
}

/// Provider ids as the portal issues them: 1–128 of `A-Z a-z 0-9 . _ -`.
pub fn is_provider_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The caller named by the verified claims (`None`: the request carried none) or 401.
pub fn caller(claims: Option<&HashMap<String, String>>) -> Result<Caller, Problem> {
    let claims = claims.ok_or_else(|| Problem::unauthenticated("The request carries no verified token claims."))?;
    match claims.get(ROLE_CLAIM).map(String::as_str) {
        Some("team") => Ok(Caller::Team),
        Some("provider") => match claims.get(PROVIDER_CLAIM) {
            Some(id) if is_provider_id(id) => Ok(Caller::Provider(id.clone())),
            Some(_) => Err(Problem::unauthenticated(format!("The `{PROVIDER_CLAIM}` claim is not a provider id."))),
            None => Err(Problem::unauthenticated(format!("A provider token needs the `{PROVIDER_CLAIM}` claim."))),
        },
        Some(_) => Err(Problem::unauthenticated(format!("The `{ROLE_CLAIM}` claim is neither `provider` nor `team`."))),
        None => Err(Problem::unauthenticated(format!("The token has no `{ROLE_CLAIM}` claim."))),
    }
}

/// The API's routes, with their path parameters still as text (parsed by [`crate::params`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /providers/{id}/reports`
    Reports {
        /// Path `{id}`.
        provider_id: String,
    },
    /// `GET /providers/{id}/reports/{date}/files`
    Files {
        /// Path `{id}`.
        provider_id: String,
        /// Path `{date}`.
        date: String,
    },
    /// `GET /providers/{id}/statements/{month}`
    Statement {
        /// Path `{id}`.
        provider_id: String,
        /// Path `{month}`.
        month: String,
    },
    /// `GET /team/summary`
    TeamSummary,
}

impl Route {
    /// The provider a provider route is about.
    pub fn provider_id(&self) -> Option<&str> {
        match self {
            Route::Reports { provider_id }
            | Route::Files { provider_id, .. }
            | Route::Statement { provider_id, .. } => Some(provider_id),
            Route::TeamSummary => None,
        }
    }
}

/// The route for `method` and `path`: 404 for an unknown path, 405 for a method other than GET.
pub fn route(method: &str, path: &str) -> Result<Route, Problem> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let owned = |s: &str| s.to_owned();
    let route = match segments.as_slice() {
        ["providers", id, "reports"] => Route::Reports { provider_id: owned(id) },
        ["providers", id, "reports", date, "files"] => Route::Files { provider_id: owned(id), date: owned(date) },
        ["providers", id, "statements", month] => Route::Statement { provider_id: owned(id), month: owned(month) },
        ["team", "summary"] => Route::TeamSummary,
        _ => return Err(Problem::no_such_route(path)),
    };
    if route.provider_id().is_some_and(str::is_empty) {
        return Err(Problem::no_such_route(path));
    }
    if method != "GET" {
        return Err(Problem::method_not_allowed(method));
    }
    Ok(route)
}

/// Whether `caller` may use `route`: 403 for a provider on a team route, 404 for another
/// provider's (or a malformed) id.
pub fn authorise(caller: &Caller, route: &Route) -> Result<(), Problem> {
    match (caller, route.provider_id()) {
        (Caller::Provider(_), None) => Err(Problem::team_only()),
        (Caller::Provider(own), Some(id)) if own != id => Err(Problem::no_such_provider(id)),
        (_, Some(id)) if !is_provider_id(id) => Err(Problem::no_such_provider(id)),
        _ => Ok(()),
    }
}

/// The statement month must be closed (`today` is in a later month).
pub fn closed_month(month: Month, today: NaiveDate) -> Result<Month, Problem> {
    if month.is_closed(today) {
        Ok(month)
    } else {
        Err(Problem::new(
            MONTH_NOT_CLOSED,
            format!(
                "The statement of {month} is available once the month has closed (from {}).",
                month.next().first_day()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn callers_come_from_the_role_and_provider_claims() {
        assert_eq!(caller(Some(&claims(&[(ROLE_CLAIM, "team")]))), Ok(Caller::Team));
        assert_eq!(
            caller(Some(&claims(&[(ROLE_CLAIM, "provider"), (PROVIDER_CLAIM, "acme-software")]))),
            Ok(Caller::Provider("acme-software".into()))
        );
        let unauthenticated = |c: Option<&HashMap<String, String>>| caller(c).map_err(|p| p.status);
        assert_eq!(unauthenticated(None), Err(401));
        assert_eq!(unauthenticated(Some(&claims(&[]))), Err(401));
        assert_eq!(unauthenticated(Some(&claims(&[("sub", "u-1"), ("scope", "team")]))), Err(401));
        assert_eq!(unauthenticated(Some(&claims(&[(ROLE_CLAIM, "provider")]))), Err(401));
        assert_eq!(unauthenticated(Some(&claims(&[(ROLE_CLAIM, "admin")]))), Err(401));
        assert_eq!(unauthenticated(Some(&claims(&[(ROLE_CLAIM, "Team")]))), Err(401));
        assert_eq!(unauthenticated(Some(&claims(&[(ROLE_CLAIM, "provider"), (PROVIDER_CLAIM, "a/b")]))), Err(401));
        assert_eq!(unauthenticated(Some(&claims(&[(ROLE_CLAIM, "provider"), (PROVIDER_CLAIM, "")]))), Err(401));
    }

    #[test]
    fn routes_parse_from_the_path() {
        assert_eq!(route("GET", "/providers/acme/reports"), Ok(Route::Reports { provider_id: "acme".into() }));
        assert_eq!(route("GET", "/providers/acme/reports/"), Ok(Route::Reports { provider_id: "acme".into() }));
        assert_eq!(
            route("GET", "/providers/acme/reports/2026-02-14/files"),
            Ok(Route::Files { provider_id: "acme".into(), date: "2026-02-14".into() })
        );
        assert_eq!(
            route("GET", "/providers/acme/statements/2026-02"),
            Ok(Route::Statement { provider_id: "acme".into(), month: "2026-02".into() })
        );
        assert_eq!(route("GET", "/team/summary"), Ok(Route::TeamSummary));
        for unknown in
            ["/", "/providers", "/providers/acme", "/providers//reports", "/team", "/providers/acme/files", "/x/y"]
        {
            assert_eq!(route("GET", unknown).map_err(|p| p.status), Err(404), "{unknown}");
        }
        assert_eq!(route("POST", "/team/summary").map_err(|p| p.status), Err(405));
    }

    #[test]
    fn providers_read_only_their_own_routes() {
        let acme = Caller::Provider("acme".into());
        let own = Route::Reports { provider_id: "acme".into() };
        let other = Route::Statement { provider_id: "globex".into(), month: "2026-02".into() };
        assert_eq!(authorise(&acme, &own), Ok(()));
        assert_eq!(authorise(&acme, &other).map_err(|p| p.status), Err(404));
        assert_eq!(authorise(&acme, &Route::TeamSummary).map_err(|p| p.status), Err(403));
        assert_eq!(authorise(&Caller::Team, &other), Ok(()));
        assert_eq!(authorise(&Caller::Team, &Route::TeamSummary), Ok(()));
        let malformed = Route::Reports { provider_id: "acme%2Fx".into() };
        assert_eq!(authorise(&Caller::Team, &malformed).map_err(|p| p.status), Err(404));
        // Another provider's id and an unknown one answer the same document.
        assert_eq!(authorise(&acme, &other).unwrap_err(), Problem::no_such_provider("globex"));
    }

    #[test]
    fn statements_wait_for_the_month_to_close() {
        let feb: Month = "2026-02".parse().expect("month");
        assert!(closed_month(feb, "2026-03-01".parse().expect("date")).is_ok());
        let open = closed_month(feb, "2026-02-28".parse().expect("date")).unwrap_err();
        assert_eq!(open.status, 400);
        assert!(open.detail.contains("2026-03-01"), "{}", open.detail);
    }
}

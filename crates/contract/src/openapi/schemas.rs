//! The OpenAPI document's component schemas: the bodies `functions/reports-api` serializes and
//! the claims of the token it reads.

use marketplace_core::money::currency_codes;
use reports_api::access::{PROVIDER_CLAIM, ROLE_CLAIM};
use reports_api::{PRESIGNED_URL_TTL, RECONCILIATION};
use serde_json::{json, Map, Value};

use crate::patterns::{date, month, one_of};

/// The JWT bearer scheme API Gateway's authorizer enforces, and the claims the function reads.
pub fn security_scheme() -> Value {
    json!({
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": format!(
            "A JWT from the portal's identity provider. API Gateway's JWT authorizer verifies its signature, \
             issuer (template parameter `JwtIssuer`), audience (`JwtAudience`) and expiry; the function then \
             takes the caller from two claims only (never from headers or parameters): `{ROLE_CLAIM}` \
             (`provider` or `team`) and, for a provider, `{PROVIDER_CLAIM}`. The claims are \
             `#/components/schemas/TokenClaims`."
        ),
        "x-claims": { "$ref": "#/components/schemas/TokenClaims" },
    })
}

/// Every component schema.
pub fn all() -> Value {
    let provider_id = json!({
        "type": "string",
        "description": "A provider id as the portal issues it.",
        "pattern": "^[A-Za-z0-9._-]{1,128}$",
    });
    let money = json!({
        "type": "string",
        "description": "An amount as decimal text with exactly the currency's minor-unit places (e.g. `1200.50` in USD, `300` in JPY).",
        "pattern": "^-?[0-9]+(?:\\.[0-9]+)?$",
    });
    let count = json!({ "type": "integer", "minimum": 0 });
    let counts = [
        ("deployments", "Succeeded plus failed deployments."),
        ("succeeded", "Succeeded deployments."),
        ("failed", "Failed deployments."),
        ("errors_in_succeeded", "Error entries on succeeded deployments."),
        ("errors_in_failed", "Error entries on failed deployments."),
    ];
    let amounts = [
        ("billable_revenue", "Billable revenue, rounded half-to-even to minor units."),
        ("remuneration_value", "The provider's remuneration, rounded."),
        ("marketplace_fee", "Revenue minus remuneration."),
    ];
    let figures = |extra: Vec<(&str, Value)>, required_extra: &[&str]| {
        let mut properties: Map<String, Value> = extra.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        for (name, description) in counts {
            properties.insert(name.into(), with(count.clone(), description));
        }
        for (name, description) in amounts {
            properties.insert(name.into(), json!({ "$ref": "#/components/schemas/Money", "description": description }));
        }
        let mut required: Vec<&str> = required_extra.to_vec();
        required.extend(counts.iter().map(|(n, _)| *n));
        required.extend(amounts.iter().map(|(n, _)| *n));
        closed(properties, &required)
    };
    let reference = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let text = |description: &str| json!({ "type": "string", "description": description });
    let rows = |row: &str| json!({ "type": "array", "items": reference(row) });
    let next =
        json!({ "type": ["string", "null"], "description": "The token of the next page; null on the last page." });
    json!({
        "ProviderId": provider_id,
        "Date": date("A calendar day, `YYYY-MM-DD` (UTC)."),
        "Month": month("A calendar month, `YYYY-MM`."),
        "Money": money,
        "Currency": one_of("An ISO 4217 currency code.", currency_codes()),
        "DailyRow": figures(vec![
            ("report_date", reference("Date")),
            ("provider_id", reference("ProviderId")),
            ("product_id", text("The product.")),
            ("product_name", text("The product's name on that day.")),
            ("currency", reference("Currency")),
        ], &["report_date", "provider_id", "product_id", "product_name", "currency"]),
        "SummaryRow": figures(vec![
            ("report_date", reference("Date")),
            ("provider_id", reference("ProviderId")),
            ("currency", reference("Currency")),
        ], &["report_date", "provider_id", "currency"]),
        "ReportsPage": closed(props([
            ("provider_id", reference("ProviderId")),
            ("from", reference("Date")),
            ("to", reference("Date")),
            ("rows", rows("DailyRow")),
            ("next", next.clone()),
        ]), &["provider_id", "from", "to", "rows", "next"]),
        "SummaryPage": closed(props([
            ("date", reference("Date")),
            ("rows", rows("SummaryRow")),
            ("next", next),
        ]), &["date", "rows", "next"]),
        "FileLink": closed(props([
            ("name", text("The file name under the day's provider prefix, e.g. `deployments.csv`.")),
            ("key", text("The object key: `reports/<date>/providers/<id>/<name>`.")),
            ("size", with(count.clone(), "Size in bytes.")),
            ("url", json!({ "type": "string", "format": "uri", "description": "A presigned GET URL, valid `expires_in_seconds`." })),
        ]), &["name", "key", "size", "url"]),
        "ReportFiles": closed(props([
            ("provider_id", reference("ProviderId")),
            ("date", reference("Date")),
            ("expires_in_seconds", json!({ "const": PRESIGNED_URL_TTL.as_secs() })),
            ("files", rows("FileLink")),
        ]), &["provider_id", "date", "expires_in_seconds", "files"]),
        "StatementLine": figures(vec![
            ("product_id", text("The product.")),
            ("product_name", text("The product's name on its latest day in the month.")),
            ("currency", reference("Currency")),
            ("days_with_rows", json!({ "type": "integer", "minimum": 1, "maximum": 31, "description": "Days of the month with a row for this product and currency." })),
            ("errors", with(count.clone(), "Error entries in total.")),
        ], &["product_id", "product_name", "currency", "days_with_rows", "errors"]),
        "CurrencyTotal": figures(vec![
            ("currency", reference("Currency")),
            ("errors", with(count.clone(), "Error entries in total.")),
        ], &["currency", "errors"]),
        "Statement": closed(props([
            ("provider_id", reference("ProviderId")),
            ("month", reference("Month")),
            ("days_with_rows", json!({ "type": "integer", "minimum": 0, "maximum": 31, "description": "Days of the month with at least one row." })),
            ("lines", json!({ "type": "array", "description": "Per product and currency, by product then currency.", "items": reference("StatementLine") })),
            ("totals", json!({ "type": "array", "description": "Per currency, by currency.", "items": reference("CurrencyTotal") })),
            ("source", json!({ "enum": ["stored", "computed"], "description": "`stored`: the statement the monthly run stored and emailed; `computed`: computed the same way before that run." })),
            ("reconciliation", json!({ "const": RECONCILIATION })),
        ]), &["provider_id", "month", "days_with_rows", "lines", "totals", "source", "reconciliation"]),
        "Problem": closed(props([
            ("type", json!({ "type": "string", "pattern": "^urn:marketplace:problem:[a-z-]+$", "description": "What went wrong, as a stable URN to match on." })),
            ("title", text("Short, fixed per type.")),
            ("status", json!({ "type": "integer", "description": "The HTTP status, repeated." })),
            ("detail", json!({ "type": "string", "minLength": 1, "description": "What to change." })),
            ("instance", text("The request path.")),
        ]), &["type", "title", "status", "detail"]),
        "GatewayMessage": closed(props([("message", text("API Gateway's own refusal, e.g. `Unauthorized`."))]), &["message"]),
        "TokenClaims": token_claims(),
    })
}

/// The claims the function reads from the verified token; others (`sub`, `iss`, ...) are ignored.
fn token_claims() -> Value {
    json!({
        "description": "The verified token's claims that name the caller: the marketplace team, or one provider's user.",
        "type": "object",
        "oneOf": [
            { "properties": { ROLE_CLAIM: { "const": "team" } }, "required": [ROLE_CLAIM] },
            {
                "properties": {
                    ROLE_CLAIM: { "const": "provider" },
                    PROVIDER_CLAIM: { "$ref": "#/components/schemas/ProviderId" },
                },
                "required": [ROLE_CLAIM, PROVIDER_CLAIM],
            },
        ],
    })
}

fn props<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn closed(properties: Map<String, Value>, required: &[&str]) -> Value {
    json!({ "type": "object", "required": required, "properties": properties, "additionalProperties": false })
}

fn with(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

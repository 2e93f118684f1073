//! The pieces of JSON Schema that state a field rule of the code: text rules
//! ([`marketplace_core::validate::TextRule`]), timestamps, dates, decimal text and enums.
//!
//! Patterns are ECMA-262 regular expressions (what JSON Schema specifies) written so that Rust's
//! `regex` reads them the same way: explicit character classes, never `\s`, `\d` or `\w`, whose
//! meaning differs between the two.

use marketplace_core::validate::TextRule;
use serde_json::{json, Value};

/// Characters that never start or end a trimmed field: `char::is_whitespace` (what `trim`
/// removes) and `validate::is_control`.
const BLANK_OR_CONTROL: &str = r"\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028-\u202F\u205F\u2066-\u2069\u3000";
/// `validate::is_control`: C0 and C1 controls, line and paragraph separators, bidi overrides.
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F\u2028-\u202E\u2066-\u2069";
/// The control characters a paragraph may not hold (tabs and line breaks it may).
const PARAGRAPH_CONTROL: &str = r"\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u2028-\u202E\u2066-\u2069";
/// One character of an address's local part (RFC 5322 dot-atom text: printable ASCII but
/// `"(),.:;<>@[\]` and space).
const LOCAL_PART_CHAR: &str = r"[!#-'*+\-/-9=?A-Z^-~]";

/// The schema of a text field with `rule`, trimmed (the code trims surrounding whitespace
/// before checking; the contract describes what to send: the trimmed value).
pub fn text(rule: TextRule, description: &str) -> Value {
    match rule {
        TextRule::Line { max } => json!({
            "type": "string",
            "description": format!("{description} One line: no control characters."),
            "minLength": 1,
            "maxLength": max,
            "pattern": format!("^[^{BLANK_OR_CONTROL}](?:[^{CONTROL}]*[^{BLANK_OR_CONTROL}])?$"),
        }),
        TextRule::Paragraph { max } => json!({
            "type": "string",
            "description": format!("{description} Line breaks and tabs allowed, no other control characters."),
            "minLength": 1,
            "maxLength": max,
            "pattern": format!("^[^{BLANK_OR_CONTROL}](?:[^{PARAGRAPH_CONTROL}]*[^{BLANK_OR_CONTROL}])?$"),
        }),
        TextRule::Identifier { max } => json!({
            "type": "string",
            "description": format!("{description} Letters, digits, '.', '_' or '-', starting with a letter or digit."),
            "minLength": 1,
            "maxLength": max,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
        }),
        TextRule::Email => json!({
            "type": "string",
            "description": format!(
                "{description} An email address: a dot-atom local part of at most 64 characters, a domain of \
                 at least two labels ending in letters; no quoted local parts, IP literals or non-ASCII."
            ),
            "maxLength": 254,
            "pattern": format!(
                "^(?=[^@]{{1,64}}@){LOCAL_PART_CHAR}+(?:\\.{LOCAL_PART_CHAR}+)*\
                 @(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\\.)+[A-Za-z]{{2,63}}$"
            ),
        }),
    }
}

/// An RFC 3339 timestamp with seconds and an offset (what `DateTime::parse_from_rfc3339`
/// reads, without its extensions: a space for `T`, a leap second in any minute).
pub fn timestamp(description: &str) -> Value {
    json!({
        "type": "string",
        "description": description,
        "format": "date-time",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$",
    })
}

/// A `YYYY-MM-DD` calendar date.
pub fn date(description: &str) -> Value {
    json!({
        "type": "string",
        "description": description,
        "format": "date",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    })
}

/// A `YYYY-MM` calendar month.
pub fn month(description: &str) -> Value {
    json!({ "type": "string", "description": description, "pattern": "^[0-9]{4}-(?:0[1-9]|1[0-2])$" })
}

/// Decimal text: exact, never a binary floating-point number.
pub fn decimal(description: &str, pattern: &str) -> Value {
    json!({ "type": "string", "description": description, "maxLength": 30, "pattern": pattern })
}

/// A share of revenue in (0, 1] as decimal text: `0.7` is 70 %.
pub const SHARE: &str = "^(?:0\\.[0-9]*[1-9][0-9]*|1(?:\\.0+)?)$";

/// A price: not negative, at most `decimals` places that are not trailing zeros.
pub fn price_pattern(decimals: u32) -> String {
    format!("^(?:0|[1-9][0-9]{{0,20}})(?:\\.[0-9]{{1,{decimals}}}0*)?$")
}

/// One of `values`.
pub fn one_of<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> Value {
    json!({ "type": "string", "description": description, "enum": values.into_iter().collect::<Vec<_>>() })
}

/// `schema` that may also be `null` (the code reads `null` as absent).
pub fn or_null(mut schema: Value) -> Value {
    let kind = schema["type"].take();
    schema["type"] = match kind {
        Value::String(kind) => json!([kind, "null"]),
        other => other,
    };
    schema
}

/// Any string or `null`: a field the code parses as text but does not use for this event.
pub fn unused_text(description: &str) -> Value {
    json!({ "type": ["string", "null"], "description": description })
}

//! Field validation shared by every event: collects *every* problem instead of stopping at the first.
//!
//! A text field's rule is a [`TextRule`] value: the validators check it ([`Problems::check`]) and
//! the published contract (`crates/contract`, the event schemas) states the very same value, so a
//! changed limit shows up as a changed schema.
//!
//! Problems are logged and kept in rejected-event records, so they never quote personal data: a
//! problem with an email address or a person's name names the field and the rule, not the value.

/// What a text field must be once trimmed: the one description of a field that both the
/// validation and the published event schemas read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRule {
    /// Single-line text of at most `max` characters ([`Problems::line`]).
    Line { max: usize },
    /// Multi-line text of at most `max` characters ([`Problems::paragraph`]).
    Paragraph { max: usize },
    /// An identifier of at most `max` characters ([`Problems::identifier`]).
    Identifier { max: usize },
    /// An email address ([`Problems::email`]).
    Email,
}

/// Collects validation problems, each naming the field it is about.
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, problem: impl Into<String>) {
        self.0.push(problem.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }

    /// `Ok(value)` when nothing was found, otherwise `DomainError::Invalid` with every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, crate::DomainError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(crate::DomainError::Invalid(self.0))
        }
    }

    /// Checks `value` (already trimmed) against `rule`.
    pub fn check(&mut self, field: &str, value: &str, rule: TextRule) {
        match rule {
            TextRule::Line { max } => self.line(field, value, max),
            TextRule::Paragraph { max } => self.paragraph(field, value, max),
            TextRule::Identifier { max } => self.identifier(field, value, max),
            TextRule::Email => self.email(field, value),
        }
    }

    /// A required single-line text field: present, trimmed non-empty, at most `max` characters,
    /// no control characters (it may reach an email header or a CSV cell).
    pub fn line(&mut self, field: &str, value: &str, max: usize) {
        self.text(field, value, max, false);
    }

    /// A required multi-line text field: like [`Problems::line`] but tabs and line breaks are allowed.
    pub fn paragraph(&mut self, field: &str, value: &str, max: usize) {
        self.text(field, value, max, true);
    }

    fn text(&mut self, field: &str, value: &str, max: usize, multiline: bool) {
        if value.trim().is_empty() {
            self.push(format!("{field} is required"));
            return;
        }
        let len = value.chars().count();
        if len > max {
            self.push(format!("{field} is {len} characters long; at most {max} are allowed"));
        }
        let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
        if value.chars().any(|c| is_control(c) && !allowed(c)) {
            self.push(format!("{field} contains control characters"));
        }
    }

    /// An identifier: 1..=max characters from `[A-Za-z0-9._-]`, starting with a letter or digit.
    /// The value is quoted to help find it, except any email address typed into it.
    pub fn identifier(&mut self, field: &str, value: &str, max: usize) {
        if !is_identifier(value, max) {
            self.push(format!(
                "{field} must be 1 to {max} characters of letters, digits, '.', '_' or '-', starting with a letter or digit (got {:?})",
                redact_addresses(value)
            ));
        }
    }

    /// An email address. The message names the field and the rule, never the value: problems are
    /// logged and kept in rejected-event records, which must hold no personal data.
    pub fn email(&mut self, field: &str, value: &str) {
        if !is_email(value) {
            self.push(format!(
                "{field} is not a valid email address (one @ between a name and a dotted domain such as \
                 example.com, at most 254 characters, no spaces or control characters)"
            ));
        }
    }
}

/// What replaces an email address in text meant for logs and records.
pub const REDACTED_ADDRESS: &str = "<email address>";

/// `text` with everything that looks like an email address (`name@domain.tld`) replaced by
/// [`REDACTED_ADDRESS`]: for messages from elsewhere (an SES error naming the recipient) that
/// reach logs and rejected-event records.
pub fn redact_addresses(text: &str) -> String {
    let bytes = text.as_bytes();
    let local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-'".contains(&b);
    let domain = |b: u8| b.is_ascii_alphanumeric() || b".-".contains(&b);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = text[at..].find('@') {
        let sign = at + offset;
        let mut start = sign;
        while start > copied && local(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = sign + 1;
        while end < bytes.len() && domain(bytes[end]) {
            end += 1;
        }
        // Only ASCII bytes were skipped, so `start` and `end` are character boundaries.
        let host = text[sign + 1..end].trim_end_matches('.');
        if start < sign && host.contains('.') {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED_ADDRESS);
            copied = sign + 1 + host.len();
            at = copied;
        } else {
            at = sign + 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Control characters, including Unicode line/paragraph separators and bidi overrides that can
/// disguise text in headers.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

pub fn is_identifier(value: &str, max: usize) -> bool {
    let mut chars = value.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    value.len() <= max && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A pragmatic address check (RFC 5321 sizes, one `@`, a dotted domain, no spaces or control
/// characters, no characters that would break out of a header).
pub fn is_email(value: &str) -> bool {
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || is_control(c) || !c.is_ascii()) {
        return false;
    }
    let Some((local, domain)) = value.split_once('@') else { return false };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return false;
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    if local.chars().any(|c| matches!(c, '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']')) {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()) && tld.len() >= 2)
}

/// An absolute `https://` URL with a host and nothing that could break out of an email's markup.
pub fn is_https_url(value: &str) -> bool {
    matches!(value.strip_prefix("https://"), Some(r) if !r.is_empty() && !r.starts_with('/'))
        && !value.chars().any(|c| c.is_whitespace() || is_control(c) || matches!(c, '"' | '<' | '>'))
}

/// A received text field, trimmed; a missing one is empty (and reported as required by the checks).
pub fn trimmed(value: Option<String>) -> String {
    value.map(|s| s.trim().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_are_https_urls() {
        assert!(is_https_url("https://acme.example/support"));
        for bad in
            ["http://acme.example", "https://", "https:///x", "ftp://acme.example", "https://a b", "https://a\"<x>"]
        {
            assert!(!is_https_url(bad), "{bad:?}");
        }
    }

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in ["jane@example.com", "jane.doe+portal@mail.example.co.uk", "a_b-c@x-y.io"] {
            assert!(is_email(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_addresses_that_could_break_headers_or_bounce() {
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "jane@@example.com",
            "jane doe@example.com",
            "jane@example.com\r\nBcc: x@evil.com",
            "jane<x>@example.com",
            "jane..doe@example.com",
            "jane@-example.com",
            "jané@example.com",
        ] {
            assert!(!is_email(bad), "{bad:?}");
        }
    }

    #[test]
    fn line_fields_report_every_problem() {
        let mut p = Problems::new();
        p.line("company_name", "", 10);
        p.line("contact_name", "Evil\r\nBcc: x", 100);
        p.line("account_alias", &"a".repeat(11), 10);
        p.paragraph("description", "two\nlines\tok", 100);
        let err = p.into_result(()).unwrap_err().to_string();
        assert!(err.contains("company_name is required"), "{err}");
        assert!(err.contains("contact_name contains control characters"), "{err}");
        assert!(err.contains("account_alias is 11 characters long; at most 10"), "{err}");
        assert!(!err.contains("description"), "{err}");
    }

    #[test]
    fn email_problems_name_the_field_and_the_rule_never_the_value() {
        let mut p = Problems::new();
        p.email("contact_email", "jane.doe@acme");
        p.identifier("provider_id", "jane.doe@acme.example", 64);
        let err = p.into_result(()).unwrap_err().to_string();
        assert!(err.contains("contact_email is not a valid email address (one @"), "{err}");
        assert!(err.contains("provider_id must be 1 to 64") && err.contains(REDACTED_ADDRESS), "{err}");
        assert!(!err.contains("jane"), "{err}");
    }

    #[test]
    fn addresses_are_redacted_wherever_they_appear() {
        assert_eq!(
            redact_addresses("Email address is not verified: jane.doe+x@mail.acme.example, bob@b.io."),
            "Email address is not verified: <email address>, <email address>."
        );
        assert_eq!(redact_addresses("é <ana@acme.example>"), "é <<email address>>");
        for kept in ["no address here", "user@localhost", "@acme.example", "a @ b", "x@"] {
            assert_eq!(redact_addresses(kept), kept);
        }
    }

    #[test]
    fn bidi_overrides_count_as_control_characters() {
        assert!(is_control('\u{202E}'));
        assert!(!is_control('é'));
    }

    #[test]
    fn identifiers_are_restricted() {
        assert!(is_identifier("acme-software", 64));
        assert!(!is_identifier("-acme", 64));
        assert!(!is_identifier("acme#1", 64));
        assert!(!is_identifier("", 64));
    }
}

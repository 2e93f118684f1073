//! Configuration every function reads from its environment (set by template.yaml).

use crate::provider::Representative;
use crate::validate;
use crate::DomainError;

/// Addresses and links that go into emails, plus the MPA version providers must accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalConfig {
    /// `From:` address; must be a verified SES identity.
    pub sender: String,
    /// `Reply-To:` address on every email.
    pub reply_to: String,
    /// The marketplace team's inbox: the contact named in emails and the recipient of team notices.
    pub team_inbox: String,
    pub portal_url: String,
    pub guide_url: String,
    pub mpa_current_version: String,
    /// The text of the Marketplace Provider Agreement (linked from the welcome and MPA emails).
    pub mpa_url: String,
    /// The storefront's base URL: a product's page is [`PortalConfig::storefront_page`].
    pub storefront_url: String,
    /// The Marketplace Representative of providers that were given none at sign-up.
    pub default_representative: Representative,
}

impl PortalConfig {
    pub const VARIABLES: [&'static str; 10] = [
        "SENDER_ADDRESS",
        "REPLY_TO_ADDRESS",
        "TEAM_INBOX",
        "PORTAL_URL",
        "GUIDE_URL",
        "MPA_CURRENT_VERSION",
        "MPA_URL",
        "STOREFRONT_URL",
        "DEFAULT_REPRESENTATIVE_NAME",
        "DEFAULT_REPRESENTATIVE_EMAIL",
    ];

    /// Reads the configuration through `lookup` (normally `std::env::var`), naming every missing or
    /// malformed variable at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, DomainError> {
        let mut problems = Vec::new();
        let mut get = |name: &str| match lookup(name).map(|v| v.trim().to_string()) {
            Some(v) if !v.is_empty() => v,
            _ => {
                problems.push(format!("environment variable {name} is not set"));
                String::new()
            }
        };
        let config = PortalConfig {
            sender: get("SENDER_ADDRESS"),
            reply_to: get("REPLY_TO_ADDRESS"),
            team_inbox: get("TEAM_INBOX"),
            portal_url: get("PORTAL_URL"),
            guide_url: get("GUIDE_URL"),
            mpa_current_version: get("MPA_CURRENT_VERSION"),
            mpa_url: get("MPA_URL"),
            storefront_url: get("STOREFRONT_URL"),
            default_representative: Representative {
                name: get("DEFAULT_REPRESENTATIVE_NAME"),
                email: get("DEFAULT_REPRESENTATIVE_EMAIL"),
            },
        };
        for (name, value) in [
            ("SENDER_ADDRESS", &config.sender),
            ("REPLY_TO_ADDRESS", &config.reply_to),
            ("TEAM_INBOX", &config.team_inbox),
            ("DEFAULT_REPRESENTATIVE_EMAIL", &config.default_representative.email),
        ] {
            if !value.is_empty() && !validate::is_email(value) {
                problems.push(format!("{name} is not an email address: {value:?}"));
            }
        }
        for (name, value) in [
            ("PORTAL_URL", &config.portal_url),
            ("GUIDE_URL", &config.guide_url),
            ("MPA_URL", &config.mpa_url),
            ("STOREFRONT_URL", &config.storefront_url),
        ] {
            if !value.is_empty() && !validate::is_https_url(value) {
                problems.push(format!("{name} must be an https URL: {value:?}"));
            }
        }
        if config.storefront_url.contains(['?', '#']) {
            problems.push(format!(
                "STOREFRONT_URL is a base URL a product id is appended to; it cannot have a query or fragment: {:?}",
                config.storefront_url
            ));
        }
        let name = &config.default_representative.name;
        if name.chars().count() > 200 || name.chars().any(validate::is_control) {
            problems.push(format!("DEFAULT_REPRESENTATIVE_NAME must be one line of at most 200 characters: {name:?}"));
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(DomainError::Invalid(problems))
        }
    }

    pub fn from_env() -> Result<Self, DomainError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// A product's storefront page: the storefront base URL, a `/` unless it ends with one, and
    /// the product id percent-encoded as one path segment (RFC 3986: everything but letters,
    /// digits and `-._~` is encoded). Product ids are identifiers (`[A-Za-z0-9._-]`), so today the
    /// encoding changes nothing; it keeps the link a single, unambiguous segment if that ever changes.
    pub fn storefront_page(&self, product_id: &str) -> String {
        let base = self.storefront_url.trim_end_matches('/');
        format!("{base}/{}", encode_path_segment(product_id))
    }

    /// A configuration for unit tests and examples (`*.example.com` addresses and links).
    pub fn example() -> Self {
        PortalConfig {
            sender: "no-reply@marketplace.example.com".into(),
            reply_to: "support@marketplace.example.com".into(),
            team_inbox: "team@marketplace.example.com".into(),
            portal_url: "https://portal.marketplace.example.com".into(),
            guide_url: "https://docs.marketplace.example.com/getting-started".into(),
            mpa_current_version: "2026-01".into(),
            mpa_url: "https://marketplace.example.com/legal/mpa".into(),
            storefront_url: "https://marketplace.example.com/products/".into(),
            default_representative: Representative {
                name: "Marketplace Provider Desk".into(),
                email: "providers@marketplace.example.com".into(),
            },
        }
    }
}

/// Percent-encodes `value` as one URL path segment (RFC 3986 unreserved characters stay).
fn encode_path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_malformed_variables_are_all_named() {
        let err = PortalConfig::from_lookup(|name| match name {
            "SENDER_ADDRESS" => Some("not-an-address".into()),
            "PORTAL_URL" => Some("ftp://portal".into()),
            _ => None,
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("SENDER_ADDRESS is not an email address"), "{text}");
        assert!(text.contains("PORTAL_URL must be an https URL"), "{text}");
        assert!(text.contains("TEAM_INBOX is not set"), "{text}");
        assert!(text.contains("MPA_CURRENT_VERSION is not set"), "{text}");
        assert!(text.contains("MPA_URL is not set"), "{text}");
        assert!(text.contains("DEFAULT_REPRESENTATIVE_EMAIL is not set"), "{text}");
    }

    #[test]
    fn new_links_and_the_default_representative_are_validated() {
        let example = PortalConfig::example();
        let value = |name: &str| -> Option<String> {
            Some(match name {
                "MPA_URL" => "http://marketplace.example.com/mpa".into(),
                "STOREFRONT_URL" => "https://shop.example.com/p?id=".into(),
                "DEFAULT_REPRESENTATIVE_NAME" => "Desk\r\nBcc: x".into(),
                "DEFAULT_REPRESENTATIVE_EMAIL" => "desk".into(),
                "SENDER_ADDRESS" => example.sender.clone(),
                "REPLY_TO_ADDRESS" => example.reply_to.clone(),
                "TEAM_INBOX" => example.team_inbox.clone(),
                "PORTAL_URL" => example.portal_url.clone(),
                "GUIDE_URL" => example.guide_url.clone(),
                _ => example.mpa_current_version.clone(),
            })
        };
        let text = PortalConfig::from_lookup(value).unwrap_err().to_string();
        assert!(text.contains("MPA_URL must be an https URL"), "{text}");
        assert!(text.contains("STOREFRONT_URL is a base URL"), "{text}");
        assert!(text.contains("DEFAULT_REPRESENTATIVE_NAME must be one line"), "{text}");
        assert!(text.contains("DEFAULT_REPRESENTATIVE_EMAIL is not an email address"), "{text}");
    }

    #[test]
    fn a_storefront_page_is_the_base_plus_the_encoded_product_id() {
        let mut config = PortalConfig::example();
        assert_eq!(config.storefront_page("acme-vault"), "https://marketplace.example.com/products/acme-vault");
        config.storefront_url = "https://shop.example.com/p".into();
        assert_eq!(config.storefront_page("a b/c?d"), "https://shop.example.com/p/a%20b%2Fc%3Fd");
        assert_eq!(config.storefront_page("vault_2.0~x"), "https://shop.example.com/p/vault_2.0~x");
    }
}

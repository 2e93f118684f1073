//! Configuration every function reads from its environment (set by template.yaml).

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
}

impl PortalConfig {
    pub const VARIABLES: [&'static str; 6] =
        ["SENDER_ADDRESS", "REPLY_TO_ADDRESS", "TEAM_INBOX", "PORTAL_URL", "GUIDE_URL", "MPA_CURRENT_VERSION"];

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
        };
        for (name, value) in [
            ("SENDER_ADDRESS", &config.sender),
            ("REPLY_TO_ADDRESS", &config.reply_to),
            ("TEAM_INBOX", &config.team_inbox),
        ] {
            if !value.is_empty() && !validate::is_email(value) {
                problems.push(format!("{name} is not an email address: {value:?}"));
            }
        }
        for (name, value) in [("PORTAL_URL", &config.portal_url), ("GUIDE_URL", &config.guide_url)] {
            if !value.is_empty() && !validate::is_https_url(value) {
                problems.push(format!("{name} must be an https URL: {value:?}"));
            }
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
    }
}

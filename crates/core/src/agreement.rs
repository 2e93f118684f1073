//! The versions of the Marketplace Provider Agreement (MPA), as data.
//!
//! The marketplace team publishes a new version (`MpaVersionPublished`: version, the text's
//! address, an effective date); the list of every version, in publication order, is one item of
//! the `Marketplace` table (`MPA` / `VERSIONS`). Before any version is published there, the list
//! is the configuration's first version (`MPA_CURRENT_VERSION`, `MPA_URL`), effective since
//! always.
//!
//! Two versions matter at any moment:
//! - the **latest** one: the version providers are asked to accept (the welcome email, the MPA
//!   campaign, `MpaAccepted` accepts only it);
//! - the **required** one at a time `t`: the newest version effective at `t`. A provider may
//!   publish at `t` when its approved version is the required one or newer. So until a new
//!   version's effective date, providers approved on the previous one keep publishing; after
//!   it, new publishing waits until they accept it and are approved. Published products stay
//!   published either way.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::PortalConfig;

/// One published version of the agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MpaVersion {
    pub version: String,
    /// Where providers read its text.
    pub text_url: String,
    /// From when providers must have accepted it (and been approved) to publish.
    pub effective_at: DateTime<Utc>,
    pub published_at: DateTime<Utc>,
    /// The team member who published it (`configuration` for the first version).
    pub published_by: String,
    /// The `MpaVersionPublished` event that published it.
    pub event_id: String,
}

/// Every version, in publication order (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MpaVersions {
    pub versions: Vec<MpaVersion>,
    /// Incremented by every write; 0 for the configuration's list, which is not stored yet.
    pub revision: u64,
}

/// `published_by` of the version taken from the configuration.
pub const FROM_CONFIGURATION: &str = "configuration";

impl MpaVersions {
    /// The list before any version was published as data: the configuration's version, effective
    /// since always.
    pub fn from_config(config: &PortalConfig) -> Self {
        MpaVersions {
            versions: vec![MpaVersion {
                version: config.mpa_current_version.clone(),
                text_url: config.mpa_url.clone(),
                effective_at: DateTime::UNIX_EPOCH,
                published_at: DateTime::UNIX_EPOCH,
                published_by: FROM_CONFIGURATION.into(),
                event_id: "MPA_CURRENT_VERSION".into(),
            }],
            revision: 0,
        }
    }

    /// The stored list, or the configuration's when none is stored.
    pub fn or_config(stored: Option<MpaVersions>, config: &PortalConfig) -> Self {
        stored.filter(|v| !v.versions.is_empty()).unwrap_or_else(|| Self::from_config(config))
    }

    /// The version providers are asked to accept.
    pub fn latest(&self) -> &MpaVersion {
        self.versions.last().expect("the list of MPA versions is never empty")
    }

    /// Where `version` stands in publication order.
    pub fn position(&self, version: &str) -> Option<usize> {
        self.versions.iter().position(|v| v.version == version)
    }

    pub fn get(&self, version: &str) -> Option<&MpaVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The newest version effective at `at` (the first one when none is yet).
    pub fn required_at(&self, at: DateTime<Utc>) -> &MpaVersion {
        self.versions.iter().rev().find(|v| v.effective_at <= at).unwrap_or(&self.versions[0])
    }

    /// Whether an approval of `version` lets a provider publish at `at`: it is the required
    /// version or a newer one.
    pub fn satisfied_by(&self, version: &str, at: DateTime<Utc>) -> bool {
        let required = self.required_at(at);
        match (self.position(version), self.position(&required.version)) {
            (Some(have), Some(need)) => have >= need,
            _ => false,
        }
    }

    /// `config` with the latest version as the one to accept (what the emails name and link).
    pub fn applied_to(&self, config: &PortalConfig) -> PortalConfig {
        let latest = self.latest();
        PortalConfig { mpa_current_version: latest.version.clone(), mpa_url: latest.text_url.clone(), ..config.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn with_second(effective: &str) -> MpaVersions {
        let mut versions = MpaVersions::from_config(&PortalConfig::example());
        versions.versions.push(MpaVersion {
            version: "2027-01".into(),
            text_url: "https://marketplace.example.com/legal/mpa/2027-01".into(),
            effective_at: at(effective),
            published_at: at("2026-12-01T00:00:00Z"),
            published_by: "team-9".into(),
            event_id: "e-2027".into(),
        });
        versions.revision = 1;
        versions
    }

    #[test]
    fn the_configurations_version_is_the_first_and_effective_since_always() {
        let config = PortalConfig::example();
        let versions = MpaVersions::or_config(None, &config);
        assert_eq!(versions.latest().version, config.mpa_current_version);
        assert_eq!(versions.required_at(at("1999-01-01T00:00:00Z")).version, config.mpa_current_version);
        assert!(versions.satisfied_by(&config.mpa_current_version, at("2030-01-01T00:00:00Z")));
        assert!(!versions.satisfied_by("0-unknown", at("2030-01-01T00:00:00Z")));
        assert_eq!(versions.applied_to(&config), config);
    }

    #[test]
    fn the_previous_version_satisfies_until_the_new_ones_effective_date_and_not_after() {
        let versions = with_second("2027-01-01T00:00:00Z");
        let old = versions.versions[0].version.clone();
        assert_eq!(versions.latest().version, "2027-01");
        assert!(versions.satisfied_by(&old, at("2026-12-31T23:59:59Z")));
        assert!(!versions.satisfied_by(&old, at("2027-01-01T00:00:00Z")));
        assert!(versions.satisfied_by("2027-01", at("2026-12-15T00:00:00Z")), "accepting early is fine");
        assert!(versions.satisfied_by("2027-01", at("2027-06-01T00:00:00Z")));
        let config = versions.applied_to(&PortalConfig::example());
        assert_eq!(
            (config.mpa_current_version.as_str(), config.mpa_url.as_str()),
            ("2027-01", "https://marketplace.example.com/legal/mpa/2027-01")
        );
    }
}

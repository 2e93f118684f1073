//! Publishing a new version of the MPA (`MpaVersionPublished`, from the marketplace team):
//! the version is added to the list of versions (`marketplace_core::agreement`) by one
//! conditional write on its revision, with an entry in the agreement's own audit trail. The
//! providers are asked to accept it by the MPA campaign of the report job, which reads the same
//! list; this event sends no email itself.
//!
//! Rules: only the marketplace team publishes; the text is an https address; a version cannot
//! take effect before it is published (providers could not have been told) nor before the
//! previous version does. Publishing a version that exists is a conflict, unless it is the same
//! version with the same text and date (a portal retry under a new event id: nothing changes).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::model::VERSION_PUBLISHED;
use crate::event::{Actor, PortalEvent};
use crate::fields;
use crate::ports::{AuditEntry, Precondition, Services};
use crate::race::{retry_lost_races, Attempt};
use crate::signup::ActorDetail;
use marketplace_core::agreement::{MpaVersion, MpaVersions};
use marketplace_core::validate::{is_https_url, trimmed, Problems};
use marketplace_core::DomainError;

/// The name the agreement's own audit entries are kept under, instead of a provider's.
pub const AGREEMENT_TRAIL: &str = "MPA";

#[derive(Debug, Default, Deserialize)]
struct VersionDetail {
    mpa_version: Option<String>,
    text_url: Option<String>,
    effective_at: Option<String>,
    actor: Option<ActorDetail>,
}

/// A validated `MpaVersionPublished`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVersion {
    pub version: String,
    pub text_url: String,
    pub effective_at: DateTime<Utc>,
    pub actor: Actor,
}

impl NewVersion {
    /// Parses and validates the event, reporting every problem at once.
    pub fn from_event(event: &PortalEvent) -> Result<Self, DomainError> {
        event.expect(&[VERSION_PUBLISHED])?;
        let detail: VersionDetail = event.detail()?;
        let mut p = Problems::new();
        let version = trimmed(detail.mpa_version);
        let text_url = trimmed(detail.text_url);
        p.check("mpa_version", &version, fields::MPA_VERSION);
        if !is_https_url(&text_url) {
            p.push(format!("text_url must be an address starting with https:// (got {text_url:?})"));
        }
        let effective = trimmed(detail.effective_at);
        let effective_at = DateTime::parse_from_rfc3339(&effective).map(|t| t.with_timezone(&Utc));
        if effective_at.is_err() {
            p.push(format!("effective_at must be an RFC 3339 timestamp (got {effective:?})"));
        }
        let actor = detail.actor.unwrap_or_default();
        let actor = Actor { id: trimmed(actor.id), role: trimmed(actor.role) };
        p.check("actor.id", &actor.id, fields::ACTOR_ID);
        if !actor.is_marketplace_team() {
            p.push(format!(
                "actor.role must be {:?} to publish an MPA version (got {:?})",
                Actor::MARKETPLACE_TEAM,
                actor.role
            ));
        }
        p.into_result(NewVersion { version, text_url, effective_at: effective_at.unwrap_or(event.time), actor })
    }
}

/// What publishing a version does to the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionDecision {
    /// Write this list.
    Write(MpaVersions),
    /// The version is there already, with the same text and date (this event or a retry of it).
    Unchanged { published_by_event: String },
}

/// Decides what publishing `new` does to `versions`: pure, unit-tested.
pub fn decide_version(
    versions: &MpaVersions,
    new: &NewVersion,
    event: &PortalEvent,
) -> Result<VersionDecision, DomainError> {
    if let Some(existing) = versions.get(&new.version) {
        if existing.text_url == new.text_url && existing.effective_at == new.effective_at {
            return Ok(VersionDecision::Unchanged { published_by_event: existing.event_id.clone() });
        }
        return Err(DomainError::Conflict(format!(
            "MPA version {} was already published (event {}) with another text or effective date; publish a new version instead",
            new.version, existing.event_id
        )));
    }
    if new.effective_at < event.time {
        return Err(DomainError::invalid(format!(
            "effective_at {} is before the version is published ({}): providers must be told before it takes effect",
            new.effective_at.to_rfc3339(),
            event.time.to_rfc3339()
        )));
    }
    let latest = versions.latest();
    if new.effective_at < latest.effective_at {
        return Err(DomainError::invalid(format!(
            "effective_at {} is before the latest version {} takes effect ({})",
            new.effective_at.to_rfc3339(),
            latest.version,
            latest.effective_at.to_rfc3339()
        )));
    }
    let mut next = versions.clone();
    next.versions.push(MpaVersion {
        version: new.version.clone(),
        text_url: new.text_url.clone(),
        effective_at: new.effective_at,
        published_at: event.time,
        published_by: new.actor.id.clone(),
        event_id: event.id.clone(),
    });
    next.revision = versions.revision + 1;
    Ok(VersionDecision::Write(next))
}

/// Handles one `MpaVersionPublished` event.
pub async fn publish_version(event: &PortalEvent, services: &Services<'_>) -> Result<String, DomainError> {
    let new = NewVersion::from_event(event)?;
    retry_lost_races("MPA version", || async {
        let versions = services.store.mpa_versions(services.config).await?;
        match decide_version(&versions, &new, event)? {
            VersionDecision::Unchanged { published_by_event } => Ok(Attempt::Done(format!(
                "MPA version {} unchanged: published by event {published_by_event}",
                new.version
            ))),
            VersionDecision::Write(next) => {
                let precondition = match versions.revision {
                    0 => Precondition::Absent,
                    revision => Precondition::Version(revision),
                };
                let audit = AuditEntry::state_change(
                    AGREEMENT_TRAIL,
                    event,
                    VERSION_PUBLISHED,
                    &new.actor.id,
                    serde_json::json!({
                        "mpa_version": new.version,
                        "text_url": new.text_url,
                        "effective_at": new.effective_at,
                    }),
                );
                let write = services.store.put_mpa_versions(&next, precondition, &audit).await;
                Attempt::after(
                    write,
                    format!("MPA version {} published, effective {}", new.version, new.effective_at.to_rfc3339()),
                )
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketplace_core::PortalConfig;

    fn event(id: &str, time: &str, detail: serde_json::Value) -> PortalEvent {
        PortalEvent {
            id: id.into(),
            detail_type: VERSION_PUBLISHED.into(),
            source: crate::event::PORTAL_SOURCE.into(),
            time: DateTime::parse_from_rfc3339(time).unwrap().with_timezone(&Utc),
            detail,
        }
    }

    fn detail(version: &str, effective_at: &str) -> serde_json::Value {
        serde_json::json!({
            "mpa_version": version,
            "text_url": format!("https://marketplace.example.com/legal/mpa/{version}"),
            "effective_at": effective_at,
            "actor": { "id": "team-9", "role": "marketplace-team" },
        })
    }

    fn published(versions: &MpaVersions, event: &PortalEvent) -> Result<VersionDecision, DomainError> {
        decide_version(versions, &NewVersion::from_event(event)?, event)
    }

    #[test]
    fn every_problem_of_a_version_is_named_at_once_and_only_the_team_publishes() {
        let bad = event(
            "e1",
            "2026-12-01T00:00:00Z",
            serde_json::json!({ "mpa_version": "", "text_url": "http://x", "effective_at": "soon",
                                "actor": { "id": "u1", "role": "provider" } }),
        );
        let DomainError::Invalid(problems) = NewVersion::from_event(&bad).unwrap_err() else { panic!("invalid") };
        let text = problems.join("\n");
        for field in ["mpa_version", "text_url", "effective_at", "actor.role"] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
    }

    #[test]
    fn a_version_is_appended_once_and_a_retry_changes_nothing() {
        let first = MpaVersions::from_config(&PortalConfig::example());
        let e = event("e1", "2026-12-01T00:00:00Z", detail("2027-01", "2027-01-01T00:00:00Z"));
        let VersionDecision::Write(next) = published(&first, &e).unwrap() else { panic!("written") };
        assert_eq!((next.revision, next.versions.len()), (1, 2));
        assert_eq!((next.latest().version.as_str(), next.latest().event_id.as_str()), ("2027-01", "e1"));
        assert_eq!(
            published(&next, &e).unwrap(),
            VersionDecision::Unchanged { published_by_event: "e1".into() },
            "the redelivery finds it written"
        );
        let retry = event("e2", "2026-12-01T00:05:00Z", detail("2027-01", "2027-01-01T00:00:00Z"));
        assert_eq!(published(&next, &retry).unwrap(), VersionDecision::Unchanged { published_by_event: "e1".into() });
        let changed = event("e3", "2026-12-02T00:00:00Z", detail("2027-01", "2027-02-01T00:00:00Z"));
        assert!(matches!(published(&next, &changed), Err(DomainError::Conflict(_))));
    }

    #[tokio::test]
    async fn a_death_at_the_write_and_every_redelivery_leave_the_version_written_once() {
        use crate::memory::{Call, Fault, MemoryPortal};
        use std::future::Future;
        let portal = MemoryPortal::default();
        let e = event("e1", "2026-12-01T00:00:00Z", detail("2027-01", "2027-01-01T00:00:00Z"));
        portal.faults.plan(Call::PutMpaVersions, 1, Fault::Die);
        let services = portal.services();
        let mut first = std::pin::pin!(publish_version(&e, &services));
        let died = std::future::poll_fn(|cx| std::task::Poll::Ready(first.as_mut().poll(cx).is_pending())).await;
        assert!(died, "the first delivery died in its write");
        assert_eq!(portal.store.stored_mpa_versions(), None, "nothing written");
        let outcome = publish_version(&e, &portal.services()).await.expect("written");
        assert!(outcome.contains("published"), "{outcome}");
        let again = publish_version(&e, &portal.services()).await.expect("a redelivery");
        assert!(again.contains("unchanged: published by event e1"), "{again}");
        let stored = portal.store.stored_mpa_versions().expect("stored");
        assert_eq!((stored.revision, stored.versions.len()), (1, 2));
        assert_eq!(portal.store.audit(AGREEMENT_TRAIL).len(), 1);
        assert!(portal.mailer.sent().is_empty(), "the event itself emails nobody");
    }

    #[test]
    fn a_version_cannot_take_effect_before_it_is_published_or_before_the_latest_one() {
        let first = MpaVersions::from_config(&PortalConfig::example());
        let past = event("e1", "2026-12-01T00:00:00Z", detail("2027-01", "2026-11-30T00:00:00Z"));
        assert!(matches!(published(&first, &past), Err(DomainError::Invalid(_))));
        let e = event("e2", "2026-12-01T00:00:00Z", detail("2027-01", "2027-03-01T00:00:00Z"));
        let VersionDecision::Write(next) = published(&first, &e).unwrap() else { panic!("written") };
        let earlier = event("e3", "2026-12-02T00:00:00Z", detail("2027-02", "2027-02-01T00:00:00Z"));
        let Err(DomainError::Invalid(problems)) = published(&next, &earlier) else { panic!("refused") };
        assert!(problems[0].contains("before the latest version 2027-01 takes effect"), "{problems:?}");
    }
}

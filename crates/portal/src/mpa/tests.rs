use chrono::Utc;

use super::emails::emails_for;
use super::model::{MpaCommand, ACCEPTED, APPROVED, REJECTED};
use super::rules::{transition, Transition};
use crate::event::PortalEvent;
use marketplace_core::email::Email;
use marketplace_core::provider::{MpaRecord, MpaStatus, Provider};
use marketplace_core::{DomainError, PortalConfig};

fn config() -> PortalConfig {
    PortalConfig::example()
}

fn provider(mpa: Option<MpaRecord>) -> Provider {
    Provider { version: 3, mpa, ..Provider::example() }
}

fn event(id: &str, detail_type: &str, detail: serde_json::Value) -> PortalEvent {
    PortalEvent {
        id: id.into(),
        detail_type: detail_type.into(),
        source: "marketplace.portal".into(),
        time: Utc::now(),
        detail,
    }
}

fn accept(id: &str, version: &str) -> PortalEvent {
    event(
        id,
        ACCEPTED,
        serde_json::json!({
            "provider_id": "acme", "mpa_version": version,
            "accepted_by": {"id": "u1", "name": "Jane", "email": "jane@acme.example"},
            "accepted_at": "2026-11-25T10:00:00Z",
            "actor": {"id": "u1", "role": "provider", "provider_id": "acme"}
        }),
    )
}

fn decide(id: &str, approve: bool, role: &str) -> PortalEvent {
    let mut detail =
        serde_json::json!({"provider_id": "acme", "mpa_version": "2026-01", "actor": {"id": "t1", "role": role}});
    if !approve {
        detail["reason"] = serde_json::json!("missing tax form");
    }
    event(id, if approve { APPROVED } else { REJECTED }, detail)
}

fn apply(p: &Provider, e: &PortalEvent) -> Result<Transition, DomainError> {
    transition(p, &MpaCommand::from_event(e)?, e, &config())
}

fn applied(p: &Provider, e: &PortalEvent) -> Provider {
    match apply(p, e).unwrap() {
        Transition::Apply(next, _) => *next,
        other => panic!("expected a change, got {other:?}"),
    }
}

#[test]
fn accept_then_approve_bumps_the_version_each_time() {
    let pending = applied(&provider(None), &accept("a1", "2026-01"));
    assert_eq!(pending.version, 4);
    assert_eq!(pending.mpa.as_ref().unwrap().status, MpaStatus::PendingApproval);
    let approved = applied(&pending, &decide("d1", true, "marketplace-team"));
    assert_eq!(approved.version, 5);
    assert!(approved.mpa_approved_on("2026-01"));
}

#[test]
fn the_same_event_again_is_recognised_as_applied() {
    let pending = applied(&provider(None), &accept("a1", "2026-01"));
    assert_eq!(apply(&pending, &accept("a1", "2026-01")).unwrap(), Transition::AlreadyApplied);
    let rejected = applied(&pending, &decide("d1", false, "marketplace-team"));
    assert_eq!(apply(&rejected, &decide("d1", false, "marketplace-team")).unwrap(), Transition::AlreadyApplied);
}

#[test]
fn a_decided_mpa_cannot_be_decided_again() {
    let pending = applied(&provider(None), &accept("a1", "2026-01"));
    let approved = applied(&pending, &decide("d1", true, "marketplace-team"));
    let err = apply(&approved, &decide("d2", false, "marketplace-team")).unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("already Approved"), "{err}");
}

#[test]
fn rejection_needs_a_reason_and_allows_a_new_acceptance() {
    let mut no_reason = decide("d1", false, "marketplace-team");
    no_reason.detail.as_object_mut().unwrap().remove("reason");
    assert!(MpaCommand::from_event(&no_reason).unwrap_err().to_string().contains("reason is required"));
    let pending = applied(&provider(None), &accept("a1", "2026-01"));
    let rejected = applied(&pending, &decide("d1", false, "marketplace-team"));
    assert_eq!(rejected.mpa.as_ref().unwrap().rejection_reason.as_deref(), Some("missing tax form"));
    let again = applied(&rejected, &accept("a2", "2026-01"));
    let mpa = again.mpa.unwrap();
    assert_eq!(mpa.status, MpaStatus::PendingApproval);
    assert_eq!(mpa.rejection_reason, None, "a new acceptance starts a clean review");
}

#[test]
fn only_the_team_decides_and_only_pending_acceptances() {
    let pending = applied(&provider(None), &accept("a1", "2026-01"));
    assert!(matches!(apply(&pending, &decide("d1", true, "provider")), Err(DomainError::Forbidden(_))));
    assert!(matches!(apply(&provider(None), &decide("d1", true, "marketplace-team")), Err(DomainError::Conflict(_))));
}

#[test]
fn only_the_current_version_can_be_accepted_and_a_new_one_replaces_an_old_approval() {
    let err = apply(&provider(None), &accept("a1", "2025-01")).unwrap_err();
    assert!(err.to_string().contains("the current version is 2026-01"), "{err}");
    let mut old = applied(&provider(None), &accept("a1", "2026-01"));
    old = applied(&old, &decide("d1", true, "marketplace-team"));
    old.mpa.as_mut().unwrap().version = "2025-01".into();
    assert!(!old.mpa_approved_on("2026-01"));
    let pending = applied(&old, &accept("a2", "2026-01"));
    assert_eq!(pending.mpa.unwrap().version, "2026-01");
}

#[test]
fn only_the_providers_own_user_accepts_in_their_own_name() {
    let with_actor = |actor: serde_json::Value| {
        let mut e = accept("a1", "2026-01");
        e.detail["actor"] = actor;
        e
    };
    for actor in [
        serde_json::json!({"id": "u1", "role": "provider", "provider_id": "globex"}),
        serde_json::json!({"id": "u1", "role": "marketplace-team"}),
        serde_json::json!({"id": "u1", "role": "provider"}),
        serde_json::json!({"id": "u2", "role": "provider", "provider_id": "acme"}),
    ] {
        let err = apply(&provider(None), &with_actor(actor.clone())).unwrap_err();
        assert!(matches!(err, DomainError::Forbidden(_)), "{actor}: {err}");
    }
    let mut no_actor = accept("a1", "2026-01");
    no_actor.detail.as_object_mut().unwrap().remove("actor");
    assert!(matches!(MpaCommand::from_event(&no_actor), Err(DomainError::Invalid(_))));
}

#[test]
fn accepting_twice_while_pending_or_approved_is_a_conflict() {
    let pending = applied(&provider(None), &accept("a1", "2026-01"));
    assert!(matches!(apply(&pending, &accept("a2", "2026-01")), Err(DomainError::Conflict(_))));
    let approved = applied(&pending, &decide("d1", true, "marketplace-team"));
    assert!(matches!(apply(&approved, &accept("a3", "2026-01")), Err(DomainError::Conflict(_))));
}

fn accept_by(id: &str, name: &str, email: &str) -> PortalEvent {
    let mut e = accept(id, "2026-01");
    e.detail["accepted_by"] = serde_json::json!({"id": "u1", "name": name, "email": email});
    e
}

fn emails(p: &Provider, e: &PortalEvent) -> Vec<(&'static str, Email)> {
    emails_for(p, &MpaCommand::from_event(e).unwrap(), &config())
}

#[test]
fn decisions_reach_the_contact_and_the_user_who_accepted_once_each() {
    let pending = applied(&provider(None), &accept_by("a1", "Bob Legal", "bob@acme.example"));
    assert_eq!(pending.mpa.as_ref().unwrap().accepted_by.email, "bob@acme.example", "stored at acceptance");
    for decision in [decide("d1", true, "marketplace-team"), decide("d2", false, "marketplace-team")] {
        let decided = applied(&pending, &decision);
        let emails = emails(&decided, &decision);
        assert_eq!(emails.len(), 1, "one email, one outbox intent");
        let email = &emails[0].1;
        assert_eq!(email.to, ["jane@acme.example", "bob@acme.example"]);
        assert!(email.text.starts_with("Hello Jane and Bob Legal,"), "{}", email.text);
    }
    // The contact accepted herself (another case of the address): one recipient.
    let pending = applied(&provider(None), &accept_by("a2", "Jane", "JANE@acme.example"));
    let decision = decide("d3", true, "marketplace-team");
    let emails = emails(&applied(&pending, &decision), &decision);
    assert_eq!(emails[0].1.to, ["jane@acme.example"]);
    assert!(emails[0].1.text.starts_with("Hello Jane,"));
}

#[test]
fn every_mpa_email_links_the_agreement_text() {
    let acceptance = accept("a1", "2026-01");
    let pending = applied(&provider(None), &acceptance);
    let approve = decide("d1", true, "marketplace-team");
    let reject = decide("d2", false, "marketplace-team");
    let mut all = emails(&pending, &acceptance);
    all.extend(emails(&applied(&pending, &approve), &approve));
    all.extend(emails(&applied(&pending, &reject), &reject));
    assert_eq!(all.len(), 4);
    for (kind, email) in all {
        assert!(
            email.text.contains(
                "The Marketplace Provider Agreement, version 2026-01: https://marketplace.example.com/legal/mpa"
            ),
            "{kind}: {}",
            email.text
        );
        assert!(email.html.contains("<a href=\"https://marketplace.example.com/legal/mpa\">"), "{kind}");
    }
}

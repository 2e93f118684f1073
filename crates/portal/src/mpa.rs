//! The Marketplace Provider Agreement (MPA): the provider accepts a version, the marketplace team
//! approves or rejects it. No product can be published until the current version is approved.
//!
//! ```text
//!   (none) ──accept──▶ PendingApproval ──approve──▶ Approved
//!                          │    ▲                     │
//!                       reject  └──────accept─────────┤ (when MPA_CURRENT_VERSION moves on)
//!                          ▼                          │
//!                      Rejected ──accept──▶ PendingApproval
//! ```
//!
//! Every transition is one conditional write on the provider record (its `version`), together with
//! its audit entry: of two team members deciding at the same moment exactly one wins; the other
//! re-reads, finds the MPA already decided, and fails with a conflict (logged, no email).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::event::{Actor, PortalEvent};
use crate::outbox::{kinds, send_once};
use crate::ports::{AuditEntry, Precondition, Services};
use crate::race::{retry_lost_races, Attempt};
use crate::signup::ActorDetail;
use marketplace_core::email::{compose, Email, Message};
use marketplace_core::provider::{MpaRecord, MpaStatus, Person, Provider};
use marketplace_core::validate::{trimmed, Problems};
use marketplace_core::{DomainError, PortalConfig};

pub const ACCEPTED: &str = "MpaAccepted";
pub const APPROVED: &str = "MpaApproved";
pub const REJECTED: &str = "MpaRejected";
pub const DETAIL_TYPES: [&str; 3] = [ACCEPTED, APPROVED, REJECTED];

#[derive(Debug, Default, Deserialize)]
struct PersonDetail {
    id: Option<String>,
    name: Option<String>,
    email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct MpaDetail {
    provider_id: Option<String>,
    mpa_version: Option<String>,
    accepted_by: Option<PersonDetail>,
    accepted_at: Option<String>,
    actor: Option<ActorDetail>,
    reason: Option<String>,
}

/// What the team decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject { reason: String },
}

/// A validated MPA event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MpaCommand {
    /// Only a user of the provider itself (role `provider`, same `provider_id`) accepting in their
    /// own name (`accepted_by.id` is the actor) may accept; the receipt goes to them and the contact.
    Accept {
        provider_id: String,
        version: String,
        by: Person,
        at: DateTime<Utc>,
        actor: Actor,
        actor_provider_id: Option<String>,
    },
    Decide {
        provider_id: String,
        version: String,
        actor: Actor,
        decision: Decision,
    },
}

impl MpaCommand {
    pub fn provider_id(&self) -> &str {
        match self {
            MpaCommand::Accept { provider_id, .. } | MpaCommand::Decide { provider_id, .. } => provider_id,
        }
    }

    /// Parses and validates the event, reporting every problem at once.
    pub fn from_event(event: &PortalEvent) -> Result<Self, DomainError> {
        event.expect(&DETAIL_TYPES)?;
        let detail: MpaDetail = event.detail()?;
        let mut p = Problems::new();
        let provider_id = trimmed(detail.provider_id);
        let version = trimmed(detail.mpa_version);
        let actor = detail.actor.unwrap_or_default();
        let actor_provider_id = Some(trimmed(actor.provider_id)).filter(|s| !s.is_empty());
        let actor = Actor { id: trimmed(actor.id), role: trimmed(actor.role) };
        p.line("actor.id", &actor.id, 128);
        p.line("actor.role", &actor.role, 64);
        p.identifier("provider_id", &provider_id, 64);
        p.line("mpa_version", &version, 32);
        if event.detail_type == ACCEPTED {
            let by = detail.accepted_by.unwrap_or_default();
            let by = Person { id: trimmed(by.id), name: trimmed(by.name), email: trimmed(by.email) };
            p.line("accepted_by.id", &by.id, 128);
            p.line("accepted_by.name", &by.name, 200);
            p.email("accepted_by.email", &by.email);
            let at = trimmed(detail.accepted_at);
            let parsed = DateTime::parse_from_rfc3339(&at).map(|t| t.with_timezone(&Utc));
            if parsed.is_err() {
                p.push(format!("accepted_at must be an RFC 3339 timestamp (got {at:?})"));
            }
            let at = parsed.unwrap_or(event.time);
            return p.into_result(MpaCommand::Accept { provider_id, version, by, at, actor, actor_provider_id });
        }
        let decision = if event.detail_type == REJECTED {
            let reason = trimmed(detail.reason);
            p.paragraph("reason", &reason, 2000);
            Decision::Reject { reason }
        } else {
            Decision::Approve
        };
        p.into_result(MpaCommand::Decide { provider_id, version, actor, decision })
    }
}

/// The result of applying a command to the provider's current state.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// Write this provider record (with this audit entry), conditional on the old version.
    Apply(Box<Provider>, AuditEntry),
    /// This very event was applied before (a retry): only the emails may be missing.
    AlreadyApplied,
}

/// The MPA state machine: pure, so every rule is unit-tested without a store.
pub fn transition(
    provider: &Provider,
    command: &MpaCommand,
    event: &PortalEvent,
    config: &PortalConfig,
) -> Result<Transition, DomainError> {
    let current = provider.mpa.as_ref();
    let audit = |action: &str, actor_id: &str, details: serde_json::Value| {
        AuditEntry::state_change(&provider.provider_id, event, action, actor_id, details)
    };
    let mut next = provider.clone();
    next.version = provider.version + 1;
    match command {
        MpaCommand::Accept { version, by, at, actor, actor_provider_id, .. } => {
            let own_user = actor.role == Actor::PROVIDER
                && actor_provider_id.as_deref() == Some(provider.provider_id.as_str())
                && actor.id == by.id;
            if !own_user {
                return Err(DomainError::Forbidden(format!(
                    "only a user of provider {} may accept its MPA in their own name; actor {} (role {:?}, provider {:?}) accepting as {}",
                    provider.provider_id,
                    actor.id,
                    actor.role,
                    actor_provider_id.as_deref().unwrap_or("none"),
                    by.id
                )));
            }
            if current.is_some_and(|m| m.accepted_event == event.id) {
                return Ok(Transition::AlreadyApplied);
            }
            if *version != config.mpa_current_version {
                return Err(DomainError::invalid(format!(
                    "MPA version {version} cannot be accepted: the current version is {}",
                    config.mpa_current_version
                )));
            }
            match current {
                Some(m) if m.version == *version && m.status == MpaStatus::Approved => {
                    return Err(DomainError::Conflict(format!(
                        "provider {}'s MPA version {version} is already approved",
                        provider.provider_id
                    )))
                }
                Some(m) if m.version == *version && m.status == MpaStatus::PendingApproval => {
                    return Err(DomainError::Conflict(format!(
                        "provider {} already accepted MPA version {version} (event {}); it is pending approval",
                        provider.provider_id, m.accepted_event
                    )))
                }
                _ => {}
            }
            next.mpa = Some(MpaRecord {
                version: version.clone(),
                status: MpaStatus::PendingApproval,
                accepted_by: by.clone(),
                accepted_at: *at,
                accepted_event: event.id.clone(),
                decided_by: None,
                decided_at: None,
                decided_event: None,
                rejection_reason: None,
            });
            let details = serde_json::json!({ "mpa_version": version, "accepted_by": by.email, "accepted_at": at });
            Ok(Transition::Apply(Box::new(next), audit(ACCEPTED, &by.id, details)))
        }
        MpaCommand::Decide { version, actor, decision, .. } => {
            if !actor.is_marketplace_team() {
                return Err(DomainError::Forbidden(format!(
                    "only the marketplace team may approve or reject an MPA; actor {} has role {:?}",
                    actor.id, actor.role
                )));
            }
            let Some(mpa) = current else {
                return Err(DomainError::Conflict(format!(
                    "provider {} has not accepted any MPA yet; there is nothing to {}",
                    provider.provider_id,
                    decision.verb()
                )));
            };
            if mpa.decided_event.as_deref() == Some(event.id.as_str()) {
                return Ok(Transition::AlreadyApplied);
            }
            if mpa.version != *version {
                return Err(DomainError::Conflict(format!(
                    "provider {}'s latest MPA acceptance is version {}, not {version}",
                    provider.provider_id, mpa.version
                )));
            }
            if mpa.status != MpaStatus::PendingApproval {
                return Err(DomainError::Conflict(format!(
                    "provider {}'s MPA version {version} is already {:?} (by {}); it cannot be {}",
                    provider.provider_id,
                    mpa.status,
                    mpa.decided_by.as_deref().unwrap_or("?"),
                    decision.past()
                )));
            }
            let mut decided = mpa.clone();
            decided.decided_by = Some(actor.id.clone());
            decided.decided_at = Some(event.time);
            decided.decided_event = Some(event.id.clone());
            let (action, details) = match decision {
                Decision::Approve => {
                    decided.status = MpaStatus::Approved;
                    (APPROVED, serde_json::json!({ "mpa_version": version }))
                }
                Decision::Reject { reason } => {
                    decided.status = MpaStatus::Rejected;
                    decided.rejection_reason = Some(reason.clone());
                    (REJECTED, serde_json::json!({ "mpa_version": version, "reason": reason }))
                }
            };
            next.mpa = Some(decided);
            Ok(Transition::Apply(Box::new(next), audit(action, &actor.id, details)))
        }
    }
}

impl Decision {
    fn verb(&self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject { .. } => "reject",
        }
    }

    fn past(&self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Reject { .. } => "rejected",
        }
    }
}

/// What an MPA event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpaOutcome {
    Applied,
    /// A redelivery of an event applied before: only missing emails were sent.
    AlreadyApplied,
}

/// Handles one MPA event: validate, apply the transition with a conditional write, email.
pub async fn handle_mpa_event(event: &PortalEvent, services: &Services<'_>) -> Result<MpaOutcome, DomainError> {
    let command = MpaCommand::from_event(event)?;
    let provider_id = command.provider_id();
    // A lost race re-reads: the state then shows the winner's decision (a conflict) or, when the
    // winner was this very event in another invocation, that it was already applied.
    let (provider, outcome) = retry_lost_races("MPA transition", || async {
        let provider = services.store.get_provider(provider_id).await?.ok_or_else(|| {
            DomainError::NotFound(format!(
                "provider {provider_id} does not exist (no portal account has been created for it yet)"
            ))
        })?;
        match transition(&provider, &command, event, services.config)? {
            Transition::AlreadyApplied => Ok(Attempt::Done((provider, MpaOutcome::AlreadyApplied))),
            Transition::Apply(next, audit) => {
                let email_kinds = kinds(&emails_for(&next, &command, services.config));
                let precondition = Precondition::Version(provider.version);
                let write = services.store.put_provider(&next, precondition, &audit, &email_kinds).await;
                Attempt::after(write, (*next, MpaOutcome::Applied))
            }
        }
    })
    .await?;
    let actor_id = match &command {
        MpaCommand::Accept { by, .. } => &by.id,
        MpaCommand::Decide { actor, .. } => &actor.id,
    };
    let emails = emails_for(&provider, &command, services.config);
    send_once(services, event, &provider.provider_id, actor_id, emails, outcome == MpaOutcome::Applied).await?;
    Ok(outcome)
}

/// The emails one MPA event causes, by ledger kind.
///
/// The receipt and the decision go to the provider's contact and to the user who accepted (their
/// address is stored with the acceptance, [`MpaRecord::accepted_by`]) as one email with both in
/// `To:` (one address when they are the same person): one outbox intent covers both, so each
/// address gets it exactly once, at no extra round trip.
pub fn emails_for(provider: &Provider, command: &MpaCommand, config: &PortalConfig) -> Vec<(&'static str, Email)> {
    let acceptor = match command {
        MpaCommand::Accept { by, .. } => Some(by),
        MpaCommand::Decide { .. } => provider.mpa.as_ref().map(|m| &m.accepted_by),
    };
    let (provider_to, greeting) = recipients(provider, acceptor);
    let agreement = |version: &str| format!("The Marketplace Provider Agreement, version {version}");
    match command {
        MpaCommand::Accept { version, by, at, .. } => {
            let receipt = Message::new(greeting)
                .paragraph(format!(
                    "{} accepted version {version} of the Marketplace Provider Agreement for {} on {}.",
                    by.name,
                    provider.company_name,
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ))
                .paragraph("The marketplace team will review the acceptance. We will email you when it is approved; until then no product can be published.")
                .link(agreement(version), config.mpa_url.clone())
                .link("Provider Portal", config.portal_url.clone());
            let review = Message::new("Hello marketplace team,")
                .paragraph(format!(
                    "{} ({}) accepted the Marketplace Provider Agreement and is waiting for your review.",
                    provider.company_name, provider.provider_id
                ))
                .table(
                    vec!["Provider".into(), "MPA version".into(), "Accepted by".into(), "Accepted at".into()],
                    vec![vec![
                        provider.provider_id.clone(),
                        version.clone(),
                        format!("{} <{}>", by.name, by.email),
                        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    ]],
                )
                .paragraph("Approve or reject it in the Provider Portal.")
                .link(agreement(version), config.mpa_url.clone())
                .link("Provider Portal", config.portal_url.clone());
            vec![
                (
                    "mpa-receipt",
                    compose(
                        config,
                        provider_to,
                        &format!("MPA version {version} accepted: {}", provider.company_name),
                        &receipt,
                    ),
                ),
                (
                    "mpa-review-request",
                    compose(
                        config,
                        vec![config.team_inbox.clone()],
                        &format!(
                            "Review MPA acceptance: {} ({}), version {version}",
                            provider.company_name, provider.provider_id
                        ),
                        &review,
                    ),
                ),
            ]
        }
        MpaCommand::Decide { version, decision: Decision::Approve, .. } => {
            let message = Message::new(greeting)
                .paragraph(format!(
                    "The marketplace team approved {}'s acceptance of the Marketplace Provider Agreement, version {version}.",
                    provider.company_name
                ))
                .paragraph("You can now publish products in the Provider Portal.")
                .link(agreement(version), config.mpa_url.clone())
                .link("Provider Portal", config.portal_url.clone())
                .link("Getting-started guide", config.guide_url.clone());
            vec![(
                "mpa-approved",
                compose(
                    config,
                    provider_to,
                    &format!("MPA approved: {} can now publish products", provider.company_name),
                    &message,
                ),
            )]
        }
        MpaCommand::Decide { version, decision: Decision::Reject { reason }, .. } => {
            let message = Message::new(greeting)
                .paragraph(format!(
                    "The marketplace team did not approve {}'s acceptance of the Marketplace Provider Agreement, version {version}. The reason given:",
                    provider.company_name
                ))
                .quote(reason.clone())
                .paragraph(format!(
                    "Please address it and accept the agreement again in the Provider Portal; a new acceptance starts a new review. Questions? Contact {}.",
                    config.team_inbox
                ))
                .link(agreement(version), config.mpa_url.clone())
                .link("Provider Portal", config.portal_url.clone());
            vec![(
                "mpa-rejected",
                compose(config, provider_to, &format!("MPA not approved: {}", provider.company_name), &message),
            )]
        }
    }
}

/// The provider's contact and the accepting user (once, when they are the same address), and a
/// greeting naming both.
fn recipients(provider: &Provider, acceptor: Option<&Person>) -> (Vec<String>, String) {
    let mut to = vec![provider.contact_email.clone()];
    let mut greeting = format!("Hello {},", provider.contact_name);
    if let Some(by) = acceptor.filter(|by| !by.email.eq_ignore_ascii_case(&provider.contact_email)) {
        to.push(by.email.clone());
        if by.name != provider.contact_name {
            greeting = format!("Hello {} and {},", provider.contact_name, by.name);
        }
    }
    (to, greeting)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(matches!(
            apply(&provider(None), &decide("d1", true, "marketplace-team")),
            Err(DomainError::Conflict(_))
        ));
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
}

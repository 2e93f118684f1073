//! The MPA rules: an event validated into a command, the state machine that applies it to the
//! provider ([`transition`], pure) and the operation that writes the change and sends its emails.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::emails::emails_for;
use super::model::{Decision, MpaCommand, MpaOutcome, ACCEPTED, APPROVED, DETAIL_TYPES, REJECTED};
use crate::event::{Actor, PortalEvent};
use crate::fields;
use crate::outbox::{kinds, send_once};
use crate::ports::{AuditEntry, Precondition, Services};
use crate::race::{retry_lost_races, Attempt};
use crate::signup::ActorDetail;
use marketplace_core::agreement::MpaVersions;
use marketplace_core::provider::{MpaRecord, MpaStatus, Person, Provider};
use marketplace_core::validate::{trimmed, Problems};
use marketplace_core::{DomainError, PortalConfig};

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

impl MpaCommand {
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
        p.check("actor.id", &actor.id, fields::ACTOR_ID);
        p.check("actor.role", &actor.role, fields::ACTOR_ROLE);
        p.check("provider_id", &provider_id, fields::PROVIDER_ID);
        p.check("mpa_version", &version, fields::MPA_VERSION);
        if event.detail_type == ACCEPTED {
            let by = detail.accepted_by.unwrap_or_default();
            let by = Person { id: trimmed(by.id), name: trimmed(by.name), email: trimmed(by.email) };
            p.check("accepted_by.id", &by.id, fields::PERSON_ID);
            p.check("accepted_by.name", &by.name, fields::PERSON_NAME);
            p.check("accepted_by.email", &by.email, fields::EMAIL);
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
            p.check("reason", &reason, fields::REJECTION_REASON);
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
                still_approved: current.and_then(|m| match m.status {
                    MpaStatus::Approved => Some(m.version.clone()),
                    _ => m.still_approved.clone(),
                }),
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

/// Handles one MPA event: validate, apply the transition with a conditional write, email.
pub async fn handle_mpa_event(event: &PortalEvent, services: &Services<'_>) -> Result<MpaOutcome, DomainError> {
    let command = MpaCommand::from_event(event)?;
    let provider_id = command.provider_id();
    // One read: the provider and the MPA's versions. The version to accept (and the text the
    // emails link) is the latest published one.
    let (first_read, stored_versions) = services.store.get_provider_and_mpa_versions(provider_id).await?;
    let config = MpaVersions::or_config(stored_versions, services.config).applied_to(services.config);
    let services = &Services { config: &config, ..*services };
    let first_read = std::sync::Mutex::new(Some(first_read));
    // A lost race re-reads: the state then shows the winner's decision (a conflict) or, when the
    // winner was this very event in another invocation, that it was already applied.
    let (provider, outcome) = retry_lost_races("MPA transition", || async {
        // The first attempt uses the provider read with the versions; a lost race reads it again.
        let taken = first_read.lock().ok().and_then(|mut first| first.take());
        let provider = match taken {
            Some(provider) => provider,
            None => services.store.get_provider(provider_id).await?,
        };
        let provider = provider.ok_or_else(|| {
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
    send_once(services, event, &provider, actor_id, emails, outcome == MpaOutcome::Applied).await?;
    Ok(outcome)
}

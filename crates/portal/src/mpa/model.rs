//! What the MPA rules work on: the portal events that drive the agreement, the validated command
//! each becomes, and what handling one did. The agreement's own record (version, status, who
//! accepted and who decided) is the provider's, in `marketplace_core::provider`.

use chrono::{DateTime, Utc};

use crate::event::Actor;
use marketplace_core::provider::Person;

pub const ACCEPTED: &str = "MpaAccepted";
pub const APPROVED: &str = "MpaApproved";
pub const REJECTED: &str = "MpaRejected";
pub const DETAIL_TYPES: [&str; 3] = [ACCEPTED, APPROVED, REJECTED];
/// The marketplace team published a new version of the agreement ([`super::versions`]).
pub const VERSION_PUBLISHED: &str = "MpaVersionPublished";

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
}

/// What an MPA event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MpaOutcome {
    Applied,
    /// A redelivery of an event applied before: only missing emails were sent.
    AlreadyApplied,
}

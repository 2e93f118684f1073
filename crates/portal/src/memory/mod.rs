//! The portal's ports in memory: the reference implementation, for fast tests of every rule that
//! goes through a store (no emulator, no network).
//!
//! They keep the conditional-write semantics of the DynamoDB implementations in `marketplace-aws`
//! (`provider_store.rs`, `idempotency.rs`), so that a test that passes here proves the rule, not
//! the double:
//!
//! - **State changes.** A provider or product write is one transaction with its audit entry and
//!   the intents of its emails. [`Precondition::Absent`](crate::ports::Precondition::Absent) needs the record missing,
//!   [`Precondition::Version`](crate::ports::Precondition::Version) needs it present with exactly that version, and the audit entry must
//!   not exist yet; intents are written pending, unconditionally. A failed condition anywhere
//!   writes nothing and is [`WriteError::PreconditionFailed`](crate::ports::WriteError::PreconditionFailed).
//! - **The email outbox.** An intent is recorded unless one exists, which tells what was found
//!   ([`IntentState`](crate::ports::IntentState)). A settle marks the intents sent, writes their audit entries and completes
//!   the event's claim in one step; when one of the audit entries exists already (an earlier
//!   invocation settled these emails), it writes nothing and only completes the claim.
//! - **Claims.** A claim is taken when no record exists or the existing one has expired, in whole
//!   seconds rounded up as DynamoDB's `expires_at` keeps them: an in-progress claim at its lease's
//!   end, a completed or rejected record after [`RECORD_RETENTION`](crate::idempotency::RECORD_RETENTION). `complete` marks a record
//!   completed (creating it if needed), `reject` replaces it, `release` drops only an in-progress one.
//!
//! [`Faults`] counts every call and makes a chosen one fail, never return (the process dies there)
//! or wait for a gate (so that a test interleaves another delivery): crash and race tests.

mod claims;
mod faults;
mod mailer;
mod store;

pub use claims::{ClaimRecord, ClaimStatus, MemoryClaims};
pub use faults::{Call, Fault, Faults};
pub use mailer::MemoryMailer;
pub use store::{EmailIntent, MemoryStore};

use crate::metrics::Counters;
use crate::ports::Services;
use marketplace_core::PortalConfig;

/// A portal function's whole outside world in memory, wired as `marketplace_aws::PortalApp` wires
/// the real one (the store completes claims when it settles emails); its ports share one [`Faults`].
#[derive(Debug)]
pub struct MemoryPortal {
    pub store: MemoryStore,
    pub claims: MemoryClaims,
    pub mailer: MemoryMailer,
    pub config: PortalConfig,
    /// What every operation run with [`MemoryPortal::services`] counted.
    pub counters: Counters,
    pub faults: Faults,
}

impl MemoryPortal {
    pub fn new(config: PortalConfig) -> Self {
        let faults = Faults::default();
        let claims = MemoryClaims::default().with_faults(faults.clone());
        MemoryPortal {
            store: MemoryStore::default().with_claims(claims.clone()).with_faults(faults.clone()),
            claims,
            mailer: MemoryMailer::default().with_faults(faults.clone()),
            config,
            counters: Counters::default(),
            faults,
        }
    }

    /// What a domain operation may touch, without a claim (the caller adds the event's).
    pub fn services(&self) -> Services<'_> {
        Services {
            store: &self.store,
            ledger: &self.store,
            mailer: &self.mailer,
            config: &self.config,
            counters: &self.counters,
            claim: None,
        }
    }
}

impl Default for MemoryPortal {
    /// The in-memory world with [`PortalConfig::example`].
    fn default() -> Self {
        MemoryPortal::new(PortalConfig::example())
    }
}

#[cfg(test)]
mod tests;

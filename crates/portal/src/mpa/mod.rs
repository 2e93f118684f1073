//! The Marketplace Provider Agreement (MPA): the provider accepts a version, the marketplace team
//! approves or rejects it. No product can be published until the current version is approved.
//!
//! ```text
//!   (none) ──accept──▶ PendingApproval ──approve──▶ Approved
//!                          │    ▲                     │
//!                       reject  └──────accept─────────┤ (when a new version is published)
//!                          ▼                          │
//!                      Rejected ──accept──▶ PendingApproval
//! ```
//!
//! Every transition is one conditional write on the provider record (its `version`), together with
//! its audit entry: of two team members deciding at the same moment exactly one wins; the other
//! re-reads, finds the MPA already decided, and fails with a conflict (logged, no email).
//!
//! The version to accept is the latest one published ([`versions`]: `MpaVersionPublished`, the
//! list in `marketplace_core::agreement`; before any is published, `MPA_CURRENT_VERSION`).
//!
//! The module is laid out by role: [`model`] (the events, the command and the outcome),
//! [`rules`] (validation, the state machine and [`handle_mpa_event`]) and [`emails`] (what each
//! transition sends). Their public items are re-exported here.

pub mod emails;
pub mod model;
pub mod rules;
pub mod versions;

pub use emails::emails_for;
pub use model::{Decision, MpaCommand, MpaOutcome, ACCEPTED, APPROVED, DETAIL_TYPES, REJECTED, VERSION_PUBLISHED};
pub use rules::{handle_mpa_event, transition, Transition};
pub use versions::{decide_version, publish_version, NewVersion, VersionDecision};

#[cfg(test)]
mod tests;

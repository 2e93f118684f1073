//! Products and publishing: a provider asks to publish a product (`ProductPublishRequested`); the
//! product is published when the provider's MPA is approved on the current version and the listing
//! is complete and valid, otherwise it is refused with **every** reason at once.
//!
//! Authorisation is checked before anything else and refuses without writing or emailing: only the
//! provider's own users (role `provider`, matching `provider_id`) or the marketplace team may ask.
//! A refused new product is stored as `Draft` with its reasons; a refused *update* of a published
//! product leaves the published listing live and records the reasons. Publishing an unchanged
//! listing again is a no-op, and so is repeating a refused request (a portal retry under a new
//! event id) that would be refused again for the same reasons: no write, no audit entry, no
//! second refusal email. A changed request, or the same one whose reasons changed since (the MPA
//! approved), is judged afresh.
//!
//! Requests apply in the order the portal made them: a request older (by its event `time`) than
//! the one the product last applied is stale and changes nothing, so a redelivered or delayed old
//! request never overwrites a newer listing. Requests made within the same instant apply in
//! arrival order.
//!
//! Whatever a refused request holds fits one DynamoDB item: the raw request is kept as JSON text
//! cut to [`MAX_REQUEST_BYTES`], reasons are cut to [`MAX_REASON_CHARS`] each and
//! [`MAX_REASONS`] in all (numbers out of DynamoDB's range and deep nesting cannot occur in text).
//!
//! A published product can be withdrawn (`ProductWithdrawn`, [`withdrawal`]): it leaves the
//! storefront, keeps its listing, and is published again by a later publish request; a refused
//! request to publish it again leaves it withdrawn.
//!
//! The module is laid out by role: [`model`] (the product record, its listing and statuses),
//! [`rules`] (validation, the publish decision and [`handle_publish_request`]), [`withdrawal`]
//! (the withdrawal and [`handle_withdrawal`]) and [`emails`] (what each outcome sends). Their
//! public items are re-exported here.

mod apply;
pub mod emails;
pub mod model;
pub mod rules;
pub mod withdrawal;

pub use emails::{emails_for, percent, withdrawal_emails};
pub use model::{
    Listing, Plan, Product, ProductStatus, PublishOutcome, Withdrawal, DETAIL_TYPE, MAX_REASONS, MAX_REASON_CHARS,
    MAX_REQUEST_BYTES, WITHDRAWN,
};
pub use rules::{
    decide, handle_publish_request, mpa_refusal, validate_listing, Decision, PublishRequest, MAX_PLANS,
    MAX_PRICE_DECIMALS,
};

pub use withdrawal::{decide_withdrawal, handle_withdrawal, WithdrawalDecision, WithdrawalRequest};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod withdrawal_tests;

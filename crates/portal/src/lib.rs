//! # marketplace-portal
//!
//! The Provider Portal's rules live here: a provider's sign-up ([`signup`]), the Marketplace
//! Provider Agreement (MPA) state machine ([`mpa`]), products, listing validation and publishing
//! ([`product`]), and the exactly-once core every portal event goes through: the idempotency
//! claim ([`idempotency`]), the email outbox ([`outbox`]) and lost-race retries ([`race`]). What
//! the report engine shares with it (money, the email builder, configuration, errors, the provider
//! record) is `marketplace-core`. The crate has no AWS types in its public API: the outside world
//! is reached through the small traits in [`ports`] (`ProviderStore`, `EmailLedger`,
//! `idempotency::IdempotencyStore`, and core's `Mailer`), whose DynamoDB and SES implementations
//! live in `marketplace-aws`; their in-memory twins, which keep the same conditional-write
//! semantics, are in [`memory`] for fast tests.
//!
//! ## DynamoDB table design
//!
//! `Marketplace` (single table, keys `pk` / `sk`, both strings):
//!
//! | item            | `pk`                | `sk`                                   | notes |
//! |-----------------|---------------------|----------------------------------------|-------|
//! | provider        | `PROVIDER#<id>`     | `PROFILE`                              | sign-up data, `status`, MPA state, `version` |
//! | product         | `PROVIDER#<id>`     | `PRODUCT#<product_id>`                 | status, listing, reasons, `version` |
//! | audit entry     | `PROVIDER#<id>`     | `AUDIT#<event time>#<event id>#<step>` | append-only trail; the key is derived from the event so a redelivery cannot add a second entry |
//! | email outbox    | `PROVIDER#<id>`     | `EMAIL#<event id>#<email kind>`        | intent written with the state change, before SES is called; settled (`SENT`, message id) after; see [`outbox`] |
//!
//! `Idempotency` (key `id` = `<function>#<event id>`): Powertools-style in-progress / completed
//! records with an `expires_at` TTL attribute (and `REJECTED` records of events that can never
//! succeed, with their reason), see [`idempotency`].
//!
//! A provider's items share one partition, so one `Query` on `PROVIDER#<id>` gives the portal the
//! profile, products and audit trail together. State changes are single conditional writes or one
//! `TransactWriteItems` (state + audit entry + the intents of the emails it causes), so nothing
//! is ever half-written.

pub mod contact;
pub mod event;
pub mod feedback;
pub mod fields;
pub mod idempotency;
pub mod memory;
pub mod metrics;
pub mod mpa;
pub mod offboarding;
pub mod outbox;
pub mod ports;
pub mod product;
pub mod race;
pub mod signup;

//! # marketplace-core
//!
//! What both domains of the marketplace backend share: money ([`money`]), the email builder
//! ([`email`]), the configuration every function reads ([`config`]), the error type ([`error`]),
//! field validation ([`validate`]), the provider record ([`provider`]), the MPA's versions
//! ([`agreement`]), billing models
//! ([`billing`]) and the two ports both domains call ([`ports`]: reading a provider, sending an
//! email). No AWS types: the adapters live in `marketplace-aws`.
//!
//! The portal's rules (sign-up, MPA, publishing, the outbox) are `marketplace-portal`; the report
//! engine (log contract, aggregation, files, statements, delivery) is `marketplace-reports`.

pub mod agreement;
pub mod billing;
pub mod config;
pub mod email;
pub mod error;
pub mod money;
pub mod ports;
pub mod provider;
pub mod validate;

pub use config::PortalConfig;
pub use error::DomainError;

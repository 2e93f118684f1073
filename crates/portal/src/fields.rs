//! Every text field a portal event carries and its rule, in one place: the validators check these
//! values (`signup`, `mpa::rules`, `product::rules`) and the published event schemas
//! (`crates/contract`, `contract/events/`) state the same values, so changing a limit here
//! changes the contract and the drift check asks for the schemas to be regenerated.

use marketplace_core::validate::TextRule::{self, Email, Identifier, Line, Paragraph};

/// `provider_id` of every event.
pub const PROVIDER_ID: TextRule = Identifier { max: 64 };
/// `actor.id` of every event.
pub const ACTOR_ID: TextRule = Line { max: 128 };
/// `actor.role` of the MPA and publishing events (sign-up needs the marketplace team's role).
pub const ACTOR_ROLE: TextRule = Line { max: 64 };
/// A person's name (a representative, who accepted an MPA).
pub const PERSON_NAME: TextRule = Line { max: 200 };
/// A person's id (who accepted an MPA).
pub const PERSON_ID: TextRule = Line { max: 128 };
/// Any email address.
pub const EMAIL: TextRule = Email;

/// `ProviderAccountCreated`: `account_alias` (the cloud account alias).
pub const ACCOUNT_ALIAS: TextRule = Line { max: 63 };
/// `ProviderAccountCreated`: `company_name`.
pub const COMPANY_NAME: TextRule = Line { max: 200 };
/// `ProviderAccountCreated`: `contact_name`.
pub const CONTACT_NAME: TextRule = Line { max: 200 };

/// The MPA events: `mpa_version`.
pub const MPA_VERSION: TextRule = Line { max: 32 };
/// `MpaRejected`: `reason`.
pub const REJECTION_REASON: TextRule = Paragraph { max: 2000 };

/// `ProductPublishRequested`: `product_id`.
pub const PRODUCT_ID: TextRule = Identifier { max: 64 };
/// `ProductWithdrawn`: `reason` (quoted to the provider and the team).
pub const WITHDRAWAL_REASON: TextRule = Paragraph { max: 2000 };
/// `ProviderOffboarded`: `reason` (kept on the provider record, quoted to the team).
pub const OFFBOARDING_REASON: TextRule = Paragraph { max: 2000 };
/// The listing's `name`.
pub const LISTING_NAME: TextRule = Line { max: 100 };
/// The listing's `summary`.
pub const LISTING_SUMMARY: TextRule = Line { max: 300 };
/// The listing's `description`.
pub const LISTING_DESCRIPTION: TextRule = Paragraph { max: 10_000 };
/// The listing's `category`.
pub const LISTING_CATEGORY: TextRule = Line { max: 64 };
/// The listing's `blueprint_id`.
pub const BLUEPRINT_ID: TextRule = Identifier { max: 128 };
/// A price plan's `unit`.
pub const PLAN_UNIT: TextRule = Line { max: 32 };

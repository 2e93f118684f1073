//! Deliveries not sent because the recipient's address is undeliverable (recorded
//! `SUPPRESSED` in the ledger: [`super::DeliveryLedger::record_suppressed`]).

use marketplace_core::provider::Provider;

/// Why email to `provider` must not be sent: its contact address is undeliverable (SES reported a
/// permanent bounce or a complaint; `email-feedback`). Names the role and the reason, never the
/// address (it is logged).
pub fn suppressed_because(provider: &Provider) -> Option<String> {
    provider.undeliverable(&provider.contact_email).map(|u| {
        format!(
            "the contact address is undeliverable: {:?} ({}) reported by SES at {}",
            u.reason,
            u.detail,
            u.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    })
}

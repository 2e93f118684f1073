//! The operator's re-send: which deliveries go out again although the ledger has them.

use crate::storage::Recipient;

/// Which deliveries to send again even though the ledger has them (operator's re-send).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Resend {
    /// None: the ledger decides (the nightly default).
    #[default]
    Nothing,
    /// Every provider and the team.
    All,
    /// These providers only.
    Providers(std::collections::BTreeSet<String>),
}

impl Resend {
    /// Whether the delivery to `to` is sent again.
    pub fn covers(&self, to: &Recipient) -> bool {
        match (self, to) {
            (Resend::Nothing, _) => false,
            (Resend::All, _) => true,
            (Resend::Providers(ids), Recipient::Provider(id)) => ids.contains(id),
            (Resend::Providers(_), Recipient::Team) => false,
        }
    }
}

impl From<bool> for Resend {
    fn from(all: bool) -> Self {
        if all {
            Resend::All
        } else {
            Resend::Nothing
        }
    }
}

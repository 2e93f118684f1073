//! Portal events as the domain sees them: the EventBridge envelope fields that matter (id, type,
//! time) and a typed `detail`, independent of how they were delivered.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use marketplace_core::DomainError;

/// The EventBridge `source` every portal event carries.
pub const PORTAL_SOURCE: &str = "marketplace.portal";

/// One portal event, unwrapped from its SQS message and EventBridge envelope.
#[derive(Debug, Clone)]
pub struct PortalEvent {
    /// EventBridge event id: the idempotency key.
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub time: DateTime<Utc>,
    pub detail: serde_json::Value,
}

impl PortalEvent {
    /// Parses the event's `detail` into `T`, turning serde's message into a clear validation error.
    pub fn detail<T: DeserializeOwned>(&self) -> Result<T, DomainError> {
        serde_json::from_value(self.detail.clone())
            .map_err(|e| DomainError::invalid(format!("{} detail is malformed: {e}", self.detail_type)))
    }

    /// Refuses events that are not from the portal or not of the expected type.
    pub fn expect(&self, detail_types: &[&str]) -> Result<(), DomainError> {
        if self.source != PORTAL_SOURCE {
            return Err(DomainError::invalid(format!("event source is {:?}, expected {PORTAL_SOURCE:?}", self.source)));
        }
        if !detail_types.contains(&self.detail_type.as_str()) {
            return Err(DomainError::invalid(format!(
                "detail-type {:?} is not handled here (expected one of {detail_types:?})",
                self.detail_type
            )));
        }
        Ok(())
    }

    /// A digest of what the event asks for, so a reused event id with a different payload is caught.
    pub fn payload_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.detail_type.as_bytes());
        hasher.update([0]);
        hasher.update(self.detail.to_string().as_bytes());
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Who did something in the portal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub role: String,
}

impl Actor {
    pub const MARKETPLACE_TEAM: &'static str = "marketplace-team";
    pub const PROVIDER: &'static str = "provider";

    pub fn is_marketplace_team(&self) -> bool {
        self.role == Self::MARKETPLACE_TEAM
    }
}

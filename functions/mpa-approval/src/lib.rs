//! MPA approval: consumes `MpaAccepted`, `MpaApproved` and `MpaRejected` portal events from SQS
//! and applies them to the provider's MPA (`marketplace_portal::mpa`).

use marketplace_aws::PortalOperation;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::ports::Services;

/// The function's operation on one event; `main` runs it in the shared portal loop.
pub struct MpaApproval;

impl PortalOperation for MpaApproval {
    const FUNCTION: &'static str = "mpa-approval";

    async fn run(&self, event: &PortalEvent, services: Services<'_>) -> Result<String, DomainError> {
        marketplace_portal::mpa::handle_mpa_event(event, &services)
            .await
            .map(|outcome| format!("{} {outcome:?}", event.detail_type))
    }
}

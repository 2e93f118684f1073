//! MPA approval: consumes `MpaAccepted`, `MpaApproved` and `MpaRejected` portal events from SQS
//! and applies them to the provider's MPA (`marketplace_portal::mpa`), and `MpaVersionPublished`,
//! which adds a version of the agreement (`marketplace_portal::mpa::versions`).

use marketplace_aws::PortalOperation;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::mpa;
use marketplace_portal::ports::Services;

/// The function's operation on one event; `main` runs it in the shared portal loop.
pub struct MpaApproval;

impl PortalOperation for MpaApproval {
    const FUNCTION: &'static str = "mpa-approval";

    async fn run(&self, event: &PortalEvent, services: Services<'_>) -> Result<String, DomainError> {
        if event.detail_type == mpa::VERSION_PUBLISHED {
            return mpa::publish_version(event, &services).await;
        }
        mpa::handle_mpa_event(event, &services).await.map(|outcome| format!("{} {outcome:?}", event.detail_type))
    }
}

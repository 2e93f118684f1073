//! Sign-up notification: consumes `ProviderAccountCreated` portal events from SQS, records the provider
//! and sends the welcome email (`marketplace_portal::signup`).

use marketplace_aws::PortalOperation;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::ports::Services;

/// The function's operation on one event; `main` runs it in the shared portal loop.
pub struct SignupNotification;

impl PortalOperation for SignupNotification {
    const FUNCTION: &'static str = "signup-notification";

    async fn run(&self, event: &PortalEvent, services: Services<'_>) -> Result<String, DomainError> {
        marketplace_portal::signup::notify_signup(event, &services).await.map(|o| format!("{o:?}"))
    }
}

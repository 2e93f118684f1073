//! Sign-up notification, the provider account's function: consumes `ProviderAccountCreated`
//! portal events from SQS, records the provider and sends the welcome email
//! (`marketplace_portal::signup`), and `ProviderContactChanged` (`marketplace_portal::contact`).

use marketplace_aws::PortalOperation;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::ports::Services;
use marketplace_portal::{contact, signup};

/// The function's operation on one event; `main` runs it in the shared portal loop.
pub struct SignupNotification;

impl PortalOperation for SignupNotification {
    const FUNCTION: &'static str = "signup-notification";

    async fn run(&self, event: &PortalEvent, services: Services<'_>) -> Result<String, DomainError> {
        match event.detail_type.as_str() {
            contact::DETAIL_TYPE => contact::change_contact(event, &services).await,
            marketplace_portal::offboarding::DETAIL_TYPE => {
                marketplace_portal::offboarding::offboard_provider(event, &services).await
            }
            _ => signup::notify_signup(event, &services).await.map(|o| format!("{o:?}")),
        }
    }
}

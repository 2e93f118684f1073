//! Product publishing: consumes `ProductPublishRequested` portal events from SQS, publishes or refuses
//! the product with every reason, and `ProductWithdrawn` events, which take a published product
//! off the storefront (`marketplace_portal::product`).

use marketplace_aws::PortalOperation;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::ports::Services;
use marketplace_portal::product;

/// The function's operation on one event; `main` runs it in the shared portal loop.
pub struct ProductPublishing;

impl PortalOperation for ProductPublishing {
    const FUNCTION: &'static str = "product-publishing";

    async fn run(&self, event: &PortalEvent, services: Services<'_>) -> Result<String, DomainError> {
        match event.detail_type.as_str() {
            product::WITHDRAWN => product::handle_withdrawal(event, &services).await,
            // Any other type is refused there, by name.
            _ => product::handle_publish_request(event, &services).await,
        }
    }
}

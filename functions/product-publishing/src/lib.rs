//! Product publishing: consumes `ProductPublishRequested` portal events from SQS, publishes or refuses
//! the product with every reason (`marketplace_portal::product`).

use std::future::Future;
use std::pin::Pin;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use marketplace_aws::PortalApp;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::ports::Services;

pub const FUNCTION: &str = "product-publishing";

/// The domain operation for one event.
pub fn operation<'a>(
    event: &'a PortalEvent,
    services: Services<'a>,
) -> Pin<Box<dyn Future<Output = Result<String, DomainError>> + Send + 'a>> {
    Box::pin(async move { marketplace_portal::product::handle_publish_request(event, &services).await })
}

pub async fn handle(app: &PortalApp, batch: SqsEvent) -> SqsBatchResponse {
    app.handle(FUNCTION, batch, operation).await
}

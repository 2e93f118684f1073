//! Sign-up notification: consumes `ProviderAccountCreated` portal events from SQS, records the provider
//! and sends the welcome email (`marketplace_portal::signup`).

use std::future::Future;
use std::pin::Pin;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use marketplace_aws::PortalApp;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::ports::Services;

pub const FUNCTION: &str = "signup-notification";

/// The domain operation for one event.
pub fn operation<'a>(
    event: &'a PortalEvent,
    services: Services<'a>,
) -> Pin<Box<dyn Future<Output = Result<String, DomainError>> + Send + 'a>> {
    Box::pin(async move { marketplace_portal::signup::notify_signup(event, &services).await.map(|o| format!("{o:?}")) })
}

pub async fn handle(app: &PortalApp, batch: SqsEvent) -> SqsBatchResponse {
    app.handle(FUNCTION, batch, operation).await
}

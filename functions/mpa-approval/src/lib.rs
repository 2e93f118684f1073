//! MPA approval: consumes `MpaAccepted`, `MpaApproved` and `MpaRejected` portal events from SQS
//! and applies them to the provider's MPA (`marketplace_portal::mpa`).

use std::future::Future;
use std::pin::Pin;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use marketplace_aws::PortalApp;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::ports::Services;

pub const FUNCTION: &str = "mpa-approval";

/// The domain operation for one event.
pub fn operation<'a>(
    event: &'a PortalEvent,
    services: Services<'a>,
) -> Pin<Box<dyn Future<Output = Result<String, DomainError>> + Send + 'a>> {
    Box::pin(async move {
        marketplace_portal::mpa::handle_mpa_event(event, &services)
            .await
            .map(|outcome| format!("{} {outcome:?}", event.detail_type))
    })
}

pub async fn handle(app: &PortalApp, batch: SqsEvent) -> SqsBatchResponse {
    app.handle(FUNCTION, batch, operation).await
}

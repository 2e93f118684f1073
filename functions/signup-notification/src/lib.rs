//! Sign-up notification: consumes `ProviderAccountCreated` portal events from SQS, records the
//! provider and sends the welcome email (`marketplace_domain::signup`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use marketplace_aws::{process_portal_batch, PortalApp};
use marketplace_domain::signup::notify_signup;

pub const FUNCTION: &str = "signup-notification";

pub async fn handle(app: &PortalApp, batch: SqsEvent) -> SqsBatchResponse {
    process_portal_batch(FUNCTION, batch, &app.idempotency, app.services(), |event, services| {
        Box::pin(async move { notify_signup(event, &services).await.map(|o| format!("{o:?}")) })
    })
    .await
}

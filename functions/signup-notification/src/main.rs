use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use marketplace_aws::PortalApp;

#[tokio::main]
async fn main() -> Result<(), Error> {
    marketplace_aws::telemetry::init();
    let app = PortalApp::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(signup_notification::handle(app, event.payload).await)
    }))
    .await
}

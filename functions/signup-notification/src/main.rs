#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    marketplace_aws::run_portal_function(signup_notification::SignupNotification).await
}

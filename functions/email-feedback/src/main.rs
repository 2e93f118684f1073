#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    email_feedback::run().await
}

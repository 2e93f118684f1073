#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    late_logs::run().await
}

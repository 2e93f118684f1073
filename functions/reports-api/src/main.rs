#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    marketplace_aws::telemetry::init();
    let reader = reports_api::AwsReportReader::from_env().await?;
    let reader = &reader;
    lambda_http::run(lambda_http::service_fn(move |request: lambda_http::Request| async move {
        let today = chrono::Utc::now().date_naive();
        Ok::<_, std::convert::Infallible>(reports_api::handle(reader, today, &request).await)
    }))
    .await
}

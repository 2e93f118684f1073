#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    marketplace_aws::run_portal_function(mpa_approval::MpaApproval).await
}

//! What the reports API reads ([`ReportReader`]) and its SDK implementation ([`AwsReportReader`]):
//! whether a provider exists (its profile in the `Marketplace` table), pages of `Reports` items
//! ([`crate::reports_table::pages`]), stored statements, and a day's report files with presigned
//! download URLs ([`crate::report_files`]).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use chrono::NaiveDate;
use marketplace_reports::statement::Month;
use marketplace_reports::storage::StatementItem;

use crate::provider_store::{provider_pk, PROFILE};
use crate::report_files::{FileLink, ReportFileStore};
use crate::reports_table::{ItemPage, PageQuery, ReportsTable};
use crate::sdk_error::AwsError;

/// What the reports API reads.
#[async_trait]
pub trait ReportReader: Send + Sync {
    /// Whether the provider has a profile in the `Marketplace` table.
    async fn provider_exists(&self, provider_id: &str) -> Result<bool, AwsError>;

    /// The items of one `Reports` partition `query` asks for.
    async fn partition(&self, query: PageQuery<'_>) -> Result<ItemPage, AwsError>;

    /// The statement the monthly run stored for `provider_id` and `month`, if any.
    async fn statement(&self, provider_id: &str, month: Month) -> Result<Option<StatementItem>, AwsError>;

    /// The provider's report files of `date`, by key, with presigned URLs.
    async fn files(&self, provider_id: &str, date: NaiveDate) -> Result<Vec<FileLink>, AwsError>;
}

/// The SDK implementation: DynamoDB `GetItem` / `Query`, S3 `ListObjectsV2` and presigned
/// `GetObject`.
#[derive(Clone, Debug)]
pub struct AwsReportReader {
    reports: ReportsTable,
    files: ReportFileStore,
    marketplace: aws_sdk_dynamodb::Client,
    marketplace_table: String,
}

impl AwsReportReader {
    /// Clients from the SDK configuration; tables and bucket from `REPORTS_TABLE`,
    /// `MARKETPLACE_TABLE` and `REPORT_FILES_BUCKET`.
    pub async fn from_env() -> anyhow::Result<AwsReportReader> {
        let sdk = crate::sdk_config().await;
        Ok(AwsReportReader::new(
            &sdk,
            crate::required_env("REPORTS_TABLE")?,
            crate::required_env("MARKETPLACE_TABLE")?,
            crate::required_env("REPORT_FILES_BUCKET")?,
        ))
    }

    /// Clients from `sdk` on the given tables and bucket.
    pub fn new(
        sdk: &crate::SdkConfig,
        reports_table: impl Into<String>,
        marketplace_table: impl Into<String>,
        files_bucket: impl Into<String>,
    ) -> AwsReportReader {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        AwsReportReader {
            reports: ReportsTable::new(dynamodb.clone(), reports_table),
            files: ReportFileStore::new(sdk, files_bucket),
            marketplace: dynamodb,
            marketplace_table: marketplace_table.into(),
        }
    }
}

#[async_trait]
impl ReportReader for AwsReportReader {
    async fn provider_exists(&self, provider_id: &str) -> Result<bool, AwsError> {
        let out = self
            .marketplace
            .get_item()
            .table_name(&self.marketplace_table)
            .key("pk", Av::S(provider_pk(provider_id)))
            .key("sk", Av::S(PROFILE.into()))
            .projection_expression("pk")
            .send()
            .await
            .map_err(AwsError::dynamo("GetItem", &self.marketplace_table))?;
        Ok(out.item.is_some())
    }

    async fn partition(&self, query: PageQuery<'_>) -> Result<ItemPage, AwsError> {
        self.reports.page(query).await
    }

    async fn statement(&self, provider_id: &str, month: Month) -> Result<Option<StatementItem>, AwsError> {
        self.reports.statement(provider_id, month).await
    }

    async fn files(&self, provider_id: &str, date: NaiveDate) -> Result<Vec<FileLink>, AwsError> {
        self.files.provider_files(provider_id, date).await
    }
}

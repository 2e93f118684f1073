//! The AWS clients a run may use, built once from the environment ([`AwsContext::from_env`]):
//! `DEPLOYMENT_LOGS_TABLE`, `REPORTS_TABLE`, `MARKETPLACE_TABLE` (provider contact addresses),
//! the portal's email settings (`SENDER_ADDRESS`, `REPLY_TO_ADDRESS`, `TEAM_INBOX`,
//! `PORTAL_URL`, ...), how fast emails go out (`REPORT_SEND_CONCURRENCY`, default 8;
//! `SES_MAX_SEND_RATE` per second, default 14), the optional buckets (`REPORT_PARTIALS_BUCKET`,
//! `REPORT_FILES_BUCKET`) and the SDK's own (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...).

use marketplace_aws::report_files::ReportFileStore;
use marketplace_aws::reports_table::ReportsTable;
use marketplace_aws::{DynamoProviderStore, SesMailer};
use marketplace_core::ports::Mailer;
use marketplace_core::PortalConfig;
use std::sync::Arc;

use marketplace_reports::delivery::{DeliveryLedger, InvocationDeadline, SendLimits, SendRate, TimeLeft};

use crate::aws::{DeploymentLogTable, PartialStore};

/// The AWS clients a run may use.
pub struct AwsContext {
    /// Source table.
    pub logs: DeploymentLogTable,
    /// Reports table.
    pub reports: ReportsTable,
    /// Another delivery ledger than the Reports table's own (`None`, the default): a test wraps
    /// the table's to see every hand-over and record. Read through [`AwsContext::ledger`].
    pub ledger: Option<Box<dyn DeliveryLedger>>,
    /// Provider contact addresses.
    pub providers: DynamoProviderStore,
    /// SES (`SesMailer`; any [`Mailer`] — a test wraps it to die at a chosen send).
    pub mailer: Box<dyn Mailer>,
    /// Email settings.
    pub config: PortalConfig,
    /// Deliveries in flight and SES's send rate (`REPORT_SEND_CONCURRENCY`, `SES_MAX_SEND_RATE`).
    pub sends: SendLimits,
    /// How long the run has left: the Lambda invocation's deadline, which the handler sets as
    /// each invocation starts ([`InvocationDeadline`]; unset on the command line: no deadline).
    /// Deliveries stop being started when it runs short (`marketplace_reports::delivery`).
    pub time_left: Arc<dyn TimeLeft>,
    /// Where scale-out partitions leave their partial aggregates (`REPORT_PARTIALS_BUCKET`;
    /// only the Lambda scale-out modes need it).
    pub partials: Option<PartialStore>,
    /// Where a storing run puts its report files (`REPORT_FILES_BUCKET`; without it the files
    /// stay local only).
    pub files: Option<ReportFileStore>,
    /// `Limit` of every page of the MPA campaign's Scan of provider records (`None`, the
    /// default: DynamoDB's 1 MB pages; tests set it to cross page boundaries).
    pub scan_page_limit: Option<i32>,
}

impl AwsContext {
    /// Builds clients from the environment (see module docs); an error names what is missing.
    pub async fn from_env() -> anyhow::Result<Self> {
        let sdk = marketplace_aws::batch_sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let env = marketplace_aws::required_env;
        let bucket = |name: &str| std::env::var(name).ok().filter(|b| !b.trim().is_empty());
        Ok(AwsContext {
            logs: DeploymentLogTable::new(dynamodb.clone(), env("DEPLOYMENT_LOGS_TABLE")?),
            reports: ReportsTable::new(dynamodb.clone(), env("REPORTS_TABLE")?),
            ledger: None,
            providers: DynamoProviderStore::new(dynamodb, env("MARKETPLACE_TABLE")?),
            mailer: Box::new(SesMailer::new(aws_sdk_ses::Client::new(&sdk))),
            config: PortalConfig::from_env()?,
            sends: SendLimits::from_env()?,
            time_left: Arc::new(InvocationDeadline::default()),
            partials: bucket("REPORT_PARTIALS_BUCKET").map(|bucket| PartialStore::new(&sdk, bucket)),
            files: bucket("REPORT_FILES_BUCKET").map(|bucket| ReportFileStore::new(&sdk, bucket)),
            scan_page_limit: None,
        })
    }

    /// The account's SES send rate, shared by every sending run: slots in the Reports table.
    pub fn send_rate(&self) -> &dyn SendRate {
        &self.reports
    }

    /// The delivery ledger: [`AwsContext::ledger`]'s, or the Reports table's.
    pub fn ledger(&self) -> &dyn DeliveryLedger {
        self.ledger.as_deref().unwrap_or(&self.reports)
    }
}

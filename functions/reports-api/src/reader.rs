//! Reading what the report job stored: `Reports` table items (by partition, with paging),
//! whether a provider exists (`Marketplace` table), and a day's report files in S3 with
//! presigned download URLs. [`ReportReader`] is what the API needs; [`AwsReportReader`] is the
//! SDK implementation.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use marketplace_reports::attribute::{AttributeValue, Item};

/// How long a presigned download URL stays valid.
pub const PRESIGNED_URL_TTL: Duration = Duration::from_secs(300);

/// A backend call failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {target}: {message}")]
pub struct ReadError {
    /// The SDK operation.
    pub operation: &'static str,
    /// Table or bucket.
    pub target: String,
    /// The SDK's error, with its context.
    pub message: String,
}

/// One page of a partition's items, in sort-key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemPage {
    /// At most the limit asked for.
    pub items: Vec<Item>,
    /// Whether more items follow the last one.
    pub more: bool,
}

/// A stored report file with a short-lived download URL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileLink {
    /// File name under the day's provider prefix (e.g. `deployments.csv`).
    pub name: String,
    /// Object key.
    pub key: String,
    /// Size in bytes.
    pub size: i64,
    /// Presigned GET URL, valid for [`PRESIGNED_URL_TTL`].
    pub url: String,
}

/// What the API reads.
#[async_trait]
pub trait ReportReader: Send + Sync {
    /// Whether the provider has a profile in the `Marketplace` table.
    async fn provider_exists(&self, provider_id: &str) -> Result<bool, ReadError>;

    /// Items of `Reports` partition `pk` with `lo ≤ sk ≤ hi` (when given), strictly after
    /// `after_sk`, at most `limit` of them (all when `None`).
    async fn partition(
        &self,
        pk: &str,
        sk_range: Option<(&str, &str)>,
        after_sk: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ItemPage, ReadError>;

    /// The objects under `prefix` in the report-files bucket, by key, with presigned URLs.
    async fn files(&self, prefix: &str) -> Result<Vec<FileLink>, ReadError>;
}

/// The SDK implementation: DynamoDB `Query` / `GetItem`, S3 `ListObjectsV2` and presigned
/// `GetObject`.
#[derive(Clone, Debug)]
pub struct AwsReportReader {
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    reports_table: String,
    marketplace_table: String,
    files_bucket: String,
}

impl AwsReportReader {
    /// Clients from the SDK configuration; tables and bucket from `REPORTS_TABLE`,
    /// `MARKETPLACE_TABLE` and `REPORT_FILES_BUCKET`.
    pub async fn from_env() -> anyhow::Result<AwsReportReader> {
        let sdk = marketplace_aws::sdk_config().await;
        Ok(AwsReportReader::new(
            &sdk,
            marketplace_aws::required_env("REPORTS_TABLE")?,
            marketplace_aws::required_env("MARKETPLACE_TABLE")?,
            marketplace_aws::required_env("REPORT_FILES_BUCKET")?,
        ))
    }

    /// Clients from `sdk` on the given tables and bucket.
    pub fn new(
        sdk: &marketplace_aws::SdkConfig,
        reports_table: impl Into<String>,
        marketplace_table: impl Into<String>,
        files_bucket: impl Into<String>,
    ) -> AwsReportReader {
        // Path-style addressing works on AWS and on local emulators alike.
        let s3 = aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build();
        AwsReportReader {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3),
            reports_table: reports_table.into(),
            marketplace_table: marketplace_table.into(),
            files_bucket: files_bucket.into(),
        }
    }
}

fn failed<'a, E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
    target: &'a str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, R>) -> ReadError + 'a {
    move |e| ReadError { operation, target: target.to_owned(), message: DisplayErrorContext(e).to_string() }
}

/// SDK attribute value → the domain's neutral one (report items hold strings and numbers; the
/// other types are converted for completeness).
fn neutral(v: &Av) -> AttributeValue {
    match v {
        Av::S(s) => AttributeValue::S(s.clone()),
        Av::N(n) => AttributeValue::N(n.clone()),
        Av::Bool(b) => AttributeValue::BOOL(*b),
        Av::Null(b) => AttributeValue::NULL(*b),
        Av::L(l) => AttributeValue::L(l.iter().map(neutral).collect()),
        Av::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), neutral(v))).collect()),
        Av::Ss(s) => AttributeValue::SS(s.clone()),
        Av::Ns(n) => AttributeValue::NS(n.clone()),
        _ => AttributeValue::NULL(true),
    }
}

#[async_trait]
impl ReportReader for AwsReportReader {
    async fn provider_exists(&self, provider_id: &str) -> Result<bool, ReadError> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.marketplace_table)
            .key("pk", Av::S(marketplace_aws::provider_store::provider_pk(provider_id)))
            .key("sk", Av::S(marketplace_aws::provider_store::PROFILE.into()))
            .projection_expression("pk")
            .send()
            .await
            .map_err(failed("GetItem", &self.marketplace_table))?;
        Ok(out.item.is_some())
    }

    async fn partition(
        &self,
        pk: &str,
        sk_range: Option<(&str, &str)>,
        after_sk: Option<&str>,
        limit: Option<usize>,
    ) -> Result<ItemPage, ReadError> {
        let mut items: Vec<Item> = Vec::new();
        let mut start = after_sk.map(|sk| {
            [("pk".to_owned(), Av::S(pk.to_owned())), ("sk".to_owned(), Av::S(sk.to_owned()))].into_iter().collect()
        });
        // One item beyond the limit tells whether another page follows, so the last page
        // never hands out a token to an empty page.
        loop {
            let mut query = self
                .dynamodb
                .query()
                .table_name(&self.reports_table)
                .expression_attribute_values(":pk", Av::S(pk.to_owned()))
                .set_exclusive_start_key(start.take());
            query = match sk_range {
                Some((lo, hi)) => query
                    .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                    .expression_attribute_values(":lo", Av::S(lo.to_owned()))
                    .expression_attribute_values(":hi", Av::S(hi.to_owned())),
                None => query.key_condition_expression("pk = :pk"),
            };
            if let Some(limit) = limit {
                query = query.limit(i32::try_from(limit + 1 - items.len()).unwrap_or(i32::MAX));
            }
            let out = query.send().await.map_err(failed("Query", &self.reports_table))?;
            items.extend(out.items().iter().map(|item| item.iter().map(|(k, v)| (k.clone(), neutral(v))).collect()));
            match out.last_evaluated_key {
                Some(key) if limit.is_none_or(|l| items.len() <= l) => start = Some(key),
                _ => break,
            }
        }
        let more = limit.is_some_and(|l| items.len() > l);
        if let Some(limit) = limit {
            items.truncate(limit);
        }
        Ok(ItemPage { items, more })
    }

    async fn files(&self, prefix: &str) -> Result<Vec<FileLink>, ReadError> {
        let bucket = &self.files_bucket;
        let mut objects = Vec::new();
        let mut continuation = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(continuation.take())
                .send()
                .await
                .map_err(failed("ListObjectsV2", bucket))?;
            objects.extend(out.contents().iter().filter_map(|o| Some((o.key()?.to_owned(), o.size().unwrap_or(0)))));
            match out.next_continuation_token {
                Some(token) if out.is_truncated == Some(true) => continuation = Some(token),
                _ => break,
            }
        }
        objects.sort();
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(PRESIGNED_URL_TTL).map_err(|e| {
            ReadError { operation: "presign GetObject", target: bucket.clone(), message: e.to_string() }
        })?;
        let mut links = Vec::with_capacity(objects.len());
        for (key, size) in objects {
            let presigned = self
                .s3
                .get_object()
                .bucket(bucket)
                .key(&key)
                .presigned(config.clone())
                .await
                .map_err(failed("presign GetObject", bucket))?;
            links.push(FileLink {
                name: key.strip_prefix(prefix).unwrap_or(&key).to_owned(),
                url: presigned.uri().to_owned(),
                key,
                size,
            });
        }
        Ok(links)
    }
}

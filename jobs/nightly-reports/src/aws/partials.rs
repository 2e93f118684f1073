//! Partial aggregates in S3: the scale-out path's hand-over between partitions and merge
//! (`s3://$REPORT_PARTIALS_BUCKET/partials/<run>/<i>.json`: the group totals; beside it
//! `<i>.errors` and `<i>.rejects`: the partition's error and reject rows as one sorted spill run
//! each, streamed from and to files so that neither side holds them in memory).

use std::io::Write;
use std::path::Path;

use marketplace_aws::sdk_error::AwsError;

/// Partial aggregates in S3 (the scale-out path's hand-over between partitions and merge).
#[derive(Clone, Debug)]
pub struct PartialStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl PartialStore {
    /// The bucket `bucket` (clients from `sdk`).
    pub fn new(sdk: &marketplace_aws::SdkConfig, bucket: impl Into<String>) -> Self {
        PartialStore { client: marketplace_aws::sdk::s3_client(sdk), bucket: bucket.into() }
    }

    /// Stores `bytes` at `key`.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), AwsError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(bytes.into())
            .send()
            .await
            .map_err(AwsError::s3("PutObject", &self.bucket))?;
        Ok(())
    }

    /// Reads the object at `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, AwsError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(AwsError::s3("GetObject", &self.bucket))?;
        let body = out.body.collect().await.map_err(|e| AwsError::s3_failed("GetObject", &self.bucket, e))?;
        Ok(body.into_bytes().to_vec())
    }
}

impl PartialStore {
    /// Stores the file at `path` at `key`, streaming it.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), AwsError> {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
            .await
            .map_err(|e| AwsError::s3_failed("PutObject", &self.bucket, format!("{}: {e}", path.display())))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(AwsError::s3("PutObject", &self.bucket))?;
        Ok(())
    }

    /// Streams the object at `key` into `file` (a spill's file: its bytes count against the
    /// run's local-disk budget).
    pub async fn get_file(&self, key: &str, file: &mut dyn Write) -> Result<(), FetchError> {
        let failed = |message: String| AwsError::s3_failed("GetObject", &self.bucket, message);
        let mut out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(AwsError::s3("GetObject", &self.bucket))?;
        let mut file = std::io::BufWriter::with_capacity(1 << 16, file);
        while let Some(chunk) = out.body.try_next().await.map_err(|e| failed(e.to_string()))? {
            file.write_all(&chunk).map_err(FetchError::Write)?;
        }
        file.flush().map_err(FetchError::Write)
    }
}

/// Fetching an object into a local file failed: the S3 call, or writing the file (a full local
/// disk among the causes, which the run names as such).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The S3 call.
    #[error(transparent)]
    S3(#[from] AwsError),
    /// Writing the local file.
    #[error("writing the fetched object: {0}")]
    Write(std::io::Error),
}

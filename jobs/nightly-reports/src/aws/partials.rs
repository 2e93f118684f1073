//! Partial aggregates in S3: the scale-out path's hand-over between partitions and merge
//! (`s3://$REPORT_PARTIALS_BUCKET/partials/<run>/<i>.json`: the group totals; beside it
//! `<i>.errors` and `<i>.rejects`: the partition's error and reject rows as one sorted spill run
//! each, streamed from and to files so that neither side holds them in memory).

use std::io::Write;
use std::path::Path;

use super::AwsError;

/// Partial aggregates in S3 (the scale-out path's hand-over between partitions and merge).
#[derive(Clone, Debug)]
pub struct PartialStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl PartialStore {
    /// Path-style addressing works on AWS and on local emulators alike.
    pub fn new(sdk: &marketplace_aws::SdkConfig, bucket: impl Into<String>) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build();
        PartialStore { client: aws_sdk_s3::Client::from_conf(config), bucket: bucket.into() }
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
            .map_err(|e| s3_error("PutObject", &self.bucket, e))?;
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
            .map_err(|e| s3_error("GetObject", &self.bucket, e))?;
        let body = out.body.collect().await.map_err(|e| AwsError::S3 {
            operation: "GetObject",
            bucket: self.bucket.clone(),
            message: e.to_string(),
        })?;
        Ok(body.into_bytes().to_vec())
    }
}

impl PartialStore {
    /// Stores the file at `path` at `key`, streaming it.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), AwsError> {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path).await.map_err(|e| AwsError::S3 {
            operation: "PutObject",
            bucket: self.bucket.clone(),
            message: format!("{}: {e}", path.display()),
        })?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| s3_error("PutObject", &self.bucket, e))?;
        Ok(())
    }

    /// Streams the object at `key` into a new file at `path`.
    pub async fn get_file(&self, key: &str, path: &Path) -> Result<(), AwsError> {
        let failed = |message: String| AwsError::S3 { operation: "GetObject", bucket: self.bucket.clone(), message };
        let mut out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("GetObject", &self.bucket, e))?;
        let file = std::fs::File::create(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
        let mut file = std::io::BufWriter::with_capacity(1 << 16, file);
        while let Some(chunk) = out.body.try_next().await.map_err(|e| failed(e.to_string()))? {
            file.write_all(&chunk).map_err(|e| failed(format!("{}: {e}", path.display())))?;
        }
        file.flush().map_err(|e| failed(format!("{}: {e}", path.display())))
    }
}

pub(crate) fn s3_error<E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
    bucket: &str,
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> AwsError {
    AwsError::S3 {
        operation,
        bucket: bucket.to_owned(),
        message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
    }
}

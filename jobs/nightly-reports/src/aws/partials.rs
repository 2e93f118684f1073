//! Partial aggregates in S3: the scale-out path's hand-over between partitions and merge
//! (`s3://$REPORT_PARTIALS_BUCKET/partials/<run>/<i>.json`).

use super::AwsError;

/// Partial aggregates in S3 (the scale-out path's hand-over between partitions and merge).
#[derive(Clone, Debug)]
pub struct PartialStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl PartialStore {
    /// Path-style addressing works on AWS and on local emulators alike.
    pub fn new(sdk: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
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

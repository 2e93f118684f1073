//! The report-files bucket (`REPORT_FILES_BUCKET`): its key layout, the report job's uploads and
//! the reports API's listing with presigned download URLs.
//!
//! * Every file a run writes under `<out>/<date>/` goes to
//!   `reports/<date>/providers/<provider_id>/<file>` (a provider's, [`provider_files_prefix`])
//!   or `reports/<date>/team/<file>` (the team's) — [`object_key`];
//! * a provider's monthly statement to `statements/<yyyy-mm>/providers/<id>/statement.csv`
//!   ([`statement_object_key`]).
//!
//! Each object is streamed from its local file (`ByteStream::from_path`: read in bounded chunks,
//! never held whole in memory), one file at a time. A re-run overwrites the keys with the
//! re-run's bytes, which are identical for identical inputs, and then deletes every other object
//! under the date's prefix `reports/<date>/` ([`date_prefix`]): a provider whose logs moved to
//! another provider no longer downloads a file of that other provider's customers. The deletes
//! come only after every upload succeeded, so a failed or killed run leaves the date with its
//! old files or a mix of old and new ones, never without files; the next run finishes the job.
//! (The bucket is versioned: a deleted key's last version stays, unreachable through the reports
//! API, until the lifecycle rule expires it.) Files above S3's single-PUT limit (5 GiB) are
//! refused rather than half-written; a day's CSVs are far below it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use chrono::NaiveDate;
use marketplace_reports::statement::Month;

use crate::sdk_error::AwsError;

/// S3's limit for one `PutObject`.
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// How long a presigned download URL stays valid.
pub const PRESIGNED_URL_TTL: Duration = Duration::from_secs(300);

/// The object key of a file at `relative` (with `/` separators) under the date's directory:
/// provider files keep their `providers/<id>/` path, the team's top-level files go to `team/`.
pub fn object_key(date: NaiveDate, relative: &str) -> String {
    let date = date.format("%Y-%m-%d");
    if relative.starts_with("providers/") {
        format!("reports/{date}/{relative}")
    } else {
        format!("reports/{date}/team/{relative}")
    }
}

/// Where every report file of `date` is: `reports/<date>/`.
pub fn date_prefix(date: NaiveDate) -> String {
    format!("reports/{}/", date.format("%Y-%m-%d"))
}

/// Where a provider's report files of `date` are: `reports/<date>/providers/<provider_id>/`.
pub fn provider_files_prefix(provider_id: &str, date: NaiveDate) -> String {
    format!("reports/{date}/providers/{provider_id}/")
}

/// The object key of a provider's statement CSV: `statements/<yyyy-mm>/providers/<id>/statement.csv`.
pub fn statement_object_key(month: Month, provider_id: &str) -> String {
    format!("statements/{month}/providers/{provider_id}/statement.csv")
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

/// The report-files bucket.
#[derive(Clone, Debug)]
pub struct ReportFileStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl ReportFileStore {
    /// The bucket `bucket` (clients from `sdk`).
    pub fn new(sdk: &crate::SdkConfig, bucket: impl Into<String>) -> Self {
        ReportFileStore { client: crate::sdk::s3_client(sdk), bucket: bucket.into() }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Uploads every file under `date_dir` (one date's directory), then deletes the date's
    /// objects this upload did not write (see the module docs); returns the keys written.
    pub async fn upload_date(&self, date: NaiveDate, date_dir: &Path) -> Result<Vec<String>, AwsError> {
        let mut files = Vec::new();
        collect_files(date_dir, date_dir, &mut files).map_err(|e| self.failed("PutObject", e))?;
        files.sort();
        let mut keys = Vec::with_capacity(files.len());
        for (relative, path) in files {
            let key = object_key(date, &relative);
            self.put_file(&key, &path).await?;
            keys.push(key);
        }
        let stale = self.delete_stale(date, &keys).await?;
        if !stale.is_empty() {
            tracing::info!(%date, deleted = stale.len(), "report files of an earlier run no longer produced: deleted");
        }
        Ok(keys)
    }

    /// Deletes every object under [`date_prefix`] that is not in `written`; returns their keys.
    pub async fn delete_stale(&self, date: NaiveDate, written: &[String]) -> Result<Vec<String>, AwsError> {
        let written: std::collections::HashSet<&str> = written.iter().map(String::as_str).collect();
        let stale: Vec<String> = self
            .list(&date_prefix(date))
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .filter(|key| !written.contains(key.as_str()))
            .collect();
        // One DeleteObject a key: a date's stale files are few (a moved provider's two or three),
        // and the single call needs no request checksum.
        for key in &stale {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(AwsError::s3("DeleteObject", &self.bucket))?;
        }
        Ok(stale)
    }

    /// Uploads the statement CSV at `path` to [`statement_object_key`]; returns the key.
    pub async fn upload_statement(&self, month: Month, provider_id: &str, path: &Path) -> Result<String, AwsError> {
        let key = statement_object_key(month, provider_id);
        self.put_file(&key, path).await?;
        Ok(key)
    }

    /// Streams the file at `path` to `key`.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), AwsError> {
        let len =
            std::fs::metadata(path).map_err(|e| self.failed("PutObject", format!("{}: {e}", path.display())))?.len();
        if len > MAX_SINGLE_PUT {
            return Err(
                self.failed("PutObject", format!("{} is {len} bytes, above one PutObject's limit", path.display()))
            );
        }
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| self.failed("PutObject", format!("{}: {e}", path.display())))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv; charset=utf-8")
            .content_length(len as i64)
            .body(body)
            .send()
            .await
            .map_err(AwsError::s3("PutObject", &self.bucket))?;
        Ok(())
    }

    /// `provider_id`'s report files of `date`, by key, with presigned URLs.
    pub async fn provider_files(&self, provider_id: &str, date: NaiveDate) -> Result<Vec<FileLink>, AwsError> {
        let prefix = provider_files_prefix(provider_id, date);
        let objects = self.list(&prefix).await?;
        let config =
            PresigningConfig::expires_in(PRESIGNED_URL_TTL).map_err(|e| self.failed("presign GetObject", e))?;
        let mut links = Vec::with_capacity(objects.len());
        for (key, size) in objects {
            let presigned = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .presigned(config.clone())
                .await
                .map_err(AwsError::s3("presign GetObject", &self.bucket))?;
            links.push(FileLink {
                name: key.strip_prefix(&prefix).unwrap_or(&key).to_owned(),
                url: presigned.uri().to_owned(),
                key,
                size,
            });
        }
        Ok(links)
    }

    /// Every object under `prefix`, as (key, size), by key.
    async fn list(&self, prefix: &str) -> Result<Vec<(String, i64)>, AwsError> {
        let mut objects = Vec::new();
        let mut continuation = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(continuation.take())
                .send()
                .await
                .map_err(AwsError::s3("ListObjectsV2", &self.bucket))?;
            objects.extend(out.contents().iter().filter_map(|o| Some((o.key()?.to_owned(), o.size().unwrap_or(0)))));
            match out.next_continuation_token {
                Some(token) if out.is_truncated == Some(true) => continuation = Some(token),
                _ => break,
            }
        }
        objects.sort();
        Ok(objects)
    }

    fn failed(&self, operation: &'static str, message: impl std::fmt::Display) -> AwsError {
        AwsError::s3_failed(operation, &self.bucket, message)
    }
}

/// Regular files under `dir`, as (path relative to `root` with `/` separators, path).
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(root, &path, out)?;
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let relative: Vec<String> =
                relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
            out.push((relative.join("/"), path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_files_keep_their_path_and_team_files_go_under_team() {
        let date: NaiveDate = "2026-02-14".parse().expect("date");
        assert_eq!(
            object_key(date, "providers/acme/deployments.csv"),
            "reports/2026-02-14/providers/acme/deployments.csv"
        );
        assert_eq!(object_key(date, "marketplace-summary.csv"), "reports/2026-02-14/team/marketplace-summary.csv");
        assert_eq!(object_key(date, "rejected.csv"), "reports/2026-02-14/team/rejected.csv");
        assert!(object_key(date, "providers/acme/deployments.csv").starts_with(&provider_files_prefix("acme", date)));
        // Every key of the date lies under the date's prefix, which the stale-file sweep lists.
        for relative in ["providers/acme/deployments.csv", "marketplace-summary.csv"] {
            assert!(object_key(date, relative).starts_with(&date_prefix(date)), "{relative}");
        }
        assert!(!object_key(date, "x.csv").starts_with(&date_prefix("2026-02-01".parse().expect("date"))));
    }

    #[test]
    fn statement_objects_live_under_their_month_and_provider() {
        let month: Month = "2026-02".parse().expect("month");
        assert_eq!(statement_object_key(month, "acme"), "statements/2026-02/providers/acme/statement.csv");
    }
}

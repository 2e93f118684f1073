//! Report files in S3: every file a run writes under `<out>/<date>/` also goes to
//! `s3://$REPORT_FILES_BUCKET/reports/<date>/providers/<provider_id>/<file>` (a provider's) and
//! `reports/<date>/team/<file>` (the team's), where the reports API lists and presigns them.
//!
//! Each object is streamed from its local file (`ByteStream::from_path`: read in bounded chunks,
//! never held whole in memory), one file at a time. A re-run overwrites the keys with the
//! re-run's bytes, which are identical for identical inputs. Files above S3's single-PUT limit
//! (5 GiB) are refused rather than half-written; a day's CSVs are far below it.

use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use chrono::NaiveDate;

use super::partials::s3_error;
use super::AwsError;

/// S3's limit for one `PutObject`.
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// The report-files bucket.
#[derive(Clone, Debug)]
pub struct ReportFileStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

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

impl ReportFileStore {
    /// Path-style addressing works on AWS and on local emulators alike.
    pub fn new(sdk: &marketplace_aws::SdkConfig, bucket: impl Into<String>) -> Self {
        let config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build();
        ReportFileStore { client: aws_sdk_s3::Client::from_conf(config), bucket: bucket.into() }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Uploads every file under `date_dir` (one date's directory); returns the keys written.
    pub async fn upload_date(&self, date: NaiveDate, date_dir: &Path) -> Result<Vec<String>, AwsError> {
        let mut files = Vec::new();
        collect_files(date_dir, date_dir, &mut files).map_err(|e| self.error("PutObject", e.to_string()))?;
        files.sort();
        let mut keys = Vec::with_capacity(files.len());
        for (relative, path) in files {
            let key = object_key(date, &relative);
            self.put_file(&key, &path).await?;
            keys.push(key);
        }
        Ok(keys)
    }

    /// Streams the file at `path` to `key`.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), AwsError> {
        let len =
            std::fs::metadata(path).map_err(|e| self.error("PutObject", format!("{}: {e}", path.display())))?.len();
        if len > MAX_SINGLE_PUT {
            return Err(
                self.error("PutObject", format!("{} is {len} bytes, above one PutObject's limit", path.display()))
            );
        }
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| self.error("PutObject", format!("{}: {e}", path.display())))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv; charset=utf-8")
            .content_length(len as i64)
            .body(body)
            .send()
            .await
            .map_err(|e| s3_error("PutObject", &self.bucket, e))?;
        Ok(())
    }

    fn error(&self, operation: &'static str, message: String) -> AwsError {
        AwsError::S3 { operation, bucket: self.bucket.clone(), message }
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
    }
}

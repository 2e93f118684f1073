//! Sink: the CSV files under `<out>/<date>/`.
//!
//! Each date's directory is written to a temporary sibling and swapped in whole, so a re-run
//! leaves exactly the files of the new run (no stale provider folder survives) and a crash never
//! leaves a half-written date.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use marketplace_domain::report::aggregate::ErrorRow;
use marketplace_domain::report::files::{provider_files, team_files, ReportFile};
use marketplace_domain::report::DailyReport;

/// Writing the report files failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write reports under {path}: {source}")]
pub struct WriteError {
    /// Path involved.
    pub path: PathBuf,
    /// Cause.
    pub source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError { path: path.to_owned(), source }
}

/// Writes one date's files; returns the date directory.
pub fn write_report(out: &Path, report: &DailyReport) -> Result<PathBuf, WriteError> {
    write_report_with(out, report, None)
}

/// Supplies one provider's error rows (providers are asked in order).
pub type ErrorsOf<'a> = &'a mut dyn FnMut(&str) -> Result<Vec<ErrorRow>, String>;

/// [`write_report`], with each provider's error rows from `errors_of` when they are not in the
/// report (streamed out of memory): one provider's rows are in memory at a time.
pub fn write_report_with(
    out: &Path,
    report: &DailyReport,
    mut errors_of: Option<ErrorsOf<'_>>,
) -> Result<PathBuf, WriteError> {
    let date = report.date.format("%Y-%m-%d").to_string();
    fs::create_dir_all(out).map_err(at(out))?;
    let final_dir = out.join(&date);
    let staging = out.join(format!(".{date}.tmp-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(at(&staging))?;
    }
    let write = |file: ReportFile| -> Result<(), WriteError> {
        let path = staging.join(&file.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(at(parent))?;
        }
        fs::write(&path, file.contents.as_bytes()).map_err(at(&path))
    };
    for file in team_files(report) {
        write(file)?;
    }
    for provider_id in report.providers.keys() {
        let files = match errors_of.as_mut() {
            None => provider_files(report, provider_id),
            Some(errors_of) => {
                let errors = errors_of(provider_id)
                    .map_err(|e| WriteError { path: staging.clone(), source: io::Error::other(e) })?;
                provider_files(&report.for_provider(provider_id, errors), provider_id)
            }
        };
        for file in files {
            write(file)?;
        }
    }
    let old = out.join(format!(".{date}.old-{}", std::process::id()));
    if final_dir.exists() {
        fs::rename(&final_dir, &old).map_err(at(&final_dir))?;
    }
    fs::rename(&staging, &final_dir).map_err(at(&final_dir))?;
    if old.exists() {
        fs::remove_dir_all(&old).map_err(at(&old))?;
    }
    Ok(final_dir)
}

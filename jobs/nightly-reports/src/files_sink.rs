//! Sink: the CSV files under `<out>/<date>/`.
//!
//! Each date's directory is written to a temporary sibling and swapped in whole, so a re-run
//! leaves exactly the files of the new run (no stale provider folder survives) and a crash never
//! leaves a half-written date. (The rename is what makes it whole; no file is synced: a report
//! run is re-runnable and byte-identical, so a power cut costs a re-run, not a wrong file.)
//!
//! Files are rendered on the calling thread and written by two others, so the disk works while
//! the next provider's rows are merged and rendered; each directory is created once per writer.
//!
//! Every file and directory counts against the run's [`DiskBudget`]; a write that fails
//! (the budget, a full file system, anything) removes the staging directory, so a failed date
//! leaves nothing under `<out>` and its earlier files, if any, untouched.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::Mutex;

use marketplace_reports::aggregate::ErrorRow;
use marketplace_reports::files::{provider_files, team_files, ReportFile};
use marketplace_reports::DailyReport;

use crate::disk::{DiskBudget, BLOCK};

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

/// Writes one date's files (no budget but the file system's); returns the date directory.
pub fn write_report(out: &Path, report: &DailyReport) -> Result<PathBuf, WriteError> {
    write_report_with(out, report, &DiskBudget::unlimited(), None)
}

/// Renders the date's files in order into `send` (false: the writer stopped).
fn render_files(
    report: &DailyReport,
    errors_of: &mut Option<ErrorsOf<'_>>,
    staging: &Path,
    send: &mut dyn FnMut(ReportFile) -> bool,
) -> Result<(), WriteError> {
    for file in team_files(report) {
        if !send(file) {
            return Ok(());
        }
    }
    for provider_id in report.providers.keys() {
        let files = match errors_of.as_mut() {
            None => provider_files(report, provider_id),
            Some(errors_of) => {
                let errors = errors_of(provider_id)
                    .map_err(|e| WriteError { path: staging.to_owned(), source: io::Error::other(e) })?;
                provider_files(&report.for_provider(provider_id, errors), provider_id)
            }
        };
        for file in files {
            if !send(file) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Writes received files under `staging` until the renderer is done, creating each directory
/// once (per writer: two writers may both create one, which `create_dir_all` allows). A writer
/// that fails drops the shared receiver, so the renderer's next send fails and it stops (and
/// the other writer with it) instead of waiting for a writer that is gone.
fn write_files(
    staging: &Path,
    files: &Mutex<Option<Receiver<ReportFile>>>,
    budget: &DiskBudget,
) -> Result<(), WriteError> {
    let mut made: HashSet<PathBuf> = HashSet::new();
    let mut write = |file: ReportFile| -> Result<(), WriteError> {
        let path = staging.join(&file.path);
        if let Some(parent) = path.parent() {
            if !made.contains(parent) {
                fs::create_dir_all(parent).map_err(at(parent))?;
                made.insert(parent.to_owned());
            }
        }
        budget.charge_file(file.contents.len() as u64).map_err(at(&path))?;
        fs::write(&path, file.contents.as_bytes()).map_err(at(&path))
    };
    loop {
        let file = match files.lock() {
            Ok(files) => files.as_ref().map(Receiver::recv),
            Err(_) => {
                return Err(WriteError { path: staging.to_owned(), source: io::Error::other("a writer panicked") })
            }
        };
        let Some(Ok(file)) = file else { return Ok(()) };
        if let Err(e) = write(file) {
            files.lock().map(|mut files| files.take()).ok();
            return Err(e);
        }
    }
}

/// Threads writing files. Creating a file is most of a date's writing time (the file system's
/// inode allocation, not the bytes), and it runs in parallel.
const WRITERS: usize = 2;

/// Supplies one provider's error rows (providers are asked in order).
pub type ErrorsOf<'a> = &'a mut dyn FnMut(&str) -> Result<Vec<ErrorRow>, String>;

/// [`write_report`] within `budget`, with each provider's error rows from `errors_of` when they
/// are not in the report (streamed out of memory): one provider's rows are in memory at a time.
pub fn write_report_with(
    out: &Path,
    report: &DailyReport,
    budget: &DiskBudget,
    mut errors_of: Option<ErrorsOf<'_>>,
) -> Result<PathBuf, WriteError> {
    let date = report.date.format("%Y-%m-%d").to_string();
    fs::create_dir_all(out).map_err(at(out))?;
    let final_dir = out.join(&date);
    let staging = out.join(format!(".{date}.tmp-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(at(&staging))?;
    }
    // A block per directory: the date's, `providers/` and each provider's.
    budget.charge(BLOCK * (2 + report.providers.len() as u64)).map_err(at(&staging))?;
    // A few files in flight: the writer threads hold at most this many rendered files.
    let (tx, rx) = std::sync::mpsc::sync_channel::<ReportFile>(8);
    let rx = Mutex::new(Some(rx));
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS).map(|_| scope.spawn(|| write_files(&staging, &rx, budget))).collect();
        let rendered = render_files(report, &mut errors_of, &staging, &mut |file| tx.send(file).is_ok());
        drop(tx);
        let written = writers.into_iter().try_for_each(|writer| {
            writer.join().unwrap_or_else(|_| {
                Err(WriteError { path: staging.clone(), source: io::Error::other("a file writer thread panicked") })
            })
        });
        // A write error stops the renderer (its send fails): report the write error first.
        written.and(rendered)
    })
    .inspect_err(|_| {
        let _ = fs::remove_dir_all(&staging);
    })?;
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

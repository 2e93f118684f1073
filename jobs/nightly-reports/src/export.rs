//! Source: DynamoDB table-export files (DynamoDB-JSON lines, one `{"Item": {...}}` per line,
//! optionally gzip-compressed).
//!
//! `--from-export PATH` takes a file or a directory. A directory is walked recursively and every
//! regular file is read except `manifest*` files (an AWS export's `manifest-summary.json` and
//! `manifest-files.json` sit beside its `data/` folder) and hidden files. Files are taken in path
//! order, so partitions are stable. Compression is detected from the gzip magic bytes, not the
//! file name. Blank lines are skipped; a line that is not DynamoDB JSON is rejected (listed in
//! `rejected.csv` as `<file> line <n>`), never silently dropped, and never stops the run.
//!
//! Reading is streaming: one line is in memory at a time.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use marketplace_domain::report::aggregate::{AggregateError, Aggregator};
use marketplace_domain::report::attribute::parse_export_line;
use marketplace_domain::report::record::{ContractViolation, Rejected};

use crate::partition::Partition;

/// Errors reading export files.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The path cannot be read.
    #[error("cannot read export {path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// Cause.
        source: io::Error,
    },
    /// No export files under the path.
    #[error("no export files found under {0}")]
    Empty(PathBuf),
    /// Aggregation failed.
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ExportError + '_ {
    move |source| ExportError::Io { path: path.to_owned(), source }
}

/// Every export file under `path` (or `path` itself), sorted.
pub fn list_export_files(path: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    let mut files = Vec::new();
    if meta.is_file() {
        files.push(path.to_owned());
    } else {
        walk(path, &mut files)?;
        files.sort();
    }
    if files.is_empty() {
        return Err(ExportError::Empty(path.to_owned()));
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ExportError> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.starts_with("manifest") {
            continue;
        }
        let kind = entry.file_type().map_err(io_err(&path))?;
        if kind.is_dir() {
            walk(&path, files)?;
        } else if kind.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// Opens an export file, transparently gunzipping it.
pub fn open_export_file(path: &Path) -> Result<Box<dyn BufRead>, ExportError> {
    let mut file = File::open(path).map_err(io_err(path))?;
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(io_err(path))?;
    let head = io::Cursor::new(magic[..n].to_vec());
    let chained = head.chain(file);
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(chained)))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, chained))
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Streams one export file into the aggregator.
pub fn aggregate_export_file(path: &Path, agg: &mut Aggregator) -> Result<(), ExportError> {
    let mut reader = open_export_file(path)?;
    let mut line = String::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(io_err(path))?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let locator = || format!("{} line {number}", path.display());
        match parse_export_line(text) {
            Ok(item) => agg.ingest_item(&item, &locator)?,
            Err(e) => agg.reject(Rejected {
                key: locator(),
                report_date: None,
                reason: ContractViolation::Unreadable(e.to_string()),
            }),
        }
    }
}

/// Streams the export files of `partition` (every file when `None`) into the aggregator.
pub fn aggregate_export(path: &Path, partition: Option<Partition>, agg: &mut Aggregator) -> Result<usize, ExportError> {
    let files = list_export_files(path)?;
    let mut read = 0;
    for (i, file) in files.iter().enumerate() {
        if partition.is_none_or(|p| p.owns(i)) {
            aggregate_export_file(file, agg)?;
            read += 1;
        }
    }
    Ok(read)
}

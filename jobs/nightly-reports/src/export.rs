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
//! Reading is streaming and parallel ([`aggregate_export_parallel`]): one thread cuts the input
//! into blocks of whole lines — ranges of the mapped file for an uncompressed regular file (no
//! copy; each block's pages leave the process once parsed), read buffers for gzip and pipes — `workers` threads parse them — valid lines through the
//! borrowing fast path (`marketplace_reports::fast`), anything else through the general
//! path that names the reject — each into its own aggregator, and the aggregators merge at the
//! end (exact sums: the result is the same whatever the split). With a [`Spill`], workers move
//! their error and reject rows out in sorted runs, so memory is a few blocks plus the group
//! totals.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use marketplace_reports::aggregate::{AggregateError, Aggregator};
use marketplace_reports::attribute::parse_export_line;
use marketplace_reports::fast::{parse_valid_export_line, scan_valid_export_line};
use marketplace_reports::record::{ContractViolation, Rejected};

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use marketplace_reports::ReportPlan;

use crate::partition::Partition;
use crate::progress::Progress;
use crate::spill::{Spill, SpillError, SPILL_ROWS};

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
    /// Spilling rows failed.
    #[error(transparent)]
    Spill(#[from] SpillError),
    /// A worker thread panicked.
    #[error("an export worker thread panicked")]
    Worker,
}

/// Bytes of whole lines handed to a worker at a time (a few are in flight per worker).
const BLOCK_BYTES: usize = 512 << 10;

/// A block of whole lines of one file.
struct Block {
    path: Arc<PathBuf>,
    /// Line number of the block's first line (1-based).
    first_line: u64,
    bytes: Bytes,
}

/// Twice the kernel's default fault-around window (see [`Bytes::release`]).
const FAULT_AROUND_MARGIN: usize = 128 << 10;

/// A block's lines: read into a buffer (gzip, pipes), or a range of the mapped file.
enum Bytes {
    Read(Vec<u8>),
    Mapped(Arc<memmap2::Mmap>, std::ops::Range<usize>),
}

impl Bytes {
    /// Done with a mapped block: its pages leave the process (they stay in the page cache), so
    /// resident memory stays a few blocks whatever the file's size, as with read buffers.
    fn release(&self) {
        if let Bytes::Mapped(map, range) = self {
            // SAFETY: a read-only shared file mapping; a page touched again after DONTNEED is
            // read back from the file (another worker's neighbouring block may do that), never
            // replaced by zeros as it would be in a private or anonymous mapping.
            // The kernel maps neighbouring cached pages on a fault ("fault-around", 64 KiB by
            // default), including pages of blocks already released: the margin drops those too.
            let start = range.start.saturating_sub(FAULT_AROUND_MARGIN);
            let end = (range.end + FAULT_AROUND_MARGIN).min(map.len());
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Read(bytes) => bytes,
            Bytes::Mapped(map, range) => &map[range.clone()],
        }
    }
}

/// Streams the export files of `partition` (every file when `None`) into a fresh aggregator for
/// `plan`, parsing on `workers` threads; rows go to `spill` when given.
pub fn aggregate_export_parallel(
    path: &Path,
    plan: ReportPlan,
    partition: Option<Partition>,
    workers: usize,
    spill: Option<&Spill>,
) -> Result<(Aggregator, usize), ExportError> {
    let files = list_export_files(path)?;
    let total = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let mut progress = Progress::bytes(total);
    let workers = workers.max(1);
    let (tx, rx) = sync_channel::<Block>(workers * 2);
    let rx = Arc::new(Mutex::new(rx));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let rx = Arc::clone(&rx);
                scope.spawn(move || work(&rx, plan, spill))
            })
            .collect();
        let mut read = 0;
        let mut result = Ok(());
        for (i, file) in files.iter().enumerate() {
            if partition.is_none_or(|p| p.owns(i)) {
                read += 1;
                result = read_blocks(file, |block| {
                    progress.advance(block.bytes.len() as u64);
                    tx.send(block).is_ok()
                });
                if result.is_err() {
                    break;
                }
            }
        }
        drop(tx);
        progress.finish();
        let mut merged: Option<Aggregator> = None;
        for handle in handles {
            let agg = handle.join().map_err(|_| ExportError::Worker)??;
            match merged.as_mut() {
                None => merged = Some(agg),
                Some(m) => m.merge(agg)?,
            }
        }
        result?;
        Ok((merged.unwrap_or_else(|| Aggregator::new(plan)), read))
    })
}

/// Reads `path` in blocks of whole lines; stops early when `send` returns false.
fn read_blocks(path: &Path, send: impl FnMut(Block) -> bool) -> Result<(), ExportError> {
    match map_plain_file(path)? {
        Some(map) => map_blocks(path, map, send),
        None => stream_blocks(path, send),
    }
}

/// [`read_blocks`] through a read buffer (gzip, pipes).
fn stream_blocks(path: &Path, mut send: impl FnMut(Block) -> bool) -> Result<(), ExportError> {
    let mut reader = open_export_file(path)?;
    let shared = Arc::new(path.to_owned());
    let mut carry: Vec<u8> = Vec::new();
    let mut line = 1u64;
    loop {
        let mut bytes = std::mem::take(&mut carry);
        bytes.reserve(BLOCK_BYTES);
        let start = bytes.len();
        bytes.resize(start + BLOCK_BYTES, 0);
        let mut filled = start;
        while filled < bytes.len() {
            match reader.read(&mut bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ExportError::Io { path: path.to_owned(), source: e }),
            }
        }
        bytes.truncate(filled);
        let at_end = filled < start + BLOCK_BYTES;
        if !at_end {
            // Keep the last partial line for the next block (a line longer than a block grows it).
            match memchr::memrchr(b'\n', &bytes) {
                Some(cut) => carry = bytes.split_off(cut + 1),
                None => {
                    carry = bytes;
                    continue;
                }
            }
        }
        if !bytes.is_empty() {
            let lines = memchr::memchr_iter(b'\n', &bytes).count() as u64;
            let first_line = line;
            line += lines;
            if !send(Block { path: Arc::clone(&shared), first_line, bytes: Bytes::Read(bytes) }) {
                return Ok(()); // a worker stopped; its error is reported
            }
        }
        if at_end {
            return Ok(());
        }
    }
}

/// An uncompressed regular file, mapped into memory (no copy through a read buffer: the
/// workers parse the page cache's pages in place). `None` for gzip, pipes and empty files, which
/// are read. Export files are written once and then only read: a file truncated while the job
/// maps it would fault the process (SIGBUS), which is why only regular files are mapped.
fn map_plain_file(path: &Path) -> Result<Option<memmap2::Mmap>, ExportError> {
    let file = File::open(path).map_err(io_err(path))?;
    let meta = file.metadata().map_err(io_err(path))?;
    if !meta.is_file() || meta.len() < 2 {
        return Ok(None);
    }
    // SAFETY: the map is read-only and the export file is not modified while the job reads it
    // (see above); the bytes are treated as untrusted input like any read buffer.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err(path))?;
    if map[..2] == [0x1f, 0x8b] {
        return Ok(None);
    }
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(Some(map))
}

/// [`read_blocks`] over a mapped file: blocks are ranges of whole lines of the map.
fn map_blocks(path: &Path, map: memmap2::Mmap, mut send: impl FnMut(Block) -> bool) -> Result<(), ExportError> {
    let shared = Arc::new(path.to_owned());
    let map = Arc::new(map);
    let (mut start, mut line) = (0usize, 1u64);
    while start < map.len() {
        let mut end = (start + BLOCK_BYTES).min(map.len());
        if end < map.len() {
            // End after the block's last newline; a line longer than a block extends it.
            end = match memchr::memrchr(b'\n', &map[start..end]) {
                Some(cut) => start + cut + 1,
                None => memchr::memchr(b'\n', &map[end..]).map_or(map.len(), |cut| end + cut + 1),
            };
        }
        let first_line = line;
        line += memchr::memchr_iter(b'\n', &map[start..end]).count() as u64;
        if !send(Block { path: Arc::clone(&shared), first_line, bytes: Bytes::Mapped(Arc::clone(&map), start..end) }) {
            return Ok(());
        }
        start = end;
    }
    Ok(())
}

fn work(rx: &Mutex<Receiver<Block>>, plan: ReportPlan, spill: Option<&Spill>) -> Result<Aggregator, ExportError> {
    let mut agg = Aggregator::new(plan);
    if spill.is_some() {
        agg.pack_error_rows();
    }
    let mut scratch = String::new();
    loop {
        let block = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return Err(ExportError::Worker),
        };
        let Ok(block) = block else { break };
        let mut start = 0;
        for (k, end) in memchr::memchr_iter(b'\n', &block.bytes).chain([block.bytes.len()]).enumerate() {
            let raw = &block.bytes[start..end];
            start = end + 1;
            let number = block.first_line + k as u64;
            ingest_line(&mut agg, raw, &mut scratch, &|| format!("{} line {number}", block.path.display()))?;
        }
        block.bytes.release();
        if let Some(spill) = spill {
            if agg.held_rows() >= SPILL_ROWS {
                spill.add(agg.take_rows())?;
            }
        }
    }
    if let Some(spill) = spill {
        spill.add(agg.take_rows())?;
    }
    Ok(agg)
}

/// One export line into the aggregator: fast path, else the general one, else a reject.
fn ingest_line(
    agg: &mut Aggregator,
    raw: &[u8],
    scratch: &mut String,
    locator: &dyn Fn() -> String,
) -> Result<(), ExportError> {
    let text = match std::str::from_utf8(raw) {
        Ok(text) => text.trim(),
        Err(e) => {
            agg.reject(Rejected {
                key: locator(),
                report_date: None,
                reason: ContractViolation::Unreadable(format!("not UTF-8: {e}")),
            });
            return Ok(());
        }
    };
    if text.is_empty() {
        return Ok(());
    }
    if let Some(log) = scan_valid_export_line(text, scratch) {
        agg.add_valid(&log)?;
        return Ok(());
    }
    if let Some(log) = parse_valid_export_line(text) {
        agg.add(log)?;
        return Ok(());
    }
    match parse_export_line(text) {
        Ok(item) => agg.ingest_item(&item, locator)?,
        Err(e) => agg.reject(Rejected {
            key: locator(),
            report_date: None,
            reason: ContractViolation::Unreadable(e.to_string()),
        }),
    }
    Ok(())
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ExportError + '_ {
    move |source| ExportError::Io { path: path.to_owned(), source }
}

/// Every export file under `path` (or `path` itself), sorted.
pub fn list_export_files(path: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    let mut files = Vec::new();
    if meta.is_dir() {
        walk(path, &mut files)?;
        files.sort();
    } else {
        // A file, or a pipe (`--from-export /dev/stdin`: the benchmark streams 10 M logs).
        files.push(path.to_owned());
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

#[cfg(test)]
mod tests {
    use super::*;

    type ReadBlocks = fn(&Path, &mut dyn FnMut(Block) -> bool) -> Result<(), ExportError>;

    /// (line number, line) of every line the workers would see.
    fn lines(path: &Path, read: ReadBlocks) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        read(path, &mut |block| {
            let mut start = 0;
            for (k, end) in memchr::memchr_iter(b'\n', &block.bytes).chain([block.bytes.len()]).enumerate() {
                out.push((block.first_line + k as u64, block.bytes[start..end].to_vec()));
                start = end + 1;
            }
            block.bytes.release();
            true
        })
        .expect("read");
        // Both ways end a block after a newline: its empty last piece is not a line.
        out.retain(|(_, line)| !line.is_empty());
        out
    }

    #[test]
    fn mapped_and_read_blocks_give_the_same_lines_and_numbers() {
        let dir = std::env::temp_dir().join(format!("export-blocks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let long = "x".repeat(BLOCK_BYTES * 2 + 17);
        let mut text = String::new();
        for i in 0..40_000 {
            text.push_str(&format!("{{\"Item\": {i}}}\r\n"));
            if i % 9_999 == 0 {
                text.push_str(&long);
                text.push_str("\n\n");
            }
        }
        text.push_str("last line without newline");
        let path = dir.join("export.json");
        std::fs::write(&path, &text).expect("write");
        let mapped = lines(&path, |p, send| read_blocks(p, send));
        let read = lines(&path, |p, send| stream_blocks(p, send));
        assert!(matches!(map_plain_file(&path), Ok(Some(_))), "a plain file is mapped");
        assert_eq!(mapped.len(), 40_000 + 5 + 1);
        assert_eq!(mapped, read);
        assert_eq!(mapped.last().map(|(n, _)| *n), Some(40_000 + 5 * 2 + 1), "blank lines are counted");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}

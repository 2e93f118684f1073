//! Bounded memory for error and reject rows: an external sort.
//!
//! The aggregator's error rows (one per error entry of a report date) and rejects are output
//! rows themselves, so a night with millions of them cannot hold them all. Workers hand them
//! over in batches ([`Spill::add`]); each batch is sorted in the files' order and written as one
//! run to a temporary directory in a compact binary form (the error rows' packed form,
//! [`marketplace_reports::packed`]: the workers' aggregators already hold them packed,
//! one buffer per batch instead of six strings per row, and sort them without decoding). Writing the files then merges the
//! runs ([`Spill::errors`], [`Spill::rejects`]): memory is one batch per worker plus one
//! buffered reader per run, whatever the number of rows.
//!
//! Every byte a spill writes counts against its run's [`DiskBudget`], which the run's report
//! files share ([`Spill::budget`]); the directory is locked by its owner, so a later run can tell
//! and remove a spill that a killed or timed-out attempt left ([`crate::disk`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use marketplace_reports::aggregate::{ErrorRow, HeldRows, RejectRow};
use marketplace_reports::packed;

use crate::disk::{remove_abandoned_spills, ChargedFile, DiskBudget, BLOCK, OWNER_LOCK, SPILL_PREFIX};

/// Rows a worker holds before it spills them (about 5 MiB of error rows).
pub const SPILL_ROWS: usize = 16_384;

/// Errors of the spill files.
#[derive(Debug, thiserror::Error)]
#[error("spill file {path}: {source}")]
pub struct SpillError {
    /// File or directory.
    pub path: PathBuf,
    /// Cause.
    pub source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> SpillError + '_ {
    move |source| SpillError { path: path.to_owned(), source }
}

/// Sorted runs of error and reject rows in a temporary directory (removed on drop).
#[derive(Debug)]
pub struct Spill {
    dir: PathBuf,
    /// The owner's lock on `<dir>/owner.lock`, held for the spill's life.
    _owner: File,
    budget: DiskBudget,
    next: AtomicUsize,
    runs: Mutex<(Vec<PathBuf>, Vec<PathBuf>)>,
}

impl Spill {
    /// A spill under the system's temporary directory, writing within `budget` (which the run's
    /// report files share). Removes the spills of earlier attempts first
    /// ([`remove_abandoned_spills`]).
    pub fn new(budget: DiskBudget) -> Result<Self, SpillError> {
        static RUN: AtomicUsize = AtomicUsize::new(0);
        let temp = std::env::temp_dir();
        remove_abandoned_spills(&temp);
        let name = format!("{SPILL_PREFIX}{}-{}", std::process::id(), RUN.fetch_add(1, Ordering::Relaxed));
        // Set up under a dot name and renamed once locked: a spill under its name always has a
        // living owner or a free lock, never a window where a sweeper could take it for abandoned.
        let setting_up = temp.join(format!(".{name}"));
        let dir = temp.join(name);
        // The directory and its lock file: a block each.
        budget.charge(2 * BLOCK).map_err(at(&dir))?;
        let _ = fs::remove_dir_all(&setting_up);
        let owner = (|| {
            fs::create_dir(&setting_up).map_err(at(&setting_up))?;
            let lock_path = setting_up.join(OWNER_LOCK);
            let owner = File::create(&lock_path).map_err(at(&lock_path))?;
            owner.lock().map_err(at(&lock_path))?;
            fs::rename(&setting_up, &dir).map_err(at(&dir))?;
            Ok(owner)
        })()
        .inspect_err(|_| {
            let _ = fs::remove_dir_all(&setting_up);
        })?;
        Ok(Spill { dir, _owner: owner, budget, next: AtomicUsize::new(0), runs: Mutex::new((Vec::new(), Vec::new())) })
    }

    /// The run's local-disk budget: the spill's runs and the report files count against it.
    pub fn budget(&self) -> &DiskBudget {
        &self.budget
    }

    /// A new file at `path` (a [`Self::scratch_path`]) whose writes count against the budget.
    pub fn create_file(&self, path: &Path) -> Result<ChargedFile<'_>, SpillError> {
        self.budget.create(path).map_err(at(path))
    }

    /// Sorts and writes one batch of rows as a run (the error rows in their packed form:
    /// [`marketplace_reports::packed`]).
    pub fn add(&self, rows: HeldRows) -> Result<(), SpillError> {
        let HeldRows { errors, mut packed, mut rejects } = rows;
        for row in &errors {
            packed.push(&row.as_ref());
        }
        if !packed.is_empty() {
            let path = self.run_path("errors");
            let mut rows = packed.sorted();
            self.write_records(&path, |buf| Ok(rows.next().map(|row| buf.extend_from_slice(row)).is_some()))?;
            self.runs.lock().unwrap_or_else(|e| e.into_inner()).0.push(path);
        }
        if !rejects.is_empty() {
            rejects.sort_unstable();
            let path = self.run_path("rejects");
            let mut rows = rejects.iter();
            self.write_records(&path, |buf| Ok(rows.next().map(|row| packed::encode_reject(buf, row)).is_some()))?;
            self.runs.lock().unwrap_or_else(|e| e.into_inner()).1.push(path);
        }
        Ok(())
    }

    /// Merges every error run into one sorted run at `errors` and every reject run into one at
    /// `rejects` (the files a scale-out partition hands to the merge; [`Self::adopt`] reads them
    /// back as runs). Streams: memory is one reader per run.
    pub fn write_merged(&self, errors: &Path, rejects: &Path) -> Result<(), SpillError> {
        self.copy_merged(self.errors()?, errors, |buf, row| packed::encode(buf, &row.as_ref()))?;
        self.copy_merged(self.rejects()?, rejects, packed::encode_reject)
    }

    /// Writes a run file of records (u32 length, then the bytes), charged to the budget: `next`
    /// puts the next record into the (cleared) buffer, or says there is none.
    fn write_records(
        &self,
        path: &Path,
        mut next: impl FnMut(&mut Vec<u8>) -> Result<bool, SpillError>,
    ) -> Result<(), SpillError> {
        let mut out = BufWriter::with_capacity(1 << 16, self.create_file(path)?);
        let mut buf = Vec::with_capacity(256);
        loop {
            buf.clear();
            if !next(&mut buf)? {
                return out.flush().map_err(at(path));
            }
            out.write_all(&(buf.len() as u32).to_le_bytes()).map_err(at(path))?;
            out.write_all(&buf).map_err(at(path))?;
        }
    }

    fn copy_merged<T>(
        &self,
        mut merged: Merged<T>,
        path: &Path,
        encode: fn(&mut Vec<u8>, &T),
    ) -> Result<(), SpillError> {
        self.write_records(path, |buf| Ok(merged.next_row()?.map(|row| encode(buf, &row)).is_some()))
    }

    /// Takes sorted run files written by [`Self::write_merged`] (of another spill) as runs of
    /// this one; they are moved into this spill's directory, and removed with it. Files written
    /// elsewhere than through [`Self::create_file`] should be charged to the budget first.
    pub fn adopt(&self, errors: &Path, rejects: &Path) -> Result<(), SpillError> {
        let errors_run = self.run_path("errors");
        fs::rename(errors, &errors_run).map_err(at(errors))?;
        let rejects_run = self.run_path("rejects");
        fs::rename(rejects, &rejects_run).map_err(at(rejects))?;
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.0.push(errors_run);
        runs.1.push(rejects_run);
        Ok(())
    }

    /// A fresh path in the spill's directory (for a file to [`Self::adopt`]).
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        self.run_path(name)
    }

    fn run_path(&self, kind: &str) -> PathBuf {
        self.dir.join(format!("{kind}-{:06}.bin", self.next.fetch_add(1, Ordering::Relaxed)))
    }

    /// Every error row, in (report date, provider, `errors.csv`) order.
    pub fn errors(&self) -> Result<Merged<ErrorRow>, SpillError> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner()).0.clone();
        Merged::open(&runs, packed::decode, packed::error_order)
    }

    /// Every reject, in `rejected.csv` order.
    pub fn rejects(&self) -> Result<Merged<RejectRow>, SpillError> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner()).1.clone();
        Merged::open(&runs, packed::decode_reject, RejectRow::cmp)
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A k-way merge of sorted runs.
pub struct Merged<T> {
    readers: Vec<(PathBuf, BufReader<File>)>,
    heap: BinaryHeap<Reverse<Entry<T>>>,
    decode: fn(&[u8]) -> Option<T>,
    order: fn(&T, &T) -> std::cmp::Ordering,
    buf: Vec<u8>,
}

struct Entry<T> {
    row: T,
    run: usize,
    order: fn(&T, &T) -> std::cmp::Ordering,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.order)(&self.row, &other.row).then(self.run.cmp(&other.run))
    }
}

impl<T> Merged<T> {
    fn open(
        runs: &[PathBuf],
        decode: fn(&[u8]) -> Option<T>,
        order: fn(&T, &T) -> std::cmp::Ordering,
    ) -> Result<Self, SpillError> {
        let mut merged = Merged { readers: Vec::new(), heap: BinaryHeap::new(), decode, order, buf: Vec::new() };
        for path in runs {
            let file = File::open(path).map_err(at(path))?;
            merged.readers.push((path.clone(), BufReader::with_capacity(1 << 15, file)));
            let run = merged.readers.len() - 1;
            merged.refill(run)?;
        }
        Ok(merged)
    }

    fn refill(&mut self, run: usize) -> Result<(), SpillError> {
        let (path, reader) = &mut self.readers[run];
        let mut len = [0u8; 4];
        match reader.read_exact(&mut len) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            other => other.map_err(at(path))?,
        }
        self.buf.resize(u32::from_le_bytes(len) as usize, 0);
        reader.read_exact(&mut self.buf).map_err(at(path))?;
        let row = (self.decode)(&self.buf).ok_or_else(|| SpillError {
            path: path.clone(),
            source: io::Error::new(io::ErrorKind::InvalidData, "unreadable spilled row"),
        })?;
        self.heap.push(Reverse(Entry { row, run, order: self.order }));
        Ok(())
    }

    /// The next row in order.
    pub fn next_row(&mut self) -> Result<Option<T>, SpillError> {
        let Some(Reverse(Entry { row, run, .. })) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill(run)?;
        Ok(Some(row))
    }

    /// The next row, if `keep` says it belongs to the current file (it stays queued otherwise).
    pub fn next_if(&mut self, keep: impl Fn(&T) -> bool) -> Result<Option<T>, SpillError> {
        match self.heap.peek() {
            Some(Reverse(entry)) if keep(&entry.row) => self.next_row(),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use marketplace_reports::packed::error_order;

    fn row(provider: &str, at: &str, id: &str, position: u32) -> ErrorRow {
        ErrorRow::example(provider, at, id, position, "ünïcode\nline")
    }

    #[test]
    fn runs_merge_back_in_file_order_and_rows_round_trip() {
        let spill = Spill::new(DiskBudget::unlimited()).expect("spill");
        let a = vec![row("b", "2026-02-14T01:00:00.5Z", "d2", 0), row("a", "2026-02-14T03:00:00Z", "d1", 1)];
        let b = vec![row("a", "2026-02-14T02:00:00Z", "d9", 0), row("b", "2026-02-14T00:00:00Z", "d3", 0)];
        spill
            .add(HeldRows {
                errors: a.clone(),
                rejects: vec![RejectRow { deployment_id: "z".into(), reason: "r".into(), report_date: None }],
                ..HeldRows::default()
            })
            .expect("run");
        spill.add(HeldRows { errors: b.clone(), ..HeldRows::default() }).expect("run");
        let mut merged = spill.errors().expect("merge");
        let mut out = Vec::new();
        while let Some(r) = merged.next_row().expect("row") {
            out.push(r);
        }
        let mut expected: Vec<ErrorRow> = a.into_iter().chain(b).collect();
        expected.sort_by(error_order);
        assert_eq!(out, expected);
        assert_eq!(out.iter().map(|r| r.deployment_id.as_str()).collect::<Vec<_>>(), ["d9", "d1", "d3", "d2"]);
        let mut rejects = spill.rejects().expect("rejects");
        assert_eq!(rejects.next_row().expect("row").map(|r| r.deployment_id), Some("z".into()));
        // A partition's hand-over: one merged run per kind, adopted by another spill.
        let merge = Spill::new(DiskBudget::unlimited()).expect("spill");
        let (e, r) = (merge.scratch_path("in-errors"), merge.scratch_path("in-rejects"));
        spill.write_merged(&e, &r).expect("merged runs");
        merge.adopt(&e, &r).expect("adopt");
        merge
            .add(HeldRows { errors: vec![row("a", "2026-02-14T00:30:00Z", "d0", 0)], ..HeldRows::default() })
            .expect("run");
        let mut both = merge.errors().expect("merge");
        let mut ids = Vec::new();
        while let Some(r) = both.next_row().expect("row") {
            ids.push(r.deployment_id);
        }
        assert_eq!(ids, ["d0", "d9", "d1", "d3", "d2"]);
        assert_eq!(
            merge.rejects().expect("rejects").next_row().expect("row").map(|r| r.deployment_id),
            Some("z".into())
        );
        let dir = spill.dir.clone();
        drop(spill);
        assert!(!dir.exists(), "the spill cleans up after itself");
    }

    #[test]
    fn a_living_spill_is_never_taken_for_an_abandoned_one() {
        let spill = Spill::new(DiskBudget::unlimited()).expect("spill");
        spill
            .add(HeldRows { errors: vec![row("a", "2026-02-14T00:30:00Z", "d0", 0)], ..HeldRows::default() })
            .expect("run");
        // Another run starting now (its own spill sweeps the temporary directory) leaves it be.
        let other = Spill::new(DiskBudget::unlimited()).expect("another spill");
        crate::disk::remove_abandoned_spills(&std::env::temp_dir());
        assert!(spill.dir.join(OWNER_LOCK).exists() && other.dir.exists());
        assert_eq!(spill.errors().expect("merge").next_row().expect("row").map(|r| r.deployment_id), Some("d0".into()));
        assert_eq!(spill.budget().peak(), 3 * BLOCK, "its directory, lock file and one run");
    }
}

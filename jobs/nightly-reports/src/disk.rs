//! The job's local disk (`/tmp` on Lambda): how much a run may write there, the one error a
//! full disk is, and what earlier attempts left behind.
//!
//! A run has two things on the local disk at once: its spill (every error and reject row as
//! sorted runs, [`crate::spill`]; on a scale-out merge the partitions' runs) and its report
//! files (`<out>/<date>/`). The spill is read while the files are written and again while the
//! emails go out, so the peak is the sum. docs/performance.md, "Local disk", has the bytes per
//! row measured and the size at scale.
//!
//! * [`DiskBudget`]: what a run may write, from `EPHEMERAL_STORAGE_MB` (template.yaml sets it
//!   and the function's `EphemeralStorage` from one parameter, `ReportsEphemeralStorageMB`),
//!   counted in file-system blocks. A write past it fails like the file system's own "no space
//!   left on device" (`io::ErrorKind::StorageFull`); [`full_disk`] turns either into
//!   [`DiskFull`]. Both happen while aggregating or writing files, before anything is stored in
//!   the `Reports` table or S3 or emailed (`crate::app::publish` writes every local file first).
//! * [`remove_abandoned_spills`]: a spill is removed when it is dropped, but a Lambda timeout or
//!   a killed process never drops it, and a warm Lambda sandbox keeps `/tmp` between
//!   invocations. Each spill holds an exclusive lock on a file inside its directory for its whole
//!   life; the kernel releases it when the process ends, however it ends. A directory whose lock
//!   can be taken is abandoned. Not by process id: a Lambda sandbox restarted after a timeout
//!   may run its new process under the old one's id, and tests run many spills in one process. Not by
//!   age alone: a dev machine may run two CLI runs side by side, and an abandoned spill should
//!   not hold the disk for 15 minutes.
//! * [`clear_earlier_outputs`]: on Lambda the report files of an invocation are uploaded by that
//!   invocation; a warm sandbox would otherwise keep every night's files in `/tmp`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// The file-system block: a file takes its size rounded up to whole blocks, a directory one.
pub const BLOCK: u64 = 4096;

/// The variable with the run's local-disk budget in MiB (Lambda's `EphemeralStorage.Size`).
pub const BUDGET_VARIABLE: &str = "EPHEMERAL_STORAGE_MB";

/// Name prefix of a spill directory under the temporary directory.
pub const SPILL_PREFIX: &str = "nightly-reports-spill-";

/// The lock file inside a spill directory, held by the spill's owner.
pub const OWNER_LOCK: &str = "owner.lock";

/// The longest run (Lambda's 15-minute limit): a spill directory still being set up (no lock
/// yet) that is older than this was abandoned.
pub const LONGEST_RUN: Duration = Duration::from_secs(15 * 60);

/// How many bytes a run may have on the local disk, and how many it has (in whole blocks).
#[derive(Debug, Default)]
pub struct DiskBudget {
    limit: Option<u64>,
    used: AtomicU64,
    peak: AtomicU64,
}

/// A write past the budget (the payload of its `StorageFull` error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the run's local-disk budget is used up: {needed} bytes needed of {limit}")]
pub struct OverBudget {
    /// Bytes the run would have on disk with this write.
    pub needed: u64,
    /// The budget.
    pub limit: u64,
}

impl DiskBudget {
    /// No limit but the file system's own (the peak is still counted).
    pub fn unlimited() -> Self {
        DiskBudget::default()
    }

    /// At most `bytes`.
    pub fn limited(bytes: u64) -> Self {
        DiskBudget { limit: Some(bytes), ..DiskBudget::default() }
    }

    /// The budget [`BUDGET_VARIABLE`] sets (MiB), unlimited when it is not set.
    pub fn from_env() -> io::Result<Self> {
        Self::from_setting(std::env::var(BUDGET_VARIABLE).ok().as_deref())
    }

    /// The budget of a [`BUDGET_VARIABLE`] value.
    pub fn from_setting(mib: Option<&str>) -> io::Result<Self> {
        let Some(mib) = mib.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(DiskBudget::unlimited());
        };
        match mib.parse::<u64>() {
            Ok(mib) if mib > 0 => Ok(DiskBudget::limited(mib << 20)),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{BUDGET_VARIABLE} must be a whole number of MiB (the function's EphemeralStorage), not `{mib}`"
                ),
            )),
        }
    }

    /// The limit in bytes, if any.
    pub fn limit(&self) -> Option<u64> {
        self.limit
    }

    /// The most bytes the run had on disk at once so far.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Takes `bytes` more, or fails with `StorageFull` (payload [`OverBudget`]) and takes nothing.
    pub fn charge(&self, bytes: u64) -> io::Result<()> {
        let needed = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(limit) = self.limit.filter(|limit| needed > *limit) {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(io::Error::new(io::ErrorKind::StorageFull, OverBudget { needed, limit }));
        }
        self.peak.fetch_max(needed, Ordering::Relaxed);
        Ok(())
    }

    /// Takes a new file of `len` bytes.
    pub fn charge_file(&self, len: u64) -> io::Result<()> {
        self.charge(len.div_ceil(BLOCK) * BLOCK)
    }

    /// A new file at `path` whose writes are charged to this budget as they go.
    pub fn create(&self, path: &Path) -> io::Result<ChargedFile<'_>> {
        Ok(ChargedFile { file: File::create(path)?, budget: self, written: 0, charged: 0 })
    }
}

/// A file whose writes are charged to a [`DiskBudget`] a block at a time (wrap it in a
/// `BufWriter`: one charge per buffer, not per record).
#[derive(Debug)]
pub struct ChargedFile<'a> {
    file: File,
    budget: &'a DiskBudget,
    written: u64,
    charged: u64,
}

impl Write for ChargedFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let blocks = (self.written + buf.len() as u64).div_ceil(BLOCK) * BLOCK;
        if blocks > self.charged {
            self.budget.charge(blocks - self.charged)?;
            self.charged = blocks;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The local disk is full: the run's budget or the file system. Nothing was stored or sent.
#[derive(Debug, thiserror::Error)]
#[error(
    "the local disk is full ({}) writing {}: nothing was stored or sent; give the job more local \
     disk (the ReportsEphemeralStorageMB parameter of template.yaml: the function's EphemeralStorage \
     and its EPHEMERAL_STORAGE_MB budget, at most 10240; docs/performance.md, \"Local disk\") or run \
     fewer dates at once, then run the dates again",
    match .over { Some(o) => format!("{} bytes needed, the budget is {}", o.needed, o.limit), None => "no space left on the file system".to_owned() },
    .path.display()
)]
pub struct DiskFull {
    /// The file or directory that could not be written.
    pub path: PathBuf,
    /// The budget it would have passed; `None` when the file system itself was full.
    pub over: Option<OverBudget>,
}

/// The [`DiskFull`] behind an I/O error at `path`, when a full disk (budget, file system or
/// quota) is what it is.
pub fn full_disk(path: &Path, error: &io::Error) -> Option<DiskFull> {
    if !matches!(error.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded) {
        return None;
    }
    let over = error.get_ref().and_then(|e| e.downcast_ref::<OverBudget>()).copied();
    Some(DiskFull { path: path.to_owned(), over })
}

/// Removes the spill directories under `temp` whose owner is gone (see the module docs); returns
/// how many. Best effort: an entry that cannot be read or removed is left for the next run.
pub fn remove_abandoned_spills(temp: &Path) -> usize {
    let Ok(entries) = fs::read_dir(temp) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let setting_up = name.strip_prefix('.').is_some_and(|n| n.starts_with(SPILL_PREFIX));
        if !(setting_up || name.starts_with(SPILL_PREFIX)) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        if abandoned(&dir, setting_up) && fs::remove_dir_all(&dir).is_ok() {
            tracing::info!(dir = %dir.display(), "removed the spill of an earlier attempt");
            removed += 1;
        }
    }
    removed
}

/// Whether the spill directory `dir` has no living owner. A directory is named only once its
/// owner holds the lock ([`crate::spill::Spill::new`]); one still being set up (`setting_up`,
/// a dot name) or without a lock file (an older job) counts as abandoned after [`LONGEST_RUN`].
fn abandoned(dir: &Path, setting_up: bool) -> bool {
    let old = || {
        fs::metadata(dir)
            .and_then(|m| m.modified())
            .is_ok_and(|at| SystemTime::now().duration_since(at).is_ok_and(|age| age > LONGEST_RUN))
    };
    if setting_up {
        return old();
    }
    match File::open(dir.join(OWNER_LOCK)) {
        // Taken: the owner is gone (its lock went with its process). Held until the removal.
        Ok(lock) => lock.try_lock().is_ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => old(),
        Err(_) => false,
    }
}

/// Removes what earlier invocations left in the Lambda's out directory `out`: date directories
/// (`YYYY-MM-DD`), their staging and replaced copies (`.YYYY-MM-DD.tmp-<pid>`, `.old-<pid>`) and
/// `statements/`. Nothing else: a misconfigured `REPORTS_OUT_DIR` loses no other file. Only for
/// the Lambda (one invocation at a time per sandbox, every file already uploaded by the
/// invocation that wrote it), never for the command line's `--out`. Returns how many entries
/// were removed; best effort.
pub fn clear_earlier_outputs(out: &Path) -> usize {
    let Ok(entries) = fs::read_dir(out) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_report_output(name) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(out = %out.display(), removed, "removed the report files of earlier invocations");
    }
    removed
}

fn is_report_output(name: &str) -> bool {
    let is_date = |s: &str| s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok();
    if name == "statements" || is_date(name) {
        return true;
    }
    let Some(hidden) = name.strip_prefix('.') else { return false };
    hidden
        .split_once('.')
        .is_some_and(|(date, rest)| is_date(date) && (rest.starts_with("tmp-") || rest.starts_with("old-")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A private directory standing in for `/tmp` or the out directory.
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("disk-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn a_write_past_the_budget_fails_as_a_full_disk_and_takes_nothing() {
        let budget = DiskBudget::limited(3 * BLOCK);
        budget.charge_file(1).expect("one block");
        budget.charge_file(BLOCK + 1).expect("two more");
        let refused = budget.charge_file(1).expect_err("a fourth block is past the budget");
        assert_eq!(refused.kind(), io::ErrorKind::StorageFull);
        let full = full_disk(Path::new("/tmp/x.csv"), &refused).expect("a full disk");
        assert_eq!(full.over, Some(OverBudget { needed: 4 * BLOCK, limit: 3 * BLOCK }));
        let message = full.to_string();
        for needle in ["/tmp/x.csv", "nothing was stored or sent", "EphemeralStorage", "EPHEMERAL_STORAGE_MB"] {
            assert!(message.contains(needle), "{message}");
        }
        assert_eq!(budget.peak(), 3 * BLOCK, "the refused block was not taken");
        // The file system's own "no space left" (and a quota) is the same error, without a budget.
        let enospc = io::Error::from(io::ErrorKind::StorageFull);
        assert_eq!(full_disk(Path::new("/tmp/y"), &enospc).map(|f| f.over), Some(None));
        assert!(full_disk(Path::new("/tmp/y"), &io::Error::from(io::ErrorKind::QuotaExceeded)).is_some());
        assert!(full_disk(Path::new("/tmp/y"), &io::Error::from(io::ErrorKind::PermissionDenied)).is_none());
    }

    #[test]
    fn a_charged_file_takes_its_size_in_whole_blocks_as_it_grows() {
        let dir = scratch("charged");
        let budget = DiskBudget::limited(2 * BLOCK);
        let mut file = budget.create(&dir.join("run.bin")).expect("create");
        file.write_all(&[0; 10]).expect("first block");
        assert_eq!(budget.peak(), BLOCK);
        file.write_all(&[0; BLOCK as usize]).expect("into the second block");
        assert_eq!(budget.peak(), 2 * BLOCK);
        let refused = file.write_all(&[0; BLOCK as usize]).expect_err("a third block");
        assert!(full_disk(&dir, &refused).is_some_and(|f| f.over.is_some()));
        assert_eq!(fs::metadata(dir.join("run.bin")).expect("file").len(), 10 + BLOCK, "nothing past the budget");
        fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn ephemeral_storage_mb_sets_the_budget_and_a_bad_value_is_refused() {
        assert_eq!(DiskBudget::from_setting(None).expect("unset").limit(), None);
        assert_eq!(DiskBudget::from_setting(Some(" ")).expect("empty").limit(), None);
        assert_eq!(DiskBudget::from_setting(Some("4096")).expect("4 GiB").limit(), Some(4096 << 20));
        for bad in ["0", "-1", "4 GB", "1.5"] {
            let refused = DiskBudget::from_setting(Some(bad)).expect_err(bad);
            assert!(refused.to_string().contains(BUDGET_VARIABLE), "{refused}");
        }
    }

    #[test]
    fn spills_whose_owner_is_gone_are_removed_and_living_ones_kept() {
        let temp = scratch("sweep");
        let spill = |name: &str| {
            let dir = temp.join(name);
            fs::create_dir(&dir).expect("dir");
            fs::write(dir.join("errors-000000.bin"), b"rows").expect("run");
            File::create(dir.join(OWNER_LOCK)).expect("lock file")
        };
        // What a killed or timed-out attempt leaves: its lock file, no longer locked.
        drop(spill("nightly-reports-spill-41-0"));
        // A run in progress (another process, or another spill of this one) holds its lock.
        let living = spill("nightly-reports-spill-42-0");
        living.lock().expect("the owner's lock");
        // Being set up under its dot name (locked a moment later): left alone while young.
        fs::create_dir(temp.join(".nightly-reports-spill-43-0")).expect("setting up");
        // Not a spill.
        fs::create_dir(temp.join("nightly-reports-golden-44")).expect("other dir");

        assert_eq!(remove_abandoned_spills(&temp), 1);
        let mut left: Vec<_> = fs::read_dir(&temp)
            .expect("temp")
            .map(|e| e.expect("entry").file_name().into_string().expect("name"))
            .collect();
        left.sort();
        assert_eq!(left, [".nightly-reports-spill-43-0", "nightly-reports-golden-44", "nightly-reports-spill-42-0"]);
        // Its owner gone too, the second one goes with the next sweep.
        drop(living);
        assert_eq!(remove_abandoned_spills(&temp), 1);
        assert!(!temp.join("nightly-reports-spill-42-0").exists());
        fs::remove_dir_all(&temp).expect("clean up");
    }

    #[test]
    fn a_warm_lambda_clears_the_report_files_of_earlier_invocations_and_nothing_else() {
        let out = scratch("outputs");
        for dir in
            ["2026-02-13/providers/p", "2026-02-14", ".2026-02-15.tmp-8", ".2026-02-14.old-8", "statements/2026-01"]
        {
            fs::create_dir_all(out.join(dir)).expect("dir");
            fs::write(out.join(dir).join("f.csv"), "x").expect("file");
        }
        fs::create_dir_all(out.join("keep-me")).expect("dir");
        fs::write(out.join("2026-02-16"), "a file, not a date directory").expect("file");
        assert_eq!(clear_earlier_outputs(&out), 5);
        let mut left: Vec<_> = fs::read_dir(&out)
            .expect("out")
            .map(|e| e.expect("entry").file_name().into_string().expect("name"))
            .collect();
        left.sort();
        assert_eq!(left, ["2026-02-16", "keep-me"]);
        assert_eq!(clear_earlier_outputs(&out.join("missing")), 0, "no out directory yet");
        fs::remove_dir_all(&out).expect("clean up");
    }
}

//! A run on a local disk too small for it (no AWS): a generated export through the real export
//! source, spill and file sink within a small budget fails with the one full-disk error and
//! leaves no file behind, whether the spill or the report files hit the limit; the command
//! line takes its budget from `EPHEMERAL_STORAGE_MB` as the Lambda does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use marketplace_reports::delivery::Resend;
use marketplace_reports::ReportPlan;
use nightly_reports::app::{publish, AppError};
use nightly_reports::cli::Delivery;
use nightly_reports::disk::{DiskBudget, DiskFull};
use nightly_reports::generate::{write_export, GeneratorConfig};
use nightly_reports::pipeline::{aggregate_export_source, RunSummary};
use nightly_reports::spill::Spill;

const DATE: &str = "2026-02-14";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nightly-reports-disk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// An export of `count` generated logs of [`DATE`] (about 0.4 error rows a log, 50 providers).
fn export(dir: &Path, count: u64) -> PathBuf {
    let date = DATE.parse().expect("date");
    let config = GeneratorConfig { seed: 7, count, from: date, to: date, providers: 50, reject_per_million: 1000 };
    let path = dir.join("export.json");
    write_export(&config, &path, 0, false).expect("export written");
    path
}

/// Aggregates `export` into a spill within `budget`, then writes the files under `out` (nothing
/// stored, nothing sent); the spill's peak after aggregating, and the run's outcome.
async fn run(export: &Path, out: &Path, budget: DiskBudget) -> (u64, Result<RunSummary, AppError>) {
    let spill = Spill::new(budget).expect("spill");
    let plan = ReportPlan::single(DATE.parse().expect("date"));
    let agg = match aggregate_export_source(export, plan, None, Some(&spill)) {
        Ok(agg) => agg,
        Err(e) => return (spill.budget().peak(), Err(e.into())),
    };
    let spilled = spill.budget().peak();
    let delivery = Delivery { store: false, send: false, resend: false };
    (spilled, publish(agg, out, delivery, &Resend::Nothing, Some(&spill), None, None).await)
}

/// Every file under `dir`, relative path → bytes (hidden staging directories included).
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).expect("readable"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|e| e.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

fn over_budget(result: Result<RunSummary, AppError>) -> DiskFull {
    match result {
        Err(AppError::DiskFull(full)) => {
            assert!(full.over.is_some(), "the budget, not the file system: {full}");
            full
        }
        other => panic!("expected a full disk, got {other:?}"),
    }
}

#[tokio::test]
async fn a_disk_too_small_for_the_report_files_fails_the_run_leaving_no_file() {
    let dir = scratch("files");
    let export = export(&dir, 3_000);
    // What the run needs: its spill after aggregating, then the spill and the files.
    let (spilled, whole) = run(&export, &dir.join("whole"), DiskBudget::unlimited()).await;
    let summary = whole.expect("an unlimited run");
    let peak = summary.local_disk_peak_bytes.expect("the peak is reported");
    let written = tree(&dir.join("whole"));
    assert!(written.keys().any(|k| k.ends_with("errors.csv")), "the export has error rows");
    assert!(peak > spilled + 100_000, "the files need room of their own: {spilled} then {peak}");

    // Room for the spill and half the files: the file sink stops the run.
    let limit = spilled + (peak - spilled) / 2;
    let out = dir.join("out");
    let full = over_budget(run(&export, &out, DiskBudget::limited(limit)).await.1);
    assert!(full.path.starts_with(&out), "a report file hit the limit: {}", full.path.display());
    assert_eq!(entries(&out), Vec::<String>::new(), "no date directory, no staging directory");

    // A re-run of a written date that fails the same way leaves the earlier files whole.
    let full = over_budget(run(&export, &dir.join("whole"), DiskBudget::limited(limit)).await.1);
    assert!(full.to_string().contains("nothing was stored or sent"), "{full}");
    assert_eq!(tree(&dir.join("whole")), written);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[tokio::test]
async fn a_disk_too_small_for_the_spill_fails_while_aggregating() {
    let dir = scratch("spill");
    let export = export(&dir, 3_000);
    let out = dir.join("out");
    // The spill's directory and lock file fit; its first run of rows does not.
    let (_, result) = run(&export, &out, DiskBudget::limited(3 * nightly_reports::disk::BLOCK)).await;
    let full = over_budget(result);
    assert!(full.path.to_string_lossy().contains("nightly-reports-spill-"), "{}", full.path.display());
    assert!(!out.exists(), "no report file was begun");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn the_command_line_takes_its_budget_from_ephemeral_storage_mb() {
    let dir = scratch("cli");
    // 10,000 logs: ~4,000 error rows, about 2 MiB of spill and files.
    let export = export(&dir, 10_000);
    let out = dir.join("out");
    let run = |mib: &str| {
        Command::new(env!("CARGO_BIN_EXE_nightly-reports"))
            .args(["--date", DATE, "--rejects-ok", "--from-export"])
            .arg(&export)
            .arg("--out")
            .arg(&out)
            .env("EPHEMERAL_STORAGE_MB", mib)
            .output()
            .expect("runs")
    };
    let refused = run("1");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the local disk is full") && stderr.contains("budget is 1048576"), "{stderr}");
    assert!(entries(&out).is_empty(), "nothing written: {:?}", entries(&out));
    let done = run("64");
    assert_eq!(done.status.code(), Some(0), "{}", String::from_utf8_lossy(&done.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(done.stdout.rsplit(|b| *b == b'\n').find(|l| !l.is_empty()).expect("summary line"))
            .expect("JSON summary");
    let peak = summary["local_disk_peak_bytes"].as_u64().expect("the peak in the summary");
    assert!(peak > 1 << 20 && peak < 64 << 20, "{peak}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

//! The golden example (fixtures/reports-2026-02-14, copied from the shared golden data) through
//! the real export source, aggregator and file sink, in-process and as separate processes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use marketplace_reports::ReportPlan;
use nightly_reports::pipeline::{aggregate_export_source, write_reports};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports-2026-02-14")
}

fn day() -> chrono::NaiveDate {
    "2026-02-14".parse().expect("date")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nightly-reports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).expect("readable"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn rejected_ids(csv: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(csv).lines().skip(1).map(|l| l.split(',').next().unwrap_or_default().to_owned()).collect()
}

fn assert_matches_golden(written: &Path) {
    let expected = tree(&fixture().join("expected/2026-02-14"));
    let actual = tree(written);
    assert_eq!(actual.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (path, bytes) in &expected {
        if path == "rejected.csv" {
            assert_eq!(rejected_ids(&actual[path]), rejected_ids(bytes), "rejected ids");
        } else {
            assert_eq!(
                String::from_utf8_lossy(&actual[path]),
                String::from_utf8_lossy(bytes),
                "{path} differs from the golden file"
            );
        }
    }
}

#[test]
fn golden_export_reproduces_expected_files_byte_for_byte() {
    let out = scratch("golden");
    let agg =
        aggregate_export_source(&fixture().join("deployment-logs-export.json"), ReportPlan::single(day()), None, None)
            .expect("aggregates");
    assert_eq!(agg.stats().rejected, 2);
    write_reports(&out, &agg.finish().expect("finishes")).expect("writes");
    assert_matches_golden(&out.join("2026-02-14"));
}

#[test]
fn rerun_rewrites_byte_identical_files_and_drops_stale_ones() {
    let out = scratch("rerun");
    let run = || {
        let agg = aggregate_export_source(
            &fixture().join("deployment-logs-export.json"),
            ReportPlan::single(day()),
            None,
            None,
        )
        .expect("aggregates");
        write_reports(&out, &agg.finish().expect("finishes")).expect("writes");
        tree(&out.join("2026-02-14"))
    };
    let first = run();
    std::fs::create_dir_all(out.join("2026-02-14/providers/stale")).expect("mkdir");
    std::fs::write(out.join("2026-02-14/providers/stale/deployments.csv"), "old").expect("write");
    assert_eq!(run(), first);
}

#[test]
fn gzipped_split_export_directory_gives_the_same_reports() {
    let dir = scratch("gz");
    let export = dir.join("export/data");
    std::fs::create_dir_all(&export).expect("mkdir");
    std::fs::write(dir.join("export/manifest-summary.json"), "{\"not\": \"an item\"}\n").expect("manifest");
    let text = std::fs::read_to_string(fixture().join("deployment-logs-export.json")).expect("fixture");
    for (k, chunk) in text.lines().collect::<Vec<_>>().chunks(10).enumerate() {
        let f = std::fs::File::create(export.join(format!("part-{k}.json.gz"))).expect("create");
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        for line in chunk {
            writeln!(gz, "{line}").expect("write");
        }
        gz.finish().expect("finish");
    }
    let agg = aggregate_export_source(&dir.join("export"), ReportPlan::single(day()), None, None).expect("aggregates");
    write_reports(&dir.join("out"), &agg.finish().expect("finishes")).expect("writes");
    assert_matches_golden(&dir.join("out/2026-02-14"));
}

#[test]
fn malformed_export_line_is_rejected_with_its_location_not_fatal() {
    let dir = scratch("malformed");
    let mut text = std::fs::read_to_string(fixture().join("deployment-logs-export.json")).expect("fixture");
    text.push_str("{\"Item\": not json}\n\n");
    std::fs::write(dir.join("export.json"), text).expect("write");
    let agg =
        aggregate_export_source(&dir.join("export.json"), ReportPlan::single(day()), None, None).expect("aggregates");
    assert_eq!(agg.stats().rejected, 3);
    let reports = agg.finish().expect("finishes");
    assert!(reports[0].rejected.iter().any(|r| r.deployment_id.ends_with("export.json line 35")));
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nightly-reports"))
}

#[test]
fn cli_writes_golden_reports_and_exit_status_signals_rejects() {
    let out = scratch("cli");
    let export = fixture().join("deployment-logs-export.json");
    let status = bin()
        .args(["--date", "2026-02-14", "--from-export"])
        .arg(&export)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("runs");
    assert_eq!(status.status.code(), Some(2), "{}", String::from_utf8_lossy(&status.stderr));
    let summary: serde_json::Value = serde_json::from_slice(status.stdout.trim_ascii()).expect("json summary");
    assert_eq!(summary["rejected"], 2);
    assert_matches_golden(&out.join("2026-02-14"));
    let ok = bin()
        .args(["--date", "2026-02-14", "--rejects-ok", "--from-export"])
        .arg(&export)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("runs");
    assert!(ok.success());
}

#[test]
fn partitions_run_as_separate_processes_merge_into_byte_identical_reports() {
    let dir = scratch("partitions");
    // A generated multi-file export over a month, plus the golden file, read for a date range.
    let gen = bin()
        .args(["generate", "--seed", "9", "--count", "3000", "--from", "2026-02-01", "--to", "2026-02-16"])
        .args(["--providers", "7", "--reject-per-million", "5000", "--files", "5", "--gzip", "--out"])
        .arg(dir.join("export"))
        .status()
        .expect("generator runs");
    assert!(gen.success());
    std::fs::copy(fixture().join("deployment-logs-export.json"), dir.join("export/golden.json")).expect("copy");
    let dates = ["--dates", "2026-02-13..2026-02-15", "--rejects-ok"];

    let single = bin()
        .args(dates)
        .arg("--from-export")
        .arg(dir.join("export"))
        .arg("--out")
        .arg(dir.join("single"))
        .output()
        .expect("runs");
    assert!(single.status.success(), "{}", String::from_utf8_lossy(&single.stderr));

    let n = 3;
    let children: Vec<_> = (0..n)
        .map(|i| {
            bin()
                .args(dates)
                .arg("--from-export")
                .arg(dir.join("export"))
                .args(["--partition", &format!("{i}/{n}"), "--partial-out"])
                .arg(dir.join(format!("partial-{i}.json")))
                .spawn()
                .expect("spawns")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("waits").success());
    }
    let mut merge = bin();
    merge.args(["merge", "--rejects-ok", "--out"]).arg(dir.join("merged"));
    for i in 0..n {
        merge.arg(dir.join(format!("partial-{i}.json")));
    }
    let merged = merge.output().expect("merge runs");
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));

    let (a, b) = (tree(&dir.join("single")), tree(&dir.join("merged")));
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 3 * 7, "expected many files, got {}", a.len());
    assert_eq!(a, b, "merged output differs from a single run");
    // The same summary, but for the local disk: a merge of partial files holds no spill.
    let summary = |stdout: &[u8]| {
        let mut summary: serde_json::Value = serde_json::from_slice(stdout).expect("JSON summary");
        summary.as_object_mut().map(|s| s.remove("local_disk_peak_bytes"));
        summary
    };
    assert_eq!(summary(&single.stdout), summary(&merged.stdout), "same summary");
}

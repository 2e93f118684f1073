//! Throughput benchmark: generate N synthetic deployment logs into an export file, then run the
//! report job's export source + aggregation + CSV sink on it and print records/s, wall time and
//! peak RSS (`VmHWM`).
//!
//! `cargo run --release -p nightly-reports --bin bench -- [COUNT] [--gzip] [--keep]`
//! (default 1,000,000 records, February 2026, 50 providers; report date 2026-02-28, so
//! month-to-date reads every record).

use std::time::Instant;

use anyhow::Context;
use marketplace_domain::report::ReportPlan;
use nightly_reports::generate::{write_export, GeneratorConfig};
use nightly_reports::pipeline::{aggregate_export_source, write_reports};
use nightly_reports::rss::peak_rss_kib;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let gzip = args.iter().any(|a| a == "--gzip");
    let keep = args.iter().any(|a| a == "--keep");
    let dir = std::env::temp_dir().join(format!("nightly-reports-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let export = dir.join(if gzip { "export.json.gz" } else { "export.json" });
    let config = GeneratorConfig {
        seed: 42,
        count,
        from: chrono::NaiveDate::from_ymd_opt(2026, 2, 1).context("date")?,
        to: chrono::NaiveDate::from_ymd_opt(2026, 2, 28).context("date")?,
        providers: 50,
        reject_per_million: 100,
    };
    let t = Instant::now();
    write_export(&config, &export, 0, gzip)?;
    let gen_secs = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&export)?.len();
    let rss_before = peak_rss_kib().unwrap_or(0);
    println!(
        "generated {count} records ({:.1} MiB{}) in {gen_secs:.2} s; peak RSS so far {rss_before} KiB",
        size as f64 / 1048576.0,
        if gzip { ", gzip" } else { "" }
    );

    let t = Instant::now();
    let plan = ReportPlan::single(config.to);
    let agg = aggregate_export_source(&export, plan, None)?;
    let stats = agg.stats();
    let groups = agg.group_count();
    let agg_secs = t.elapsed().as_secs_f64();
    let reports = agg.finish()?;
    write_reports(&dir.join("out"), &reports)?;
    let secs = t.elapsed().as_secs_f64();
    let rss = peak_rss_kib().unwrap_or(0);
    println!(
        "job: {} records ({} counted, {} rejected) → {groups} (date, group) totals, {} provider reports",
        stats.items,
        stats.counted,
        stats.rejected,
        reports.iter().map(|r| r.providers.len()).sum::<usize>()
    );
    println!("aggregate {agg_secs:.2} s, total wall {secs:.2} s, {:.0} records/s", stats.items as f64 / secs);
    println!("peak RSS {rss} KiB ({:.1} MiB)", rss as f64 / 1024.0);
    if !keep {
        std::fs::remove_dir_all(&dir)?;
    } else {
        println!("kept {}", dir.display());
    }
    Ok(())
}

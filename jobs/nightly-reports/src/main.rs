//! `nightly-reports`: wiring only — parse arguments, run the pipeline stages from the library,
//! print the JSON summary, map rejects to the exit status (see `nightly_reports::cli`).

use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use marketplace_domain::report::ReportPlan;
use nightly_reports::cli::{Cli, Command, Delivery, GenerateArgs};
use nightly_reports::generate::{write_export, GeneratorConfig};
use nightly_reports::pipeline::{aggregate_export_source, merge_partials, write_partial, write_reports, RunSummary};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (aggregator, out, delivery, rejects_ok) = match cli.command {
        Some(Command::Generate(args)) => return generate(&args).map(|()| ExitCode::SUCCESS),
        Some(Command::Merge(args)) => (
            merge_partials(&args.partials)?,
            args.out,
            args.delivery.resolve(false),
            args.delivery.rejects_ok,
        ),
        None => {
            let args = cli.run;
            let range = args.date_range();
            let plan = ReportPlan::new(range.first, range.last)?;
            let Some(path) = &args.from_export else {
                bail!("the DeploymentLogs table source is not wired yet; use --from-export PATH");
            };
            let agg = aggregate_export_source(path, plan, args.partition)?;
            if let Some(partial) = &args.partial_out {
                write_partial(&agg, partial)?;
                println!("{}", serde_json::to_string(&agg.stats())?);
                return Ok(ExitCode::SUCCESS);
            }
            (agg, args.out.clone(), args.delivery.resolve(false), args.delivery.rejects_ok)
        }
    };
    let stats = aggregator.stats();
    let reports = aggregator.finish()?;
    write_reports(&out, &reports).with_context(|| format!("writing reports under {}", out.display()))?;
    let summary = RunSummary::new(stats, &reports);
    if delivery != (Delivery { store: false, send: false, resend: false }) {
        bail!("storing and sending are not wired yet; run with --no-store --no-send");
    }
    println!("{}", serde_json::to_string(&summary)?);
    Ok(if summary.rejected > 0 && !rejects_ok { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let config = GeneratorConfig {
        seed: args.seed,
        count: args.count,
        from: args.from,
        to: args.to,
        providers: args.providers,
        reject_per_million: args.reject_per_million,
    };
    let Some(out) = &args.out else {
        bail!("loading into the table is not wired yet; give --out");
    };
    let files = write_export(&config, out, args.files, args.gzip).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {} item(s) to {} file(s)", args.count, files.len());
    Ok(())
}

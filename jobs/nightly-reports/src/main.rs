//! `nightly-reports`: wiring only. Under Lambda (`AWS_LAMBDA_RUNTIME_API` set) it handles the
//! EventBridge Scheduler event; otherwise it is the command line described in
//! `nightly_reports::cli` (exit 0, 2 when items were rejected, 1 on failure).

// The Lambda handler's future (SDK calls nested in the report pipeline) is deep.
#![recursion_limit = "256"]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use lambda_runtime::{service_fn, LambdaEvent};
use marketplace_reports::delivery::{InvocationDeadline, Resend};
use marketplace_reports::ReportPlan;
use nightly_reports::app::{
    add_stored_sums, handle_scheduled, publish, refuse_if_later_dates_stored, run_job, run_mpa_campaign, AppError,
    AwsContext, JobRequest, Mode, ScheduledRun, Source,
};
use nightly_reports::cli::{Cli, Command, GenerateArgs};
use nightly_reports::generate::{generate, write_export, GeneratorConfig};
use nightly_reports::metrics::emf_line;
use nightly_reports::pipeline::merge_partials;
use nightly_reports::statement_run::{month_before, run_statements, StatementRequest, StatementRunError};
use tracing_subscriber::prelude::*;

const DEFAULT_PARALLELISM: usize = 8;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        marketplace_aws::telemetry::init();
        return match lambda().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        };
    }
    let log_lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    tracing_subscriber::registry().with(log_lines.with_filter(marketplace_aws::telemetry::log_filter())).init();
    match cli(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn lambda() -> Result<(), lambda_runtime::Error> {
    let mut aws = AwsContext::from_env().await?;
    // Each invocation's deadline, so deliveries stop being started before Lambda cuts the run.
    let deadline = Arc::new(InvocationDeadline::default());
    aws.time_left = deadline.clone();
    let aws = &aws;
    let deadline = &deadline;
    let out = PathBuf::from(std::env::var("REPORTS_OUT_DIR").unwrap_or_else(|_| "/tmp/reports".into()));
    let out = &out;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        deadline.set(event.context.deadline);
        // A warm sandbox keeps /tmp: earlier invocations' report files go (they are uploaded).
        nightly_reports::disk::clear_earlier_outputs(out);
        let payload: ScheduledRun = serde_json::from_value(event.payload).context("the job's payload is malformed")?;
        let started = std::time::Instant::now();
        let result = handle_scheduled(&payload, aws, out, DEFAULT_PARALLELISM).await;
        // One embedded-metric-format record per run (nightly_reports::metrics), success or not.
        let (summary, failed) = match &result {
            Ok(summary) => (summary.clone(), 0),
            Err(AppError::Undelivered(summary)) => {
                (serde_json::to_value(summary.as_ref()).unwrap_or_default(), summary.failed_deliveries.len())
            }
            Err(AppError::Statement(StatementRunError::Incomplete(summary))) => {
                (serde_json::to_value(summary.as_ref()).unwrap_or_default(), summary.failed_deliveries.len())
            }
            Err(_) => (serde_json::Value::Null, 0),
        };
        let now_ms = chrono::Utc::now().timestamp_millis();
        // A partition alone is not a night's run: only whole runs and merges beat the heartbeat.
        // A monthly statement run is not a night's run either; its failed and in-doubt
        // deliveries feed the same alarms.
        let whole_run =
            result.is_ok() && !matches!(payload.mode, Mode::Partition | Mode::Statement | Mode::MpaCampaign);
        println!("{}", emf_line(&summary, failed, whole_run, started.elapsed(), now_ms));
        let result = result?;
        tracing::info!(mode = ?payload.mode, %result, "nightly reports done");
        Ok::<serde_json::Value, lambda_runtime::Error>(result)
    }))
    .await
}

async fn aws_if(needed: bool) -> anyhow::Result<Option<AwsContext>> {
    if !needed {
        return Ok(None);
    }
    Ok(Some(AwsContext::from_env().await.context("AWS settings (see nightly_reports::context)")?))
}

async fn cli(cli: Cli) -> anyhow::Result<ExitCode> {
    let (summary, rejects_ok) = match cli.command {
        Some(Command::Generate(args)) => return generate_logs(&args).await.map(|()| ExitCode::SUCCESS),
        Some(Command::Statement(args)) => {
            let aws = AwsContext::from_env().await.context("AWS settings (see nightly_reports::context)")?;
            let request = StatementRequest {
                month: args.month.unwrap_or_else(|| month_before(chrono::Utc::now())),
                out: args.out.clone(),
                send: !args.no_send,
                resend: args.resend(),
                scan_page_limit: None,
            };
            let summary = match run_statements(&request, &aws).await {
                Ok(summary) => summary,
                Err(StatementRunError::Incomplete(summary)) => {
                    println!("{}", serde_json::to_string(&summary)?);
                    return Err(StatementRunError::Incomplete(summary).into());
                }
                Err(e) => return Err(e.into()),
            };
            println!("{}", serde_json::to_string(&summary)?);
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::MpaCampaign(args)) => {
            let aws = AwsContext::from_env().await.context("AWS settings (see nightly_reports::context)")?;
            let resend = match args.resend_provider.is_empty() {
                true => Resend::Nothing,
                false => Resend::Providers(args.resend_provider.iter().cloned().collect()),
            };
            let summary = match run_mpa_campaign(&aws, &resend).await {
                Ok(summary) => summary,
                Err(AppError::Undelivered(summary)) => {
                    println!("{}", serde_json::to_string(&summary)?);
                    return Err(AppError::Undelivered(summary).into());
                }
                Err(e) => return Err(e.into()),
            };
            println!("{}", serde_json::to_string(&summary)?);
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Merge(args)) => {
            let delivery = args.delivery.resolve(false);
            let aws = aws_if(delivery.store || delivery.send).await?;
            let mut agg = merge_partials(&args.partials)?;
            if agg.read_from() > agg.plan().read_from() {
                // Table partitions built on stored month sums: the merge adds them once.
                let aws = match &aws {
                    Some(aws) => aws,
                    None => &AwsContext::from_env().await.context("these partials build on stored month sums")?,
                };
                agg = add_stored_sums(&aws.reports, agg).await?;
            }
            if delivery.store {
                if let Some(aws) = &aws {
                    refuse_if_later_dates_stored(&aws.reports, agg.plan()).await?;
                }
            }
            let resend = Resend::from(delivery.resend);
            (publish(agg, &args.out, delivery, &resend, None, None, aws.as_ref()).await?, args.delivery.rejects_ok)
        }
        None => {
            let args = cli.run;
            let range = args.date_range();
            let source = match &args.from_export {
                Some(path) => Source::Export(path.clone()),
                None => Source::Table,
            };
            let request = JobRequest {
                plan: ReportPlan::new(range.first, range.last)?,
                delivery: args.delivery.resolve(source == Source::Table),
                source,
                partition: args.partition.zip(args.partial_out.clone()),
                out: args.out.clone(),
                parallelism: DEFAULT_PARALLELISM,
            };
            let aws = aws_if(request.needs_aws()).await?;
            (run_job(&request, &Resend::from(request.delivery.resend), aws.as_ref()).await?, args.delivery.rejects_ok)
        }
    };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(if summary.rejected > 0 && !rejects_ok { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

async fn generate_logs(args: &GenerateArgs) -> anyhow::Result<()> {
    let config = GeneratorConfig {
        seed: args.seed,
        count: args.count,
        from: args.from,
        to: args.to,
        providers: args.providers,
        reject_per_million: args.reject_per_million,
    };
    if args.to_table {
        let aws = AwsContext::from_env().await?;
        // The generator runs on its own thread and streams items through a bounded channel, so
        // loading any number of items holds at most a few batches in memory.
        let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
        let producer = std::thread::spawn(move || generate(&config, |item| tx.blocking_send(item)));
        let mut batch = Vec::with_capacity(1000);
        let mut loaded = 0;
        while let Some(item) = rx.recv().await {
            batch.push(item);
            if batch.len() == 1000 {
                loaded += aws.logs.load(std::mem::take(&mut batch)).await?;
            }
        }
        loaded += aws.logs.load(batch).await?;
        if producer.join().is_err() {
            bail!("the generator thread panicked");
        }
        eprintln!("loaded {loaded} item(s) into the DeploymentLogs table");
        return Ok(());
    }
    let Some(out) = &args.out else {
        bail!("give --out PATH or --to-table");
    };
    let files =
        write_export(&config, out, args.files, args.gzip).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {} item(s) to {} file(s)", args.count, files.len());
    Ok(())
}

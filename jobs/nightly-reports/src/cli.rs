//! Command-line interface.
//!
//! ```text
//! nightly-reports [--date D | --dates D1..D2] [--from-export PATH] [--out DIR]
//!                 [--no-store] [--no-send] [--store] [--send] [--resend]
//!                 [--partition i/N --partial-out FILE] [--rejects-ok]
//! nightly-reports merge PARTIAL... [--out DIR] [--store] [--send] [--resend] [--rejects-ok]
//! nightly-reports generate --count N --from D1 --to D2 --out PATH [--files K] [--gzip] [--seed S]
//! nightly-reports statement [--month YYYY-MM] [--out DIR] [--no-send] [--resend | --resend-provider ID...]
//! nightly-reports mpa-campaign [--resend-provider ID...]
//! ```
//!
//! `statement` runs the monthly statements of a closed month (default: last month, UTC) for every
//! provider with a published product: stored (table + S3) and emailed once per (month,
//! provider); `--no-send` stores only, `--resend` / `--resend-provider` send again even where
//! the ledger says sent (README, "Monthly statements").
//!
//! Storing and sending: with the table source both are on (switch off with `--no-store` /
//! `--no-send`); with `--from-export` and with `merge` both are **off** unless asked with
//! `--store` / `--send`, so a newcomer with no AWS at all just gets the CSVs. `--resend`
//! implies `--send` and sends again even where the delivery ledger says it was sent.
//!
//! Exit status: 0 when nothing was rejected, 2 when items were rejected (the reports are still
//! written; `--rejects-ok` turns this into 0), 1 on failure. The last stdout line is a JSON
//! summary (`{"dates":[...],"items":..,"rejected":..,...}`).

use std::path::PathBuf;
use std::str::FromStr;

use chrono::{Days, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};

use crate::partition::Partition;
use marketplace_reports::statement::Month;

/// `--dates D1..D2` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// First date.
    pub first: NaiveDate,
    /// Last date.
    pub last: NaiveDate,
}

impl FromStr for DateRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s.split_once("..").ok_or_else(|| format!("expected D1..D2, got `{s}`"))?;
        let first: NaiveDate = a.parse().map_err(|e| format!("`{a}`: {e}"))?;
        let last: NaiveDate = b.parse().map_err(|e| format!("`{b}`: {e}"))?;
        if first > last {
            return Err(format!("empty range `{s}`"));
        }
        Ok(DateRange { first, last })
    }
}

/// The program's arguments.
#[derive(Debug, Parser)]
#[command(
    name = "nightly-reports",
    version,
    about = "Nightly deployment reports: CSVs, report items and emails",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// `merge` or `generate`; without one, runs the report job.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Report-job arguments.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Merge partial aggregates (from `--partition` runs) and write the final outputs.
    Merge(MergeArgs),
    /// Generate synthetic deployment logs (export files, or items in the table).
    Generate(GenerateArgs),
    /// Monthly statements of a closed month: stored and emailed once per provider.
    Statement(StatementArgs),
    /// The MPA campaign alone (every run also does it): each provider approved only on an older
    /// MPA version is emailed once to accept the latest.
    MpaCampaign(MpaCampaignArgs),
}

/// Arguments of `mpa-campaign`.
#[derive(Debug, Clone, Args)]
pub struct MpaCampaignArgs {
    /// Email this provider's notice again even if the ledger says it was sent (repeatable).
    #[arg(long, value_name = "PROVIDER_ID")]
    pub resend_provider: Vec<String>,
}

/// Arguments of `statement`.
#[derive(Debug, Clone, Args)]
pub struct StatementArgs {
    /// The month, `YYYY-MM` (UTC); default: last month. An open month is refused.
    #[arg(long)]
    pub month: Option<Month>,
    /// Local directory for the CSVs (`<out>/statements/<month>/providers/<id>/statement.csv`).
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Store the statements, email nothing.
    #[arg(long, conflicts_with_all = ["resend", "resend_provider"])]
    pub no_send: bool,
    /// Email every statement again even if the ledger says it was sent.
    #[arg(long, conflicts_with = "resend_provider")]
    pub resend: bool,
    /// Email this provider's statement again (repeatable).
    #[arg(long, value_name = "PROVIDER_ID")]
    pub resend_provider: Vec<String>,
}

impl StatementArgs {
    /// The re-send selection asked for.
    pub fn resend(&self) -> marketplace_reports::delivery::Resend {
        use marketplace_reports::delivery::Resend;
        if self.resend {
            Resend::All
        } else if self.resend_provider.is_empty() {
            Resend::Nothing
        } else {
            Resend::Providers(self.resend_provider.iter().cloned().collect())
        }
    }
}

/// Delivery switches shared by runs and merges.
#[derive(Debug, Clone, Args)]
pub struct DeliveryArgs {
    /// Do not store report items in DynamoDB.
    #[arg(long, conflicts_with = "store")]
    pub no_store: bool,
    /// Do not email reports.
    #[arg(long, conflicts_with_all = ["send", "resend"])]
    pub no_send: bool,
    /// Store report items even when reading an export.
    #[arg(long)]
    pub store: bool,
    /// Email reports even when reading an export.
    #[arg(long)]
    pub send: bool,
    /// Email again even if the delivery ledger says already sent (implies --send).
    #[arg(long)]
    pub resend: bool,
    /// Exit 0 even when items were rejected.
    #[arg(long)]
    pub rejects_ok: bool,
}

/// What to deliver, after defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Store report items.
    pub store: bool,
    /// Send emails.
    pub send: bool,
    /// Ignore the ledger's "already sent".
    pub resend: bool,
}

impl DeliveryArgs {
    /// Resolves switches; `aws_by_default` is true for the table source.
    pub fn resolve(&self, aws_by_default: bool) -> Delivery {
        Delivery {
            store: !self.no_store && (aws_by_default || self.store),
            send: !self.no_send && (aws_by_default || self.send || self.resend),
            resend: self.resend,
        }
    }
}

/// Arguments of a report run.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Report date (UTC); default yesterday.
    #[arg(long, conflicts_with = "dates")]
    pub date: Option<NaiveDate>,
    /// Inclusive range of report dates, `D1..D2` (backfill).
    #[arg(long)]
    pub dates: Option<DateRange>,
    /// Read a DynamoDB table export (file or directory of DynamoDB-JSON lines, `.gz` ok)
    /// instead of the DeploymentLogs table.
    #[arg(long, value_name = "PATH")]
    pub from_export: Option<PathBuf>,
    /// Output directory; files go to `<out>/<date>/`.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Delivery switches.
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    /// Aggregate only partition i of N (export files, or table day-shards) into `--partial-out`.
    #[arg(long, requires = "partial_out")]
    pub partition: Option<Partition>,
    /// Where `--partition` writes its partial aggregate (JSON).
    #[arg(long, requires = "partition")]
    pub partial_out: Option<PathBuf>,
}

impl RunArgs {
    /// The report dates asked for (default: yesterday, UTC).
    pub fn date_range(&self) -> DateRange {
        if let Some(r) = self.dates {
            return r;
        }
        let d = self.date.unwrap_or_else(yesterday_utc);
        DateRange { first: d, last: d }
    }
}

/// Yesterday's date in UTC.
pub fn yesterday_utc() -> NaiveDate {
    let today = Utc::now().date_naive();
    today.checked_sub_days(Days::new(1)).unwrap_or(today)
}

/// Arguments of `merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Partial-aggregate files.
    #[arg(required = true)]
    pub partials: Vec<PathBuf>,
    /// Output directory.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Delivery switches (off unless asked).
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// Arguments of `generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// RNG seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of deployment logs.
    #[arg(long)]
    pub count: u64,
    /// First finished_at date.
    #[arg(long)]
    pub from: NaiveDate,
    /// Last finished_at date.
    #[arg(long)]
    pub to: NaiveDate,
    /// Number of providers.
    #[arg(long, default_value_t = 50)]
    pub providers: u32,
    /// Contract-breaking items per million.
    #[arg(long, default_value_t = 100)]
    pub reject_per_million: u32,
    /// Export file (or directory with --files K); omit with --to-table.
    #[arg(long, required_unless_present = "to_table")]
    pub out: Option<PathBuf>,
    /// Split into K files `part-NNNNN.json[.gz]` under --out.
    #[arg(long, default_value_t = 0)]
    pub files: usize,
    /// Gzip the export files.
    #[arg(long)]
    pub gzip: bool,
    /// Load the items into the DeploymentLogs table instead (`DEPLOYMENT_LOGS_TABLE`).
    #[arg(long)]
    pub to_table: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("nightly-reports").chain(args.iter().copied())).expect("parses")
    }

    #[test]
    fn export_source_neither_stores_nor_sends_unless_asked() {
        let cli = parse(&["--date", "2026-02-14", "--from-export", "x.json"]);
        assert_eq!(cli.run.delivery.resolve(false), Delivery { store: false, send: false, resend: false });
        let cli = parse(&["--from-export", "x", "--store", "--resend"]);
        assert_eq!(cli.run.delivery.resolve(false), Delivery { store: true, send: true, resend: true });
    }

    #[test]
    fn table_source_stores_and_sends_unless_switched_off() {
        let cli = parse(&["--dates", "2026-02-01..2026-02-03", "--no-send"]);
        assert_eq!(cli.run.delivery.resolve(true), Delivery { store: true, send: false, resend: false });
        assert_eq!(cli.run.date_range().last, "2026-02-03".parse().expect("date"));
    }

    #[test]
    fn contradictory_switches_are_refused() {
        let bad = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("nightly-reports").chain(args.iter().copied())).is_err()
        };
        assert!(bad(&["--date", "2026-02-14", "--dates", "2026-02-01..2026-02-02"]));
        assert!(bad(&["--no-send", "--resend"]));
        assert!(bad(&["--dates", "2026-02-03..2026-02-01"]));
        assert!(bad(&["--partition", "0/2"]));
    }

    #[test]
    fn statement_takes_a_month_and_resend_switches() {
        use marketplace_reports::delivery::Resend;
        let cli =
            parse(&["statement", "--month", "2026-02", "--resend-provider", "acme", "--resend-provider", "globex"]);
        let Some(Command::Statement(args)) = cli.command else { panic!("statement") };
        assert_eq!(args.month.map(|m| m.to_string()).as_deref(), Some("2026-02"));
        assert_eq!(args.resend(), Resend::Providers(["acme".to_owned(), "globex".to_owned()].into()));
        let Some(Command::Statement(args)) = parse(&["statement"]).command else { panic!("statement") };
        assert_eq!((args.month, args.resend(), args.no_send), (None, Resend::Nothing, false));
        let bad = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("nightly-reports").chain(args.iter().copied())).is_err()
        };
        assert!(bad(&["statement", "--month", "2026-13"]));
        assert!(bad(&["statement", "--month", "2026-02-01"]));
        assert!(bad(&["statement", "--no-send", "--resend"]));
    }

    #[test]
    fn merge_takes_partials() {
        let cli = parse(&["merge", "a.json", "b.json", "--out", "o"]);
        assert!(matches!(cli.command, Some(Command::Merge(m)) if m.partials.len() == 2));
    }
}

//! The job's Lambda payload ([`ScheduledRun`]) and what it asks for.

use std::path::Path;

use marketplace_reports::delivery::Resend;
use marketplace_reports::statement::Month;
use marketplace_reports::ReportPlan;
use serde::Deserialize;

use super::error::AppError;
use crate::cli::{DateRange, Delivery};
use crate::partition::Partition;
use crate::statement_run::{month_before, StatementRequest};

/// What a scheduled (or state machine's) run does with its reports: store and send them.
pub const SCHEDULED_DELIVERY: Delivery = Delivery { store: true, send: true, resend: false };

/// The job's Lambda payload (template.yaml documents who sends which):
///
/// * `{"mode": "run", "scheduled_time": T}` (the schedule) or `{}`: one run for the day before
///   `T` (UTC; without `T`, yesterday by the clock), so a retry after midnight still reports the
///   scheduled day. `{"date": D}` or `{"dates": "D1..D2"}` pick other dates.
/// * `{"mode": "partition", "run_id": R, "partition": i, "partitions": N, ...dates}`: aggregate
///   the day-shards of partition i/N and store the partial aggregate at `partials/R/i.json`.
/// * `{"mode": "merge", "partials": [keys], ...dates}`: merge the partials and publish exactly
///   what a single run would (files, report items, emails).
/// * `{"mode": "statement", "month": "YYYY-MM"}`: the monthly statements of a closed month
///   (without `month`: the month before `scheduled_time`, or before today) —
///   [`crate::statement_run`]; `resend` works as for the dailies.
/// * `{"mode": "mpa_campaign"}`: the MPA campaign alone, to start it at once after a version is
///   published (every run does it too); `resend` (a list of provider ids) sends their notices
///   again.
///
/// Unknown fields are ignored (the scheduler's envelope may carry more).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScheduledRun {
    /// What to do (default `run`).
    #[serde(default)]
    pub mode: Mode,
    /// One report date.
    #[serde(default)]
    pub date: Option<chrono::NaiveDate>,
    /// A range `D1..D2`.
    #[serde(default)]
    pub dates: Option<String>,
    /// When the schedule fired; the report is for the UTC day before.
    #[serde(default)]
    pub scheduled_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Scale-out run id (the state machine's execution name).
    #[serde(default)]
    pub run_id: Option<String>,
    /// Scale-out partition index.
    #[serde(default)]
    pub partition: Option<usize>,
    /// Scale-out partition count.
    #[serde(default)]
    pub partitions: Option<usize>,
    /// Keys of the partial aggregates to merge.
    #[serde(default)]
    pub partials: Vec<String>,
    /// An operator's re-send: `"all"` or a list of provider ids whose deliveries go out again
    /// even though the ledger has them (README, "Deliveries in doubt").
    #[serde(default)]
    pub resend: Option<ResendPayload>,
    /// `statement` mode: the month (`YYYY-MM`).
    #[serde(default)]
    pub month: Option<Month>,
}

/// `"resend"` of the payload: `"all"` or `["provider-id", ...]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ResendPayload {
    /// Must be `"all"`.
    Word(String),
    /// Provider ids.
    Providers(Vec<String>),
}

impl ResendPayload {
    /// The selection it asks for.
    pub fn selection(&self) -> Result<Resend, AppError> {
        match self {
            ResendPayload::Word(w) if w == "all" => Ok(Resend::All),
            ResendPayload::Word(w) => {
                Err(AppError::invalid(format!("resend must be \"all\" or a list of provider ids, got {w:?}")))
            }
            ResendPayload::Providers(ids) if ids.is_empty() => Err(AppError::invalid("resend lists no provider ids")),
            ResendPayload::Providers(ids) => Ok(Resend::Providers(ids.iter().cloned().collect())),
        }
    }
}

/// The job's Lambda modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A whole run.
    #[default]
    Run,
    /// Aggregate one partition into a partial aggregate.
    Partition,
    /// Merge partial aggregates and publish.
    Merge,
    /// The monthly statements of a closed month.
    Statement,
    /// The MPA campaign alone (`super::mpa_campaign`); every run also does it.
    MpaCampaign,
}

impl ScheduledRun {
    /// The plan the payload asks for.
    pub fn plan(&self) -> Result<ReportPlan, AppError> {
        if let Some(range) = &self.dates {
            let r: DateRange = range.parse().map_err(AppError::invalid)?;
            return ReportPlan::new(r.first, r.last).map_err(|e| AppError::Job(e.into()));
        }
        let day_before_schedule = self.scheduled_time.and_then(|t| t.date_naive().pred_opt());
        Ok(ReportPlan::single(self.date.or(day_before_schedule).unwrap_or_else(crate::cli::yesterday_utc)))
    }

    /// The deliveries to send again (none without `resend`).
    pub fn resend_selection(&self) -> Result<Resend, AppError> {
        Ok(self.resend.as_ref().map(ResendPayload::selection).transpose()?.unwrap_or_default())
    }

    /// `partition` mode's run id and partition, checked.
    pub fn scale_out_partition(&self) -> Result<(&str, Partition), AppError> {
        let run_id = self.run_id.as_deref().filter(|r| marketplace_core::validate::is_identifier(r, 80));
        let run_id = run_id.ok_or_else(|| {
            AppError::invalid(format!(
                "partition mode needs a run_id of letters, digits, '.', '_' or '-' (got {:?})",
                self.run_id
            ))
        })?;
        match (self.partition, self.partitions) {
            (Some(index), Some(count)) if index < count => Ok((run_id, Partition { index, count })),
            _ => Err(AppError::invalid(format!(
                "partition mode needs 0 <= partition < partitions (got {:?} of {:?})",
                self.partition, self.partitions
            ))),
        }
    }

    /// `statement` mode's request: its month (or the month before the schedule), stored and sent.
    pub fn statement_request(&self, out: &Path) -> Result<StatementRequest, AppError> {
        Ok(StatementRequest {
            month: self.month.unwrap_or_else(|| month_before(self.scheduled_time.unwrap_or_else(chrono::Utc::now))),
            out: out.to_owned(),
            send: true,
            resend: self.resend_selection()?,
            scan_page_limit: None,
        })
    }
}

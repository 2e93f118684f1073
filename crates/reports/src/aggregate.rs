//! Streaming aggregation of deployment logs into report figures.
//!
//! An [`Aggregator`] is fed one item at a time and keeps only running totals per
//! (report date, provider, product, currency) group, the error entries of the report dates
//! (they are output rows themselves) and the rejects: memory grows with groups, not with
//! deployments.
//!
//! ## Rounding
//! Sums are exact (`Decimal`, never rounded while accumulating). Each output row rounds once,
//! half-to-even, to the currency's minor units:
//! `billable_revenue = round(Σ quantity × unit_price)`,
//! `remuneration_value = round(Σ quantity × unit_price × provider_share)`,
//! `marketplace_fee = billable_revenue − remuneration_value`.
//! The golden example's README says "half-even rounding per line"; rounding each *deployment*
//! would give acme-vault on 2026-02-14 a remuneration of 840.53 and its month-to-date revenue
//! 1201.95, while the expected files say 840.54 and 1201.94 — they are reproduced only by
//! rounding each *output line* (group) once, which is also what the issue states. The
//! month-to-date rows round the exact month sums (not the sum of rounded daily rows), again as
//! the golden files require. Summary rows are sums of the rounded provider rows, so every file
//! reconciles with every other.
//!
//! ## Partitions
//! The state is a [`PartialAggregate`] that serialises to JSON; partials of disjoint inputs
//! [`merge`](Aggregator::merge) into exactly the state a single pass would have built, so a
//! scaled-out run (one process per export file or day-shard) writes byte-identical reports.

use std::collections::BTreeMap;

use hashbrown::{Equivalent, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::attribute::Item;
use super::packed::{ErrorRowRef, PackedErrors};
use super::record::{parse_deployment_log, ContractViolation, DeploymentLog, DeploymentStatus, Rejected, ValidLog};
use marketplace_core::money::{round_to_minor_units, Currency};

/// Which report dates a run produces. Reading covers the first report date's month start up to
/// the last report date, because month-to-date needs the whole month so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportPlan {
    first: NaiveDate,
    last: NaiveDate,
}

/// Errors from planning or aggregating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregateError {
    /// `first` is after `last`.
    #[error("report date range {first}..{last} is empty")]
    EmptyRange {
        /// First date asked for.
        first: NaiveDate,
        /// Last date asked for.
        last: NaiveDate,
    },
    /// A sum does not fit `Decimal` (28 significant digits).
    #[error("amount overflow while summing {provider_id}/{product_id}/{currency} on {date}")]
    Overflow {
        /// Report date.
        date: NaiveDate,
        provider_id: String,
        product_id: String,
        currency: Currency,
    },
    /// Stored month sums must be as of a day of the first report date's month before it.
    #[error("month sums as of {through} cannot seed a run whose first report date is {first}")]
    SeedOutsideMonth {
        /// Day the sums are as of.
        through: NaiveDate,
        /// First report date.
        first: NaiveDate,
    },
    /// Partials of different plans cannot be merged.
    #[error("cannot merge partial aggregates of different plans ({0:?} vs {1:?})")]
    PlanMismatch(ReportPlan, ReportPlan),
}

impl ReportPlan {
    /// Plan for report dates `first..=last`.
    pub fn new(first: NaiveDate, last: NaiveDate) -> Result<Self, AggregateError> {
        if first > last {
            return Err(AggregateError::EmptyRange { first, last });
        }
        Ok(ReportPlan { first, last })
    }

    /// Plan for one report date.
    pub fn single(date: NaiveDate) -> Self {
        ReportPlan { first: date, last: date }
    }

    /// The report dates, ascending.
    pub fn report_dates(&self) -> impl Iterator<Item = NaiveDate> {
        self.first.iter_days().take_while({
            let last = self.last;
            move |d| *d <= last
        })
    }

    /// First day whose logs must be read (the 1st of the first report date's month).
    pub fn read_from(&self) -> NaiveDate {
        month_start(self.first)
    }

    /// First report date.
    pub fn first(&self) -> NaiveDate {
        self.first
    }

    /// Last report date.
    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// Last day whose logs must be read.
    pub fn read_to(&self) -> NaiveDate {
        self.last
    }

    /// Every day whose logs must be read, ascending.
    pub fn days_to_read(&self) -> impl Iterator<Item = NaiveDate> {
        let last = self.last;
        self.read_from().iter_days().take_while(move |d| *d <= last)
    }

    /// Whether logs finishing on `day` are needed.
    pub fn reads(&self, day: NaiveDate) -> bool {
        (self.read_from()..=self.last).contains(&day)
    }

    /// Whether `day` is one of the report dates.
    pub fn is_report_date(&self, day: NaiveDate) -> bool {
        (self.first..=self.last).contains(&day)
    }
}

fn overflow(date: NaiveDate, key: &GroupKey) -> AggregateError {
    AggregateError::Overflow {
        date,
        provider_id: key.provider_id.clone(),
        product_id: key.product_id.clone(),
        currency: key.currency,
    }
}

/// The 1st of `date`'s month.
pub fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// A report group: one provider's product billed in one currency.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    pub provider_id: String,
    pub product_id: String,
    pub currency: Currency,
}

/// A [`GroupKey`] borrowed from an input line: looks a group up without allocating. Its derived
/// `Hash` equals [`GroupKey`]'s (a `String` hashes as its `str`), as `Equivalent` requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GroupKeyRef<'a> {
    provider_id: &'a str,
    product_id: &'a str,
    currency: Currency,
}

impl Equivalent<GroupKey> for GroupKeyRef<'_> {
    fn equivalent(&self, key: &GroupKey) -> bool {
        self.currency == key.currency && self.product_id == key.product_id && self.provider_id == key.provider_id
    }
}

/// One day's groups: a hash map (looked up once per log by a borrowed key); every output sorts.
type DayGroups = HashMap<GroupKey, GroupTotals>;

fn sorted(groups: &DayGroups) -> Vec<(&GroupKey, &GroupTotals)> {
    let mut v: Vec<_> = groups.iter().collect();
    v.sort_unstable_by(|a, b| a.0.cmp(b.0));
    v
}

/// Exact running totals of one group on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTotals {
    /// Product name of the latest deployment (by `finished_at`, then deployment id) in the group.
    pub product_name: String,
    /// `(finished_at, deployment_id)` of the deployment that named the product; keeps the name
    /// choice independent of input order, so partial runs merge deterministically.
    pub named_by: (DateTime<Utc>, String),
    /// Deployment and error counts (flattened: the partial-aggregate format is unchanged).
    #[serde(flatten)]
    pub counts: Counts,
    /// Exact Σ quantity × unit_price over succeeded deployments.
    pub revenue: Decimal,
    /// Exact Σ quantity × unit_price × provider_share over succeeded deployments.
    pub remuneration: Decimal,
}

impl GroupTotals {
    fn absorb(&mut self, other: &GroupTotals) -> Option<()> {
        if other.named_by > self.named_by {
            self.product_name.clone_from(&other.product_name);
            self.named_by.clone_from(&other.named_by);
        }
        self.counts += other.counts;
        self.revenue = self.revenue.checked_add(other.revenue)?;
        self.remuneration = self.remuneration.checked_add(other.remuneration)?;
        Some(())
    }
}

/// One error entry as an `errors.csv` row. Ordered as the file is sorted: `error_at`,
/// `deployment_id`, position in the deployment's list (then the rest, for a total order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ErrorRow {
    /// When the error happened.
    pub error_at: DateTime<Utc>,
    /// Deployment.
    pub deployment_id: String,
    /// Position in the deployment's `errors` list.
    pub position: u32,
    /// Report date (of the deployment's `finished_at`).
    pub report_date: NaiveDate,
    pub provider_id: String,
    pub product_id: String,
    /// Customer alias.
    pub customer_alias: String,
    /// Outcome of the deployment.
    pub deployment_status: DeploymentStatus,
    /// Error code.
    pub error_code: String,
    /// Error message.
    pub error_message: String,
}

/// One `rejected.csv` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RejectRow {
    /// Deployment id, or key, or locator.
    pub deployment_id: String,
    /// Human-readable reason.
    pub reason: String,
    /// Report date, when it could be told. Undated rejects are listed under every report date
    /// of the run rather than dropped.
    pub report_date: Option<NaiveDate>,
}

/// Counters of one run (or partition).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestStats {
    /// Items offered to the aggregator.
    pub items: u64,
    /// Items counted in some group.
    pub counted: u64,
    /// Items rejected within the run's dates (listed in `rejected.csv`).
    pub rejected: u64,
    /// Items (valid or not) finishing outside the days the run reads; ignored.
    pub outside_window: u64,
}

/// Serialisable state of an [`Aggregator`] (the partial-aggregate file format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialAggregate {
    /// Format version.
    pub version: u32,
    /// The plan the partial was built for.
    pub plan: ReportPlan,
    /// First day counted (absent: the plan's month start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_from: Option<NaiveDate>,
    /// Group totals, sorted by date then group.
    pub groups: Vec<(NaiveDate, GroupKey, GroupTotals)>,
    /// Error rows of the report dates.
    pub errors: Vec<ErrorRow>,
    /// Rejects of the report dates.
    pub rejects: Vec<RejectRow>,
    /// Counters.
    pub stats: IngestStats,
}

const PARTIAL_VERSION: u32 = 1;

/// Streaming aggregator; see the module docs.
#[derive(Debug, Clone)]
pub struct Aggregator {
    plan: ReportPlan,
    /// First day whose logs this aggregator counts (the plan's month start, or the day after
    /// the stored month sums it was seeded with).
    read_from: NaiveDate,
    groups: BTreeMap<NaiveDate, DayGroups>,
    errors: Vec<ErrorRow>,
    /// Error rows of the fast path in packed form, once [`Self::pack_error_rows`] asked for it.
    packed: Option<PackedErrors>,
    rejects: Vec<RejectRow>,
    stats: IngestStats,
}

/// The error and reject rows an aggregator held ([`Aggregator::take_rows`]).
#[derive(Debug, Default)]
pub struct HeldRows {
    /// Error rows (of the general paths, or all of them when not packing).
    pub errors: Vec<ErrorRow>,
    /// Packed error rows (when packing).
    pub packed: PackedErrors,
    /// Rejects.
    pub rejects: Vec<RejectRow>,
}

impl Aggregator {
    /// An empty aggregator for `plan`.
    pub fn new(plan: ReportPlan) -> Self {
        Aggregator {
            plan,
            read_from: plan.read_from(),
            groups: BTreeMap::new(),
            errors: Vec::new(),
            packed: None,
            rejects: Vec::new(),
            stats: IngestStats::default(),
        }
    }

    /// The plan.
    pub fn plan(&self) -> ReportPlan {
        self.plan
    }

    /// An aggregator that builds on stored month sums: `seed` holds the exact month-to-date
    /// sums of the plan's first month as of `through` (a day before the first report date), so
    /// only logs from the day after `through` are counted.
    pub fn seeded(
        plan: ReportPlan,
        through: NaiveDate,
        seed: impl IntoIterator<Item = (GroupKey, GroupTotals)>,
    ) -> Result<Self, AggregateError> {
        if through >= plan.first || through < plan.read_from() {
            return Err(AggregateError::SeedOutsideMonth { through, first: plan.first });
        }
        let mut agg = Aggregator::new(plan);
        agg.read_from = through.succ_opt().unwrap_or(through);
        agg.groups.insert(through, seed.into_iter().collect());
        Ok(agg)
    }

    /// First day whose logs are counted (the table source reads from here).
    pub fn read_from(&self) -> NaiveDate {
        self.read_from
    }

    /// Days whose logs are counted, ascending.
    pub fn days_to_read(&self) -> impl Iterator<Item = NaiveDate> {
        let last = self.plan.last;
        self.read_from.iter_days().take_while(move |d| *d <= last)
    }

    fn counts_day(&self, day: NaiveDate) -> bool {
        (self.read_from..=self.plan.last).contains(&day)
    }

    /// The group totals of one day (exact; empty when nothing happened), sorted by group.
    pub fn day_totals(&self, date: NaiveDate) -> impl Iterator<Item = (&GroupKey, &GroupTotals)> {
        self.groups.get(&date).map(sorted).unwrap_or_default().into_iter()
    }

    /// Exact month-to-date totals of every group of `date`'s month up to `date` (inclusive):
    /// what a later night builds on (`storage::MonthSumsItem`).
    pub fn month_to_date(&self, date: NaiveDate) -> Result<BTreeMap<GroupKey, GroupTotals>, AggregateError> {
        let mut month: BTreeMap<GroupKey, GroupTotals> = BTreeMap::new();
        for (_, g) in self.groups.range(month_start(date)..=date) {
            for (key, totals) in g {
                match month.get_mut(key) {
                    Some(sum) => sum.absorb(totals).ok_or_else(|| overflow(date, key))?,
                    None => {
                        month.insert(key.clone(), totals.clone());
                    }
                }
            }
        }
        Ok(month)
    }

    /// Counters so far.
    pub fn stats(&self) -> IngestStats {
        self.stats
    }

    /// Error and reject rows held (what a bounded-memory run moves out with [`Self::take_rows`]).
    pub fn held_rows(&self) -> usize {
        self.errors.len() + self.packed.as_ref().map_or(0, PackedErrors::len) + self.rejects.len()
    }

    /// From now on, the fast path ([`Self::add_valid`]) holds its error rows packed (one
    /// buffer, no allocation per row), for a caller that takes them with [`Self::take_rows`]
    /// and spills them. Rows still held at [`Self::finish`] or [`Self::to_partial`] are
    /// unpacked there, so the result is the same either way.
    pub fn pack_error_rows(&mut self) {
        self.packed.get_or_insert_with(PackedErrors::default);
    }

    /// Takes the error and reject rows held so far, leaving the group totals: a caller that
    /// streams rows to files (the job's spill) keeps memory bounded by group count. The
    /// reports [`Self::finish`] builds afterwards lack those rows.
    pub fn take_rows(&mut self) -> HeldRows {
        HeldRows {
            errors: std::mem::take(&mut self.errors),
            packed: self.packed.as_mut().map(std::mem::take).unwrap_or_default(),
            rejects: std::mem::take(&mut self.rejects),
        }
    }

    /// Every error row held, unpacked.
    fn all_errors(&self) -> Vec<ErrorRow> {
        let mut errors = self.errors.clone();
        errors.extend(self.packed.iter().flat_map(PackedErrors::unpack));
        errors
    }

    /// Number of (date, group) totals held — what memory grows with.
    pub fn group_count(&self) -> usize {
        self.groups.values().map(HashMap::len).sum()
    }

    /// Parses an item against the contract and counts or rejects it.
    pub fn ingest_item(&mut self, item: &Item, locator: &dyn Fn() -> String) -> Result<(), AggregateError> {
        match parse_deployment_log(item, locator) {
            Ok(log) => self.add(log),
            Err(rejected) => {
                self.reject(*rejected);
                Ok(())
            }
        }
    }

    /// Records a reject (listed if it belongs to a report date or to no known date).
    pub fn reject(&mut self, rejected: Rejected) {
        self.stats.items += 1;
        match rejected.report_date {
            Some(day) if !self.plan.is_report_date(day) => self.stats.outside_window += 1,
            report_date => {
                self.stats.rejected += 1;
                self.rejects.push(RejectRow {
                    deployment_id: rejected.key,
                    reason: rejected.reason.to_string(),
                    report_date,
                });
            }
        }
    }

    /// Counts a valid deployment log into its group.
    pub fn add(&mut self, log: DeploymentLog) -> Result<(), AggregateError> {
        self.add_valid(&log.as_valid())
    }

    /// [`Self::add`] for a log that borrows its text: strings are copied only when a group is
    /// created or renamed, and into error rows.
    pub fn add_valid(&mut self, log: &ValidLog<'_>) -> Result<(), AggregateError> {
        let day = log.finished_at.date_naive();
        if !self.counts_day(day) {
            self.stats.items += 1;
            self.stats.outside_window += 1;
            return Ok(());
        }
        let key = GroupKeyRef { provider_id: log.provider_id, product_id: log.product_id, currency: log.currency };
        let amounts = match log.status {
            DeploymentStatus::Succeeded => log
                .quantity
                .checked_mul(log.unit_price)
                .and_then(|revenue| Some((revenue, revenue.checked_mul(log.provider_share)?))),
            DeploymentStatus::Failed => Some((Decimal::ZERO, Decimal::ZERO)),
        };
        let by_group = self.groups.entry(day).or_default();
        let succeeded = log.status == DeploymentStatus::Succeeded;
        let errors = u64::try_from(log.errors.len()).unwrap_or(u64::MAX);
        let counts = Counts {
            deployments: 1,
            succeeded: u64::from(succeeded),
            failed: u64::from(!succeeded),
            errors_in_succeeded: if succeeded { errors } else { 0 },
            errors_in_failed: if succeeded { 0 } else { errors },
        };
        // A log whose amounts (or whose addition to its group) do not fit `Decimal` is rejected,
        // never fatal: the rest of the night's reports still go out. One map lookup per log.
        let counted = match (amounts, by_group.get_mut(&key)) {
            (None, _) => false,
            (Some((revenue, remuneration)), Some(t)) => {
                match (t.revenue.checked_add(revenue), t.remuneration.checked_add(remuneration)) {
                    (Some(r), Some(m)) => {
                        t.revenue = r;
                        t.remuneration = m;
                        t.counts += counts;
                        if (log.finished_at, log.deployment_id) > (t.named_by.0, t.named_by.1.as_str()) {
                            log.product_name.clone_into(&mut t.product_name);
                            t.named_by.0 = log.finished_at;
                            log.deployment_id.clone_into(&mut t.named_by.1);
                        }
                        true
                    }
                    _ => false,
                }
            }
            (Some((revenue, remuneration)), None) => {
                let totals = GroupTotals {
                    product_name: log.product_name.to_owned(),
                    named_by: (log.finished_at, log.deployment_id.to_owned()),
                    counts,
                    revenue,
                    remuneration,
                };
                let owned = GroupKey {
                    provider_id: log.provider_id.to_owned(),
                    product_id: log.product_id.to_owned(),
                    currency: log.currency,
                };
                by_group.insert(owned, totals);
                true
            }
        };
        if !counted {
            let group = format!("{}/{}/{}", key.provider_id, key.product_id, key.currency);
            self.reject(Rejected {
                key: log.deployment_id.to_owned(),
                report_date: Some(day),
                reason: ContractViolation::SumOverflow(group),
            });
            return Ok(());
        }
        self.stats.items += 1;
        self.stats.counted += 1;
        if self.plan.is_report_date(day) {
            for (position, &(code, message, at)) in log.errors.iter().enumerate() {
                let row = ErrorRowRef {
                    error_at: at,
                    deployment_id: log.deployment_id,
                    position: u32::try_from(position).unwrap_or(u32::MAX),
                    report_date: day,
                    provider_id: log.provider_id,
                    product_id: log.product_id,
                    customer_alias: log.customer_alias,
                    deployment_status: log.status,
                    error_code: code,
                    error_message: message,
                };
                match self.packed.as_mut() {
                    Some(packed) => packed.push(&row),
                    None => self.errors.push(row.to_row()),
                }
            }
        }
        Ok(())
    }

    /// Folds another aggregator (built from disjoint input, same plan) into this one.
    pub fn merge(&mut self, other: Aggregator) -> Result<(), AggregateError> {
        if self.plan != other.plan || self.read_from != other.read_from {
            return Err(AggregateError::PlanMismatch(self.plan, other.plan));
        }
        let other_errors = other.all_errors();
        for (day, groups) in other.groups {
            let mine = self.groups.entry(day).or_default();
            for (key, totals) in groups {
                match mine.get_mut(&key) {
                    Some(existing) => existing.absorb(&totals).ok_or_else(|| AggregateError::Overflow {
                        date: day,
                        provider_id: key.provider_id.clone(),
                        product_id: key.product_id.clone(),
                        currency: key.currency,
                    })?,
                    None => {
                        mine.insert(key, totals);
                    }
                }
            }
        }
        self.errors.extend(other_errors);
        self.rejects.extend(other.rejects);
        self.stats.items += other.stats.items;
        self.stats.counted += other.stats.counted;
        self.stats.rejected += other.stats.rejected;
        self.stats.outside_window += other.stats.outside_window;
        Ok(())
    }

    /// The serialisable state (sorted, so equal states serialise to equal bytes).
    pub fn to_partial(&self) -> PartialAggregate {
        let mut errors = self.all_errors();
        errors.sort();
        let mut rejects = self.rejects.clone();
        rejects.sort();
        PartialAggregate {
            version: PARTIAL_VERSION,
            plan: self.plan,
            read_from: Some(self.read_from),
            groups: self
                .groups
                .iter()
                .flat_map(|(day, g)| sorted(g).into_iter().map(move |(k, t)| (*day, k.clone(), t.clone())))
                .collect(),
            errors,
            rejects,
            stats: self.stats,
        }
    }

    /// Rebuilds an aggregator from its serialised state.
    pub fn from_partial(partial: PartialAggregate) -> Self {
        let mut groups: BTreeMap<NaiveDate, DayGroups> = BTreeMap::new();
        for (day, key, totals) in partial.groups {
            groups.entry(day).or_default().insert(key, totals);
        }
        Aggregator {
            plan: partial.plan,
            read_from: partial.read_from.unwrap_or_else(|| partial.plan.read_from()),
            groups,
            errors: partial.errors,
            packed: None,
            rejects: partial.rejects,
            stats: partial.stats,
        }
    }

    /// The finished reports, one per report date.
    pub fn finish(self) -> Result<Vec<DailyReport>, AggregateError> {
        let mut errors = self.all_errors();
        let Aggregator { plan, groups, mut rejects, .. } = self;
        errors.sort();
        rejects.sort();
        let mut reports = Vec::new();
        for date in plan.report_dates() {
            let day_groups = groups.get(&date).map(sorted).unwrap_or_default();
            let mut providers: BTreeMap<String, ProviderReport> = BTreeMap::new();
            for (key, totals) in day_groups {
                providers
                    .entry(key.provider_id.clone())
                    .or_default()
                    .deployments
                    .push(ReportRow::from_totals(key, totals));
            }
            // Month-to-date: exact sums over the month so far, rounded once per row.
            let mut month: BTreeMap<&GroupKey, GroupTotals> = BTreeMap::new();
            for (_, g) in groups.range(month_start(date)..=date) {
                for (key, totals) in g {
                    if !providers.contains_key(&key.provider_id) {
                        continue;
                    }
                    match month.get_mut(key) {
                        Some(sum) => sum.absorb(totals).ok_or_else(|| AggregateError::Overflow {
                            date,
                            provider_id: key.provider_id.clone(),
                            product_id: key.product_id.clone(),
                            currency: key.currency,
                        })?,
                        None => {
                            month.insert(key, totals.clone());
                        }
                    }
                }
            }
            for (key, totals) in &month {
                if let Some(p) = providers.get_mut(&key.provider_id) {
                    p.month_to_date.push(ReportRow::from_totals(key, totals));
                }
            }
            for row in errors.iter().filter(|e| e.report_date == date) {
                if let Some(p) = providers.get_mut(&row.provider_id) {
                    p.errors.push(row.clone());
                }
            }
            let mut summary: BTreeMap<(String, Currency), SummaryRow> = BTreeMap::new();
            for (provider_id, p) in &providers {
                for row in &p.deployments {
                    summary
                        .entry((provider_id.clone(), row.currency))
                        .or_insert_with(|| SummaryRow::zero(provider_id, row.currency))
                        .add(row);
                }
            }
            reports.push(DailyReport {
                date,
                month_start: month_start(date),
                providers,
                summary: summary.into_values().collect(),
                rejected: rejects.iter().filter(|r| r.report_date.is_none_or(|d| d == date)).cloned().collect(),
            });
        }
        Ok(reports)
    }
}

/// Counts shared by every report row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Succeeded + failed.
    pub deployments: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Error entries on succeeded deployments.
    pub errors_in_succeeded: u64,
    /// Error entries on failed deployments.
    pub errors_in_failed: u64,
}

impl std::ops::AddAssign for Counts {
    /// Counts of disjoint sets of deployments add field by field (saturating: a `u64` of
    /// deployments cannot realistically overflow, and a report must never panic).
    fn add_assign(&mut self, other: Counts) {
        self.deployments = self.deployments.saturating_add(other.deployments);
        self.succeeded = self.succeeded.saturating_add(other.succeeded);
        self.failed = self.failed.saturating_add(other.failed);
        self.errors_in_succeeded = self.errors_in_succeeded.saturating_add(other.errors_in_succeeded);
        self.errors_in_failed = self.errors_in_failed.saturating_add(other.errors_in_failed);
    }
}

/// Rounded money of one row; `marketplace_fee = billable_revenue − remuneration_value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowMoney {
    /// Rounded billable revenue.
    pub billable_revenue: Decimal,
    /// Rounded remuneration.
    pub remuneration_value: Decimal,
    /// Revenue minus remuneration.
    pub marketplace_fee: Decimal,
}

/// One `deployments.csv` / `month-to-date.csv` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub provider_id: String,
    pub product_id: String,
    /// Product name.
    pub product_name: String,
    pub currency: Currency,
    /// Counts.
    pub counts: Counts,
    /// Money, rounded to the currency's minor units.
    pub money: RowMoney,
}

impl ReportRow {
    fn from_totals(key: &GroupKey, t: &GroupTotals) -> Self {
        let billable_revenue = round_to_minor_units(t.revenue, key.currency);
        let remuneration_value = round_to_minor_units(t.remuneration, key.currency);
        ReportRow {
            provider_id: key.provider_id.clone(),
            product_id: key.product_id.clone(),
            product_name: t.product_name.clone(),
            currency: key.currency,
            counts: t.counts,
            money: RowMoney {
                billable_revenue,
                remuneration_value,
                marketplace_fee: round_to_minor_units(billable_revenue - remuneration_value, key.currency),
            },
        }
    }
}

/// One `marketplace-summary.csv` row: a provider's rows in one currency, summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub provider_id: String,
    pub currency: Currency,
    /// Counts.
    pub counts: Counts,
    /// Sums of the provider rows' rounded money.
    pub money: RowMoney,
}

impl SummaryRow {
    fn zero(provider_id: &str, currency: Currency) -> Self {
        let zero = round_to_minor_units(Decimal::ZERO, currency);
        SummaryRow {
            provider_id: provider_id.to_owned(),
            currency,
            counts: Counts::default(),
            money: RowMoney { billable_revenue: zero, remuneration_value: zero, marketplace_fee: zero },
        }
    }

    fn add(&mut self, row: &ReportRow) {
        self.counts += row.counts;
        // Rounded amounts are small multiples of a minor unit; they cannot realistically overflow
        // 28 digits after the exact group sums fitted, so saturating is a defensive no-op.
        let m = &mut self.money;
        m.billable_revenue = m.billable_revenue.saturating_add(row.money.billable_revenue);
        m.remuneration_value = m.remuneration_value.saturating_add(row.money.remuneration_value);
        m.marketplace_fee = m.marketplace_fee.saturating_add(row.money.marketplace_fee);
    }
}

/// One provider's files for one date.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderReport {
    /// `deployments.csv` rows, sorted by product then currency.
    pub deployments: Vec<ReportRow>,
    /// `errors.csv` rows, sorted by error_at, deployment id, position.
    pub errors: Vec<ErrorRow>,
    /// `month-to-date.csv` rows, sorted by product then currency.
    pub month_to_date: Vec<ReportRow>,
}

impl DailyReport {
    /// The report reduced to one provider (its rows, its summary rows), with `errors` as its
    /// error rows: what that provider's files and email need, when the error rows were streamed
    /// out of memory (the job's spill) instead of held in the report.
    pub fn for_provider(&self, provider_id: &str, errors: Vec<ErrorRow>) -> DailyReport {
        let mut providers = BTreeMap::new();
        if let Some(p) = self.providers.get(provider_id) {
            providers.insert(
                provider_id.to_owned(),
                ProviderReport { deployments: p.deployments.clone(), errors, month_to_date: p.month_to_date.clone() },
            );
        }
        DailyReport {
            date: self.date,
            month_start: self.month_start,
            providers,
            summary: self.summary.iter().filter(|s| s.provider_id == provider_id).cloned().collect(),
            rejected: Vec::new(),
        }
    }
}

/// Everything written for one report date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyReport {
    /// Report date.
    pub date: NaiveDate,
    /// The 1st of its month (month-to-date period start).
    pub month_start: NaiveDate,
    /// Providers with deployments on the date.
    pub providers: BTreeMap<String, ProviderReport>,
    /// `marketplace-summary.csv` rows, sorted by provider then currency.
    pub summary: Vec<SummaryRow>,
    /// `rejected.csv` rows, sorted by deployment id then reason.
    pub rejected: Vec<RejectRow>,
}

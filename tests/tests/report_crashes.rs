//! The nightly job killed while it emails — as a Lambda timeout, an out-of-memory kill or a
//! deploy would — then run again for the same date, through the real delivery ledger and SES on
//! the local stack. Ten providers and the team, eight deliveries in flight.
//!
//! The kill: the run's mailer and ledger are the real ones, wrapped. At the chosen point the
//! wrapper stops everything (no call of the run reaches the emulator after it) and the test drops
//! the run's future, as a process death would: whatever the run had in flight is cut off
//! mid-way. The wrappers note every hand-over to SES the run started and every record it
//! completed, so the test knows which SES calls were really in flight at the kill.
//!
//! What must hold after the re-run: every provider and the team got exactly one email, except
//! deliveries in doubt; in doubt only deliveries whose hand-over to SES the killed run had
//! started and whose record it had not completed (never one merely claimed), each with at most
//! one email; every other delivery sent by the re-run by itself. A third run sends nothing.

use std::collections::BTreeSet;
use std::future::Future;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use marketplace_aws::reports_table::ReportsTable;
use marketplace_core::email::Email;
use marketplace_core::ports::Mailer;
use marketplace_core::DomainError;
use marketplace_reports::delivery::{ClaimRefused, DeliveryLedger, Resend, SendLimits};
use marketplace_reports::storage::{DeliveryOf, Recipient};
use marketplace_reports::ReportPlan;
use marketplace_tests::deliveries::*;
use marketplace_tests::reports::private_table;
use marketplace_tests::*;
use nightly_reports::app::{run_job, AwsContext, JobRequest, Source};
use nightly_reports::cli::Delivery;
use nightly_reports::pipeline::RunSummary;
use tokio::sync::Notify;

const PROVIDERS: usize = 10;
const IN_FLIGHT: usize = 8;

/// Where the run dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillAt {
    /// As the n-th hand-over to SES starts (nothing of it is written): every delivery of the run
    /// is at most claimed.
    BeforeHandOver(usize),
    /// As the n-th SES send starts (nothing of it reaches SES).
    BeforeSend(usize),
    /// After SES accepted the n-th send, before the run hears back.
    AfterSend(usize),
    /// As the n-th ledger record (`SENT`) starts.
    BeforeRecord(usize),
}

/// The run's death and what the wrappers saw before it.
#[derive(Default)]
struct Crash {
    dead: AtomicBool,
    died: Notify,
    hand_overs: AtomicUsize,
    sends: AtomicUsize,
    records: AtomicUsize,
    /// Deliveries whose hand-over to SES the run started.
    handed_over: Mutex<BTreeSet<String>>,
    /// Deliveries whose `SENT` record the run completed.
    recorded: Mutex<BTreeSet<String>>,
}

impl Crash {
    /// Deliveries handed to SES and never recorded: the SES calls in flight at the kill.
    fn in_flight(&self) -> BTreeSet<String> {
        let handed_over = self.handed_over.lock().expect("lock");
        handed_over.difference(&self.recorded.lock().expect("lock")).cloned().collect()
    }

    fn die(&self) {
        self.dead.store(true, Ordering::SeqCst);
        self.died.notify_one();
    }

    /// Nothing of a dead run happens any more: its calls never return.
    async fn unless_dead<T>(&self, call: impl Future<Output = T>) -> T {
        if self.dead.load(Ordering::SeqCst) {
            return std::future::pending().await;
        }
        call.await
    }
}

fn name(to: &Recipient) -> String {
    match to {
        Recipient::Provider(id) => id.clone(),
        Recipient::Team => "the marketplace team".into(),
    }
}

struct DyingMailer {
    inner: Box<dyn Mailer>,
    crash: Arc<Crash>,
    kill: KillAt,
}

#[async_trait]
impl Mailer for DyingMailer {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        let crash = &self.crash;
        crash
            .unless_dead(async {
                let n = crash.sends.fetch_add(1, Ordering::SeqCst) + 1;
                if self.kill == KillAt::BeforeSend(n) {
                    crash.die();
                    return std::future::pending().await;
                }
                let sent = self.inner.send(email).await;
                if self.kill == KillAt::AfterSend(n) {
                    crash.die();
                    return std::future::pending().await;
                }
                sent
            })
            .await
    }
}

struct WatchedLedger {
    inner: ReportsTable,
    crash: Arc<Crash>,
    kill: KillAt,
}

#[async_trait]
impl DeliveryLedger for WatchedLedger {
    async fn claim(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        force: bool,
    ) -> Result<Result<(), ClaimRefused>, DomainError> {
        self.crash.unless_dead(self.inner.claim(of, to, token, force)).await
    }

    async fn hand_over(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<bool, DomainError> {
        self.crash
            .unless_dead(async {
                let n = self.crash.hand_overs.fetch_add(1, Ordering::SeqCst) + 1;
                if self.kill == KillAt::BeforeHandOver(n) {
                    self.crash.die();
                    return std::future::pending().await;
                }
                self.crash.handed_over.lock().expect("lock").insert(name(to));
                self.inner.hand_over(of, to, token).await
            })
            .await
    }

    async fn record_sent(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        message_ids: &[String],
    ) -> Result<(), DomainError> {
        let crash = &self.crash;
        crash
            .unless_dead(async {
                let n = crash.records.fetch_add(1, Ordering::SeqCst) + 1;
                if self.kill == KillAt::BeforeRecord(n) {
                    crash.die();
                    return std::future::pending().await;
                }
                self.inner.record_sent(of, to, token, message_ids).await?;
                crash.recorded.lock().expect("lock").insert(name(to));
                Ok(())
            })
            .await
    }

    async fn release(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<(), DomainError> {
        self.crash.unless_dead(self.inner.release(of, to, token)).await
    }
}

/// Wraps `aws`'s mailer and ledger so that the run dies at `kill`.
fn arm(aws: &mut AwsContext, kill: KillAt) -> Arc<Crash> {
    let crash = Arc::new(Crash::default());
    let real_mailer = std::mem::replace(&mut aws.mailer, Box::new(NeverSent));
    aws.mailer = Box::new(DyingMailer { inner: real_mailer, crash: crash.clone(), kill });
    aws.ledger = Some(Box::new(WatchedLedger { inner: aws.reports.clone(), crash: crash.clone(), kill }));
    crash
}

/// Drives `run` until the crash kills it, then drops it as a process death would.
async fn killed<T: std::fmt::Debug>(crash: &Crash, kill: KillAt, run: impl Future<Output = T>) {
    tokio::select! {
        biased;
        () = crash.died.notified() => {}
        outcome = run => panic!("the run was to be killed at {kill:?}: {outcome:?}"),
    }
}

async fn context() -> AwsContext {
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    // Eight deliveries in flight (the default); a rate at which pacing costs the test little.
    aws.sends = SendLimits {
        concurrency: NonZeroUsize::new(IN_FLIGHT).expect("8"),
        per_second: NonZeroU32::new(200).expect("200"),
    };
    aws
}

fn buckets(s: &RunSummary) -> usize {
    s.emails_sent + s.emails_already_sent + s.deliveries_in_doubt + s.failed_deliveries.len()
}

/// Kills a run of a fresh date at `kill`, runs the date again, and checks what the module docs
/// promise. Returns (in doubt, provider reports the killed run got out to SES).
async fn killed_and_run_again(kill: KillAt) -> (BTreeSet<String>, usize) {
    let ids = provider_ids("crash", PROVIDERS);
    let date = date_of_its_own().to_string();
    let mut aws = context().await;
    store_providers(aws.providers.table(), &ids, None, false).await;
    let request = JobRequest {
        plan: ReportPlan::single(date.parse().expect("date")),
        source: Source::Export(export_file(&ids, &date)),
        partition: None,
        out: std::env::temp_dir().join(unique("crash-out")),
        delivery: Delivery { store: false, send: true, resend: false },
        parallelism: 1,
    };
    let subject = format!("report for {date}");

    // The run, killed.
    let crash = arm(&mut aws, kill);
    killed(&crash, kill, run_job(&request, &Resend::Nothing, Some(&aws))).await;
    let got_out: usize = emails_per_address(&subject).values().sum();
    let in_flight = crash.in_flight();

    // The same date again, nothing wrapped: it finishes the work by itself.
    let aws = context().await;
    let again = run_job(&request, &Resend::Nothing, Some(&aws)).await.expect("the re-run succeeds");
    assert_eq!(buckets(&again), PROVIDERS + 1, "every delivery counted once: {again:?}");
    assert!(again.failed_deliveries.is_empty(), "{again:?}");
    let in_doubt: BTreeSet<String> =
        again.in_doubt.iter().map(|d| d.strip_prefix(&format!("{date} ")).expect("dated").to_owned()).collect();
    assert_eq!(in_doubt.len(), again.deliveries_in_doubt);
    assert!(
        in_doubt.is_subset(&in_flight),
        "in doubt only what was handed to SES and not recorded at the kill ({kill:?}): {in_doubt:?} vs {in_flight:?}"
    );
    assert!(in_doubt.len() <= IN_FLIGHT, "{in_doubt:?}");

    let per = emails_per_address(&subject);
    for id in &ids {
        let got = per.get(&address(id)).copied().unwrap_or(0);
        if in_doubt.contains(id) {
            assert!(got <= 1, "{id} in doubt got {got} emails");
        } else {
            assert_eq!(got, 1, "{id}: exactly one report ({kill:?})");
        }
    }
    let summaries = team_emails_about(&format!("summary for {date}")).len();
    if in_doubt.contains("the marketplace team") {
        assert!(summaries <= 1);
    } else {
        assert_eq!(summaries, 1, "the team summary once ({kill:?})");
    }

    // A third run sends nothing.
    let third = run_job(&request, &Resend::Nothing, Some(&aws)).await.expect("the third run succeeds");
    assert_eq!(third.emails_sent, 0, "{third:?}");
    assert_eq!(third.deliveries_in_doubt, in_doubt.len());
    assert_eq!(emails_per_address(&subject), per, "nothing new went out");
    (in_doubt, got_out)
}

/// The placeholder while the real mailer is moved into the wrapper.
struct NeverSent;

#[async_trait]
impl Mailer for NeverSent {
    async fn send(&self, _: &Email) -> Result<String, DomainError> {
        Err(DomainError::infra("SendRawEmail", "no mailer"))
    }
}

#[tokio::test]
async fn killed_before_its_first_hand_over_to_ses_the_rerun_sends_all_eleven_and_holds_nothing() {
    let (in_doubt, got_out) = killed_and_run_again(KillAt::BeforeHandOver(1)).await;
    assert_eq!(got_out, 0, "nothing reached SES before the kill");
    // Up to eight deliveries were claimed (and their reports rendered): none was handed over.
    assert!(in_doubt.is_empty(), "{in_doubt:?}");
}

#[tokio::test]
async fn killed_as_its_first_send_starts_nothing_is_lost_and_only_what_was_handed_to_ses_is_held() {
    let (_, got_out) = killed_and_run_again(KillAt::BeforeSend(1)).await;
    assert_eq!(got_out, 0, "nothing reached SES before the kill");
}

#[tokio::test]
async fn killed_after_ses_accepted_its_first_email_nothing_is_lost_and_at_most_that_one_is_held() {
    let (_, got_out) = killed_and_run_again(KillAt::AfterSend(1)).await;
    assert!(got_out >= 1);
}

#[tokio::test]
async fn killed_after_its_third_send_every_other_report_goes_out_on_the_rerun() {
    let (_, got_out) = killed_and_run_again(KillAt::AfterSend(3)).await;
    assert!(got_out >= 3);
}

#[tokio::test]
async fn killed_after_the_last_providers_send_the_team_summary_still_goes_out_once() {
    let (in_doubt, _) = killed_and_run_again(KillAt::AfterSend(PROVIDERS)).await;
    assert!(!in_doubt.contains("the marketplace team"), "the summary is sent after every provider: {in_doubt:?}");
}

#[tokio::test]
async fn killed_after_ses_accepted_the_team_summary_only_the_summary_can_be_in_doubt() {
    let (in_doubt, got_out) = killed_and_run_again(KillAt::AfterSend(PROVIDERS + 1)).await;
    assert_eq!(got_out, PROVIDERS, "every provider's report went out before the summary");
    assert_eq!(in_doubt, BTreeSet::from(["the marketplace team".to_owned()]));
}

#[tokio::test]
async fn killed_at_its_first_ledger_record_nothing_is_lost() {
    let (in_doubt, got_out) = killed_and_run_again(KillAt::BeforeRecord(1)).await;
    assert!(got_out >= 1);
    assert!(!in_doubt.is_empty(), "the email SES accepted and the run never recorded is in doubt");
}

/// The job's context on the given private `Marketplace` and `Reports` tables.
async fn statement_context(providers: &str, reports: &str) -> AwsContext {
    let mut aws = context().await;
    let client = marketplace_tests::dynamodb().await;
    aws.providers = marketplace_aws::DynamoProviderStore::new(client.clone(), providers);
    aws.reports = ReportsTable::new(client, reports);
    aws
}

#[tokio::test]
async fn statements_killed_after_ses_accepted_the_second_the_rerun_sends_every_other_once() {
    use nightly_reports::statement_run::{run_statements, StatementRequest};
    let (providers, reports) =
        (private_table("Marketplace-stcrash", false).await, private_table("Reports-stcrash", true).await);
    let ids = provider_ids("stcrash", PROVIDERS);
    let mut aws = statement_context(&providers, &reports).await;
    store_providers(aws.providers.table(), &ids, None, true).await;
    // A quiet month for these providers, every day of it run and stored (a statement needs that).
    let month: marketplace_reports::statement::Month = "2024-11".parse().expect("month");
    let dailies = JobRequest {
        plan: ReportPlan::new(month.first_day(), month.last_day()).expect("plan"),
        source: Source::Table,
        partition: None,
        out: std::env::temp_dir().join(unique("stcrash-dailies")),
        delivery: Delivery { store: true, send: false, resend: false },
        parallelism: 4,
    };
    run_job(&dailies, &Resend::Nothing, Some(&aws)).await.expect("dailies");
    let request = StatementRequest {
        month,
        out: std::env::temp_dir().join(unique("stcrash-out")),
        send: true,
        resend: Resend::Nothing,
        scan_page_limit: None,
    };
    let subject = "statement for November 2024";

    // The run, killed as SES accepts its second statement email.
    let kill = KillAt::AfterSend(2);
    let crash = arm(&mut aws, kill);
    killed(&crash, kill, run_statements(&request, &aws)).await;
    let got_out: usize = ids.iter().map(|id| emails_per_address(subject).get(&address(id)).copied().unwrap_or(0)).sum();
    assert!(got_out >= 2, "two statements reached SES before the kill");
    let in_flight = crash.in_flight();

    // The month again, nothing wrapped: it finishes the work by itself.
    let aws = statement_context(&providers, &reports).await;
    let again = run_statements(&request, &aws).await.expect("the re-run succeeds");
    assert_eq!(
        again.emails_sent + again.emails_already_sent + again.deliveries_in_doubt,
        PROVIDERS,
        "every statement counted once: {again:?}"
    );
    let in_doubt: BTreeSet<String> =
        again.in_doubt.iter().map(|d| d.strip_prefix(&format!("{month} ")).expect("month").to_owned()).collect();
    assert!(in_doubt.is_subset(&in_flight), "in doubt only what SES had in flight: {in_doubt:?} vs {in_flight:?}");
    assert!(in_doubt.len() <= IN_FLIGHT, "{in_doubt:?}");
    let per = emails_per_address(subject);
    for id in &ids {
        let got = per.get(&address(id)).copied().unwrap_or(0);
        if in_doubt.contains(id) {
            assert!(got <= 1, "{id} in doubt got {got} statements");
        } else {
            assert_eq!(got, 1, "{id}: exactly one statement");
        }
    }
    // A third run sends nothing.
    let third = run_statements(&request, &aws).await.expect("the third run succeeds");
    assert_eq!((third.emails_sent, third.deliveries_in_doubt), (0, in_doubt.len()), "{third:?}");
    assert_eq!(emails_per_address(subject), per, "nothing new went out");
}

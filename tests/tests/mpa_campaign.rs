//! The MPA campaign against the local stack: a version published through the MPA function
//! (`MpaVersionPublished`), provider records in every standing, then the report job's campaign
//! through the real delivery ledger, send-rate slots and SES.
//!
//! Each test has a `Marketplace` table of its own (a published version applies to every
//! provider of a table, and the other suites share the stack's) and a version name of its own
//! (the ledger's `DELIVERY#MPA#<version>` items are in the shared `Reports` table).
//!
//! What must hold: every target gets exactly one notice; a re-run sends none again; a run killed
//! mid-send, or cut by its deadline, and run again sends the rest once (only what SES may have had
//! in flight is held in doubt); non-targets get none; the team's summary lists the pending.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{SecondsFormat, Utc};
use marketplace_aws::DynamoProviderStore;
use marketplace_core::email::Email;
use marketplace_core::ports::Mailer;
use marketplace_core::provider::{MpaRecord, MpaStatus, Person, ProviderStatus, Undeliverable, UndeliverableReason};
use marketplace_core::DomainError;
use marketplace_reports::delivery::{Resend, SendLimits};
use marketplace_reports::ReportPlan;
use marketplace_tests::deliveries::*;
use marketplace_tests::reports::private_table;
use marketplace_tests::run_clock::*;
use marketplace_tests::*;
use nightly_reports::app::{run_job, run_mpa_campaign, AppError, AwsContext, JobRequest, Source};
use nightly_reports::cli::Delivery;
use nightly_reports::pipeline::RunSummary;
use serde_json::json;
use tokio::sync::Notify;

const TARGETS: usize = 7;

/// One test's world: its table, its version, its targets and the providers that must get nothing.
struct World {
    table: String,
    version: String,
    targets: Vec<String>,
    /// Approved on the new version, never approved, offboarded, undeliverable, accepted the new
    /// one and waiting.
    current: String,
    never: String,
    offboarded: String,
    bounced: String,
    waiting: String,
}

impl World {
    fn not_emailed(&self) -> [&String; 5] {
        [&self.current, &self.never, &self.offboarded, &self.bounced, &self.waiting]
    }

    /// Notices per address.
    fn notices(&self) -> std::collections::BTreeMap<String, usize> {
        emails_per_address(&format!("accept MPA version {}", self.version))
    }
}

fn mpa(version: &str, status: MpaStatus, still_approved: Option<&str>) -> Option<MpaRecord> {
    Some(MpaRecord {
        version: version.into(),
        status,
        accepted_by: Person { id: "u-1".into(), name: "Acceptor".into(), email: "acceptor@provider.example".into() },
        accepted_at: Utc::now(),
        accepted_event: unique("evt"),
        decided_by: Some("team-member-7".into()),
        decided_at: Some(Utc::now()),
        decided_event: Some(unique("evt")),
        rejection_reason: None,
        still_approved: still_approved.map(String::from),
    })
}

async fn put_provider(table: &str, provider: &marketplace_core::provider::Provider) {
    let mut item = marketplace_aws::attributes::to_item(provider).expect("item");
    item.insert("pk".into(), AttributeValue::S(format!("PROVIDER#{}", provider.provider_id)));
    item.insert("sk".into(), AttributeValue::S("PROFILE".into()));
    item.insert("item_type".into(), AttributeValue::S("provider".into()));
    dynamodb().await.put_item().table_name(table).set_item(Some(item)).send().await.expect("put provider");
}

/// A private `Marketplace` table with a new version published through the MPA function
/// (effective in 30 days) and providers in every standing.
async fn world(prefix: &str) -> World {
    let mut app = app().await;
    let table = private_table(&format!("Marketplace-{prefix}"), false).await;
    app.store = DynamoProviderStore::new(dynamodb().await, &table).with_claims(app.idempotency.clone());
    let old = app.config.mpa_current_version.clone();
    let version = unique("v").replace('-', "");
    let published = portal_event(
        &unique("evt"),
        "MpaVersionPublished",
        json!({
            "mpa_version": version,
            "text_url": format!("https://marketplace.example.com/legal/mpa/{version}"),
            "effective_at": (Utc::now() + chrono::Duration::days(30)).to_rfc3339_opts(SecondsFormat::Secs, true),
            "actor": {"id": "team-member-9", "role": "marketplace-team"},
        }),
    );
    let report = mpa_report(&app, &[published]).await;
    assert!(rejected(&report).is_empty() && retried(&report).is_empty(), "the version is published: {report:?}");

    let ids = provider_ids(prefix, TARGETS + 5);
    let (targets, rest) = ids.split_at(TARGETS);
    for id in targets {
        put_provider(&table, &Provider { mpa: mpa(&old, MpaStatus::Approved, None), ..provider(id, false) }).await;
    }
    let [current, never, offboarded, bounced, waiting] = rest else { unreachable!("five") };
    put_provider(&table, &Provider { mpa: mpa(&version, MpaStatus::Approved, None), ..provider(current, false) }).await;
    put_provider(&table, &provider(never, false)).await;
    let gone = Provider {
        status: ProviderStatus::Offboarded,
        mpa: mpa(&old, MpaStatus::Approved, None),
        ..provider(offboarded, false)
    };
    put_provider(&table, &gone).await;
    let mut undeliverable = Provider { mpa: mpa(&old, MpaStatus::Approved, None), ..provider(bounced, false) };
    undeliverable.undeliverable.push(Undeliverable {
        address: address(bounced),
        reason: UndeliverableReason::PermanentBounce,
        detail: "General".into(),
        at: Utc::now(),
        feedback_id: unique("feedback"),
    });
    put_provider(&table, &undeliverable).await;
    put_provider(
        &table,
        &Provider { mpa: mpa(&version, MpaStatus::PendingApproval, Some(&old)), ..provider(waiting, false) },
    )
    .await;
    World {
        table,
        version,
        targets: targets.to_vec(),
        current: current.clone(),
        never: never.clone(),
        offboarded: offboarded.clone(),
        bounced: bounced.clone(),
        waiting: waiting.clone(),
    }
}

use marketplace_core::provider::Provider;

/// The job's context on the world's table; Scan pages of 4 records, so the scan crosses pages.
async fn context(world: &World, concurrency: usize) -> AwsContext {
    let mut aws = AwsContext::from_env().await.expect("local stack env");
    aws.providers = DynamoProviderStore::new(dynamodb().await, &world.table);
    aws.scan_page_limit = Some(4);
    aws.sends = SendLimits {
        concurrency: NonZeroUsize::new(concurrency).expect("concurrency"),
        per_second: NonZeroU32::new(200).expect("rate"),
    };
    aws
}

fn campaign(summary: &RunSummary) -> &marketplace_reports::mpa_campaign::CampaignCounts {
    summary.mpa_campaign.as_ref().expect("a campaign ran")
}

fn assert_each_target_once(world: &World, in_doubt: &[String]) {
    let notices = world.notices();
    for id in &world.targets {
        let got = notices.get(&address(id)).copied().unwrap_or(0);
        if in_doubt.contains(id) {
            assert!(got <= 1, "{id} in doubt got {got} notices");
        } else {
            assert_eq!(got, 1, "{id}: exactly one notice");
        }
    }
    for id in world.not_emailed() {
        assert_eq!(notices.get(&address(id)), None, "{id} is not a target");
    }
}

#[tokio::test]
async fn each_target_gets_one_notice_a_rerun_none_and_non_targets_none() {
    let world = world("campaign").await;
    let aws = context(&world, 4).await;
    let first = run_mpa_campaign(&aws, &Resend::Nothing).await.expect("the campaign runs");
    let counts = campaign(&first);
    assert_eq!((counts.targets, counts.sent, counts.already_sent), (TARGETS + 1, TARGETS, 0), "{counts:?}");
    assert_eq!(counts.undeliverable, vec![world.bounced.clone()], "{counts:?}");
    assert_eq!(counts.offboarded, 1, "{counts:?}");
    assert_eq!(counts.pending, TARGETS + 2, "the targets, the bounced one and the waiting one: {counts:?}");
    assert_eq!(first.emails_sent, TARGETS);
    assert_each_target_once(&world, &[]);
    let notice = emails_to(&address(&world.targets[0]))
        .into_iter()
        .find(|e| e.subject.contains(&world.version))
        .expect("the notice");
    assert!(notice.text.contains(&format!("https://marketplace.example.com/legal/mpa/{}", world.version)));
    assert!(notice.text.contains("Marketplace Representative"), "{}", notice.text);

    let again = run_mpa_campaign(&aws, &Resend::Nothing).await.expect("the re-run runs");
    let counts = campaign(&again);
    assert_eq!((counts.sent, counts.already_sent), (0, TARGETS), "{counts:?}");
    assert_each_target_once(&world, &[]);
}

/// A mailer that dies as the `n`-th send starts (nothing of it reaches SES): the test then drops
/// the run, as a process death would.
struct DyingMailer {
    inner: Box<dyn Mailer>,
    sends: AtomicUsize,
    n: usize,
    died: Arc<Notify>,
}

#[async_trait]
impl Mailer for DyingMailer {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        if self.sends.fetch_add(1, Ordering::SeqCst) + 1 >= self.n {
            self.died.notify_one();
            return std::future::pending().await;
        }
        self.inner.send(email).await
    }
}

#[tokio::test]
async fn a_run_killed_mid_campaign_and_run_again_sends_the_rest_once() {
    let world = world("campaign-kill").await;
    // One notice in flight at a time: killed as the fourth send starts, three went out and the
    // fourth was handed to SES (in doubt: it may have gone out, as far as the ledger knows).
    let mut aws = context(&world, 1).await;
    let died = Arc::new(Notify::new());
    let real = std::mem::replace(&mut aws.mailer, Box::new(NoMailer));
    aws.mailer = Box::new(DyingMailer { inner: real, sends: AtomicUsize::new(0), n: 4, died: died.clone() });
    tokio::select! {
        biased;
        () = died.notified() => {}
        outcome = run_mpa_campaign(&aws, &Resend::Nothing) => panic!("the run was to be killed: {outcome:?}"),
    }
    let got_out: usize = world.notices().values().sum();
    assert_eq!(got_out, 3);

    let again = run_mpa_campaign(&context(&world, 4).await, &Resend::Nothing).await.expect("the re-run runs");
    let counts = campaign(&again);
    assert_eq!(counts.in_doubt, vec![world.targets[3].clone()], "only the send in flight is held: {counts:?}");
    assert_eq!((counts.sent, counts.already_sent), (TARGETS - 4, 3), "{counts:?}");
    assert_eq!(again.deliveries_in_doubt, 1);
    assert_eq!(again.in_doubt, vec![format!("MPA {} {}", world.version, world.targets[3])]);
    assert_each_target_once(&world, &counts.in_doubt);
    assert_eq!(world.notices().get(&address(&world.targets[3])), None, "the killed send never reached SES");

    let third = run_mpa_campaign(&context(&world, 4).await, &Resend::Nothing).await.expect("the third run runs");
    assert_eq!(campaign(&third).sent, 0, "{third:?}");
}

#[tokio::test]
async fn a_campaign_cut_by_its_deadline_fails_holds_nothing_and_its_retry_sends_the_rest() {
    let world = world("campaign-deadline").await;
    let mut aws = context(&world, 2).await;
    time_runs_short_at_email(&mut aws, 2);
    let cut = match run_mpa_campaign(&aws, &Resend::Nothing).await {
        Err(AppError::Undelivered(summary)) => summary,
        other => panic!("a campaign whose time ran short fails so that Lambda retries it: {other:?}"),
    };
    let counts = campaign(&cut);
    assert!((2..=3).contains(&counts.sent), "{counts:?}");
    assert!(counts.in_doubt.is_empty(), "nothing in doubt: {counts:?}");
    assert_eq!(counts.postponed.len(), TARGETS - counts.sent, "{counts:?}");
    assert_eq!(cut.deliveries_postponed, counts.postponed.len());

    let retry = run_mpa_campaign(&context(&world, 2).await, &Resend::Nothing).await.expect("the retry runs");
    let again = campaign(&retry);
    assert_eq!((again.sent, again.already_sent), (TARGETS - counts.sent, counts.sent), "{again:?}");
    assert_each_target_once(&world, &[]);
}

#[tokio::test]
async fn a_nightly_run_lists_the_pending_in_the_team_summary_and_sends_the_notices() {
    let world = world("campaign-nightly").await;
    let aws = context(&world, 4).await;
    let date = date_of_its_own();
    // The day's report of one target, so the run has a report and a team summary.
    let request = JobRequest {
        plan: ReportPlan::single(date),
        source: Source::Export(export_file(&world.targets[..1], &date.to_string())),
        partition: None,
        out: std::env::temp_dir().join(unique("campaign-out")),
        delivery: Delivery { store: false, send: true, resend: false },
        parallelism: 1,
    };
    let run = run_job(&request, &Resend::Nothing, Some(&aws)).await.expect("the night runs");
    assert_eq!(campaign(&run).sent, TARGETS, "{run:?}");
    assert_eq!(run.emails_sent, 1 + 1 + TARGETS, "a report, the summary, the notices: {run:?}");
    assert_each_target_once(&world, &[]);

    let summaries = team_emails_about(&format!("summary for {date}"));
    assert_eq!(summaries.len(), 1);
    let text = &summaries[0].text;
    assert!(text.contains(&format!("MPA version {}", world.version)), "{text}");
    assert!(text.contains(&format!("{} provider(s) are approved only on an older version", TARGETS + 2)), "{text}");
    for id in world.targets.iter().chain([&world.bounced, &world.waiting]) {
        assert!(text.contains(id.as_str()), "{id} is pending: {text}");
    }
    for id in [&world.current, &world.never, &world.offboarded] {
        assert!(!text.contains(id.as_str()), "{id} is not pending: {text}");
    }
    assert!(text.contains("accepted, awaiting approval"), "{text}");

    // The next night sends no notice again.
    let next = JobRequest { plan: ReportPlan::single(date + chrono::Days::new(1)), ..request };
    let run = run_job(&next, &Resend::Nothing, Some(&aws)).await.expect("the next night runs");
    assert_eq!((campaign(&run).sent, campaign(&run).already_sent), (0, TARGETS), "{run:?}");
    assert_each_target_once(&world, &[]);
}

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::*;

/// Where a delivery is in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Claimed,
    Sending,
    Sent,
}

/// The ledger's protocol in memory (the DynamoDB one: `marketplace_aws::reports_table::ledger`).
#[derive(Default)]
struct MemLedger(Mutex<HashMap<String, (String, State)>>);

fn k(of: DeliveryOf, to: &Recipient) -> String {
    format!("{of:?}{to:?}")
}

impl MemLedger {
    fn state(&self, of: DeliveryOf, to: &Recipient) -> Option<State> {
        self.0.lock().expect("lock").get(&k(of, to)).map(|e| e.1)
    }
}

#[async_trait]
impl DeliveryLedger for MemLedger {
    async fn claim(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        force: bool,
    ) -> Result<Result<(), ClaimRefused>, DomainError> {
        let mut m = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
        match m.get(&k(of, to)) {
            Some((held, State::Sent)) if !force && held != token => Ok(Err(ClaimRefused::AlreadySent)),
            Some((held, State::Sending)) if !force && held != token => Ok(Err(ClaimRefused::InDoubt)),
            _ => {
                m.insert(k(of, to), (token.into(), State::Claimed));
                Ok(Ok(()))
            }
        }
    }
    async fn hand_over(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<bool, DomainError> {
        let mut m = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
        match m.get_mut(&k(of, to)) {
            Some(e) if e.0 == token && e.1 != State::Sent => {
                e.1 = State::Sending;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn record_sent(&self, of: DeliveryOf, to: &Recipient, token: &str, _: &[String]) -> Result<(), DomainError> {
        let mut m = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
        if let Some(e) = m.get_mut(&k(of, to)).filter(|e| e.0 == token) {
            e.1 = State::Sent;
        }
        Ok(())
    }
    async fn release(&self, of: DeliveryOf, to: &Recipient, token: &str) -> Result<(), DomainError> {
        let mut m = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
        if m.get(&k(of, to)).is_some_and(|e| e.0 == token) {
            m.remove(&k(of, to));
        }
        Ok(())
    }
}

struct CountingMailer(Mutex<u32>, bool);

#[async_trait]
impl Mailer for CountingMailer {
    async fn send(&self, _: &Email) -> Result<String, DomainError> {
        if self.1 {
            return Err(DomainError::infra("send", "down"));
        }
        let mut n = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
        *n += 1;
        Ok(format!("msg-{n}"))
    }
}

fn email() -> Email {
    Email {
        from: "a@x".into(),
        reply_to: "a@x".into(),
        to: vec!["b@x".into()],
        subject: "s".into(),
        text: "t".into(),
        html: "h".into(),
        attachments: vec![],
        inline_images: vec![],
    }
}

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 2, 14).unwrap_or_default()
}

#[tokio::test]
async fn second_delivery_of_the_same_date_sends_nothing_unless_resend() {
    let ledger = MemLedger::default();
    let mailer = CountingMailer(Mutex::new(0), false);
    let to = Recipient::Provider("acme".into());
    let first = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t1", false).await.expect("ok");
    assert_eq!(first, Delivered::Sent(vec!["msg-1".into()]));
    let again = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t2", false).await.expect("ok");
    assert_eq!(again, Delivered::AlreadySent);
    let forced = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t3", true).await.expect("ok");
    assert_eq!(forced, Delivered::Sent(vec!["msg-2".into()]));
    let team = deliver_once(&ledger, &mailer, day(), &Recipient::Team, &[email()], "t4", false).await.expect("ok");
    assert!(matches!(team, Delivered::Sent(_)));
    // The month's statement is a delivery of its own: the daily one does not stand in for it.
    let month = crate::statement::Month::of(day());
    let statement = deliver_once(&ledger, &mailer, month, &to, &[email()], "t5", false).await.expect("ok");
    assert_eq!(statement, Delivered::Sent(vec!["msg-4".into()]));
    let again = deliver_once(&ledger, &mailer, month, &to, &[email()], "t6", false).await.expect("ok");
    assert_eq!(again, Delivered::AlreadySent);
}

#[tokio::test]
async fn failed_send_releases_the_claim_so_the_next_run_retries() {
    let ledger = MemLedger::default();
    let to = Recipient::Provider("acme".into());
    let down = CountingMailer(Mutex::new(0), true);
    assert!(deliver_once(&ledger, &down, day(), &to, &[email()], "t1", false).await.is_err());
    let up = CountingMailer(Mutex::new(0), false);
    let retry = deliver_once(&ledger, &up, day(), &to, &[email()], "t2", false).await.expect("ok");
    assert!(matches!(retry, Delivered::Sent(_)));
}

#[tokio::test]
async fn a_claim_never_handed_to_ses_is_taken_over_and_sent_by_the_next_run() {
    let ledger = MemLedger::default();
    let to = Recipient::Provider("acme".into());
    // A run claimed, then died before handing the delivery to SES: nothing went out.
    assert!(ledger.claim(day().into(), &to, "crashed", false).await.expect("ok").is_ok());
    let mailer = CountingMailer(Mutex::new(0), false);
    let out = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t2", false).await.expect("ok");
    assert_eq!(out, Delivered::Sent(vec!["msg-1".into()]));
    assert_eq!(ledger.state(day().into(), &to), Some(State::Sent));
}

#[tokio::test]
async fn a_delivery_handed_to_ses_and_never_recorded_is_in_doubt_and_not_resent() {
    let ledger = MemLedger::default();
    let to = Recipient::Provider("acme".into());
    // A run handed the delivery to SES, then died before recording it: it may have gone out.
    assert!(ledger.claim(day().into(), &to, "crashed", false).await.expect("ok").is_ok());
    assert!(ledger.hand_over(day().into(), &to, "crashed").await.expect("ok"));
    let mailer = CountingMailer(Mutex::new(0), false);
    let out = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t2", false).await.expect("ok");
    assert_eq!(out, Delivered::InDoubt);
    assert_eq!(*mailer.0.lock().expect("lock"), 0);
    // The operator's re-send goes out.
    let forced = deliver_once(&ledger, &mailer, day(), &to, &[email()], "t3", true).await.expect("ok");
    assert_eq!(forced, Delivered::Sent(vec!["msg-1".into()]));
}

#[tokio::test]
async fn a_run_whose_claim_was_taken_over_before_its_hand_over_sends_nothing() {
    let ledger = MemLedger::default();
    let to = Recipient::Provider("acme".into());
    let (a, b) = (CountingMailer(Mutex::new(0), false), CountingMailer(Mutex::new(0), false));
    // Run A claims; run B takes the claim over before A hands it to SES.
    assert_eq!(claim(&ledger, day().into(), &to, "a", false).await.expect("ok"), None);
    assert_eq!(claim(&ledger, day().into(), &to, "b", false).await.expect("ok"), None);
    let run = |mailer, token: &str| Sender::with_token(&ledger, mailer, limits(1, 1000), token.to_owned());
    let late = run(&a, "a").send_claimed(day().into(), &to, &[email()]).await.expect("ok");
    assert_eq!(late, Delivered::AlreadySent, "A lost the claim: B delivers");
    let sent = run(&b, "b").send_claimed(day().into(), &to, &[email()]).await.expect("ok");
    assert_eq!(sent, Delivered::Sent(vec!["msg-1".into()]));
    assert_eq!((*a.0.lock().expect("lock"), *b.0.lock().expect("lock")), (0, 1), "one email between both runs");
}

#[tokio::test]
async fn a_repeated_claim_or_hand_over_of_the_same_run_is_its_own() {
    // An SDK retry of a write whose first attempt succeeded.
    let ledger = MemLedger::default();
    let to = Recipient::Team;
    assert!(ledger.claim(day().into(), &to, "t1", false).await.expect("ok").is_ok());
    assert!(ledger.claim(day().into(), &to, "t1", false).await.expect("ok").is_ok());
    assert!(ledger.hand_over(day().into(), &to, "t1").await.expect("ok"));
    assert!(ledger.hand_over(day().into(), &to, "t1").await.expect("ok"));
    assert_eq!(ledger.state(day().into(), &to), Some(State::Sending));
}

fn limits(concurrency: usize, per_second: u32) -> SendLimits {
    SendLimits {
        concurrency: NonZeroUsize::new(concurrency).expect("not zero"),
        per_second: NonZeroU32::new(per_second).expect("not zero"),
    }
}

#[test]
fn send_limits_default_to_8_in_flight_and_14_per_second_and_refuse_nonsense() {
    let of = |pairs: &'static [(&'static str, &'static str)]| {
        SendLimits::from_lookup(move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
    };
    assert_eq!(of(&[]).expect("defaults"), limits(8, 14));
    assert_eq!(of(&[("REPORT_SEND_CONCURRENCY", " "), ("SES_MAX_SEND_RATE", "")]).expect("blank"), limits(8, 14));
    assert_eq!(of(&[("REPORT_SEND_CONCURRENCY", "1"), ("SES_MAX_SEND_RATE", "50")]).expect("set"), limits(1, 50));
    match of(&[("REPORT_SEND_CONCURRENCY", "0"), ("SES_MAX_SEND_RATE", "14.5")]) {
        Err(DomainError::Invalid(problems)) => {
            assert_eq!(problems.len(), 2, "{problems:?}");
            assert!(problems[0].contains("REPORT_SEND_CONCURRENCY") && problems[1].contains("SES_MAX_SEND_RATE"));
        }
        other => panic!("expected both refused, got {other:?}"),
    }
    assert!(of(&[("REPORT_SEND_CONCURRENCY", "257")]).is_err());
}

/// Keeps a note of every send: what its function makes of the email (the email itself, the
/// instant it was sent).
struct NotingMailer<T>(Mutex<Vec<T>>, fn(&Email) -> T);

impl<T> NotingMailer<T> {
    fn new(note: fn(&Email) -> T) -> Self {
        NotingMailer(Mutex::new(Vec::new()), note)
    }
}

#[async_trait]
impl<T: Send> Mailer for NotingMailer<T> {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        let mut notes = self.0.lock().map_err(|e| DomainError::infra("lock", e))?;
        notes.push((self.1)(email));
        Ok(format!("msg-{}", notes.len()))
    }
}

// The pace's arithmetic with given instants: no clock is read, no time passes.
#[test]
fn sends_asked_for_at_once_are_spaced_at_the_rate_and_a_quiet_spell_saves_up_no_burst() {
    let pace = SendPace::new(NonZeroU32::new(4).expect("4"));
    let start = Instant::now();
    // Ten sends asked for at the same instant (ten deliveries in flight).
    let at: Vec<_> = (0..10).map(|_| pace.take_slot(start)).collect();
    assert_eq!(at[0], start, "the first send does not wait");
    for pair in at.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_millis(250), "4 per second: one every 250 ms");
    }
    // A send asked for before its slot still waits for it.
    assert_eq!(pace.take_slot(start + Duration::from_millis(100)), start + Duration::from_millis(2500));
    // After a quiet spell the next send goes at once, the one after it a slot on.
    let quiet = start + Duration::from_secs(10);
    assert_eq!((pace.take_slot(quiet), pace.take_slot(quiet)), (quiet, quiet + Duration::from_millis(250)));
}

#[tokio::test]
async fn each_keeps_at_most_the_limit_in_flight_and_starts_work_in_order() {
    let ledger = MemLedger::default();
    let mailer = CountingMailer(Mutex::new(0), false);
    let sender = Sender::new(&ledger, &mailer, limits(3, 14));
    let in_flight = Mutex::new((0usize, 0usize));
    let mut started = Vec::new();
    let mut finished = Vec::new();
    sender
        .each(
            0..10u64,
            |i| {
                started.push(i);
                let in_flight = &in_flight;
                async move {
                    {
                        let mut n = in_flight.lock().expect("lock");
                        n.0 += 1;
                        n.1 = n.1.max(n.0);
                    }
                    // Later items finish sooner (fewer turns to wait): completion order is not
                    // start order. Turns, not timers: nothing here depends on the machine's speed.
                    for _ in 0..(10 - i) {
                        tokio::task::yield_now().await;
                    }
                    in_flight.lock().expect("lock").0 -= 1;
                    i
                }
            },
            |i| finished.push(i),
        )
        .await;
    assert_eq!(started, (0..10).collect::<Vec<_>>(), "work is started in item order");
    assert_eq!(in_flight.lock().expect("lock").1, 3, "never more than 3 in flight");
    finished.sort_unstable();
    assert_eq!(finished, (0..10).collect::<Vec<_>>(), "every item done once");
}

/// One provider record (acme), nothing else.
struct OneProvider;

#[async_trait]
impl ProviderDirectory for OneProvider {
    async fn get_provider(
        &self,
        provider_id: &str,
    ) -> Result<Option<marketplace_core::provider::Provider>, DomainError> {
        Ok((provider_id == "acme").then(marketplace_core::provider::Provider::example))
    }
}

/// A chart source that draws a fixed picture, or fails.
struct Charts(bool);

#[async_trait]
impl ReportCharts for Charts {
    async fn chart(&self, report: &DailyReport, provider_id: &str) -> Result<ReportPicture, DomainError> {
        if !self.0 {
            return Err(DomainError::infra("Query Reports", "throttled"));
        }
        Ok(ReportPicture {
            png: format!("png of {provider_id} {}", report.date).into_bytes(),
            alt_text: "alt".into(),
            width: 720,
            height: 360,
            caption: "caption".into(),
            header: vec!["Date".into()],
            rows: vec![],
        })
    }
}

fn acme_report() -> DailyReport {
    let line = r#"{"Item":{"deployment_id":{"S":"d-1"},"provider_id":{"S":"acme"},"product_id":{"S":"vault"},"product_name":{"S":"Vault"},"customer_alias":{"S":"C"},"started_at":{"S":"2026-02-14T01:00:00Z"},"finished_at":{"S":"2026-02-14T02:00:00Z"},"status":{"S":"SUCCEEDED"},"errors":{"L":[]},"billing_model":{"S":"monthly"},"quantity":{"N":"1"},"unit_price":{"N":"49.99"},"currency":{"S":"USD"},"provider_share":{"N":"0.8"}}}"#;
    let mut agg = crate::Aggregator::new(crate::ReportPlan::single(day()));
    let item = crate::attribute::parse_export_line(line).expect("line");
    agg.ingest_item(&item, &String::new).expect("ok");
    agg.finish().expect("ok").remove(0)
}

#[tokio::test]
async fn the_provider_email_carries_the_chart_and_goes_without_it_when_the_chart_fails() {
    let config = PortalConfig::example();
    for works in [true, false] {
        let (ledger, mailer) = (MemLedger::default(), NotingMailer::new(Email::clone));
        let charts = Charts(works);
        let services = DeliveryServices {
            ledger: &ledger,
            mailer: &mailer,
            providers: &OneProvider,
            config: &config,
            charts: Some(&charts),
            limits: SendLimits::default(),
            rate: None,
            time_left: None,
        };
        let counts = deliver_reports(&services, &acme_report(), &Resend::Nothing, None).await;
        assert_eq!((counts.sent, counts.failed.len()), (2, 0), "provider and team, chart works: {works}");
        let sent = mailer.0.lock().expect("lock");
        let images: Vec<_> = sent[0].inline_images.iter().map(|i| i.data.clone()).collect();
        if works {
            assert_eq!(images, [b"png of acme 2026-02-14".to_vec()]);
        } else {
            assert!(images.is_empty() && !sent[0].html.contains("<img"));
        }
        assert!(sent[1].inline_images.is_empty(), "the team's email has no chart");
    }
}

/// Time left that the test sets, in seconds.
struct Left(std::sync::atomic::AtomicU64);

impl TimeLeft for Left {
    fn time_left(&self) -> Option<Duration> {
        Some(Duration::from_secs(self.0.load(std::sync::atomic::Ordering::SeqCst)))
    }
}

#[tokio::test]
async fn short_of_time_a_sender_claims_nothing_more_and_releases_what_it_has_not_handed_to_ses() {
    use std::sync::atomic::Ordering::SeqCst;
    let ledger = MemLedger::default();
    let mailer = CountingMailer(Mutex::new(0), false);
    let left = Left(900.into());
    let sender = Sender::new(&ledger, &mailer, limits(2, 1000)).until(Some(&left));
    let to = |id: &str| Recipient::Provider(id.into());
    let of = DeliveryOf::from(day());
    assert!(matches!(sender.deliver(of, &to("a"), &[email()], false).await, Ok(Delivered::Sent(_))));
    assert_eq!(sender.claim(of, &to("b"), false).await.expect("claim"), None, "15 minutes left: claimed");
    assert_eq!(sender.claim(of, &to("d"), false).await.expect("claim"), None);
    // 60 s left: less than the claim's reserve (90 s), more than the hand-over's (45 s).
    left.0.store(60, SeqCst);
    assert_eq!(sender.claim(of, &to("c"), false).await.expect("claim"), Some(Delivered::Postponed));
    assert_eq!(ledger.state(of, &to("c")), None, "a postponed delivery is not claimed");
    assert!(matches!(sender.send_claimed(of, &to("b"), &[email()]).await, Ok(Delivered::Sent(_))));
    // 30 s left: a claimed delivery is released, not handed over.
    left.0.store(30, SeqCst);
    assert_eq!(sender.send_claimed(of, &to("d"), &[email()]).await.expect("send"), Delivered::Postponed);
    assert_eq!(ledger.state(of, &to("d")), None, "released: the retry claims it afresh");
    assert_eq!(*mailer.0.lock().expect("lock"), 2, "only a and b went to SES");
    // No deadline (the command line): everything goes.
    let unbounded = Sender::new(&ledger, &mailer, limits(2, 1000));
    for id in ["c", "d"] {
        assert!(matches!(unbounded.deliver(of, &to(id), &[email()], false).await, Ok(Delivered::Sent(_))));
    }
}

/// acme, offboarded.
struct OffboardedProvider;

#[async_trait]
impl ProviderDirectory for OffboardedProvider {
    async fn get_provider(
        &self,
        provider_id: &str,
    ) -> Result<Option<marketplace_core::provider::Provider>, DomainError> {
        use marketplace_core::provider::{Provider, ProviderStatus};
        Ok((provider_id == "acme").then(|| Provider { status: ProviderStatus::Offboarded, ..Provider::example() }))
    }
}

#[tokio::test]
async fn an_offboarded_provider_is_counted_and_sent_no_report_while_the_team_gets_its_summary() {
    let config = PortalConfig::example();
    let (ledger, mailer) = (MemLedger::default(), NotingMailer::new(Email::clone));
    let services = DeliveryServices {
        ledger: &ledger,
        mailer: &mailer,
        providers: &OffboardedProvider,
        config: &config,
        charts: None,
        limits: SendLimits::default(),
        rate: None,
        time_left: None,
    };
    let counts = deliver_reports(&services, &acme_report(), &Resend::Nothing, None).await;
    assert_eq!((counts.sent, counts.offboarded, counts.failed.len()), (1, 1, 0), "{counts:?}");
    let sent = mailer.0.lock().expect("lock");
    assert_eq!(sent[0].to, std::slice::from_ref(&config.team_inbox), "the team's summary only");
    let of = DeliveryOf::from(day());
    assert_eq!(ledger.state(of, &Recipient::Provider("acme".into())), None, "no claim for the provider");
}

/// acme, whose contact SES reported undeliverable (a permanent bounce).
struct BouncedProvider;

#[async_trait]
impl ProviderDirectory for BouncedProvider {
    async fn get_provider(
        &self,
        provider_id: &str,
    ) -> Result<Option<marketplace_core::provider::Provider>, DomainError> {
        use marketplace_core::provider::{Provider, Undeliverable, UndeliverableReason};
        let provider = Provider::example();
        let undeliverable = vec![Undeliverable {
            address: provider.contact_email.clone(),
            reason: UndeliverableReason::PermanentBounce,
            detail: "Permanent/General".into(),
            at: chrono::DateTime::UNIX_EPOCH,
            feedback_id: "f1".into(),
        }];
        Ok((provider_id == "acme").then_some(Provider { undeliverable, ..provider }))
    }
}

#[tokio::test]
async fn a_provider_whose_contact_is_undeliverable_is_sent_no_report_and_counted_suppressed() {
    let config = PortalConfig::example();
    let (ledger, mailer) = (MemLedger::default(), NotingMailer::new(Email::clone));
    let services = DeliveryServices {
        ledger: &ledger,
        mailer: &mailer,
        providers: &BouncedProvider,
        config: &config,
        charts: None,
        limits: SendLimits::default(),
        rate: None,
        time_left: None,
    };
    let counts = deliver_reports(&services, &acme_report(), &Resend::Nothing, None).await;
    assert_eq!((counts.sent, counts.suppressed, counts.failed.len()), (1, 1, 0), "{counts:?}");
    let sent = mailer.0.lock().expect("lock").clone();
    assert_eq!(sent[0].to, std::slice::from_ref(&config.team_inbox), "the team's summary only");
    let of = DeliveryOf::from(day());
    assert_eq!(ledger.state(of, &Recipient::Provider("acme".into())), None, "the claim is not left behind");
    let reason = suppressed_because(&BouncedProvider.get_provider("acme").await.unwrap().unwrap()).expect("a reason");
    assert!(reason.starts_with("the contact address is undeliverable: PermanentBounce"), "{reason}");
    assert!(!reason.contains('@'), "{reason}");
}

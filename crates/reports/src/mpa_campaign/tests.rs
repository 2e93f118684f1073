use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::delivery::{ClaimRefused, DeliveryLedger, SendLimits};
use crate::storage::DeliveryOf;
use marketplace_core::agreement::MpaVersion;
use marketplace_core::email::{Email, Message};
use marketplace_core::ports::{Mailer, ProviderDirectory};
use marketplace_core::provider::{
    MpaRecord, Person, ProviderStatus, Representative, Undeliverable, UndeliverableReason,
};
use marketplace_core::PortalConfig;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("time").with_timezone(&Utc)
}

/// The configuration's version ("2026-01" in the example config's terms), then 2026-06, then
/// 2027-01 effective on 2027-01-01.
fn versions() -> MpaVersions {
    let mut versions = MpaVersions::from_config(&PortalConfig::example());
    for (version, effective) in [("2026-06", "2026-06-01T00:00:00Z"), ("2027-01", "2027-01-01T00:00:00Z")] {
        versions.versions.push(MpaVersion {
            version: version.into(),
            text_url: format!("https://marketplace.example.com/legal/mpa/{version}"),
            effective_at: at(effective),
            published_at: at("2026-05-01T00:00:00Z"),
            published_by: "team-9".into(),
            event_id: format!("e-{version}"),
        });
    }
    versions.revision = 2;
    versions
}

fn first() -> String {
    PortalConfig::example().mpa_current_version
}

fn mpa(version: &str, status: MpaStatus, still_approved: Option<&str>) -> Option<MpaRecord> {
    Some(MpaRecord {
        version: version.into(),
        status,
        accepted_by: Person { id: "u1".into(), name: "Jane".into(), email: "jane@acme.example".into() },
        accepted_at: at("2026-01-02T00:00:00Z"),
        accepted_event: "e1".into(),
        decided_by: None,
        decided_at: None,
        decided_event: None,
        rejection_reason: None,
        still_approved: still_approved.map(String::from),
    })
}

fn provider(id: &str, mpa: Option<MpaRecord>) -> Provider {
    Provider {
        provider_id: id.into(),
        company_name: format!("{id} Inc"),
        contact_email: format!("{id}@p.example"),
        mpa,
        ..Provider::example()
    }
}

#[test]
fn targets_are_providers_approved_only_on_an_older_version_who_have_not_accepted_the_latest() {
    let v = versions();
    let cases = [
        ("approved on the first", mpa(&first(), MpaStatus::Approved, None), Standing::Target),
        ("approved on the previous", mpa("2026-06", MpaStatus::Approved, None), Standing::Target),
        ("approved on an unknown version", mpa("1999", MpaStatus::Approved, None), Standing::Target),
        ("approved on the latest", mpa("2027-01", MpaStatus::Approved, None), Standing::NotConcerned),
        ("never accepted", None, Standing::NotConcerned),
        ("first acceptance pending", mpa(&first(), MpaStatus::PendingApproval, None), Standing::NotConcerned),
        ("first acceptance rejected", mpa("2026-06", MpaStatus::Rejected, None), Standing::NotConcerned),
        (
            "accepted the latest early, still approved on the previous",
            mpa("2027-01", MpaStatus::PendingApproval, Some("2026-06")),
            Standing::AcceptedLatest,
        ),
        (
            "rejected on the latest, still approved on the previous",
            mpa("2027-01", MpaStatus::Rejected, Some("2026-06")),
            Standing::AcceptedLatest,
        ),
        (
            "accepted the previous (pending), still approved on the first",
            mpa("2026-06", MpaStatus::PendingApproval, Some(&first())),
            Standing::Target,
        ),
    ];
    for (why, record, expected) in cases {
        assert_eq!(standing(&provider("p", record), &v), expected, "{why}");
    }
    let offboarded =
        Provider { status: ProviderStatus::Offboarded, ..provider("gone", mpa(&first(), MpaStatus::Approved, None)) };
    assert_eq!(standing(&offboarded, &v), Standing::Offboarded);
    let offboarded_current =
        Provider { status: ProviderStatus::Offboarded, ..provider("gone", mpa("2027-01", MpaStatus::Approved, None)) };
    assert_eq!(standing(&offboarded_current, &v), Standing::NotConcerned);
}

#[test]
fn no_campaign_before_a_version_is_stored_and_pending_lists_the_first_200_by_id_in_any_order() {
    let config = PortalConfig::example();
    assert!(Campaign::new(MpaVersions::from_config(&config), Utc::now()).is_none(), "revision 0: no campaign");
    let mut campaign = Campaign::new(versions(), at("2026-12-01T00:00:00Z")).expect("a campaign");
    assert!(!campaign.pending.in_effect);
    // 250 pending in reverse id order, one waiting for approval, one approved on the latest.
    for i in (0..250).rev() {
        campaign.add(provider(&format!("p{i:03}"), mpa(&first(), MpaStatus::Approved, None)));
    }
    campaign.add(provider("q-waits", mpa("2027-01", MpaStatus::PendingApproval, Some("2026-06"))));
    campaign.add(provider("q-current", mpa("2027-01", MpaStatus::Approved, None)));
    campaign.add(Provider {
        status: ProviderStatus::Offboarded,
        ..provider("q-gone", mpa(&first(), MpaStatus::Approved, None))
    });
    let campaign = campaign.sorted();
    assert_eq!(campaign.targets.len(), 250);
    assert_eq!(campaign.targets[0].provider_id, "p000");
    assert_eq!(campaign.pending.total, 251);
    assert_eq!(campaign.pending.listed.len(), PENDING_LISTED);
    assert_eq!(campaign.pending.listed[0].provider_id, "p000");
    assert_eq!(campaign.pending.listed[199].provider_id, "p199");
    assert_eq!(campaign.offboarded, 1);
    let in_effect = Campaign::new(versions(), at("2027-01-01T00:00:00Z")).expect("a campaign");
    assert!(in_effect.pending.in_effect);
}

fn config() -> PortalConfig {
    PortalConfig { portal_url: "https://portal.m.example".into(), ..PortalConfig::example() }
}

#[test]
fn the_notice_says_what_changed_what_happens_how_to_accept_and_whom_to_ask() {
    let mut acme = provider("acme", mpa("2026-06", MpaStatus::Approved, None));
    acme.representative = Some(Representative { name: "Ana Ortiz".into(), email: "ana@m.example".into() });
    let before = mpa_notice_email(&config(), &versions(), &acme, at("2026-12-01T00:00:00Z"));
    assert_eq!(before.to, vec!["acme@p.example".to_owned()]);
    assert_eq!(before.subject, "Action needed: accept MPA version 2027-01 before 2027-01-01 00:00 UTC");
    for needle in [
        "Hello Jane,",
        "published version 2027-01 of the Marketplace Provider Agreement",
        "acme Inc is approved on version 2026-06",
        "takes effect on 2027-01-01 00:00 UTC",
        "your published products stay published",
        "needs version 2027-01 accepted by you and approved by the marketplace team",
        "https://marketplace.example.com/legal/mpa/2027-01",
        "https://portal.m.example",
        "accept version 2027-01 on the Agreement page",
        "Marketplace Representative: Ana Ortiz <ana@m.example>",
    ] {
        assert!(before.text.contains(needle), "{needle:?} in:\n{}", before.text);
    }
    let after = mpa_notice_email(&config(), &versions(), &acme, at("2027-02-01T00:00:00Z"));
    assert_eq!(after.subject, "Action needed: accept MPA version 2027-01 (in effect since 2027-01-01 00:00 UTC)");
    assert!(
        after.text.contains("Your published products stay published. Since 2027-01-01 00:00 UTC"),
        "{}",
        after.text
    );
    assert!(after.text.contains("is refused until version 2027-01 is accepted"), "{}", after.text);
    assert!(after.html.contains("https://marketplace.example.com/legal/mpa/2027-01"));
}

#[test]
fn the_team_summary_section_lists_the_pending_and_counts_the_rest() {
    let mut campaign = Campaign::new(versions(), at("2027-02-01T00:00:00Z")).expect("a campaign");
    for i in 0..203 {
        campaign.add(provider(&format!("p{i:03}"), mpa(&first(), MpaStatus::Approved, None)));
    }
    let text = pending_section(Message::new("Hello team,"), &campaign.pending).render("sig").0;
    assert!(text.contains("MPA version 2027-01 (in effect since 2027-01-01 00:00 UTC): 203 provider(s)"), "{text}");
    assert!(text.contains("p000") && text.contains("p199") && !text.contains("p200"), "{text}");
    assert!(text.contains("... and 3 more (the first 200 by provider id are listed)."), "{text}");
    let none = Campaign::new(versions(), at("2026-12-01T00:00:00Z")).expect("a campaign");
    let text = pending_section(Message::new("Hello team,"), &none.pending).render("sig").0;
    assert!(text.contains("no provider is pending"), "{text}");
}

/// The ledger in memory (claim unless sent by another run or forced, record, release).
#[derive(Default)]
struct MemLedger(Mutex<HashMap<String, (String, bool)>>, std::sync::atomic::AtomicUsize);

#[async_trait]
impl DeliveryLedger for MemLedger {
    async fn claim(
        &self,
        of: DeliveryOf,
        to: &Recipient,
        token: &str,
        force: bool,
    ) -> Result<Result<(), ClaimRefused>, DomainError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut m = self.0.lock().expect("lock");
        match m.get(&format!("{of}{to:?}")) {
            Some((held, true)) if held != token && !force => Ok(Err(ClaimRefused::AlreadySent)),
            _ => {
                m.insert(format!("{of}{to:?}"), (token.into(), false));
                Ok(Ok(()))
            }
        }
    }
    async fn hand_over(&self, _: DeliveryOf, _: &Recipient, _: &str) -> Result<bool, DomainError> {
        Ok(true)
    }
    async fn record_sent(&self, of: DeliveryOf, to: &Recipient, token: &str, _: &[String]) -> Result<(), DomainError> {
        self.0.lock().expect("lock").insert(format!("{of}{to:?}"), (token.into(), true));
        Ok(())
    }
    async fn release(&self, of: DeliveryOf, to: &Recipient, _: &str) -> Result<(), DomainError> {
        self.0.lock().expect("lock").remove(&format!("{of}{to:?}"));
        Ok(())
    }
}

#[derive(Default)]
struct Outbox(Mutex<Vec<Email>>);

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        let mut sent = self.0.lock().expect("lock");
        sent.push(email.clone());
        Ok(format!("m-{}", sent.len()))
    }
}

/// The provider records as the send finds them (they may have changed since the scan).
#[derive(Default)]
struct Directory(std::sync::Mutex<std::collections::HashMap<String, Provider>>);

impl Directory {
    fn put(&self, provider: &Provider) {
        self.0.lock().expect("lock").insert(provider.provider_id.clone(), provider.clone());
    }
}

#[async_trait]
impl ProviderDirectory for Directory {
    async fn get_provider(&self, provider_id: &str) -> Result<Option<Provider>, DomainError> {
        Ok(self.0.lock().expect("lock").get(provider_id).cloned())
    }
}

#[tokio::test]
async fn each_target_gets_one_notice_a_rerun_none_and_an_undeliverable_contact_none() {
    let (ledger, mailer, config, directory) = (MemLedger::default(), Outbox::default(), config(), Directory::default());
    let services = DeliveryServices {
        ledger: &ledger,
        mailer: &mailer,
        providers: &directory,
        config: &config,
        charts: None,
        limits: SendLimits { concurrency: NonZeroUsize::new(4).expect("4"), per_second: NonZeroU32::MAX },
        rate: None,
        time_left: None,
    };
    let mut campaign = Campaign::new(versions(), Utc::now()).expect("a campaign");
    for i in 0..5 {
        let target = provider(&format!("p{i}"), mpa(&first(), MpaStatus::Approved, None));
        directory.put(&target);
        campaign.add(target);
    }
    let mut bounced = provider("bounced", mpa(&first(), MpaStatus::Approved, None));
    bounced.undeliverable.push(Undeliverable {
        address: "BOUNCED@p.example".into(),
        reason: UndeliverableReason::PermanentBounce,
        detail: "General".into(),
        at: Utc::now(),
        feedback_id: "f1".into(),
    });
    directory.put(&bounced);
    campaign.add(bounced);
    campaign.add(provider("current", mpa("2027-01", MpaStatus::Approved, None)));
    let campaign = campaign.sorted();

    let none = std::collections::BTreeSet::new();
    let first_run = send_notices(&services, &campaign, &Resend::Nothing, &none).await;
    assert_eq!((first_run.targets, first_run.sent, first_run.already_sent), (6, 5, 0), "{first_run:?}");
    assert_eq!(first_run.undeliverable, vec!["bounced".to_owned()]);
    let mut to: Vec<String> = mailer.0.lock().expect("lock").iter().flat_map(|e| e.to.clone()).collect();
    to.sort();
    assert_eq!(to, (0..5).map(|i| format!("p{i}@p.example")).collect::<Vec<_>>());

    let again = send_notices(&services, &campaign, &Resend::Nothing, &none).await;
    assert_eq!((again.sent, again.already_sent), (0, 5), "the claims refuse them: {again:?}");
    let known: std::collections::BTreeSet<String> = ["p0", "p1"].map(String::from).into();
    let claims = ledger.1.load(std::sync::atomic::Ordering::SeqCst);
    let listed = send_notices(&services, &campaign, &Resend::Nothing, &known).await;
    assert_eq!((listed.sent, listed.already_sent), (0, 5), "two skipped unclaimed, three refused: {listed:?}");
    assert_eq!(ledger.1.load(std::sync::atomic::Ordering::SeqCst) - claims, 3, "no claim for those known as sent");
    assert_eq!(mailer.0.lock().expect("lock").len(), 5, "nothing more went out");
    let resent = send_notices(&services, &campaign, &Resend::Providers(["p0".to_owned()].into()), &known).await;
    assert_eq!((resent.sent, resent.already_sent), (1, 4), "a re-send is not skipped: {resent:?}");
}

#[tokio::test]
async fn each_notice_follows_the_record_as_it_is_when_its_turn_comes() {
    let (ledger, mailer, config, directory) = (MemLedger::default(), Outbox::default(), config(), Directory::default());
    let services = DeliveryServices {
        ledger: &ledger,
        mailer: &mailer,
        providers: &directory,
        config: &config,
        charts: None,
        limits: SendLimits { concurrency: NonZeroUsize::new(1).expect("1"), per_second: NonZeroU32::MAX },
        rate: None,
        time_left: None,
    };
    let mut campaign = Campaign::new(versions(), Utc::now()).expect("a campaign");
    for id in ["accepted", "moved", "offboarded", "gone"] {
        campaign.add(provider(id, mpa(&first(), MpaStatus::Approved, None)));
    }
    let campaign = campaign.sorted();
    assert_eq!(campaign.targets.len(), 4);
    // Between the scan and the sends: one accepted the latest version, one changed its contact,
    // one was offboarded; "gone" has no record at all.
    directory.put(&provider("accepted", mpa("2027-01", MpaStatus::PendingApproval, Some(&first()))));
    let mut moved = provider("moved", mpa(&first(), MpaStatus::Approved, None));
    moved.contact_email = "new-contact@p.example".into();
    directory.put(&moved);
    let mut offboarded = provider("offboarded", mpa(&first(), MpaStatus::Approved, None));
    offboarded.status = marketplace_core::provider::ProviderStatus::Offboarded;
    directory.put(&offboarded);

    let counts = send_notices(&services, &campaign, &Resend::Nothing, &Default::default()).await;
    assert_eq!((counts.sent, counts.no_longer_due), (1, 3), "{counts:?}");
    let to: Vec<String> = mailer.0.lock().expect("lock").iter().flat_map(|e| e.to.clone()).collect();
    assert_eq!(to, ["new-contact@p.example"], "the contact of the record as it is now");
}

//! The MPA campaign: when the marketplace team publishes a new version of the Marketplace
//! Provider Agreement (`marketplace_core::agreement`), every provider approved only on an older
//! version is emailed once to accept it, and the team's daily summary lists the providers still
//! pending on it.
//!
//! * **Who is asked** ([`standing`]): a provider not offboarded whose approved version (its
//!   MPA record's version when approved, otherwise the still-approved one it keeps while a newer
//!   acceptance is decided) is older than the latest version, and who has not accepted the
//!   latest yet. A provider never approved is not part of the campaign (sign-up asks it to
//!   accept); one that accepted the latest is waiting for the team, not for an email. An
//!   approved version the list does not hold counts as older (the list holds every version
//!   since the configuration's first).
//! * **Once** per (provider, version): each notice is a delivery of the job's ledger
//!   ([`crate::delivery`], keyed `DELIVERY#MPA#<version>` / `PROVIDER#<id>`:
//!   [`crate::storage::MpaNoticeOf`]), paced through the account's SES rate and stopped before
//!   the run's deadline exactly as report deliveries are ([`Sender`]); in-doubt notices are held
//!   for an operator the same way. So a run killed mid-campaign and run again sends the rest,
//!   once; a nightly run after the campaign sends nothing again, and skips the notices the
//!   ledger records as sent (read in one paged `Query`, [`send_notices`]) without a claim each.
//! * **Not sent**: to an address SES reported undeliverable (counted, not claimed, so a contact
//!   change lets the next run send it).
//! * **Pending** ([`PendingMpa`]): every provider approved only on an older version, whether
//!   asked or already accepted-and-waiting; the first [`PENDING_LISTED`] by id are listed.
//!
//! Memory: the run keeps the targets' records and the listed pending providers; at ~1 KB a
//! record, 10,000 targets are ~10 MB.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::delivery::{Delivered, DeliveryServices, Resend, Sender};
use crate::storage::{MpaNoticeOf, Recipient};
use marketplace_core::agreement::{MpaVersion, MpaVersions};
use marketplace_core::provider::{MpaStatus, Provider};
use marketplace_core::DomainError;

mod notice_email;

pub use notice_email::{mpa_notice_email, pending_section};

/// How many pending providers the team's summary lists by name (the rest are counted).
pub const PENDING_LISTED: usize = 200;

/// Where a provider stands with the latest MPA version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Approved on the latest version, or never approved: not part of the campaign.
    NotConcerned,
    /// Approved only on an older version and has not accepted the latest: gets the notice.
    Target,
    /// Approved only on an older version, accepted the latest: waits for the team's decision
    /// (or was rejected on it). Pending, but not emailed.
    AcceptedLatest,
    /// Offboarded (and approved only on an older version): sent no email, not pending.
    Offboarded,
}

/// The version a provider is approved on: its MPA record's version when approved, otherwise the
/// approval it keeps while a newer acceptance is decided.
pub fn approved_version(provider: &Provider) -> Option<&str> {
    let mpa = provider.mpa.as_ref()?;
    if mpa.status == MpaStatus::Approved {
        Some(&mpa.version)
    } else {
        mpa.still_approved.as_deref()
    }
}

/// Where `provider` stands with `versions`' latest version (module docs).
pub fn standing(provider: &Provider, versions: &MpaVersions) -> Standing {
    match approval_standing(provider, versions) {
        Standing::Target | Standing::AcceptedLatest if provider.is_offboarded() => Standing::Offboarded,
        standing => standing,
    }
}

/// [`standing`] without regard to offboarding.
fn approval_standing(provider: &Provider, versions: &MpaVersions) -> Standing {
    let (Some(approved), Some(mpa)) = (approved_version(provider), provider.mpa.as_ref()) else {
        return Standing::NotConcerned;
    };
    let latest = versions.latest();
    let older = match (versions.position(approved), versions.position(&latest.version)) {
        (Some(have), Some(need)) => have < need,
        // Not in the list: older than every version it holds.
        (None, _) => true,
        (Some(_), None) => false,
    };
    if !older {
        Standing::NotConcerned
    } else if mpa.version == latest.version {
        Standing::AcceptedLatest
    } else {
        Standing::Target
    }
}

/// One provider still pending on the latest version (the team summary's row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingProvider {
    pub provider_id: String,
    pub company_name: String,
    /// The version it is approved on.
    pub approved_version: String,
    /// It accepted the latest version and waits for the team's decision (or was rejected).
    pub accepted_latest: bool,
}

/// The providers still pending on the latest version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingMpa {
    /// The latest version.
    pub version: String,
    pub effective_at: DateTime<Utc>,
    /// Whether the latest version is in effect at the run's time (publishing then needs it).
    pub in_effect: bool,
    /// How many providers are pending.
    pub total: usize,
    /// The first [`PENDING_LISTED`] of them by provider id.
    pub listed: Vec<PendingProvider>,
}

/// One run's campaign: the latest version, who gets its notice, who is pending.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub versions: MpaVersions,
    /// The providers to email, by id.
    pub targets: Vec<Provider>,
    pub pending: PendingMpa,
    /// Offboarded providers approved only on an older version: not emailed.
    pub offboarded: usize,
}

impl Campaign {
    /// An empty campaign for `versions`' latest version, as of `now`; `None` before any version
    /// is stored as data (revision 0: the configuration's version is the only one, nobody can
    /// be approved on an older one).
    pub fn new(versions: MpaVersions, now: DateTime<Utc>) -> Option<Self> {
        if versions.revision == 0 {
            return None;
        }
        let latest: &MpaVersion = versions.latest();
        let pending = PendingMpa {
            version: latest.version.clone(),
            effective_at: latest.effective_at,
            in_effect: latest.effective_at <= now,
            total: 0,
            listed: Vec::new(),
        };
        Some(Campaign { versions, targets: Vec::new(), pending, offboarded: 0 })
    }

    /// Takes one provider record into account (any order; pages of a scan).
    pub fn add(&mut self, provider: Provider) {
        let standing = standing(&provider, &self.versions);
        match standing {
            Standing::NotConcerned => return,
            Standing::Offboarded => {
                self.offboarded += 1;
                return;
            }
            Standing::Target | Standing::AcceptedLatest => {}
        }
        self.pending.total += 1;
        let row = PendingProvider {
            provider_id: provider.provider_id.clone(),
            company_name: provider.company_name.clone(),
            approved_version: approved_version(&provider).unwrap_or_default().to_owned(),
            accepted_latest: standing == Standing::AcceptedLatest,
        };
        // Keep the first PENDING_LISTED by id, whatever order the pages come in.
        let at = self.pending.listed.partition_point(|p| p.provider_id < row.provider_id);
        if at < PENDING_LISTED {
            self.pending.listed.insert(at, row);
            self.pending.listed.truncate(PENDING_LISTED);
        }
        if standing == Standing::Target {
            self.targets.push(provider);
        }
    }

    /// The targets in provider-id order (call once every record is added).
    pub fn sorted(mut self) -> Self {
        self.targets.sort_by(|a, b| a.provider_id.cmp(&b.provider_id));
        self
    }
}

/// What one run's campaign did (the run summary's `mpa_campaign`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CampaignCounts {
    /// The latest version.
    pub version: String,
    /// Providers to email this run (approved only on an older version, not accepted the latest).
    pub targets: usize,
    /// Providers pending on the latest version (targets and those awaiting the team).
    pub pending: usize,
    /// Notices sent now.
    pub sent: usize,
    /// Notices the ledger has as sent by an earlier run.
    pub already_sent: usize,
    /// Offboarded providers approved only on an older version: not emailed.
    pub offboarded: usize,
    /// Targets whose contact address SES reported undeliverable: not emailed.
    pub undeliverable: Vec<String>,
    /// Targets of the scan that were no longer due when their turn came (they accepted the
    /// latest version, or were offboarded, meanwhile): not emailed.
    pub no_longer_due: usize,
    /// Notices handed to SES earlier and never recorded (held for an operator).
    pub in_doubt: Vec<String>,
    /// Notices left to the next run because this one's time ran short.
    pub postponed: Vec<String>,
    /// Notices that failed (provider id, reason); the others went out.
    pub failed: Vec<(String, String)>,
}

/// Emails every target of `campaign` its notice, once per (version, provider) unless `resend`
/// covers it (module docs). No provider stops the others. `sent_before`: the providers the
/// ledger already records as sent, read in one go (`marketplace_aws`'s `sent_to_providers`):
/// skipped without a claim, so that a re-run costs no round trip per notice sent before (an
/// empty set only makes a re-run slower: the claims still decide).
pub async fn send_notices(
    services: &DeliveryServices<'_>,
    campaign: &Campaign,
    resend: &Resend,
    sent_before: &BTreeSet<String>,
) -> CampaignCounts {
    let latest = campaign.versions.latest();
    let mut counts = CampaignCounts {
        version: latest.version.clone(),
        targets: campaign.targets.len(),
        pending: campaign.pending.total,
        offboarded: campaign.offboarded,
        ..CampaignCounts::default()
    };
    let Some(of) = MpaNoticeOf::new(&latest.version) else {
        // Versions are validated to 32 characters: a longer one was not written by the portal.
        counts.failed.push(("*".into(), format!("MPA version {:?} is too long for a ledger key", latest.version)));
        return counts;
    };
    let sender =
        Sender::new(services.ledger, services.mailer, services.limits).sharing(services.rate).until(services.time_left);
    let (skipped, targets): (Vec<&Provider>, Vec<&Provider>) = campaign.targets.iter().partition(|p| {
        sent_before.contains(&p.provider_id) && !resend.covers(&Recipient::Provider(p.provider_id.clone()))
    });
    counts.already_sent = skipped.len();
    sender
        .each(
            targets,
            |provider| notice(services, &sender, campaign, of, provider, resend),
            |(id, outcome)| match outcome {
                Notice::Undeliverable => counts.undeliverable.push(id),
                Notice::NoLongerDue => counts.no_longer_due += 1,
                Notice::Delivery(Ok(Delivered::Sent(_))) => counts.sent += 1,
                Notice::Delivery(Ok(Delivered::AlreadySent)) => counts.already_sent += 1,
                Notice::Delivery(Ok(Delivered::InDoubt)) => {
                    tracing::warn!(provider_id = %id, version = %of.version(), "MPA notice in doubt (claimed earlier, never recorded): check the recipient's mail, then re-send");
                    counts.in_doubt.push(id);
                }
                Notice::Delivery(Ok(Delivered::Postponed)) => counts.postponed.push(id),
                Notice::Delivery(Err(e)) => {
                    tracing::error!(provider_id = %id, version = %of.version(), error = %e, "MPA notice failed; the others go on");
                    counts.failed.push((id, e.to_string()));
                }
            },
        )
        .await;
    counts.undeliverable.sort();
    counts.in_doubt.sort();
    counts.postponed.sort();
    counts.failed.sort();
    counts
}

enum Notice {
    Undeliverable,
    NoLongerDue,
    Delivery(Result<Delivered, DomainError>),
}

/// One target's notice: claimed before it is made, so a notice sent before costs one write.
async fn notice(
    services: &DeliveryServices<'_>,
    sender: &Sender<'_>,
    campaign: &Campaign,
    of: MpaNoticeOf,
    scanned: &Provider,
    resend: &Resend,
) -> (String, Notice) {
    let id = scanned.provider_id.clone();
    // The record as it is now (one read): in a long campaign the scan may be minutes old, and
    // meanwhile the provider may have accepted the version, changed its contact, bounced or been
    // offboarded.
    let provider = match services.providers.get_provider(&id).await {
        Ok(Some(current)) if standing(&current, &campaign.versions) == Standing::Target => current,
        Ok(_) => {
            tracing::info!(provider_id = %id, "no longer due an MPA notice (accepted or offboarded since the scan)");
            return (id, Notice::NoLongerDue);
        }
        Err(e) => return (id, Notice::Delivery(Err(e))),
    };
    let provider = &provider;
    if provider.undeliverable(&provider.contact_email).is_some() {
        tracing::warn!(provider_id = %id, "contact address undeliverable (SES): MPA notice not sent");
        return (id, Notice::Undeliverable);
    }
    let to = Recipient::Provider(id.clone());
    match sender.claim(of.into(), &to, resend.covers(&to)).await {
        Ok(None) => {}
        Ok(Some(skipped)) => return (id, Notice::Delivery(Ok(skipped))),
        Err(e) => return (id, Notice::Delivery(Err(e))),
    }
    let email = mpa_notice_email(services.config, &campaign.versions, provider, Utc::now());
    (id, Notice::Delivery(sender.send_claimed(of.into(), &to, &[email]).await))
}

#[cfg(test)]
mod tests;

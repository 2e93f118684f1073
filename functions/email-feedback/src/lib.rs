//! Email feedback: SES's bounce, complaint and delivery notifications, published to SNS by the
//! configuration set every email goes out under (template.yaml), read and recorded
//! (`marketplace_portal::feedback`): a permanent bounce or complaint of a provider's contact marks
//! it undeliverable and tells the team once; everything is counted (CloudWatch embedded metrics,
//! `Function=email-feedback`), which the bounce-rate and complaint-rate alarms divide.
//!
//! SNS invokes the function asynchronously, usually with one record. A notification that may
//! change state runs under the idempotency claim `email-feedback#<SNS message id>`; a transient
//! failure fails the invocation, so that Lambda retries it (then its on-failure queue, alarmed).
//! A notification that does not read is logged, counted (`NotificationsRejected`, alarmed) and
//! dropped: retrying cannot help.

pub mod notification;

use aws_lambda_events::event::sns::{SnsEvent, SnsRecord};
use marketplace_aws::PortalApp;
use marketplace_core::DomainError;
use marketplace_portal::feedback::{record_feedback, Feedback, FeedbackOutcome};
use marketplace_portal::idempotency::{run_once, ClaimTicket, Processed};
use marketplace_portal::metrics::Counters;
use marketplace_portal::ports::Services;
use serde::Serialize;

/// The function's name: its idempotency keys' prefix and its metrics' `Function` dimension.
pub const FUNCTION: &str = "email-feedback";

/// What one invocation saw, by kind (its response, and its metrics).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackCounts {
    pub deliveries: u64,
    pub permanent_bounces: u64,
    pub transient_bounces: u64,
    pub complaints: u64,
    pub other: u64,
    pub marked_undeliverable: u64,
    pub already_undeliverable: u64,
    pub ignored: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

impl FeedbackCounts {
    fn count(&mut self, feedback: &Feedback) {
        match feedback {
            Feedback::Delivery { .. } => self.deliveries += 1,
            Feedback::Bounce { permanent: true, .. } => self.permanent_bounces += 1,
            Feedback::Bounce { permanent: false, .. } => self.transient_bounces += 1,
            Feedback::Complaint { .. } => self.complaints += 1,
            Feedback::Other { .. } => self.other += 1,
        }
    }

    fn outcome(&mut self, outcome: &FeedbackOutcome) {
        match outcome {
            FeedbackOutcome::Marked { .. } => self.marked_undeliverable += 1,
            FeedbackOutcome::AlreadyUndeliverable { .. } => self.already_undeliverable += 1,
            FeedbackOutcome::Ignored(_) => self.ignored += 1,
            FeedbackOutcome::Counted | FeedbackOutcome::Resumed { .. } => {}
        }
    }

    /// The CloudWatch metrics: the alarms' numerators and denominator, and the rest.
    pub fn metrics(&self, counters: &Counters) -> Vec<(&'static str, u64)> {
        vec![
            ("Deliveries", self.deliveries),
            ("PermanentBounces", self.permanent_bounces),
            ("TransientBounces", self.transient_bounces),
            ("Complaints", self.complaints),
            ("AddressesMarkedUndeliverable", self.marked_undeliverable),
            ("FeedbackIgnored", self.ignored),
            ("NotificationsRejected", self.rejected),
            ("EmailsSent", Counters::get(&counters.emails_sent)),
            ("EmailsResent", Counters::get(&counters.emails_resent)),
            ("EmailsUnsettled", Counters::get(&counters.emails_unsettled)),
        ]
    }
}

/// Handles every record of `event` and counts them; a transient failure of any fails the
/// invocation (after the others were handled and counted), so that Lambda retries it.
pub async fn handle(
    app: &PortalApp,
    services: Services<'_>,
    event: SnsEvent,
) -> (FeedbackCounts, Result<(), DomainError>) {
    let mut counts = FeedbackCounts::default();
    let mut result = Ok(());
    for record in &event.records {
        if let Err(error) = handle_record(app, services, record, &mut counts).await {
            tracing::warn!(function = FUNCTION, sns_message_id = %record.sns.message_id, %error,
                "notification failed; the invocation fails so that Lambda retries it");
            result = Err(error);
        }
    }
    (counts, result)
}

async fn handle_record(
    app: &PortalApp,
    services: Services<'_>,
    record: &SnsRecord,
    counts: &mut FeedbackCounts,
) -> Result<(), DomainError> {
    let sns = &record.sns;
    let (event, feedback) = match notification::read(&sns.message_id, sns.timestamp, &sns.message) {
        Ok(read) => read,
        Err(error) => {
            counts.rejected += 1;
            tracing::error!(function = FUNCTION, sns_message_id = %sns.message_id, %error, permanent = true,
                "notification rejected for good: not an SES notification this function reads");
            return Ok(());
        }
    };
    if !feedback.changes_state() {
        counts.count(&feedback);
        return Ok(());
    }
    let now = chrono::Utc::now();
    let claim = ClaimTicket::new(FUNCTION, &sns.message_id, now);
    let services = Services { claim: Some(&claim), ..services };
    let lease_until = now + app.function_timeout;
    match run_once(&app.idempotency, &claim, &event, lease_until, || record_feedback(&event, &feedback, &services))
        .await
    {
        Ok(Processed::Ran(outcome)) => {
            counts.count(&feedback);
            counts.outcome(&outcome);
            tracing::info!(function = FUNCTION, sns_message_id = %sns.message_id, event_id = %event.id, ?outcome,
                "notification recorded");
            Ok(())
        }
        Ok(Processed::Duplicate) => {
            counts.duplicates += 1;
            tracing::info!(function = FUNCTION, sns_message_id = %sns.message_id, "duplicate delivery ignored");
            Ok(())
        }
        Err(error) if error.is_permanent() => {
            counts.rejected += 1;
            tracing::error!(function = FUNCTION, sns_message_id = %sns.message_id, %error, permanent = true,
                "notification rejected for good: recorded with its reason, not retried");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// The whole `main`: logging, clients from the environment (as the portal functions), then the
/// Lambda runtime loop; each invocation publishes its counts as metrics and answers with them.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    marketplace_aws::telemetry::init();
    let app = PortalApp::from_env().await?;
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<SnsEvent>| async move {
        let counters = Counters::default();
        let (counts, result) = handle(app, app.services(&counters), event.payload).await;
        marketplace_aws::telemetry::emit_metrics(FUNCTION, &counts.metrics(&counters));
        result.map(|()| counts).map_err(lambda_runtime::Error::from)
    }))
    .await
}

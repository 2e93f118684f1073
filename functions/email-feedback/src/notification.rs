//! SES notifications as SES documents them, in both shapes: event publishing (a configuration
//! set's event destination: `eventType`, with the email's message tags in `mail.tags`) and
//! identity notifications (`notificationType`, with the original headers in `mail.headers` when
//! the identity includes them). Both carry the same `bounce`, `complaint` and `delivery` objects.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use marketplace_aws::mailer::{from_tag_value, PROVIDER_HEADER, PROVIDER_TAG};
use marketplace_core::validate::redact_addresses;
use marketplace_core::DomainError;
use marketplace_portal::event::PortalEvent;
use marketplace_portal::feedback::{Feedback, Report};
use serde::Deserialize;

/// The `source` of the events built from SES notifications.
pub const SOURCE: &str = "aws.ses";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    event_type: Option<String>,
    notification_type: Option<String>,
    mail: Option<Mail>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
    delivery: Option<Delivery>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    tags: HashMap<String, Vec<String>>,
    #[serde(default)]
    headers: Vec<Header>,
}

#[derive(Debug, Deserialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    bounce_sub_type: Option<String>,
    bounced_recipients: Vec<Recipient>,
    timestamp: DateTime<Utc>,
    feedback_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complained_recipients: Vec<Recipient>,
    timestamp: DateTime<Utc>,
    feedback_id: String,
    complaint_feedback_type: Option<String>,
    complaint_sub_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    recipients: Vec<String>,
}

/// Reads the SES notification `message` (an SNS message's body) published as SNS message
/// `message_id` at `published`: the event the portal's outbox and audit trail key on (a bounce or
/// complaint is keyed by SES's feedback id, anything else by the SNS message id) and what it says.
pub fn read(message_id: &str, published: DateTime<Utc>, message: &str) -> Result<(PortalEvent, Feedback), DomainError> {
    let detail: serde_json::Value = serde_json::from_str(message).map_err(|e| invalid(&e))?;
    let notification: Notification = serde_json::from_value(detail.clone()).map_err(|e| invalid(&e))?;
    let kind = notification
        .event_type
        .clone()
        .or_else(|| notification.notification_type.clone())
        .ok_or_else(|| DomainError::invalid("the SES notification has neither eventType nor notificationType"))?;
    let mail = notification.mail.unwrap_or_default();
    let provider_id = provider_id(&mail)?;
    let missing = |what: &str| DomainError::invalid(format!("the SES {kind} notification has no {what} object"));
    let (id, time, feedback) = match kind.as_str() {
        "Bounce" => {
            let bounce = notification.bounce.ok_or_else(|| missing("bounce"))?;
            let report = Report {
                feedback_id: feedback_id(&bounce.feedback_id)?,
                provider_id,
                recipients: bounce.bounced_recipients.into_iter().map(|r| r.email_address).collect(),
                detail: format!("{}/{}", bounce.bounce_type, bounce.bounce_sub_type.as_deref().unwrap_or("-")),
                at: bounce.timestamp,
            };
            let permanent = bounce.bounce_type == "Permanent";
            (report.feedback_id.clone(), bounce.timestamp, Feedback::Bounce { permanent, report })
        }
        "Complaint" => {
            let complaint = notification.complaint.ok_or_else(|| missing("complaint"))?;
            let detail = complaint
                .complaint_feedback_type
                .or(complaint.complaint_sub_type)
                .unwrap_or_else(|| "no feedback type".into());
            let report = Report {
                feedback_id: feedback_id(&complaint.feedback_id)?,
                provider_id,
                recipients: complaint.complained_recipients.into_iter().map(|r| r.email_address).collect(),
                detail,
                at: complaint.timestamp,
            };
            (report.feedback_id.clone(), complaint.timestamp, Feedback::Complaint { report })
        }
        "Delivery" => {
            let delivery = notification.delivery.ok_or_else(|| missing("delivery"))?;
            let time = delivery.timestamp.or(mail.timestamp).unwrap_or(published);
            (message_id.to_string(), time, Feedback::Delivery { recipients: delivery.recipients.len() })
        }
        other => (message_id.to_string(), published, Feedback::Other { kind: other.to_string() }),
    };
    let event = PortalEvent { id, detail_type: kind, source: SOURCE.into(), time, detail };
    Ok((event, feedback))
}

/// The provider the email concerned: its message tag (event publishing), else its header
/// (identity notifications with headers), else none.
fn provider_id(mail: &Mail) -> Result<Option<String>, DomainError> {
    if let Some(tag) = mail.tags.get(PROVIDER_TAG).and_then(|values| values.first()) {
        return from_tag_value(tag).map(Some).ok_or_else(|| {
            DomainError::invalid(format!("the {PROVIDER_TAG} tag {tag:?} is not a tag this backend wrote"))
        });
    }
    Ok(mail.headers.iter().find(|h| h.name.eq_ignore_ascii_case(PROVIDER_HEADER)).map(|h| h.value.trim().to_string()))
}

fn feedback_id(id: &str) -> Result<String, DomainError> {
    let id = id.trim();
    if id.is_empty() || id.len() > 512 {
        return Err(DomainError::invalid("the SES notification's feedbackId is empty or longer than 512 characters"));
    }
    Ok(id.to_string())
}

/// A notification that does not read: its error without the addresses serde may quote.
fn invalid(error: &serde_json::Error) -> DomainError {
    DomainError::invalid(format!("not an SES notification: {}", redact_addresses(&error.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sns::SnsEvent;

    /// The SNS message of a sample event from `events/`, as the function receives it.
    fn sample(name: &str) -> (String, DateTime<Utc>, String) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events").join(name);
        let event: SnsEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("SNS event");
        let sns = &event.records[0].sns;
        (sns.message_id.clone(), sns.timestamp, sns.message.clone())
    }

    fn read_sample(name: &str) -> (PortalEvent, Feedback) {
        let (id, at, message) = sample(name);
        read(&id, at, &message).expect("reads")
    }

    #[test]
    fn an_event_publishing_bounce_names_the_provider_by_its_tag_and_is_keyed_by_its_feedback_id() {
        let (event, feedback) = read_sample("ses-bounce.json");
        let Feedback::Bounce { permanent: true, report } = feedback else { panic!("{feedback:?}") };
        assert_eq!(report.provider_id.as_deref(), Some("acme-software"));
        assert_eq!(report.recipients, ["jane.doe@acme.example"]);
        assert_eq!(report.detail, "Permanent/General");
        assert_eq!(event.id, report.feedback_id);
        assert_eq!(event.detail_type, "Bounce");
        assert_eq!(event.time, report.at);
    }

    #[test]
    fn an_identity_notification_complaint_names_the_provider_by_its_header() {
        let (event, feedback) = read_sample("ses-complaint.json");
        let Feedback::Complaint { report } = feedback else { panic!("{feedback:?}") };
        assert_eq!(report.provider_id.as_deref(), Some("acme-software"));
        assert_eq!(report.detail, "abuse");
        assert_eq!(event.id, "0100019a6f7c9d00-11112222-3333-4444-5555-666677778888-000000");
    }

    #[test]
    fn a_delivery_is_keyed_by_the_sns_message_and_changes_nothing() {
        let (event, feedback) = read_sample("ses-delivery.json");
        assert_eq!(feedback, Feedback::Delivery { recipients: 1 });
        assert!(!feedback.changes_state());
        assert_eq!(event.id, "5b8e1c2a-3333-5e2f-9a3b-4c5d6e7f8a03");
    }

    #[test]
    fn a_transient_bounce_is_not_permanent_and_an_escaped_tag_reads_back() {
        let (id, at, message) = sample("ses-bounce.json");
        let mut json: serde_json::Value = serde_json::from_str(&message).unwrap();
        json["bounce"]["bounceType"] = "Transient".into();
        json["mail"]["tags"]["provider_id"] = serde_json::json!(["acme_2Eeu"]);
        let (_, feedback) = read(&id, at, &json.to_string()).expect("reads");
        let Feedback::Bounce { permanent: false, report } = feedback else { panic!("{feedback:?}") };
        assert_eq!(report.provider_id.as_deref(), Some("acme.eu"));
    }

    #[test]
    fn what_does_not_read_is_refused_naming_no_address() {
        let at = Utc::now();
        for (message, says) in [
            ("jane@acme.example is not JSON", "not an SES notification"),
            (r#"{"mail": {}}"#, "neither eventType nor notificationType"),
            (r#"{"eventType": "Bounce", "mail": {}}"#, "has no bounce object"),
            (
                r#"{"eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "jane@acme.example"}], "timestamp": "2026-11-26T06:00:03Z", "feedbackId": " "}}"#,
                "feedbackId is empty",
            ),
            (
                r#"{"eventType": "Bounce", "mail": {"tags": {"provider_id": ["a.b"]}}}"#,
                "is not a tag this backend wrote",
            ),
        ] {
            let error = read("m1", at, message).expect_err(message);
            assert!(error.is_permanent(), "{error}");
            let text = error.to_string();
            assert!(text.contains(says), "{text}");
            assert!(!text.contains("jane@"), "{text}");
        }
    }

    #[test]
    fn other_event_types_are_read_as_other() {
        let (_, feedback) = read("m1", Utc::now(), r#"{"eventType": "Open", "mail": {}}"#).expect("reads");
        assert_eq!(feedback, Feedback::Other { kind: "Open".into() });
    }
}

//! SES mailer: every email goes out as raw MIME, built with `mail-builder`, through SES
//! `SendRawEmail`. The structure is the one mail clients write themselves:
//!
//! ```text
//! multipart/mixed                      (only with attachments)
//! ├── multipart/alternative
//! │   ├── text/plain
//! │   └── multipart/related            (only with inline images)
//! │       ├── text/html                (shows the images as cid:<Content-ID>)
//! │       └── image/png                Content-Disposition: inline; Content-ID: <...>
//! └── text/csv ...                     Content-Disposition: attachment
//! ```
//!
//! **Bounces and complaints.** Every email goes out under the SES configuration set named by
//! `SES_CONFIGURATION_SET` (template.yaml and the local stack; unset: none), whose event
//! destination publishes bounce, complaint and delivery notifications to SNS for the
//! `email-feedback` function. An email concerning a provider ([`Mailer::send_tagged`]) carries
//! message tags [`PROVIDER_TAG`] and [`KIND_TAG`] (SES puts them into its event notifications)
//! and the header [`PROVIDER_HEADER`] (in SES's identity notifications when they include the
//! original headers). Tag values may hold only `[A-Za-z0-9_-]`, provider ids also `.`:
//! [`tag_value`] escapes, [`from_tag_value`] reverses it.
//!
//! **Sent, not sent, or unknown.** A failed send is [`DomainError::Declined`] (or `Refused`,
//! permanent) only when every attempt the SDK made was answered by SES with an error: then the
//! email was certainly not sent. When any attempt timed out, lost its connection or got an
//! unreadable answer, SES may have accepted it: [`DomainError::Infrastructure`]. The outbox
//! counts a later re-send as a possible duplicate only in that second case.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ses::error::SdkError;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::{MessageTag, RawMessage};
use aws_sdk_ses::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use mail_builder::headers::text::Text;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;
use marketplace_core::email::Email;
use marketplace_core::ports::{EmailTags, Mailer};
use marketplace_core::DomainError;

use crate::sdk_error::{is_permanent_code, sdk_message};

/// SES rejects raw messages larger than 10 MB (after encoding).
pub const MAX_RAW_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

/// The environment variable naming the SES configuration set every email goes out under.
pub const CONFIGURATION_SET_ENV: &str = "SES_CONFIGURATION_SET";
/// The message tag naming the provider an email concerns ([`tag_value`] of its id).
pub const PROVIDER_TAG: &str = "provider_id";
/// The message tag naming the email's kind (`welcome`, `mpa-approved`, `report`, ...).
pub const KIND_TAG: &str = "email_kind";
/// The header naming the provider an email concerns (its id, verbatim).
pub const PROVIDER_HEADER: &str = "X-Marketplace-Provider-Id";

#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// A mailer sending under the configuration set named by `SES_CONFIGURATION_SET`, if set.
    pub fn new(client: Client) -> Self {
        let configuration_set = std::env::var(CONFIGURATION_SET_ENV).ok().filter(|name| !name.trim().is_empty());
        SesMailer { client, configuration_set }
    }

    /// Sends under `configuration_set` (`None`: no configuration set).
    pub fn with_configuration_set(mut self, configuration_set: Option<String>) -> Self {
        self.configuration_set = configuration_set;
        self
    }

    pub fn configuration_set(&self) -> Option<&str> {
        self.configuration_set.as_deref()
    }

    async fn send_raw(&self, email: &Email, tags: Option<&EmailTags<'_>>) -> Result<String, DomainError> {
        let mime = to_mime_tagged(email, tags.map(|t| t.provider_id))?;
        if mime.len() > MAX_RAW_MESSAGE_BYTES {
            return Err(DomainError::refused(
                "SES SendRawEmail",
                format!("message is {} bytes; SES accepts at most {MAX_RAW_MESSAGE_BYTES}", mime.len()),
            ));
        }
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(|e| DomainError::declined("build SES raw message", e))?;
        let mut request =
            self.client.send_raw_email().raw_message(raw).set_configuration_set_name(self.configuration_set.clone());
        for (name, value) in tags.map(message_tags).unwrap_or_default() {
            let tag = MessageTag::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| DomainError::declined("build SES message tag", e))?;
            request = request.tags(tag);
        }
        let attempts = AttemptWatch::default();
        let result = request.customize().interceptor(attempts.clone()).send().await;
        match result {
            Ok(out) => Ok(out.message_id),
            Err(err) => Err(send_error(err, attempts.maybe_reached_ses())),
        }
    }
}

/// The message tags of an email concerning a provider.
pub fn message_tags(tags: &EmailTags<'_>) -> Vec<(&'static str, String)> {
    vec![(PROVIDER_TAG, tag_value(tags.provider_id)), (KIND_TAG, tag_value(tags.kind))]
}

/// `raw` in SES's tag value charset `[A-Za-z0-9_-]`: `_` and every other character become `_`
/// and their hex code (`_5F`, `.` is `_2E`, non-ASCII per UTF-8 byte); reversed by
/// [`from_tag_value`].
pub fn tag_value(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("_{byte:02X}"));
        }
    }
    out
}

/// The value [`tag_value`] escaped, or `None` when `tag` is not one of its results.
pub fn from_tag_value(tag: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(tag.len());
    let mut rest = tag.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'_' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else if first.is_ascii_alphanumeric() || first == b'-' {
            bytes.push(first);
            rest = tail;
        } else {
            return None;
        }
    }
    String::from_utf8(bytes).ok()
}

/// A failed `SendRawEmail`: refused for good (a permanent code) or declined (any other answer of
/// SES) when no attempt may have reached SES unanswered, otherwise infrastructure (outcome unknown).
fn send_error<R: std::fmt::Debug + Send + Sync + 'static>(
    err: SdkError<aws_sdk_ses::operation::send_raw_email::SendRawEmailError, R>,
    maybe_reached_ses: bool,
) -> DomainError {
    use aws_sdk_ses::error::ProvideErrorMetadata;
    const OPERATION: &str = "SES SendRawEmail";
    let message = sdk_message(&err);
    match &err {
        SdkError::ServiceError(service) if !maybe_reached_ses => {
            if is_permanent_code(service.err().code()) {
                DomainError::refused(OPERATION, message)
            } else {
                DomainError::declined(OPERATION, message)
            }
        }
        // Never sent: the request could not even be built.
        SdkError::ConstructionFailure(_) => DomainError::declined(OPERATION, message),
        _ => DomainError::infra(OPERATION, format!("{message} (SES may have accepted the email)")),
    }
}

/// Watches the SDK's attempts of one call: set when an attempt ended without an answer from SES
/// (a timeout, a connection failure, an unreadable response), after which SES may have accepted
/// the email even though the call as a whole failed with a later attempt's error.
#[derive(Debug, Clone, Default)]
struct AttemptWatch(Arc<AtomicBool>);

impl AttemptWatch {
    fn maybe_reached_ses(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for AttemptWatch {
    fn name(&self) -> &'static str {
        "AttemptWatch"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let answered = match context.output_or_error() {
            Some(Ok(_)) => true,
            Some(Err(error)) => error.is_operation_error(),
            None => false,
        };
        if !answered {
            self.0.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// Encodes `email` as an RFC 5322 message.
pub fn to_mime(email: &Email) -> Result<Vec<u8>, DomainError> {
    to_mime_tagged(email, None)
}

/// Encodes `email` as an RFC 5322 message, with the [`PROVIDER_HEADER`] of `provider_id` if given.
pub fn to_mime_tagged(email: &Email, provider_id: Option<&str>) -> Result<Vec<u8>, DomainError> {
    let html = MimePart::new("text/html", email.html.as_str());
    let html = if email.inline_images.is_empty() {
        html
    } else {
        let mut parts = vec![html];
        parts.extend(email.inline_images.iter().map(|image| {
            MimePart::new(image.content_type.as_str(), image.data.as_slice()).inline().cid(image.content_id.as_str())
        }));
        MimePart::new("multipart/related", parts)
    };
    let mut body = MimePart::new("multipart/alternative", vec![MimePart::new("text/plain", email.text.as_str()), html]);
    if !email.attachments.is_empty() {
        let mut parts = vec![body];
        parts.extend(email.attachments.iter().map(|attachment| {
            MimePart::new(attachment.content_type.as_str(), attachment.data.as_slice())
                .attachment(attachment.filename.as_str())
        }));
        body = MimePart::new("multipart/mixed", parts);
    }
    let mut message = MessageBuilder::new()
        .from(email.from.as_str())
        .reply_to(email.reply_to.as_str())
        .to(email.to.iter().map(String::as_str).collect::<Vec<_>>())
        .subject(email.subject.as_str());
    if let Some(provider_id) = provider_id {
        message = message.header(PROVIDER_HEADER, Text::new(provider_id));
    }
    message.body(body).write_to_vec().map_err(|e| DomainError::declined("build MIME message", e))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        self.send_raw(email, None).await
    }

    async fn send_tagged(&self, email: &Email, tags: &EmailTags<'_>) -> Result<String, DomainError> {
        self.send_raw(email, Some(tags)).await
    }
}

#[cfg(test)]
mod tests {
    use marketplace_core::email::{Attachment, InlineImage};

    use super::*;

    fn email() -> Email {
        Email {
            from: "no-reply@m.example".into(),
            reply_to: "support@m.example".into(),
            to: vec!["jane@acme.example".into()],
            subject: "Acme: your report".into(),
            text: "Hello Jane,\n".into(),
            html: "<p>Hello Jane,</p><img src=\"cid:chart@m\" alt=\"chart\">".into(),
            attachments: vec![Attachment {
                filename: "deployments.csv".into(),
                content_type: "text/csv; charset=utf-8".into(),
                data: b"a,b\n1,2\n".to_vec(),
            }],
            inline_images: vec![InlineImage {
                content_id: "chart@m".into(),
                content_type: "image/png".into(),
                data: vec![0x89, b'P', b'N', b'G', 0, 1, 2, 255],
            }],
        }
    }

    fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(raw).expect("parseable MIME")
    }

    /// The content types of the parts, depth first, indented by nesting.
    fn structure(message: &mail_parser::Message<'_>, part: u32, depth: usize, out: &mut Vec<String>) {
        use mail_parser::{MimeHeaders, PartType};
        let Some(p) = message.part(part) else { return };
        let ct = p.content_type().map_or(String::from("?"), |c| match c.subtype() {
            Some(sub) => format!("{}/{sub}", c.ctype()),
            None => c.ctype().to_string(),
        });
        out.push(format!("{}{ct}", "  ".repeat(depth)));
        if let PartType::Multipart(children) = &p.body {
            for child in children {
                structure(message, *child, depth + 1, out);
            }
        }
    }

    #[test]
    fn inline_images_sit_beside_the_html_in_multipart_related_and_attachments_stay_attachments() {
        use mail_parser::MimeHeaders;
        let raw = to_mime(&email()).expect("mime");
        let message = parse(&raw);
        let mut parts = Vec::new();
        structure(&message, 0, 0, &mut parts);
        assert_eq!(
            parts,
            [
                "multipart/mixed",
                "  multipart/alternative",
                "    text/plain",
                "    multipart/related",
                "      text/html",
                "      image/png",
                "  text/csv",
            ]
        );
        assert_eq!(message.body_text(0).map(|t| t.replace("\r\n", "\n")).as_deref(), Some("Hello Jane,\n"));
        assert!(message.body_html(0).is_some_and(|h| h.contains("cid:chart@m")));
        let image = message.parts.iter().find(|p| p.content_id() == Some("chart@m")).expect("the image part");
        assert_eq!(image.contents(), [0x89, b'P', b'N', b'G', 0, 1, 2, 255]);
        assert!(image.content_disposition().is_some_and(|d| d.ctype() == "inline"));
        let csv = message.attachments().find(|a| a.attachment_name() == Some("deployments.csv")).expect("csv");
        assert_eq!(csv.contents(), b"a,b\n1,2\n");
    }

    #[test]
    fn tag_values_stay_in_the_ses_charset_and_read_back() {
        for id in ["acme", "acme-software", "acme.software_eu", "x.y.z", "Ünï", "a_5F"] {
            let tag = tag_value(id);
            assert!(tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'), "{tag}");
            assert_eq!(from_tag_value(&tag).as_deref(), Some(id), "{tag}");
        }
        assert_eq!(tag_value("acme.eu"), "acme_2Eeu");
        assert_eq!(from_tag_value("acme_2"), None, "a cut escape is not a tag value");
        assert_eq!(from_tag_value("acme.eu"), None, "'.' never appears in a tag value");
    }

    #[test]
    fn a_send_is_certainly_not_done_only_when_ses_answered_every_attempt() {
        use aws_sdk_ses::error::ErrorMetadata;
        use aws_sdk_ses::operation::send_raw_email::SendRawEmailError;
        let answer = |code: &str| {
            SdkError::service_error(
                SendRawEmailError::generic(ErrorMetadata::builder().code(code).message("no").build()),
                (),
            )
        };
        let throttled = send_error(answer("Throttling"), false);
        assert!(matches!(throttled, DomainError::Declined { .. }), "{throttled:?}");
        assert!(throttled.certainly_not_done() && !throttled.is_permanent());
        let invalid = send_error(answer("InvalidParameterValue"), false);
        assert!(matches!(invalid, DomainError::Refused { .. }), "{invalid:?}");
        let after_a_timeout = send_error(answer("Throttling"), true);
        assert!(matches!(after_a_timeout, DomainError::Infrastructure { .. }), "{after_a_timeout:?}");
        assert!(!after_a_timeout.certainly_not_done());
        let timeout: SdkError<SendRawEmailError, ()> = SdkError::timeout_error("attempt timeout");
        assert!(!send_error(timeout, false).certainly_not_done(), "a timeout may have reached SES");
    }

    #[test]
    fn an_email_concerning_a_provider_names_it_in_a_header() {
        use mail_parser::HeaderValue;
        let raw = to_mime_tagged(&email(), Some("acme.eu")).expect("mime");
        let message = parse(&raw);
        let header = message.header(PROVIDER_HEADER).expect("the provider header");
        assert!(matches!(header, HeaderValue::Text(t) if t == "acme.eu"), "{header:?}");
        assert!(parse(&to_mime(&email()).expect("mime")).header(PROVIDER_HEADER).is_none());
    }

    #[test]
    fn an_email_without_images_or_attachments_is_plain_alternative() {
        let raw = to_mime(&Email { attachments: vec![], inline_images: vec![], ..email() }).expect("mime");
        let message = parse(&raw);
        let mut parts = Vec::new();
        structure(&message, 0, 0, &mut parts);
        assert_eq!(parts, ["multipart/alternative", "  text/plain", "  text/html"]);
    }
}

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

use async_trait::async_trait;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;
use aws_sdk_ses::Client;
use mail_builder::mime::MimePart;
use mail_builder::MessageBuilder;
use marketplace_core::email::Email;
use marketplace_core::ports::Mailer;
use marketplace_core::DomainError;

use crate::sdk_error::sdk_error;

/// SES rejects raw messages larger than 10 MB (after encoding).
pub const MAX_RAW_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

#[derive(Clone, Debug)]
pub struct SesMailer {
    client: Client,
}

impl SesMailer {
    pub fn new(client: Client) -> Self {
        SesMailer { client }
    }
}

/// Encodes `email` as an RFC 5322 message.
pub fn to_mime(email: &Email) -> Result<Vec<u8>, DomainError> {
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
    MessageBuilder::new()
        .from(email.from.as_str())
        .reply_to(email.reply_to.as_str())
        .to(email.to.iter().map(String::as_str).collect::<Vec<_>>())
        .subject(email.subject.as_str())
        .body(body)
        .write_to_vec()
        .map_err(|e| DomainError::infra("build MIME message", e))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        let mime = to_mime(email)?;
        if mime.len() > MAX_RAW_MESSAGE_BYTES {
            return Err(DomainError::refused(
                "SES SendRawEmail",
                format!("message is {} bytes; SES accepts at most {MAX_RAW_MESSAGE_BYTES}", mime.len()),
            ));
        }
        let raw = RawMessage::builder()
            .data(Blob::new(mime))
            .build()
            .map_err(|e| DomainError::infra("build SES raw message", e))?;
        let out =
            self.client.send_raw_email().raw_message(raw).send().await.map_err(|e| sdk_error("SES SendRawEmail", e))?;
        Ok(out.message_id)
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
    fn an_email_without_images_or_attachments_is_plain_alternative() {
        let raw = to_mime(&Email { attachments: vec![], inline_images: vec![], ..email() }).expect("mime");
        let message = parse(&raw);
        let mut parts = Vec::new();
        structure(&message, 0, 0, &mut parts);
        assert_eq!(parts, ["multipart/alternative", "  text/plain", "  text/html"]);
    }
}

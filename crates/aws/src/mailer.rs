//! SES mailer: every email goes out as raw MIME (multipart/alternative text + HTML, plus
//! attachments), built with `mail-builder`, through SES `SendRawEmail`.

use async_trait::async_trait;
use aws_sdk_ses::primitives::Blob;
use aws_sdk_ses::types::RawMessage;
use aws_sdk_ses::Client;
use mail_builder::MessageBuilder;
use marketplace_domain::email::Email;
use marketplace_domain::ports::Mailer;
use marketplace_domain::DomainError;

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
    let mut builder = MessageBuilder::new()
        .from(email.from.as_str())
        .reply_to(email.reply_to.as_str())
        .to(email.to.iter().map(String::as_str).collect::<Vec<_>>())
        .subject(email.subject.as_str())
        .text_body(email.text.as_str())
        .html_body(email.html.as_str());
    for attachment in &email.attachments {
        builder = builder.attachment(
            attachment.content_type.as_str(),
            attachment.filename.as_str(),
            attachment.data.as_slice(),
        );
    }
    builder.write_to_vec().map_err(|e| DomainError::infra("build MIME message", e))
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

//! The two ports both domains use: reading a provider's record and sending an email. Their
//! DynamoDB and SES implementations live in `marketplace-aws`; the portal's writing ports
//! (`marketplace_portal::ports`) build on [`ProviderDirectory`].

use async_trait::async_trait;

use crate::email::Email;
use crate::provider::Provider;
use crate::DomainError;

/// Reads provider records (the report engine needs a provider's contact, nothing more).
#[async_trait]
pub trait ProviderDirectory: Send + Sync {
    async fn get_provider(&self, provider_id: &str) -> Result<Option<Provider>, DomainError>;
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email and returns the provider's message id.
    async fn send(&self, email: &Email) -> Result<String, DomainError>;

    /// Sends one email concerning a provider, tagged with its id and the email's kind so that
    /// SES's bounce and complaint notifications name them (the SES mailer; others ignore tags).
    async fn send_tagged(&self, email: &Email, tags: &EmailTags<'_>) -> Result<String, DomainError> {
        let _ = tags;
        self.send(email).await
    }
}

/// What a sent email concerns, for SES's bounce and complaint notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailTags<'a> {
    pub provider_id: &'a str,
    /// The outbox kind (`welcome`, ...) or report delivery kind.
    pub kind: &'a str,
}

/// A boxed mailer is a mailer (a run's context holds its mailer as one, whatever it is).
#[async_trait]
impl<M: Mailer + ?Sized> Mailer for Box<M> {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        (**self).send(email).await
    }

    async fn send_tagged(&self, email: &Email, tags: &EmailTags<'_>) -> Result<String, DomainError> {
        (**self).send_tagged(email, tags).await
    }
}

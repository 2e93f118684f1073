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
}

/// A boxed mailer is a mailer (a run's context holds its mailer as one, whatever it is).
#[async_trait]
impl<M: Mailer + ?Sized> Mailer for Box<M> {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        (**self).send(email).await
    }
}

//! A mailer in memory.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::faults::{lock, Call, Faults};
use marketplace_core::email::Email;
use marketplace_core::ports::Mailer;
use marketplace_core::DomainError;

/// A mailer that keeps what it sends; message ids are `memory-1`, `memory-2`, ...
#[derive(Debug, Clone, Default)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<Email>>>,
    faults: Faults,
}

impl MemoryMailer {
    /// Counts this mailer's calls in `faults` and suffers the faults planned there.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Every email sent, in order.
    pub fn sent(&self) -> Vec<Email> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<String, DomainError> {
        self.faults.enter(Call::Send).await?;
        let mut sent = lock(&self.sent);
        sent.push(email.clone());
        Ok(format!("memory-{}", sent.len()))
    }
}

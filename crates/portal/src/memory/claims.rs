//! The `Idempotency` table in memory: Powertools-style claims.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::faults::{lock, Call, Faults};
use crate::idempotency::{Claim, IdempotencyStore, RECORD_RETENTION};
use marketplace_core::DomainError;

/// The status of an idempotency record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStatus {
    InProgress,
    Completed,
    Rejected,
}

/// One idempotency record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRecord {
    pub status: ClaimStatus,
    pub payload_hash: String,
    /// Epoch seconds, rounded up.
    pub expires_at: i64,
    /// Why a rejected event was refused.
    pub reason: Option<String>,
}

/// The `Idempotency` table: Powertools-style claims.
#[derive(Debug, Clone, Default)]
pub struct MemoryClaims {
    records: Arc<Mutex<HashMap<String, ClaimRecord>>>,
    faults: Faults,
}

/// `t` in epoch seconds, rounded up, as the DynamoDB store writes `expires_at`.
fn epoch(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

impl MemoryClaims {
    /// Counts these claims' calls in `faults` and suffers the faults planned there.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// The record under `key` (not counted as a call).
    pub fn record(&self, key: &str) -> Option<ClaimRecord> {
        lock(&self.records).get(key).cloned()
    }

    /// Marks `key` completed until the retention period ends, creating the record if needed.
    pub(super) fn mark_completed(&self, key: &str, now: DateTime<Utc>) {
        let mut records = lock(&self.records);
        let record = records.entry(key.to_string()).or_insert_with(|| ClaimRecord {
            status: ClaimStatus::Completed,
            payload_hash: String::new(),
            expires_at: 0,
            reason: None,
        });
        record.status = ClaimStatus::Completed;
        record.expires_at = epoch(now + RECORD_RETENTION);
    }
}

#[async_trait]
impl IdempotencyStore for MemoryClaims {
    async fn begin(
        &self,
        key: &str,
        payload_hash: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Claim, DomainError> {
        self.faults.enter(Call::Begin).await?;
        let mut records = lock(&self.records);
        if let Some(existing) = records.get(key).filter(|record| record.expires_at >= epoch(now)) {
            let payload_hash = existing.payload_hash.clone();
            return Ok(match existing.status {
                ClaimStatus::Completed => Claim::Completed { payload_hash },
                ClaimStatus::Rejected => Claim::Rejected { payload_hash },
                ClaimStatus::InProgress => Claim::InProgress { payload_hash },
            });
        }
        let claim = ClaimRecord {
            status: ClaimStatus::InProgress,
            payload_hash: payload_hash.to_string(),
            expires_at: epoch(lease_until),
            reason: None,
        };
        records.insert(key.to_string(), claim);
        Ok(Claim::Acquired)
    }

    async fn complete(&self, key: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.faults.enter(Call::Complete).await?;
        self.mark_completed(key, now);
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), DomainError> {
        self.faults.enter(Call::Release).await?;
        let mut records = lock(&self.records);
        if records.get(key).is_some_and(|record| record.status == ClaimStatus::InProgress) {
            records.remove(key);
        }
        Ok(())
    }

    async fn reject(&self, key: &str, payload_hash: &str, reason: &str, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.faults.enter(Call::Reject).await?;
        let record = ClaimRecord {
            status: ClaimStatus::Rejected,
            payload_hash: payload_hash.to_string(),
            expires_at: epoch(now + RECORD_RETENTION),
            reason: Some(reason.chars().take(2000).collect()),
        };
        lock(&self.records).insert(key.to_string(), record);
        Ok(())
    }
}

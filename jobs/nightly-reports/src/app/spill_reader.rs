//! Reading a spill's rows back for the files and emails of one (date, provider) after the
//! other: the error rows through a merging thread ([`ErrorsByProvider`]), the rejects of a date
//! ([`rejects_of`]).

use std::collections::VecDeque;
use std::sync::mpsc::{sync_channel, Receiver};

use chrono::NaiveDate;
use marketplace_reports::aggregate::{ErrorRow, RejectRow};

use crate::pipeline::JobError;
use crate::spill::Spill;

/// Reads a spill's error rows back for one (date, provider) after the other, in order. A
/// second thread merges the sorted runs ahead of the reader (a few batches, bounded), so the
/// merge overlaps rendering and writing the files.
pub struct ErrorsByProvider {
    batches: Receiver<Result<Vec<ErrorRow>, String>>,
    pending: VecDeque<ErrorRow>,
}

/// Rows per batch handed from the merging thread (with 4 batches queued: a few MiB at most).
const MERGE_BATCH: usize = 1024;

impl ErrorsByProvider {
    /// Starts merging `spill`'s error runs.
    pub fn open(spill: &Spill) -> Result<Self, JobError> {
        let mut merged = spill.errors()?;
        let (tx, batches) = sync_channel(4);
        // Ends by itself: at the last row, on an error, or when the reader is gone.
        std::thread::spawn(move || loop {
            let mut batch = Vec::with_capacity(MERGE_BATCH);
            let end = loop {
                match merged.next_row() {
                    Ok(Some(row)) => {
                        batch.push(row);
                        if batch.len() == MERGE_BATCH {
                            break Ok(false);
                        }
                    }
                    Ok(None) => break Ok(true),
                    Err(e) => break Err(e.to_string()),
                }
            };
            match end {
                Ok(end) => {
                    if tx.send(Ok(batch)).is_err() || end {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        Ok(ErrorsByProvider { batches, pending: VecDeque::new() })
    }

    /// Whether the next row exists and `keep` says it belongs here.
    fn next_is(&mut self, keep: impl Fn(&ErrorRow) -> bool) -> Result<bool, String> {
        while self.pending.is_empty() {
            match self.batches.recv() {
                Ok(batch) => self.pending.extend(batch?),
                Err(_) => return Ok(false), // every row was read
            }
        }
        Ok(self.pending.front().is_some_and(keep))
    }

    /// The error rows of `provider_id` on `date` (those of earlier pairs are skipped).
    pub fn take(&mut self, date: NaiveDate, provider_id: &str) -> Result<Vec<ErrorRow>, String> {
        while self.next_is(|r| (r.report_date, r.provider_id.as_str()) < (date, provider_id))? {
            self.pending.pop_front();
        }
        let mut rows = Vec::new();
        while self.next_is(|r| r.report_date == date && r.provider_id == provider_id)? {
            rows.extend(self.pending.pop_front());
        }
        Ok(rows)
    }
}

/// The rejects listed under `date` (its own and the undated ones), in file order.
pub fn rejects_of(spill: &Spill, date: NaiveDate) -> Result<Vec<RejectRow>, JobError> {
    let mut merged = spill.rejects()?;
    let mut rows = Vec::new();
    while let Some(row) = merged.next_row()? {
        if row.report_date.is_none_or(|d| d == date) {
            rows.push(row);
        }
    }
    Ok(rows)
}

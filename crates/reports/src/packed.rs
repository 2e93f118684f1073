//! Error rows packed into one byte buffer: what a bounded-memory run holds and sorts between
//! spills, instead of one [`ErrorRow`] with six owned strings per error entry (a night has
//! hundreds of thousands of them: six allocations and frees each, and 180-byte moves when a
//! batch is sorted).
//!
//! A packed row is the job's spill record: little-endian fields in the order the rows are
//! sorted, so [`cmp_packed`] compares two records field by field without decoding them:
//!
//! `report_date` (i32, days from CE) · `provider_id` · `error_at` (i64 seconds, u32 nanos) ·
//! `deployment_id` · `position` (u32) · `product_id` · `customer_alias` · status (u8, 1 =
//! failed) · `error_code` · `error_message`, each string as u32 length + UTF-8 bytes.
//!
//! That order is [`error_order`]: one provider's `errors.csv` after the other (date, provider),
//! each sorted as the file is ([`ErrorRow`]'s `Ord`).
//!
//! A reject's record ([`encode_reject`]) is `deployment_id` · `reason` · 1 and `report_date` (or
//! 0 when undated), in the same field encoding.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::record::DeploymentStatus;
use crate::rows::{ErrorRow, ErrorRowRef, RejectRow};

/// The order error rows are spilled and merged in: by report date and provider (one
/// `errors.csv` after the other), then as the file is sorted.
pub fn error_order(a: &ErrorRow, b: &ErrorRow) -> Ordering {
    (a.report_date, &a.provider_id).cmp(&(b.report_date, &b.provider_id)).then_with(|| a.cmp(b))
}

/// Appends one packed row to `out`.
pub fn encode(out: &mut Vec<u8>, r: &ErrorRowRef<'_>) {
    out.extend_from_slice(&r.report_date.num_days_from_ce().to_le_bytes());
    put_str(out, r.provider_id);
    out.extend_from_slice(&r.error_at.timestamp().to_le_bytes());
    out.extend_from_slice(&r.error_at.timestamp_subsec_nanos().to_le_bytes());
    put_str(out, r.deployment_id);
    out.extend_from_slice(&r.position.to_le_bytes());
    put_str(out, r.product_id);
    put_str(out, r.customer_alias);
    out.push(u8::from(r.deployment_status == DeploymentStatus::Failed));
    put_str(out, r.error_code);
    put_str(out, r.error_message);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Reads a packed row back (`None`: not a packed row).
pub fn decode(bytes: &[u8]) -> Option<ErrorRow> {
    let mut c = Fields(bytes);
    let report_date = NaiveDate::from_num_days_from_ce_opt(c.i32()?)?;
    let provider_id = c.string()?;
    let secs = c.i64()?;
    let nanos = c.u32()?;
    let row = ErrorRow {
        error_at: DateTime::<Utc>::from_timestamp(secs, nanos)?,
        deployment_id: c.string()?,
        position: c.u32()?,
        report_date,
        provider_id,
        product_id: c.string()?,
        customer_alias: c.string()?,
        deployment_status: if c.take(1)?[0] == 1 { DeploymentStatus::Failed } else { DeploymentStatus::Succeeded },
        error_code: c.string()?,
        error_message: c.string()?,
    };
    c.0.is_empty().then_some(row)
}

/// Appends one reject's record to `out`.
pub fn encode_reject(out: &mut Vec<u8>, r: &RejectRow) {
    put_str(out, &r.deployment_id);
    put_str(out, &r.reason);
    match r.report_date {
        Some(d) => {
            out.push(1);
            out.extend_from_slice(&d.num_days_from_ce().to_le_bytes());
        }
        None => out.push(0),
    }
}

/// Reads a reject's record back (`None`: not one).
pub fn decode_reject(bytes: &[u8]) -> Option<RejectRow> {
    let mut c = Fields(bytes);
    let deployment_id = c.string()?;
    let reason = c.string()?;
    let report_date = match c.take(1)?[0] {
        1 => Some(NaiveDate::from_num_days_from_ce_opt(c.i32()?)?),
        _ => None,
    };
    c.0.is_empty().then_some(RejectRow { deployment_id, reason, report_date })
}

/// [`error_order`] of two packed rows, without decoding them.
pub fn cmp_packed(a: &[u8], b: &[u8]) -> Ordering {
    let (mut a, mut b) = (Fields(a), Fields(b));
    // Field kinds in record order: 4-byte int, string, 8-byte int, 4-byte int, string, 4-byte
    // int, string, string, 1 byte, string, string.
    const I32: u8 = 0;
    const STR: u8 = 1;
    const I64: u8 = 2;
    const U32: u8 = 3;
    const U8: u8 = 4;
    for kind in [I32, STR, I64, U32, STR, U32, STR, STR, U8, STR, STR] {
        let order = match kind {
            I32 => a.i32().cmp(&b.i32()),
            I64 => a.i64().cmp(&b.i64()),
            U32 => a.u32().cmp(&b.u32()),
            U8 => a.take(1).cmp(&b.take(1)),
            _ => a.str_bytes().cmp(&b.str_bytes()),
        };
        if order.is_ne() {
            return order;
        }
    }
    Ordering::Equal
}

struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str_bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.str_bytes()?.to_vec()).ok()
    }
}

/// Packed error rows: one buffer and the rows' ranges in it.
#[derive(Debug, Clone, Default)]
pub struct PackedErrors {
    bytes: Vec<u8>,
    rows: Vec<(usize, usize)>,
}

impl PackedErrors {
    /// Appends a row.
    pub fn push(&mut self, row: &ErrorRowRef<'_>) {
        let start = self.bytes.len();
        encode(&mut self.bytes, row);
        self.rows.push((start, self.bytes.len()));
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The packed rows in [`error_order`].
    pub fn sorted(&mut self) -> impl Iterator<Item = &[u8]> {
        let bytes = &self.bytes;
        self.rows.sort_unstable_by(|&(a0, a1), &(b0, b1)| cmp_packed(&bytes[a0..a1], &bytes[b0..b1]));
        self.rows.iter().map(move |&(from, to)| &bytes[from..to])
    }

    /// The rows as [`ErrorRow`]s, in insertion order.
    pub fn unpack(&self) -> Vec<ErrorRow> {
        self.rows.iter().filter_map(|&(from, to)| decode(&self.bytes[from..to])).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(provider: &str, at: &str, id: &str, position: u32, message: &str) -> ErrorRow {
        ErrorRow::example(provider, at, id, position, message)
    }

    #[test]
    fn packed_rows_round_trip_and_sort_as_error_order() {
        let mut rows = vec![
            row("b", "2026-02-14T01:00:00.5Z", "d2", 0, "ünïcode\nline"),
            row("a", "2026-02-14T03:00:00Z", "d1", 1, "m"),
            row("a", "2026-02-14T03:00:00Z", "d1", 0, "m"),
            row("a", "2026-02-14T03:00:00Z", "d1", 0, "l"),
            row("ab", "2026-02-14T00:00:00Z", "d0", 0, ""),
            row("a", "1969-12-31T23:59:59Z", "d9", 0, "before the epoch"),
            row("a", "2026-02-14T02:00:00Z", "d10", 0, "m"),
            row("a", "2026-02-14T02:00:00Z", "d1", 0, "m"),
        ];
        rows[1].report_date = "2026-02-13".parse().expect("date");
        rows[2].deployment_status = DeploymentStatus::Succeeded;
        let mut packed = PackedErrors::default();
        for r in &rows {
            packed.push(&r.as_ref());
        }
        assert_eq!(packed.unpack(), rows, "rows round-trip");
        let sorted: Vec<ErrorRow> = packed.sorted().map(|b| decode(b).expect("row")).collect();
        let mut expected = rows.clone();
        expected.sort_by(error_order);
        assert_eq!(sorted, expected);
        for a in &rows {
            for b in &rows {
                let (mut x, mut y) = (Vec::new(), Vec::new());
                encode(&mut x, &a.as_ref());
                encode(&mut y, &b.as_ref());
                assert_eq!(cmp_packed(&x, &y), error_order(a, b), "{a:?} vs {b:?}");
            }
        }
        assert_eq!(decode(b"not a row"), None);
    }

    #[test]
    fn rejects_round_trip() {
        for report_date in [None, Some("2026-02-14".parse().expect("date"))] {
            let reject = RejectRow { deployment_id: "d-1".into(), reason: "ünïcode, \"quoted\"".into(), report_date };
            let mut bytes = Vec::new();
            encode_reject(&mut bytes, &reject);
            assert_eq!(decode_reject(&bytes), Some(reject));
        }
        assert_eq!(decode_reject(b"no"), None);
    }
}

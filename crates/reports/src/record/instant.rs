//! Instants and dates as the contract reads them and the reports print them.

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};

/// An RFC 3339 date-time in UTC; `None` when `text` is not one.
pub(super) fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    whole_second_utc(text).or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|d| d.with_timezone(&Utc)))
}

/// `YYYY-MM-DDTHH:MM:SSZ` (the shape every log uses) without the general RFC 3339 parser;
/// `None` for anything else (a fraction, an offset, a leap second, an invalid date), which the
/// general parser then decides. Tested to agree with it.
pub(super) fn whole_second_utc(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?;
    Some(date.and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)?.and_utc())
}

/// Canonical RFC 3339 text of an instant as printed in the reports (`2026-02-14T00:00:00Z`,
/// fractional seconds only when present).
pub fn format_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Appends [`format_instant`]'s text to `out`; whole seconds of years 0–9999 (every instant of
/// a real report) without going through the formatter.
pub fn push_instant(out: &mut String, at: DateTime<Utc>) {
    let t = at.naive_utc();
    if at.timestamp_subsec_nanos() != 0 || !(0..=9999).contains(&t.year()) {
        out.push_str(&format_instant(at));
        return;
    }
    push_date(out, t.date());
    let mut buf = *b"T00:00:00Z";
    let two = |buf: &mut [u8; 10], at: usize, v: u32| {
        buf[at] = b'0' + (v / 10 % 10) as u8;
        buf[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut buf, 1, t.hour());
    two(&mut buf, 4, t.minute());
    two(&mut buf, 7, t.second());
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Appends `date` as `YYYY-MM-DD` (chrono's `%Y-%m-%d`).
pub fn push_date(out: &mut String, date: NaiveDate) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&date.format("%Y-%m-%d").to_string());
        return;
    }
    let mut buf = *b"0000-00-00";
    let y = year as u32;
    for (i, div) in [1000, 100, 10, 1].into_iter().enumerate() {
        buf[i] = b'0' + (y / div % 10) as u8;
    }
    buf[5] = b'0' + (date.month() / 10) as u8;
    buf[6] = b'0' + (date.month() % 10) as u8;
    buf[8] = b'0' + (date.day() / 10) as u8;
    buf[9] = b'0' + (date.day() % 10) as u8;
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

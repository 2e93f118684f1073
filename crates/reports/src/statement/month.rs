//! A calendar month, `YYYY-MM`: what a statement covers.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    first_day: NaiveDate,
}

/// Not a `YYYY-MM` month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a month: expected YYYY-MM, e.g. 2026-02")]
pub struct InvalidMonth(pub String);

impl Month {
    /// The month `date` falls in.
    pub fn of(date: NaiveDate) -> Month {
        Month { first_day: date.with_day(1).unwrap_or(date) }
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    /// Its last day.
    pub fn last_day(self) -> NaiveDate {
        self.next().first_day.pred_opt().unwrap_or(self.first_day)
    }

    /// The following month.
    pub fn next(self) -> Month {
        let (y, m) = (self.first_day.year(), self.first_day.month());
        let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        Month { first_day: NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(self.first_day) }
    }

    /// Whether `date` lies in this month.
    pub fn contains(self, date: NaiveDate) -> bool {
        Month::of(date) == self
    }

    /// A month is closed once `today` (UTC) is in a later month.
    pub fn is_closed(self, today: NaiveDate) -> bool {
        Month::of(today) > self
    }
}

impl FromStr for Month {
    type Err = InvalidMonth;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidMonth(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return Err(invalid());
        }
        let year: i32 = s[..4].parse().map_err(|_| invalid())?;
        let month: u32 = s[5..].parse().map_err(|_| invalid())?;
        NaiveDate::from_ymd_opt(year, month, 1).map(|first_day| Month { first_day }).ok_or_else(invalid)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.first_day.year(), self.first_day.month())
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

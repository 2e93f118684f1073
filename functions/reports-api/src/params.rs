//! Path and query parameters: strict formats, bounded ranges and page sizes; every refusal is a
//! 400 problem naming the parameter.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use marketplace_reports::statement::Month;

use crate::problem::{
    Problem, INVALID_DATE, INVALID_LIMIT, INVALID_MONTH, INVALID_RANGE, MISSING_PARAMETER, RANGE_TOO_LONG,
    REPEATED_PARAMETER,
};

/// The longest `from`..`to` range one request may ask for, both days included (a quarter).
pub const MAX_RANGE_DAYS: i64 = 92;
/// Rows per page unless `limit` says otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The largest `limit`.
pub const MAX_PAGE_SIZE: usize = 500;

/// A request's query parameters (a name may repeat on the wire; the API refuses that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, Vec<String>>);

impl Params {
    /// From decoded `name=value` pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Params {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            map.entry(k.to_owned()).or_default().push(v.to_owned());
        }
        Params(map)
    }

    fn optional(&self, name: &str) -> Result<Option<&str>, Problem> {
        match self.0.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(one)),
            Some(_) => Err(Problem::new(REPEATED_PARAMETER, format!("`{name}` is given more than once."))),
        }
    }

    fn required(&self, name: &str, example: &str) -> Result<&str, Problem> {
        self.optional(name)?.ok_or_else(|| {
            Problem::new(MISSING_PARAMETER, format!("The query parameter `{name}` is required, e.g. {example}."))
        })
    }
}

/// A `YYYY-MM-DD` date (exactly that: no other separators, no unpadded fields).
pub fn date(name: &str, value: &str) -> Result<NaiveDate, Problem> {
    let b = value.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shaped
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| Problem::new(INVALID_DATE, format!("`{name}` = `{value}` is not a date: expected YYYY-MM-DD.")))
}

/// A `YYYY-MM` month.
pub fn month(value: &str) -> Result<Month, Problem> {
    value.parse().map_err(|e: marketplace_reports::statement::InvalidMonth| Problem::new(INVALID_MONTH, e.to_string()))
}

/// Paging parameters: `limit` (1..=[`MAX_PAGE_SIZE`]) and the opaque `next` token of the
/// previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Rows per page.
    pub limit: usize,
    /// The previous page's `next`.
    pub next: Option<String>,
}

fn page(params: &Params) -> Result<Page, Problem> {
    let limit = match params.optional("limit")? {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text.parse::<usize>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
            Problem::new(INVALID_LIMIT, format!("`limit` = `{text}` must be a whole number from 1 to {MAX_PAGE_SIZE}."))
        })?,
    };
    Ok(Page { limit, next: params.optional("next")?.map(str::to_owned) })
}

/// `GET /providers/{id}/reports?from=D1&to=D2[&limit=N][&next=T]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeQuery {
    /// First day.
    pub from: NaiveDate,
    /// Last day (included).
    pub to: NaiveDate,
    /// Paging.
    pub page: Page,
}

/// The reports query: both dates, `from ≤ to`, at most [`MAX_RANGE_DAYS`] days.
pub fn range_query(params: &Params) -> Result<RangeQuery, Problem> {
    let from = date("from", params.required("from", "from=2026-02-01")?)?;
    let to = date("to", params.required("to", "to=2026-02-28")?)?;
    if to < from {
        return Err(Problem::new(INVALID_RANGE, format!("`to` ({to}) is before `from` ({from}).")));
    }
    let days = (to - from).num_days() + 1;
    if days > MAX_RANGE_DAYS {
        return Err(Problem::new(
            RANGE_TOO_LONG,
            format!("{from}..{to} spans {days} days; ask for at most {MAX_RANGE_DAYS} days per request."),
        ));
    }
    Ok(RangeQuery { from, to, page: page(params)? })
}

/// `GET /team/summary?date=D[&limit=N][&next=T]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryQuery {
    /// Report date.
    pub date: NaiveDate,
    /// Paging.
    pub page: Page,
}

/// The team summary query.
pub fn summary_query(params: &Params) -> Result<SummaryQuery, Problem> {
    Ok(SummaryQuery { date: date("date", params.required("date", "date=2026-02-14")?)?, page: page(params)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().copied())
    }

    fn slug(p: Problem) -> String {
        assert_eq!(p.status, 400);
        p.kind.trim_start_matches("urn:marketplace:problem:").to_owned()
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(date("d", "2026-02-14").expect("date").to_string(), "2026-02-14");
        for bad in [
            "2026-2-14",
            "2026-02-30",
            "2026/02/14",
            "14.02.2026",
            "2026-02-14T00:00:00Z",
            "",
            " 2026-02-14",
            "+2026-02-1",
        ] {
            assert_eq!(slug(date("d", bad).unwrap_err()), "invalid-date", "{bad}");
        }
        assert_eq!(slug(month("2026-2").unwrap_err()), "invalid-month");
    }

    #[test]
    fn ranges_are_bounded() {
        let q = range_query(&params(&[("from", "2026-01-01"), ("to", "2026-04-02")])).expect("92 days");
        assert_eq!((q.page.limit, q.page.next), (DEFAULT_PAGE_SIZE, None));
        let too_long = range_query(&params(&[("from", "2026-01-01"), ("to", "2026-04-03")])).unwrap_err();
        assert!(too_long.detail.contains("93 days"), "{}", too_long.detail);
        assert_eq!(slug(too_long), "range-too-long");
        assert_eq!(
            slug(range_query(&params(&[("from", "2026-02-02"), ("to", "2026-02-01")])).unwrap_err()),
            "invalid-range"
        );
        assert_eq!(slug(range_query(&params(&[("from", "2026-02-02")])).unwrap_err()), "missing-parameter");
        assert_eq!(
            slug(
                range_query(&params(&[("from", "2026-02-01"), ("from", "2026-02-02"), ("to", "2026-02-03")]))
                    .unwrap_err()
            ),
            "repeated-parameter"
        );
    }

    #[test]
    fn page_sizes_are_bounded() {
        let base = [("date", "2026-02-14")];
        let with = |limit: &str| summary_query(&params(&[base[0], ("limit", limit)]));
        assert_eq!(with("1").expect("1").page.limit, 1);
        assert_eq!(with("500").expect("500").page.limit, MAX_PAGE_SIZE);
        for bad in ["0", "501", "-1", "ten", "1.5", ""] {
            assert_eq!(slug(with(bad).unwrap_err()), "invalid-limit", "{bad}");
        }
        let q = summary_query(&params(&[base[0], ("next", "abc")])).expect("next");
        assert_eq!(q.page.next.as_deref(), Some("abc"));
    }
}

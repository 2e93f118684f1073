//! The report CSV files, byte for byte.
//!
//! Format: RFC 4180, UTF-8 without BOM, a header row, `\n` after every row (also the last).
//! A field is quoted with `"` when it needs to be (it contains `,`, `"`, `\r` or `\n`; the `csv`
//! crate's `QuoteStyle::Necessary`); inner quotes are doubled. Money is printed with exactly
//! the currency's minor-unit places, `.` as separator, no grouping.
//!
//! ## Formula injection (OWASP "CSV Injection")
//! Every *text* field that comes from input — provider, product and deployment ids, product
//! name, customer alias, error code and message, reject key and reason — is neutralised by
//! [`neutralise`]: when it starts with `=`, `+`, `-`, `@`, a tab (U+0009) or a carriage return
//! (U+000D), a single quote `'` is put in front, so spreadsheet programs show it as text and
//! never evaluate it. The cell is then quoted by the normal RFC 4180 rules. Fields the job
//! formats itself — dates, instants, status, currency code, counts and money — are never
//! neutralised: they cannot carry a formula, and a (hypothetical) negative amount must stay a
//! number.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};

use crate::record::{push_date, push_instant};
use crate::rows::{Counts, DailyReport, ErrorRow, RejectRow, ReportRow, RowMoney, SummaryRow};
use marketplace_core::money::Currency;

/// Header of `deployments.csv`.
pub const DEPLOYMENTS_HEADER: &str = "report_date,provider_id,product_id,product_name,currency,deployments,succeeded,failed,errors_in_succeeded,errors_in_failed,billable_revenue,remuneration_value,marketplace_fee";
/// Header of `month-to-date.csv`.
pub const MONTH_TO_DATE_HEADER: &str = "period_start,period_end,provider_id,product_id,product_name,currency,deployments,succeeded,failed,errors_in_succeeded,errors_in_failed,billable_revenue,remuneration_value,marketplace_fee";
/// Header of `errors.csv`.
pub const ERRORS_HEADER: &str = "report_date,provider_id,product_id,deployment_id,customer_alias,deployment_status,error_at,error_code,error_message";
/// Header of `marketplace-summary.csv`.
pub const SUMMARY_HEADER: &str = "report_date,provider_id,currency,deployments,succeeded,failed,errors_in_succeeded,errors_in_failed,billable_revenue,remuneration_value,marketplace_fee";
/// Header of `rejected.csv`.
pub const REJECTED_HEADER: &str = "deployment_id,reason";

/// Prefixes `'` to a text cell that a spreadsheet would read as a formula (see module docs).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// A CSV file's text: `header`, then one row per item of `rows`, written by `write` into a
/// [`CsvRow`]. The one CSV writer of the crate (report files and statements).
pub(crate) fn csv_file<T>(
    header: &str,
    rows: impl IntoIterator<Item = T>,
    write: impl Fn(&mut CsvRow<'_>, T),
) -> String {
    let mut out = String::with_capacity(header.len() + 1);
    out.push_str(header);
    out.push('\n');
    for item in rows {
        let mut row = CsvRow::new(&mut out);
        write(&mut row, item);
        row.end();
    }
    out
}

/// Builds one CSV row straight into the file's text, quoting as the `csv` crate does with its
/// default `QuoteStyle::Necessary` (a field with `,`, `"`, CR or LF is quoted, `"` doubled;
/// `tests::quoting_matches_the_csv_crate` holds the two together) without a writer per row.
pub(crate) struct CsvRow<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> CsvRow<'a> {
    fn new(out: &'a mut String) -> Self {
        CsvRow { out, first: true }
    }

    fn sep(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }

    /// A field the job formatted itself (never needs neutralising).
    pub(crate) fn raw(&mut self, value: &str) -> &mut Self {
        self.sep();
        if value.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            self.out.push('"');
            for (k, part) in value.split('"').enumerate() {
                if k > 0 {
                    self.out.push_str("\"\"");
                }
                self.out.push_str(part);
            }
            self.out.push('"');
        } else {
            self.out.push_str(value);
        }
        self
    }

    /// A text field from input: neutralised, then quoted as needed.
    pub(crate) fn text(&mut self, value: &str) -> &mut Self {
        self.raw(&neutralise(value))
    }

    /// A count (never needs quoting).
    pub(crate) fn num(&mut self, n: u64) -> &mut Self {
        use std::fmt::Write;
        self.sep();
        let _ = write!(self.out, "{n}");
        self
    }

    /// A date (never needs quoting).
    pub(crate) fn date(&mut self, d: NaiveDate) -> &mut Self {
        self.sep();
        push_date(self.out, d);
        self
    }

    /// An instant (never needs quoting).
    fn instant(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.sep();
        push_instant(self.out, at);
        self
    }

    /// The five counts.
    pub(crate) fn counts(&mut self, c: &Counts) -> &mut Self {
        self.num(c.deployments).num(c.succeeded).num(c.failed).num(c.errors_in_succeeded).num(c.errors_in_failed)
    }

    /// The three amounts, with the currency's minor-unit places.
    pub(crate) fn money(&mut self, m: &RowMoney, currency: Currency) -> &mut Self {
        let [revenue, remuneration, fee] = m.formatted(currency);
        self.raw(&revenue).raw(&remuneration).raw(&fee)
    }

    fn end(&mut self) {
        self.out.push('\n');
    }
}

/// `providers/<provider>/deployments.csv`.
pub fn deployments_csv(date: NaiveDate, rows: &[ReportRow]) -> String {
    report_rows_csv(DEPLOYMENTS_HEADER, &[date], rows)
}

/// `providers/<provider>/month-to-date.csv`.
pub fn month_to_date_csv(period_start: NaiveDate, period_end: NaiveDate, rows: &[ReportRow]) -> String {
    report_rows_csv(MONTH_TO_DATE_HEADER, &[period_start, period_end], rows)
}

/// Report rows after their `dates` columns.
fn report_rows_csv(header: &str, dates: &[NaiveDate], rows: &[ReportRow]) -> String {
    csv_file(header, rows, |row, r| {
        for &date in dates {
            row.date(date);
        }
        row.text(&r.provider_id)
            .text(&r.product_id)
            .text(&r.product_name)
            .raw(r.currency.code())
            .counts(&r.counts)
            .money(&r.money, r.currency);
    })
}

/// `providers/<provider>/errors.csv` (rows must already be sorted).
pub fn errors_csv(rows: &[ErrorRow]) -> String {
    csv_file(ERRORS_HEADER, rows, |row, r| {
        row.date(r.report_date)
            .text(&r.provider_id)
            .text(&r.product_id)
            .text(&r.deployment_id)
            .text(&r.customer_alias)
            .raw(r.deployment_status.as_str())
            .instant(r.error_at)
            .text(&r.error_code)
            .text(&r.error_message);
    })
}

/// `marketplace-summary.csv`.
pub fn summary_csv(date: NaiveDate, rows: &[SummaryRow]) -> String {
    csv_file(SUMMARY_HEADER, rows, |row, r| {
        row.date(date).text(&r.provider_id).raw(r.currency.code()).counts(&r.counts).money(&r.money, r.currency);
    })
}

/// `rejected.csv` (header only when nothing was rejected).
pub fn rejected_csv(rows: &[RejectRow]) -> String {
    csv_file(REJECTED_HEADER, rows, |row, r| {
        row.text(&r.deployment_id).text(&r.reason);
    })
}

/// One output file: path relative to `<out>/<date>/` and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// Relative path with `/` separators, e.g. `providers/acme/deployments.csv`.
    pub path: String,
    /// File contents.
    pub contents: String,
}

/// The three files of one provider, in a fixed order (deployments, errors, month-to-date).
pub fn provider_files(report: &DailyReport, provider_id: &str) -> Vec<ReportFile> {
    let Some(p) = report.providers.get(provider_id) else {
        return Vec::new();
    };
    let dir = format!("providers/{provider_id}");
    vec![
        ReportFile { path: format!("{dir}/deployments.csv"), contents: deployments_csv(report.date, &p.deployments) },
        ReportFile { path: format!("{dir}/errors.csv"), contents: errors_csv(&p.errors) },
        ReportFile {
            path: format!("{dir}/month-to-date.csv"),
            contents: month_to_date_csv(report.month_start, report.date, &p.month_to_date),
        },
    ]
}

/// The marketplace team's files of one report date: the summary and the rejects.
pub fn team_files(report: &DailyReport) -> Vec<ReportFile> {
    vec![
        ReportFile { path: "marketplace-summary.csv".into(), contents: summary_csv(report.date, &report.summary) },
        ReportFile { path: "rejected.csv".into(), contents: rejected_csv(&report.rejected) },
    ]
}

/// Every file of one report date, in a fixed order.
pub fn report_files(report: &DailyReport) -> Vec<ReportFile> {
    let mut files = team_files(report);
    for provider_id in report.providers.keys() {
        files.extend(provider_files(report, provider_id));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_the_csv_crate() {
        let fields = ["plain", "", "a,b", "say \"hi\"", "two\nlines", "cr\rhere", "'=neutralised", " spaced ", "ünï"];
        let mut ours = String::new();
        let mut row = CsvRow::new(&mut ours);
        for f in fields {
            row.raw(f);
        }
        row.end();
        let mut theirs = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
        theirs.write_record(fields).expect("csv");
        assert_eq!(ours, String::from_utf8(theirs.into_inner().expect("csv")).expect("utf-8"));
    }

    #[test]
    fn formula_starting_cells_get_a_leading_quote() {
        for (input, expected) in [
            ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("plain", "plain"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(neutralise(input), expected, "{input:?}");
        }
    }

    #[test]
    fn neutralised_cells_are_still_rfc4180_quoted() {
        let rows = [RejectRow {
            deployment_id: "=HYPERLINK(\"http://x\",\"y\")".into(),
            reason: "\rline".into(),
            report_date: None,
        }];
        assert_eq!(
            rejected_csv(&rows),
            "deployment_id,reason\n\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",\"'\rline\"\n"
        );
    }

    #[test]
    fn fields_with_separators_quotes_or_newlines_are_quoted() {
        let mut s = String::new();
        CsvRow::new(&mut s).raw("a,b").raw("say \"hi\"").raw("two\nlines").raw("plain").end();
        assert_eq!(s, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",plain\n");
    }

    #[test]
    fn empty_rejected_file_is_header_only() {
        assert_eq!(rejected_csv(&[]), "deployment_id,reason\n");
    }
}

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

use chrono::NaiveDate;

use super::aggregate::{Counts, DailyReport, ErrorRow, RejectRow, ReportRow, RowMoney, SummaryRow};
use super::record::{push_date, push_instant};
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

/// Builds one CSV row straight into the file's text, quoting as the `csv` crate does with its
/// default `QuoteStyle::Necessary` (a field with `,`, `"`, CR or LF is quoted, `"` doubled;
/// `tests::quoting_matches_the_csv_crate` holds the two together) without a writer per row.
struct Row<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Row<'a> {
    fn new(out: &'a mut String) -> Self {
        Row { out, first: true }
    }

    /// A field the job formatted itself (never needs neutralising).
    fn raw(&mut self, value: &str) -> &mut Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
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
    fn text(&mut self, value: &str) -> &mut Self {
        self.raw(&neutralise(value))
    }

    fn num(&mut self, n: u64) -> &mut Self {
        use std::fmt::Write;
        self.sep();
        let _ = write!(self.out, "{n}");
        self
    }

    fn sep(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }

    /// A date (never needs quoting).
    fn date(&mut self, d: NaiveDate) -> &mut Self {
        self.sep();
        push_date(self.out, d);
        self
    }

    /// An instant (never needs quoting).
    fn instant(&mut self, at: chrono::DateTime<chrono::Utc>) -> &mut Self {
        self.sep();
        push_instant(self.out, at);
        self
    }

    fn counts(&mut self, c: &Counts) -> &mut Self {
        self.num(c.deployments).num(c.succeeded).num(c.failed).num(c.errors_in_succeeded).num(c.errors_in_failed)
    }

    fn money(&mut self, m: &RowMoney, currency: Currency) -> &mut Self {
        use marketplace_core::money::format_money;
        self.raw(&format_money(m.billable_revenue, currency))
            .raw(&format_money(m.remuneration_value, currency))
            .raw(&format_money(m.marketplace_fee, currency))
    }

    fn end(&mut self) {
        self.out.push('\n');
    }
}

fn with_header(header: &str) -> String {
    let mut s = String::with_capacity(header.len() + 1);
    s.push_str(header);
    s.push('\n');
    s
}

fn date_text(d: NaiveDate) -> String {
    let mut s = String::with_capacity(10);
    push_date(&mut s, d);
    s
}

/// `providers/<provider>/deployments.csv`.
pub fn deployments_csv(date: NaiveDate, rows: &[ReportRow]) -> String {
    let mut out = with_header(DEPLOYMENTS_HEADER);
    let date = date_text(date);
    for r in rows {
        Row::new(&mut out)
            .raw(&date)
            .text(&r.provider_id)
            .text(&r.product_id)
            .text(&r.product_name)
            .raw(r.currency.code())
            .counts(&r.counts)
            .money(&r.money, r.currency)
            .end();
    }
    out
}

/// `providers/<provider>/month-to-date.csv`.
pub fn month_to_date_csv(period_start: NaiveDate, period_end: NaiveDate, rows: &[ReportRow]) -> String {
    let mut out = with_header(MONTH_TO_DATE_HEADER);
    let (start, end) = (date_text(period_start), date_text(period_end));
    for r in rows {
        Row::new(&mut out)
            .raw(&start)
            .raw(&end)
            .text(&r.provider_id)
            .text(&r.product_id)
            .text(&r.product_name)
            .raw(r.currency.code())
            .counts(&r.counts)
            .money(&r.money, r.currency)
            .end();
    }
    out
}

/// `providers/<provider>/errors.csv` (rows must already be sorted).
pub fn errors_csv(rows: &[ErrorRow]) -> String {
    let mut out = with_header(ERRORS_HEADER);
    for r in rows {
        push_error_row(&mut out, r);
    }
    out
}

/// The header line of `errors.csv`, for writers that stream its rows ([`push_error_row`]).
pub fn errors_csv_header() -> String {
    with_header(ERRORS_HEADER)
}

/// Appends one `errors.csv` row.
pub fn push_error_row(out: &mut String, r: &ErrorRow) {
    Row::new(out)
        .date(r.report_date)
        .text(&r.provider_id)
        .text(&r.product_id)
        .text(&r.deployment_id)
        .text(&r.customer_alias)
        .raw(r.deployment_status.as_str())
        .instant(r.error_at)
        .text(&r.error_code)
        .text(&r.error_message)
        .end();
}

/// `marketplace-summary.csv`.
pub fn summary_csv(date: NaiveDate, rows: &[SummaryRow]) -> String {
    let mut out = with_header(SUMMARY_HEADER);
    let date = date_text(date);
    for r in rows {
        Row::new(&mut out)
            .raw(&date)
            .text(&r.provider_id)
            .raw(r.currency.code())
            .counts(&r.counts)
            .money(&r.money, r.currency)
            .end();
    }
    out
}

/// `rejected.csv` (header only when nothing was rejected).
pub fn rejected_csv(rows: &[RejectRow]) -> String {
    let mut out = with_header(REJECTED_HEADER);
    for r in rows {
        push_reject_row(&mut out, r);
    }
    out
}

/// The header line of `rejected.csv`, for writers that stream its rows ([`push_reject_row`]).
pub fn rejected_csv_header() -> String {
    with_header(REJECTED_HEADER)
}

/// Appends one `rejected.csv` row.
pub fn push_reject_row(out: &mut String, r: &RejectRow) {
    Row::new(out).text(&r.deployment_id).text(&r.reason).end();
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
        let mut row = Row::new(&mut ours);
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
        Row::new(&mut s).raw("a,b").raw("say \"hi\"").raw("two\nlines").raw("plain").end();
        assert_eq!(s, "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",plain\n");
    }

    #[test]
    fn empty_rejected_file_is_header_only() {
        assert_eq!(rejected_csv(&[]), "deployment_id,reason\n");
    }
}

//! The 30-day chart of a provider's report email (issue 10, "A picture").
//!
//! [`render`] turns a provider's [`DailySeries`] — deployments and billable revenue per currency
//! for each of the 30 days ending at the report date — into a [`ReportChart`]: an inline PNG with
//! alt text ([`ChartImage`]) and the same numbers as a table (plain text, HTML, and header + rows
//! for [`marketplace_core::email::Message::table`]). Pure: no I/O, no clock, no system fonts
//! (DejaVu Sans is compiled in, `assets/fonts/`), and the same input gives the same bytes.
//!
//! Layout (720 × 360 px): deployments per day as bars on top, billable revenue per day below as
//! one line per currency, days aligned; the 30-day totals on the right as the legend. With one
//! currency the revenue axis shows amounts; with several, each line is drawn as a share of its
//! own busiest day (currencies cannot share an amount axis: 100 JPY is not 100 USD) and the
//! figures are in the legend and the table.
//!
//! Money stays [`Decimal`]: every printed figure (table, alt text, legend, axis labels) is
//! formatted from decimals. Conversion to `f64` happens only for pixel positions.

use std::fmt::Write as _;

use marketplace_core::email::escape_html;
use marketplace_core::money::format_money;

mod draw;
mod series;
mod text;

use series::{total_deployments, total_revenue};
pub use series::{ChartError, DailySeries, DayFigures, DAYS, HEIGHT, WIDTH};

/// The picture: PNG bytes and the text that stands for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartImage {
    /// A `WIDTH` × `HEIGHT` 8-bit RGB PNG.
    pub png: Vec<u8>,
    /// Says what the chart shows, with the totals and busiest days (for screen readers and for
    /// mail clients that block images).
    pub alt_text: String,
}

impl ChartImage {
    /// An `<img>` element showing the image from an inline MIME part with Content-ID `content_id`
    /// (alt text escaped; scales down in narrow clients).
    pub fn img_tag(&self, content_id: &str) -> String {
        format!(
            "<img src=\"cid:{}\" alt=\"{}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" style=\"max-width:100%;height:auto\">",
            escape_html(content_id),
            escape_html(&self.alt_text)
        )
    }
}

/// The chart and its figures as a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportChart {
    /// The PNG and its alt text.
    pub image: ChartImage,
    /// Table header: `Date`, `Deployments`, then `Billable revenue XXX` per currency.
    pub header: Vec<String>,
    /// One row per day (oldest first), then a `Total` row; amounts with the currency's minor units.
    pub rows: Vec<Vec<String>>,
    /// The table as aligned plain text.
    pub text_table: String,
    /// The table as an HTML `<table>` (every value escaped).
    pub html_table: String,
}

/// Draws the chart of `series` and tabulates its figures.
pub fn render(series: &DailySeries) -> Result<ReportChart, ChartError> {
    let (header, rows) = table(series);
    let text_table = marketplace_core::email::aligned_table(&header, &rows);
    let html_table = html_table(series, &header, &rows);
    let png = draw::png(series)?;
    Ok(ReportChart { image: ChartImage { png, alt_text: alt_text(series) }, header, rows, text_table, html_table })
}

// ---------------------------------------------------------------------------------------------
// Figures as text

/// The earliest day with the highest value, if any value is above zero.
fn busiest<T: PartialOrd + Copy + Default>(values: impl Iterator<Item = T>) -> Option<(usize, T)> {
    let mut best: Option<(usize, T)> = None;
    for (i, v) in values.enumerate() {
        if v > T::default() && best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best
}

fn table(series: &DailySeries) -> (Vec<String>, Vec<Vec<String>>) {
    let currencies = series.currencies();
    let mut header = vec!["Date".to_string(), "Deployments".to_string()];
    header.extend(currencies.iter().map(|c| format!("Billable revenue {c}")));
    let mut rows: Vec<Vec<String>> = series
        .days()
        .iter()
        .enumerate()
        .map(|(i, day)| {
            let mut row = vec![day.date.to_string(), day.deployments.to_string()];
            row.extend(currencies.iter().map(|c| format_money(series.revenue(i, *c), *c)));
            row
        })
        .collect();
    let mut total = vec!["Total".to_string(), total_deployments(series).to_string()];
    total.extend(currencies.iter().map(|c| format_money(total_revenue(series, *c), *c)));
    rows.push(total);
    (header, rows)
}

fn html_table(series: &DailySeries, header: &[String], rows: &[Vec<String>]) -> String {
    const CELL: &str = "padding:2px 8px;border-bottom:1px solid #ddd";
    let mut out = String::from("<table style=\"border-collapse:collapse;font-size:13px\">\n");
    let _ = writeln!(
        out,
        "<caption style=\"text-align:left;font-weight:bold;padding:4px 0\">Deployments and billable revenue per day, {} to {} (UTC)</caption>",
        series.first_date(),
        series.report_date()
    );
    out.push_str("<thead><tr>");
    for (col, h) in header.iter().enumerate() {
        let align = if col == 0 { "left" } else { "right" };
        let _ = write!(out, "<th scope=\"col\" style=\"{CELL};text-align:{align}\">{}</th>", escape_html(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let (total, days) = rows.split_last().map_or((None, rows), |(t, d)| (Some(t), d));
    let row_html = |out: &mut String, row: &[String], bold: bool| {
        out.push_str("<tr>");
        for (col, cell) in row.iter().enumerate() {
            let weight = if bold { ";font-weight:bold" } else { "" };
            if col == 0 {
                let _ = write!(
                    out,
                    "<th scope=\"row\" style=\"{CELL};text-align:left{weight}\">{}</th>",
                    escape_html(cell)
                );
            } else {
                let _ = write!(out, "<td style=\"{CELL};text-align:right{weight}\">{}</td>", escape_html(cell));
            }
        }
        out.push_str("</tr>\n");
    };
    for row in days {
        row_html(&mut out, row, false);
    }
    out.push_str("</tbody>\n");
    if let Some(total) = total {
        out.push_str("<tfoot>\n");
        row_html(&mut out, total, true);
        out.push_str("</tfoot>\n");
    }
    out.push_str("</table>\n");
    out
}

fn alt_text(series: &DailySeries) -> String {
    let days = series.days();
    let mut alt = format!(
        "Chart of deployments and billable revenue per day from {} to {} (UTC). ",
        series.first_date(),
        series.report_date()
    );
    match busiest(days.iter().map(|d| d.deployments)) {
        Some((i, n)) => {
            let _ =
                write!(alt, "Deployments: {} in total, most on {} ({n}). ", total_deployments(series), days[i].date);
        }
        None => alt.push_str("Deployments: none. "),
    }
    let currencies = series.currencies();
    if currencies.is_empty() {
        alt.push_str("Billable revenue: none. ");
    } else {
        let parts: Vec<String> = currencies
            .iter()
            .map(|&c| match busiest((0..DAYS).map(|i| series.revenue(i, c))) {
                Some((i, amount)) => format!(
                    "{c} {} in total, most on {} ({})",
                    format_money(total_revenue(series, c), c),
                    days[i].date,
                    format_money(amount, c)
                ),
                None => format!("{c} {} in total", format_money(total_revenue(series, c), c)),
            })
            .collect();
        let _ = write!(alt, "Billable revenue: {}. ", parts.join("; "));
    }
    alt.push_str("The same figures are in the table below the chart.");
    alt
}

#[cfg(test)]
mod tests;

//! Report emails: each provider gets its day's CSVs with the day's and the month-to-date totals
//! in the body, what the amounts mean, the 30-day chart ([`ReportPicture`], an inline image) and
//! whom to ask (text + HTML, built with [`marketplace_core::email::Message`]); the marketplace team gets the
//! summary and the rejects.
//!
//! ## Size
//! SES accepts raw messages up to 10 MB *after* encoding; attachments are base64 (4/3 larger)
//! in MIME. Attachments are added in order (deployments, month-to-date, errors / summary,
//! rejected) while their raw total stays within [`ATTACHMENT_BUDGET_BYTES`] (7 MiB → ≈ 9.3 MiB
//! encoded, leaving room for the bodies); the chart's PNG (20–40 KB) counts against the budget.
//! A file that does not fit is not attached; the body says so and links to the portal's report
//! page instead ("link" rather than "split", so one delivery stays one message and the ledger
//! stays one item).

use std::collections::BTreeMap;

use marketplace_core::config::PortalConfig;
use marketplace_core::email::{compose, Attachment, Block, Email, InlineImage, Message};
use marketplace_core::provider::{reports_help_line, Provider};

use crate::files::{provider_files, team_files, ReportFile};
use crate::rows::{DailyReport, ReportRow, RowMoney};
use marketplace_core::money::Currency;

/// Raw bytes of attachments per email (see module docs).
pub const ATTACHMENT_BUDGET_BYTES: usize = 7 * 1024 * 1024;

/// Attaches files within the budget; returns the names of those left out.
fn attach(email: &mut Email, date: &str, files: Vec<ReportFile>, budget: usize) -> Vec<(String, usize)> {
    let mut used = 0;
    let mut left_out = Vec::new();
    for file in files {
        let name = format!("{date}-{}", file.path.rsplit('/').next().unwrap_or(&file.path));
        let size = file.contents.len();
        if used + size <= budget {
            used += size;
            email.attachments.push(Attachment {
                filename: name,
                content_type: "text/csv; charset=utf-8".into(),
                data: file.contents.into_bytes(),
            });
        } else {
            left_out.push((name, size));
        }
    }
    left_out
}

/// The portal's page with a day's report files.
pub fn portal_files_page(config: &PortalConfig, date: &str) -> String {
    format!("{}/reports/{date}", config.portal_url.trim_end_matches('/'))
}

fn too_large_note(config: &PortalConfig, date: &str, left_out: &[(String, usize)]) -> Option<String> {
    if left_out.is_empty() {
        return None;
    }
    let names: Vec<String> = left_out.iter().map(|(n, s)| format!("{n} ({:.1} MB)", *s as f64 / 1e6)).collect();
    Some(format!(
        "Too large to attach: {}. Download from the portal: {}",
        names.join(", "),
        portal_files_page(config, date)
    ))
}

/// What the three money columns mean, one plain line each (provider emails).
pub const MONEY_EXPLAINED: [&str; 3] = [
    "Billable revenue: what customers are billed for your products' deployments (quantity × unit price).",
    "Your remuneration: your share of the billable revenue (billable revenue × your revenue share); this is what the marketplace pays you.",
    "Marketplace fee: the marketplace's part, billable revenue minus your remuneration.",
];

/// The 30-day chart of a provider's report email: a PNG and the same figures as a table. The
/// job draws it (`jobs/nightly-reports/src/chart.rs`) through
/// [`super::delivery::ReportCharts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPicture {
    pub png: Vec<u8>,
    /// What the picture shows, with its figures (for screen readers and blocked images).
    pub alt_text: String,
    /// Size in pixels.
    pub width: u32,
    pub height: u32,
    /// The table's caption.
    pub caption: String,
    /// Table header and rows (one per day, then the totals).
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// `Content-ID` of the chart's inline part (unique within its message).
pub fn chart_content_id(date: &str) -> String {
    format!("chart-{date}@reports.marketplace")
}

const DAY_HEADER: [&str; 8] = [
    "Product",
    "Currency",
    "Deployments",
    "Succeeded",
    "Failed",
    "Billable revenue",
    "Your remuneration",
    "Marketplace fee",
];
const TOTALS_HEADER: [&str; 5] =
    ["Currency", "Deployments", "Billable revenue", "Your remuneration", "Marketplace fee"];

/// Per-currency totals of `rows` (deployments and the three amounts), by currency code.
fn totals_by_currency(rows: &[ReportRow]) -> Vec<Vec<String>> {
    let mut sums: BTreeMap<Currency, (u64, RowMoney)> = BTreeMap::new();
    for r in rows {
        let (deployments, money) = sums.entry(r.currency).or_default();
        *deployments = deployments.saturating_add(r.counts.deployments);
        *money += r.money;
    }
    sums.into_iter()
        .map(|(c, (deployments, money))| {
            let [rev, rem, fee] = money.formatted(c);
            vec![c.to_string(), deployments.to_string(), rev, rem, fee]
        })
        .collect()
}

/// The provider's email for `report` (None if the provider had no deployments that day):
/// greeting by name, the day per product, the day's and the month's totals per currency, what
/// the amounts mean, the 30-day `chart` when there is one, the portal's files page, the CSVs
/// attached, and last the provider's Marketplace Representative.
pub fn provider_report_email(
    config: &PortalConfig,
    report: &DailyReport,
    provider: &Provider,
    chart: Option<&ReportPicture>,
    budget: usize,
) -> Option<Email> {
    let provider_id = provider.provider_id.as_str();
    let p = report.providers.get(provider_id)?;
    let date = report.date.to_string();
    let company = &provider.company_name;
    let mut message = Message::new(format!("Hello {},", provider.contact_name)).paragraph(format!(
        "here is {company}'s deployment report for {date} (UTC) on the marketplace. The CSV files are attached."
    ));
    let rows = p
        .deployments
        .iter()
        .map(|r| {
            let [rev, rem, fee] = r.money.formatted(r.currency);
            vec![
                r.product_name.clone(),
                r.currency.to_string(),
                r.counts.deployments.to_string(),
                r.counts.succeeded.to_string(),
                r.counts.failed.to_string(),
                rev,
                rem,
                fee,
            ]
        })
        .collect();
    message = message.table(DAY_HEADER.map(String::from).to_vec(), rows);
    // The day's totals are the summary rows (rounded once from the exact sums, like the team's
    // summary file); month to date sums the month-to-date file's rows per currency.
    let day_totals = report
        .summary
        .iter()
        .filter(|s| s.provider_id == provider_id)
        .map(|s| {
            let [rev, rem, fee] = s.money.formatted(s.currency);
            vec![s.currency.to_string(), s.counts.deployments.to_string(), rev, rem, fee]
        })
        .collect();
    let header = || TOTALS_HEADER.map(String::from).to_vec();
    message = message
        .paragraph(format!("Totals for {date}:"))
        .table(header(), day_totals)
        .paragraph(format!("Month to date ({} to {date}):", report.month_start))
        .table(header(), totals_by_currency(&p.month_to_date));
    let errors = p.errors.len();
    if errors > 0 {
        message = message.paragraph(format!("{errors} deployment error(s) are listed in the errors file."));
    }
    for line in MONEY_EXPLAINED {
        message = message.paragraph(line);
    }
    let content_id = chart_content_id(&date);
    if let Some(chart) = chart {
        message = message.figure(Block::Figure {
            content_id: content_id.clone(),
            alt_text: chart.alt_text.clone(),
            width: chart.width,
            height: chart.height,
            caption: chart.caption.clone(),
            header: chart.header.clone(),
            rows: chart.rows.clone(),
        });
    }
    message =
        message.link(format!("Your report files for {date} in the Provider Portal"), portal_files_page(config, &date));
    message = message.paragraph(format!(
        "Your own software can list the same files, with short-lived download links, through the portal's reports API: GET /providers/{provider_id}/reports/{date}/files"
    ));
    let subject = format!("{company}: your marketplace deployment report for {date}");
    let help = reports_help_line(Some(provider), config);
    let mut email = compose(config, vec![provider.contact_email.clone()], &subject, &message.clone().paragraph(&help));
    // The picture counts against the attachment budget: it is base64 in the same message.
    let budget = budget.saturating_sub(chart.map_or(0, |c| c.png.len()));
    let left_out = attach(&mut email, &date, provider_files(report, provider_id), budget);
    if let Some(note) = too_large_note(config, &date, &left_out) {
        let attachments = std::mem::take(&mut email.attachments);
        email = compose(config, email.to.clone(), &email.subject, &message.paragraph(note).paragraph(help));
        email.attachments = attachments;
    }
    if let Some(chart) = chart {
        email.inline_images.push(InlineImage { content_id, content_type: "image/png".into(), data: chart.png.clone() });
    }
    Some(email)
}

/// The marketplace team's summary email.
pub fn team_summary_email(config: &PortalConfig, report: &DailyReport, budget: usize) -> Email {
    team_summary_email_with(config, report, budget, None)
}

/// The marketplace team's summary email, with the providers still pending on the latest MPA
/// version when there is an MPA campaign ([`crate::mpa_campaign::pending_section`]).
pub fn team_summary_email_with(
    config: &PortalConfig,
    report: &DailyReport,
    budget: usize,
    pending_mpa: Option<&crate::mpa_campaign::PendingMpa>,
) -> Email {
    let date = report.date.to_string();
    let rows = report
        .summary
        .iter()
        .map(|s| {
            let [rev, rem, fee] = s.money.formatted(s.currency);
            vec![s.provider_id.clone(), s.currency.to_string(), s.counts.deployments.to_string(), rev, rem, fee]
        })
        .collect();
    let mut message = Message::new("Hello team,")
        .paragraph(format!(
            "the marketplace summary for {date} (UTC): {} provider(s) with deployments.",
            report.providers.len()
        ))
        .table(
            ["Provider", "Currency", "Deployments", "Billable revenue", "Remuneration", "Marketplace fee"]
                .map(String::from)
                .to_vec(),
            rows,
        );
    if !report.rejected.is_empty() {
        message = message.paragraph(format!(
            "{} deployment log item(s) broke the contract and were not counted; see the rejected file.",
            report.rejected.len()
        ));
    }
    if let Some(pending) = pending_mpa {
        message = crate::mpa_campaign::pending_section(message, pending);
    }
    let files = team_files(report);
    let mut probe = compose(config, vec![config.team_inbox.clone()], "", &message);
    let left_out = attach(&mut probe, &date, files, budget);
    if let Some(note) = too_large_note(config, &date, &left_out) {
        message = message.paragraph(note);
    }
    let mut email = compose(
        config,
        vec![config.team_inbox.clone()],
        &format!("Marketplace deployment summary for {date}"),
        &message,
    );
    email.attachments = probe.attachments;
    email
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Aggregator, ReportPlan};
    use crate::attribute::parse_export_line;

    fn config() -> PortalConfig {
        PortalConfig {
            sender: "no-reply@m.example".into(),
            reply_to: "support@m.example".into(),
            team_inbox: "team@m.example".into(),
            portal_url: "https://portal.m.example".into(),
            guide_url: "https://docs.m.example".into(),
            mpa_current_version: "1".into(),
            ..PortalConfig::example()
        }
    }

    const GOOD_LINE: &str = r#"{"Item":{"deployment_id":{"S":"d-1"},"provider_id":{"S":"acme"},"product_id":{"S":"vault"},"product_name":{"S":"Vault <Pro>"},"customer_alias":{"S":"C"},"started_at":{"S":"2026-02-14T01:00:00Z"},"finished_at":{"S":"2026-02-14T02:00:00Z"},"status":{"S":"SUCCEEDED"},"errors":{"L":[]},"billing_model":{"S":"monthly"},"quantity":{"N":"1"},"unit_price":{"N":"49.99"},"currency":{"S":"USD"},"provider_share":{"N":"0.8"}}}"#;

    fn report() -> DailyReport {
        let line = GOOD_LINE;
        let mut agg =
            Aggregator::new(ReportPlan::single(chrono::NaiveDate::from_ymd_opt(2026, 2, 14).unwrap_or_default()));
        agg.ingest_item(&parse_export_line(line).expect("line"), &String::new).expect("ok");
        agg.finish().expect("ok").remove(0)
    }

    fn provider() -> Provider {
        Provider {
            provider_id: "acme".into(),
            company_name: "Acme <Software>".into(),
            contact_name: "Jane Doe".into(),
            contact_email: "ops@acme.example".into(),
            ..Provider::example()
        }
    }

    fn picture() -> ReportPicture {
        ReportPicture {
            png: vec![0x89, b'P', b'N', b'G'],
            alt_text: "Chart of 30 days".into(),
            width: 720,
            height: 360,
            caption: "Deployments and billable revenue per day".into(),
            header: vec!["Date".into(), "Deployments".into(), "Billable revenue USD".into()],
            rows: vec![
                vec!["2026-02-14".into(), "1".into(), "49.99".into()],
                vec!["Total".into(), "1".into(), "49.99".into()],
            ],
        }
    }

    #[test]
    fn provider_email_greets_the_contact_names_the_company_and_ends_with_the_representative() {
        let email =
            provider_report_email(&config(), &report(), &provider(), None, ATTACHMENT_BUDGET_BYTES).expect("email");
        assert_eq!(email.to, ["ops@acme.example"]);
        assert_eq!(email.subject, "Acme <Software>: your marketplace deployment report for 2026-02-14");
        let help = reports_help_line(Some(&provider()), &config());
        let expected = format!(
            "Hello Jane Doe,

here is Acme <Software>'s deployment report for 2026-02-14 (UTC) on the marketplace. The CSV files are attached.

Product | Currency | Deployments | Succeeded | Failed | Billable revenue | Your remuneration | Marketplace fee
Vault <Pro> | USD | 1 | 1 | 0 | 49.99 | 39.99 | 10.00

Totals for 2026-02-14:

Currency | Deployments | Billable revenue | Your remuneration | Marketplace fee
USD | 1 | 49.99 | 39.99 | 10.00

Month to date (2026-02-01 to 2026-02-14):

Currency | Deployments | Billable revenue | Your remuneration | Marketplace fee
USD | 1 | 49.99 | 39.99 | 10.00

{}

{}

{}

Your report files for 2026-02-14 in the Provider Portal: https://portal.m.example/reports/2026-02-14

Your own software can list the same files, with short-lived download links, through the portal's reports API: GET /providers/acme/reports/2026-02-14/files

{help}

-- 
The Marketplace team <team@m.example>
",
            MONEY_EXPLAINED[0], MONEY_EXPLAINED[1], MONEY_EXPLAINED[2]
        );
        assert_eq!(email.text, expected);
        assert!(email.html.contains("Vault &lt;Pro&gt;") && email.html.contains("Hello Jane Doe,"));
        assert!(email.html.contains(&marketplace_core::email::escape_html(&help)));
        assert!(email.inline_images.is_empty() && !email.html.contains("<img"));
        let names: Vec<_> = email.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, ["2026-02-14-deployments.csv", "2026-02-14-errors.csv", "2026-02-14-month-to-date.csv"]);
        let nobody = Provider { provider_id: "nobody".into(), ..provider() };
        assert!(provider_report_email(&config(), &report(), &nobody, None, 1).is_none());
    }

    #[test]
    fn month_to_date_totals_sum_the_month_rows_per_currency() {
        let mut report = report();
        let acme = report.providers.get_mut("acme").expect("acme");
        let mut second = acme.month_to_date[0].clone();
        second.product_id = "other".into();
        second.counts.deployments = 2;
        second.money.billable_revenue = "0.02".parse().expect("dec");
        acme.month_to_date.push(second);
        let email =
            provider_report_email(&config(), &report, &provider(), None, ATTACHMENT_BUDGET_BYTES).expect("email");
        assert!(
            email.text.contains("Month to date (2026-02-01 to 2026-02-14):\n\nCurrency | Deployments | Billable revenue | Your remuneration | Marketplace fee\nUSD | 3 | 50.01 | 79.98 | 20.00\n"),
            "{}",
            email.text
        );
    }

    #[test]
    fn the_chart_is_an_inline_image_shown_by_cid_with_its_table_in_both_parts() {
        let email = provider_report_email(&config(), &report(), &provider(), Some(&picture()), ATTACHMENT_BUDGET_BYTES)
            .expect("email");
        let cid = chart_content_id("2026-02-14");
        assert_eq!(email.inline_images.len(), 1);
        assert_eq!(email.inline_images[0].content_id, cid);
        assert_eq!(email.inline_images[0].content_type, "image/png");
        assert_eq!(email.inline_images[0].data, picture().png);
        assert!(email.html.contains(&format!("src=\"cid:{cid}\" alt=\"Chart of 30 days\"")), "{}", email.html);
        assert!(email.html.contains("<td style=\"text-align: right\">49.99</td>"));
        assert!(email.text.contains("(Chart of 30 days)\n\nDate        Deployments  Billable revenue USD\n2026-02-14            1                 49.99\n"), "{}", email.text);
        // Still the representative last.
        let help = reports_help_line(Some(&provider()), &config());
        assert!(email.text.ends_with(&format!("{help}\n\n-- \nThe Marketplace team <team@m.example>\n")));
    }

    #[test]
    fn attachments_over_the_size_budget_are_replaced_by_a_portal_link() {
        let email = provider_report_email(&config(), &report(), &provider(), None, 300).expect("email");
        assert!(email.attachments.len() < 3);
        assert!(
            email.text.contains("Too large to attach")
                && email.text.contains("https://portal.m.example/reports/2026-02-14")
        );
        let help = reports_help_line(Some(&provider()), &config());
        assert!(email.text.ends_with(&format!("{help}\n\n-- \nThe Marketplace team <team@m.example>\n")));
    }

    #[test]
    fn team_email_carries_summary_and_rejects() {
        let bad = r#"{"Item":{"deployment_id":{"S":"d-bad"},"provider_id":{"S":"acme"},"finished_at":{"S":"2026-02-14T03:00:00Z"},"status":{"S":"LOST"}}}"#;
        let mut agg =
            Aggregator::new(ReportPlan::single(chrono::NaiveDate::from_ymd_opt(2026, 2, 14).unwrap_or_default()));
        for line in [GOOD_LINE, bad] {
            agg.ingest_item(&parse_export_line(line).expect("line"), &String::new).expect("ok");
        }
        let report = agg.finish().expect("ok").remove(0);
        assert_eq!(report.rejected.len(), 1, "the fixture has a reject");
        let email = team_summary_email(&config(), &report, ATTACHMENT_BUDGET_BYTES);
        assert_eq!(email.to, ["team@m.example"]);
        let names: Vec<_> = email.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, ["2026-02-14-marketplace-summary.csv", "2026-02-14-rejected.csv"]);
        assert!(email.text.contains("acme"));
        assert!(email.text.contains("1 deployment log item(s) broke the contract"), "{}", email.text);
        let rejected = String::from_utf8_lossy(&email.attachments[1].data);
        assert!(rejected.contains("d-bad,missing attribute `product_id`"), "{rejected}");
    }
}

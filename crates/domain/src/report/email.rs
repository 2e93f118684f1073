//! Report emails: each provider gets its day's CSVs with the totals in the body (text + HTML,
//! built with [`crate::email::Message`]); the marketplace team gets the summary and the rejects.
//!
//! ## Size
//! SES accepts raw messages up to 10 MB *after* encoding; attachments are base64 (4/3 larger)
//! in MIME. Attachments are added in order (deployments, month-to-date, errors / summary,
//! rejected) while their raw total stays within [`ATTACHMENT_BUDGET_BYTES`] (7 MiB → ≈ 9.3 MiB
//! encoded, leaving room for the bodies). A file that does not fit is not attached; the body
//! says so and links to the portal's report page instead ("link" rather than "split", so one
//! delivery stays one message and the ledger stays one item).

use crate::config::PortalConfig;
use crate::email::{compose, Attachment, Email, Message};

use super::aggregate::{DailyReport, RowMoney};
use super::files::{provider_files, team_files, ReportFile};
use crate::money::{format_money, Currency};

/// Raw bytes of attachments per email (see module docs).
pub const ATTACHMENT_BUDGET_BYTES: usize = 7 * 1024 * 1024;

fn money_cells(m: &RowMoney, c: Currency) -> [String; 3] {
    [format_money(m.billable_revenue, c), format_money(m.remuneration_value, c), format_money(m.marketplace_fee, c)]
}

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

fn too_large_note(config: &PortalConfig, date: &str, left_out: &[(String, usize)]) -> Option<String> {
    if left_out.is_empty() {
        return None;
    }
    let names: Vec<String> = left_out.iter().map(|(n, s)| format!("{n} ({:.1} MB)", *s as f64 / 1e6)).collect();
    Some(format!(
        "Too large to attach: {}. Download from the portal: {}/reports/{date}",
        names.join(", "),
        config.portal_url.trim_end_matches('/')
    ))
}

/// The provider's email for `report` (None if the provider had no deployments that day).
pub fn provider_report_email(
    config: &PortalConfig,
    report: &DailyReport,
    provider_id: &str,
    to: String,
    budget: usize,
) -> Option<Email> {
    let p = report.providers.get(provider_id)?;
    let date = report.date.to_string();
    let mut message = Message::new("Hello,").paragraph(format!(
        "here is your deployment report for {date} (UTC) on the marketplace. The CSV files are attached."
    ));
    let header = [
        "Product",
        "Currency",
        "Deployments",
        "Succeeded",
        "Failed",
        "Billable revenue",
        "Your remuneration",
        "Marketplace fee",
    ]
    .map(String::from)
    .to_vec();
    let rows = p
        .deployments
        .iter()
        .map(|r| {
            let [rev, rem, fee] = money_cells(&r.money, r.currency);
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
    message = message.table(header, rows);
    let totals: Vec<Vec<String>> = report
        .summary
        .iter()
        .filter(|s| s.provider_id == provider_id)
        .map(|s| {
            let [rev, rem, fee] = money_cells(&s.money, s.currency);
            vec![s.currency.to_string(), s.counts.deployments.to_string(), rev, rem, fee]
        })
        .collect();
    message = message.paragraph("Totals:").table(
        ["Currency", "Deployments", "Billable revenue", "Your remuneration", "Marketplace fee"]
            .map(String::from)
            .to_vec(),
        totals,
    );
    let errors = p.errors.len();
    if errors > 0 {
        message = message.paragraph(format!("{errors} deployment error(s) are listed in the errors file."));
    }
    let mut email = compose(config, vec![to], &format!("Your marketplace deployment report for {date}"), &message);
    let left_out = attach(&mut email, &date, provider_files(report, provider_id), budget);
    if let Some(note) = too_large_note(config, &date, &left_out) {
        let message = message.paragraph(note);
        let attachments = std::mem::take(&mut email.attachments);
        email = compose(config, email.to.clone(), &email.subject, &message);
        email.attachments = attachments;
    }
    Some(email)
}

/// The marketplace team's summary email.
pub fn team_summary_email(config: &PortalConfig, report: &DailyReport, budget: usize) -> Email {
    let date = report.date.to_string();
    let rows = report
        .summary
        .iter()
        .map(|s| {
            let [rev, rem, fee] = money_cells(&s.money, s.currency);
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
    use crate::report::aggregate::{Aggregator, ReportPlan};
    use crate::report::attribute::parse_export_line;

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

    #[test]
    fn provider_email_has_totals_in_both_bodies_and_the_three_csvs_attached() {
        let email =
            provider_report_email(&config(), &report(), "acme", "ops@acme.example".into(), ATTACHMENT_BUDGET_BYTES)
                .expect("email");
        assert!(email.text.contains("49.99") && email.text.contains("39.99") && email.text.contains("10.00"));
        assert!(email.html.contains("Vault &lt;Pro&gt;"));
        let names: Vec<_> = email.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, ["2026-02-14-deployments.csv", "2026-02-14-errors.csv", "2026-02-14-month-to-date.csv"]);
        assert!(provider_report_email(&config(), &report(), "nobody", "x@y".into(), 1).is_none());
    }

    #[test]
    fn attachments_over_the_size_budget_are_replaced_by_a_portal_link() {
        let email = provider_report_email(&config(), &report(), "acme", "ops@acme.example".into(), 300).expect("email");
        assert!(email.attachments.len() < 3);
        assert!(
            email.text.contains("Too large to attach")
                && email.text.contains("https://portal.m.example/reports/2026-02-14")
        );
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

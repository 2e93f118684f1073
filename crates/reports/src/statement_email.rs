//! The monthly statement email: the provider's contact, greeted by name, gets its closed month
//! per product and currency with the totals per currency in the body, one line on how the
//! figures reconcile with the daily reports, the statement CSV attached
//! ([`super::statement::statement_csv`]), and — last — whom to ask about it
//! ([`marketplace_core::provider::reports_help_line`]). A quiet month gets the same email with a zero
//! statement. Built with [`marketplace_core::email::Message`] (text and HTML from the same blocks, every
//! value escaped).

use crate::rows::{Counts, RowMoney};
use crate::statement::{statement_csv, Month, Statement};
use marketplace_core::config::PortalConfig;
use marketplace_core::email::{compose, Attachment, Email, Message};
use marketplace_core::money::Currency;
use marketplace_core::provider::{reports_help_line, Provider};

/// The one line on rounding every statement email carries.
pub const RECONCILIATION_LINE: &str = "How the figures add up: each line is the sum of your daily reports' rows for \
the month, and each daily row was rounded once (half to even) to the currency's smallest unit; nothing is rounded \
again, so the statement matches your daily reports to the cent.";

/// `February 2026`.
pub fn month_name(month: Month) -> String {
    month.first_day().format("%B %Y").to_string()
}

/// File name of the attached statement: `statement-<yyyy-mm>.csv`.
pub fn attachment_name(month: Month) -> String {
    format!("statement-{month}.csv")
}

/// The columns a statement line (after its product) and a currency's total share.
const FIGURES: [&str; 8] = [
    "Currency",
    "Deployments",
    "Succeeded",
    "Failed",
    "Errors",
    "Billable revenue",
    "Your remuneration",
    "Marketplace fee",
];

/// The [`FIGURES`] cells of a line or a total.
fn figures(currency: Currency, counts: &Counts, errors: u64, money: &RowMoney) -> [String; 8] {
    let [revenue, remuneration, fee] = money.formatted(currency);
    [
        currency.to_string(),
        counts.deployments.to_string(),
        counts.succeeded.to_string(),
        counts.failed.to_string(),
        errors.to_string(),
        revenue,
        remuneration,
        fee,
    ]
}

/// The statement email to `provider`'s contact.
pub fn statement_email(config: &PortalConfig, provider: &Provider, statement: &Statement) -> Email {
    let month = month_name(statement.month);
    let mut message = Message::new(format!("Hello {},", provider.contact_name)).paragraph(format!(
        "here is the marketplace statement of {} for {month} (UTC): deployments, errors, billable revenue, \
         your remuneration and the marketplace fee per product and currency, summed from your daily reports. \
         The statement is attached as a CSV file.",
        provider.company_name
    ));
    if statement.lines.is_empty() {
        message = message.paragraph(format!(
            "You had no deployments in {month}, so this statement is zero: nothing was billed and no remuneration is due."
        ));
    } else {
        let header = |first: &[&str]| first.iter().chain(&FIGURES).map(|h| h.to_string()).collect();
        let lines = statement
            .lines
            .iter()
            .map(|l| {
                let mut row = vec![l.product_name.clone()];
                row.extend(figures(l.currency, &l.counts, l.errors, &l.money));
                row
            })
            .collect();
        let totals = statement.totals.iter().map(|t| Vec::from(figures(t.currency, &t.counts, t.errors, &t.money)));
        message = message
            .table(header(&["Product"]), lines)
            .paragraph("Totals per currency:")
            .table(header(&[]), totals.collect());
    }
    message = message.paragraph(RECONCILIATION_LINE).paragraph(reports_help_line(Some(provider), config));
    let subject = format!("{}: your marketplace statement for {month}", provider.company_name);
    let mut email = compose(config, vec![provider.contact_email.clone()], &subject, &message);
    email.attachments.push(Attachment {
        filename: attachment_name(statement.month),
        content_type: "text/csv; charset=utf-8".into(),
        data: statement_csv(statement).into_bytes(),
    });
    email
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::Counts;
    use crate::statement::tests::{feb, row as stored_row};
    use crate::statement::{monthly_statement, StoredRow};

    /// A stored row of acme's `product`, named `<product> <name>` (to be escaped in HTML).
    fn row(day: &str, product: &str, currency: &str, revenue: &str, remuneration: &str) -> StoredRow {
        StoredRow {
            product_name: Some(format!("{product} <name>")),
            counts: Counts { deployments: 2, succeeded: 1, failed: 1, errors_in_succeeded: 1, errors_in_failed: 2 },
            ..stored_row(day, product, currency, 2, revenue, remuneration)
        }
    }

    #[test]
    fn the_statement_email_greets_names_the_company_and_month_and_ends_with_the_representative() {
        let config = PortalConfig::example();
        let provider = Provider::example();
        let rows = [
            row("2026-02-01", "vault", "USD", "10.00", "7.00"),
            row("2026-02-02", "vault", "USD", "0.05", "0.04"),
            row("2026-02-02", "backup", "JPY", "1501", "1051"),
        ];
        let statement = monthly_statement("acme", feb(), &rows).expect("statement");
        let email = statement_email(&config, &provider, &statement);
        assert_eq!(email.to, vec![provider.contact_email.clone()]);
        assert_eq!(email.subject, "Acme: your marketplace statement for February 2026");
        assert!(email.text.starts_with("Hello Jane,\n"), "{}", email.text);
        assert!(email.text.contains("vault <name> | USD | 4 | 2 | 2 | 6 | 10.05 | 7.04 | 3.01"), "{}", email.text);
        assert!(email.text.contains("JPY | 2 | 1 | 1 | 3 | 1501 | 1051 | 450"), "{}", email.text);
        assert!(email.html.contains("vault &lt;name&gt;") && !email.html.contains("vault <name>"));
        assert!(email.text.contains(RECONCILIATION_LINE));
        let help = reports_help_line(Some(&provider), &config);
        let body = email.text.split("-- \n").next().expect("body");
        assert!(body.trim_end().ends_with(&help), "the body ends with the help line: {body}");
        assert_eq!(email.attachments.len(), 1);
        assert_eq!(email.attachments[0].filename, "statement-2026-02.csv");
        assert_eq!(email.attachments[0].data, statement_csv(&statement).into_bytes());
    }

    #[test]
    fn a_quiet_month_gets_a_zero_statement_email() {
        let config = PortalConfig::example();
        let provider = Provider::example();
        let statement = monthly_statement("acme", feb(), &[]).expect("statement");
        let email = statement_email(&config, &provider, &statement);
        assert!(email.text.contains("no deployments in February 2026, so this statement is zero"));
        assert!(!email.text.contains("Totals per currency"));
        assert!(email.text.contains(&reports_help_line(Some(&provider), &config)));
        assert_eq!(email.attachments[0].data, statement_csv(&statement).into_bytes());
    }
}

//! Renders a sample 30-day report chart (src/chart.rs) to look at.
//!
//! ```sh
//! cargo run -p nightly-reports --example chart -- OUT.png [one|jpy|two|many|quiet]
//! ```
//! `one` (default): a provider selling in USD; `jpy`: in JPY; `two`: USD and JPY; `many`: twelve
//! currencies; `quiet`: a month without deployments. Prints the render time, the alt text and the
//! plain-text table.

use anyhow::{bail, Context};
use chrono::NaiveDate;
use marketplace_reports::Currency;
use nightly_reports::chart::{render, DailySeries, DAYS};
use rust_decimal::Decimal;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().context("usage: chart OUT.png [one|jpy|two|many|quiet]")?;
    let kind = args.next().unwrap_or_else(|| "one".into());
    let codes: &[&str] = match kind.as_str() {
        "one" => &["USD"],
        "jpy" => &["JPY"],
        "two" => &["USD", "JPY"],
        "many" => &["AUD", "BHD", "BRL", "CAD", "CHF", "EUR", "GBP", "INR", "JPY", "NOK", "SEK", "USD"],
        "quiet" => &[],
        other => bail!("unknown sample `{other}`: one, jpy, two, many or quiet"),
    };
    let report_date = NaiveDate::from_ymd_opt(2026, 2, 14).context("date")?;
    let mut series = DailySeries::new(report_date)?;
    // A small fixed pseudo-random sequence: the same picture every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    for i in 0..DAYS {
        let date = series.days()[i].date;
        if codes.is_empty() {
            continue;
        }
        let weekend = matches!(date.format("%a").to_string().as_str(), "Sat" | "Sun");
        let deployments = if weekend { next(4) } else { 6 + next(10) + i as u64 / 4 };
        series.add_deployments(date, deployments)?;
        for (n, code) in codes.iter().enumerate() {
            let currency: Currency = code.parse()?;
            // Price per deployment in minor units, different per currency.
            let unit = Decimal::new(1_990 + 750 * n as i64, 2);
            let share = if n == 0 { deployments } else { deployments * (1 + next(3)) / 3 };
            let amount = marketplace_core::money::round_to_minor_units(unit * Decimal::from(share), currency);
            let amount = if *code == "JPY" { amount * Decimal::from(150) } else { amount };
            series.add_revenue(date, currency, amount)?;
        }
    }
    let started = std::time::Instant::now();
    let chart = render(&series)?;
    let elapsed = started.elapsed();
    std::fs::write(&out, &chart.image.png).with_context(|| format!("writing {out}"))?;
    println!("{out}: {} bytes, rendered in {:.1} ms", chart.image.png.len(), elapsed.as_secs_f64() * 1e3);
    println!("alt: {}", chart.image.alt_text);
    print!("{}", chart.text_table);
    Ok(())
}

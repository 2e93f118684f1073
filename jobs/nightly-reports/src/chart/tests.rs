use super::draw::{label_unit, nice_ticks, tick_label};
use super::*;

use chrono::NaiveDate;
use marketplace_reports::aggregate::{Counts, ReportRow, RowMoney};
use marketplace_reports::Currency;
use rust_decimal::Decimal;

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("test decimal")
}

fn cur(code: &str) -> Currency {
    code.parse().expect("test currency")
}

const REPORT_DATE: &str = "2026-02-14";

/// 30 days with a weekly rhythm, in USD and EUR.
fn busy_month() -> DailySeries {
    let mut series = DailySeries::new(date(REPORT_DATE)).expect("window");
    for (i, day) in series.days().to_vec().iter().enumerate() {
        let n = (i as u64 * 7) % 11;
        series.add_deployments(day.date, n).expect("deployments");
        series.add_revenue(day.date, cur("USD"), Decimal::new(1999 * n as i64, 2)).expect("usd");
        if i % 3 == 0 {
            series.add_revenue(day.date, cur("EUR"), Decimal::new(4550 * i as i64, 2)).expect("eur");
        }
    }
    series
}

/// Decodes a PNG: (width, height, colour type, bit depth, pixels).
fn decode(png_bytes: &[u8]) -> (u32, u32, png::ColorType, png::BitDepth, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut pixels).expect("png frame");
    pixels.truncate(info.buffer_size());
    (info.width, info.height, info.color_type, info.bit_depth, pixels)
}

fn dark_pixels_in_rows(pixels: &[u8], rows: std::ops::Range<u32>) -> usize {
    let row_bytes = WIDTH as usize * 3;
    rows.map(|y| &pixels[y as usize * row_bytes..(y as usize + 1) * row_bytes])
        .map(|row| row.chunks(3).filter(|p| p.iter().all(|c| *c < 0x80)).count())
        .sum()
}

#[test]
fn the_chart_is_a_png_of_the_stated_size_that_decodes_back() {
    let chart = render(&busy_month()).expect("chart");
    assert_eq!(&chart.image.png[..8], b"\x89PNG\r\n\x1a\n");
    let (width, height, colour, depth, pixels) = decode(&chart.image.png);
    assert_eq!((width, height), (WIDTH, HEIGHT));
    assert_eq!((colour, depth), (png::ColorType::Rgb, png::BitDepth::Eight));
    assert_eq!(pixels.len(), (WIDTH * HEIGHT * 3) as usize);
    // Mostly white background, with text (the title row) and the bars' colour present.
    let white = pixels.chunks(3).filter(|p| p == &[255, 255, 255]).count();
    assert!(white > (WIDTH * HEIGHT) as usize / 2, "background is white");
    assert!(dark_pixels_in_rows(&pixels, 5..25) > 100, "the title is set in the bundled font");
    assert!(pixels.chunks(3).any(|p| p == [0x5b, 0x7f, 0xa6]), "deployment bars are drawn");
    // An email-sized image.
    assert!(chart.image.png.len() < 100_000, "{} bytes", chart.image.png.len());
}

#[test]
fn the_same_figures_give_the_same_bytes_whatever_order_they_were_added_in() {
    let first = render(&busy_month()).expect("chart");
    let second = render(&busy_month()).expect("chart");
    assert_eq!(first, second);

    // The same day's figures added in another order (currencies, split deployments).
    let mut a = DailySeries::new(date(REPORT_DATE)).expect("window");
    a.add_deployments(date("2026-02-01"), 5).expect("add");
    a.add_revenue(date("2026-02-01"), cur("USD"), dec("10.00")).expect("add");
    a.add_revenue(date("2026-02-01"), cur("JPY"), dec("1500")).expect("add");
    let mut b = DailySeries::new(date(REPORT_DATE)).expect("window");
    b.add_revenue(date("2026-02-01"), cur("JPY"), dec("1000")).expect("add");
    b.add_deployments(date("2026-02-01"), 2).expect("add");
    b.add_revenue(date("2026-02-01"), cur("USD"), dec("10.00")).expect("add");
    b.add_revenue(date("2026-02-01"), cur("JPY"), dec("500")).expect("add");
    b.add_deployments(date("2026-02-01"), 3).expect("add");
    assert_eq!(render(&a).expect("chart").image.png, render(&b).expect("chart").image.png);

    // And different figures give a different picture.
    b.add_deployments(date("2026-02-02"), 1).expect("add");
    assert_ne!(render(&a).expect("chart").image.png, render(&b).expect("chart").image.png);
}

#[test]
fn tables_and_alt_text_carry_the_exact_figures() {
    let mut series = DailySeries::new(date(REPORT_DATE)).expect("window");
    // 0.10 + 0.20 is exactly 0.30 in decimals (not 0.30000000000000004).
    series.add_deployments(date("2026-02-14"), 3).expect("add");
    series.add_revenue(date("2026-02-14"), cur("USD"), dec("0.10")).expect("add");
    series.add_revenue(date("2026-02-14"), cur("USD"), dec("0.20")).expect("add");
    // More digits than an f64 holds.
    series.add_deployments(date("2026-01-16"), 1).expect("add");
    series.add_revenue(date("2026-01-16"), cur("USD"), dec("12345678901234567.89")).expect("add");
    // Currencies keep their own minor units: 3 for BHD, 0 for JPY.
    series.add_revenue(date("2026-02-01"), cur("BHD"), dec("1.005")).expect("add");
    series.add_revenue(date("2026-02-01"), cur("JPY"), dec("1500")).expect("add");
    series.add_deployments(date("2026-02-01"), 12).expect("add");
    let chart = render(&series).expect("chart");

    assert_eq!(
        chart.header,
        ["Date", "Deployments", "Billable revenue BHD", "Billable revenue JPY", "Billable revenue USD"]
    );
    assert_eq!(chart.rows.len(), DAYS + 1);
    assert_eq!(chart.rows[0], ["2026-01-16", "1", "0.000", "0", "12345678901234567.89"]);
    assert_eq!(chart.rows[1], ["2026-01-17", "0", "0.000", "0", "0.00"], "a day without figures is zero");
    assert_eq!(chart.rows[16], ["2026-02-01", "12", "1.005", "1500", "0.00"]);
    assert_eq!(chart.rows[29], ["2026-02-14", "3", "0.000", "0", "0.30"]);
    assert_eq!(chart.rows[30], ["Total", "16", "1.005", "1500", "12345678901234568.19"]);

    // The plain-text table: the same cells, one line per row, aligned.
    let lines: Vec<&str> = chart.text_table.lines().collect();
    assert_eq!(lines.len(), DAYS + 2);
    for (line, row) in lines.iter().skip(1).zip(&chart.rows) {
        assert_eq!(line.split_whitespace().collect::<Vec<_>>(), *row);
    }
    assert_eq!(lines[1].len(), lines[31].len(), "columns are aligned");
    assert!(lines[30].ends_with(" 0.30"), "{}", lines[30]);

    // The HTML table: the same cells.
    for row in &chart.rows {
        for cell in row {
            assert!(chart.html_table.contains(&format!(">{cell}</t")), "{cell} in the HTML table");
        }
    }
    assert_eq!(chart.html_table.matches("<tr>").count(), DAYS + 2);
    assert!(chart.html_table.contains("2026-01-16 to 2026-02-14"));

    // The alt text: the window, totals and busiest days of each series.
    let alt = &chart.image.alt_text;
    assert!(alt.contains("from 2026-01-16 to 2026-02-14"), "{alt}");
    assert!(alt.contains("Deployments: 16 in total, most on 2026-02-01 (12)"), "{alt}");
    assert!(alt.contains("BHD 1.005 in total, most on 2026-02-01 (1.005)"), "{alt}");
    assert!(alt.contains("JPY 1500 in total, most on 2026-02-01 (1500)"), "{alt}");
    assert!(alt.contains("USD 12345678901234568.19 in total, most on 2026-01-16 (12345678901234567.89)"), "{alt}");
}

#[test]
fn a_quiet_month_still_renders_and_says_so() {
    let series = DailySeries::new(date(REPORT_DATE)).expect("window");
    let chart = render(&series).expect("chart");
    let (width, height, ..) = decode(&chart.image.png);
    assert_eq!((width, height), (WIDTH, HEIGHT));
    assert_eq!(chart.header, ["Date", "Deployments"]);
    assert_eq!(chart.rows.len(), DAYS + 1);
    assert!(chart.rows[..DAYS].iter().all(|r| r[1] == "0"));
    assert_eq!(chart.rows[DAYS], ["Total", "0"]);
    assert!(chart.image.alt_text.contains("Deployments: none. Billable revenue: none."), "{}", chart.image.alt_text);

    // A provider whose products sell in USD, without a sale: USD shows, at zero.
    let mut usd = DailySeries::new(date(REPORT_DATE)).expect("window");
    usd.add_revenue(date("2026-02-10"), cur("USD"), Decimal::ZERO).expect("add");
    let chart = render(&usd).expect("chart");
    assert_eq!(chart.rows[DAYS], ["Total", "0", "0.00"]);
    assert!(chart.image.alt_text.contains("USD 0.00 in total."), "{}", chart.image.alt_text);
    decode(&chart.image.png);
}

#[test]
fn many_currencies_render_with_one_column_each() {
    let codes = ["AUD", "BHD", "BRL", "CAD", "CHF", "EUR", "GBP", "INR", "JPY", "NOK", "SEK", "USD", "ZAR"];
    let mut series = DailySeries::new(date(REPORT_DATE)).expect("window");
    for (i, day) in series.days().to_vec().iter().enumerate() {
        series.add_deployments(day.date, i as u64).expect("add");
        for (n, code) in codes.iter().enumerate() {
            series.add_revenue(day.date, cur(code), Decimal::from((i * (n + 1)) % 17)).expect("add");
        }
    }
    let chart = render(&series).expect("chart");
    assert!(codes.len() > draw::PALETTE.len(), "more lines than colours");
    assert_eq!(chart.header.len(), 2 + codes.len());
    assert!(chart.rows.iter().all(|r| r.len() == 2 + codes.len()));
    for code in codes {
        assert!(chart.image.alt_text.contains(&format!("{code} ")), "{code} in the alt text");
    }
    let (width, height, ..) = decode(&chart.image.png);
    assert_eq!((width, height), (WIDTH, HEIGHT));
}

#[test]
fn refunds_and_huge_amounts_still_render() {
    let mut series = DailySeries::new(date(REPORT_DATE)).expect("window");
    series.add_revenue(date("2026-02-01"), cur("USD"), dec("-120.50")).expect("add");
    series.add_revenue(date("2026-02-02"), cur("USD"), dec("79000000000000000000000000.00")).expect("add");
    series.add_deployments(date("2026-02-02"), u64::MAX).expect("add");
    let chart = render(&series).expect("chart");
    assert_eq!(chart.rows[16][2], "-120.50");
    assert_eq!(chart.rows[DAYS][1], u64::MAX.to_string());
    decode(&chart.image.png);
}

#[test]
fn figures_outside_the_thirty_days_are_refused() {
    let mut series = DailySeries::new(date(REPORT_DATE)).expect("window");
    assert_eq!(series.first_date(), date("2026-01-16"));
    assert_eq!(series.days().len(), DAYS);
    series.add_deployments(date("2026-01-16"), 1).expect("first day");
    series.add_deployments(date("2026-02-14"), 1).expect("report date");
    for outside in ["2026-01-15", "2026-02-15", "2025-02-14"] {
        let err = series.add_deployments(date(outside), 1).expect_err("outside");
        assert!(matches!(err, ChartError::DateOutsideWindow { .. }), "{err}");
        let err = series.add_revenue(date(outside), cur("USD"), Decimal::ONE).expect_err("outside");
        assert!(err.to_string().contains("outside the chart's 30 days (2026-01-16 to 2026-02-14)"), "{err}");
    }
    series.add_deployments(date("2026-02-14"), u64::MAX).expect_err("overflow");
    // A 30-day total that would not fit is refused, and the day keeps its figure.
    series.add_revenue(date("2026-02-01"), cur("USD"), Decimal::MAX).expect("fits");
    let err = series.add_revenue(date("2026-02-02"), cur("USD"), Decimal::ONE).expect_err("total overflows");
    assert!(matches!(err, ChartError::Overflow { .. }), "{err}");
    assert_eq!(series.days()[17].revenue.get(&cur("USD")), None);
    series.add_revenue(date("2026-02-02"), cur("USD"), -Decimal::ONE).expect("total fits");
    assert!(DailySeries::new(NaiveDate::MIN).is_err());
}

#[test]
fn a_days_report_rows_add_up_per_currency() {
    let row = |product: &str, currency: &str, deployments: u64, revenue: &str| ReportRow {
        provider_id: "p-1".into(),
        product_id: product.into(),
        product_name: product.into(),
        currency: cur(currency),
        counts: Counts { deployments, succeeded: deployments, ..Counts::default() },
        money: RowMoney {
            billable_revenue: dec(revenue),
            remuneration_value: Decimal::ZERO,
            marketplace_fee: Decimal::ZERO,
        },
    };
    let mut series = DailySeries::new(date(REPORT_DATE)).expect("window");
    let rows = [row("a", "USD", 2, "19.98"), row("b", "USD", 1, "5.01"), row("c", "EUR", 4, "40.00")];
    series.add_report_rows(date("2026-02-13"), &rows).expect("rows");
    let day = &series.days()[28];
    assert_eq!(day.date, date("2026-02-13"));
    assert_eq!(day.deployments, 7);
    assert_eq!(day.revenue[&cur("USD")], dec("24.99"));
    assert_eq!(day.revenue[&cur("EUR")], dec("40.00"));
    assert_eq!(series.currencies(), [cur("EUR"), cur("USD")]);
}

#[test]
fn the_img_tag_escapes_its_attributes() {
    let image = ChartImage { png: Vec::new(), alt_text: "Revenue <b>\"up\"</b> & away".into() };
    assert_eq!(
        image.img_tag("chart@x\"y"),
        "<img src=\"cid:chart@x&quot;y\" alt=\"Revenue &lt;b&gt;&quot;up&quot;&lt;/b&gt; &amp; away\" \
         width=\"720\" height=\"360\" style=\"max-width:100%;height:auto\">"
    );
}

#[test]
fn axis_ticks_are_round_decimal_figures() {
    let ticks = |lo: &str, hi: &str, min: &str| {
        let (ticks, step) = nice_ticks(dec(lo), dec(hi), dec(min));
        let unit = label_unit(&ticks, step);
        (ticks.iter().map(|t| tick_label(*t, unit)).collect::<Vec<_>>(), step)
    };
    assert_eq!(ticks("0", "17", "1"), (vec!["0".into(), "5".into(), "10".into(), "15".into(), "20".into()], dec("5")));
    assert_eq!(ticks("0", "338.30", "0.01").0, ["0", "100", "200", "300", "400"]);
    assert_eq!(ticks("0", "0.03", "0.01").0, ["0", "0.01", "0.02", "0.03"]);
    assert_eq!(ticks("0", "3", "1").0, ["0", "1", "2", "3"]);
    assert_eq!(ticks("-120.50", "400", "0.01").0, ["-200", "0", "200", "400"]);
    assert_eq!(ticks("0", "2400000", "0.01").0, ["0", "0.5M", "1M", "1.5M", "2M", "2.5M"]);
    assert_eq!(ticks("0", "2400", "0.01").0, ["0", "500", "1000", "1500", "2000", "2500"]);
    assert_eq!(ticks("0", "24000", "1").0, ["0", "5k", "10k", "15k", "20k", "25k"]);
    assert_eq!(ticks("0", "71000000", "1").0, ["0", "20M", "40M", "60M", "80M"]);
    assert_eq!(ticks("0", "0", "1").0, ["0"]);
}

//! The picture: plotters draws the panels, grid, bars and lines into an RGB buffer; [`text`]
//! sets the labels; `png` encodes. Every label is a decimal figure formatted as text; `f64` is
//! only ever a pixel position.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::series::{total_deployments, total_revenue, ChartError, DailySeries, DAYS, HEIGHT, WIDTH};
use super::text::{self, Align, Label};
use marketplace_core::money::format_money;
use marketplace_reports::Currency;

const BAR: RGBColor = RGBColor(0x5b, 0x7f, 0xa6);
const GRID: RGBColor = RGBColor(0xe6, 0xe6, 0xe6);
const AXIS: RGBColor = RGBColor(0x99, 0x99, 0x99);
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);
/// Line colours, distinct on white; past ten they repeat and the legend (then the table) tells
/// which is which.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
];

/// Width of the plots; the legend column takes the rest.
const PLOT_WIDTH: u32 = 560;
const TITLE_HEIGHT: u32 = 28;
const DEPLOYMENTS_HEIGHT: u32 = 138;
const CAPTION_HEIGHT: u32 = 22;
const Y_LABEL_WIDTH: u32 = 50;
const LEGEND_X: i32 = PLOT_WIDTH as i32 + 12;
const LEGEND_ROW: i32 = 17;
const LABEL_SIZE: f32 = 12.0;
const CAPTION_SIZE: f32 = 13.5;

type Root<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Scale, Scale>>;

fn draw_error<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError::Draw(e.to_string())
}

/// The PNG of `series` (see the module docs of `chart` for the layout).
pub(super) fn png(series: &DailySeries) -> Result<Vec<u8>, ChartError> {
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    let mut labels = Vec::new();
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        labels.push(Label::new(
            format!(
                "Last 30 days: {} to {} (UTC)",
                series.first_date().format("%-d %b %Y"),
                series.report_date().format("%-d %b %Y")
            ),
            (10, 9),
            15.0,
            INK,
            Align::TopLeft,
        ));
        let (_, body) = root.split_vertically(TITLE_HEIGHT);
        let (plots, _) = body.split_horizontally(PLOT_WIDTH);
        let (deployments, revenue) = plots.split_vertically(DEPLOYMENTS_HEIGHT);
        draw_deployments(series, &root, &deployments, &mut labels)?;
        draw_revenue(series, &root, &revenue, &mut labels)?;
        root.present().map_err(draw_error)?;
    }
    text::draw(&mut pixels, WIDTH, HEIGHT, &labels)?;
    encode(&pixels)
}

fn encode(pixels: &[u8]) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Axes

/// Tick values from a multiple of the step at or below `lo` to one at or above `hi`, with a
/// "nice" step (1, 2 or 5 × a power of ten, at least `min_step`) giving about five intervals.
/// Returns the ticks and the step.
pub(super) fn nice_ticks(lo: Decimal, hi: Decimal, min_step: Decimal) -> (Vec<Decimal>, Decimal) {
    let span = hi.saturating_sub(lo);
    if span <= Decimal::ZERO {
        return (vec![Decimal::ZERO], min_step);
    }
    let raw = span / Decimal::from(5);
    let mut magnitude = Decimal::ONE;
    for _ in 0..40 {
        match magnitude.checked_mul(Decimal::TEN) {
            Some(next) if next <= raw => magnitude = next,
            _ => break,
        }
    }
    for _ in 0..40 {
        if magnitude <= raw || magnitude <= Decimal::new(1, 28) {
            break;
        }
        magnitude /= Decimal::TEN;
    }
    let step = [1, 2, 5, 10]
        .iter()
        .filter_map(|m| magnitude.checked_mul(Decimal::from(*m)))
        .find(|s| *s >= raw)
        .unwrap_or(magnitude)
        .max(min_step);
    let first = (lo / step).floor() * step;
    let mut ticks = vec![first];
    let mut tick = first;
    while tick < hi && ticks.len() < 12 {
        tick = tick.saturating_add(step);
        ticks.push(tick);
    }
    (ticks, step)
}

/// The unit of an axis's labels: millions or thousands once the figures are that large (and
/// the step keeps labels to one decimal at most), otherwise ones.
pub(super) fn label_unit(ticks: &[Decimal], step: Decimal) -> (Decimal, &'static str) {
    let largest = ticks.iter().map(|t| t.abs()).max().unwrap_or(Decimal::ZERO);
    let million = Decimal::from(1_000_000);
    let thousand = Decimal::from(1_000);
    if largest >= million && step >= million / Decimal::TEN {
        (million, "M")
    } else if largest >= Decimal::from(10_000) && step >= thousand / Decimal::TEN {
        (thousand, "k")
    } else {
        (Decimal::ONE, "")
    }
}

/// An axis label: `1500`, `2.5`, `40k`, `1.5M`.
pub(super) fn tick_label(value: Decimal, (unit, suffix): (Decimal, &str)) -> String {
    if value.is_zero() {
        return "0".into();
    }
    format!("{}{suffix}", (value / unit).normalize())
}

/// Pixel position of a figure. The only place a decimal becomes a float.
fn px(value: Decimal) -> f64 {
    value.to_f64().unwrap_or(0.0)
}

/// A value axis: its range and its labelled ticks.
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    fn from_ticks(ticks: &[Decimal], step: Decimal, suffix: &str) -> Axis {
        let unit = label_unit(ticks, step);
        let labelled: Vec<(f64, String)> =
            ticks.iter().map(|t| (px(*t), format!("{}{suffix}", tick_label(*t, unit)))).collect();
        let lo = labelled.first().map_or(0.0, |t| t.0);
        let hi = labelled.last().map_or(1.0, |t| t.0);
        // A single tick (nothing but zeros): keep a unit of height above it.
        let hi = if hi > lo { hi } else { lo + 1.0 };
        Axis { lo, hi, ticks: labelled }
    }

    fn scale(&self) -> Scale {
        Scale(RangedCoordf64::from(self.lo..self.hi))
    }
}

/// A linear axis without plotters' own tick choice (ours are decimals, drawn by [`frame`]).
struct Scale(RangedCoordf64);

impl Ranged for Scale {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.0.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        Vec::new()
    }

    fn range(&self) -> Range<f64> {
        self.0.range()
    }
}

/// The day-axis labels: the report date and every 7th day before it, at the middle of the day.
fn day_ticks(series: &DailySeries) -> Vec<(f64, String)> {
    (0..DAYS)
        .filter(|i| (DAYS - 1 - i).is_multiple_of(7))
        .map(|i| (i as f64 + 0.5, series.days()[i].date.format("%-d %b").to_string()))
        .collect()
}

fn build<'a, 'b>(area: &'a Root<'b>, y: &Axis, x_label_height: u32) -> Result<Chart<'a, 'b>, ChartError> {
    ChartBuilder::on(area)
        .margin_top(CAPTION_HEIGHT)
        .margin_left(4)
        .margin_right(12)
        .margin_bottom(4)
        .x_label_area_size(x_label_height)
        .y_label_area_size(Y_LABEL_WIDTH)
        .build_cartesian_2d(Scale(RangedCoordf64::from(0.0..DAYS as f64)), y.scale())
        .map_err(draw_error)
}

/// Caption, grid, value labels and (optionally) the day labels of one panel.
fn frame(
    chart: &mut Chart<'_, '_>,
    root: &Root<'_>,
    caption: String,
    y: &Axis,
    days: Option<&[(f64, String)]>,
    labels: &mut Vec<Label>,
) -> Result<(), ChartError> {
    let (left, top) = chart.backend_coord(&(0.0, y.hi));
    let (right, bottom) = chart.backend_coord(&(DAYS as f64, y.lo));
    labels.push(Label::new(caption, (left, top - CAPTION_HEIGHT as i32 + 4), CAPTION_SIZE, INK, Align::TopLeft));
    for (value, label) in &y.ticks {
        let (_, at) = chart.backend_coord(&(0.0, *value));
        root.draw(&PathElement::new(vec![(left, at), (right, at)], GRID)).map_err(draw_error)?;
        labels.push(Label::new(label.clone(), (left - 7, at), LABEL_SIZE, MUTED, Align::MiddleRight));
    }
    for (day, label) in days.unwrap_or_default() {
        let (at, _) = chart.backend_coord(&(*day, y.lo));
        root.draw(&PathElement::new(vec![(at, bottom), (at, bottom + 4)], AXIS)).map_err(draw_error)?;
        labels.push(Label::new(label.clone(), (at, bottom + 8), LABEL_SIZE, MUTED, Align::TopCentre));
    }
    Ok(())
}

fn axes(chart: &Chart<'_, '_>, root: &Root<'_>, y: &Axis) -> Result<(), ChartError> {
    let (left, top) = chart.backend_coord(&(0.0, y.hi));
    let (right, bottom) = chart.backend_coord(&(DAYS as f64, y.lo));
    root.draw(&PathElement::new(vec![(left, top), (left, bottom), (right, bottom)], AXIS)).map_err(draw_error)
}

fn centre_note(chart: &Chart<'_, '_>, y: &Axis, note: &str, labels: &mut Vec<Label>) {
    let at = chart.backend_coord(&(DAYS as f64 / 2.0, (y.lo + y.hi) / 2.0));
    labels.push(Label::new(note, at, CAPTION_SIZE, MUTED, Align::MiddleCentre));
}

// ---------------------------------------------------------------------------------------------
// Panels

fn draw_deployments(
    series: &DailySeries,
    root: &Root<'_>,
    area: &Root<'_>,
    labels: &mut Vec<Label>,
) -> Result<(), ChartError> {
    let max = series.days().iter().map(|d| d.deployments).max().unwrap_or(0);
    let (ticks, step) = nice_ticks(Decimal::ZERO, Decimal::from(max), Decimal::ONE);
    let y = Axis::from_ticks(&ticks, step, "");
    let mut chart = build(area, &y, 6)?;
    frame(&mut chart, root, "Deployments per day".into(), &y, None, labels)?;
    chart
        .draw_series(series.days().iter().enumerate().filter(|(_, d)| d.deployments > 0).map(|(i, d)| {
            let x = i as f64;
            Rectangle::new([(x + 0.15, 0.0), (x + 0.85, d.deployments as f64)], BAR.filled())
        }))
        .map_err(draw_error)?;
    axes(&chart, root, &y)?;
    if max == 0 {
        centre_note(&chart, &y, "No deployments in these 30 days", labels);
    }

    let top = (TITLE_HEIGHT + CAPTION_HEIGHT) as i32;
    labels.push(Label::new("30-day total", (LEGEND_X, top), LABEL_SIZE, MUTED, Align::TopLeft));
    let row = top + LEGEND_ROW + 6;
    root.draw(&Rectangle::new([(LEGEND_X, row - 5), (LEGEND_X + 16, row + 5)], BAR.filled())).map_err(draw_error)?;
    let total = total_deployments(series);
    let noun = if total == 1 { "deployment" } else { "deployments" };
    labels.push(Label::new(format!("{total} {noun}"), (LEGEND_X + 22, row), LABEL_SIZE, INK, Align::MiddleLeft));
    Ok(())
}

fn draw_revenue(
    series: &DailySeries,
    root: &Root<'_>,
    area: &Root<'_>,
    labels: &mut Vec<Label>,
) -> Result<(), ChartError> {
    let currencies = series.currencies();
    // One currency: amounts. Several: each currency's share of its own busiest day, in percent
    // (one amount axis cannot serve 100 JPY and 100 USD).
    let shares = currencies.len() > 1;
    let values: Vec<Vec<Decimal>> = currencies
        .iter()
        .map(|&c| {
            let amounts: Vec<Decimal> = (0..DAYS).map(|i| series.revenue(i, c)).collect();
            let peak = amounts.iter().map(|v| v.abs()).max().unwrap_or(Decimal::ZERO);
            if !shares || peak.is_zero() {
                return amounts;
            }
            amounts
                .iter()
                .map(|v| v.checked_div(peak).and_then(|r| r.checked_mul(Decimal::ONE_HUNDRED)).unwrap_or_default())
                .collect()
        })
        .collect();
    let lo = values.iter().flatten().copied().min().unwrap_or(Decimal::ZERO).min(Decimal::ZERO);
    let hi = values.iter().flatten().copied().max().unwrap_or(Decimal::ZERO).max(Decimal::ZERO);
    let (y, caption) = match currencies.as_slice() {
        [] => (Axis::from_ticks(&[Decimal::ZERO], Decimal::ONE, ""), "Billable revenue per day".to_string()),
        [only] => {
            let (ticks, step) = nice_ticks(lo, hi, Decimal::new(1, only.minor_units()));
            (Axis::from_ticks(&ticks, step, ""), format!("Billable revenue per day ({only})"))
        }
        _ => {
            let (ticks, step) = nice_ticks(lo, hi, Decimal::ONE);
            (
                Axis::from_ticks(&ticks, step, "%"),
                "Billable revenue per day, % of each currency's busiest day".to_string(),
            )
        }
    };
    let days = day_ticks(series);
    let mut chart = build(area, &y, 24)?;
    frame(&mut chart, root, caption, &y, Some(&days), labels)?;
    // Few lines: thick with a dot per day; many: thin, so that they stay apart.
    let (stroke, dot) = if currencies.len() <= 3 { (2, 2) } else { (1, 0) };
    for (n, line) in values.iter().enumerate() {
        let colour = PALETTE[n % PALETTE.len()];
        let points: Vec<(f64, f64)> = line.iter().enumerate().map(|(i, v)| (i as f64 + 0.5, px(*v))).collect();
        if dot > 0 {
            chart.draw_series(points.iter().map(|p| Circle::new(*p, dot, colour.filled()))).map_err(draw_error)?;
        }
        chart
            .draw_series(std::iter::once(PathElement::new(points, colour.stroke_width(stroke))))
            .map_err(draw_error)?;
    }
    axes(&chart, root, &y)?;
    if values.iter().flatten().all(Decimal::is_zero) {
        centre_note(&chart, &y, "No billable revenue in these 30 days", labels);
    }
    revenue_legend(series, &currencies, root, labels)
}

fn revenue_legend(
    series: &DailySeries,
    currencies: &[Currency],
    root: &Root<'_>,
    labels: &mut Vec<Label>,
) -> Result<(), ChartError> {
    let top = (TITLE_HEIGHT + DEPLOYMENTS_HEIGHT + CAPTION_HEIGHT) as i32;
    labels.push(Label::new("30-day totals", (LEGEND_X, top), LABEL_SIZE, MUTED, Align::TopLeft));
    let first_row = top + LEGEND_ROW + 6;
    let rows_that_fit = usize::try_from((HEIGHT as i32 - 8 - first_row) / LEGEND_ROW + 1).unwrap_or(1).max(1);
    let shown = if currencies.len() > rows_that_fit { rows_that_fit - 1 } else { currencies.len() };
    for (n, &c) in currencies.iter().take(shown).enumerate() {
        let row = first_row + LEGEND_ROW * n as i32;
        let colour = PALETTE[n % PALETTE.len()];
        root.draw(&PathElement::new(vec![(LEGEND_X, row), (LEGEND_X + 16, row)], colour.stroke_width(3)))
            .map_err(draw_error)?;
        let label = format!("{c} {}", format_money(total_revenue(series, c), c));
        labels.push(Label::new(label, (LEGEND_X + 22, row), LABEL_SIZE, INK, Align::MiddleLeft));
    }
    let after = first_row + LEGEND_ROW * shown as i32;
    if shown < currencies.len() {
        let more = format!("+{} more in the table", currencies.len() - shown);
        labels.push(Label::new(more, (LEGEND_X, after), LABEL_SIZE, MUTED, Align::MiddleLeft));
    }
    if currencies.is_empty() {
        labels.push(Label::new("none", (LEGEND_X, first_row), LABEL_SIZE, INK, Align::MiddleLeft));
    }
    Ok(())
}

//! Text on the chart, set with the bundled font by `ab_glyph` and blended into the RGB buffer
//! after plotters has drawn the shapes (plotters 0.3.7's own `ab_glyph` text ignores the glyphs'
//! side bearings, which leaves visibly uneven letter spacing).

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::style::RGBColor;

use super::series::ChartError;

/// DejaVu Sans 2.37, unmodified (licence: `assets/fonts/LICENSE-DejaVu.txt`).
const FONT_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Latin.ttf");

fn font() -> Result<&'static FontRef<'static>, ChartError> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_TTF).ok()).as_ref().ok_or(ChartError::Font)
}

/// Where the anchor point is on the text's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    /// Left end, top of the capitals.
    TopLeft,
    /// Middle, top of the capitals.
    TopCentre,
    /// Left end, middle of the capitals.
    MiddleLeft,
    /// Right end, middle of the capitals.
    MiddleRight,
    /// Middle, middle of the capitals.
    MiddleCentre,
}

/// One piece of text to set.
#[derive(Debug, Clone)]
pub(super) struct Label {
    pub text: String,
    pub at: (i32, i32),
    pub size: f32,
    pub colour: RGBColor,
    pub align: Align,
}

impl Label {
    pub fn new(text: impl Into<String>, at: (i32, i32), size: f32, colour: RGBColor, align: Align) -> Label {
        Label { text: text.into(), at, size, colour, align }
    }
}

/// Width in pixels of `text` set at `size`.
pub(super) fn width(text: &str, size: f32) -> Result<f32, ChartError> {
    let font = font()?;
    let scaled = font.as_scaled(PxScale::from(size));
    let mut caret = 0.0;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        caret += scaled.h_advance(id);
        previous = Some(id);
    }
    Ok(caret)
}

/// Sets every label into `pixels` (RGB, `width` × `height`), blending by glyph coverage.
pub(super) fn draw(pixels: &mut [u8], width_px: u32, height_px: u32, labels: &[Label]) -> Result<(), ChartError> {
    let font = font()?;
    for label in labels {
        let scale = PxScale::from(label.size);
        let scaled = font.as_scaled(scale);
        let cap_height =
            font.outline_glyph(scaled.scaled_glyph('H')).map_or(scaled.ascent() * 0.75, |g| -g.px_bounds().min.y);
        let text_width = width(&label.text, label.size)?;
        let (ax, ay) = (label.at.0 as f32, label.at.1 as f32);
        let left = match label.align {
            Align::TopLeft | Align::MiddleLeft => ax,
            Align::TopCentre | Align::MiddleCentre => ax - text_width / 2.0,
            Align::MiddleRight => ax - text_width,
        };
        let baseline = match label.align {
            Align::TopLeft | Align::TopCentre => ay + cap_height,
            Align::MiddleLeft | Align::MiddleRight | Align::MiddleCentre => ay + cap_height / 2.0,
        };
        // Whole-pixel origin: crisp, and the same bytes wherever the label sits.
        let (left, baseline) = (left.round(), baseline.round());
        let mut caret = 0.0;
        let mut previous = None;
        for c in label.text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                caret += scaled.kern(p, id);
            }
            previous = Some(id);
            let glyph = id.with_scale_and_position(scale, point(left + caret, baseline));
            caret += scaled.h_advance(id);
            let Some(outlined) = font.outline_glyph(glyph) else { continue };
            let bounds = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let x = bounds.min.x as i64 + i64::from(gx);
                let y = bounds.min.y as i64 + i64::from(gy);
                blend(pixels, width_px, height_px, (x, y), label.colour, coverage);
            });
        }
    }
    Ok(())
}

fn blend(pixels: &mut [u8], width: u32, height: u32, (x, y): (i64, i64), colour: RGBColor, coverage: f32) {
    if x < 0 || y < 0 || x >= i64::from(width) || y >= i64::from(height) {
        return;
    }
    let alpha = coverage.clamp(0.0, 1.0);
    let at = ((y as usize) * (width as usize) + (x as usize)) * 3;
    let RGBColor(r, g, b) = colour;
    for (offset, ink) in [r, g, b].into_iter().enumerate() {
        let under = f32::from(pixels[at + offset]);
        pixels[at + offset] = (under + (f32::from(ink) - under) * alpha).round() as u8;
    }
}

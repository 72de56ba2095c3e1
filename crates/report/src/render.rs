//! Shared plumbing: the embedded font, output paths, rendering to PNG and SVG, colours and axis
//! ranges.

use crate::ReportError;
use plotters::chart::{MeshStyle, SeriesLabelStyle};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// DejaVu Sans, embedded so that rendering needs no system fonts.
const FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Font family name every chart uses; the embedded font is registered under it.
pub(crate) const FONT: &str = "sans-serif";

/// Registers the embedded font with plotters once per process; false if it could not be parsed.
pub(crate) fn ensure_font() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok())
}

/// The result type of drawing onto a backend `DB`.
pub(crate) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart that can be drawn onto any plotters backend.
pub(crate) trait Figure {
    /// Draws the whole figure onto `root`, which is already filled white.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

/// `<stem>.<ext>`, appending rather than replacing (a stem like `run.v2/cdf` keeps its dots).
pub(crate) fn with_suffix(stem: &Path, ext: &str) -> PathBuf {
    let mut s = OsString::from(stem.as_os_str());
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Draws `fig` into `<out_stem>.png` and `<out_stem>.svg` of `size` pixels; returns both paths.
pub(crate) fn render_png_svg(
    fig: &impl Figure,
    out_stem: &Path,
    size: (u32, u32),
) -> Result<Vec<PathBuf>, ReportError> {
    let png = with_suffix(out_stem, "png");
    let svg = with_suffix(out_stem, "svg");
    if !ensure_font() {
        return Err(ReportError::Font { path: png });
    }
    if let Some(dir) = png.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
            path: png.clone(),
            source,
        })?;
    }
    let draw_err = |path: &Path, e: &dyn std::fmt::Display| ReportError::Draw {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|_| fig.draw(&root))
            .and_then(|_| root.present())
            .map_err(|e| draw_err(&png, &e))?;
    }
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|_| fig.draw(&root))
            .and_then(|_| root.present())
            .map_err(|e| draw_err(&svg, &e))?;
    }
    Ok(vec![png, svg])
}

/// Line colours for algorithms: Tableau 20 without its greys (kept for the network), the nine
/// strong colours first, then their light partners, so `bench --abr all` (12 lines) repeats none.
const PALETTE: [RGBColor; 18] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(174, 199, 232),
    RGBColor(255, 187, 120),
    RGBColor(152, 223, 138),
    RGBColor(255, 152, 150),
    RGBColor(197, 176, 213),
    RGBColor(196, 156, 148),
    RGBColor(247, 182, 210),
    RGBColor(219, 219, 141),
    RGBColor(158, 218, 229),
];

/// The colour of the `i`-th algorithm (cycles after eighteen).
pub(crate) fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Grey used for the network throughput.
pub(crate) const NETWORK_GREY: RGBColor = RGBColor(120, 120, 120);

/// An axis range covering the finite values of `values`, padded by `pad_frac` of the span on each
/// side. A single value (or all values equal) is padded to a non-empty range; no finite values
/// at all gives `fallback`. Never returns NaN or an empty range.
pub(crate) fn padded_range(
    values: impl IntoIterator<Item = f64>,
    pad_frac: f64,
    fallback: (f64, f64),
) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return fallback;
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(lo.abs()).max(1.0) {
        let pad = (lo.abs() * 0.1).max(1.0);
        return (lo - pad, hi + pad);
    }
    (lo - span * pad_frac, hi + span * pad_frac)
}

/// Formats an axis tick `v` with as many decimals as a range of width `span` needs (with about
/// ten ticks along it).
pub(crate) fn tick(v: f64, span: f64) -> String {
    let step = span / 10.0;
    let decimals = if step >= 1.0 {
        0
    } else if step >= 0.1 {
        1
    } else if step >= 0.01 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    // Avoid "-0" / "-0.0" labels.
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// Upper end of a y axis whose data reach `y_max` (>= 0, axis starting at 0) in a plotting area
/// `plot_px` pixels high, leaving room at the top for a legend of `rows` entries.
pub(crate) fn y_top_with_legend(y_max: f64, rows: usize, plot_px: u32) -> f64 {
    let legend_px = (rows as f64 * 24.0 + 30.0).min(plot_px as f64 * 0.6);
    let frac = legend_px / (plot_px as f64).max(1.0);
    y_max / (1.0 - frac).max(0.4)
}

/// Text style of chart titles.
pub(crate) fn title_style() -> TextStyle<'static> {
    (FONT, 30).into_font().color(&BLACK)
}

/// Text style of axis descriptions.
pub(crate) fn axis_desc_style() -> TextStyle<'static> {
    (FONT, 22).into_font().color(&BLACK)
}

/// Text style of tick labels.
pub(crate) fn label_style() -> TextStyle<'static> {
    (FONT, 18).into_font().color(&BLACK)
}

/// Text style of legends.
pub(crate) fn legend_style() -> TextStyle<'static> {
    (FONT, 18).into_font().color(&BLACK)
}

/// The house style of a chart's grid: tick and axis-description fonts, faint grid lines. Call it
/// on a configured mesh, then `.draw()` (later settings override these).
pub(crate) fn house_mesh<'m, 'a, 'b, X, Y, XT, YT, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged<ValueType = XT> + ValueFormatter<XT>,
    Y: Ranged<ValueType = YT> + ValueFormatter<YT>,
    DB: DrawingBackend,
{
    mesh.label_style(label_style())
        .axis_desc_style(axis_desc_style())
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
}

/// The house style of a legend box at `position`, `margin` pixels in from the plot's edge: legend
/// font, white translucent background, grey border. Call `.draw()` on the result.
pub(crate) fn house_legend<'m, 'a, 'b, DB, CT>(
    labels: &'m mut SeriesLabelStyle<'a, 'b, DB, CT>,
    position: SeriesLabelPosition,
    margin: u32,
) -> &'m mut SeriesLabelStyle<'a, 'b, DB, CT>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    labels
        .position(position)
        .margin(margin)
        .legend_area_size(36)
        .label_font(legend_style())
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_loads() {
        assert!(ensure_font());
    }

    #[test]
    fn padded_range_handles_degenerate_inputs() {
        assert_eq!(padded_range([], 0.05, (0.0, 1.0)), (0.0, 1.0));
        assert_eq!(padded_range([f64::NAN], 0.05, (0.0, 1.0)), (0.0, 1.0));
        assert_eq!(padded_range([3.0, 3.0], 0.05, (0.0, 1.0)), (2.0, 4.0));
        assert_eq!(padded_range([-50.0], 0.05, (0.0, 1.0)), (-55.0, -45.0));
        let (lo, hi) = padded_range([-10.0, 10.0, f64::INFINITY], 0.05, (0.0, 1.0));
        assert_eq!((lo, hi), (-11.0, 11.0));
    }

    #[test]
    fn suffix_appends() {
        assert_eq!(
            with_suffix(Path::new("a/run.v2"), "png"),
            PathBuf::from("a/run.v2.png")
        );
    }

    #[test]
    fn ticks_have_sensible_precision() {
        assert_eq!(tick(12.345, 100.0), "12");
        assert_eq!(tick(12.345, 5.0), "12.3");
        assert_eq!(tick(0.25, 1.0), "0.2");
        assert_eq!(tick(0.25, 0.5), "0.25");
        assert_eq!(tick(-0.0001, 1.0), "0.0");
    }

    #[test]
    fn the_first_eighteen_algorithms_get_distinct_colours() {
        let all: Vec<RGBColor> = (0..18).map(colour).collect();
        for (i, c) in all.iter().enumerate() {
            assert!(!all[..i].contains(c), "colour {i} repeats");
            assert_ne!(*c, NETWORK_GREY);
        }
    }
}

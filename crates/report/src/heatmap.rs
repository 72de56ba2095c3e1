//! Heat-map of a grid of shares (for example each algorithm's mean QoE as a share of the offline
//! optimum's, in every cell of networks x videos): one row per grid cell, one column per
//! algorithm, each square coloured from red (the lowest share in the map) through yellow to green
//! (the highest) and labelled with the share in percent; a missing value (an algorithm that could
//! not run there) is a grey square marked "n/a".

use crate::render::{
    axis_desc_style, label_style, render_png_svg, title_style, DrawResult, Figure,
};
use crate::ReportError;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// Pixels per column and per row of the map.
const CELL_PX: (u32, u32) = (120, 44);
/// Room for the row labels (left), the column labels and caption (top) and the margins, pixels.
const FRAME_PX: (u32, u32) = (420, 220);

/// The data of a heat-map: `values[row][column]`, shares (1.0 = 100 %), `None` where missing.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatMap {
    /// Chart title.
    pub title: String,
    /// One label per row (a grid cell, e.g. `pensieve-test / pensieve`).
    pub rows: Vec<String>,
    /// One label per column (an algorithm).
    pub columns: Vec<String>,
    /// `values[row][column]`; rows or columns shorter than the labels are missing values.
    pub values: Vec<Vec<Option<f64>>>,
}

impl HeatMap {
    fn value(&self, row: usize, col: usize) -> Option<f64> {
        self.values
            .get(row)
            .and_then(|r| r.get(col))
            .copied()
            .flatten()
            .filter(|v| v.is_finite())
    }
}

/// Draws `map` into `<out_stem>.png` and `<out_stem>.svg`, sized to the grid; returns the paths,
/// PNG first. An empty map gives an empty frame.
pub fn heatmap_chart(map: &HeatMap, out_stem: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let cols = map.columns.len().max(1) as u32;
    let rows = map.rows.len().max(1) as u32;
    let size = (FRAME_PX.0 + cols * CELL_PX.0, FRAME_PX.1 + rows * CELL_PX.1);
    render_png_svg(&HeatFigure { map }, out_stem, size)
}

/// Red -> yellow -> green as `t` goes 0 -> 0.5 -> 1.
fn ramp(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let (red, yellow, green) = (
        (215.0, 48.0, 39.0),
        (255.0, 255.0, 191.0),
        (26.0, 152.0, 80.0),
    );
    let mix = |a: (f64, f64, f64), b: (f64, f64, f64), u: f64| {
        RGBColor(
            (a.0 + (b.0 - a.0) * u).round() as u8,
            (a.1 + (b.1 - a.1) * u).round() as u8,
            (a.2 + (b.2 - a.2) * u).round() as u8,
        )
    };
    if t < 0.5 {
        mix(red, yellow, t * 2.0)
    } else {
        mix(yellow, green, (t - 0.5) * 2.0)
    }
}

struct HeatFigure<'a> {
    map: &'a HeatMap,
}

impl Figure for HeatFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let map = self.map;
        let (n_cols, n_rows) = (map.columns.len(), map.rows.len());
        let finite: Vec<f64> = (0..n_rows)
            .flat_map(|r| (0..n_cols).filter_map(move |c| map.value(r, c)))
            .collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let shade = |v: f64| {
            if hi - lo > 1e-12 {
                ramp((v - lo) / (hi - lo))
            } else {
                ramp(1.0)
            }
        };
        let (w, h) = (n_cols.max(1) as f64, n_rows.max(1) as f64);
        let mut chart = ChartBuilder::on(root)
            .caption(&map.title, title_style())
            .margin(20)
            .x_label_area_size(0)
            .top_x_label_area_size(60)
            .y_label_area_size(FRAME_PX.0 - 60)
            .build_cartesian_2d(0.0..w, h..0.0)?;
        let cols = map.columns.clone();
        let rows = map.rows.clone();
        let at_centre = |v: f64, labels: &[String]| {
            let i = v.floor() as usize;
            if (v - v.floor() - 0.5).abs() < 0.01 && i < labels.len() {
                labels[i].clone()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n_cols.max(1) * 2 + 1)
            .y_labels(n_rows.max(1) * 2 + 1)
            .x_label_formatter(&|v| at_centre(*v, &cols))
            .y_label_formatter(&|v| at_centre(*v, &rows))
            .label_style(label_style())
            .axis_desc_style(axis_desc_style())
            .draw()?;
        let squares = (0..n_rows).flat_map(|r| {
            (0..n_cols).map(move |c| {
                let fill = map.value(r, c).map_or(RGBColor(200, 200, 200), shade);
                let (x, y) = (c as f64, r as f64);
                Rectangle::new([(x + 0.02, y + 0.04), (x + 0.98, y + 0.96)], fill.filled())
            })
        });
        chart.draw_series(squares)?;
        let centred = label_style().pos(Pos::new(HPos::Center, VPos::Center));
        let texts = (0..n_rows).flat_map(|r| {
            let style = centred.clone();
            (0..n_cols).map(move |c| {
                let text = map
                    .value(r, c)
                    .map_or_else(|| "n/a".to_owned(), |v| format!("{:.1}%", v * 100.0));
                Text::new(text, (c as f64 + 0.5, r as f64 + 0.5), style.clone())
            })
        });
        chart.draw_series(texts)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_runs_red_yellow_green_and_survives_nan() {
        assert_eq!(ramp(0.0), RGBColor(215, 48, 39));
        assert_eq!(ramp(0.5), RGBColor(255, 255, 191));
        assert_eq!(ramp(1.0), RGBColor(26, 152, 80));
        assert_eq!(ramp(f64::NAN), ramp(0.5));
        assert_eq!(ramp(7.0), ramp(1.0));
    }

    #[test]
    fn heatmap_renders_png_and_svg_with_labels_including_odd_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let map = HeatMap {
            title: "share of the optimum".into(),
            rows: vec!["pensieve-test / pensieve".into(), "fast / ladder35".into()],
            columns: vec!["bba0".into(), "robustmpc".into(), "learned".into()],
            values: vec![
                vec![Some(0.8), Some(0.9), None],
                vec![Some(0.95), Some(f64::NAN)],
            ],
        };
        let paths = heatmap_chart(&map, &dir.path().join("grid")).unwrap();
        assert_eq!(paths.len(), 2);
        let png = std::fs::read(&paths[0]).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        for want in ["robustmpc", "fast / ladder35", "80.0%", "95.0%", "n/a"] {
            assert!(svg.contains(want), "svg lacks {want}");
        }
        // Empty and constant maps draw too.
        let empty = HeatMap {
            title: "empty".into(),
            rows: vec![],
            columns: vec![],
            values: vec![],
        };
        assert_eq!(
            heatmap_chart(&empty, &dir.path().join("e")).unwrap().len(),
            2
        );
        let flat = HeatMap {
            values: vec![vec![Some(1.0); 3]; 2],
            ..map
        };
        assert_eq!(
            heatmap_chart(&flat, &dir.path().join("f")).unwrap().len(),
            2
        );
    }
}

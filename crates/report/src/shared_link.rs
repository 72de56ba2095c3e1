//! Many players on one link (issue 22): each player's bitrate over the link's time, one step line
//! per player, with the link's capacity in grey behind them.

use crate::render::{
    axis_desc_style, colour, house_legend, house_mesh, padded_range, render_png_svg, tick,
    title_style, y_top_with_legend, DrawResult, Figure, NETWORK_GREY,
};
use crate::ReportError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Pixel size of the chart.
const SIZE: (u32, u32) = (1400, 800);

/// Players named in the legend at most (the others are drawn, not named).
const MAX_LEGEND: usize = 12;

/// One player's chunks on the link's clock.
#[derive(Debug, Clone, Default)]
pub struct PlayerSeries {
    /// Legend label (e.g. `"3 robustmpc"`).
    pub label: String,
    /// `(request_s, finish_s, bitrate_kbps)` of each chunk, link seconds, in order.
    pub chunks: Vec<(f64, f64, f64)>,
}

struct SharedFigure<'a> {
    title: &'a str,
    players: &'a [PlayerSeries],
    /// Link capacity as `(link_s, Mbit/s)` step points (may be empty).
    capacity: &'a [(f64, f64)],
}

impl Figure for SharedFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let finite = |v: &f64| v.is_finite();
        let (_, t_end) = padded_range(
            self.players
                .iter()
                .flat_map(|p| p.chunks.iter().map(|c| c.1))
                .filter(finite),
            0.0,
            (0.0, 1.0),
        );
        let t_end = t_end.max(1e-3);
        let y_max = self
            .players
            .iter()
            .flat_map(|p| p.chunks.iter().map(|c| c.2 / 1000.0))
            .chain(self.capacity.iter().map(|c| c.1))
            .filter(finite)
            .fold(0.0f64, f64::max)
            .max(0.1);
        let rows = self.players.len().min(MAX_LEGEND) + 1;
        let y_top = y_top_with_legend(y_max * 1.05, rows, SIZE.1 - 150);
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, title_style())
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..t_end, 0.0..y_top)?;
        house_mesh(
            chart
                .configure_mesh()
                .x_desc("link time (s)")
                .y_desc("Mbit/s")
                .x_labels(12)
                .y_labels(10)
                .x_label_formatter(&|v| tick(*v, t_end))
                .y_label_formatter(&|v| tick(*v, y_top)),
        )
        .draw()?;
        if !self.capacity.is_empty() {
            let pts: Vec<(f64, f64)> = self
                .capacity
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite() && p.0 <= t_end)
                .collect();
            chart
                .draw_series(LineSeries::new(pts, NETWORK_GREY.mix(0.6).stroke_width(2)))?
                .label("link capacity (payload)")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 28, y)], NETWORK_GREY.stroke_width(2))
                });
        }
        for (i, p) in self.players.iter().enumerate() {
            let mut pts = Vec::with_capacity(2 * p.chunks.len());
            for (k, &(req, fin, kbps)) in p.chunks.iter().enumerate() {
                if !(req.is_finite() && fin.is_finite() && kbps.is_finite()) {
                    continue;
                }
                let end = p.chunks.get(k + 1).map_or(fin, |n| n.0).max(req);
                pts.push((req, kbps / 1000.0));
                pts.push((end, kbps / 1000.0));
            }
            let col = colour(i);
            let series = chart.draw_series(LineSeries::new(pts, col.stroke_width(2)))?;
            if i < MAX_LEGEND {
                series.label(p.label.clone()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 28, y)], col.stroke_width(3))
                });
            }
        }
        if self.players.is_empty() {
            chart.plotting_area().draw(&Text::new(
                "no players",
                (0.4 * t_end, 0.5 * y_top),
                axis_desc_style(),
            ))?;
        }
        house_legend(
            &mut chart.configure_series_labels(),
            SeriesLabelPosition::UpperRight,
            12,
        )
        .draw()?;
        Ok(())
    }
}

/// Draws each player's bitrate over link time (a chunk's bitrate holds from its request to the
/// next request) and the link's payload capacity (`(link_s, Mbit/s)` step points, may be empty)
/// into `<out_stem>.png` (1400x800) and `<out_stem>.svg`; the legend names the first twelve
/// players. Non-finite values are left out. Returns the paths written, PNG first.
pub fn shared_link_chart(
    title: &str,
    players: &[PlayerSeries],
    capacity_mbps: &[(f64, f64)],
    out_stem: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let fig = SharedFigure {
        title,
        players,
        capacity: capacity_mbps,
    };
    render_png_svg(&fig, out_stem, SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_png_and_svg_and_survives_odd_input() {
        let dir = tempfile::tempdir().unwrap();
        let players: Vec<PlayerSeries> = (0..15)
            .map(|i| PlayerSeries {
                label: format!("{i} bb"),
                chunks: (0..10)
                    .map(|k| {
                        (
                            k as f64 * 4.0,
                            k as f64 * 4.0 + 2.0,
                            300.0 * (1 + i % 4) as f64,
                        )
                    })
                    .collect(),
            })
            .collect();
        let cap = [(0.0, 8.0), (20.0, 8.0), (20.0, 4.0), (40.0, 4.0)];
        let paths = shared_link_chart("t", &players, &cap, &dir.path().join("s")).unwrap();
        assert_eq!(paths.len(), 2);
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("link time (s)") && svg.contains("11 bb") && !svg.contains("12 bb"));
        let odd = [PlayerSeries {
            label: "nan".into(),
            chunks: vec![(f64::NAN, 1.0, 300.0)],
        }];
        assert_eq!(
            shared_link_chart("t", &odd, &[], &dir.path().join("odd"))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            shared_link_chart("t", &[], &[], &dir.path().join("none"))
                .unwrap()
                .len(),
            2
        );
    }
}

//! Empirical CDF of per-trace QoE, one line per algorithm.

use crate::render::{
    axis_desc_style, colour, house_legend, house_mesh, padded_range, render_png_svg, tick,
    title_style, DrawResult, Figure,
};
use crate::ReportError;
use neuralstream_core::BenchResults;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Pixel size of the CDF chart.
const SIZE: (u32, u32) = (1200, 800);

/// One algorithm's sorted per-trace QoE values and the mean shown in the legend.
struct Curve {
    name: String,
    sorted: Vec<f64>,
    mean: f64,
}

/// Everything the CDF figure shows.
struct CdfFigure {
    title: String,
    x_desc: String,
    curves: Vec<Curve>,
}

impl CdfFigure {
    fn new(results: &BenchResults) -> Self {
        // Algorithms in the order of the summaries, then any that only appear per trace.
        let mut names: Vec<&str> = results
            .summaries
            .iter()
            .map(|s| s.algorithm.as_str())
            .collect();
        for r in &results.per_trace {
            if !names.contains(&r.algorithm.as_str()) {
                names.push(&r.algorithm);
            }
        }
        let curves = names
            .into_iter()
            .map(|name| {
                let mut sorted: Vec<f64> = results
                    .per_trace
                    .iter()
                    .filter(|r| r.algorithm == name)
                    .map(|r| r.score.qoe)
                    .filter(|q| q.is_finite())
                    .collect();
                sorted.sort_by(f64::total_cmp);
                let mean = results
                    .summaries
                    .iter()
                    .find(|s| s.algorithm == name)
                    .map(|s| s.qoe_mean)
                    .filter(|m| m.is_finite())
                    .unwrap_or_else(|| {
                        sorted.iter().fold(0.0, |a, b| a + b) / sorted.len().max(1) as f64
                    });
                Curve {
                    name: name.to_string(),
                    sorted,
                    mean,
                }
            })
            .collect();
        let m = &results.meta;
        CdfFigure {
            title: format!(
                "CDF of per-trace QoE ({}, {} trace{})",
                m.video,
                m.traces,
                if m.traces == 1 { "" } else { "s" }
            ),
            x_desc: format!("QoE per trace ({})", m.qoe),
            curves,
        }
    }
}

impl Figure for CdfFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (x_lo, x_hi) = padded_range(
            self.curves.iter().flat_map(|c| c.sorted.iter().copied()),
            0.03,
            (0.0, 1.0),
        );
        let x_span = x_hi - x_lo;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, title_style())
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(90)
            .build_cartesian_2d(x_lo..x_hi, -0.01..1.01)?;
        house_mesh(
            chart
                .configure_mesh()
                .x_desc(&self.x_desc)
                .y_desc("fraction of traces")
                .x_labels(10)
                .y_labels(11)
                .x_label_formatter(&|v| tick(*v, x_span))
                .y_label_formatter(&|v| format!("{v:.1}")),
        )
        .draw()?;

        let mut any = false;
        for (i, c) in self.curves.iter().enumerate() {
            if c.sorted.is_empty() {
                continue;
            }
            any = true;
            let n = c.sorted.len() as f64;
            // Right-continuous step function: 0 left of the smallest value, 1 right of the largest.
            let mut pts = Vec::with_capacity(2 * c.sorted.len() + 2);
            pts.push((x_lo, 0.0));
            for (k, &q) in c.sorted.iter().enumerate() {
                pts.push((q, k as f64 / n));
                pts.push((q, (k + 1) as f64 / n));
            }
            pts.push((x_hi, 1.0));
            let col = colour(i);
            chart
                .draw_series(LineSeries::new(pts, col.stroke_width(3)))?
                .label(format!(
                    "{}  (mean {}, n = {})",
                    c.name,
                    if c.mean.abs() < 10.0 {
                        format!("{:.2}", c.mean)
                    } else {
                        format!("{:.1}", c.mean)
                    },
                    c.sorted.len()
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 28, y)], col.stroke_width(3))
                });
        }
        if any {
            house_legend(
                &mut chart.configure_series_labels(),
                SeriesLabelPosition::UpperLeft,
                12,
            )
            .draw()?;
        } else {
            chart.plotting_area().draw(&Text::new(
                "no per-trace results",
                (x_lo + 0.4 * x_span, 0.5),
                axis_desc_style(),
            ))?;
        }
        Ok(())
    }
}

/// Draws the empirical CDF of per-trace QoE of every algorithm in `results` into
/// `<out_stem>.png` (1200x800 pixels) and `<out_stem>.svg`, creating the folder if needed.
///
/// One step line per algorithm (in the order of `results.summaries`, then any algorithm found
/// only in `results.per_trace`), in distinct colours; the legend gives each algorithm's mean QoE
/// (from its summary when present) and number of traces. x is `"QoE per trace (<model>)"`, y the
/// fraction of traces. Non-finite QoE values are left out. With no per-trace results at all an
/// empty chart saying so is drawn. Returns the paths written, PNG first.
pub fn qoe_cdf_chart(results: &BenchResults, out_stem: &Path) -> Result<Vec<PathBuf>, ReportError> {
    render_png_svg(&CdfFigure::new(results), out_stem, SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::tests::{results, summary};
    use neuralstream_core::SessionScore;
    use neuralstream_core::TraceResult;

    fn per_trace(alg: &str, qoes: &[f64]) -> Vec<TraceResult> {
        qoes.iter()
            .enumerate()
            .map(|(i, &q)| TraceResult {
                algorithm: alg.into(),
                trace: format!("t{i}"),
                score: SessionScore {
                    qoe: q,
                    ..Default::default()
                },
            })
            .collect()
    }

    fn assert_png_svg(paths: &[PathBuf]) {
        assert_eq!(paths.len(), 2);
        let png = std::fs::read(&paths[0]).unwrap();
        assert!(png.len() > 1000);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("<svg"));
    }

    #[test]
    fn writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = results(vec![summary("bb", 10.0, None), summary("mpc", -3.0, None)]);
        r.per_trace = per_trace("bb", &[1.0, 12.0, 30.0, 7.5]);
        r.per_trace
            .extend(per_trace("mpc", &[-20.0, -1.0, 5.0, f64::NAN]));
        let paths = qoe_cdf_chart(&r, &dir.path().join("sub/cdf")).unwrap();
        assert_eq!(paths[0], dir.path().join("sub/cdf.png"));
        assert_png_svg(&paths);
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("fraction of traces") && svg.contains("QoE per trace (lin)"));
        assert!(svg.contains("mpc"));
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        // Nothing at all.
        let r = results(vec![]);
        assert_png_svg(&qoe_cdf_chart(&r, &dir.path().join("empty")).unwrap());
        // One algorithm, one trace; all values equal; only NaN.
        let mut r = results(vec![summary("bb", 5.0, None)]);
        r.per_trace = per_trace("bb", &[5.0]);
        assert_png_svg(&qoe_cdf_chart(&r, &dir.path().join("one")).unwrap());
        r.per_trace = per_trace("bb", &[-2.0, -2.0, -2.0]);
        assert_png_svg(&qoe_cdf_chart(&r, &dir.path().join("equal")).unwrap());
        r.per_trace = per_trace("bb", &[f64::NAN]);
        assert_png_svg(&qoe_cdf_chart(&r, &dir.path().join("nan")).unwrap());
    }

    #[test]
    fn unwritable_path_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let err = qoe_cdf_chart(&results(vec![]), &blocker.join("cdf")).unwrap_err();
        assert!(err.to_string().contains("cdf.png"), "{err}");
    }
}

//! Empirical CDF, one line per algorithm: of per-trace QoE ([`qoe_cdf_chart`]) or of any plain
//! values ([`cdf_chart`], e.g. the real-time mode's per-frame delays).

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

/// Most steps drawn per curve; a longer one is drawn through this many evenly spaced quantiles
/// (a per-frame CDF has tens of thousands of values).
const MAX_STEPS: usize = 2000;

/// One algorithm's sorted per-trace QoE values and the mean shown in the legend.
struct Curve {
    name: String,
    sorted: Vec<f64>,
    mean: f64,
    /// Finite values before thinning (the legend's n).
    n: usize,
}

/// Everything the CDF figure shows.
struct CdfFigure {
    title: String,
    x_desc: String,
    y_desc: String,
    /// Largest x shown (values beyond are drawn at it); `None`: the data's range.
    x_max: Option<f64>,
    curves: Vec<Curve>,
}

impl CdfFigure {
    /// A figure of plain values: finite ones kept, sorted, thinned to [`MAX_STEPS`] quantiles,
    /// means over all finite values.
    fn from_values(
        title: &str,
        x_desc: &str,
        y_desc: &str,
        x_max: Option<f64>,
        curves: &[(&str, &[f64])],
    ) -> Self {
        let curves = curves
            .iter()
            .map(|(name, values)| {
                let mut sorted: Vec<f64> =
                    values.iter().copied().filter(|v| v.is_finite()).collect();
                sorted.sort_by(f64::total_cmp);
                let mean = sorted.iter().sum::<f64>() / sorted.len().max(1) as f64;
                let n = sorted.len();
                if sorted.len() > MAX_STEPS {
                    let n = sorted.len();
                    sorted = (0..MAX_STEPS)
                        .map(|k| sorted[(k * (n - 1)) / (MAX_STEPS - 1)])
                        .collect();
                }
                Curve {
                    name: name.to_string(),
                    sorted,
                    mean,
                    n,
                }
            })
            .collect();
        CdfFigure {
            title: title.to_owned(),
            x_desc: x_desc.to_owned(),
            y_desc: y_desc.to_owned(),
            x_max: x_max.filter(|x| x.is_finite()),
            curves,
        }
    }

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
                    n: sorted.len(),
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
            y_desc: "fraction of traces".into(),
            x_max: None,
            curves,
        }
    }
}

impl Figure for CdfFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let shown = |v: f64| self.x_max.map_or(v, |m| v.min(m));
        let (x_lo, x_hi) = padded_range(
            self.curves
                .iter()
                .flat_map(|c| c.sorted.iter().map(|&v| shown(v))),
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
                .y_desc(&self.y_desc)
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
                let q = shown(q);
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
                    c.n
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

/// Draws the empirical CDF of plain values, one step line per `(name, values)` curve, into
/// `<out_stem>.png` (1200x800 pixels) and `<out_stem>.svg`, creating the folder if needed.
///
/// Same figure as [`qoe_cdf_chart`]: the legend gives each curve's mean and number of values;
/// non-finite values are left out; a curve of more than 2,000 values is drawn through 2,000
/// evenly spaced quantiles. `x_max` cuts a long tail: values above it are drawn at it (the curve
/// reaches 1 there), so the body stays readable. Returns the paths written, PNG first.
pub fn cdf_chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    x_max: Option<f64>,
    curves: &[(&str, &[f64])],
    out_stem: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    render_png_svg(
        &CdfFigure::from_values(title, x_desc, y_desc, x_max, curves),
        out_stem,
        SIZE,
    )
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
    fn plain_values_are_thinned_cut_and_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let many: Vec<f64> = (0..50_000).map(|i| i as f64 / 10.0).collect();
        let few = [30.0, f64::NAN, 10.0, 20.0];
        let curves: [(&str, &[f64]); 3] = [("gcc", &many), ("learned", &few), ("none", &[])];
        let fig = CdfFigure::from_values(
            "t",
            "frame delay (ms)",
            "fraction of frames",
            Some(100.0),
            &curves,
        );
        assert_eq!(fig.curves[0].sorted.len(), MAX_STEPS);
        assert_eq!(fig.curves[0].n, 50_000);
        assert_eq!(fig.curves[0].sorted[0], 0.0);
        assert_eq!(*fig.curves[0].sorted.last().unwrap(), 4999.9);
        assert!((fig.curves[0].mean - 2499.95).abs() < 1e-6);
        assert_eq!(fig.curves[1].sorted, vec![10.0, 20.0, 30.0]);
        assert_eq!(fig.curves[1].mean, 20.0);
        let paths = cdf_chart(
            "t",
            "frame delay (ms)",
            "fraction of frames",
            Some(100.0),
            &curves,
            &dir.path().join("d"),
        )
        .unwrap();
        assert_png_svg(&paths);
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("fraction of frames") && svg.contains("learned"));
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

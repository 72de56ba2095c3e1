//! Training charts of learned policies: the validation curve (QoE vs wall time and vs samples,
//! coloured by stage) and the stage-contribution bar chart (score after each stage, with
//! reference lines such as RobustMPC and the offline optimum).

use crate::render::{
    axis_desc_style, colour, house_legend, house_mesh, label_style, legend_style, padded_range,
    render_png_svg, tick, title_style, DrawResult, Figure,
};
use crate::ReportError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Pixel size of the training curve chart (two panels side by side).
const CURVE_SIZE: (u32, u32) = (1600, 700);
/// Pixel size of the stage chart.
const STAGE_SIZE: (u32, u32) = (1200, 800);

/// One validation point of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingPoint {
    /// Stage that produced it (points of one stage share a colour).
    pub stage: String,
    /// Wall time since the run started, seconds.
    pub wall_s: f64,
    /// Training samples consumed so far.
    pub samples: f64,
    /// Validation QoE.
    pub val_qoe: f64,
}

/// A horizontal reference line (e.g. RobustMPC or the optimum on the same sessions).
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    /// Legend label.
    pub label: String,
    /// Value.
    pub value: f64,
}

/// One bar group of the stage chart.
#[derive(Debug, Clone, PartialEq)]
pub struct StageBar {
    /// Stage name (x axis).
    pub stage: String,
    /// Score on the validation sessions.
    pub val_qoe: f64,
    /// Score on the test traces, when measured (reporting only, never used for selection).
    pub test_qoe: Option<f64>,
}

fn stages_in_order(points: &[TrainingPoint]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for p in points {
        if !names.contains(&p.stage.as_str()) {
            names.push(&p.stage);
        }
    }
    names
}

/// The lowest value the curve's y axis shows: the 10th percentile minus the 10th-90th
/// percentile range (so the bulk of the curve keeps its resolution); the minimum when that is
/// higher; `-inf` for no finite value.
fn robust_floor(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NEG_INFINITY;
    }
    v.sort_by(f64::total_cmp);
    let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
    let (q10, q90) = (q(0.1), q(0.9));
    (q10 - (q90 - q10).max(1.0)).max(v[0])
}

struct CurveFigure<'a> {
    title: String,
    points: &'a [TrainingPoint],
    references: &'a [Reference],
}

impl CurveFigure<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        x_of: impl Fn(&TrainingPoint) -> f64,
        x_desc: &str,
        legend: bool,
    ) -> DrawResult<DB> {
        let (x_lo, x_hi) = padded_range(self.points.iter().map(&x_of), 0.02, (0.0, 1.0));
        // An untrained policy can score thousands below the rest of the curve: the y axis starts
        // at a robust floor and such points are drawn on the bottom edge.
        let floor = robust_floor(self.points.iter().map(|p| p.val_qoe));
        let (y_lo, y_hi) = padded_range(
            self.points
                .iter()
                .map(|p| p.val_qoe.max(floor))
                .chain(self.references.iter().map(|r| r.value)),
            0.05,
            (0.0, 1.0),
        );
        let (x_span, y_span) = (x_hi - x_lo, y_hi - y_lo);
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(90)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
        house_mesh(
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc("validation QoE per session")
                .x_labels(8)
                .y_labels(10)
                .x_label_formatter(&|v| tick(*v, x_span))
                .y_label_formatter(&|v| tick(*v, y_span)),
        )
        .draw()?;
        for (i, r) in self.references.iter().enumerate() {
            let col = RGBColor(90, 90, 90);
            let style = ShapeStyle::from(col.mix(0.8)).stroke_width(2);
            let dash = if i % 2 == 0 { 12 } else { 4 };
            let series = chart.draw_series(DashedLineSeries::new(
                vec![(x_lo, r.value), (x_hi, r.value)],
                dash,
                6,
                style,
            ))?;
            if legend {
                series
                    .label(format!("{} ({:.2})", r.label, r.value))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 28, y)], col.stroke_width(2))
                    });
            }
        }
        for (i, stage) in stages_in_order(self.points).into_iter().enumerate() {
            let col = colour(i);
            let pts: Vec<(f64, f64)> = self
                .points
                .iter()
                .filter(|p| p.stage == stage && p.val_qoe.is_finite())
                .map(|p| (x_of(p), p.val_qoe.max(y_lo)))
                .collect();
            let series = chart.draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))?;
            if legend {
                let best = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
                series
                    .label(format!("{stage} (best {best:.2})"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 28, y)], col.stroke_width(3))
                    });
            }
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, col.filled())))?;
        }
        if legend {
            house_legend(
                &mut chart.configure_series_labels(),
                SeriesLabelPosition::LowerRight,
                12,
            )
            .draw()?;
        }
        Ok(())
    }
}

impl Figure for CurveFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let root = root.titled(&self.title, title_style())?;
        let (left, right) = root.split_horizontally(CURVE_SIZE.0 / 2);
        self.panel(&left, |p| p.wall_s, "wall time (s)", false)?;
        self.panel(&right, |p| p.samples, "training samples", true)?;
        Ok(())
    }
}

/// Draws the training curve: validation QoE against wall time (left) and against training
/// samples (right), one colour per stage, with dashed reference lines, into `<out_stem>.png`
/// (1600x700) and `<out_stem>.svg`. Empty input gives empty axes. Returns the paths, PNG first.
pub fn training_curve_chart(
    title: &str,
    points: &[TrainingPoint],
    references: &[Reference],
    out_stem: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    render_png_svg(
        &CurveFigure {
            title: title.to_owned(),
            points,
            references,
        },
        out_stem,
        CURVE_SIZE,
    )
}

struct StageFigure<'a> {
    title: String,
    bars: &'a [StageBar],
    references: &'a [Reference],
}

impl Figure for StageFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let values = self
            .bars
            .iter()
            .flat_map(|b| [Some(b.val_qoe), b.test_qoe])
            .flatten()
            .chain(self.references.iter().map(|r| r.value))
            .chain([0.0]);
        let (y_lo, y_hi) = padded_range(values, 0.08, (0.0, 1.0));
        let y_span = y_hi - y_lo;
        let n = self.bars.len().max(1) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, title_style())
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..n, y_lo..y_hi)?;
        let names: Vec<String> = self.bars.iter().map(|b| b.stage.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("after stage")
            .y_desc("mean QoE per session")
            .x_labels(names.len().max(1) * 2 + 1)
            .x_label_formatter(&|v| {
                let i = v.floor() as usize;
                if (v - v.floor() - 0.5).abs() < 0.01 && i < names.len() {
                    names[i].clone()
                } else {
                    String::new()
                }
            })
            .y_labels(10)
            .y_label_formatter(&|v| tick(*v, y_span))
            .label_style(label_style())
            .axis_desc_style(axis_desc_style())
            .bold_line_style(BLACK.mix(0.12))
            .light_line_style(BLACK.mix(0.04))
            .draw()?;
        let has_test = self.bars.iter().any(|b| b.test_qoe.is_some());
        let (val_col, test_col) = (colour(0), colour(1));
        let base = 0.0f64.max(y_lo);
        let width = if has_test { 0.35 } else { 0.6 };
        let val_bars = self.bars.iter().enumerate().map(|(i, b)| {
            let x0 = i as f64 + 0.5 - if has_test { width } else { width / 2.0 };
            Rectangle::new([(x0, base), (x0 + width, b.val_qoe)], val_col.filled())
        });
        chart
            .draw_series(val_bars)?
            .label("validation sessions (selection)")
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], val_col.filled()));
        if has_test {
            let test_bars = self.bars.iter().enumerate().filter_map(|(i, b)| {
                b.test_qoe.map(|t| {
                    let x0 = i as f64 + 0.5;
                    Rectangle::new([(x0, base), (x0 + width, t)], test_col.filled())
                })
            });
            chart
                .draw_series(test_bars)?
                .label("test traces (reporting only)")
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 20, y + 6)], test_col.filled())
                });
        }
        for (i, b) in self.bars.iter().enumerate() {
            let x = i as f64 + 0.5 - if has_test { width / 2.0 } else { 0.0 };
            chart.draw_series(std::iter::once(Text::new(
                format!("{:.2}", b.val_qoe),
                (x - 0.12, b.val_qoe + 0.01 * y_span),
                legend_style(),
            )))?;
            if let Some(t) = b.test_qoe {
                chart.draw_series(std::iter::once(Text::new(
                    format!("{t:.2}"),
                    (x + width - 0.12, t + 0.01 * y_span),
                    legend_style(),
                )))?;
            }
        }
        for (i, r) in self.references.iter().enumerate() {
            let col = colour(i + 2);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, r.value), (n, r.value)],
                    12,
                    6,
                    ShapeStyle::from(col).stroke_width(2),
                ))?
                .label(format!("{} ({:.2})", r.label, r.value))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 28, y)], col.stroke_width(2))
                });
        }
        house_legend(
            &mut chart.configure_series_labels(),
            SeriesLabelPosition::UpperLeft,
            12,
        )
        .draw()?;
        Ok(())
    }
}

/// Draws what each training stage contributes: bars of the score after each stage (validation,
/// and test when given) with dashed reference lines (e.g. RobustMPC and the optimum), into
/// `<out_stem>.png` (1200x800) and `<out_stem>.svg`. Returns the paths, PNG first.
pub fn stage_chart(
    title: &str,
    bars: &[StageBar],
    references: &[Reference],
    out_stem: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    render_png_svg(
        &StageFigure {
            title: title.to_owned(),
            bars,
            references,
        },
        out_stem,
        STAGE_SIZE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_png_svg(paths: &[PathBuf]) {
        assert_eq!(paths.len(), 2);
        let png = std::fs::read(&paths[0]).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(std::fs::read_to_string(&paths[1]).unwrap().contains("<svg"));
    }

    #[test]
    fn robust_floor_ignores_a_far_outlier() {
        let mut v: Vec<f64> = (0..20).map(|i| i as f64).collect();
        v.push(-2600.0);
        let f = robust_floor(v.iter().copied());
        assert!(f > -30.0 && f < 2.0, "{f}");
        assert_eq!(robust_floor([3.0, 4.0].into_iter()), 3.0);
        assert_eq!(robust_floor(std::iter::empty()), f64::NEG_INFINITY);
    }

    #[test]
    fn curve_and_stage_charts_render_including_empty_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let pts: Vec<TrainingPoint> = (0..10)
            .map(|i| TrainingPoint {
                stage: if i < 5 { "dagger" } else { "ppo" }.into(),
                wall_s: i as f64 * 10.0,
                samples: i as f64 * 1000.0,
                val_qoe: 30.0 + i as f64,
            })
            .collect();
        let refs = [Reference {
            label: "optimum".into(),
            value: 50.0,
        }];
        is_png_svg(&training_curve_chart("t", &pts, &refs, &dir.path().join("c")).unwrap());
        is_png_svg(&training_curve_chart("t", &[], &[], &dir.path().join("e")).unwrap());
        let bars = [
            StageBar {
                stage: "imitation".into(),
                val_qoe: 12.0,
                test_qoe: Some(13.0),
            },
            StageBar {
                stage: "ppo".into(),
                val_qoe: -3.0,
                test_qoe: None,
            },
        ];
        is_png_svg(&stage_chart("s", &bars, &refs, &dir.path().join("s")).unwrap());
        is_png_svg(&stage_chart("s", &[], &[], &dir.path().join("s2")).unwrap());
    }
}

//! Per-session timeline: network throughput and chosen bitrate, buffer level with stalls, and
//! chosen level, in three stacked panels sharing the session-time axis ([`timeline_chart`]); and
//! the same stacked layout for plain series ([`panels_chart`], e.g. the real-time mode's capacity,
//! target, delivered rate, frame delay, resolution and fps).

use crate::render::{
    axis_desc_style, colour, house_legend, house_mesh, label_style, padded_range, render_png_svg,
    tick, title_style, y_top_with_legend, DrawResult, Figure, NETWORK_GREY,
};
use crate::ReportError;
use neuralstream_core::{ChunkRecord, Trace};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Pixel size of the timeline chart.
const SIZE: (u32, u32) = (1200, 1100);

/// Most points drawn for the network line; a longer (looping) session is sampled instead.
const MAX_TRACE_POINTS: usize = 100_000;

/// Width of the y label area, the same in every panel so that the x axes line up.
const Y_LABEL_AREA: u32 = 95;

/// One algorithm's session, with non-finite records dropped.
struct Session {
    name: String,
    records: Vec<ChunkRecord>,
}

/// Everything the timeline figure shows.
struct TimelineFigure {
    title: String,
    /// Session duration shown, seconds (> 0).
    t_end: f64,
    /// Network throughput as step-line points (session time s, Mbit/s).
    network: Vec<(f64, f64)>,
    sessions: Vec<Session>,
}

fn finite_record(r: &ChunkRecord) -> bool {
    [
        r.bitrate_kbps,
        r.buffer_s,
        r.rebuffer_s,
        r.sleep_ms,
        r.request_s,
        r.finish_s,
    ]
    .iter()
    .all(|v| v.is_finite())
}

/// Seconds the player slept after `r`'s download (never negative).
fn sleep_s(r: &ChunkRecord) -> f64 {
    (r.sleep_ms / 1000.0).max(0.0)
}

/// The throughput of `trace` over session time `[0, t_end]` as step-line points; the session
/// starts at trace time 0 and the trace loops. Empty for a trace with no usable samples.
fn network_steps(trace: &Trace, t_end: f64) -> Vec<(f64, f64)> {
    let n = trace.time_s.len().min(trace.bandwidth_mbps.len());
    if n < 2 {
        return vec![];
    }
    let t0 = trace.time_s[0];
    let d = trace.time_s[n - 1] - t0;
    if !(d.is_finite() && d > 0.0) {
        return vec![];
    }
    let bw = |i: usize| {
        let b = trace.bandwidth_mbps[i];
        if b.is_finite() {
            b.max(0.0)
        } else {
            0.0
        }
    };
    let loops = (t_end / d).ceil().max(1.0);
    if loops * n as f64 * 2.0 > MAX_TRACE_POINTS as f64 {
        // Too many steps to draw each: sample the throughput in force on a fine grid.
        let samples = MAX_TRACE_POINTS / 2;
        let mut pts = Vec::with_capacity(2 * samples);
        for k in 0..samples {
            let a = t_end * k as f64 / samples as f64;
            let b = t_end * (k + 1) as f64 / samples as f64;
            let t = (a + b) / 2.0;
            let tt = t.rem_euclid(d) + t0;
            let i = trace.time_s[..n]
                .partition_point(|&x| x < tt)
                .clamp(1, n - 1);
            pts.push((a, bw(i)));
            pts.push((b, bw(i)));
        }
        return pts;
    }
    let mut pts = Vec::new();
    let mut base = 0.0;
    loop {
        for i in 1..n {
            let a = base + trace.time_s[i - 1] - t0;
            let b = base + trace.time_s[i] - t0;
            if a >= t_end {
                return pts;
            }
            pts.push((a, bw(i)));
            pts.push((b.min(t_end), bw(i)));
            if b >= t_end {
                return pts;
            }
        }
        base += d;
    }
}

/// Chosen bitrate as step-line points (session time s, Mbit/s): each chunk's bitrate holds from
/// its request until the next request (the last one until its download finished).
fn bitrate_steps(records: &[ChunkRecord]) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(2 * records.len());
    for (i, r) in records.iter().enumerate() {
        let end = records.get(i + 1).map_or(r.finish_s, |next| next.request_s);
        let mbps = r.bitrate_kbps / 1000.0;
        pts.push((r.request_s, mbps));
        pts.push((end.max(r.request_s), mbps));
    }
    pts
}

/// Chosen level as step-line points, held like [`bitrate_steps`].
fn level_steps(records: &[ChunkRecord]) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(2 * records.len());
    for (i, r) in records.iter().enumerate() {
        let end = records.get(i + 1).map_or(r.finish_s, |next| next.request_s);
        pts.push((r.request_s, r.level as f64));
        pts.push((end.max(r.request_s), r.level as f64));
    }
    pts
}

/// The buffer level over time, reconstructed from the per-chunk log as a sawtooth: during a
/// download the buffer drains one second per second (down to 0, where playback stalls); when the
/// download finishes it jumps to `buffer_s + sleep`, then drains to `buffer_s` while the player
/// sleeps. Chunk 0 starts from an empty buffer.
fn buffer_points(records: &[ChunkRecord]) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(4 * records.len());
    let mut prev = 0.0_f64;
    for r in records {
        let sleep = sleep_s(r);
        let finish = r.finish_s.max(r.request_s);
        pts.push((r.request_s, prev));
        let drained = prev - (finish - r.request_s);
        if drained < 0.0 {
            pts.push((r.request_s + prev, 0.0));
            pts.push((finish, 0.0));
        } else {
            pts.push((finish, drained));
        }
        pts.push((finish, (r.buffer_s + sleep).max(0.0)));
        if sleep > 0.0 {
            pts.push((finish + sleep, r.buffer_s.max(0.0)));
        }
        prev = r.buffer_s.max(0.0);
    }
    pts
}

/// Stall intervals (start, end) in session time: each chunk's rebuffering ends when it arrives.
fn stalls(records: &[ChunkRecord]) -> Vec<(f64, f64)> {
    records
        .iter()
        .filter(|r| r.rebuffer_s > 0.0)
        .map(|r| (r.finish_s - r.rebuffer_s, r.finish_s))
        .collect()
}

impl TimelineFigure {
    fn new(trace: &Trace, sessions: &[(&str, &[ChunkRecord])]) -> Self {
        let sessions: Vec<Session> = sessions
            .iter()
            .map(|(name, recs)| Session {
                name: name.to_string(),
                records: recs.iter().filter(|r| finite_record(r)).copied().collect(),
            })
            .collect();
        let session_end = sessions
            .iter()
            .flat_map(|s| s.records.iter())
            .map(|r| r.finish_s + sleep_s(r))
            .fold(f64::NEG_INFINITY, f64::max);
        let trace_len = match (trace.time_s.first(), trace.time_s.last()) {
            (Some(a), Some(b)) if (b - a).is_finite() && b > a => b - a,
            _ => 0.0,
        };
        let t_end = if session_end.is_finite() && session_end > 0.0 {
            session_end
        } else if trace_len > 0.0 {
            trace_len
        } else {
            1.0
        };
        TimelineFigure {
            title: format!("Session timeline on trace {}", trace.name),
            t_end,
            network: network_steps(trace, t_end),
            sessions,
        }
    }

    /// Panel (a): network throughput (grey, filled) and each algorithm's chosen bitrate.
    fn draw_throughput<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let bitrates: Vec<Vec<(f64, f64)>> = self
            .sessions
            .iter()
            .map(|s| bitrate_steps(&s.records))
            .collect();
        let y_max = padded_range(
            self.network
                .iter()
                .chain(bitrates.iter().flatten())
                .map(|p| p.1)
                .chain([0.0]),
            0.0,
            (0.0, 1.0),
        )
        .1;
        let rows = self.sessions.len() + usize::from(!self.network.is_empty());
        let y_hi = y_top_with_legend(y_max, rows, area.dim_in_pixel().1.saturating_sub(50));
        let mut chart = ChartBuilder::on(area)
            .margin_left(20)
            .margin_right(30)
            .margin_top(10)
            .x_label_area_size(40)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(0.0..self.t_end, 0.0..y_hi)?;
        let t_end = self.t_end;
        house_mesh(
            chart
                .configure_mesh()
                .y_desc("Mbit/s")
                .x_labels(12)
                .y_labels(6)
                .x_label_formatter(&|v| tick(*v, t_end))
                .y_label_formatter(&|v| tick(*v, y_hi)),
        )
        .draw()?;
        if !self.network.is_empty() {
            let mut poly = self.network.clone();
            poly.push((self.network.last().map_or(0.0, |p| p.0), 0.0));
            poly.push((self.network[0].0, 0.0));
            chart.draw_series(std::iter::once(Polygon::new(
                poly,
                NETWORK_GREY.mix(0.18).filled(),
            )))?;
            chart
                .draw_series(LineSeries::new(
                    self.network.iter().copied(),
                    NETWORK_GREY.stroke_width(2),
                ))?
                .label("network throughput")
                .legend(|(x, y)| {
                    Rectangle::new(
                        [(x, y - 7), (x + 28, y + 7)],
                        NETWORK_GREY.mix(0.4).filled(),
                    )
                });
        }
        for (i, (s, pts)) in self.sessions.iter().zip(bitrates).enumerate() {
            let col = colour(i);
            chart
                .draw_series(LineSeries::new(pts, col.stroke_width(3)))?
                .label(format!("{}: bitrate", s.name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 28, y)], col.stroke_width(3))
                });
        }
        if !self.network.is_empty() || !self.sessions.is_empty() {
            house_legend(
                &mut chart.configure_series_labels(),
                SeriesLabelPosition::UpperRight,
                8,
            )
            .draw()?;
        }
        Ok(())
    }

    /// Panel (b): buffer level per algorithm, stalls shaded in the algorithm's colour.
    fn draw_buffer<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let buffers: Vec<Vec<(f64, f64)>> = self
            .sessions
            .iter()
            .map(|s| buffer_points(&s.records))
            .collect();
        let y_max = padded_range(
            buffers.iter().flatten().map(|p| p.1).chain([0.0]),
            0.0,
            (0.0, 1.0),
        )
        .1;
        let y_hi = y_top_with_legend(
            y_max,
            self.sessions.len(),
            area.dim_in_pixel().1.saturating_sub(50),
        );
        let mut chart = ChartBuilder::on(area)
            .margin_left(20)
            .margin_right(30)
            .margin_top(10)
            .x_label_area_size(40)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(0.0..self.t_end, 0.0..y_hi)?;
        let t_end = self.t_end;
        house_mesh(
            chart
                .configure_mesh()
                .y_desc("buffer (s)")
                .x_labels(12)
                .y_labels(6)
                .x_label_formatter(&|v| tick(*v, t_end))
                .y_label_formatter(&|v| tick(*v, y_hi)),
        )
        .draw()?;
        for (i, (s, pts)) in self.sessions.iter().zip(buffers).enumerate() {
            let col = colour(i);
            let st = stalls(&s.records);
            chart.draw_series(st.iter().map(|&(a, b)| {
                Rectangle::new([(a.max(0.0), 0.0), (b, y_hi)], col.mix(0.15).filled())
            }))?;
            // A solid bar on the time axis makes short stalls visible too.
            chart.draw_series(st.iter().map(|&(a, b)| {
                Rectangle::new([(a.max(0.0), 0.0), (b, y_hi * 0.03)], col.filled())
            }))?;
            let startup = s.records.first().map_or(0.0, |r| r.rebuffer_s.max(0.0));
            let later: Vec<f64> = s
                .records
                .iter()
                .skip(1)
                .map(|r| r.rebuffer_s)
                .filter(|&x| x > 0.0)
                .collect();
            chart
                .draw_series(LineSeries::new(pts, col.stroke_width(2)))?
                .label(format!(
                    "{}: startup {:.1} s, stalls (shaded): {}, {:.1} s",
                    s.name,
                    startup,
                    later.len(),
                    later.iter().fold(0.0, |a, b| a + b)
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 28, y)], col.stroke_width(3))
                });
        }
        if !self.sessions.is_empty() {
            house_legend(
                &mut chart.configure_series_labels(),
                SeriesLabelPosition::UpperRight,
                8,
            )
            .draw()?;
        }
        Ok(())
    }

    /// Panel (c): chosen level index per algorithm; carries the shared x-axis description.
    fn draw_levels<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let max_level = self
            .sessions
            .iter()
            .flat_map(|s| s.records.iter())
            .map(|r| r.level)
            .max()
            .unwrap_or(0)
            .min(1000) as f64;
        let mut chart = ChartBuilder::on(area)
            .margin_left(20)
            .margin_right(30)
            .margin_top(10)
            .margin_bottom(10)
            .x_label_area_size(70)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(0.0..self.t_end, -0.5..max_level + 0.5)?;
        let t_end = self.t_end;
        chart
            .configure_mesh()
            .x_desc("session time (s)")
            .y_desc("level")
            .x_labels(12)
            .y_labels(max_level as usize + 2)
            .x_label_formatter(&|v| tick(*v, t_end))
            .y_label_formatter(&|v| {
                if (v - v.round()).abs() < 1e-6 && *v >= 0.0 {
                    format!("{:.0}", v)
                } else {
                    String::new()
                }
            })
            .label_style(label_style())
            .axis_desc_style(axis_desc_style())
            .bold_line_style(BLACK.mix(0.12))
            .light_line_style(BLACK.mix(0.0))
            .draw()?;
        for (i, s) in self.sessions.iter().enumerate() {
            chart.draw_series(LineSeries::new(
                level_steps(&s.records),
                colour(i).stroke_width(3),
            ))?;
        }
        Ok(())
    }
}

impl Figure for TimelineFigure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = root
            .margin(12, 0, 0, 0)
            .titled(&self.title, title_style())?;
        let h = area.dim_in_pixel().1 as i32;
        let (top, rest) = area.split_vertically(h * 42 / 100);
        let (middle, bottom) = rest.split_vertically(h * 31 / 100);
        self.draw_throughput(&top)?;
        self.draw_buffer(&middle)?;
        self.draw_levels(&bottom)?;
        Ok(())
    }
}

/// Draws the timeline of one or more sessions played over `trace` into `<out_stem>.png`
/// (1200x1100 pixels) and `<out_stem>.svg`, creating the folder if needed.
///
/// `sessions` holds `(algorithm name, per-chunk log)` pairs. Three stacked panels share the
/// x axis, session time in seconds (0 to the end of the longest session, or one loop of the
/// trace when there are no chunks):
///
/// - (a) the trace's network throughput (grey filled step line; the session starts at trace
///   time 0 and the trace loops, as in test mode) and each algorithm's chosen bitrate (step line,
///   held from a chunk's request to the next request), Mbit/s;
/// - (b) each algorithm's buffer level, seconds, reconstructed from the log as a sawtooth
///   (draining during downloads, jumping up when a chunk arrives, draining while the player
///   sleeps), with stalls shaded in the algorithm's colour and marked on the time axis; the
///   legend gives startup delay and later stalls;
/// - (c) each algorithm's chosen level index.
///
/// The title names the trace. Records with non-finite fields are skipped. Returns the paths
/// written, PNG first.
pub fn timeline_chart(
    trace: &Trace,
    sessions: &[(&str, &[ChunkRecord])],
    out_stem: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    render_png_svg(&TimelineFigure::new(trace, sessions), out_stem, SIZE)
}

/// One panel of [`panels_chart`]: a y-axis description, an optional grey filled reference (such
/// as the link's capacity) and lines, each `(name, points)` with points `(x, y)` in x order
/// (repeat an x to draw a step).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Panel {
    /// y-axis description, with units.
    pub y_desc: String,
    /// Drawn first, grey and filled down to 0: `(name, points)`.
    pub area: Option<(String, Vec<(f64, f64)>)>,
    /// Lines in the palette's colours, in order.
    pub lines: Vec<(String, Vec<(f64, f64)>)>,
}

/// Plain series in stacked panels sharing the x axis.
struct PanelsFigure<'a> {
    title: &'a str,
    x_desc: &'a str,
    panels: &'a [Panel],
    x_end: f64,
}

impl PanelsFigure<'_> {
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
        last: bool,
    ) -> DrawResult<DB> {
        let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
        let all = panel
            .area
            .iter()
            .flat_map(|a| a.1.iter())
            .chain(panel.lines.iter().flat_map(|l| l.1.iter()))
            .filter(finite);
        let y_max = padded_range(all.map(|p| p.1).chain([0.0]), 0.0, (0.0, 1.0)).1;
        let rows = panel.lines.len() + usize::from(panel.area.is_some());
        let y_hi = y_top_with_legend(y_max, rows, area.dim_in_pixel().1.saturating_sub(50));
        let mut chart = ChartBuilder::on(area)
            .margin_left(20)
            .margin_right(30)
            .margin_top(10)
            .margin_bottom(if last { 10 } else { 0 })
            .x_label_area_size(if last { 70 } else { 40 })
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(0.0..self.x_end, 0.0..y_hi)?;
        let x_end = self.x_end;
        let x_fmt = |v: &f64| tick(*v, x_end);
        let y_fmt = |v: &f64| tick(*v, y_hi);
        let mut mesh = chart.configure_mesh();
        house_mesh(
            mesh.y_desc(&panel.y_desc)
                .x_labels(12)
                .y_labels(5)
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt),
        );
        if last {
            mesh.x_desc(self.x_desc);
        }
        mesh.draw()?;
        if let Some((name, pts)) = &panel.area {
            let pts: Vec<(f64, f64)> = pts.iter().filter(finite).copied().collect();
            if let (Some(first), Some(end)) = (pts.first(), pts.last()) {
                let mut poly = pts.clone();
                poly.push((end.0, 0.0));
                poly.push((first.0, 0.0));
                chart.draw_series(std::iter::once(Polygon::new(
                    poly,
                    NETWORK_GREY.mix(0.18).filled(),
                )))?;
            }
            chart
                .draw_series(LineSeries::new(pts, NETWORK_GREY.stroke_width(2)))?
                .label(name.as_str())
                .legend(|(x, y)| {
                    Rectangle::new(
                        [(x, y - 7), (x + 28, y + 7)],
                        NETWORK_GREY.mix(0.4).filled(),
                    )
                });
        }
        for (i, (name, pts)) in panel.lines.iter().enumerate() {
            let col = colour(i);
            chart
                .draw_series(LineSeries::new(
                    pts.iter().filter(finite).copied(),
                    col.stroke_width(2),
                ))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 28, y)], col.stroke_width(3))
                });
        }
        if rows > 0 {
            house_legend(
                &mut chart.configure_series_labels(),
                SeriesLabelPosition::UpperRight,
                8,
            )
            .draw()?;
        }
        Ok(())
    }
}

impl Figure for PanelsFigure<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let area = root.margin(12, 0, 0, 0).titled(self.title, title_style())?;
        if self.panels.is_empty() {
            return Ok(());
        }
        let n = self.panels.len() as u32;
        let h = area.dim_in_pixel().1;
        // Equal panels, the last one taller by its x-axis labels and description.
        let unit = h.saturating_sub(30) / n;
        let mut rest = area;
        for (i, panel) in self.panels.iter().enumerate() {
            let last = i + 1 == self.panels.len();
            if last {
                self.draw_panel(&rest, panel, true)?;
            } else {
                let (top, below) = rest.split_vertically(unit);
                self.draw_panel(&top, panel, false)?;
                rest = below;
            }
        }
        Ok(())
    }
}

/// Draws `panels` stacked top to bottom, sharing the x axis from 0 to the largest finite x of any
/// series (1 if none), into `<out_stem>.png` and `<out_stem>.svg` (1200 pixels wide, 300 pixels
/// per panel), creating the folder if needed. Each panel has its own y axis from 0 and a legend;
/// the last carries `x_desc`. Non-finite points are skipped; an empty panel draws empty axes.
/// Returns the paths written, PNG first.
pub fn panels_chart(
    title: &str,
    x_desc: &str,
    panels: &[Panel],
    out_stem: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let x_end = panels
        .iter()
        .flat_map(|p| {
            p.area
                .iter()
                .map(|a| &a.1)
                .chain(p.lines.iter().map(|l| &l.1))
        })
        .flatten()
        .map(|p| p.0)
        .filter(|x| x.is_finite())
        .fold(0.0_f64, f64::max);
    let fig = PanelsFigure {
        title,
        x_desc,
        panels,
        x_end: if x_end > 0.0 { x_end } else { 1.0 },
    };
    let height = 100 + 300 * panels.len().clamp(1, 12) as u32;
    render_png_svg(&fig, out_stem, (1200, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_of_plain_series_render() {
        let dir = tempfile::tempdir().unwrap();
        let panels = vec![
            Panel {
                y_desc: "Mbit/s".into(),
                area: Some((
                    "capacity".into(),
                    vec![(0.0, 2.0), (1.0, 2.0), (1.0, 0.5), (3.0, 0.5)],
                )),
                lines: vec![
                    ("target".into(), vec![(0.0, 0.3), (2.0, 1.0)]),
                    ("delivered".into(), vec![(0.5, 0.2), (2.5, f64::NAN)]),
                ],
            },
            Panel {
                y_desc: "frame delay (ms)".into(),
                area: None,
                lines: vec![("frame delay".into(), vec![(0.1, 60.0), (2.9, 400.0)])],
            },
            Panel::default(),
        ];
        let paths = panels_chart(
            "Session on t",
            "session time (s)",
            &panels,
            &dir.path().join("tl"),
        )
        .unwrap();
        assert_png_svg(&paths);
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        for text in [
            "capacity",
            "delivered",
            "frame delay (ms)",
            "session time (s)",
        ] {
            assert!(svg.contains(text), "{text}");
        }
        // No series at all still draws.
        assert_png_svg(&panels_chart("empty", "x", &[], &dir.path().join("e")).unwrap());
    }

    fn rec(
        index: usize,
        level: usize,
        request_s: f64,
        finish_s: f64,
        buffer_s: f64,
    ) -> ChunkRecord {
        ChunkRecord {
            index,
            level,
            bitrate_kbps: [300.0, 750.0, 1200.0][level],
            size_bytes: 100_000,
            delay_ms: (finish_s - request_s) * 1000.0,
            sleep_ms: 0.0,
            rebuffer_s: 0.0,
            buffer_s,
            request_s,
            finish_s,
        }
    }

    fn trace() -> Trace {
        Trace::new("t1", vec![0.0, 1.0, 3.0], vec![0.0, 2.0, 0.5]).unwrap()
    }

    fn assert_png_svg(paths: &[PathBuf]) {
        assert_eq!(paths.len(), 2);
        let png = std::fs::read(&paths[0]).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("<svg"));
    }

    #[test]
    fn network_steps_loop_over_the_trace() {
        let pts = network_steps(&trace(), 5.0);
        assert_eq!(
            pts,
            vec![
                (0.0, 2.0),
                (1.0, 2.0),
                (1.0, 0.5),
                (3.0, 0.5),
                (3.0, 2.0),
                (4.0, 2.0),
                (4.0, 0.5),
                (5.0, 0.5)
            ]
        );
        // Agrees with Trace::bandwidth_at away from the steps.
        let t = trace();
        for w in pts.chunks(2) {
            let mid = (w[0].0 + w[1].0) / 2.0;
            assert_eq!(t.bandwidth_mbps_at(mid), w[0].1);
        }
        // A very long session is sampled, not drawn step by step.
        assert!(network_steps(&t, 1e7).len() <= MAX_TRACE_POINTS);
    }

    #[test]
    fn buffer_sawtooth_drains_and_stalls() {
        let mut a = rec(0, 0, 0.0, 1.0, 4.0);
        a.rebuffer_s = 1.0;
        let mut b = rec(1, 1, 1.0, 7.0, 4.0);
        b.rebuffer_s = 2.0;
        let pts = buffer_points(&[a, b]);
        assert_eq!(
            pts,
            vec![
                (0.0, 0.0),
                (0.0, 0.0),
                (1.0, 0.0),
                (1.0, 4.0),
                (1.0, 4.0),
                (5.0, 0.0),
                (7.0, 0.0),
                (7.0, 4.0)
            ]
        );
        assert_eq!(stalls(&[a, b]), vec![(0.0, 1.0), (5.0, 7.0)]);
    }

    #[test]
    fn writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let bb = [rec(0, 0, 0.0, 1.0, 4.0), rec(1, 2, 1.0, 2.5, 6.5)];
        let mut mpc = [rec(0, 1, 0.0, 2.0, 4.0), rec(1, 1, 2.0, 8.0, 4.0)];
        mpc[1].rebuffer_s = 2.0;
        mpc[1].sleep_ms = 500.0;
        let paths = timeline_chart(
            &trace(),
            &[("bb", &bb), ("mpc", &mpc)],
            &dir.path().join("tl"),
        )
        .unwrap();
        assert_png_svg(&paths);
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("t1") && svg.contains("session time (s)"));
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let t = trace();
        assert_png_svg(&timeline_chart(&t, &[], &dir.path().join("none")).unwrap());
        assert_png_svg(&timeline_chart(&t, &[("bb", &[])], &dir.path().join("empty")).unwrap());
        let one = [rec(0, 0, 0.0, 0.0, 0.0)];
        assert_png_svg(&timeline_chart(&t, &[("bb", &one)], &dir.path().join("zero")).unwrap());
        let mut nan = rec(0, 0, 0.0, 1.0, 4.0);
        nan.finish_s = f64::NAN;
        assert_png_svg(&timeline_chart(&t, &[("bb", &[nan])], &dir.path().join("nan")).unwrap());
        // A trace built without validation (fields are public).
        let bad = Trace {
            name: "bad".into(),
            time_s: vec![],
            bandwidth_mbps: vec![],
        };
        assert_png_svg(&timeline_chart(&bad, &[("bb", &one)], &dir.path().join("bad")).unwrap());
    }
}

//! Tables and charts of NeuralStream results: plain-text and Markdown summary tables, the CDF of
//! per-trace QoE, a per-session timeline (throughput, chosen bitrate, buffer, level), training
//! charts, a heat-map of shares over a grid (the generalisation report), each player's bitrate
//! on a shared link, and the evaluation report of sessions ([`evaluation`]: quality, latency,
//! buffering, QoE and a user-satisfaction estimate per session, per algorithm and per network
//! class, from telemetry or bench results).
//!
//! Key design decisions:
//!
//! - **Pure-Rust rendering, no system libraries.** Charts are drawn with `plotters` into PNG
//!   (bitmap backend) and SVG files. Text is rasterised with `ab_glyph` from a font embedded in
//!   the binary (DejaVu Sans, `assets/DejaVuSans.ttf`, licence in `assets/LICENSE-DejaVu.txt`),
//!   so rendering works the same on a bare CI machine with no fontconfig or freetype.
//! - **Results in, files out.** Every function takes finished results (the
//!   [`neuralstream_core::BenchResults`] of a run, or a trace and the per-chunk
//!   [`neuralstream_core::ChunkRecord`] logs of sessions) and writes a string or files. This
//!   crate never depends on the simulator or on the algorithms, so reports can be redrawn from
//!   saved results without rerunning anything.
//! - **Robust to odd inputs.** Empty inputs, a single algorithm, constant values, negative QoE
//!   and non-finite numbers all produce a (possibly empty) chart rather than a panic.

#![warn(missing_docs)]

mod cdf;
pub mod evaluation;
mod heatmap;
mod render;
mod shared_link;
mod table;
mod timeline;
mod training;

use std::path::PathBuf;

pub use cdf::{cdf_chart, qoe_cdf_chart};
pub use heatmap::{heatmap_chart, HeatMap};
pub use shared_link::{shared_link_chart, PlayerSeries};
pub use table::{summary_legend, summary_markdown, summary_table};
pub use timeline::{panels_chart, timeline_chart, Panel};
pub use training::{stage_chart, training_curve_chart, Reference, StageBar, TrainingPoint};

/// Why a chart or report could not be written, or its input read. Every variant names the file
/// concerned.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The folder that should hold the output file could not be created.
    #[error("cannot create the folder for {path}: {source}")]
    CreateDir {
        /// The output file whose folder was being created.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Drawing or writing the chart failed (an I/O error, an encoder error, a font problem).
    #[error("cannot draw {path}: {message}")]
    Draw {
        /// The output file being written.
        path: PathBuf,
        /// What the drawing backend reported.
        message: String,
    },
    /// A text output file (table, JSON) could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An input file (a results folder's `chunks.csv`) could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The input file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An input file holds something the report cannot use.
    #[error("{path}, line {line}: {problem}")]
    Input {
        /// The input file.
        path: PathBuf,
        /// 1-based line (0: the file as a whole).
        line: usize,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// The embedded font could not be loaded (it is checked by this crate's tests).
    #[error("cannot draw {path}: the embedded font could not be loaded")]
    Font {
        /// The output file being written.
        path: PathBuf,
    },
}

//! # neuralstream-data
//!
//! Turns files into validated [`Trace`]s and [`Video`]s, and makes synthetic ones when no file is given.
//!
//! **Key design decision:** every loader reports errors for people: a [`DataError`] always names the
//! file, and the line (or JSON line and column) where the problem is, and says what would fix it. The
//! crate never panics on input. Formats:
//!
//! * traces: Pensieve "cooked" text (`time_s <tab> Mbit/s` per line), Mahimahi packet-delivery traces
//!   (one millisecond timestamp per 1500-byte delivery opportunity), or a folder of either;
//! * videos: Pensieve's folder of `video_size_0..N` files, or NeuralStream's JSON descriptor
//!   (see [`descriptor`]);
//! * synthetic: a seeded regime-switching trace generator ([`synthetic::TraceGenerator`]) and a
//!   built-in VBR video ([`synthetic::builtin_video`]).

pub mod descriptor;
pub mod error;
pub mod synthetic;
pub mod traces;
pub mod videos;

pub use error::DataError;
pub use neuralstream_core::{Trace, Video};
pub use traces::{load_trace, load_traces, TraceFormat};
pub use videos::load_video;

/// Finds the project's shared data folder (`.../shared/data`) beside an ancestor of `start`, or from
/// the `NEURALSTREAM_SHARED` environment variable (the folder that holds `data/` and `reference/`).
pub fn find_shared_dir(start: &std::path::Path) -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("NEURALSTREAM_SHARED") {
        let p = std::path::PathBuf::from(p);
        return p.join("data").is_dir().then_some(p);
    }
    start
        .ancestors()
        .map(|a| a.join("shared"))
        .find(|s| s.join("data/pensieve/sim").is_dir())
}

/// Loads one of Pensieve's trace sets (`set` is a folder under `shared/data/pensieve/sim`, e.g.
/// `"cooked_test_traces"`) together with Pensieve's video, from the shared folder `shared`.
pub fn load_pensieve_set(
    shared: &std::path::Path,
    set: &str,
) -> Result<(Vec<Trace>, Video), DataError> {
    let sim = shared.join("data/pensieve/sim");
    Ok((
        load_traces(&sim.join(set), TraceFormat::Cooked)?,
        load_video(&sim)?,
    ))
}

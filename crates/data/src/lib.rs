//! # neuralstream-data
//!
//! Turns files into validated [`Trace`]s and [`Video`]s, and makes synthetic ones when no file is given.
//!
//! **Key design decision:** every loader reports errors for people: a [`DataError`] always names the
//! file, and the line (or JSON line and column) where the problem is, and says what would fix it. The
//! crate never panics on input, and reads files line by line with bounded lines and file sizes
//! ([`lines`]), so neither memory nor a message grows with a wrong file. Formats:
//!
//! * traces: Pensieve "cooked" text (`time_s <tab> Mbit/s` per line), Mahimahi packet-delivery traces
//!   (one millisecond timestamp per 1500-byte delivery opportunity), or a folder of either;
//! * videos: Pensieve's folder of `video_size_0..N` files, or NeuralStream's JSON descriptor
//!   (see [`descriptor`]);
//! * synthetic: a seeded regime-switching trace generator ([`synthetic::TraceGenerator`]) and a
//!   built-in VBR video ([`synthetic::builtin_video`]).

pub mod descriptor;
pub mod error;
pub mod lines;
pub mod synthetic;
pub mod traces;
pub mod videos;

pub use error::DataError;
pub use lines::{excerpt, MAX_INPUT_FILE_BYTES, MAX_LINE_BYTES};
pub use neuralstream_core::{Trace, Video};
pub use traces::{load_trace, load_traces, read_trace, TraceFormat};
pub use videos::load_video;

/// `text` without a leading UTF-8 byte-order mark (some editors write one; it is not part of the
/// first number or of JSON).
pub(crate) fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// Finds the project's shared folder (`.../shared`, which holds `data/` and `reference/`) beside an
/// ancestor of `start`, or from the `NEURALSTREAM_SHARED` environment variable (naming that folder).
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

/// [`find_shared_dir`] for tests: `None` lets a test skip on a machine without the shared folder,
/// unless `NEURALSTREAM_REQUIRE_SHARED` is set (CI sets it), where a missing folder fails the test
/// instead of letting the golden tests pass by skipping.
///
/// # Panics
/// When the folder is missing and `NEURALSTREAM_REQUIRE_SHARED` is set to anything but `0`.
pub fn shared_dir_for_tests(start: &std::path::Path) -> Option<std::path::PathBuf> {
    let found = find_shared_dir(start);
    let required = std::env::var_os("NEURALSTREAM_REQUIRE_SHARED").is_some_and(|v| v != "0");
    if found.is_none() && required {
        panic!(
            "NEURALSTREAM_REQUIRE_SHARED is set but no shared folder (with data/pensieve/sim) was found \
             beside an ancestor of {}; put it there or point NEURALSTREAM_SHARED at it",
            start.display()
        );
    }
    found
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

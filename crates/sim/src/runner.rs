//! Drives a [`Session`] with an [`Abr`] algorithm, Pensieve's control loop.

use crate::config::{SimConfig, StartPosition};
use crate::session::Session;
use crate::SimError;
use neuralstream_core::{Abr, ChunkRecord, Decision, Observation, Rng, Trace, Video};

/// What a session produced: one record and one decision per chunk.
#[derive(Debug, Clone, Default)]
pub struct SessionLog {
    /// Per-chunk results, in download order.
    pub records: Vec<ChunkRecord>,
    /// `decisions[k]` chose the level of chunk `k` (chunk 0: the start-up rule when fixed).
    pub decisions: Vec<Decision>,
}

impl SessionLog {
    /// Empties the log, keeping its allocation.
    pub fn clear(&mut self) {
        self.records.clear();
        self.decisions.clear();
    }
}

/// Plays one session: chunk 0 at the start-up level, then each next level chosen by `abr` after it
/// sees the previous download (Pensieve's loop). Calls `abr.reset()` first. Appends to `log`
/// after clearing it.
pub fn run_session(
    cfg: &SimConfig,
    trace: &Trace,
    video: &Video,
    abr: &mut dyn Abr,
    start: StartPosition,
    noise_rng: Option<Rng>,
    log: &mut SessionLog,
) -> Result<(), SimError> {
    log.clear();
    cfg.validate()?;
    let mut session = Session::new(cfg, trace, video, start, noise_rng);
    let total = session.total_chunks();
    log.records.reserve(total);
    log.decisions.reserve(total);
    abr.reset();
    let levels = video.num_levels();
    let startup = cfg.startup_level.map(|l| l.min(levels - 1));
    let mut last_level = startup.unwrap_or(0);
    while !session.is_done() {
        let chunk = session.next_chunk();
        let decision = match (chunk, startup) {
            (0, Some(l)) => Decision::level(l),
            _ => abr.choose(&Observation {
                video,
                next_chunk: chunk,
                total_chunks: total,
                buffer_s: session.buffer_s(),
                last_level,
                history: &log.records,
            }),
        };
        if decision.level >= levels {
            return Err(SimError::InvalidLevel {
                abr: abr.name(),
                level: decision.level,
                chunk,
                levels,
            });
        }
        let rec = session.step(decision.level)?;
        last_level = rec.level;
        log.records.push(rec);
        log.decisions.push(decision);
    }
    abr.session_finished(&Observation {
        video,
        next_chunk: total,
        total_chunks: total,
        buffer_s: session.buffer_s(),
        last_level,
        history: &log.records,
    });
    Ok(())
}

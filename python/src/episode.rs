//! One streaming session as an RL episode: Pensieve's control loop (`run_session`) turned inside
//! out, so that the agent makes each decision. Shared by the single and the vector environment.
//!
//! Reset plays chunk 0 at the simulator's start-up level without asking the agent (Pensieve's
//! `DEFAULT_QUALITY`; `bench` does the same), so every action is the level of chunk `k >= 1` and
//! its reward is that chunk's QoE term. The rewards of chunks `skip_chunks..` sum, in the same
//! order, to the QoE `bench` reports for the session.

use crate::inputs::World;
use neuralstream_core::{ChunkRecord, Observation, Rng};
use neuralstream_sim::{Session, SimError, StartPosition};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The state of one episode over `World`'s data.
#[derive(Debug)]
pub struct Episode<'a> {
    /// The simulator.
    pub session: Session<'a>,
    /// This episode's downloads, chunk 0 first.
    pub records: Vec<ChunkRecord>,
    /// Level of the last download (the start-up level before any).
    pub last_level: usize,
    /// Index of the trace in `World::traces`.
    pub trace_index: usize,
    /// Unscaled QoE of chunks `skip_chunks..` so far.
    pub qoe: f64,
    /// False until the first reset, and after the episode's last chunk.
    pub active: bool,
    /// Distinct for every episode started in this process (algorithms reset on a new one).
    pub serial: u64,
}

/// Serial numbers of episodes.
static EPISODES: AtomicU64 = AtomicU64::new(1);

/// Why an episode could not go on (message for Python).
pub type StepError = String;

impl<'a> Episode<'a> {
    /// An inactive placeholder on trace 0 (before the first reset).
    pub fn idle(world: &'a World) -> Self {
        Episode {
            session: Session::new(
                &world.sim,
                &world.traces[0],
                &world.video,
                StartPosition::Beginning,
                None,
            ),
            records: Vec::new(),
            last_level: 0,
            trace_index: 0,
            qoe: 0.0,
            active: false,
            serial: 0,
        }
    }

    /// Starts an episode on trace `trace_index` (or a random one from `rng`), at its beginning in
    /// test mode or at a random sample in training mode, and plays chunk 0 at the start-up level.
    pub fn start(
        world: &'a World,
        trace_index: Option<usize>,
        rng: &mut Rng,
    ) -> Result<Self, StepError> {
        let n = world.traces.len();
        let trace_index = match trace_index {
            Some(i) if i < n => i,
            Some(i) => {
                return Err(format!(
                    "options trace_index={i} is out of range: there are {n} traces (0..{})",
                    n - 1
                ))
            }
            None => rng.below(n),
        };
        let trace = &world.traces[trace_index];
        let start = if world.random_start && trace.len() > 1 {
            StartPosition::Sample(1 + rng.below(trace.len() - 1))
        } else {
            StartPosition::Beginning
        };
        let noise = Rng::new(rng.next_u64());
        let session = Session::new(&world.sim, trace, &world.video, start, Some(noise));
        let levels = world.video.num_levels();
        let startup = world.sim.startup_level.map(|l| l.min(levels - 1));
        let mut ep = Episode {
            records: Vec::with_capacity(session.total_chunks()),
            session,
            last_level: startup.unwrap_or(0),
            trace_index,
            qoe: 0.0,
            active: true,
            serial: EPISODES.fetch_add(1, Ordering::Relaxed),
        };
        if let Some(level) = startup {
            ep.play(world, level)?;
        }
        Ok(ep)
    }

    /// What a player knows before choosing the next chunk (algorithms' and features' input).
    pub fn observation(&self, world: &'a World) -> Observation<'_> {
        Observation {
            video: &world.video,
            next_chunk: self.session.next_chunk(),
            total_chunks: self.session.total_chunks(),
            buffer_s: self.session.buffer_s(),
            last_level: self.last_level,
            history: &self.records,
        }
    }

    /// True when every chunk has been played.
    pub fn is_done(&self) -> bool {
        self.session.is_done()
    }

    /// Downloads the next chunk at `level`; returns its unscaled reward.
    pub fn play(&mut self, world: &World, level: usize) -> Result<f64, StepError> {
        let rec = self.session.step(level).map_err(|e| match e {
            SimError::NoSuchLevel { levels, .. } => format!(
                "action {level} is not a level: the video '{}' has {levels} levels (actions 0..{})",
                world.video.name,
                levels - 1
            ),
            other => other.to_string(),
        })?;
        let prev = self.records.last().unwrap_or(&rec);
        let reward =
            world
                .compiled
                .reward_at(rec.index, rec.level, prev.index, prev.level, rec.rebuffer_s);
        if rec.index >= world.skip_chunks {
            self.qoe += reward;
        }
        self.last_level = rec.level;
        self.records.push(rec);
        if self.session.is_done() {
            self.active = false;
        }
        Ok(reward)
    }

    /// Writes the feature vector of the current observation into `out`.
    pub fn write_features(&self, world: &'a World, out: &mut [f32]) {
        world.spec.write(&self.observation(world), out);
    }
}

self_cell::self_cell!(
    /// A [`World`] with one episode borrowing it (the single environment's state).
    pub struct EpisodeCell {
        owner: Arc<World>,
        #[covariant]
        dependent: Episode,
    }
);

impl std::fmt::Debug for EpisodeCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpisodeCell")
    }
}

/// The episodes of a vector environment.
pub type Episodes<'a> = Vec<Episode<'a>>;

self_cell::self_cell!(
    /// A [`World`] with many episodes borrowing it (the vector environment's state).
    pub struct EpisodesCell {
        owner: Arc<World>,
        #[covariant]
        dependent: Episodes,
    }
);

impl std::fmt::Debug for EpisodesCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpisodesCell")
    }
}

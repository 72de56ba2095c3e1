//! The offline optimum as a forward dynamic program over the exact simulator, with state merging.
//!
//! # The search
//!
//! A *state* is the simulator after some chunks (a cloned [`Session`]: trace pointer and clock,
//! buffer, session clock, chunk index), plus the level of the last chunk (the next chunk's
//! smoothness term depends on it) and the QoE accumulated so far. Nothing else influences the
//! future: the trace is known and the test-mode simulator is deterministic. (In training mode the
//! delay noise comes from the session's own seeded generator, which is cloned with it and draws once
//! per chunk whatever the level, so the search is exact there too, for that seed.)
//!
//! Stage `k` holds the states after chunks `0..k`. Each is expanded by every level of chunk `k`
//! (only the start-up level for chunk 0 when the configuration fixes it) by stepping a copy of its
//! session: the very simulator the runner uses, so no transition is approximated.
//!
//! # Merging
//!
//! Without merging the states grow as `levels^k`. After each stage the children are grouped into
//! *buckets* by (last level, `floor(buffer / buffer_bucket_s)`). Inside a bucket the states still
//! differ in two ways that matter: the score they have banked and how far the session clock (and
//! with it the trace) has moved. Having banked more is better; being earlier is better too (the
//! same buffer reached sooner means less time stalled or more of the trace still ahead at the same
//! playback point). So each bucket keeps the *Pareto front* of its states on (score: higher is
//! better, session clock: earlier is better): a child is dropped when a kept state scores at least
//! as much and is no later than `clock_tolerance_s` after it, and it evicts the kept states it beats
//! that way. The front is small (a handful of states), so a stage holds a few thousand states.
//! The session clock rather than the trace clock is compared because it never wraps when the trace
//! loops; at a given chunk in test mode the two differ by a constant (one RTT per chunk).
//!
//! Neither rule is an exact dominance (the trace ahead of two states differs), which is why this is
//! a heuristic search; but merging can only *drop* candidates, never invent them. The winning level
//! sequence is rebuilt from parent links, replayed through a fresh [`Session`] and scored with
//! [`CompiledQoe::score`], so [`Plan::qoe`] is exactly what the runner reports for it: an
//! *achievable* value, a lower bound on the true optimum, never an optimistic estimate.
//!
//! A beam cap ([`OptimumParams::max_states_per_chunk`]: keep only the best-scoring states of an
//! over-full stage) bounds the time on pathological inputs; it does not bind on Pensieve's traces.
//!
//! # Cost
//!
//! Per chunk: (surviving states) x (levels) simulator steps, each with one hash-map probe and a scan
//! of a short front. With the defaults a 48-chunk Pensieve session takes about 0.15 s on one core.

use crate::OptimumError;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{ChunkRecord, Trace, Video};
use neuralstream_sim::{Session, SimConfig, StartPosition};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Search parameters: how coarsely states are merged.
///
/// The defaults were tuned on Pensieve's 142 test and 127 training traces: with them the plans
/// match (to the file's 1e-6 rounding) or beat, trace by trace, the sequences of an independently
/// computed DP (`reference/offline_optimum_per_trace.csv`; mean QoE_lin 54.026 on the test set, 39.130 on the
/// training set), beat every reference scheme on every trace, and take 0.05 to 0.4 s per trace.
/// Results were identical for buffer buckets from 0.1 s to 1 s; 0.25 s keeps a margin.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimumParams {
    /// Width of a buffer bucket, seconds: states whose buffers fall in the same bucket (and whose
    /// last levels agree) compete in one Pareto front. Smaller is closer to exact and slower.
    /// Default 0.25 s.
    pub buffer_bucket_s: f64,
    /// Slack of the front's clock comparison, seconds: a kept state with at least the score
    /// dominates a state up to this much *earlier* than itself. 0 keeps the exact Pareto front;
    /// larger prunes more. Default 0 s.
    pub clock_tolerance_s: f64,
    /// Most states kept after any chunk (the best-scoring ones). Default 100 000.
    pub max_states_per_chunk: usize,
}

impl Default for OptimumParams {
    fn default() -> Self {
        OptimumParams {
            buffer_bucket_s: 0.25,
            clock_tolerance_s: 0.0,
            max_states_per_chunk: 100_000,
        }
    }
}

impl OptimumParams {
    /// Checks every parameter's domain.
    fn validate(&self) -> Result<(), OptimumError> {
        if !(self.buffer_bucket_s.is_finite() && self.buffer_bucket_s > 0.0) {
            return Err(OptimumError::InvalidParams(format!(
                "buffer_bucket_s must be finite and positive, got {}",
                self.buffer_bucket_s
            )));
        }
        if !(self.clock_tolerance_s.is_finite() && self.clock_tolerance_s >= 0.0) {
            return Err(OptimumError::InvalidParams(format!(
                "clock_tolerance_s must be finite and non-negative, got {}",
                self.clock_tolerance_s
            )));
        }
        if self.max_states_per_chunk == 0 {
            return Err(OptimumError::InvalidParams(
                "max_states_per_chunk must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// A level schedule for one session and the QoE it achieves.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Level of every chunk the session plays, chunk 0 first (chunk 0 is the start-up level when
    /// the configuration fixes it).
    pub levels: Vec<usize>,
    /// QoE of the schedule replayed through the simulator: the sum of per-chunk rewards over chunks
    /// `skip_chunks..`, exactly as [`CompiledQoe::score`] computes it.
    pub qoe: f64,
}

/// Finds the best level schedule for one session of `video` over `trace` (started at the trace's
/// beginning, as in Pensieve's test mode), maximising the QoE summed over chunks `skip_chunks..`
/// (Pensieve scores with `skip_chunks = 1`).
///
/// The plan is computed with the exact simulator and replayed before it is returned, so
/// `plan.qoe` is what [`neuralstream_sim::run_session`] with [`crate::PlannedAbr`] scores. Because
/// states are merged (see the module docs) it is an achievable value: a lower bound on the true
/// optimum. A session with no chunks gets an empty plan worth 0.
///
/// # Errors
/// [`OptimumError::Sim`] when the simulator fails (a trace that cannot deliver a chunk),
/// [`OptimumError::LadderMismatch`] when `qoe` was compiled for another ladder, and
/// [`OptimumError::InvalidParams`] for parameters out of their domain.
pub fn solve(
    cfg: &SimConfig,
    trace: &Trace,
    video: &Video,
    qoe: &CompiledQoe,
    skip_chunks: usize,
    params: &OptimumParams,
) -> Result<Plan, OptimumError> {
    let num_levels = check_inputs(cfg, video, qoe, params)?;
    let root = Session::new(cfg, trace, video, StartPosition::Beginning, None);
    // The runner clamps the start-up level the same way.
    let startup = cfg.startup_level.map(|l| l.min(num_levels - 1));
    let Some(levels) = search(
        root,
        startup.unwrap_or(0),
        startup,
        qoe,
        skip_chunks,
        params,
    )?
    else {
        return Ok(Plan {
            levels: Vec::new(),
            qoe: 0.0,
        });
    };
    let qoe_value = replay(cfg, trace, video, qoe, skip_chunks, &levels)?;
    Ok(Plan {
        levels,
        qoe: qoe_value,
    })
}

/// Validates the parameters and that `qoe` was compiled for `video`'s ladder; returns its level count.
fn check_inputs(
    cfg: &SimConfig,
    video: &Video,
    qoe: &CompiledQoe,
    params: &OptimumParams,
) -> Result<usize, OptimumError> {
    params.validate()?;
    cfg.validate()?;
    let num_levels = video.num_levels();
    if qoe.raw.len() != num_levels {
        return Err(OptimumError::LadderMismatch {
            qoe_levels: qoe.raw.len(),
            video_levels: num_levels,
            video: video.name.clone(),
        });
    }
    Ok(num_levels)
}

/// Finds the best continuation of a session already under way: the levels of chunks
/// `session.next_chunk()..` that maximise the QoE still to be earned (chunks `skip_chunks..`
/// only), given that the last chunk was fetched at `last_level`. `cfg` is the configuration the
/// session was created with (only its start-up rule is read, for a session that has not started).
///
/// This is the teacher for DAgger-style relabeling: it labels any state a learner visits, not
/// only the states on the optimum's own path. [`Plan::levels`] holds the remaining chunks only
/// (`levels[0]` is chunk `session.next_chunk()`), and [`Plan::qoe`] is the QoE of those chunks,
/// replayed from a copy of `session`. A finished session gets an empty plan worth 0.
///
/// # Errors
/// As [`solve`].
pub fn solve_from(
    cfg: &SimConfig,
    session: &Session<'_>,
    last_level: usize,
    qoe: &CompiledQoe,
    skip_chunks: usize,
    params: &OptimumParams,
) -> Result<Plan, OptimumError> {
    let video = session.video();
    let num_levels = check_inputs(cfg, video, qoe, params)?;
    let startup = cfg.startup_level.map(|l| l.min(num_levels - 1));
    let first_chunk = session.next_chunk();
    let Some(levels) = search(
        session.clone(),
        last_level.min(num_levels - 1),
        startup,
        qoe,
        skip_chunks,
        params,
    )?
    else {
        return Ok(Plan {
            levels: Vec::new(),
            qoe: 0.0,
        });
    };
    let mut replay = session.clone();
    let mut prev = last_level;
    let mut total = 0.0;
    for (i, &level) in levels.iter().enumerate() {
        let rec = replay.step(level)?;
        let chunk = first_chunk + i;
        if chunk >= skip_chunks {
            let p = if chunk == 0 { level } else { prev };
            total += qoe.reward_at(chunk, level, chunk.saturating_sub(1), p, rec.rebuffer_s);
        }
        prev = level;
    }
    Ok(Plan { levels, qoe: total })
}

/// The forward DP from `root` (whose last chunk was fetched at `root_level`) to the end of the
/// session; returns the winning levels of chunks `root.next_chunk()..`, or `None` when the session
/// has no chunk left.
fn search<'a>(
    root: Session<'a>,
    root_level: usize,
    startup: Option<usize>,
    qoe: &CompiledQoe,
    skip_chunks: usize,
    params: &OptimumParams,
) -> Result<Option<Vec<usize>>, OptimumError> {
    let num_levels = root.video().num_levels();
    let total_chunks = root.total_chunks();
    let first_chunk = root.next_chunk();

    // Every state ever kept, as (parent node, level) links for rebuilding the winning sequence.
    let mut nodes: Vec<Node> = Vec::new();
    let mut frontier = vec![State {
        session: root,
        score: 0.0,
        level: root_level,
        node: NO_NODE,
        alive: true,
    }];
    let mut children: Vec<State> = Vec::new();
    // Bucket key -> index of its front in `fronts`; the fronts' allocations are reused.
    let mut buckets: HashMap<BucketKey, usize, BuildHasherDefault<FxHasher>> = HashMap::default();
    let mut fronts: Vec<Vec<u32>> = Vec::new();

    for chunk in first_chunk..total_chunks {
        let levels = match (chunk, startup) {
            (0, Some(l)) => l..l + 1,
            _ => 0..num_levels,
        };
        let last_chunk = chunk + 1 == total_chunks;
        children.clear();
        buckets.clear();
        let mut fronts_used = 0;

        // Expand every state by every level and merge the children as they come.
        for parent in &frontier {
            for level in levels.clone() {
                let mut session = parent.session.clone();
                let rec = session.step(level)?;
                let prev = if chunk == 0 { level } else { parent.level };
                let score = if chunk >= skip_chunks {
                    parent.score
                        + qoe.reward_at(chunk, level, chunk.saturating_sub(1), prev, rec.rebuffer_s)
                } else {
                    parent.score
                };
                let child = State {
                    session,
                    score,
                    level,
                    node: parent.node, // the parent's node until the child gets its own
                    alive: true,
                };
                if last_chunk {
                    // Only the score matters now: keep the single best.
                    match children.first_mut() {
                        Some(best) if best.score >= child.score => {}
                        Some(best) => *best = child,
                        None => children.push(child),
                    }
                    continue;
                }
                let key = BucketKey {
                    level,
                    buffer: (child.session.buffer_s() / params.buffer_bucket_s).floor() as i64,
                };
                let front = match buckets.entry(key) {
                    Entry::Occupied(e) => *e.get(),
                    Entry::Vacant(e) => {
                        if fronts.len() == fronts_used {
                            fronts.push(Vec::new());
                        }
                        fronts[fronts_used].clear();
                        e.insert(fronts_used);
                        fronts_used += 1;
                        fronts_used - 1
                    }
                };
                insert_into_front(&mut children, &mut fronts[front], child, params);
            }
        }
        children.retain(|c| c.alive);
        if children.len() > params.max_states_per_chunk {
            let cap = params.max_states_per_chunk;
            children.select_nth_unstable_by(cap - 1, |a, b| b.score.total_cmp(&a.score));
            children.truncate(cap);
        }

        // Give each survivor its node, linked to its parent's.
        for child in &mut children {
            nodes.push(Node {
                parent: child.node,
                level: child.level,
            });
            child.node = (nodes.len() - 1) as u32;
        }
        std::mem::swap(&mut frontier, &mut children);
    }

    if first_chunk >= total_chunks {
        return Ok(None);
    }
    let Some(best) = frontier.iter().max_by(|a, b| a.score.total_cmp(&b.score)) else {
        return Ok(None);
    };
    let mut levels = Vec::with_capacity(total_chunks - first_chunk);
    let mut node = best.node;
    while node != NO_NODE {
        let n = &nodes[node as usize];
        levels.push(n.level);
        node = n.parent;
    }
    levels.reverse();
    Ok(Some(levels))
}

/// Adds `child` to the Pareto `front` (indices into `children`) of its bucket, or drops it.
///
/// A kept state dominates `child` when it scores at least as much and its session clock is at most
/// `clock_tolerance_s` later; `child` evicts (marks dead) the kept states it dominates that way.
fn insert_into_front<'a>(
    children: &mut Vec<State<'a>>,
    front: &mut Vec<u32>,
    child: State<'a>,
    params: &OptimumParams,
) {
    let tolerance_s = params.clock_tolerance_s;
    let clock_s = child.session.clock_s();
    let dominated = front.iter().any(|&i| {
        let kept = &children[i as usize];
        kept.score >= child.score && kept.session.clock_s() <= clock_s + tolerance_s
    });
    if dominated {
        return;
    }
    front.retain(|&i| {
        let kept = &mut children[i as usize];
        let evicted = child.score >= kept.score && clock_s <= kept.session.clock_s() + tolerance_s;
        kept.alive &= !evicted;
        !evicted
    });
    front.push(children.len() as u32);
    children.push(child);
}

/// Plays `levels` through a fresh session and scores it as the evaluation layer does.
fn replay(
    cfg: &SimConfig,
    trace: &Trace,
    video: &Video,
    qoe: &CompiledQoe,
    skip_chunks: usize,
    levels: &[usize],
) -> Result<f64, OptimumError> {
    let mut session = Session::new(cfg, trace, video, StartPosition::Beginning, None);
    let records = levels
        .iter()
        .map(|&l| session.step(l))
        .collect::<Result<Vec<ChunkRecord>, _>>()?;
    Ok(qoe.score(&records, skip_chunks).qoe)
}

/// Marks the root, which has no node.
const NO_NODE: u32 = u32::MAX;

/// One state of the search.
#[derive(Clone)]
struct State<'a> {
    /// The simulator after this state's chunks.
    session: Session<'a>,
    /// QoE accumulated over the scored chunks so far.
    score: f64,
    /// Level of the last chunk (the start-up level at the root).
    level: usize,
    /// This state's node in the link arena (while its stage is being built: its parent's).
    node: u32,
    /// False once evicted from its bucket's front.
    alive: bool,
}

/// A back link: which state a kept state came from, and the level that got it there.
struct Node {
    parent: u32,
    level: usize,
}

/// The bucket of a state: its last level and its quantised buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct BucketKey {
    level: usize,
    buffer: i64,
}

/// The multiply-rotate hash of rustc's `FxHasher`: the keys are small integers we make ourselves,
/// so a DoS-resistant hash buys nothing and would cost a visible share of the search's time.
#[derive(Default)]
struct FxHasher {
    hash: u64,
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.hash = (self.hash.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::video::Ladder;
    use neuralstream_core::QoeModel;

    /// A 3-level video of `chunks` chunks with varied sizes (bytes).
    fn tiny_video(chunks: usize) -> Video {
        let ladder = Ladder::from_kbps(&[300.0, 1200.0, 4300.0]);
        let sizes = (0..3)
            .map(|l| {
                (0..chunks)
                    .map(|c| {
                        let kbps = ladder.kbps(l);
                        // +-20% per chunk, deterministic.
                        let f = 0.8 + 0.4 * (((c * 7 + l * 3) % 5) as f64 / 4.0);
                        (kbps * 1000.0 / 8.0 * 4.0 * f) as u64
                    })
                    .collect()
            })
            .collect();
        Video::new("tiny", 4.0, ladder, sizes, vec![]).unwrap()
    }

    /// A bursty trace (Mbit/s per second) that makes every kind of choice matter.
    fn tiny_trace(seed: usize) -> Trace {
        let times: Vec<f64> = (0..40).map(|i| i as f64 * 0.7).collect();
        let bw = (0..40)
            .map(|i| [0.2, 3.5, 1.0, 6.0, 0.05, 2.0][(i * (seed + 1) + seed) % 6])
            .collect();
        Trace::new(format!("tiny{seed}"), times, bw).unwrap()
    }

    /// The best score over every level sequence for chunks 1.., by exhaustive enumeration.
    fn brute_force(cfg: &SimConfig, trace: &Trace, video: &Video, qoe: &CompiledQoe) -> f64 {
        let n = cfg.chunks_for(video.num_chunks());
        let l = video.num_levels();
        let mut best = f64::NEG_INFINITY;
        for code in 0..l.pow(n as u32 - 1) {
            let mut levels = vec![cfg.startup_level.unwrap()];
            let mut c = code;
            for _ in 1..n {
                levels.push(c % l);
                c /= l;
            }
            best = best.max(replay(cfg, trace, video, qoe, 1, &levels).unwrap());
        }
        best
    }

    #[test]
    fn equals_brute_force_on_tiny_cases() {
        for (chunks, cap_ms) in [(5, 60_000.0), (6, 60_000.0), (6, 9_000.0)] {
            let video = tiny_video(chunks);
            let cfg = SimConfig {
                buffer_cap_ms: cap_ms,
                ..SimConfig::pensieve()
            };
            for model in [QoeModel::lin(), QoeModel::log()] {
                let qoe = model.compile(&video).unwrap();
                for seed in 0..6 {
                    let trace = tiny_trace(seed);
                    let plan =
                        solve(&cfg, &trace, &video, &qoe, 1, &OptimumParams::default()).unwrap();
                    let exact = brute_force(&cfg, &trace, &video, &qoe);
                    assert!(
                        (plan.qoe - exact).abs() < 1e-9,
                        "chunks {chunks}, cap {cap_ms}, {} seed {seed}: dp {} vs brute force {exact}",
                        model.name(),
                        plan.qoe
                    );
                    assert_eq!(plan.levels.len(), chunks);
                    assert_eq!(plan.levels[0], 1);
                    assert_eq!(
                        plan.qoe,
                        replay(&cfg, &trace, &video, &qoe, 1, &plan.levels).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn free_startup_level_is_searched() {
        let video = tiny_video(4);
        let qoe = QoeModel::lin().compile(&video).unwrap();
        let cfg = SimConfig {
            startup_level: None,
            ..SimConfig::pensieve()
        };
        let trace = tiny_trace(1);
        let plan = solve(&cfg, &trace, &video, &qoe, 0, &OptimumParams::default()).unwrap();
        let mut best = f64::NEG_INFINITY;
        for code in 0..3usize.pow(4) {
            let levels: Vec<usize> = (0..4).map(|k| code / 3usize.pow(k) % 3).collect();
            best = best.max(replay(&cfg, &trace, &video, &qoe, 0, &levels).unwrap());
        }
        assert!((plan.qoe - best).abs() < 1e-9, "{} vs {best}", plan.qoe);
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let video = tiny_video(4);
        let qoe = QoeModel::lin().compile(&video).unwrap();
        let cfg = SimConfig::pensieve();
        let trace = tiny_trace(0);
        for params in [
            OptimumParams {
                buffer_bucket_s: 0.0,
                ..Default::default()
            },
            OptimumParams {
                clock_tolerance_s: f64::NAN,
                ..Default::default()
            },
            OptimumParams {
                max_states_per_chunk: 0,
                ..Default::default()
            },
        ] {
            let e = solve(&cfg, &trace, &video, &qoe, 1, &params).unwrap_err();
            assert!(matches!(e, OptimumError::InvalidParams(_)), "{e}");
        }
        let six = QoeModel::lin()
            .compile(
                &Video::new(
                    "six",
                    4.0,
                    Ladder::pensieve(),
                    vec![vec![1000; 4]; 6],
                    vec![],
                )
                .unwrap(),
            )
            .unwrap();
        let e = solve(&cfg, &trace, &video, &six, 1, &OptimumParams::default()).unwrap_err();
        assert!(matches!(e, OptimumError::LadderMismatch { .. }), "{e}");

        // A trace that delivers almost nothing stalls the simulator (after a day of trace time on
        // one chunk, 43,200 loops of this 2 s trace); the error propagates.
        let dead = Trace::new("dead", vec![0.0, 1.0, 2.0], vec![0.0, 1e-9, 0.0]).unwrap();
        let cfg = SimConfig::pensieve();
        let e = solve(&cfg, &dead, &video, &qoe, 1, &OptimumParams::default()).unwrap_err();
        assert!(matches!(e, OptimumError::Sim(_)), "{e}");
    }

    #[test]
    fn solve_from_matches_brute_force_mid_session() {
        let video = tiny_video(6);
        let cfg = SimConfig::pensieve();
        let qoe = QoeModel::lin().compile(&video).unwrap();
        for seed in 0..4 {
            let trace = tiny_trace(seed);
            // From the start it is `solve`.
            let root = Session::new(&cfg, &trace, &video, StartPosition::Beginning, None);
            let plan = solve(&cfg, &trace, &video, &qoe, 1, &OptimumParams::default()).unwrap();
            let from = solve_from(&cfg, &root, 1, &qoe, 1, &OptimumParams::default()).unwrap();
            assert_eq!(from, plan);
            // After an arbitrary prefix, the continuation is the best over every suffix.
            let prefix = [1, 2, 0];
            let mut session = root.clone();
            for &l in &prefix {
                session.step(l).unwrap();
            }
            let from = solve_from(&cfg, &session, 0, &qoe, 1, &OptimumParams::default()).unwrap();
            assert_eq!(from.levels.len(), 3);
            let prefix_qoe = replay(&cfg, &trace, &video, &qoe, 1, &prefix).unwrap();
            let mut best = f64::NEG_INFINITY;
            for code in 0..3usize.pow(3) {
                let mut levels = prefix.to_vec();
                levels.extend((0..3).map(|k| code / 3usize.pow(k) % 3));
                best = best.max(replay(&cfg, &trace, &video, &qoe, 1, &levels).unwrap());
            }
            assert!(
                (prefix_qoe + from.qoe - best).abs() < 1e-9,
                "seed {seed}: {} vs {best}",
                prefix_qoe + from.qoe
            );
        }
        // A finished session has nothing left to plan.
        let trace = tiny_trace(0);
        let mut session = Session::new(&cfg, &trace, &video, StartPosition::Beginning, None);
        for _ in 0..6 {
            session.step(0).unwrap();
        }
        let done = solve_from(&cfg, &session, 0, &qoe, 1, &OptimumParams::default()).unwrap();
        assert!(done.levels.is_empty() && done.qoe == 0.0);
    }
}

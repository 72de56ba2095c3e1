//! A content-keyed cache of offline-optimum plans, shared by ladder-agnostic trainings
//! (`train --agnostic --agnostic-optimum-cache DIR`).
//!
//! Every ladder-agnostic training starts by solving the offline optimum of each of its training
//! environments (a trace window played on a video), which is more than half of a default run's
//! time. Runs that differ only in their seed of initialisation, their feature layout or their
//! policy-iteration settings (the teachers of `bench/distil/recipe.sh`) solve exactly the same
//! problems, because the split seed fixes the environments.
//!
//! **Key design decision:** an entry is keyed by the problem's *content*, not by names: the
//! trace's samples, the video's ladder, chunk duration and chunk sizes, the compiled QoE model, the
//! simulator's constants, the solver's parameters and the chunks skipped, written out exactly
//! (`{:?}` of `f64` round-trips) and hashed twice (two 64-bit FNV-1a streams with different
//! offsets). The file is named by the first hash and holds both, so a stale or foreign entry is
//! never used, and a cached plan is the plan the solver returns: training outputs are
//! byte-identical with or without the cache. The folder is created on the first write; entries are
//! written to a temporary file and renamed, so two trainings may share a folder; an entry that
//! cannot be read or written is an error naming the file.

use crate::error::LearnError;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{Trace, Video};
use neuralstream_optimum::{solve, OptimumParams, Plan};
use neuralstream_sim::SimConfig;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// First line of every entry, with the format's version.
const MAGIC: &str = "neuralstream-optimum-plan v1";

/// FNV-1a offset bases of the two hash streams (the standard one and another).
const OFFSETS: [u64; 2] = [0xcbf2_9ce4_8422_2325, 0x6c62_272e_07bb_0142];
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The inputs of one optimum problem.
pub struct Problem<'a> {
    /// Simulator constants.
    pub sim: &'a SimConfig,
    /// The network trace (window).
    pub trace: &'a Trace,
    /// The video.
    pub video: &'a Video,
    /// The QoE model bound to the video's ladder.
    pub qoe: &'a CompiledQoe,
    /// Chunks not scored at the start of the session.
    pub skip_chunks: usize,
    /// Solver parameters.
    pub params: &'a OptimumParams,
}

impl Problem<'_> {
    /// The two content hashes of the problem.
    fn key(&self) -> [u64; 2] {
        let mut text = String::with_capacity(16 * 1024);
        let _ = write!(
            text,
            "{MAGIC}|{:?}|{:?}|{:?}|{}|{:?}|",
            self.sim, self.qoe, self.params, self.skip_chunks, self.video.chunk_duration_s
        );
        for level in &self.video.ladder.levels {
            let _ = write!(text, "{:?},", level.bitrate_kbps);
        }
        for sizes in &self.video.chunk_bytes {
            for b in sizes {
                let _ = write!(text, "{b},");
            }
            text.push(';');
        }
        for (t, bw) in self.trace.time_s.iter().zip(&self.trace.bandwidth_mbps) {
            let _ = write!(text, "{t:?}:{bw:?},");
        }
        OFFSETS.map(|offset| {
            text.bytes()
                .fold(offset, |h, b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
        })
    }

    fn solve(&self) -> Result<Plan, neuralstream_optimum::OptimumError> {
        solve(
            self.sim,
            self.trace,
            self.video,
            self.qoe,
            self.skip_chunks,
            self.params,
        )
    }
}

/// Solves `problem`, or reads its plan from `cache` when an entry of the same content is there
/// (and writes one after solving). `on_error` turns a solver error into the caller's error.
pub fn solve_cached(
    cache: Option<&Path>,
    problem: &Problem<'_>,
    on_error: impl Fn(neuralstream_optimum::OptimumError) -> LearnError,
) -> Result<Plan, LearnError> {
    let Some(dir) = cache else {
        return problem.solve().map_err(on_error);
    };
    let key = problem.key();
    let path = dir.join(format!("{:016x}.plan", key[0]));
    if let Some(plan) = read_entry(&path, key)? {
        return Ok(plan);
    }
    let plan = problem.solve().map_err(on_error)?;
    write_entry(dir, &path, key, &plan)?;
    Ok(plan)
}

/// The plan in `path` when it holds `key`'s problem; `None` when there is no such file or it holds
/// another problem (a first-hash collision, which is then overwritten).
fn read_entry(path: &Path, key: [u64; 2]) -> Result<Option<Plan>, LearnError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(damaged(path, &e.to_string())),
    };
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let expected = format!("{MAGIC} {:016x} {:016x}", key[0], key[1]);
    if !header.starts_with(MAGIC) {
        return Err(damaged(path, "not an optimum plan (bad first line)"));
    }
    if header != expected {
        return Ok(None);
    }
    let mut parse = || -> Option<Plan> {
        let qoe = f64::from_bits(u64::from_str_radix(lines.next()?, 16).ok()?);
        let levels = lines
            .next()?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().ok())
            .collect::<Option<Vec<usize>>>()?;
        Some(Plan { levels, qoe })
    };
    parse()
        .filter(|p| !p.levels.is_empty())
        .map(Some)
        .ok_or_else(|| damaged(path, "truncated or unreadable plan"))
}

/// Writes the entry through a temporary file in the same folder (created if missing) and a rename.
fn write_entry(dir: &Path, path: &Path, key: [u64; 2], plan: &Plan) -> Result<(), LearnError> {
    let levels: Vec<String> = plan.levels.iter().map(usize::to_string).collect();
    let text = format!(
        "{MAGIC} {:016x} {:016x}\n{:016x}\n{}\n",
        key[0],
        key[1],
        plan.qoe.to_bits(),
        levels.join(",")
    );
    let tmp: PathBuf = dir.join(format!(
        ".{:016x}.{}.{:?}.tmp",
        key[0],
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, text))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            LearnError::Invalid(format!(
                "--agnostic-optimum-cache: cannot write {}: {e}",
                path.display()
            ))
        })
}

/// An entry that is there but cannot be used.
fn damaged(path: &Path, problem: &str) -> LearnError {
    LearnError::Invalid(format!(
        "--agnostic-optimum-cache: entry {}: {problem}; delete it (or the folder) and the plan is solved again",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::qoe::QoeModel;
    use neuralstream_core::Ladder;

    fn problem_parts() -> (SimConfig, Trace, Video, CompiledQoe, OptimumParams) {
        let video = Video::new(
            "v",
            4.0,
            Ladder::pensieve(),
            (0..6).map(|l| vec![200_000 * (l as u64 + 1); 8]).collect(),
            vec![],
        )
        .unwrap();
        let trace = Trace {
            name: "t".into(),
            time_s: (0..200).map(f64::from).collect(),
            bandwidth_mbps: (0..200).map(|i| 1.0 + f64::from(i % 7)).collect(),
        };
        let qoe = QoeModel::lin().compile(&video).unwrap();
        (
            SimConfig::pensieve(),
            trace,
            video,
            qoe,
            OptimumParams::default(),
        )
    }

    #[test]
    fn a_cached_plan_is_the_solved_plan_and_other_content_misses() {
        let dir = tempfile::tempdir().unwrap();
        let (sim, mut trace, video, qoe, params) = problem_parts();
        let err = |e| LearnError::Invalid(format!("{e}"));
        let solve_in_cache = |trace: &Trace| {
            let problem = Problem {
                sim: &sim,
                trace,
                video: &video,
                qoe: &qoe,
                skip_chunks: 1,
                params: &params,
            };
            solve_cached(Some(&dir.path().join("plans")), &problem, err)
        };
        let p = |trace: &Trace| solve_in_cache(trace).unwrap();
        let solved = p(&trace);
        // The folder is made on the first write.
        let entries = || std::fs::read_dir(dir.path().join("plans")).unwrap().count();
        assert_eq!(entries(), 1);
        let cached = p(&trace);
        assert_eq!(cached, solved);
        assert_eq!(cached.qoe.to_bits(), solved.qoe.to_bits());
        // The first 40 s slowed down: another problem, another entry, its own plan.
        for b in &mut trace.bandwidth_mbps[..40] {
            *b = 0.3;
        }
        let other = p(&trace);
        assert_eq!(entries(), 2);
        assert_ne!(other.qoe, solved.qoe);
        // A corrupt entry is an error naming its file, not a wrong plan.
        for entry in std::fs::read_dir(dir.path().join("plans")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let first = text.lines().next().unwrap().to_owned();
            std::fs::write(&path, format!("{first}\nzz\n")).unwrap();
        }
        let e = solve_in_cache(&trace).unwrap_err().to_string();
        assert!(e.contains(".plan") && e.contains("delete it"), "{e}");
    }
}

//! Rust values as Python objects: chunk records and scores as dicts, observations as numpy arrays
//! or dicts of them.

use crate::episode::Episode;
use crate::inputs::World;
use neuralstream_core::{ChunkRecord, SessionScore};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A chunk record as a dict with the record's field names (units in the names).
pub fn record_dict<'py>(py: Python<'py>, r: &ChunkRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("index", r.index)?;
    d.set_item("level", r.level)?;
    d.set_item("bitrate_kbps", r.bitrate_kbps)?;
    d.set_item("size_bytes", r.size_bytes)?;
    d.set_item("delay_ms", r.delay_ms)?;
    d.set_item("sleep_ms", r.sleep_ms)?;
    d.set_item("rebuffer_s", r.rebuffer_s)?;
    d.set_item("buffer_s", r.buffer_s)?;
    d.set_item("request_s", r.request_s)?;
    d.set_item("finish_s", r.finish_s)?;
    Ok(d)
}

/// A session score as a dict (`qoe`, its components, stalls, switches).
pub fn score_dict<'py>(py: Python<'py>, s: &SessionScore) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("qoe", s.qoe)?;
    d.set_item("qoe_all", s.qoe_all)?;
    d.set_item("chunks_scored", s.chunks_scored)?;
    d.set_item("utility_sum", s.utility_sum)?;
    d.set_item("rebuffer_penalty", s.rebuffer_penalty)?;
    d.set_item("smoothness_penalty", s.smoothness_penalty)?;
    d.set_item("bitrate_mean_kbps", s.bitrate_mean_kbps)?;
    d.set_item("rebuffer_s", s.rebuffer_s)?;
    d.set_item("startup_s", s.startup_s)?;
    d.set_item("switches", s.switches)?;
    Ok(d)
}

/// The info of a reset or step: the trace, the last chunk's record, and when the episode is over
/// its QoE (`episode_qoe`, chunks `skip_chunks..`, as `bench` scores it) and full score.
pub fn info_dict<'py>(
    py: Python<'py>,
    world: &World,
    ep: &Episode<'_>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("trace", &world.traces[ep.trace_index].name)?;
    d.set_item("trace_index", ep.trace_index)?;
    if let Some(r) = ep.records.last() {
        d.set_item("chunk", record_dict(py, r)?)?;
    }
    if ep.is_done() {
        d.set_item("episode_qoe", ep.qoe)?;
        let score = world.compiled.score(&ep.records, world.skip_chunks);
        d.set_item("score", score_dict(py, &score)?)?;
    }
    Ok(d)
}

/// The dict observation: what a player knows, in its own units.
pub fn dict_observation<'py>(
    py: Python<'py>,
    world: &World,
    ep: &Episode<'_>,
) -> PyResult<Bound<'py, PyDict>> {
    let obs = ep.observation(world);
    let h = world.spec.history_len;
    let recent = &obs.history[obs.history.len().saturating_sub(h)..];
    let pad = h - recent.len();
    let mut thr = vec![0.0f32; h];
    let mut delay = vec![0.0f32; h];
    for (i, r) in recent.iter().enumerate() {
        thr[pad + i] = if r.delay_ms > 0.0 {
            r.throughput_kbps() as f32
        } else {
            0.0
        };
        delay[pad + i] = r.delay_ms as f32;
    }
    let next = obs
        .next_chunk
        .min(world.video.num_chunks().saturating_sub(1));
    let sizes: Vec<f32> = (0..world.video.num_levels())
        .map(|l| world.video.size_bytes(l, next) as f32)
        .collect();
    let d = PyDict::new(py);
    d.set_item("buffer_s", PyArray1::from_slice(py, &[obs.buffer_s as f32]))?;
    d.set_item("last_level", obs.last_level)?;
    d.set_item("chunks_left", obs.chunks_left())?;
    d.set_item("throughput_kbps", PyArray1::from_vec(py, thr))?;
    d.set_item("delay_ms", PyArray1::from_vec(py, delay))?;
    d.set_item("next_sizes_bytes", PyArray1::from_vec(py, sizes))?;
    Ok(d)
}

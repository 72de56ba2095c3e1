//! Scores of one real-time session, kept apart from the ABR QoE.
//!
//! * **Frame delay** p50 / p95, capture to display (Salsify's metric), over rendered frames; a
//!   session that renders nothing reports its whole duration.
//! * **Freezes** by WebRTC's rule ([`crate::receiver`]): count, per minute, and the frozen-time
//!   ratio (frozen time / session time).
//! * **Quality**: mean opinion score of rendered frames ([`crate::quality`], uncalibrated).
//! * **Utilisation**: bytes delivered / bytes the link could carry during the session.
//! * **Loss**: packets dropped by the queue or lost at random / packets sent.
//! * **Combined score**, onl-emu's benchmark (`OpenNetLab/onl-emu:benchmark/calculate_qoe.py`):
//!   `100 x (bitrate + jitter + freeze) / 3` with `bitrate = min(1, received / min(mean capacity,
//!   source bitrate))`, `jitter = max(0, 1 - mean jitter-buffer delay / 150 ms)` and `freeze =
//!   max(0, 1 - frozen time / session time)`. Higher is better, 100 at most.

use crate::sim::SessionLog;
use crate::trace::Split;
use crate::Fate;
use serde::Serialize;

/// Jitter-buffer delay at which onl-emu's jitter term reaches 0, ms.
pub const ONL_JITTER_SCALE_MS: f64 = 150.0;

/// Every score of one session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionScore {
    /// Trace name.
    pub trace: String,
    /// Trace family (`onl-emu`, `mahimahi`, `synthetic`).
    pub family: String,
    /// Split of the trace (`None` for a trace not read as part of a folder).
    pub split: Option<Split>,
    /// Controller name.
    pub controller: String,
    /// Session length, s.
    pub duration_s: f64,
    /// Median frame delay, capture to display, ms.
    pub p50_frame_delay_ms: f64,
    /// 95th percentile frame delay, ms.
    pub p95_frame_delay_ms: f64,
    /// 95th percentile one-way packet delay of delivered packets, ms.
    pub p95_packet_delay_ms: f64,
    /// Freezes (WebRTC rule).
    pub freezes: usize,
    /// Freezes per minute.
    pub freezes_per_min: f64,
    /// Frozen time / session time.
    pub frozen_ratio: f64,
    /// Mean opinion score of rendered frames (1..5; 1 if none rendered).
    pub mean_quality: f64,
    /// Frames rendered per second.
    pub rendered_fps: f64,
    /// Resolution changes per minute.
    pub resolution_switches_per_min: f64,
    /// Mean received rate, kbit/s.
    pub received_kbps: f64,
    /// Mean link capacity during the session, kbit/s.
    pub capacity_kbps: f64,
    /// Delivered / capacity.
    pub utilisation: f64,
    /// Packets dropped or lost / packets sent.
    pub loss_rate: f64,
    /// Mean time frames waited in the jitter buffer, ms.
    pub jitter_buffer_ms: f64,
    /// onl-emu's combined score, 0..100.
    pub onl_qoe: f64,
}

/// The `p`-quantile (0..1) of `values` by the nearest-rank method; `None` if empty.
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

/// Scores a session; `source_max_bps` is the encoder's largest target (the source bitrate).
pub fn score(log: &SessionLog, source_max_bps: f64) -> SessionScore {
    let duration_s = log.duration_ms / 1000.0;
    let mut frame_delays: Vec<f64> = log
        .rendered
        .iter()
        .map(|f| f.render_ms - f.capture_ms)
        .collect();
    let p50 = percentile(&mut frame_delays, 0.5).unwrap_or(log.duration_ms);
    let p95 = percentile(&mut frame_delays, 0.95).unwrap_or(log.duration_ms);
    let mut packet_delays: Vec<f64> = log
        .packets
        .iter()
        .filter_map(|p| p.arrival_ms().map(|a| a - p.send_ms))
        .collect();
    let p95_packet = percentile(&mut packet_delays, 0.95).unwrap_or(log.duration_ms);
    let delivered_bytes = log.delivered_bytes_by(log.duration_ms) as f64;
    let received_kbps = delivered_bytes * 8.0 / log.duration_ms;
    let capacity_kbps = log.capacity_bytes * 8.0 / log.duration_ms;
    let failed = log
        .packets
        .iter()
        .filter(|p| !matches!(p.fate, Fate::Delivered { .. }))
        .count();
    let n = log.rendered.len();
    let mean_quality = if n == 0 {
        1.0
    } else {
        log.rendered.iter().map(|f| f.quality).sum::<f64>() / n as f64
    };
    let jitter_buffer_ms = if n == 0 {
        0.0
    } else {
        log.rendered.iter().map(|f| f.jitter_buffer_ms).sum::<f64>() / n as f64
    };
    let switches = log
        .frames
        .windows(2)
        .filter(|w| w[0].resolution != w[1].resolution)
        .count();
    let frozen_ratio = (log.frozen_ms / log.duration_ms).min(1.0);
    let bitrate_term = (received_kbps / capacity_kbps.min(source_max_bps / 1000.0)).min(1.0);
    let jitter_term = (1.0 - jitter_buffer_ms / ONL_JITTER_SCALE_MS).max(0.0);
    let freeze_term = (1.0 - frozen_ratio).max(0.0);
    SessionScore {
        trace: log.trace.clone(),
        family: log.family.clone(),
        split: log.split,
        controller: log.controller.clone(),
        duration_s,
        p50_frame_delay_ms: p50,
        p95_frame_delay_ms: p95,
        p95_packet_delay_ms: p95_packet,
        freezes: log.freezes,
        freezes_per_min: log.freezes as f64 / (duration_s / 60.0),
        frozen_ratio,
        mean_quality,
        rendered_fps: n as f64 / duration_s,
        resolution_switches_per_min: switches as f64 / (duration_s / 60.0),
        received_kbps,
        capacity_kbps,
        utilisation: if log.capacity_bytes > 0.0 {
            delivered_bytes / log.capacity_bytes
        } else {
            0.0
        },
        loss_rate: if log.packets.is_empty() {
            0.0
        } else {
            failed as f64 / log.packets.len() as f64
        },
        jitter_buffer_ms,
        onl_qoe: 100.0 * (bitrate_term + jitter_term + freeze_term) / 3.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{run_session, Fixed, LinkTrace, RtConfig};

    #[test]
    fn percentile_is_nearest_rank() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&mut v, 0.5), Some(3.0));
        assert_eq!(percentile(&mut v, 0.95), Some(5.0));
        assert_eq!(percentile(&mut [], 0.5), None);
    }

    #[test]
    fn an_easy_session_scores_high_and_an_overloaded_one_low() {
        let trace = LinkTrace::constant(3000.0, 40.0, 10_000.0).unwrap();
        let cfg = RtConfig {
            duration_ms: 20_000.0,
            ..Default::default()
        };
        let easy = score(
            &run_session(&trace, &cfg, &mut Fixed::new(2.5e6)).unwrap(),
            cfg.max_bps,
        );
        assert_eq!(easy.freezes, 0);
        assert!(
            easy.utilisation > 0.75 && easy.utilisation <= 1.0,
            "{easy:?}"
        );
        assert!(easy.onl_qoe > 85.0, "{easy:?}");
        assert!(easy.p95_frame_delay_ms < 150.0, "{easy:?}");
        assert_eq!(easy.loss_rate, 0.0);
        let hard = score(
            &run_session(&trace, &cfg, &mut Fixed::new(6e6)).unwrap(),
            cfg.max_bps,
        );
        assert!(hard.loss_rate > 0.1 && hard.frozen_ratio > 0.2, "{hard:?}");
        assert!(hard.onl_qoe < easy.onl_qoe);
        assert!(hard.p95_frame_delay_ms > easy.p95_frame_delay_ms);
    }
}

//! The link's rate, following a trace: a token bucket (`tbf`) per link, changed at every trace
//! sample.
//!
//! Model (Mahimahi's trace link in a kernel queue): the rate of a sample holds over the interval
//! that *ends* at its time, as Pensieve and the simulator read a cooked trace (sample `i`'s rate
//! from time `t[i-1]` to `t[i]`), and the trace loops when it ends, as the simulator's does. The
//! queue is drop-tail: `tbf`'s `limit` in bytes. The bucket holds 5 ms of the rate, and at least two
//! full-size frames: `tbf` cannot pass a packet larger than its bucket, and the bucket follows the
//! rate down, so the shaped device sends one TCP segment per packet
//! ([`crate::topology::ONE_SEGMENT_PER_PACKET`]); a packet queued under a large bucket then still
//! fits the smallest one.
//!
//! One `tc -force -batch -` process in the server namespace takes every change of every link on its
//! standard input, so a change costs a line, not a process; its error output is collected and
//! reported by [`Shaper::stop`].

use crate::error::EmuError;
use crate::topology::run;
use neuralstream_core::Trace;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The slowest rate the link is ever set to, kbit/s: `tbf` cannot express 0, so a zero-capacity
/// sample becomes this trickle (far below any video level).
pub const MIN_RATE_KBPS: f64 = 8.0;
/// Bucket depth, seconds of the current rate.
const BURST_S: f64 = 0.005;
/// Smallest bucket, bytes: two full-size Ethernet frames.
const MIN_BURST_BYTES: u64 = 2 * 1514;

/// Settings of the shaper.
#[derive(Debug, Clone, PartialEq)]
pub struct ShaperConfig {
    /// Session seconds per real second: rates are multiplied by it, sample durations divided.
    pub speed: f64,
    /// Drop-tail queue of each link, bytes.
    pub queue_bytes: u64,
}

impl ShaperConfig {
    /// Checks the values; the message names the setting.
    pub fn validate(&self) -> Result<(), EmuError> {
        if !(self.speed.is_finite() && self.speed > 0.0 && self.speed <= 100.0) {
            return Err(EmuError::Config(format!(
                "--speed must be in (0, 100] for an emulated link, got {}",
                self.speed
            )));
        }
        if !(3000..=1 << 30).contains(&self.queue_bytes) {
            return Err(EmuError::Config(format!(
                "--queue-bytes must be between 3000 (two packets) and 1 GiB, got {}",
                self.queue_bytes
            )));
        }
        Ok(())
    }

    /// `tbf`'s parameters for a trace rate of `kbps`.
    pub fn tbf_params(&self, kbps: f64) -> String {
        let bits_per_s = (kbps.max(MIN_RATE_KBPS) * 1000.0 * self.speed).round() as u64;
        let burst = ((bits_per_s as f64 / 8.0 * BURST_S) as u64).max(MIN_BURST_BYTES);
        let limit = self.queue_bytes.max(burst);
        format!("rate {bits_per_s}bit burst {burst} limit {limit}")
    }
}

/// From `at_s` session seconds after the start (within one period of the trace), the link runs at
/// `kbps`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateStep {
    /// Session seconds since the start of the trace.
    pub at_s: f64,
    /// Trace rate, kbit/s.
    pub kbps: f64,
}

/// One period of `trace` as rate steps: sample `i`'s rate from `t[i-1] - t[0]`; the period is the
/// trace's span (`t[n-1] - t[0]`), after which the steps repeat.
pub fn rate_schedule(trace: &Trace) -> Vec<RateStep> {
    let t0 = trace.time_s[0];
    trace
        .time_s
        .windows(2)
        .zip(&trace.bandwidth_mbps[1..])
        .map(|(w, mbps)| RateStep {
            at_s: w[0] - t0,
            kbps: mbps * 1000.0,
        })
        .collect()
}

/// A running shaper; [`Shaper::stop`] ends it (dropping it stops it too).
pub struct Shaper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<ShaperStats, EmuError>>>,
    child: Option<Child>,
    errors: Arc<Mutex<Vec<String>>>,
}

/// What a shaper did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ShaperStats {
    /// Rate changes written.
    pub updates: u64,
    /// Latest change, real milliseconds after it was due.
    pub max_late_ms: f64,
}

/// One link's walk through its schedule.
struct Walk {
    dev: String,
    steps: Vec<RateStep>,
    period_s: f64,
    next: usize,
    lap: u64,
    /// `tbf`'s parameters in force on the link.
    applied: String,
}

impl Walk {
    /// Session time of the next change.
    fn due_s(&self) -> f64 {
        self.lap as f64 * self.period_s + self.steps[self.next].at_s
    }
    fn advance(&mut self) {
        self.next += 1;
        if self.next == self.steps.len() {
            self.next = 0;
            self.lap += 1;
        }
    }
}

impl Shaper {
    /// Puts a `tbf` at the root of every `(device, trace)` in `server_ns` at the trace's first
    /// rate, then follows the traces from now on, each from its start.
    pub fn start(
        server_ns: &str,
        links: &[(String, Arc<Trace>)],
        cfg: &ShaperConfig,
    ) -> Result<Shaper, EmuError> {
        cfg.validate()?;
        let mut walks = Vec::with_capacity(links.len());
        for (dev, trace) in links {
            let steps = rate_schedule(trace);
            let period_s = trace.time_s[trace.time_s.len() - 1] - trace.time_s[0];
            let params = cfg.tbf_params(steps[0].kbps);
            let mut args = vec!["netns", "exec", server_ns, "tc", "qdisc", "add", "dev", dev];
            args.extend(["root", "tbf"]);
            args.extend(params.split(' '));
            run("ip", &args)?;
            let mut w = Walk {
                dev: dev.clone(),
                steps,
                period_s,
                next: 0,
                lap: 0,
                applied: params,
            };
            w.advance();
            walks.push(w);
        }
        let command = format!("ip netns exec {server_ns} tc -force -batch -");
        let mut child = Command::new("ip")
            .args(["netns", "exec", server_ns, "tc", "-force", "-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| EmuError::Spawn { command, source })?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let errors = errors.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut e = errors.lock().unwrap_or_else(|p| p.into_inner());
                    if e.len() < 20 {
                        e.push(line);
                    }
                }
            });
        }
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| EmuError::Config("tc -batch started without a standard input".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let cfg = cfg.clone();
        let thread = std::thread::spawn(move || follow(walks, stdin, &cfg, &flag));
        Ok(Shaper {
            stop,
            thread: Some(thread),
            child: Some(child),
            errors,
        })
    }

    /// Stops following the traces (the qdiscs stay until the namespaces go); an error when a
    /// change could not be written or tc refused one.
    pub fn stop(mut self) -> Result<ShaperStats, EmuError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<ShaperStats, EmuError> {
        self.stop.store(true, Ordering::Relaxed);
        let stats = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r?,
            Some(Err(_)) => return Err(EmuError::Config("the shaper thread panicked".into())),
            None => ShaperStats::default(),
        };
        if let Some(mut child) = self.child.take() {
            // Its standard input closed with the thread, so tc -batch ends by itself.
            let _ = child.wait();
        }
        let errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(first) = errors.first() {
            return Err(EmuError::Command {
                command: "tc -batch (rate changes)".into(),
                stderr: first.clone(),
            });
        }
        Ok(stats)
    }
}

impl Drop for Shaper {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Writes every link's changes when they fall due until `stop`.
fn follow(
    mut walks: Vec<Walk>,
    mut stdin: ChildStdin,
    cfg: &ShaperConfig,
    stop: &AtomicBool,
) -> Result<ShaperStats, EmuError> {
    let origin = Instant::now();
    let mut stats = ShaperStats::default();
    let broken = |e: std::io::Error| EmuError::Command {
        command: "tc -batch (rate changes)".into(),
        stderr: e.to_string(),
    };
    while !stop.load(Ordering::Relaxed) {
        let now_s = origin.elapsed().as_secs_f64() * cfg.speed;
        let lines = due_changes(&mut walks, now_s, cfg, &mut stats);
        if !lines.is_empty() {
            stdin.write_all(lines.as_bytes()).map_err(broken)?;
            stdin.flush().map_err(broken)?;
        }
        let next_s = walks.iter().map(Walk::due_s).fold(f64::INFINITY, f64::min);
        let wait_s = ((next_s - now_s) / cfg.speed).clamp(0.0, 0.05);
        std::thread::sleep(Duration::from_secs_f64(wait_s));
    }
    Ok(stats)
}

/// The `tc -batch` lines of every change due by `now_s` (session seconds), advancing the walks.
/// A sample whose parameters equal those in force writes nothing: `tbf` refills its bucket on
/// every change, so rewriting an unchanged rate would hand out an extra bucket per sample (in a
/// zero-capacity stretch, more than the trickle itself).
fn due_changes(
    walks: &mut [Walk],
    now_s: f64,
    cfg: &ShaperConfig,
    stats: &mut ShaperStats,
) -> String {
    let mut lines = String::new();
    for w in walks {
        while w.due_s() <= now_s {
            let late_ms = (now_s - w.due_s()) / cfg.speed * 1000.0;
            stats.max_late_ms = stats.max_late_ms.max(late_ms);
            let params = cfg.tbf_params(w.steps[w.next].kbps);
            if params != w.applied {
                lines.push_str(&format!("qdisc change dev {} root tbf {params}\n", w.dev));
                stats.updates += 1;
                w.applied = params;
            }
            w.advance();
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(t: &[f64], mbps: &[f64]) -> Trace {
        Trace::new("t", t.to_vec(), mbps.to_vec()).unwrap()
    }

    #[test]
    fn each_sample_holds_over_the_interval_that_ends_at_its_time() {
        let s = rate_schedule(&trace(&[0.0, 1.0, 3.0], &[9.0, 2.0, 0.5]));
        assert_eq!(
            s,
            vec![
                RateStep {
                    at_s: 0.0,
                    kbps: 2000.0
                },
                RateStep {
                    at_s: 1.0,
                    kbps: 500.0
                }
            ]
        );
    }

    #[test]
    fn tbf_scales_with_speed_and_never_reaches_zero() {
        let c = ShaperConfig {
            speed: 4.0,
            queue_bytes: 150_000,
        };
        assert_eq!(
            c.tbf_params(2000.0),
            "rate 8000000bit burst 5000 limit 150000"
        );
        assert_eq!(c.tbf_params(0.0), "rate 32000bit burst 3028 limit 150000");
        assert!(ShaperConfig {
            speed: 0.0,
            ..c.clone()
        }
        .validate()
        .is_err());
        let e = ShaperConfig {
            queue_bytes: 10,
            ..c
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("--queue-bytes"), "{e}");
    }

    #[test]
    fn walks_loop_over_the_trace() {
        let t = trace(&[0.0, 1.0, 3.0], &[9.0, 2.0, 0.5]);
        let mut w = Walk {
            dev: "d".into(),
            steps: rate_schedule(&t),
            period_s: 3.0,
            next: 0,
            lap: 0,
            applied: String::new(),
        };
        let mut due = Vec::new();
        for _ in 0..5 {
            due.push(w.due_s());
            w.advance();
        }
        assert_eq!(due, vec![0.0, 1.0, 3.0, 4.0, 6.0]);
    }

    #[test]
    fn an_unchanged_rate_is_not_rewritten() {
        // Zero capacity for three samples, then 2 Mbit/s: one change into the trickle, one out.
        let t = trace(&[0.0, 1.0, 2.0, 3.0, 4.0], &[5.0, 0.0, 0.0, 0.0, 2.0]);
        let cfg = ShaperConfig {
            speed: 1.0,
            queue_bytes: 150_000,
        };
        let steps = rate_schedule(&t);
        let mut walks = vec![Walk {
            dev: "d".into(),
            applied: cfg.tbf_params(steps[0].kbps),
            steps,
            period_s: 4.0,
            next: 1,
            lap: 0,
        }];
        let mut stats = ShaperStats::default();
        let lines = due_changes(&mut walks, 3.5, &cfg, &mut stats);
        assert_eq!(
            lines,
            "qdisc change dev d root tbf rate 2000000bit burst 3028 limit 150000\n"
        );
        assert_eq!(stats.updates, 1);
        assert!(due_changes(&mut walks, 3.9, &cfg, &mut stats).is_empty());
        // Sample 0 closes the lap: the schedule wraps to its first rate, 0 Mbit/s again.
        let wrap = due_changes(&mut walks, 4.0, &cfg, &mut stats);
        assert_eq!(
            wrap,
            "qdisc change dev d root tbf rate 8000bit burst 3028 limit 150000\n"
        );
    }
}

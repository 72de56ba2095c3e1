//! One player streaming one video over one trace, stepped chunk by chunk.

use crate::config::{SimConfig, StartPosition};
use crate::SimError;
use neuralstream_core::{download_is_stalled, ChunkRecord, Rng, Trace, Video};

/// The simulator state of one session (Pensieve's `Environment` for one video).
///
/// Units follow Pensieve: buffer and delays in ms inside, trace time in s, throughput in Mbit/s.
#[derive(Debug, Clone)]
pub struct Session<'a> {
    cfg: &'a SimConfig,
    trace: &'a Trace,
    video: &'a Video,
    /// Index of the trace sample whose interval the clock is in (`mahimahi_ptr`).
    ptr: usize,
    /// Trace clock, seconds (`last_mahimahi_time`).
    last_t: f64,
    buffer_ms: f64,
    next_chunk: usize,
    total_chunks: usize,
    clock_s: f64,
    noise: Option<Rng>,
    chunk_ms: f64,
}

impl<'a> Session<'a> {
    /// Starts a session at `start`. `noise_rng` is used only when `cfg.delay_noise` is set.
    pub fn new(
        cfg: &'a SimConfig,
        trace: &'a Trace,
        video: &'a Video,
        start: StartPosition,
        noise_rng: Option<Rng>,
    ) -> Self {
        let (ptr, last_t) = match start {
            StartPosition::Beginning => (1, 0.0),
            StartPosition::Sample(i) => {
                let i = i.clamp(1, trace.len() - 1);
                (i, trace.time_s[i - 1])
            }
        };
        Session {
            cfg,
            trace,
            video,
            ptr,
            last_t,
            buffer_ms: 0.0,
            next_chunk: 0,
            total_chunks: cfg.chunks_for(video.num_chunks()),
            clock_s: 0.0,
            noise: if cfg.delay_noise.is_some() {
                Some(noise_rng.unwrap_or_else(|| Rng::new(0)))
            } else {
                None
            },
            chunk_ms: video.chunk_duration_s * 1000.0,
        }
    }

    /// Index of the next chunk to download.
    #[inline]
    pub fn next_chunk(&self) -> usize {
        self.next_chunk
    }

    /// Chunks this session plays.
    #[inline]
    pub fn total_chunks(&self) -> usize {
        self.total_chunks
    }

    /// True once every chunk has been downloaded.
    #[inline]
    pub fn is_done(&self) -> bool {
        self.next_chunk >= self.total_chunks
    }

    /// Buffer level, seconds.
    #[inline]
    pub fn buffer_s(&self) -> f64 {
        self.buffer_ms / 1000.0
    }

    /// Trace clock, seconds since the trace's start (loops back at the trace's end).
    #[inline]
    pub fn trace_time_s(&self) -> f64 {
        self.last_t
    }

    /// Session wall clock, seconds.
    #[inline]
    pub fn clock_s(&self) -> f64 {
        self.clock_s
    }

    /// The trace this session streams over.
    pub fn trace(&self) -> &'a Trace {
        self.trace
    }

    /// The video this session streams.
    pub fn video(&self) -> &'a Video {
        self.video
    }

    /// Downloads the next chunk at `level` and advances the clock; returns what happened.
    ///
    /// A level the video does not have is an error ([`SimError::NoSuchLevel`]).
    #[inline]
    pub fn step(&mut self, level: usize) -> Result<ChunkRecord, SimError> {
        if self.is_done() {
            return Err(SimError::Finished(self.total_chunks));
        }
        let chunk = self.next_chunk;
        let levels = self.video.num_levels();
        if level >= levels {
            return Err(SimError::NoSuchLevel {
                level,
                chunk,
                levels,
            });
        }
        let size_bytes = self.video.size_bytes(level, chunk);
        let size = size_bytes as f64;
        let t = &self.trace.time_s;
        let bw = &self.trace.bandwidth_mbps;
        let n = t.len();
        let payload = self.cfg.payload_fraction;

        // Transfer: walk the trace intervals until the chunk's bytes fit (Pensieve's inner loop).
        // Locals instead of fields keep the loop in registers; the arithmetic is Pensieve's, in order.
        let mut ptr = self.ptr;
        let mut last_t = self.last_t;
        let mut sent = 0.0f64;
        let mut delay_s = 0.0f64;
        let mut loops = 0usize;
        loop {
            let (t_ptr, bw_ptr) = (t[ptr], bw[ptr]);
            let throughput = bw_ptr * 1_000_000.0 / 8.0; // bytes per second
            let duration = t_ptr - last_t;
            let packet_payload = throughput * duration * payload;
            if sent + packet_payload > size {
                let fractional = (size - sent) / throughput / payload;
                delay_s += fractional;
                last_t += fractional;
                break;
            }
            sent += packet_payload;
            delay_s += duration;
            last_t = t_ptr;
            ptr += 1;
            if ptr >= n {
                ptr = 1;
                last_t = 0.0;
                loops += 1;
                // Each loop walks the trace's n - 1 intervals.
                let steps = loops as u64 * (n as u64 - 1);
                if download_is_stalled(loops, self.cfg.max_trace_loops, delay_s, steps) {
                    self.ptr = ptr;
                    self.last_t = last_t;
                    return Err(SimError::Stalled {
                        trace: self.trace.name.clone(),
                        chunk,
                        loops,
                        seconds: delay_s,
                    });
                }
            }
        }
        self.ptr = ptr;
        self.last_t = last_t;
        let mut delay_ms = delay_s * 1000.0 + self.cfg.rtt_ms;
        if let (Some((lo, hi)), Some(rng)) = (self.cfg.delay_noise, self.noise.as_mut()) {
            delay_ms *= rng.uniform_range(lo, hi);
        }

        let rebuffer_ms = (delay_ms - self.buffer_ms).max(0.0);
        self.buffer_ms = (self.buffer_ms - delay_ms).max(0.0) + self.chunk_ms;

        // Sleep while the buffer is over the cap; sleeping advances the trace clock.
        let mut sleep_ms = 0.0;
        if self.buffer_ms > self.cfg.buffer_cap_ms {
            let drain = self.buffer_ms - self.cfg.buffer_cap_ms;
            sleep_ms = (drain / self.cfg.drain_sleep_ms).ceil() * self.cfg.drain_sleep_ms;
            self.buffer_ms -= sleep_ms;
            let mut left_ms = sleep_ms;
            loop {
                let duration = t[self.ptr] - self.last_t;
                if duration > left_ms / 1000.0 {
                    self.last_t += left_ms / 1000.0;
                    break;
                }
                left_ms -= duration * 1000.0;
                self.last_t = t[self.ptr];
                self.ptr += 1;
                if self.ptr >= n {
                    self.ptr = 1;
                    self.last_t = 0.0;
                    // Whole loops of a trace shorter than the sleep change nothing: skip them
                    // (bounds the walk for a long sleep over a short, dense trace).
                    let loop_ms = self.trace.duration_s() * 1000.0;
                    if left_ms >= loop_ms {
                        left_ms %= loop_ms;
                    }
                }
            }
        }

        let request_s = self.clock_s;
        let finish_s = request_s + delay_ms / 1000.0;
        self.clock_s = finish_s + sleep_ms / 1000.0;
        self.next_chunk += 1;
        Ok(ChunkRecord {
            index: chunk,
            level,
            bitrate_kbps: self.video.ladder.kbps(level),
            size_bytes,
            delay_ms,
            sleep_ms,
            rebuffer_s: rebuffer_ms / 1000.0,
            buffer_s: self.buffer_ms / 1000.0,
            request_s,
            finish_s,
        })
    }
}

//! One player streaming one video over one trace, stepped chunk by chunk.

use crate::config::{SimConfig, StartPosition};
use crate::SimError;
use neuralstream_core::{ChunkRecord, DeliverySpent, LinkCursor, Rng, Trace, TraceLink, Video};

/// The simulator state of one session (Pensieve's `Environment` for one video).
///
/// Units follow Pensieve: buffer and delays in ms inside, trace time in s, throughput in Mbit/s.
#[derive(Debug, Clone)]
pub struct Session<'a> {
    cfg: &'a SimConfig,
    trace: &'a Trace,
    video: &'a Video,
    /// The trace as a link (core's one link model), with this config's payload and loop budget.
    link: TraceLink<&'a Trace>,
    /// Where on the trace the clock is (`mahimahi_ptr`, `last_mahimahi_time`).
    cursor: LinkCursor,
    buffer_ms: f64,
    next_chunk: usize,
    total_chunks: usize,
    clock_s: f64,
    noise: Option<Rng>,
    chunk_ms: f64,
    /// Level whose init segment the player holds (`cfg.init_segment_bytes` only).
    init_level: Option<usize>,
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
        let link =
            TraceLink::new(trace, cfg.payload_fraction).with_max_trace_loops(cfg.max_trace_loops);
        let mut cursor = match start {
            StartPosition::Beginning => link.start(),
            StartPosition::Sample(i) => link.at_sample(i),
        };
        if cfg.trace_offset_ms > 0.0 {
            link.idle_ms(&mut cursor, cfg.trace_offset_ms);
        }
        Session {
            cfg,
            trace,
            video,
            link,
            cursor,
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
            init_level: None,
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
        self.cursor.trace_time_s()
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

        // The init segment, a request of its own, when the level changes (off by default).
        let mut init_ms = 0.0;
        if let Some(init_bytes) = self.cfg.init_segment_bytes {
            if self.init_level != Some(level) {
                init_ms = self.request_ms(init_bytes as f64, chunk)?;
                self.init_level = Some(level);
            }
        }
        // The chunk: round trip plus the link's walk over the trace until its bytes fit.
        let mut delay_ms = self.request_ms(size_bytes as f64, chunk)? + init_ms;
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
            self.link.idle_ms(&mut self.cursor, sleep_ms);
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

    /// One request of `bytes`: its round trip (trace time too when `cfg.rtt_advances_trace`),
    /// then the link walks the trace until the bytes fit (Pensieve's inner loop); returns the
    /// delay, ms, in Pensieve's order of operations (`transfer * 1000 + rtt`).
    #[inline]
    fn request_ms(&mut self, bytes: f64, chunk: usize) -> Result<f64, SimError> {
        if self.cfg.rtt_advances_trace {
            self.link.idle_ms(&mut self.cursor, self.cfg.rtt_ms);
        }
        let delay_s = self
            .link
            .deliver(&mut self.cursor, bytes, &mut DeliverySpent::default())
            .map_err(|e| SimError::Stalled {
                trace: self.trace.name.clone(),
                chunk,
                loops: e.loops,
                seconds: e.trace_s,
            })?;
        Ok(delay_s * 1000.0 + self.cfg.rtt_ms)
    }
}

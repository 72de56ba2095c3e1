//! The session clock: real time multiplied by the speed factor.
//!
//! Everything the player logs (request and finish times, buffer, stalls, the trace position) is in
//! session seconds; `--speed 20` makes one real second count as twenty, compressing the trace and
//! the playback together so that a test replays minutes of streaming in seconds.

use std::time::Duration;
use tokio::time::Instant;

/// Session time = real time since `origin` x `speed`.
#[derive(Debug, Clone, Copy)]
pub struct SessionClock {
    origin: Instant,
    speed: f64,
}

impl SessionClock {
    /// A clock starting now, running `speed` times faster than real time (`speed > 0`).
    pub fn start(speed: f64) -> Self {
        SessionClock {
            origin: Instant::now(),
            speed,
        }
    }

    /// The speed factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Session seconds since the start.
    pub fn now_s(&self) -> f64 {
        self.origin.elapsed().as_secs_f64() * self.speed
    }

    /// The real instant of session time `t_s`.
    fn instant_of(&self, t_s: f64) -> Instant {
        self.origin + Duration::from_secs_f64((t_s / self.speed).max(0.0))
    }

    /// Sleeps until session time `t_s` (returns at once when it has passed). Timer resolution is
    /// about 1 ms of real time, i.e. `speed` ms of session time.
    pub async fn sleep_until_s(&self, t_s: f64) {
        if t_s > self.now_s() {
            tokio::time::sleep_until(self.instant_of(t_s)).await;
        }
    }

    /// Sleeps for `d_s` session seconds.
    pub async fn sleep_s(&self, d_s: f64) {
        let until = self.now_s() + d_s;
        self.sleep_until_s(until).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn speed_compresses_sleeps() {
        let c = SessionClock::start(50.0);
        c.sleep_s(1.0).await; // 20 ms of real time
        let t = c.now_s();
        assert!((1.0..3.0).contains(&t), "{t}");
        assert!(c.origin.elapsed() < Duration::from_millis(60));
    }
}

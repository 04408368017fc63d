//! The session's idle deadline: `idle_timeout` after its last frame. A
//! plain value on tokio's clock, so its tests run on paused time
//! (`tokio::time::pause`/`advance`) instead of sleeping; the actor only arms
//! `run_later` for the time it says is left.

use tokio::time::{Duration, Instant};

/// When a quiet session is closed (`bye` with `idle_timeout`).
#[derive(Debug)]
pub(super) struct IdleDeadline {
    last_frame: Instant,
    limit: Duration,
}

impl IdleDeadline {
    /// A deadline `limit` from now (a session's start counts as a frame).
    pub(super) fn new(limit: Duration) -> Self {
        IdleDeadline {
            last_frame: Instant::now(),
            limit,
        }
    }

    /// A frame arrived: the deadline moves to `limit` from now.
    pub(super) fn frame(&mut self) {
        self.last_frame = Instant::now();
    }

    /// How long since the last frame (for `admin.sessions`).
    pub(super) fn quiet_for(&self) -> Duration {
        self.last_frame.elapsed()
    }

    /// How long until the deadline, or `None` once it has passed: a timer
    /// that fires early (a frame came meanwhile) waits this much again.
    pub(super) fn left(&self) -> Option<Duration> {
        let left = (self.last_frame + self.limit).saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    #[tokio::test(start_paused = true)]
    async fn the_deadline_is_the_limit_after_the_last_frame() {
        let limit = Duration::from_secs(600);
        let mut idle = IdleDeadline::new(limit);
        assert_eq!(idle.left(), Some(limit));
        advance(Duration::from_secs(599)).await;
        assert_eq!(idle.left(), Some(Duration::from_secs(1)));
        assert_eq!(idle.quiet_for(), Duration::from_secs(599));
        // A frame moves the deadline: the timer armed at the start fires at
        // 600 s, finds 599 s left and waits again.
        idle.frame();
        advance(Duration::from_secs(1)).await;
        assert_eq!(idle.left(), Some(Duration::from_secs(599)));
        advance(Duration::from_secs(599)).await;
        assert_eq!(idle.left(), None, "600 s without a frame");
        advance(Duration::from_secs(1)).await;
        assert_eq!(idle.left(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_armed_for_what_is_left_fires_at_the_deadline() {
        let limit = Duration::from_millis(600);
        let mut idle = IdleDeadline::new(limit);
        let start = Instant::now();
        // Frames every 200 ms for 1.2 s keep the session open (as pings do).
        for _ in 0..6 {
            advance(Duration::from_millis(200)).await;
            idle.frame();
        }
        let quiet = Instant::now();
        // The actor's loop: sleep what is left, look again.
        while let Some(left) = idle.left() {
            tokio::time::sleep(left).await;
        }
        assert_eq!(quiet.elapsed(), limit);
        assert_eq!(start.elapsed(), Duration::from_millis(1800));
    }
}

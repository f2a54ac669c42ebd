//! The one bound on a command's run time: `--timeout`.
//!
//! A [`Deadline`] is made once, when gljob starts, and handed to everything that may take time:
//! every request (connecting and reading the whole answer), every retry pause, every pause between
//! rounds. Each of them takes at most what is left, so the command ends within the timeout plus
//! the time to print its verdict (the README promises 2 s; the tests hold gljob to it).

use crate::error::{Error, Result};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    started: Instant,
    at: Option<Instant>,
}

impl Deadline {
    /// No bound but the ones each request has of its own.
    #[cfg(test)]
    pub fn none() -> Self {
        Deadline {
            started: Instant::now(),
            at: None,
        }
    }

    /// `timeout` from `started` (the start of the process), or none.
    pub fn after(started: Instant, timeout: Option<Duration>) -> Self {
        Deadline {
            started,
            at: timeout.map(|t| started + t),
        }
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Time left, `None` when unbounded; zero once passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }

    /// `wanted`, or what is left if that is less.
    pub fn cap(&self, wanted: Duration) -> Duration {
        match self.remaining() {
            Some(left) => wanted.min(left),
            None => wanted,
        }
    }

    /// Fails with [`crate::error::ErrorKind::TimedOut`] once the deadline has passed.
    pub fn check(&self, doing: &str) -> Result<()> {
        if self.expired() {
            return Err(self.exceeded(doing));
        }
        Ok(())
    }

    /// The error for `doing` being cut short by the deadline.
    pub fn exceeded(&self, doing: &str) -> Error {
        Error::timed_out(format!(
            "{doing}: --timeout ran out after {}",
            crate::duration::human(self.started.elapsed().as_secs_f64())
        ))
    }

    /// Sleeps `pause`, or until the deadline if that comes first. `false` when the deadline came.
    pub fn sleep(&self, pause: Duration) -> bool {
        let capped = self.cap(pause);
        if !capped.is_zero() {
            std::thread::sleep(capped);
        }
        capped == pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_caps_every_pause() {
        let deadline = Deadline::after(Instant::now(), Some(Duration::from_millis(30)));
        assert!(deadline.cap(Duration::from_secs(60)) <= Duration::from_millis(30));
        assert!(
            !deadline.sleep(Duration::from_secs(60)),
            "the deadline came first"
        );
        assert!(deadline.expired());
        assert!(deadline.check("waiting").is_err());
        let none = Deadline::none();
        assert_eq!(none.cap(Duration::from_secs(60)), Duration::from_secs(60));
        assert!(none.check("waiting").is_ok());
    }
}

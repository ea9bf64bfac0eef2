//! A clock tests and the soak test move by hand.

use std::sync::atomic::{AtomicI64, Ordering};

use idle_core::model::Millis;

use crate::ports::Clock;

/// A [`Clock`] that reads what it was set to.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    pub fn new(now: Millis) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(now),
        }
    }

    pub fn set(&self, now: Millis) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// Moves the clock forward by `ms` and returns the new time.
    pub fn advance(&self, ms: Millis) -> Millis {
        self.now.fetch_add(ms, Ordering::SeqCst) + ms
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        self.now.load(Ordering::SeqCst)
    }
}

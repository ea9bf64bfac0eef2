//! An in-memory [`Waker`]: it remembers the wake-ups armed, and hands out those that are due.
//! Tests fire them by hand; the local runtime's timer sleeps until the next one.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use idle_core::model::Millis;

use crate::ports::{StoreError, Waker};

/// Armed wake-ups by (time, player); arming the same pair twice keeps one.
#[derive(Debug, Default)]
pub struct MemoryWaker {
    armed: Mutex<BTreeSet<(Millis, String)>>,
}

impl MemoryWaker {
    pub fn new() -> MemoryWaker {
        MemoryWaker::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeSet<(Millis, String)>> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the wake-ups due at `now` (armed at or before it), earliest first.
    pub fn take_due(&self, now: Millis) -> Vec<(Millis, String)> {
        let mut armed = self.lock();
        let later = armed.split_off(&(now.saturating_add(1), String::new()));
        std::mem::replace(&mut *armed, later).into_iter().collect()
    }

    /// The earliest armed wake-up, if any.
    pub fn next_at(&self) -> Option<Millis> {
        self.lock().first().map(|(at, _)| *at)
    }

    /// Every armed wake-up, earliest first.
    pub fn armed(&self) -> Vec<(Millis, String)> {
        self.lock().iter().cloned().collect()
    }
}

#[async_trait]
impl Waker for MemoryWaker {
    async fn arm(&self, player_id: &str, at: Millis) -> Result<(), StoreError> {
        self.lock().insert((at, player_id.to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn due_wake_ups_are_taken_once_in_time_order_and_later_ones_stay() {
        let waker = MemoryWaker::new();
        waker.arm("b", 20).await.unwrap();
        waker.arm("a", 10).await.unwrap();
        waker.arm("a", 10).await.unwrap();
        waker.arm("c", 30).await.unwrap();
        assert_eq!(waker.next_at(), Some(10));
        assert_eq!(
            waker.take_due(20),
            [(10, "a".to_owned()), (20, "b".to_owned())]
        );
        assert!(waker.take_due(20).is_empty());
        assert_eq!(waker.armed(), [(30, "c".to_owned())]);
    }
}

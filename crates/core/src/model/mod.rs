//! The game's state: players, tasks, and what a task asks for.

mod audit;
mod player;
mod request;
mod task;

pub use audit::*;
pub use player::*;
pub use request::*;
pub use task::*;

/// Server time: milliseconds since the Unix epoch. The core never reads a clock; callers pass it.
pub type Millis = i64;

/// A time in whole seconds since the Unix epoch: what a DynamoDB TTL attribute holds (an
/// `expires_at`; DynamoDB Developer Guide, "Time to Live (TTL)": "the Unix epoch time format in
/// seconds"). A type of its own so a [`Millis`] cannot be passed where seconds are meant; it is
/// stored as the bare number (`#[serde(transparent)]`), as before it had a type.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct EpochSecs(pub i64);

impl EpochSecs {
    /// The second `ms` falls in (floor division, also before the epoch).
    pub const fn floor_millis(ms: Millis) -> EpochSecs {
        EpochSecs(ms.div_euclid(1000))
    }

    /// The first millisecond of this second (saturating).
    pub const fn as_millis(self) -> Millis {
        self.0.saturating_mul(1000)
    }

    /// `secs` seconds later (saturating).
    pub const fn plus_secs(self, secs: i64) -> EpochSecs {
        EpochSecs(self.0.saturating_add(secs))
    }

    /// True once `now` (ms) has reached this second: what is kept until then has expired. The
    /// one rule every store applies (`expires_at × 1000 <= now`).
    pub const fn has_passed(self, now: Millis) -> bool {
        self.as_millis() <= now
    }
}

#[cfg(test)]
mod epoch_secs_tests {
    use super::*;

    #[test]
    fn seconds_round_down_from_ms_and_expire_at_their_first_ms() {
        assert_eq!(EpochSecs::floor_millis(1_999), EpochSecs(1));
        assert_eq!(EpochSecs::floor_millis(-1), EpochSecs(-1));
        assert_eq!(EpochSecs(2).as_millis(), 2_000);
        assert!(!EpochSecs(2).has_passed(1_999));
        assert!(EpochSecs(2).has_passed(2_000));
        assert_eq!(EpochSecs(i64::MAX).plus_secs(1), EpochSecs(i64::MAX));
        assert_eq!(serde_json::to_string(&EpochSecs(7)).unwrap(), "7");
    }
}

//! Injected store failures, for tests and the soak test.

use crate::ports::StoreError;

/// A store operation, as fault rules and call counters name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreOp {
    LoadPlayers,
    CreatePlayer,
    Commit,
    PutHistory,
    LoadTask,
    DuePlayers,
    PutConnection,
    GetConnection,
    DeleteConnection,
    PlayerConnections,
    ScanConnections,
    StoreInbox,
    KeptAfter,
}

impl StoreOp {
    /// Operations that change the store (where a fault may strike after the write).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            StoreOp::CreatePlayer
                | StoreOp::Commit
                | StoreOp::PutHistory
                | StoreOp::PutConnection
                | StoreOp::DeleteConnection
                | StoreOp::StoreInbox
        )
    }
}

/// One failure rule: matching calls fail with `error` until `times` runs out.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub op: StoreOp,
    /// Only calls about this player (a commit of its plan, a load that includes it, its
    /// connections or inbox); `None` matches every call.
    pub player_id: Option<String>,
    /// Matching calls still to fail; `None` fails every one until the rules are cleared.
    pub times: Option<u32>,
    pub error: StoreError,
    /// The write takes effect and then the error is reported, as when a request times out after
    /// the store applied it. Ignored for reads.
    pub after_write: bool,
}

impl Fault {
    /// The next matching call fails.
    pub fn once(op: StoreOp, error: StoreError) -> Fault {
        Fault::times(op, 1, error)
    }

    /// The next `n` matching calls fail.
    pub fn times(op: StoreOp, n: u32, error: StoreError) -> Fault {
        Fault {
            op,
            player_id: None,
            times: Some(n),
            error,
            after_write: false,
        }
    }

    /// Every matching call fails until the rules are cleared.
    pub fn always(op: StoreOp, error: StoreError) -> Fault {
        Fault {
            times: None,
            ..Fault::once(op, error)
        }
    }

    /// Only calls about this player.
    pub fn for_player(mut self, player_id: impl Into<String>) -> Fault {
        self.player_id = Some(player_id.into());
        self
    }

    /// The write happens, then the error is reported.
    pub fn after_write(mut self) -> Fault {
        self.after_write = true;
        self
    }
}

/// Seeded random transient failures, for soak tests: each call of one of `ops` fails with
/// probability `per_million / 1_000_000`. The same seed and call sequence give the same faults.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomFaults {
    pub ops: Vec<StoreOp>,
    pub per_million: u32,
    pub seed: u64,
    /// Of the failing writes, this share (per million) is applied before the error is reported.
    pub after_write_per_million: u32,
}

/// What a call should do about faults.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Strike {
    pub error: StoreError,
    pub after_write: bool,
}

#[derive(Debug, Default)]
pub(super) struct Faults {
    rules: Vec<Fault>,
    random: Vec<(RandomFaults, u64)>,
}

impl Faults {
    pub fn add(&mut self, fault: Fault) {
        self.rules.push(fault);
    }

    pub fn add_random(&mut self, random: RandomFaults) {
        // SplitMix64 wants a non-zero-ish state; mix the seed once.
        let state = random.seed ^ 0x9e37_79b9_7f4a_7c15;
        self.random.push((random, state));
    }

    pub fn clear(&mut self) {
        self.rules.clear();
        self.random.clear();
    }

    /// The fault for a call of `op` about `players`, if any; consumes one use of the rule.
    pub fn strike(&mut self, op: StoreOp, players: &[&str]) -> Option<Strike> {
        let index = self.rules.iter().position(|f| {
            f.op == op && f.player_id.as_deref().is_none_or(|p| players.contains(&p))
        });
        if let Some(i) = index {
            let rule = &mut self.rules[i];
            let strike = Strike {
                error: rule.error.clone(),
                after_write: rule.after_write && op.is_write(),
            };
            if let Some(n) = rule.times.as_mut() {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.rules.remove(i);
                }
            }
            return Some(strike);
        }
        for (random, state) in &mut self.random {
            if !random.ops.contains(&op) {
                continue;
            }
            let roll = splitmix(state) % 1_000_000;
            if roll < u64::from(random.per_million) {
                let after = splitmix(state) % 1_000_000;
                return Some(Strike {
                    error: StoreError::Transient(format!("injected random fault on {op:?}")),
                    after_write: op.is_write() && after < u64::from(random.after_write_per_million),
                });
            }
        }
        None
    }
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> StoreError {
        StoreError::Transient("x".into())
    }

    #[test]
    fn a_counted_rule_fails_that_many_matching_calls() {
        let mut faults = Faults::default();
        faults.add(Fault::times(StoreOp::Commit, 2, transient()).for_player("a"));
        assert!(faults.strike(StoreOp::Commit, &["b"]).is_none());
        assert!(faults.strike(StoreOp::LoadPlayers, &["a"]).is_none());
        assert!(faults.strike(StoreOp::Commit, &["a"]).is_some());
        assert!(faults.strike(StoreOp::Commit, &["a"]).is_some());
        assert!(faults.strike(StoreOp::Commit, &["a"]).is_none());
    }

    #[test]
    fn random_faults_are_reproducible_and_near_their_rate() {
        let run = || {
            let mut faults = Faults::default();
            faults.add_random(RandomFaults {
                ops: vec![StoreOp::Commit],
                per_million: 100_000,
                seed: 7,
                after_write_per_million: 0,
            });
            (0..10_000)
                .map(|_| faults.strike(StoreOp::Commit, &[]).is_some())
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let hits = first.iter().filter(|h| **h).count();
        assert!((800..1200).contains(&hits), "{hits}");
    }
}

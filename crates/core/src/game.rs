//! The deployment's rules: the catalog plus the limits, retry policy and seed secret.

use std::collections::BTreeMap;

use crate::catalog::{Catalog, CatalogHash};

/// Limits on what players may ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Largest quantity of one task.
    pub max_quantity: u32,
    /// Most tasks a player may have queued, running or retrying at once.
    pub max_queue: usize,
    /// Token bucket size for enqueue and cancel.
    pub rate_capacity: u32,
    /// Milliseconds to earn back one token.
    pub rate_refill_ms: u64,
    /// Longest client request id.
    pub max_request_id_len: usize,
    /// How many recent request ids a player remembers for idempotent enqueue.
    pub recent_requests: usize,
    /// Progress notifications per task at most (besides start and completion).
    pub progress_updates: u32,
    /// Least time between two progress notifications.
    pub min_progress_ms: u64,
    /// Longest chunk of a continuous task, in ms of actions (at least one action per chunk).
    pub chunk_ms: u64,
    /// Most actions in one chunk of a continuous task.
    pub chunk_max_actions: u32,
}

/// The default chunk span: 15 minutes, SQS's longest delay (900 s), so each chunk's wake-up
/// is one delayed message, and a continuous task costs 4 settlements an hour.
pub const DEFAULT_CHUNK_MS: u64 = 900_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_quantity: 1000,
            max_queue: 10,
            rate_capacity: 10,
            rate_refill_ms: 1000,
            max_request_id_len: 64,
            recent_requests: 32,
            progress_updates: 4,
            min_progress_ms: 1000,
            chunk_ms: DEFAULT_CHUNK_MS,
            chunk_max_actions: 1000,
        }
    }
}

/// Exponential backoff with jitter for transient failures.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// A task fails for good after this many transient failures.
    pub max_attempts: u32,
    pub base_ms: u64,
    pub max_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_ms: 1000,
            max_ms: 60_000,
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempts + 1`: half of `min(max, base · 2^(attempts−1))` plus a
    /// jitter in `0..=` the other half ("equal jitter"), where `jitter` is a uniform random draw.
    pub fn backoff_ms(&self, attempts: u32, jitter: u64) -> u64 {
        let exponent = attempts.saturating_sub(1).min(62);
        let delay = self
            .base_ms
            .saturating_mul(1u64 << exponent)
            .min(self.max_ms);
        let half = delay / 2;
        let spread = delay - half + 1;
        half + ((u128::from(jitter) * u128::from(spread)) >> 64) as u64
    }
}

/// Everything the pure functions need besides the state and the time.
///
/// `catalog` is the current catalog: tasks are validated and started under it. Tasks started
/// under an earlier catalog complete under that one when it is kept ([`Game::keep`]), found by
/// the hash the task recorded ([`Task::catalog_hash`](crate::model::Task::catalog_hash)).
#[derive(Debug, Clone)]
pub struct Game<'c> {
    pub catalog: &'c Catalog,
    /// The current catalog's [content hash](Catalog::content_hash).
    pub catalog_hash: CatalogHash,
    /// Other catalogs by content hash, for tasks that started under them.
    pub earlier: BTreeMap<CatalogHash, &'c Catalog>,
    pub limits: Limits,
    pub retry: RetryPolicy,
    /// The server secret task seeds derive from. Never logged: its `Debug` is redacted.
    pub seed_secret: SeedSecret,
}

/// The server secret task seeds derive from (DESIGN.md section 5: `HMAC-SHA256(secret, …)`).
/// Its `Debug` prints `SeedSecret(***)`, so a `Game` in a log line never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SeedSecret(Vec<u8>);

impl SeedSecret {
    /// The secret's bytes, for the seed's HMAC. Never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SeedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeedSecret(***)")
    }
}

impl<'c> Game<'c> {
    /// The rules with `catalog` as the current catalog (its hash computed once, here), the
    /// default limits and retry policy, and no earlier catalogs.
    pub fn new(catalog: &'c Catalog, seed_secret: impl Into<Vec<u8>>) -> Self {
        Game {
            catalog,
            catalog_hash: catalog.content_hash(),
            earlier: BTreeMap::new(),
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            seed_secret: SeedSecret(seed_secret.into()),
        }
    }

    /// Keeps `catalog` so that tasks started under it complete under it. Keeping the current
    /// catalog, or one already kept, changes nothing.
    pub fn keep(mut self, catalog: &'c Catalog) -> Self {
        let hash = catalog.content_hash();
        if hash != self.catalog_hash {
            self.earlier.insert(hash, catalog);
        }
        self
    }

    /// The catalog with content hash `hash` and that hash: the current one, a kept one, or — for
    /// `None` (a task from before hashes were recorded) or a hash no longer kept — the current
    /// one.
    pub fn catalog_for(&self, hash: Option<&str>) -> (&'c Catalog, &str) {
        match hash {
            Some(hash) if hash != self.catalog_hash => match self.earlier.get_key_value(hash) {
                Some((hash, catalog)) => (catalog, hash),
                None => (self.catalog, &self.catalog_hash),
            },
            _ => (self.catalog, &self.catalog_hash),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff_ms(1, 0), 500);
        assert_eq!(policy.backoff_ms(1, u64::MAX), 1000);
        assert_eq!(policy.backoff_ms(2, 0), 1000);
        assert_eq!(policy.backoff_ms(3, 0), 2000);
        assert_eq!(policy.backoff_ms(40, 0), 30_000);
        assert_eq!(policy.backoff_ms(40, u64::MAX), 60_000);
        assert_eq!(policy.backoff_ms(u32::MAX, u64::MAX), 60_000);
    }

    #[test]
    fn a_game_in_a_log_line_does_not_show_its_seed_secret() {
        let game = Game::new(Catalog::shipped(), "a-seed-secret-nobody-may-read");
        let printed = format!("{game:?}");
        assert!(!printed.contains("a-seed-secret"), "{printed}");
        assert!(printed.contains("SeedSecret(***)"), "{printed}");
        assert_eq!(game.seed_secret.expose(), b"a-seed-secret-nobody-may-read");
    }
}

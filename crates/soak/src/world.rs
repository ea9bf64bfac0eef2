//! What the driver and the checks share: the soak's start time and seed secret, its simulated
//! clients, and what a finished run leaves for the checks ([`Ended`]). The driver runs a soak and
//! hands the checks an [`Ended`]; the checks never see the driver.

use std::collections::{BTreeMap, BTreeSet};

use idle_app::memory::{ManualClock, MemoryNotifier};
use idle_app::state::PlayerState;
use idle_core::model::Millis;
use serde_json::Value;

use crate::chaos::Chaos;
use crate::report::Traffic;

/// 2027-01-15T08:00:00Z.
pub const START: Millis = 1_800_000_000_000;
/// The seed secret of soak runs (outcomes are replayed with it).
pub const SEED_SECRET: &str = "soak-seed-secret-soak-seed-secret-soak";

/// One simulated client.
#[derive(Debug)]
pub(crate) struct Client {
    pub player_id: String,
    /// Every connection id it ever used.
    pub connections: Vec<String>,
    /// The open connection and how many of its posts were read.
    pub online: Option<(String, usize)>,
    pub offline_until: usize,
    /// Acked task ids.
    pub acked: BTreeSet<String>,
    /// An enqueue without an answer yet: resent with the same request id.
    pub pending: Option<(String, Value)>,
    /// Request ids acked, with their bodies (resent now and then: must be absorbed).
    pub sent: Vec<(String, Value)>,
    pub next_request: u64,
    /// The state after set-up: the starting point of the expected ledger.
    pub starter: Option<PlayerState>,
    /// The last snapshot a sync returned.
    pub snapshot: Option<Value>,
    pub traffic: Traffic,
}

impl Client {
    pub(crate) fn new(player_id: String) -> Client {
        Client {
            player_id,
            connections: Vec::new(),
            online: None,
            offline_until: 0,
            acked: BTreeSet::new(),
            pending: None,
            sent: Vec::new(),
            next_request: 1,
            starter: None,
            snapshot: None,
            traffic: Traffic::default(),
        }
    }
}

/// Per-player totals the checks need, as a map from item to units.
pub(crate) type Items = BTreeMap<String, i128>;

/// A finished run, as the checks read it: the store (read without faults), what the gateway
/// received, the clock, the faults injected and every client's and the run's traffic.
pub(crate) struct Ended<'a, S> {
    pub store: &'a S,
    pub notifier: &'a MemoryNotifier,
    pub clock: &'a ManualClock,
    pub chaos: &'a Chaos,
    pub clients: &'a [Client],
    pub traffic: &'a Traffic,
}

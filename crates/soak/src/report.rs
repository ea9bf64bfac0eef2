//! What a soak run did and found.

use std::collections::BTreeMap;
use std::fmt;

use crate::chaos::FaultCounts;

/// Traffic counters of the driver.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Traffic {
    pub rounds: usize,
    pub ticks: usize,
    pub tick_errors: usize,
    /// Players the ticker advanced: due players the wake-ups had not advanced (the safety net
    /// at work, e.g. after a crash or a wake-up that could not be armed).
    pub tick_advanced: usize,
    /// Players woken by a due wake-up.
    pub wake_ups: usize,
    /// Wake-ups that failed (armed again for the next round).
    pub wake_failures: usize,
    pub connects: usize,
    pub connect_failures: usize,
    pub messages: usize,
    pub gone: usize,
    pub syncs: usize,
    pub cancels: usize,
    pub cancels_acked: usize,
    /// Enqueues resent with the same request id after no answer or `unavailable`.
    pub resent: usize,
    /// Enqueue replies that never arrived (the post failed).
    pub unanswered: usize,
    /// Repeated request ids answered with the original task.
    pub duplicates_absorbed: usize,
    /// Repeated request ids that made a new task (a violation).
    pub duplicate_created_new: usize,
    /// Error replies to enqueues, by code.
    pub refusals: BTreeMap<String, usize>,
    pub batches: usize,
    pub records: usize,
    /// Records delivered a second time (every batch is delivered twice).
    pub duplicate_records: usize,
    /// Batches delivered again from their start with what follows, after they succeeded.
    pub replayed_batches: usize,
    pub replayed_records: usize,
    /// Records a restarted processor performed first after a crash (each player's last
    /// outbox, for the in-memory store).
    pub restart_records: usize,
    /// Batch item failures the processor reported.
    pub batch_item_failures: usize,
    /// Batches resumed from their lowest failed record.
    pub resumed_batches: usize,
}

impl Traffic {
    /// Adds another set of counters.
    pub fn absorb(&mut self, other: &Traffic) {
        self.ticks += other.ticks;
        self.tick_errors += other.tick_errors;
        self.tick_advanced += other.tick_advanced;
        self.wake_ups += other.wake_ups;
        self.wake_failures += other.wake_failures;
        self.restart_records += other.restart_records;
        self.connects += other.connects;
        self.connect_failures += other.connect_failures;
        self.messages += other.messages;
        self.gone += other.gone;
        self.syncs += other.syncs;
        self.cancels += other.cancels;
        self.cancels_acked += other.cancels_acked;
        self.resent += other.resent;
        self.unanswered += other.unanswered;
        self.duplicates_absorbed += other.duplicates_absorbed;
        self.duplicate_created_new += other.duplicate_created_new;
        for (code, n) in &other.refusals {
            *self.refusals.entry(code.clone()).or_insert(0) += n;
        }
        self.batches += other.batches;
        self.records += other.records;
        self.duplicate_records += other.duplicate_records;
        self.replayed_batches += other.replayed_batches;
        self.replayed_records += other.replayed_records;
        self.batch_item_failures += other.batch_item_failures;
        self.resumed_batches += other.resumed_batches;
    }
}

/// The fate of every notification sequence number.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NotificationFates {
    /// Sequence numbers issued (Σ next_seq − 1).
    pub issued: usize,
    /// Posted to a connection (live, or in a sync reply from the inbox).
    pub posted: usize,
    /// Not posted, and kept for `sync` at the end.
    pub in_inbox: usize,
    /// Neither posted to a connection nor kept: lost (a violation).
    pub lost: usize,
    /// Live deliveries by the outbox processor (a notification to two connections is two).
    pub live_posts: usize,
    /// Live deliveries of a seq the connection had already received (at least once).
    pub repeats: usize,
    /// Live deliveries that reached a connection after a higher seq whose first delivery came
    /// later than theirs: two plans crossing on the wire (a violation).
    pub out_of_order: usize,
}

/// The whole result of a run.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub players: usize,
    /// Tasks created (every task id issued).
    pub tasks: usize,
    /// Tasks by final status.
    pub final_states: BTreeMap<String, usize>,
    /// Tasks by activity.
    pub activities: BTreeMap<String, usize>,
    /// What the committed writes did to tasks: `enqueued` counts every task id they held, and
    /// each final status the history records their outboxes carried; each task reaches its
    /// final state once, so the final kinds equal `final_states` and `enqueued` equals `tasks`.
    pub transitions: BTreeMap<String, usize>,
    /// Completed tasks whose outcome was replayed and matched.
    pub replayed_outcomes: usize,
    pub faults: FaultCounts,
    pub traffic: Traffic,
    pub notifications: NotificationFates,
    /// Item units held by all players at the start, and at the end (checked equal to the
    /// expected sum of every ledger).
    pub units_start: i128,
    pub units_end: i128,
    /// Every violation found (the first ones in `examples`).
    pub violations: usize,
    pub examples: Vec<String>,
    /// Server time the run covered.
    pub simulated_ms: i64,
}

impl Report {
    /// Records a violation.
    pub fn violation(&mut self, what: String) {
        self.violations += 1;
        if self.examples.len() < 20 {
            self.examples.push(what);
        }
    }

    /// Store faults injected in all.
    pub fn store_faults(&self) -> u64 {
        self.faults.transient.values().sum::<u64>()
            + self.faults.after_write.values().sum::<u64>()
            + self.faults.injected_conflicts
    }
}

fn map<K: fmt::Display, V: fmt::Display>(m: &BTreeMap<K, V>) -> String {
    if m.is_empty() {
        return "none".to_owned();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.traffic;
        let n = &self.notifications;
        let x = &self.faults;
        writeln!(f, "players            {}", self.players)?;
        writeln!(
            f,
            "tasks              {} ({})",
            self.tasks,
            map(&self.activities)
        )?;
        writeln!(f, "final states       {}", map(&self.final_states))?;
        writeln!(f, "transitions        {}", map(&self.transitions))?;
        writeln!(
            f,
            "outcomes replayed  {} (each equal to its grant)",
            self.replayed_outcomes
        )?;
        writeln!(
            f,
            "simulated time     {} s in {} rounds",
            self.simulated_ms / 1000,
            t.rounds
        )?;
        writeln!(f, "store faults       {} in all", self.store_faults())?;
        writeln!(f, "  transient        {}", map(&x.transient))?;
        writeln!(f, "  after the write  {}", map(&x.after_write))?;
        writeln!(
            f,
            "  conflicts        {} injected, {} from concurrent advances",
            x.injected_conflicts, x.real_conflicts
        )?;
        writeln!(
            f,
            "post failures      {} injected, {} connections gone",
            x.post_failures, t.gone
        )?;
        writeln!(
            f,
            "crashes            {} before an outbox was performed ({} taken records dropped, {} unperformed outboxes performed at restart)",
            x.crashes, x.crash_dropped_records, t.restart_records
        )?;
        writeln!(f, "stream             {} batches, {} records; {} again as duplicates, {} in {} in-order redeliveries", t.batches, t.records, t.duplicate_records, t.replayed_records, t.replayed_batches)?;
        writeln!(
            f,
            "wake-ups           {} fired, {} failed and re-armed, {} failed to arm; ticker: {} sweeps advanced {} players",
            t.wake_ups, t.wake_failures, x.arm_failures, t.ticks, t.tick_advanced
        )?;
        writeln!(f, "retries            {} batch item failures ({} batches resumed), {} enqueues resent, {} tick errors", t.batch_item_failures, t.resumed_batches, t.resent, t.tick_errors)?;
        writeln!(
            f,
            "duplicates         {} repeated request ids absorbed, {} made a new task",
            t.duplicates_absorbed, t.duplicate_created_new
        )?;
        writeln!(
            f,
            "client messages    {} ({} syncs, {} cancels of which {} acked, {} connects)",
            t.messages, t.syncs, t.cancels, t.cancels_acked, t.connects
        )?;
        writeln!(f, "enqueue refusals   {}", map(&t.refusals))?;
        writeln!(
            f,
            "notifications      {} issued: {} posted, {} kept for sync, {} lost",
            n.issued, n.posted, n.in_inbox, n.lost
        )?;
        writeln!(
            f,
            "live delivery      {} posts, {} repeats (at least once), {} out of order",
            n.live_posts, n.repeats, n.out_of_order
        )?;
        writeln!(
            f,
            "item units         {} at start, {} at end (= starter + every ledger)",
            self.units_start, self.units_end
        )?;
        writeln!(f, "violations         {}", self.violations)?;
        for e in &self.examples {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

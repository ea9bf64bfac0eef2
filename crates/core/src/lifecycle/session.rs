//! The working state of one use case: a copy of the player and its tasks that the steps change,
//! and the notifications and ledger they produce. `finish` turns the differences into a plan.

use std::collections::BTreeMap;

use super::plan::{
    Expected, LedgerEntry, LedgerReason, Plan, PlayerWrite, TaskTransition, TaskWrite,
    TransitionKind, MAX_TASKS_FINISHED_PER_PLAN,
};
use crate::game::Game;
use crate::model::{
    Chunk, Millis, Player, RecentRequest, Snapshot, Task, TaskRequest, TaskResult, TaskStatus,
};
use crate::protocol::{
    EndReason, ErrorCode, Event, Notification, PauseReason, Progress, QueueEntry,
};
use crate::rng::{RollKind, Seed};
use crate::rules::{self, harvest, Outcome};
use crate::validate::{check_start, GearChoice, Rejection};
use crate::xp::level_for_xp;

pub(super) struct Session<'g, 'p> {
    game: &'g Game<'g>,
    before: &'p Player,
    player: Player,
    /// Unfinished tasks as loaded, by id: what changed is written, conditioned on the old status.
    original: BTreeMap<String, Task>,
    /// Working copies in task-id (enqueue) order.
    tasks: Vec<Task>,
    now: Millis,
    notifications: Vec<Notification>,
    ledger: Vec<LedgerEntry>,
    /// Each change of a task's state, recorded where the step makes it.
    transitions: Vec<TaskTransition>,
    queue_changed: bool,
    continues: bool,
}

impl<'g, 'p> Session<'g, 'p> {
    pub(super) fn new(game: &'g Game<'g>, player: &'p Player, tasks: &[Task], now: Millis) -> Self {
        let mut tasks: Vec<Task> = tasks
            .iter()
            .filter(|t| !t.status.is_final() && t.player_id == player.player_id)
            .cloned()
            .collect();
        tasks.sort_by(|a, b| a.task_id.cmp(&b.task_id));
        tasks.dedup_by(|a, b| a.task_id == b.task_id);
        Session {
            game,
            before: player,
            player: player.clone(),
            original: tasks
                .iter()
                .map(|t| (t.task_id.clone(), t.clone()))
                .collect(),
            tasks,
            now,
            notifications: Vec::new(),
            ledger: Vec::new(),
            transitions: Vec::new(),
            queue_changed: false,
            continues: false,
        }
    }

    fn notify(&mut self, event: Event) {
        let seq = self.player.next_seq;
        self.player.next_seq += 1;
        self.notifications.push(Notification {
            seq,
            at: self.now,
            event,
        });
    }

    fn record(&mut self, task_id: &str, item: &str, delta: i64, reason: LedgerReason) {
        if delta != 0 {
            self.ledger.push(LedgerEntry {
                task_id: task_id.to_owned(),
                item: item.to_owned(),
                delta,
                reason,
            });
        }
    }

    /// Records that task `i` just made the change `kind` (call after changing it).
    fn transition(&mut self, i: usize, kind: TransitionKind, code: Option<&str>) {
        let task = &self.tasks[i];
        self.transitions.push(TaskTransition {
            task_id: task.task_id.clone(),
            activity: task.request.activity(),
            kind,
            attempts: task.attempts,
            code: code.map(str::to_owned),
        });
    }

    fn seed(&self, task_id: &str) -> Seed {
        Seed::for_task(
            self.game.seed_secret.expose(),
            &self.player.player_id,
            task_id,
        )
    }

    fn active(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| !t.status.is_final())
    }

    // ---- advance -------------------------------------------------------------------------

    /// The end of the time the player's tasks may accrue progress in: the offline cap's
    /// horizon (`last_active_at + offline_cap_ms`), none for a player with no recorded activity.
    fn horizon(&self) -> Option<Millis> {
        let cap = self.game.catalog.rules.offline_cap_ms.min(i64::MAX as u64) as i64;
        self.player.last_active_at.map(|at| at.saturating_add(cap))
    }

    /// Progress is computed up to here: now, or the offline cap's horizon if that came first.
    fn until(&self) -> Millis {
        self.horizon().map_or(self.now, |h| h.min(self.now))
    }

    /// The player is active now (a connect or any message; never the timer): tasks paused at
    /// the offline cap resume from now, shifted by the time they were paused, and the cap
    /// counts from now. A player past its horizon whose tasks were not yet brought there (the
    /// timer is late) is brought there first, so exactly `offline_cap_ms` accrued while away.
    pub(super) fn touch(&mut self) {
        let now = self.now;
        if self.horizon().is_some_and(|h| h < now) {
            self.advance();
            if self.continues {
                // More is due than one plan may write: the catch-up goes first (the caller or
                // the timer advances again); the activity is recorded by the next message.
                return;
            }
            let horizon = self.until();
            for i in 0..self.tasks.len() {
                let task = &mut self.tasks[i];
                if task.status.is_final() {
                    continue;
                }
                if let Some(paused) = task.paused_at.take() {
                    let gap = now.saturating_sub(paused);
                    task.started_at = task.started_at.map(|t| t.saturating_add(gap));
                    task.ends_at = task.ends_at.map(|t| t.saturating_add(gap));
                    self.queue_changed = true;
                }
                if task.status == TaskStatus::Retrying {
                    if let Some(at) = task.retry_at.filter(|at| *at > horizon) {
                        task.retry_at = Some(at.saturating_add(now - horizon));
                        self.queue_changed = true;
                    }
                }
            }
        }
        self.player.last_active_at = Some(now);
        self.player.wake_at = self.next_wake();
    }

    pub(super) fn advance(&mut self) {
        let until = self.until();
        loop {
            if self.finished() >= MAX_TASKS_FINISHED_PER_PLAN {
                // The rest continues in the next plan: the player stays due (its wake time is
                // now or earlier), and `Plan::continues` tells the caller to advance again.
                self.continues = true;
                break;
            }
            if let Some(i) = self.index_of(TaskStatus::Running) {
                if self.tasks[i].paused_at.is_some() {
                    break;
                }
                let ends_at = self.tasks[i].ends_at.unwrap_or(until);
                if ends_at <= until {
                    if self.tasks[i].request.is_continuous() {
                        self.settle_chunk(i, ends_at);
                    } else {
                        self.complete(i, ends_at);
                    }
                    continue;
                }
                break;
            }
            let Some(i) = self
                .tasks
                .iter()
                .position(|t| matches!(t.status, TaskStatus::Queued | TaskStatus::Retrying))
            else {
                break;
            };
            let task = &self.tasks[i];
            if task.status == TaskStatus::Retrying && task.retry_at.is_some_and(|at| at > until) {
                break;
            }
            // Back to back on server time: no earlier than its enqueue, the end of the previous
            // task and its retry time; never in the future.
            let start_at = task
                .enqueued_at
                .max(self.player.free_at)
                .max(task.retry_at.unwrap_or(Millis::MIN))
                .min(until);
            self.start(i, start_at);
        }
        // At or past the horizon, a task that would run beyond it pauses there.
        if let Some(h) = self.horizon().filter(|h| *h <= self.now) {
            if !self.continues {
                self.pause_at(h);
            }
        }
        self.player.wake_at = self.next_wake();
    }

    /// Pauses the running task at the offline cap's horizon, once, and says so.
    fn pause_at(&mut self, horizon: Millis) {
        let Some(i) = self.index_of(TaskStatus::Running) else {
            return;
        };
        let task = &mut self.tasks[i];
        if task.paused_at.is_some() || task.ends_at.is_some_and(|end| end <= horizon) {
            return;
        }
        task.paused_at = Some(horizon);
        let event = Event::TaskPaused {
            task_id: task.task_id.clone(),
            paused_at: horizon,
            reason: PauseReason::OfflineCap,
        };
        self.notify(event);
        self.queue_changed = true;
    }

    /// Tasks this session moved to a final state (the loaded ones were all unfinished).
    fn finished(&self) -> usize {
        self.tasks.iter().filter(|t| t.status.is_final()).count()
    }

    fn index_of(&self, status: TaskStatus) -> Option<usize> {
        self.tasks.iter().position(|t| t.status == status)
    }

    fn start(&mut self, i: usize, at: Millis) {
        let game = self.game;
        let request = self.tasks[i].request.clone();
        // The catalog may have changed since it was queued: its target must still be there,
        // bypass or not (there is nothing to run without a definition).
        if let Err(rejection) = crate::validate::recheck_at_start(game, &request) {
            return self.reject(i, at, &rejection);
        }
        if request.is_continuous() {
            self.tasks[i].chunk = Some(Chunk {
                index: 0,
                first_action: 0,
                of: None,
            });
        }
        if let Err(rejection) = self.begin(i, at) {
            self.tasks[i].chunk = None;
            return self.reject(i, at, &rejection);
        }
        let task = &self.tasks[i];
        let (quantity, ends_at) = (task.request.quantity(), task.ends_at.unwrap_or(at));
        let event = Event::TaskStarted {
            task_id: task.task_id.clone(),
            activity: request.activity(),
            target: request.target().to_owned(),
            quantity,
            repeat: request.repeat(),
            started_at: at,
            ends_at,
        };
        self.transition(i, TransitionKind::Started, None);
        self.notify(event);
        self.queue_changed = true;
    }

    /// How many actions the next chunk of continuous task `i` runs: as many as fit in
    /// `chunk_ms` at the player's current action time (at least one, at most
    /// `chunk_max_actions`), then fewer if the inputs (tool durability, materials) last for
    /// fewer; and the start check for it. `Err` when not even one action can start.
    fn chunk_request(
        &self,
        i: usize,
    ) -> Result<(TaskRequest, crate::validate::Prepared), Rejection> {
        let game = self.game;
        let limits = &game.limits;
        let task = &self.tasks[i];
        let check = |n: u32| {
            let request = task.request.with_quantity(n);
            let prepared = if task.bypass_validation {
                Ok(bypass_prepare(game, &self.player, &request))
            } else {
                check_start(game, &self.player, &request)
            };
            prepared.map(|p| (request, p))
        };
        // The seed's action index is a u32: a task that has used it up has no inputs left.
        let first = task.chunk.as_ref().map_or(0, |c| c.first_action);
        let room = u32::MAX - first;
        if room == 0 {
            return Err(Rejection::InvalidRequest(
                "this task has run as many actions as one task may".into(),
            ));
        }
        let one = check(1)?;
        let skill = self
            .player
            .skill_level(task.request.activity().skill(), game.catalog);
        let gear = one
            .1
            .gear
            .iter()
            .map(|(slot, choice)| (slot.clone(), choice.equipped().clone()))
            .collect();
        let action = action_ms(game, &one.0, skill, &gear).max(1);
        let by_time =
            (limits.chunk_ms / action).clamp(1, u64::from(limits.chunk_max_actions.max(1)));
        let most = (by_time as u32).min(room);
        if most == 1 {
            return Ok(one);
        }
        if let Ok(all) = check(most) {
            return Ok(all);
        }
        // The inputs run out within the chunk: the most actions they allow (checks are
        // monotone in the quantity).
        let (mut ok, mut bad) = (1u32, most);
        while bad - ok > 1 {
            let mid = ok + (bad - ok) / 2;
            if check(mid).is_ok() {
                ok = mid;
            } else {
                bad = mid;
            }
        }
        check(ok)
    }

    /// Begins running task `i` at `at` (a fixed task, or the next chunk of a continuous one):
    /// checks the player, equips gear, takes materials and freezes the input snapshot.
    fn begin(&mut self, i: usize, at: Millis) -> Result<(), Rejection> {
        let game = self.game;
        let catalog = game.catalog;
        let task = &self.tasks[i];
        let (request, prepared) = if task.request.is_continuous() {
            self.chunk_request(i)?
        } else {
            let request = task.request.clone();
            let prepared = if task.bypass_validation {
                bypass_prepare(game, &self.player, &request)
            } else {
                check_start(game, &self.player, &request)?
            };
            (request, prepared)
        };
        let task_id = task.task_id.clone();
        let quantity = request.quantity();
        let skill = request.activity().skill();
        let mut gear = BTreeMap::new();
        for (slot, choice) in prepared.gear {
            if let GearChoice::FromInventory { key, equipped } = &choice {
                self.player.remove_items(key, 1);
                self.record(&task_id, key, -1, LedgerReason::Equip);
                self.player.equipment.insert(slot.clone(), equipped.clone());
            }
            gear.insert(slot, choice.equipped().clone());
        }
        let mut reserved = BTreeMap::new();
        if let TaskRequest::Craft { recipe, .. } = &request {
            if let Some(def) = catalog.recipes.get(recipe) {
                for (item, units) in &def.inputs {
                    let wanted = u64::from(*units) * u64::from(quantity);
                    // Bypassed tasks take what there is; validated ones have it all.
                    let taken = wanted.min(self.player.count(item));
                    self.player.remove_items(item, taken);
                    self.record(&task_id, item, -(taken as i64), LedgerReason::Reserve);
                    reserved.insert(item.clone(), taken);
                }
            }
        }
        let skill_level = self.player.skill_level(skill, catalog);
        let pity = match &request {
            TaskRequest::Harvest { resource, .. } => catalog
                .resources
                .get(resource)
                .map(|r| {
                    r.rare_drops
                        .iter()
                        .map(|d| {
                            let key = harvest::pity_key(resource, &d.item);
                            let misses = self.player.pity.get(&key).copied().unwrap_or(0);
                            (key, misses)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            _ => BTreeMap::new(),
        };
        let action_ms = action_ms(game, &request, skill_level, &gear);
        let ends_at = at.saturating_add(
            (action_ms.saturating_mul(u64::from(quantity))).min(i64::MAX as u64) as i64,
        );
        let snapshot = Snapshot {
            character_level: self.player.character_level(catalog),
            skill_level,
            action_ms,
            gear,
            pity,
            reserved,
        };
        let task = &mut self.tasks[i];
        task.request = request;
        task.status = TaskStatus::Running;
        task.started_at = Some(at);
        task.ends_at = Some(ends_at);
        task.retry_at = None;
        task.rules_version = catalog.version;
        task.catalog_hash = Some(game.catalog_hash.clone());
        task.snapshot = Some(snapshot);
        Ok(())
    }

    /// Settles the chunk of continuous task `i` that ended at `at`: grants its outcome, writes
    /// its history record (`<task id>.<chunk>`), announces it, and begins the next chunk with a
    /// fresh snapshot — or ends the task when its inputs ran out.
    fn settle_chunk(&mut self, i: usize, at: Millis) {
        let quantity = self.tasks[i].request.quantity();
        let outcome = self.settle(i, quantity);
        let refunded = self.capped_by_reserve(i, outcome.preserved.clone());
        let level_ups = self.apply(i, at, &outcome, &refunded);
        let (used, used_hash) = self.game.catalog_for(self.tasks[i].catalog_hash.as_deref());
        let (version, used_hash) = (used.version, used_hash.to_owned());
        let task = &self.tasks[i];
        let task_id = task.task_id.clone();
        let chunk = task.chunk.clone().unwrap_or(Chunk {
            index: 0,
            first_action: 0,
            of: None,
        });
        let mut record = task.clone();
        record.task_id = Chunk::record_id(&task_id, chunk.index);
        record.status = TaskStatus::Completed;
        record.ends_at = Some(at);
        record.finished_at = Some(at);
        record.rules_version = version;
        record.catalog_hash = Some(used_hash);
        record.result = Some(TaskResult {
            outcome: outcome.clone(),
            refunded: refunded.clone(),
        });
        record.chunk = Some(Chunk {
            of: Some(task_id.clone()),
            ..chunk.clone()
        });
        let activity = task.request.activity();
        // Pushed at the end: indices of the working tasks stay valid; `finish` writes it as a
        // new record (put if absent) and it counts towards the plan's finished tasks.
        self.tasks.push(record);
        self.notify(Event::ChunkSettled {
            task_id: task_id.clone(),
            activity,
            chunk: chunk.index,
            first_action: chunk.first_action,
            outcome,
            refunded,
            level_ups,
        });
        self.tasks[i].chunk = Some(Chunk {
            index: chunk.index.saturating_add(1),
            first_action: chunk.first_action.saturating_add(quantity),
            of: None,
        });
        // The next chunk runs under the current catalog, with the player as they are now.
        let next = crate::validate::recheck_at_start(self.game, &self.tasks[i].request)
            .and_then(|()| self.begin(i, at));
        match next {
            Ok(()) => self.queue_changed = true,
            Err(_) => self.end_exhausted(i, at),
        }
    }

    /// Ends continuous task `i` at `at` because its next chunk cannot start (its inputs ran
    /// out): completed, with an outcome of no actions (every grant was in its chunks).
    fn end_exhausted(&mut self, i: usize, at: Millis) {
        let outcome = self.settle(i, 0);
        let task = &mut self.tasks[i];
        task.status = TaskStatus::Completed;
        task.finished_at = Some(at);
        task.ends_at = Some(at);
        task.result = Some(TaskResult {
            outcome: outcome.clone(),
            refunded: BTreeMap::new(),
        });
        let event = Event::TaskCompleted {
            task_id: task.task_id.clone(),
            activity: task.request.activity(),
            outcome,
            refunded: BTreeMap::new(),
            level_ups: BTreeMap::new(),
            reason: Some(EndReason::InputsExhausted),
        };
        self.player.free_at = self.player.free_at.max(at);
        self.transition(i, TransitionKind::Completed, None);
        self.notify(event);
        self.queue_changed = true;
    }

    fn reject(&mut self, i: usize, at: Millis, rejection: &Rejection) {
        let task = &mut self.tasks[i];
        task.status = TaskStatus::Rejected;
        task.finished_at = Some(at);
        task.failure = Some(crate::model::Failure {
            code: rejection.code().as_str().to_owned(),
            message: rejection.to_string(),
        });
        let event = Event::TaskFailed {
            task_id: task.task_id.clone(),
            code: rejection.code(),
            message: rejection.to_string(),
            attempts: task.attempts,
            retry_at: None,
        };
        self.transition(i, TransitionKind::Rejected, Some(rejection.code().as_str()));
        self.notify(event);
        self.queue_changed = true;
    }

    /// Computes the outcome of the first `actions` actions of task `i` (of its current chunk,
    /// for a continuous task).
    fn settle(&self, i: usize, actions: u32) -> Outcome {
        let task = &self.tasks[i];
        let seed = self.seed(task.seed_task_id());
        let snapshot = task
            .snapshot
            .clone()
            .unwrap_or_else(|| empty_snapshot(self.game, &self.player, &task.request));
        // Under the catalog the task started with, when it is kept; else the current one. A
        // target missing from that catalog settles as nothing; the caller refunds the reserve.
        let (catalog, _) = self.game.catalog_for(task.catalog_hash.as_deref());
        rules::outcome_from(
            &task.request,
            &snapshot,
            &seed,
            catalog,
            task.first_action(),
            actions,
        )
        .unwrap_or_default()
    }

    /// Refunds never give back more than the task took at start (an admin's bypassed task may
    /// have taken less than the recipe asks).
    fn capped_by_reserve(
        &self,
        i: usize,
        mut refunds: BTreeMap<String, u64>,
    ) -> BTreeMap<String, u64> {
        let reserved = self.tasks[i].snapshot.as_ref().map(|s| &s.reserved);
        refunds.retain(|item, units| {
            *units = (*units).min(reserved.and_then(|r| r.get(item)).copied().unwrap_or(0));
            *units > 0
        });
        refunds
    }

    fn complete(&mut self, i: usize, at: Millis) {
        let quantity = self.tasks[i].request.quantity();
        let outcome = self.settle(i, quantity);
        let refunded = self.capped_by_reserve(i, outcome.preserved.clone());
        self.finish_task(i, at, TaskStatus::Completed, outcome, refunded);
    }

    /// Applies an outcome and the refunds to the player and closes task `i`.
    fn finish_task(
        &mut self,
        i: usize,
        at: Millis,
        status: TaskStatus,
        outcome: Outcome,
        refunded: BTreeMap<String, u64>,
    ) {
        let level_ups = self.apply(i, at, &outcome, &refunded);
        let task_id = self.tasks[i].task_id.clone();
        let activity = self.tasks[i].request.activity();
        let continuous = self.tasks[i].request.is_continuous();
        // Record the catalog the outcome was computed with (see `settle`), for replay.
        let (used, used_hash) = self.game.catalog_for(self.tasks[i].catalog_hash.as_deref());
        let used_hash = used_hash.to_owned();
        let task = &mut self.tasks[i];
        task.status = status;
        task.finished_at = Some(at);
        task.rules_version = used.version;
        task.catalog_hash = Some(used_hash);
        task.result = Some(TaskResult {
            outcome: outcome.clone(),
            refunded: refunded.clone(),
        });
        let kind = if status == TaskStatus::Completed {
            TransitionKind::Completed
        } else {
            TransitionKind::Cancelled
        };
        self.transition(i, kind, None);
        let event = if status == TaskStatus::Completed {
            Event::TaskCompleted {
                task_id,
                activity,
                outcome,
                refunded,
                level_ups,
                reason: None,
            }
        } else {
            Event::TaskCancelled {
                task_id,
                settled: Some(outcome),
                refunded,
                reason: continuous.then_some(EndReason::Stopped),
            }
        };
        self.notify(event);
        self.queue_changed = true;
    }

    /// Applies an outcome and the refunds of task `i` to the player; returns the level-ups.
    fn apply(
        &mut self,
        i: usize,
        at: Millis,
        outcome: &Outcome,
        refunded: &BTreeMap<String, u64>,
    ) -> BTreeMap<String, u32> {
        let catalog = self.game.catalog;
        let task_id = self.tasks[i].task_id.clone();
        let activity = self.tasks[i].request.activity();
        let skill = activity.skill();
        let max = catalog.rules.max_level;
        let levels_before = (
            level_for_xp(self.player.character_xp, max),
            self.player.skill_level(skill, catalog),
        );
        let xp = self.player.skills.entry(skill).or_insert(0);
        *xp = xp.saturating_add(outcome.xp);
        self.player.character_xp = self.player.character_xp.saturating_add(outcome.xp);
        for (item, units) in &outcome.items {
            self.player.add_items(item, *units);
            self.record(&task_id, item, *units as i64, LedgerReason::Grant);
        }
        for (item, units) in refunded {
            self.player.add_items(item, *units);
            self.record(&task_id, item, *units as i64, LedgerReason::Refund);
        }
        for station in &outcome.stations {
            self.player.stations.insert(station.clone());
        }
        let used = self.tasks[i]
            .snapshot
            .as_ref()
            .map(|s| s.gear.clone())
            .unwrap_or_default();
        for (slot, lost) in &outcome.wear {
            let same =
                used.get(slot).map(|g| &g.item) == self.player.equipment.get(slot).map(|g| &g.item);
            if let (true, Some(worn)) = (same, self.player.equipment.get_mut(slot)) {
                worn.durability = worn.durability.saturating_sub(*lost);
                if worn.durability == 0 {
                    // Broken gear is gone; the next task that needs the slot equips a spare.
                    self.player.equipment.remove(slot);
                }
            }
        }
        for (key, misses) in &outcome.pity {
            self.player.pity.insert(key.clone(), *misses);
        }
        self.player.free_at = self.player.free_at.max(at);
        let mut level_ups = BTreeMap::new();
        let character = level_for_xp(self.player.character_xp, max);
        if character > levels_before.0 {
            level_ups.insert("character".to_owned(), character);
        }
        let skill_level = self.player.skill_level(skill, catalog);
        if skill_level > levels_before.1 {
            level_ups.insert(crate::validate::skill_name(skill).to_owned(), skill_level);
        }
        level_ups
    }

    /// The progress of the running task at now, and when the next update is due (none after
    /// the last milestone before its end). `None` when no task is running.
    pub(super) fn progress_now(&self) -> Option<(Progress, Option<Millis>)> {
        let task = self.active().find(|t| t.status == TaskStatus::Running)?;
        let (started, ends_at, snapshot) =
            (task.started_at?, task.ends_at?, task.snapshot.as_ref()?);
        if ends_at <= self.now || task.paused_at.is_some() {
            return None;
        }
        let total = task.request.quantity();
        let done = (((self.now - started).max(0) as u64) / snapshot.action_ms.max(1))
            .min(u64::from(total.saturating_sub(1))) as u32;
        let update = Progress {
            at: self.now,
            task_id: task.task_id.clone(),
            done,
            total,
            ends_at,
        };
        Some((update, self.next_progress(task)))
    }

    /// Every progress update of a task this session started and left running, after now:
    /// wake-ups each posted without a write, armed together with the plan's write.
    fn progress_milestones(&self) -> Vec<Millis> {
        let Some(task) = self.active().find(|t| t.status == TaskStatus::Running) else {
            return Vec::new();
        };
        let started_here = self
            .transitions
            .iter()
            .any(|t| t.task_id == task.task_id && t.kind == TransitionKind::Started);
        if !started_here || task.paused_at.is_some() {
            return Vec::new();
        }
        let mut milestones = Vec::new();
        let mut after = self.now;
        while let Some(at) = self.next_progress_after(task, after) {
            milestones.push(at);
            after = at;
        }
        milestones
    }

    /// The next time this player needs advancing, if any.
    /// The next time this player needs advancing, if any: the running task's end (or chunk
    /// end), a retry, or the offline cap's horizon when that comes first (to pause there).
    /// Nothing while a task is paused at the cap: the player's next activity resumes it.
    fn next_wake(&self) -> Option<Millis> {
        let horizon = self.horizon();
        if let Some(task) = self.active().find(|t| t.status == TaskStatus::Running) {
            if task.paused_at.is_some() {
                return None;
            }
            return task.ends_at.map(|end| horizon.map_or(end, |h| end.min(h)));
        }
        let task = self
            .active()
            .find(|t| matches!(t.status, TaskStatus::Queued | TaskStatus::Retrying))?;
        match task.retry_at {
            Some(at) => horizon.is_none_or(|h| at <= h).then_some(at),
            None => Some(self.now),
        }
    }

    /// The next progress milestone strictly after now: every `step` actions, where a task gets at
    /// most `progress_updates` updates and they are at least `min_progress_ms` apart.
    fn next_progress(&self, task: &Task) -> Option<Millis> {
        self.next_progress_after(task, self.now)
    }

    /// The next progress milestone of `task` strictly after `after` (ms since the epoch).
    fn next_progress_after(&self, task: &Task, after: Millis) -> Option<Millis> {
        let limits = &self.game.limits;
        let snapshot = task.snapshot.as_ref()?;
        let started = task.started_at?;
        let total = u64::from(task.request.quantity());
        let action = snapshot.action_ms.max(1);
        let per_update = total.div_ceil(u64::from(limits.progress_updates.max(1) + 1));
        let step = per_update
            .max(limits.min_progress_ms.div_ceil(action))
            .max(1);
        let elapsed = (after - started).max(0) as u64;
        let next_action = (elapsed / action / step + 1) * step;
        (next_action < total)
            .then(|| started.saturating_add((next_action * action).min(i64::MAX as u64) as i64))
    }

    // ---- enqueue, cancel, transient failure ----------------------------------------------

    /// Takes one token from the player's bucket, refilled on server time.
    pub(super) fn take_token(&mut self) -> Result<(), Rejection> {
        let limits = &self.game.limits;
        let capacity = u64::from(limits.rate_capacity) * 1000;
        let refill = limits.rate_refill_ms.max(1);
        let bucket = &mut self.player.rate;
        let elapsed = (self.now - bucket.updated_at).max(0) as u64;
        let earned = elapsed.saturating_mul(1000) / refill;
        let tokens = bucket.milli_tokens.saturating_add(earned).min(capacity);
        if tokens < 1000 {
            let retry_after_ms = ((1000 - tokens) * refill).div_ceil(1000);
            return Err(Rejection::RateLimited { retry_after_ms });
        }
        bucket.milli_tokens = tokens - 1000;
        bucket.updated_at = self.now.max(bucket.updated_at);
        Ok(())
    }

    pub(super) fn enqueue(
        &mut self,
        request_id: &str,
        request: &TaskRequest,
        bypass_validation: bool,
    ) -> Result<String, Rejection> {
        let limits = &self.game.limits;
        if self.active().count() >= limits.max_queue {
            return Err(Rejection::QueueFull {
                max: limits.max_queue,
            });
        }
        self.take_token()?;
        let task_id = format!("{:012}", self.player.next_task_seq);
        self.player.next_task_seq += 1;
        self.player.recent_requests.push(RecentRequest {
            request_id: request_id.to_owned(),
            task_id: task_id.clone(),
        });
        let excess = self
            .player
            .recent_requests
            .len()
            .saturating_sub(limits.recent_requests);
        self.player.recent_requests.drain(..excess);
        self.tasks.push(Task {
            player_id: self.player.player_id.clone(),
            task_id: task_id.clone(),
            request_id: request_id.to_owned(),
            request: request.clone(),
            bypass_validation,
            status: TaskStatus::Queued,
            enqueued_at: self.now,
            started_at: None,
            ends_at: None,
            finished_at: None,
            attempts: 0,
            retry_at: None,
            rules_version: self.game.catalog.version,
            catalog_hash: None,
            snapshot: None,
            result: None,
            failure: None,
            chunk: None,
            paused_at: None,
        });
        self.transition(self.tasks.len() - 1, TransitionKind::Enqueued, None);
        self.queue_changed = true;
        Ok(task_id)
    }

    pub(super) fn cancel(&mut self, task_id: &str) -> Result<(), Rejection> {
        let not_found = || Rejection::NotFound {
            task_id: task_id.to_owned(),
        };
        let i = self
            .tasks
            .iter()
            .position(|t| t.task_id == task_id)
            .ok_or_else(not_found)?;
        if self.tasks[i].status.is_final() {
            return Err(not_found());
        }
        self.take_token()?;
        let now = self.now;
        if self.tasks[i].status != TaskStatus::Running {
            let task = &mut self.tasks[i];
            task.status = TaskStatus::Cancelled;
            task.finished_at = Some(now);
            task.retry_at = None;
            let event = Event::TaskCancelled {
                task_id: task.task_id.clone(),
                settled: None,
                refunded: BTreeMap::new(),
                reason: task.request.is_continuous().then_some(EndReason::Stopped),
            };
            self.transition(i, TransitionKind::Cancelled, None);
            self.notify(event);
            self.queue_changed = true;
            return Ok(());
        }
        let task = &self.tasks[i];
        let quantity = task.request.quantity();
        let (started, action_ms) = match (&task.started_at, &task.snapshot) {
            (Some(started), Some(snapshot)) => (*started, snapshot.action_ms.max(1)),
            _ => (now, 1),
        };
        let done = (((now - started).max(0) as u64) / action_ms).min(u64::from(quantity)) as u32;
        let outcome = self.settle(i, done);
        // Refund the reserved materials of the actions not done, plus what was preserved.
        let mut refunded = outcome.preserved.clone();
        if let Some(snapshot) = &self.tasks[i].snapshot {
            for (item, units) in &snapshot.reserved {
                let unused = units / u64::from(quantity.max(1)) * u64::from(quantity - done);
                if unused > 0 {
                    *refunded.entry(item.clone()).or_insert(0) += unused;
                }
            }
        }
        let refunded = self.capped_by_reserve(i, refunded);
        self.finish_task(i, now, TaskStatus::Cancelled, outcome, refunded);
        Ok(())
    }

    pub(super) fn fail_transient(&mut self, task_id: &str, reason: &str) -> bool {
        let Some(i) = self.tasks.iter().position(|t| {
            t.task_id == task_id && matches!(t.status, TaskStatus::Queued | TaskStatus::Retrying)
        }) else {
            return false;
        };
        let policy = &self.game.retry;
        let attempts = self.tasks[i].attempts.saturating_add(1);
        let jitter = self
            .seed(task_id)
            .rolls(RollKind::RetryJitter, attempts)
            .next_u64();
        let now = self.now;
        let task = &mut self.tasks[i];
        task.attempts = attempts;
        let (kind, code, retry_at) = if attempts >= policy.max_attempts {
            task.status = TaskStatus::Failed;
            task.finished_at = Some(now);
            task.retry_at = None;
            (TransitionKind::Failed, ErrorCode::RetriesExhausted, None)
        } else {
            let at = now.saturating_add(policy.backoff_ms(attempts, jitter) as i64);
            task.status = TaskStatus::Retrying;
            task.retry_at = Some(at);
            (
                TransitionKind::Retried,
                ErrorCode::TransientFailure,
                Some(at),
            )
        };
        let message = format!("{reason} (attempt {attempts} of {})", policy.max_attempts);
        task.failure = Some(crate::model::Failure {
            code: code.as_str().to_owned(),
            message: message.clone(),
        });
        let event = Event::TaskFailed {
            task_id: task_id.to_owned(),
            code,
            message,
            attempts,
            retry_at,
        };
        self.transition(i, kind, Some(code.as_str()));
        self.notify(event);
        self.queue_changed = true;
        true
    }

    // ---- finishing -----------------------------------------------------------------------

    pub(super) fn finish(mut self) -> Plan {
        if self.queue_changed {
            let queue = self.active().map(QueueEntry::from).collect();
            self.notify(Event::QueueUpdated { queue });
        }
        let tasks: Vec<TaskWrite> = self
            .tasks
            .iter()
            .filter_map(|task| {
                let expected = match self.original.get(&task.task_id) {
                    None => Expected::Absent,
                    Some(loaded) if loaded == task => return None,
                    Some(loaded) => Expected::Status(loaded.status),
                };
                Some(TaskWrite {
                    task: task.clone(),
                    expected,
                })
            })
            .collect();
        let player = (self.player != *self.before || !tasks.is_empty()).then(|| {
            let mut player = self.player.clone();
            player.version = self.before.version + 1;
            PlayerWrite {
                player,
                expected_version: Some(self.before.version),
            }
        });
        Plan {
            player,
            tasks,
            progress: self.progress_milestones(),
            notifications: self.notifications,
            ledger: self.ledger,
            continues: self.continues,
            transitions: self.transitions,
        }
    }
}

/// Time of one action of a request for this skill level and gear.
fn action_ms(
    game: &Game,
    request: &TaskRequest,
    skill_level: u32,
    gear: &BTreeMap<String, crate::model::Equipped>,
) -> u64 {
    let catalog = game.catalog;
    match request {
        TaskRequest::Harvest { resource, .. } => catalog
            .resources
            .get(resource)
            .map(|r| {
                let tool = gear.get(&r.tool).and_then(|g| catalog.gear(&g.item));
                harvest::action_ms(r, skill_level, tool, catalog)
            })
            .unwrap_or(1),
        _ => request.base_action_ms(catalog).unwrap_or(1).max(1),
    }
}

/// An admin's bypassed task still uses whatever gear the player has.
fn bypass_prepare(
    game: &Game,
    player: &Player,
    request: &TaskRequest,
) -> crate::validate::Prepared {
    let catalog = game.catalog;
    let skill = player.skill_level(request.activity().skill(), catalog);
    let slots = request.gear_slots(catalog);
    crate::validate::Prepared {
        gear: slots
            .into_iter()
            .filter_map(|slot| {
                crate::validate::choose_gear(player, &slot, skill, catalog).map(|c| (slot, c))
            })
            .collect(),
    }
}

fn empty_snapshot(game: &Game, player: &Player, request: &TaskRequest) -> Snapshot {
    Snapshot {
        character_level: player.character_level(game.catalog),
        skill_level: player.skill_level(request.activity().skill(), game.catalog),
        action_ms: 1,
        gear: BTreeMap::new(),
        pity: BTreeMap::new(),
        reserved: BTreeMap::new(),
    }
}

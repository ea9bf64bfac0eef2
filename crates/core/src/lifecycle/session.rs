//! The working state of one use case: a copy of the player and its tasks that the steps change,
//! and the notifications and ledger they produce. `finish` turns the differences into a plan.

use std::collections::BTreeMap;

use super::plan::{
    Expected, LedgerEntry, LedgerReason, Plan, PlayerWrite, TaskTransition, TaskWrite,
    TransitionKind, MAX_TASKS_FINISHED_PER_PLAN,
};
use crate::game::Game;
use crate::model::{
    Millis, Player, RecentRequest, Snapshot, Task, TaskRequest, TaskResult, TaskStatus,
};
use crate::protocol::{ErrorCode, Event, Notification, Progress, QueueEntry};
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
        Seed::for_task(&self.game.seed_secret, &self.player.player_id, task_id)
    }

    fn active(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| !t.status.is_final())
    }

    // ---- advance -------------------------------------------------------------------------

    pub(super) fn advance(&mut self) {
        loop {
            if self.finished() >= MAX_TASKS_FINISHED_PER_PLAN {
                // The rest continues in the next plan: the player stays due (its wake time is
                // now or earlier), and `Plan::continues` tells the caller to advance again.
                self.continues = true;
                break;
            }
            if let Some(i) = self.index_of(TaskStatus::Running) {
                let ends_at = self.tasks[i].ends_at.unwrap_or(self.now);
                if ends_at <= self.now {
                    self.complete(i, ends_at);
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
            if task.status == TaskStatus::Retrying && task.retry_at.is_some_and(|at| at > self.now)
            {
                break;
            }
            // Back to back on server time: no earlier than its enqueue, the end of the previous
            // task and its retry time; never in the future.
            let start_at = task
                .enqueued_at
                .max(self.player.free_at)
                .max(task.retry_at.unwrap_or(Millis::MIN))
                .min(self.now);
            self.start(i, start_at);
        }
        self.player.wake_at = self.next_wake();
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
        let catalog = game.catalog;
        let task = &self.tasks[i];
        let request = task.request.clone();
        // The catalog may have changed since it was queued: its target must still be there,
        // bypass or not (there is nothing to run without a definition).
        if let Err(rejection) = crate::validate::recheck_at_start(game, &request) {
            return self.reject(i, at, &rejection);
        }
        let prepared = if task.bypass_validation {
            Ok(bypass_prepare(game, &self.player, &request))
        } else {
            check_start(game, &self.player, &request)
        };
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(rejection) => return self.reject(i, at, &rejection),
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
        task.status = TaskStatus::Running;
        task.started_at = Some(at);
        task.ends_at = Some(ends_at);
        task.retry_at = None;
        task.rules_version = catalog.version;
        task.catalog_hash = Some(game.catalog_hash.clone());
        task.snapshot = Some(snapshot);
        self.transition(i, TransitionKind::Started, None);
        let event = Event::TaskStarted {
            task_id,
            activity: request.activity(),
            target: request.target().to_owned(),
            quantity,
            started_at: at,
            ends_at,
        };
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

    /// Computes the outcome of the first `actions` actions of task `i`.
    fn settle(&self, i: usize, actions: u32) -> Outcome {
        let task = &self.tasks[i];
        let seed = self.seed(&task.task_id);
        let snapshot = task
            .snapshot
            .clone()
            .unwrap_or_else(|| empty_snapshot(self.game, &self.player, &task.request));
        // Under the catalog the task started with, when it is kept; else the current one. A
        // target missing from that catalog settles as nothing; the caller refunds the reserve.
        let (catalog, _) = self.game.catalog_for(task.catalog_hash.as_deref());
        rules::outcome(&task.request, &snapshot, &seed, catalog, actions).unwrap_or_default()
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
        for (item, units) in &refunded {
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
            }
        } else {
            Event::TaskCancelled {
                task_id,
                settled: Some(outcome),
                refunded,
            }
        };
        self.notify(event);
        self.queue_changed = true;
    }

    /// The progress of the running task at now, and when the next update is due (none after
    /// the last milestone before its end). `None` when no task is running.
    pub(super) fn progress_now(&self) -> Option<(Progress, Option<Millis>)> {
        let task = self.active().find(|t| t.status == TaskStatus::Running)?;
        let (started, ends_at, snapshot) =
            (task.started_at?, task.ends_at?, task.snapshot.as_ref()?);
        if ends_at <= self.now {
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

    /// The first progress update of a task this session started and left running: the wake-up
    /// that begins its chain of updates (each posted without a write).
    fn first_progress(&self) -> Option<Millis> {
        let task = self.active().find(|t| t.status == TaskStatus::Running)?;
        let started_here = self
            .transitions
            .iter()
            .any(|t| t.task_id == task.task_id && t.kind == TransitionKind::Started);
        started_here.then(|| self.next_progress(task)).flatten()
    }

    /// The next time this player needs advancing, if any.
    fn next_wake(&self) -> Option<Millis> {
        if let Some(task) = self.active().find(|t| t.status == TaskStatus::Running) {
            return task.ends_at;
        }
        self.active()
            .find(|t| matches!(t.status, TaskStatus::Queued | TaskStatus::Retrying))
            .and_then(|t| t.retry_at.or(Some(self.now)))
    }

    /// The next progress milestone strictly after now: every `step` actions, where a task gets at
    /// most `progress_updates` updates and they are at least `min_progress_ms` apart.
    fn next_progress(&self, task: &Task) -> Option<Millis> {
        let limits = &self.game.limits;
        let snapshot = task.snapshot.as_ref()?;
        let started = task.started_at?;
        let total = u64::from(task.request.quantity());
        let action = snapshot.action_ms.max(1);
        let per_update = total.div_ceil(u64::from(limits.progress_updates.max(1) + 1));
        let step = per_update
            .max(limits.min_progress_ms.div_ceil(action))
            .max(1);
        let elapsed = (self.now - started).max(0) as u64;
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
            progress_at: self.first_progress(),
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

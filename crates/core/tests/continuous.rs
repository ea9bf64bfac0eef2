//! Continuous tasks (`repeat: until_stopped`) and the offline cap, on a manual clock: the core
//! is driven at the times its wake-ups ask for, as the timer would, and never sleeps.

use std::collections::BTreeMap;

use idle_core::catalog::Catalog;
use idle_core::model::{Equipped, Millis, Player, Repeat, Skill, Task, TaskRequest, TaskStatus};
use idle_core::protocol::{EndReason, Event};
use idle_core::rng::Seed;
use idle_core::rules::{self, Outcome};
use idle_core::xp::xp_for_level;
use idle_core::{advance, cancel, enqueue, spend_token, touch, Enqueued, Game, Plan};
use proptest::prelude::*;

const T0: Millis = 1_800_000_000_000;
const SECRET: &[u8] = b"continuous-test-secret-continuous-test";
const HOUR: Millis = 3_600_000;
const CAP: Millis = 86_400_000;

fn game() -> Game<'static> {
    Game::new(Catalog::shipped(), SECRET)
}

fn repeat_harvest() -> TaskRequest {
    TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 0,
        repeat: Some(Repeat::UntilStopped),
    }
}

/// A player and its tasks with plans applied as a store would, plus every history record and
/// notification the plans carried.
struct World {
    game: Game<'static>,
    player: Player,
    tasks: Vec<Task>,
    records: BTreeMap<String, Task>,
    events: Vec<Event>,
}

impl World {
    fn new(game: Game<'static>, player: Player) -> World {
        World {
            game,
            player,
            tasks: Vec::new(),
            records: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    /// A new player whose pickaxe lasts (the starter one breaks after 250 actions).
    fn starter() -> World {
        let mut player = Player::new("p1", T0, Catalog::shipped(), 10);
        player.equipment.get_mut("pickaxe").unwrap().durability = 10_000_000;
        World::new(game(), player)
    }

    fn apply(&mut self, plan: &Plan) {
        if let Some(write) = &plan.player {
            assert_eq!(write.expected_version, Some(self.player.version));
            self.player = write.player.clone();
        }
        for write in &plan.tasks {
            if write.task.status.is_final() {
                // Put if absent, as the outbox does.
                self.records
                    .entry(write.task.task_id.clone())
                    .or_insert_with(|| write.task.clone());
            }
        }
        plan.apply_to_tasks(&mut self.tasks);
        self.tasks.retain(|t| !t.status.is_final());
        self.events
            .extend(plan.notifications.iter().map(|n| n.event.clone()));
    }

    fn enqueue(&mut self, request_id: &str, request: TaskRequest, now: Millis) -> String {
        let result = enqueue(
            &self.game,
            &self.player,
            &self.tasks,
            request_id,
            &request,
            false,
            false,
            now,
        );
        match result {
            Ok(Enqueued::New { task_id, plan }) => {
                self.apply(&plan);
                task_id
            }
            other => panic!("expected a new task: {other:?}"),
        }
    }

    /// Runs the player's wake-ups up to `until` (each at its own time), as the timer would.
    fn run_until(&mut self, until: Millis) {
        while let Some(at) = self.player.wake_at.filter(|at| *at <= until) {
            let plan = advance(&self.game, &self.player, &self.tasks, at);
            assert!(!plan.is_empty(), "a wake-up at {at} did nothing");
            self.apply(&plan);
        }
    }

    /// A message (`ping`): activity on server time.
    fn ping(&mut self, now: Millis) {
        let plan = spend_token(&self.game, &self.player, &self.tasks, now).unwrap();
        self.apply(&plan);
    }

    fn cancel(&mut self, task_id: &str, now: Millis) {
        let plan = cancel(&self.game, &self.player, &self.tasks, task_id, now).unwrap();
        self.apply(&plan);
    }

    fn chunk_records(&self) -> Vec<&Task> {
        self.records
            .values()
            .filter(|t| t.chunk.is_some())
            .collect()
    }

    /// What the player earned: inventory and harvesting XP.
    fn grants(&self) -> (BTreeMap<String, u64>, u64) {
        (
            self.player.inventory.clone(),
            self.player.skill_xp(Skill::Harvesting),
        )
    }
}

/// The actions a record settled and the time they took (ms).
fn actions_and_time(record: &Task) -> (u64, u64) {
    let actions = u64::from(record.result.as_ref().unwrap().outcome.actions);
    (
        actions,
        actions * record.snapshot.as_ref().unwrap().action_ms,
    )
}

#[test]
fn a_continuous_task_settles_in_chunks_each_with_its_own_record_and_notification() {
    // Given a player who starts a continuous harvest
    let mut world = World::starter();
    let id = world.enqueue("r1", repeat_harvest(), T0);
    let running = &world.tasks[0];
    assert_eq!(running.status, TaskStatus::Running);
    let action_ms = running.snapshot.as_ref().unwrap().action_ms;
    let first = running.request.quantity();
    assert_eq!(
        u64::from(first),
        world.game.limits.chunk_ms / action_ms,
        "a chunk is the actions that fit in chunk_ms"
    );
    assert_eq!(
        running.ends_at,
        Some(T0 + (u64::from(first) * action_ms) as i64)
    );

    // When an hour passes on the timer
    world.run_until(T0 + HOUR);

    // Then each chunk was one settlement with its own record, back to back, in order
    let records = world.chunk_records();
    assert!(records.len() >= 3, "{} chunks", records.len());
    let mut next_action = 0;
    let mut next_start = T0;
    for (k, record) in records.iter().enumerate() {
        let chunk = record.chunk.as_ref().unwrap();
        assert_eq!(record.task_id, format!("{id}.{k:06}"));
        assert_eq!(chunk.of.as_deref(), Some(id.as_str()));
        assert_eq!((chunk.index, chunk.first_action), (k as u32, next_action));
        assert_eq!(record.status, TaskStatus::Completed);
        assert_eq!(record.started_at, Some(next_start));
        let (actions, time) = actions_and_time(record);
        assert_eq!(record.finished_at, Some(next_start + time as i64));
        next_action += actions as u32;
        next_start += time as i64;
    }
    let settled: Vec<_> = world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ChunkSettled { chunk, outcome, .. } => Some((*chunk, outcome.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(settled.len(), records.len());
    for ((chunk, outcome), record) in settled.iter().zip(&records) {
        assert_eq!(*chunk, record.chunk.as_ref().unwrap().index);
        assert_eq!(Some(outcome), record.result.as_ref().map(|r| &r.outcome));
    }
    // And the task itself is still running, its chunk counter at the next one
    assert_eq!(world.tasks.len(), 1);
    assert_eq!(
        world.tasks[0].chunk.as_ref().unwrap().first_action,
        next_action
    );
}

#[test]
fn replaying_every_chunk_record_reproduces_its_outcome() {
    let mut world = World::starter();
    let id = world.enqueue("r1", repeat_harvest(), T0);
    world.run_until(T0 + 3 * HOUR);
    world.cancel(&id, T0 + 3 * HOUR + 1234);
    assert!(world.records.len() > 5);
    for record in world.records.values() {
        let stored = &record.result.as_ref().unwrap().outcome;
        let seed = Seed::for_task(SECRET, &record.player_id, record.seed_task_id());
        let replayed = rules::outcome_from(
            &record.request,
            record.snapshot.as_ref().unwrap(),
            &seed,
            Catalog::shipped(),
            record.first_action(),
            stored.actions,
        )
        .unwrap();
        assert_eq!(&replayed, stored, "record {}", record.task_id);
    }
}

#[test]
fn a_repeated_wake_up_of_a_settled_chunk_grants_nothing() {
    let mut world = World::starter();
    world.enqueue("r1", repeat_harvest(), T0);
    let due = world.player.wake_at.unwrap();
    let before = (world.player.clone(), world.tasks.clone());
    let plan = advance(&world.game, &before.0, &before.1, due);
    world.apply(&plan);
    // The same wake-up delivered again reads the state after the settlement: nothing is due.
    let again = advance(&world.game, &world.player, &world.tasks, due);
    assert!(again.is_empty());
    // And a replayed plan computed from the old state is the same write, conditioned on the
    // old version: a store refuses it (it no longer matches), so it cannot grant twice.
    let replay = advance(&world.game, &before.0, &before.1, due);
    assert_eq!(replay, plan);
    assert_ne!(
        replay.player.as_ref().unwrap().expected_version,
        Some(world.player.version)
    );
}

#[test]
fn cancel_settles_the_partial_chunk_and_ends_the_task_as_stopped() {
    let mut world = World::starter();
    let id = world.enqueue("r1", repeat_harvest(), T0);
    world.run_until(T0 + HOUR);
    let chunk = world.tasks[0].chunk.clone().unwrap();
    let action_ms = world.tasks[0].snapshot.as_ref().unwrap().action_ms as i64;
    let started = world.tasks[0].started_at.unwrap();
    let at = started + 5 * action_ms + 7;
    world.cancel(&id, at);
    assert!(world.tasks.is_empty());
    let record = &world.records[&id];
    assert_eq!(record.status, TaskStatus::Cancelled);
    assert_eq!(record.result.as_ref().unwrap().outcome.actions, 5);
    assert_eq!(
        record.chunk.as_ref().unwrap().first_action,
        chunk.first_action
    );
    assert!(world.events.iter().any(|e| matches!(
        e,
        Event::TaskCancelled { reason: Some(EndReason::Stopped), settled: Some(o), .. } if o.actions == 5
    )));
}

#[test]
fn a_continuous_craft_ends_when_its_materials_run_out_and_the_queue_moves_on() {
    // Given a player with materials for 23 bronze bars and a fixed harvest queued behind
    let game = game();
    let mut player = Player::new("p1", T0, Catalog::shipped(), 10);
    player.inventory.insert("copper_ore".into(), 23);
    player.inventory.insert("tin_ore".into(), 23);
    player.stations.insert("furnace".into());
    let mut world = World::new(game, player);
    world.game.limits.chunk_ms = 20_000;
    let recipe = &Catalog::shipped().recipes["bronze_bar"];
    assert_eq!(
        recipe.inputs.values().copied().max(),
        Some(1),
        "one of each per bar"
    );
    let id = world.enqueue(
        "r1",
        TaskRequest::Craft {
            recipe: "bronze_bar".into(),
            quantity: 0,
            repeat: Some(Repeat::UntilStopped),
        },
        T0,
    );
    let behind = world.enqueue(
        "r2",
        TaskRequest::Harvest {
            resource: "oak_log".into(),
            location: "meadow".into(),
            quantity: 2,
            repeat: None,
        },
        T0 + 1,
    );
    // The queued task waits behind the continuous head
    assert_eq!(world.tasks[1].status, TaskStatus::Queued);

    // When the timer runs for an hour
    world.run_until(T0 + HOUR);

    // Then the craft ended with `inputs_exhausted` after using every material it could
    let ended = world.events.iter().find_map(|e| match e {
        Event::TaskCompleted {
            task_id,
            reason,
            outcome,
            ..
        } if *task_id == id => Some((*reason, outcome.actions)),
        _ => None,
    });
    assert_eq!(ended, Some((Some(EndReason::InputsExhausted), 0)));
    let crafted: u64 = world
        .chunk_records()
        .iter()
        .map(|r| u64::from(r.result.as_ref().unwrap().outcome.actions))
        .sum();
    assert!(crafted >= 23, "every bar's materials were used: {crafted}");
    assert_eq!(
        world
            .player
            .count("copper_ore")
            .min(world.player.count("tin_ore")),
        0,
        "it ended because an input ran out"
    );
    // And the task behind it ran afterwards
    assert_eq!(world.records[&behind].status, TaskStatus::Completed);
}

/// Drives a continuous harvest from T0 for a player who is active at each time in `activity`
/// (then away), cancels it at `cancel_at` and returns the grants and the actions settled.
fn run_with_activity(
    activity: &[Millis],
    cancel_at: Millis,
) -> ((BTreeMap<String, u64>, u64), u64, World) {
    let mut world = World::starter();
    let id = world.enqueue("r1", repeat_harvest(), T0);
    for &at in activity {
        world.run_until(at);
        world.ping(at);
    }
    world.run_until(cancel_at);
    world.cancel(&id, cancel_at);
    let actions = world
        .records
        .values()
        .map(|r| u64::from(r.result.as_ref().unwrap().outcome.actions))
        .sum();
    (world.grants(), actions, world)
}

#[test]
fn a_player_away_for_30_hours_gets_exactly_24_hours_of_actions() {
    // Given a player who starts a continuous harvest at T0 and leaves
    let away = T0 + 30 * HOUR;

    // When the player comes back after 30 hours and stops it
    let (grants, actions, world) = run_with_activity(&[], away);

    // Then the task paused at the cap, once, 24 hours after the last activity
    let paused: Vec<Millis> = world
        .events
        .iter()
        .filter_map(|e| match e {
            Event::TaskPaused { paused_at, .. } => Some(*paused_at),
            _ => None,
        })
        .collect();
    assert_eq!(paused, [T0 + CAP]);
    // And the actions settled fill 24 hours exactly: no further action fits before the cap
    let mut records: Vec<&Task> = world.records.values().collect();
    records.sort_by_key(|r| (r.chunk.as_ref().unwrap().first_action, r.task_id.clone()));
    let busy: u64 = records.iter().map(|r| actions_and_time(r).1).sum();
    let last_action = records.last().unwrap().snapshot.as_ref().unwrap().action_ms;
    assert!(T0 + busy as i64 <= T0 + CAP);
    assert!(T0 + (busy + last_action) as i64 > T0 + CAP);
    // And it is what a player active all along gets by stopping at 24 hours
    let active: Vec<Millis> = (1..24).map(|h| T0 + h * HOUR).collect();
    let (same, same_actions, _) = run_with_activity(&active, T0 + CAP);
    assert_eq!(actions, same_actions);
    assert_eq!(grants, same);
}

#[test]
fn coming_back_resumes_a_paused_task_from_then_on() {
    let mut world = World::starter();
    world.enqueue("r1", repeat_harvest(), T0);
    world.run_until(T0 + 30 * HOUR);
    let paused = world.tasks[0].clone();
    assert_eq!(paused.paused_at, Some(T0 + CAP));
    assert_eq!(
        world.player.wake_at, None,
        "nothing to wake for while paused"
    );
    // Repeated wake-ups while paused change nothing
    assert!(advance(&world.game, &world.player, &world.tasks, T0 + 29 * HOUR).is_empty());

    let back = T0 + 30 * HOUR;
    world.apply(&touch(&world.game, &world.player, &world.tasks, back));
    let resumed = &world.tasks[0];
    let gap = back - (T0 + CAP);
    assert_eq!(resumed.paused_at, None);
    assert_eq!(resumed.started_at, paused.started_at.map(|t| t + gap));
    assert_eq!(resumed.ends_at, paused.ends_at.map(|t| t + gap));
    assert_eq!(world.player.last_active_at, Some(back));
    assert_eq!(world.player.wake_at, resumed.ends_at);
    // A second connect right after does not collect the time away again
    let ends_at = world.tasks[0].ends_at;
    let twice = touch(&world.game, &world.player, &world.tasks, back + 5);
    world.apply(&twice);
    assert_eq!(world.tasks[0].ends_at, ends_at);
    assert_eq!(world.tasks[0].paused_at, None);
}

#[test]
fn a_fixed_task_running_past_the_cap_pauses_too() {
    // Given a player last active 23 h 59 min before starting a 1,000-action harvest
    let mut world = World::starter();
    let fixed = TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 1000,
        repeat: None,
    };
    world.enqueue("f1", fixed, T0);
    world.player.last_active_at = Some(T0 - CAP + 60_000);
    // When the timer runs on
    world.run_until(T0 + 10 * HOUR);
    // Then it paused a minute in, at the cap, and did not complete
    assert_eq!(world.tasks[0].paused_at, Some(T0 + 60_000));
    assert!(world.records.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// With nothing changing between chunks (a player at the level cap, so no level-ups, and
    /// gear that outlasts the run), the grants over any split into chunks equal those of one
    /// settlement of the same actions and seed.
    #[test]
    fn grants_over_any_chunk_split_equal_one_settlement(
        chunk_ms in 2_000u64..400_000,
        run_ms in 60_000i64..3_600_000,
        spot in 0usize..3,
    ) {
        let (resource, location, tool) = [
            ("copper_ore", "mine", "mithril_pickaxe"),
            ("oak_log", "forest", "steel_hatchet"),
            ("copper_ore", "meadow", "mithril_pickaxe"),
        ][spot];
        let catalog = Catalog::shipped();
        let mut player = Player::new("p1", T0, catalog, 10);
        let top = xp_for_level(catalog.rules.max_level);
        player.character_xp = top;
        player.skills.insert(Skill::Harvesting, top);
        let slot = catalog.gear(tool).unwrap().slot.clone();
        player.equipment.insert(slot, Equipped { item: tool.into(), quality: 4, durability: 1_000_000 });
        let mut game = game();
        game.limits.chunk_ms = chunk_ms;
        let mut world = World::new(game, player.clone());
        let request = TaskRequest::Harvest {
            resource: resource.into(),
            location: location.into(),
            quantity: 0,
            repeat: Some(Repeat::UntilStopped),
        };
        let id = world.enqueue("r1", request.clone(), T0);
        let snapshot = world.tasks[0].snapshot.clone().unwrap();
        world.run_until(T0 + run_ms);
        world.cancel(&id, T0 + run_ms);
        let records: Vec<&Task> = world.records.values().collect();
        let total: u32 = records.iter().map(|r| r.result.as_ref().unwrap().outcome.actions).sum();

        // One settlement of all the actions, from the first chunk's snapshot and the task's seed
        let seed = Seed::for_task(SECRET, "p1", &id);
        let one = rules::outcome(&request.with_quantity(total), &snapshot, &seed, catalog, total).unwrap();
        let mut items = player.inventory.clone();
        for (item, units) in &one.items {
            *items.entry(item.clone()).or_insert(0) += units;
        }
        prop_assert_eq!(&world.player.inventory, &items);
        prop_assert_eq!(world.player.skill_xp(Skill::Harvesting), top + one.xp);
        prop_assert_eq!(&world.player.pity, &one.pity);
        let worn = &world.player.equipment[&catalog.resources[resource].tool];
        prop_assert_eq!(worn.durability, 1_000_000 - one.wear.values().sum::<u32>());
    }

    /// The rules themselves: for each activity, the outcomes of consecutive slices of a task's
    /// actions (pity and durability carried) add up to the outcome of all of them.
    #[test]
    fn outcomes_of_consecutive_slices_add_up(
        cuts in proptest::collection::vec(1u32..40, 1..6),
        which in 0usize..3,
    ) {
        let catalog = Catalog::shipped();
        // Harvest tools are checked for the whole task (so they last); combat gear may break.
        let durability = if which == 2 { 20 } else { 10_000 };
        let (request, gear): (TaskRequest, Vec<(&str, &str)>) = match which {
            0 => (TaskRequest::Harvest { resource: "copper_ore".into(), location: "mine".into(), quantity: 0, repeat: None },
                  vec![("pickaxe", "iron_pickaxe")]),
            1 => (TaskRequest::Craft { recipe: "bronze_sword".into(), quantity: 0, repeat: None }, vec![]),
            _ => (TaskRequest::Combat { enemy: "goblin".into(), quantity: 0, repeat: None },
                  vec![("weapon", "bronze_sword"), ("armour", "leather_body")]),
        };
        let mut snapshot = idle_core::model::Snapshot {
            character_level: 12,
            skill_level: 15,
            action_ms: 1000,
            gear: gear.iter().map(|(slot, item)| (slot.to_string(), Equipped { item: item.to_string(), quality: 0, durability })).collect(),
            pity: BTreeMap::new(),
            reserved: BTreeMap::new(),
        };
        let start = snapshot.clone();
        let seed = Seed::for_task(SECRET, "p1", "000000000001");
        let total: u32 = cuts.iter().sum();
        let mut sum = Outcome::default();
        let mut first = 0;
        for n in &cuts {
            let part = rules::outcome_from(&request, &snapshot, &seed, catalog, first, *n).unwrap();
            // Carry what the session carries into the next chunk's snapshot.
            for (slot, lost) in &part.wear {
                let worn = snapshot.gear.get_mut(slot).unwrap();
                worn.durability = worn.durability.saturating_sub(*lost);
            }
            snapshot.gear.retain(|_, g| g.durability > 0);
            snapshot.pity = part.pity.clone();
            add(&mut sum, part);
            first += n;
        }
        let one = rules::outcome(&request, &start, &seed, catalog, total).unwrap();
        prop_assert_eq!(sum, one);
    }
}

fn add(sum: &mut Outcome, part: Outcome) {
    sum.actions += part.actions;
    sum.successes += part.successes;
    sum.xp += part.xp;
    for (k, v) in part.items {
        *sum.items.entry(k).or_insert(0) += v;
    }
    for (k, v) in part.preserved {
        *sum.preserved.entry(k).or_insert(0) += v;
    }
    sum.stations.extend(part.stations);
    for (k, v) in part.wear {
        *sum.wear.entry(k).or_insert(0) += v;
    }
    sum.pity = part.pity;
    sum.pity_drops += part.pity_drops;
}

//! Invariants that hold for every input: monotone rewards, probabilities in range, no overflow,
//! conservation of items through plans, and an idempotent, deterministic state machine.

use std::collections::BTreeMap;

use idle_core::catalog::{Catalog, ItemKind, ARMOUR_SLOT, WEAPON_SLOT};
use idle_core::lifecycle::{Expected, LedgerReason, Plan, TransitionKind};
use idle_core::model::{Equipped, Millis, Player, Skill, Snapshot, Task, TaskRequest, TaskStatus};
use idle_core::protocol::Event;
use idle_core::rng::{RollKind, Seed};
use idle_core::rules::{self, combat, craft, harvest};
use idle_core::xp::xp_for_level;
use idle_core::{advance, cancel, enqueue, fail_transient, Enqueued, Game};
use proptest::prelude::*;

fn catalog() -> &'static Catalog {
    Catalog::shipped()
}

/// Gear items of one slot, lowest tier first.
fn gear_of(slot: &str) -> Vec<String> {
    let mut items: Vec<(u32, String)> = catalog()
        .items
        .iter()
        .filter_map(|(id, item)| match &item.kind {
            ItemKind::Gear(g) if g.slot == slot => Some((g.tier, id.clone())),
            _ => None,
        })
        .collect();
    items.sort();
    items.into_iter().map(|(_, id)| id).collect()
}

/// Every (resource, location) pair the catalog offers.
fn harvest_spots() -> Vec<(String, String)> {
    catalog()
        .locations
        .iter()
        .flat_map(|(loc, l)| l.resources.keys().map(move |r| (r.clone(), loc.clone())))
        .collect()
}

fn ordered_pair(max: u32) -> impl Strategy<Value = (u32, u32)> {
    (1..=max, 1..=max).prop_map(|(a, b)| (a.min(b), a.max(b)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn better_skill_tool_or_level_never_lowers_the_expected_harvest(
        spot in 0..harvest_spots().len(),
        (s1, s2) in ordered_pair(99),
        (l1, l2) in ordered_pair(99),
        (t1, t2) in (0usize..4, 0usize..4).prop_map(|(a, b)| (a.min(b), a.max(b))),
    ) {
        let c = catalog();
        let (resource, location) = &harvest_spots()[spot];
        let def = &c.resources[resource];
        let tools = gear_of(&def.tool);
        let tool = |t: usize| c.gear(&tools[t.min(tools.len() - 1)]);
        let worse = harvest::stats(resource, def, &c.locations[location], s1, l1, tool(t1), c);
        let better = harvest::stats(resource, def, &c.locations[location], s2, l2, tool(t2), c);
        prop_assert!(better.expected_yield >= worse.expected_yield);
        prop_assert!(better.xp_per_action >= worse.xp_per_action);
        prop_assert!(better.action_ms <= worse.action_ms);
        for (b, w) in better.rare.iter().zip(&worse.rare) {
            prop_assert!(b.2 >= w.2);
            prop_assert!((0.0..=1.0).contains(&b.2));
        }
    }

    #[test]
    fn better_skill_or_level_never_lowers_the_expected_craft(
        recipe in 0..catalog().recipes.len(),
        (s1, s2) in ordered_pair(99),
        (l1, l2) in ordered_pair(99),
    ) {
        let c = catalog();
        let def = c.recipes.values().nth(recipe).unwrap();
        let worse = craft::stats(def, s1, l1, c);
        let better = craft::stats(def, s2, l2, c);
        prop_assert!(better.success_chance >= worse.success_chance);
        prop_assert!((0.0..=1.0).contains(&better.success_chance));
        prop_assert!((0.0..=1.0).contains(&better.preserve_chance));
        prop_assert!(better.preserve_chance >= worse.preserve_chance);
        prop_assert!(better.xp_success >= worse.xp_success && better.xp_failure >= worse.xp_failure);
        // Expected quality multiplier of a success.
        let expected = |weights: &[u64]| {
            let total: u64 = weights.iter().sum();
            weights.iter().enumerate().map(|(t, w)| c.quality_tiers[t].multiplier * *w as f64).sum::<f64>() / total as f64
        };
        prop_assert!(expected(&better.quality_weights) >= expected(&worse.quality_weights) - 1e-12);
    }

    #[test]
    fn better_combat_stats_win_every_fight_the_worse_ones_win(
        enemy in 0..catalog().enemies.len(),
        (l1, l2) in ordered_pair(99),
        (w1, w2) in (0usize..5, 0usize..5).prop_map(|(a, b)| (a.min(b), a.max(b))),
        (a1, a2) in (0usize..5, 0usize..5).prop_map(|(a, b)| (a.min(b), a.max(b))),
        seed in any::<[u8; 32]>(),
        encounter in 0u32..1000,
    ) {
        let c = catalog();
        let def = c.enemies.values().nth(enemy).unwrap();
        // Index 0 is "none"; then the catalog's gear by tier.
        let pick = |slot: &str, i: usize| if i == 0 { None } else {
            let items = gear_of(slot);
            c.gear(&items[(i - 1).min(items.len() - 1)])
        };
        let worse = combat::matchup(l1, pick(WEAPON_SLOT, w1), pick(ARMOUR_SLOT, a1), def, c);
        let better = combat::matchup(l2, pick(WEAPON_SLOT, w2), pick(ARMOUR_SLOT, a2), def, c);
        prop_assert!(better.player_hit >= worse.player_hit && better.enemy_hit <= worse.enemy_hit);
        prop_assert!((0.0..=1.0).contains(&better.player_hit) && (0.0..=1.0).contains(&better.enemy_hit));
        let seed = Seed(seed);
        let max_rounds = c.rules.combat.max_rounds;
        let worse_won = combat::fight(&worse, max_rounds, &mut seed.rolls(RollKind::CombatFight, encounter));
        let better_won = combat::fight(&better, max_rounds, &mut seed.rolls(RollKind::CombatFight, encounter));
        prop_assert!(better_won || !worse_won);
    }

    #[test]
    fn hit_chances_are_probabilities(a in 0u64..10_000_000, d in 0u64..10_000_000) {
        let p = combat::hit_chance(a, d);
        prop_assert!((0.0..=1.0).contains(&p), "{p}");
    }

    #[test]
    fn outcomes_never_overflow_or_exceed_their_inputs(
        target in 0usize..1000,
        activity in 0u8..3,
        quantity in 0u32..=1000,
        skill in 1u32..=99,
        character in 1u32..=99,
        seed in any::<[u8; 32]>(),
    ) {
        let c = catalog();
        let spots = harvest_spots();
        let request = match activity {
            0 => {
                let (resource, location) = spots[target % spots.len()].clone();
                TaskRequest::Harvest { resource, location, quantity, repeat: None }
            }
            1 => TaskRequest::Craft { recipe: c.recipes.keys().nth(target % c.recipes.len()).unwrap().clone(), quantity, repeat: None },
            _ => TaskRequest::Combat { enemy: c.enemies.keys().nth(target % c.enemies.len()).unwrap().clone(), quantity, repeat: None },
        };
        let gear: BTreeMap<String, Equipped> = ["mithril_pickaxe", "steel_hatchet", "iron_sickle", "mithril_sword", "steel_platebody"]
            .iter()
            .map(|item| (c.gear(item).unwrap().slot.clone(), Equipped { item: (*item).into(), quality: 4, durability: 5000 }))
            .collect();
        let snapshot = Snapshot { character_level: character, skill_level: skill, action_ms: 1000, gear, pity: BTreeMap::new(), reserved: BTreeMap::new() };
        let out = rules::outcome(&request, &snapshot, &Seed(seed), c, quantity).unwrap();
        prop_assert_eq!(out.actions, quantity);
        prop_assert!(out.successes <= quantity);
        prop_assert!(out.xp < 1_000_000_000);
        for units in out.items.values() {
            prop_assert!(*units < 100_000_000);
        }
        if let TaskRequest::Craft { recipe, .. } = &request {
            for (item, kept) in &out.preserved {
                prop_assert!(*kept <= u64::from(c.recipes[recipe].inputs[item]) * u64::from(quantity));
            }
        }
    }
}

// ---- the state machine under random operation sequences -----------------------------------

const T0: Millis = 1_800_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    Enqueue(TaskRequest),
    Advance(Millis),
    Cancel(usize, Millis),
    FailTransient(Millis),
}

fn request() -> impl Strategy<Value = TaskRequest> {
    let c = catalog();
    let spots = harvest_spots();
    let recipes: Vec<String> = c.recipes.keys().cloned().collect();
    let enemies: Vec<String> = c.enemies.keys().cloned().collect();
    prop_oneof![
        (0..spots.len(), 1u32..30).prop_map(move |(i, quantity)| {
            let (resource, location) = spots[i].clone();
            TaskRequest::Harvest {
                resource,
                location,
                quantity,
                repeat: None,
            }
        }),
        (0..recipes.len(), 1u32..8).prop_map(move |(i, quantity)| TaskRequest::Craft {
            recipe: recipes[i].clone(),
            quantity,
            repeat: None,
        }),
        (0..enemies.len(), 1u32..10).prop_map(move |(i, quantity)| TaskRequest::Combat {
            enemy: enemies[i].clone(),
            quantity,
            repeat: None,
        }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => request().prop_map(Op::Enqueue),
        4 => (0i64..120_000).prop_map(Op::Advance),
        1 => (0usize..12, 0i64..20_000).prop_map(|(i, dt)| Op::Cancel(i, dt)),
        1 => (0i64..5_000).prop_map(Op::FailTransient),
    ]
}

/// A seasoned player with materials for most recipes.
fn rich_player(levels: u32) -> Player {
    let c = catalog();
    let mut player = Player::new("prop", T0, c, 10);
    for skill in Skill::ALL {
        player.skills.insert(skill, xp_for_level(levels));
    }
    player.character_xp = xp_for_level(levels);
    for (id, item) in &c.items {
        if matches!(item.kind, ItemKind::Material) {
            player.inventory.insert(id.clone(), 60);
        }
    }
    player.inventory.insert("iron_pickaxe".into(), 1);
    player
        .stations
        .extend(["furnace".to_owned(), "anvil".to_owned()]);
    player
}

/// Checks one plan against the state it was computed from.
fn check_plan(before: &Player, tasks: &[Task], plan: &Plan) -> Result<(), TestCaseError> {
    let after = plan.player_after(before);
    // Every inventory change is in the ledger, and nothing else is.
    let mut ledger: BTreeMap<&str, i64> = BTreeMap::new();
    for entry in &plan.ledger {
        *ledger.entry(&entry.item).or_insert(0) += entry.delta;
    }
    let keys: std::collections::BTreeSet<&String> = before
        .inventory
        .keys()
        .chain(after.inventory.keys())
        .collect();
    for key in keys {
        let diff = after.count(key) as i64 - before.count(key) as i64;
        prop_assert_eq!(
            diff,
            ledger.get(key.as_str()).copied().unwrap_or(0),
            "item {}",
            key
        );
    }
    prop_assert!(after.inventory.values().all(|n| *n > 0), "no zero entries");
    // Refunds never exceed what a task reserved.
    for entry in plan
        .ledger
        .iter()
        .filter(|e| e.reason == LedgerReason::Refund)
    {
        let reserved = plan
            .tasks
            .iter()
            .find(|w| w.task.task_id == entry.task_id)
            .and_then(|w| w.task.snapshot.as_ref())
            .and_then(|s| s.reserved.get(&entry.item))
            .copied()
            .unwrap_or(0);
        prop_assert!(entry.delta as u64 <= reserved);
    }
    // Notifications are numbered from the player's next seq without gaps.
    for (i, n) in plan.notifications.iter().enumerate() {
        prop_assert_eq!(n.seq, before.next_seq + i as u64);
    }
    if let Some(write) = &plan.player {
        prop_assert_eq!(write.expected_version, Some(before.version));
        prop_assert_eq!(
            write.player.next_seq,
            before.next_seq + plan.notifications.len() as u64
        );
    }
    // The plan's transitions are its changes of state, once each: a new task is enqueued, a
    // task that ends ends once in its final status, and starts and retries are the ones
    // announced.
    let mut ended: Vec<(&str, TransitionKind)> = plan
        .tasks
        .iter()
        .filter_map(|w| {
            let kind = match w.task.status {
                TaskStatus::Completed => TransitionKind::Completed,
                TaskStatus::Failed => TransitionKind::Failed,
                TaskStatus::Rejected => TransitionKind::Rejected,
                TaskStatus::Cancelled => TransitionKind::Cancelled,
                TaskStatus::Queued | TaskStatus::Running | TaskStatus::Retrying => return None,
            };
            Some((w.task.task_id.as_str(), kind))
        })
        .collect();
    let mut final_transitions: Vec<(&str, TransitionKind)> = plan
        .transitions
        .iter()
        .filter(|t| {
            matches!(
                t.kind,
                TransitionKind::Completed
                    | TransitionKind::Failed
                    | TransitionKind::Rejected
                    | TransitionKind::Cancelled
            )
        })
        .map(|t| (t.task_id.as_str(), t.kind))
        .collect();
    ended.sort();
    final_transitions.sort();
    prop_assert_eq!(ended, final_transitions);
    prop_assert_eq!(
        plan.count(TransitionKind::Enqueued),
        plan.tasks
            .iter()
            .filter(|w| w.expected == Expected::Absent)
            .count()
    );
    let announced = |wanted: fn(&Event) -> bool| {
        plan.notifications
            .iter()
            .filter(|n| wanted(&n.event))
            .count()
    };
    prop_assert_eq!(
        plan.count(TransitionKind::Started),
        announced(|e| matches!(e, Event::TaskStarted { .. }))
    );
    prop_assert_eq!(
        plan.count(TransitionKind::Retried),
        announced(|e| matches!(
            e,
            Event::TaskFailed {
                retry_at: Some(_),
                ..
            }
        ))
    );
    for transition in &plan.transitions {
        let task = plan
            .tasks
            .iter()
            .map(|w| &w.task)
            .chain(tasks)
            .find(|t| t.task_id == transition.task_id);
        prop_assert_eq!(
            task.map(|t| t.request.activity()),
            Some(transition.activity)
        );
    }
    // Every task write names a task of this player.
    for write in &plan.tasks {
        prop_assert_eq!(&write.task.player_id, &before.player_id);
        let loaded = tasks.iter().find(|t| t.task_id == write.task.task_id);
        if let Some(loaded) = loaded {
            prop_assert!(
                !loaded.status.is_final(),
                "a final task is never written again"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_state_machine_conserves_items_and_is_idempotent(
        levels in 1u32..=60,
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let c = catalog();
        let mut game = Game::new(c, b"property-secret-property-secret!".to_vec());
        game.limits.rate_capacity = 1000;
        let mut player = rich_player(levels);
        let mut tasks: Vec<Task> = Vec::new();
        let mut now = T0;
        for (n, op) in ops.into_iter().enumerate() {
            let plan = match op {
                Op::Enqueue(request) => {
                    match enqueue(&game, &player, &tasks, &format!("req-{n}"), &request, false, false, now) {
                        Ok(Enqueued::New { plan, .. }) => *plan,
                        Ok(Enqueued::Duplicate { .. }) => unreachable!("request ids are unique"),
                        Err(_) => continue,
                    }
                }
                Op::Advance(dt) => {
                    now += dt;
                    let plan = advance(&game, &player, &tasks, now);
                    prop_assert_eq!(&plan, &advance(&game, &player, &tasks, now), "deterministic");
                    plan
                }
                Op::Cancel(i, dt) => {
                    now += dt;
                    let Some(task) = tasks.iter().filter(|t| !t.status.is_final()).nth(i) else { continue };
                    match cancel(&game, &player, &tasks, &task.task_id.clone(), now) {
                        Ok(plan) => plan,
                        Err(_) => continue,
                    }
                }
                Op::FailTransient(dt) => {
                    now += dt;
                    let Some(head) = tasks.iter().find(|t| !t.status.is_final()) else { continue };
                    fail_transient(&game, &player, &tasks, &head.task_id.clone(), "injected", now)
                }
            };
            check_plan(&player, &tasks, &plan)?;
            player = plan.player_after(&player).clone();
            plan.apply_to_tasks(&mut tasks);
            // Applying a plan and advancing at the same time again changes nothing.
            let again = advance(&game, &player, &tasks, now);
            check_plan(&player, &tasks, &again)?;
            player = again.player_after(&player).clone();
            again.apply_to_tasks(&mut tasks);
            prop_assert!(advance(&game, &player, &tasks, now).is_empty(), "advance is idempotent");
        }
        // Eventually everything ends: far in the future, no task is left unfinished except
        // ones waiting on nothing.
        for _ in 0..20 {
            now += 3_600_000;
            let plan = advance(&game, &player, &tasks, now);
            check_plan(&player, &tasks, &plan)?;
            player = plan.player_after(&player).clone();
            plan.apply_to_tasks(&mut tasks);
        }
        prop_assert!(tasks.iter().all(|t| t.status.is_final()), "no task is stuck: {:?}",
            tasks.iter().filter(|t| !t.status.is_final()).map(|t| (&t.task_id, t.status)).collect::<Vec<_>>());
    }
}

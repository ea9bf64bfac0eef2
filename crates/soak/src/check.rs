//! The invariants, checked from the store as it ends (read without faults) and from what the
//! gateway received.
//!
//! - **One final state per task**: every task id a player ever issued is in the history in a
//!   final state, and the player's queue is empty with no wake-up left (nothing stuck).
//! - **Exactly-once grants**: every finished task's outcome equals its replay from the stored
//!   snapshot and seed (`idle_balance::replay`), each task is announced as finished under one
//!   `seq` only, and the player's inventory is exactly the starter inventory plus, over every
//!   task, `outcome.items + refunded − snapshot.reserved` (and XP the starter XP plus every
//!   outcome's XP): a grant applied twice, or a reservation taken twice, shows here.
//! - **Conservation**: the same sum over all players.
//! - **Notifications**: every `seq` from 1 to `next_seq − 1` was posted to a connection, is in
//!   the inbox, or was kept from announcement by a fault the chaos layer injected and recorded.
//! - **Whole again**: the snapshot of the final `sync` equals the stored player.

use std::collections::{BTreeMap, BTreeSet};

use idle_app::ports::{Clock, ConnectionStore, GameStore, Inbox};
use idle_app::state::PlayerState;
use idle_balance::replay::replay;
use idle_core::catalog::Catalog;
use idle_core::lifecycle::TransitionKind;
use idle_core::model::{Skill, Task};
use idle_core::protocol::{Notification, PlayerView};
use serde_json::Value;

use crate::driver::{Client, Items, Soak, SEED_SECRET, START};
use crate::report::Report;

/// Checks every invariant and builds the report.
pub(crate) async fn check<S>(soak: &Soak<S>) -> Report
where
    S: GameStore + ConnectionStore + Inbox + Send + Sync + 'static,
{
    let catalog = Catalog::shipped();
    let mut report = Report {
        players: soak.clients.len(),
        faults: soak.chaos.counts(),
        ..Report::default()
    };
    let mut traffic = soak.traffic.clone();
    for client in &soak.clients {
        traffic.absorb(&client.traffic);
    }
    report.traffic = traffic;
    report.simulated_ms = soak.clock.now() - START;
    if report.traffic.duplicate_created_new > 0 {
        report.violation(format!(
            "{} repeated request ids made a new task",
            report.traffic.duplicate_created_new
        ));
    }
    let unannounced = soak.chaos.unannounced();
    let mut expected_all = Items::new();
    let mut actual_all = Items::new();
    for chunk in soak.clients.chunks(100) {
        let ids: Vec<String> = chunk.iter().map(|c| c.player_id.clone()).collect();
        let states: BTreeMap<String, PlayerState> = match soak.store.load_players(&ids).await {
            Ok(loaded) => {
                for (id, error) in &loaded.unreadable {
                    report.violation(format!("{id}: unreadable: {error}"));
                }
                loaded
                    .players
                    .into_iter()
                    .map(|s| (s.player.player_id.clone(), s))
                    .collect()
            }
            Err(e) => {
                report.violation(format!("could not read players: {e}"));
                continue;
            }
        };
        for client in chunk {
            let Some(state) = states.get(&client.player_id) else {
                report.violation(format!("{}: player missing", client.player_id));
                continue;
            };
            let mut history = Vec::new();
            for n in 1..state.player.next_task_seq {
                let task_id = format!("{n:012}");
                match soak.store.load_task(&client.player_id, &task_id).await {
                    Ok(Some(task)) => history.push(task),
                    Ok(None) => report.violation(format!(
                        "{}/{task_id}: issued but not in the history",
                        client.player_id
                    )),
                    Err(e) => report.violation(format!("{}/{task_id}: {e}", client.player_id)),
                }
            }
            check_player(
                &mut report,
                catalog,
                client,
                state,
                &history,
                &mut expected_all,
                &mut actual_all,
            );
            let now = soak.clock.now();
            let inbox = match soak
                .store
                .kept_after(&client.player_id, 0, now, usize::MAX)
                .await
            {
                Ok(kept) => kept.notifications.iter().map(|n| n.seq).collect(),
                Err(e) => {
                    report.violation(format!("{}: inbox unreadable: {e}", client.player_id));
                    BTreeSet::new()
                }
            };
            check_notifications(
                &mut report,
                soak,
                client,
                state,
                &history,
                &inbox,
                &unannounced,
            );
        }
    }
    check_transitions(&mut report, soak.chaos.transitions());
    if expected_all != actual_all {
        report.violation("the sum over all players differs from every ledger".to_owned());
    }
    report.units_end = actual_all.values().sum();
    report.units_start = soak
        .clients
        .iter()
        .filter_map(|c| c.starter.as_ref())
        .flat_map(|s| s.player.inventory.values())
        .map(|u| i128::from(*u))
        .sum();
    report
}

/// The transitions the core reported in the applied plans agree with the history: every task
/// enqueued once, and each final state reached once per task that holds it.
fn check_transitions(report: &mut Report, transitions: BTreeMap<TransitionKind, usize>) {
    report.transitions = transitions
        .iter()
        .map(|(kind, n)| (kind.as_str().to_owned(), *n))
        .collect();
    let applied = |kind: TransitionKind| transitions.get(&kind).copied().unwrap_or(0);
    if applied(TransitionKind::Enqueued) != report.tasks {
        report.violation(format!(
            "{} tasks enqueued by the applied plans, {} in the history",
            applied(TransitionKind::Enqueued),
            report.tasks
        ));
    }
    for kind in [
        TransitionKind::Completed,
        TransitionKind::Cancelled,
        TransitionKind::Rejected,
        TransitionKind::Failed,
    ] {
        let held = report.final_states.get(kind.as_str()).copied().unwrap_or(0);
        if applied(kind) != held {
            report.violation(format!(
                "{} tasks {} by the applied plans, {held} in the history",
                applied(kind),
                kind.as_str()
            ));
        }
    }
}

fn add(items: &mut Items, key: &str, units: i128) {
    *items.entry(key.to_owned()).or_insert(0) += units;
}

fn check_player(
    report: &mut Report,
    catalog: &Catalog,
    client: &Client,
    state: &PlayerState,
    history: &[Task],
    expected_all: &mut Items,
    actual_all: &mut Items,
) {
    let id = &client.player_id;
    let player = &state.player;
    report.tasks += history.len();
    if !state.queue.is_empty() {
        report.violation(format!(
            "{id}: {} tasks still unfinished (stuck): {:?}",
            state.queue.len(),
            state
                .queue
                .iter()
                .map(|t| (&t.task_id, t.status))
                .collect::<Vec<_>>()
        ));
    }
    if player.wake_at.is_some() {
        report.violation(format!("{id}: still has a wake-up with nothing to do"));
    }
    for task_id in &client.acked {
        if !history.iter().any(|t| &t.task_id == task_id) {
            report.violation(format!("{id}/{task_id}: acked but not in the history"));
        }
    }
    let Some(starter) = &client.starter else {
        report.violation(format!("{id}: never set up"));
        return;
    };
    let mut expected = Items::new();
    for (item, units) in &starter.player.inventory {
        add(&mut expected, item, i128::from(*units));
    }
    let mut xp: BTreeMap<Skill, u64> = starter.player.skills.clone();
    let mut character_xp = starter.player.character_xp;
    for task in history {
        let activity = task.request.activity();
        *report
            .activities
            .entry(activity.as_str().to_owned())
            .or_insert(0) += 1;
        if !task.status.is_final() {
            report.violation(format!(
                "{id}/{}: history holds a {} task",
                task.task_id,
                task.status.as_str()
            ));
            continue;
        }
        *report
            .final_states
            .entry(task.status.as_str().to_owned())
            .or_insert(0) += 1;
        if state.queue.iter().any(|q| q.task_id == task.task_id) {
            report.violation(format!("{id}/{}: final and queued at once", task.task_id));
        }
        if let Some(snapshot) = &task.snapshot {
            for (item, units) in &snapshot.reserved {
                add(&mut expected, item, -i128::from(*units));
            }
        }
        let Some(result) = &task.result else {
            if task.snapshot.is_some() {
                report.violation(format!("{id}/{}: started, final, no result", task.task_id));
            }
            continue;
        };
        for (item, units) in &result.outcome.items {
            add(&mut expected, item, i128::from(*units));
        }
        for (item, units) in &result.refunded {
            add(&mut expected, item, i128::from(*units));
        }
        *xp.entry(activity.skill()).or_insert(0) += result.outcome.xp;
        character_xp += result.outcome.xp;
        if task.status == idle_core::model::TaskStatus::Completed
            && result.outcome.actions != task.request.quantity()
        {
            report.violation(format!(
                "{id}/{}: completed after {} of {} actions",
                task.task_id,
                result.outcome.actions,
                task.request.quantity()
            ));
        }
        match replay(task, SEED_SECRET.as_bytes(), catalog) {
            Ok(r) if r.matches() => report.replayed_outcomes += 1,
            Ok(r) => report.violation(format!(
                "{id}/{}: granted outcome differs from its replay: {:?}",
                task.task_id, r.differences
            )),
            Err(e) => report.violation(format!("{id}/{}: replay failed: {e}", task.task_id)),
        }
    }
    expected.retain(|_, units| *units != 0);
    let actual: Items = player
        .inventory
        .iter()
        .map(|(k, v)| (k.clone(), i128::from(*v)))
        .collect();
    if actual != expected {
        let keys: BTreeSet<&String> = actual.keys().chain(expected.keys()).collect();
        let diff: Vec<String> = keys
            .into_iter()
            .filter(|k| actual.get(*k) != expected.get(*k))
            .map(|k| {
                format!(
                    "{k}: {:?} held, {:?} expected",
                    actual.get(k),
                    expected.get(k)
                )
            })
            .collect();
        report.violation(format!("{id}: inventory is not starter + ledger: {diff:?}"));
    }
    if player.character_xp != character_xp || player.skills != xp {
        report.violation(format!("{id}: XP is not starter + every outcome's XP"));
    }
    for (k, v) in expected {
        add(expected_all, &k, v);
    }
    for (k, v) in actual {
        add(actual_all, &k, v);
    }
    match &client.snapshot {
        Some(snapshot) => {
            let view = serde_json::to_value(PlayerView::of(player, catalog)).unwrap_or_default();
            let queue = snapshot["queue"].as_array().map_or(0, Vec::len);
            if snapshot["player"] != view || queue != 0 {
                report.violation(format!(
                    "{id}: the final sync's snapshot is not the stored player"
                ));
            }
        }
        None => report.violation(format!("{id}: no snapshot from the final sync")),
    }
}

fn check_notifications<S>(
    report: &mut Report,
    soak: &Soak<S>,
    client: &Client,
    state: &PlayerState,
    history: &[Task],
    inbox: &BTreeSet<u64>,
    unannounced: &crate::chaos::Unannounced,
) {
    let id = &client.player_id;
    let mut posted = BTreeSet::new();
    // Task id → the seqs that announced it finished: more than one is a double completion.
    let mut finished: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for connection in &client.connections {
        for post in soak.notifier.posts(connection) {
            let Ok(value) = serde_json::from_str::<Value>(&post) else {
                report.violation(format!("{id}: a post is not JSON"));
                continue;
            };
            // Durable notifications only: a `snapshot` carries the player's `seq` too.
            let Ok(notification) = serde_json::from_value::<Notification>(value.clone()) else {
                continue;
            };
            let seq = notification.seq;
            posted.insert(seq);
            if matches!(
                value["type"].as_str(),
                Some("task_completed" | "task_cancelled")
            ) || (value["type"] == "task_failed" && value.get("retry_at").is_none())
            {
                let task_id = value["task_id"].as_str().unwrap_or_default().to_owned();
                finished.entry(task_id).or_default().insert(seq);
            }
        }
    }
    for (task_id, seqs) in &finished {
        if seqs.len() > 1 {
            report.violation(format!(
                "{id}/{task_id}: announced finished as seqs {seqs:?}"
            ));
        }
        if !history
            .iter()
            .any(|t| &t.task_id == task_id && t.status.is_final())
        {
            report.violation(format!("{id}/{task_id}: announced finished, not final"));
        }
    }
    let next = state.player.next_seq;
    if let Some(max) = posted.iter().chain(inbox).max() {
        if *max >= next {
            report.violation(format!("{id}: seq {max} was sent but next_seq is {next}"));
        }
    }
    let mut n = std::mem::take(&mut report.notifications);
    let mut lost = Vec::new();
    for seq in 1..next {
        n.issued += 1;
        let key = (id.clone(), seq);
        if posted.contains(&seq) {
            n.posted += 1;
        } else if inbox.contains(&seq) {
            n.in_inbox += 1;
        } else if unannounced.crashed.contains(&key) {
            n.crashed += 1;
        } else if unannounced.commit_timed_out.contains(&key) {
            n.commit_timed_out += 1;
        } else if unannounced.inbox_failed.contains(&key) {
            n.inbox_failed += 1;
        } else if unannounced.post_failed.contains(&key) {
            n.sync_reply_failed += 1;
        } else {
            lost.push(seq);
        }
    }
    report.notifications = n;
    for seq in lost {
        report.violation(format!("{id}: seq {seq} was neither delivered nor stored"));
    }
}

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
//! - **Notifications**: every `seq` from 1 to `next_seq − 1` was posted to a connection or is
//!   kept for `sync` (none lost, whatever the faults: a failed post, a failed inbox write, a
//!   crash between the commit and performing its outbox); and on every connection, no live
//!   delivery came after a higher seq whose first attempt (anywhere) came after its own: no two
//!   plans crossing on the wire. A redelivery of an older seq (the stream delivers at least
//!   once; its first post may have failed) is not a crossing.
//! - **Whole again**: the snapshot of the final `sync` equals the stored player.

use std::collections::{BTreeMap, BTreeSet};

use idle_app::ports::{Clock, ConnectionStore, GameStore, Inbox};
use idle_app::state::PlayerState;
use idle_balance::replay::replay;
use idle_core::catalog::Catalog;
use idle_core::model::{Skill, Task};
use idle_core::protocol::PlayerView;
use serde_json::Value;

use crate::chaos::{durable_seq, LivePost};
use crate::report::Report;
use crate::world::{Client, Ended, Items, SEED_SECRET, START};

/// Checks every invariant and builds the report.
pub(crate) async fn check<S>(soak: &Ended<'_, S>) -> Report
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
    for client in soak.clients {
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
    let live = live_posts_by_player(&soak.chaos.live_posts());
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
            check_notifications(&mut report, soak, client, state, &history, &inbox);
            check_order(
                &mut report,
                &client.player_id,
                live.get(&client.player_id).map_or(&[][..], Vec::as_slice),
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

/// What the committed writes did agrees with the history: every task id they held is a task
/// of the history, and each final state was written once per task that holds it.
fn check_transitions(report: &mut Report, transitions: BTreeMap<String, usize>) {
    let applied = |kind: &str| transitions.get(kind).copied().unwrap_or(0);
    if applied("enqueued") != report.tasks {
        report.violation(format!(
            "{} tasks held by committed writes, {} in the history",
            applied("enqueued"),
            report.tasks
        ));
    }
    for kind in ["completed", "cancelled", "rejected", "failed"] {
        let held = report.final_states.get(kind).copied().unwrap_or(0);
        if applied(kind) != held {
            report.violation(format!(
                "{} tasks {kind} by committed writes, {held} in the history",
                applied(kind)
            ));
        }
    }
    report.transitions = transitions;
}

/// The live post attempts of each player, in global order.
fn live_posts_by_player(posts: &[LivePost]) -> BTreeMap<String, Vec<LivePost>> {
    let mut by_player: BTreeMap<String, Vec<LivePost>> = BTreeMap::new();
    for post in posts {
        by_player
            .entry(post.player_id.clone())
            .or_default()
            .push(post.clone());
    }
    by_player
}

/// Delivery order on each of the player's connections. A live delivery of seq `b` after the
/// connection received `a > b` is out of order when `b` was first handled (posted to any
/// connection, or kept) after `a` was: the plans crossed. When `b` was handled first, this is a
/// redelivery (the stream delivers at least once) of a post that failed, of one kept because
/// the connections could not be listed, or of one that reached a connection opened since.
fn check_order(report: &mut Report, player_id: &str, posts: &[LivePost]) {
    let mut first: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, post) in posts.iter().enumerate() {
        first.entry(post.seq).or_insert(i);
    }
    let mut received: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let n = &mut report.notifications;
    let mut crossings = Vec::new();
    for post in posts.iter().filter(|p| p.delivered) {
        let (Some(connection), seq) = (&post.connection_id, &post.seq) else {
            continue;
        };
        n.live_posts += 1;
        let seen = received.entry(connection.as_str()).or_default();
        if seen.contains(seq) {
            n.repeats += 1;
        } else if let Some(higher) = seen.iter().find(|a| **a > *seq && first[*a] < first[seq]) {
            n.out_of_order += 1;
            crossings.push(format!(
                "{player_id}: seq {seq} reached {connection} after seq {higher}, which was handled first"
            ));
        }
        seen.push(*seq);
    }
    for crossing in crossings {
        report.violation(crossing);
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
    soak: &Ended<'_, S>,
    client: &Client,
    state: &PlayerState,
    history: &[Task],
    inbox: &BTreeSet<u64>,
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
            // Durable notifications only, told by type: a `snapshot` carries the `seq` too.
            let Some(seq) = durable_seq(post.as_bytes()) else {
                continue;
            };
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
        if posted.contains(&seq) {
            n.posted += 1;
        } else if inbox.contains(&seq) {
            n.in_inbox += 1;
        } else {
            n.lost += 1;
            lost.push(seq);
        }
    }
    report.notifications = n;
    for seq in lost {
        report.violation(format!("{id}: seq {seq} was neither delivered nor kept"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(connection: Option<&str>, seq: u64, delivered: bool) -> LivePost {
        LivePost {
            player_id: "p".into(),
            connection_id: connection.map(str::to_owned),
            seq,
            delivered,
        }
    }

    fn order(posts: &[LivePost]) -> Report {
        let mut report = Report::default();
        check_order(&mut report, "p", posts);
        report
    }

    #[test]
    fn two_plans_crossing_on_the_wire_are_out_of_order() {
        // seq 2's plan was performed after seq 3's: c1 gets 3 then 2
        let report = order(&[
            post(Some("p~1"), 1, true),
            post(Some("p~1"), 3, true),
            post(Some("p~1"), 2, true),
        ]);
        assert_eq!(report.notifications.out_of_order, 1);
        assert_eq!(report.violations, 1);
    }

    #[test]
    fn redeliveries_after_a_failed_post_a_keep_or_a_late_connection_are_not() {
        let report = order(&[
            // 1 fails on c1 and reaches it on the redelivery, after 2
            post(Some("p~1"), 1, false),
            post(Some("p~1"), 2, true),
            // 3 is kept (connections not listed), 4 posted, then 3 redelivered
            post(None, 3, false),
            post(Some("p~1"), 4, true),
            post(Some("p~1"), 1, true),
            post(Some("p~1"), 2, true),
            post(Some("p~1"), 3, true),
            // c2 opens between the first delivery of 4 and its redelivery
            post(Some("p~2"), 5, true),
            post(Some("p~2"), 4, true),
        ]);
        assert_eq!(report.notifications.out_of_order, 0, "{report}");
        assert_eq!(report.notifications.repeats, 1, "2 twice on c1");
        assert_eq!(report.violations, 0);
    }
}

//! Continuous tasks through the use cases on the memory store with a manual clock: chunks are
//! settled by the same wake-up mechanism as fixed tasks, duplicate deliveries grant once, and
//! nothing a client sends about time changes what it earns.

mod common;

use std::collections::BTreeMap;

use common::*;
use idle_app::usecase::{self, perform_batch, Woken};
use idle_core::model::{Millis, Skill, TaskStatus};
use serde_json::{json, Value};

const HOUR: Millis = 3_600_000;

fn repeat_message(request_id: &str) -> Value {
    json!({
        "action": "enqueue",
        "request_id": request_id,
        "task": {"activity": "harvest", "resource": "copper_ore", "location": "meadow", "repeat": "until_stopped"}
    })
}

/// Connects `player_id` and gives it a pickaxe that lasts (the starter one breaks after 250
/// actions).
async fn connect_with_a_lasting_pickaxe(env: &Env, connection_id: &str, player_id: &str) {
    env.connect(connection_id, player_id).await;
    let mut state = env.stored_or_new(player_id);
    state
        .player
        .equipment
        .get_mut("pickaxe")
        .unwrap()
        .durability = 10_000_000;
    env.world.store.put_player(state);
}

/// Moves the clock from wake-up to wake-up (performing outboxes in between) up to `until`.
async fn run_until(env: &Env, until: Millis) {
    env.settle().await;
    while let Some(at) = env.world.waker.next_at().filter(|at| *at <= until) {
        env.set_clock(at.max(env.now()));
        env.settle().await;
    }
    env.set_clock(until.max(env.now()));
    env.settle().await;
}

fn grants(env: &Env, player_id: &str) -> (BTreeMap<String, u64>, u64) {
    let state = env.world.store.player(player_id).unwrap();
    (
        state.player.inventory.clone(),
        state.player.skill_xp(Skill::Harvesting),
    )
}

fn task_id_of(reply: &Value) -> String {
    reply["task_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn chunks_are_settled_by_wake_ups_and_written_as_history_records() {
    // Given a connected player who starts a continuous harvest
    let env = Env::new();
    connect_with_a_lasting_pickaxe(&env, "c1", "p1").await;
    let replies = env.send("c1", &repeat_message("r1")).await;
    assert_eq!(replies[0]["type"], "ack", "{replies:?}");
    let id = task_id_of(&replies[0]);

    // When an hour passes on the timer
    run_until(&env, T0 + HOUR).await;

    // Then each chunk has its history record and its `chunk_settled` notification
    let history = env.world.store.task_history("p1");
    assert!(history.len() >= 3, "{} records", history.len());
    for (k, record) in history.iter().enumerate() {
        assert_eq!(record.task_id, format!("{id}.{k:06}"));
        assert_eq!(record.status, TaskStatus::Completed);
    }
    let posts = env.posts("c1");
    let settled: Vec<&Value> = posts
        .iter()
        .filter(|p| p["type"] == "chunk_settled")
        .collect();
    assert_eq!(settled.len(), history.len());
    // And the task still runs, one item in the queue
    let state = env.world.store.player("p1").unwrap();
    assert_eq!(state.queue.len(), 1);
    assert_eq!(state.queue[0].status, TaskStatus::Running);
}

#[tokio::test]
async fn a_duplicate_wake_up_or_outbox_delivery_grants_a_chunk_once() {
    let env = Env::new();
    connect_with_a_lasting_pickaxe(&env, "c1", "p1").await;
    env.send("c1", &repeat_message("r1")).await;
    env.settle().await;
    let due = env
        .world
        .store
        .player("p1")
        .unwrap()
        .player
        .wake_at
        .unwrap();
    env.set_clock(due);
    assert_eq!(
        usecase::wake(&env.services, "p1", due).await.unwrap(),
        Woken::Advanced
    );
    let after_one = grants(&env, "p1");
    // The same wake-up delivered again writes nothing (at most it posts a progress update)
    let commits = env.world.faults.commits();
    let again = usecase::wake(&env.services, "p1", due).await.unwrap();
    assert!(
        matches!(again, Woken::Nothing | Woken::Progress),
        "{again:?}"
    );
    assert_eq!(env.world.faults.commits(), commits);
    env.perform().await;
    let outboxes = env.world.store.last_outboxes();
    // The stream delivers the chunk's outbox again
    let report = perform_batch(&env.services, outboxes.into_iter().map(Ok).collect()).await;
    assert_eq!(report.failed_players, 0);
    assert_eq!(grants(&env, "p1"), after_one);
    assert_eq!(env.world.store.task_history("p1").len(), 1);
}

/// Plays one scenario: enqueue at T0, then at each of `times` the client either reconnects
/// twice and sends messages stamped with made-up times (`noisy`), or reconnects once and
/// sends one plain `ping`; the task is cancelled at `end`. Returns the grants.
async fn scenario(noisy: bool, times: &[Millis], end: Millis) -> (BTreeMap<String, u64>, u64) {
    let env = Env::new();
    connect_with_a_lasting_pickaxe(&env, "c0", "p1").await;
    let replies = env.send("c0", &repeat_message("r1")).await;
    let id = task_id_of(&replies[0]);
    for (n, &at) in times.iter().enumerate() {
        run_until(&env, at).await;
        if noisy {
            for k in 0..2 {
                let connection = format!("c{n}-{k}");
                env.connect(&connection, "p1").await;
                // Times a client claims are not inputs: unknown fields are refused...
                for body in [
                    json!({"action": "ping", "at": 4_102_444_800_000i64}),
                    json!({"action": "sync", "now": 0}),
                    json!({"action": "cancel", "task_id": id, "client_time": at + 99 * HOUR}),
                ] {
                    let replies = env.send(&connection, &body).await;
                    let code = replies[0]["code"].as_str().unwrap_or_default().to_owned();
                    assert!(
                        code == "invalid_request" || code == "rate_limited",
                        "{replies:?}"
                    );
                }
                // ...and a sync's answer is the server's state
                env.send(&connection, &json!({"action": "sync"})).await;
            }
        } else {
            let connection = format!("c{n}");
            env.connect(&connection, "p1").await;
            env.send(&connection, &json!({"action": "ping"})).await;
        }
    }
    run_until(&env, end).await;
    env.connect("end", "p1").await;
    let replies = env
        .send("end", &json!({"action": "cancel", "task_id": id}))
        .await;
    assert_eq!(replies[0]["type"], "ack", "{replies:?}");
    env.settle().await;
    grants(&env, "p1")
}

#[tokio::test]
async fn a_client_reconnecting_with_made_up_times_earns_what_server_time_gives() {
    // Activity every few hours, then 30 hours away, then back for a while.
    let times = [
        T0 + 2 * HOUR,
        T0 + 5 * HOUR,
        T0 + 35 * HOUR,
        T0 + 35 * HOUR + 1000,
        T0 + 37 * HOUR,
    ];
    let end = T0 + 38 * HOUR;
    let noisy = scenario(true, &times, end).await;
    let plain = scenario(false, &times, end).await;
    assert_eq!(noisy, plain);
    // And the 30 hours away counted as 24: the same as one player active throughout who
    // stopped 6 hours earlier
    let steady: Vec<Millis> = (1..32).map(|h| T0 + h * HOUR).collect();
    let capped = scenario(false, &steady, end - 6 * HOUR).await;
    assert_eq!(plain, capped);
}

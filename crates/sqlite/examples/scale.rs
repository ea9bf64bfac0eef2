//! The embedded store at 100,000 players: fills a database file with players made by the real
//! state machine (each with a running task and a small history), then times enqueue-like writes
//! (load_players + commit + put_history of one player, 1000 distinct players) against the same
//! on a store of 1000 players, and prints latencies, sizes and the cost of the maintenance calls.
//!
//! ```text
//! cargo run --profile measure -p idle-sqlite --example scale -- [PLAYERS] [DIR]
//! ```
//!
//! PLAYERS defaults to 100000, DIR to `$TMPDIR/idle-sqlite-scale` (emptied first, removed at the
//! end unless `KEEP=1`). Figures are recorded in docs/performance.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use idle_app::outbox::Commit;
use idle_app::ports::GameStore;
use idle_app::state::PlayerState;
use idle_core::catalog::Catalog;
use idle_core::model::{Millis, Player, Task, TaskRequest};
use idle_core::{advance, enqueue, Enqueued, Game};
use idle_sqlite::{SqliteOptions, SqliteStore, Synchronous};

const T0: Millis = 1_800_000_000_000;
const HISTORY_PER_PLAYER: u64 = 3;
/// Enqueue-like writes timed on each store (distinct players).
const SAMPLES: usize = 1000;

fn game() -> Game<'static> {
    Game::new(
        Catalog::shipped(),
        b"scale-example-secret-scale-example-secret".to_vec(),
    )
}

fn request() -> TaskRequest {
    TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 1,
        repeat: None,
    }
}

fn enqueued(game: &Game, state: &PlayerState, request_id: &str, now: Millis) -> Commit {
    let plan = match enqueue(
        game,
        &state.player,
        &state.queue,
        request_id,
        &request(),
        false,
        false,
        now,
    ) {
        Ok(Enqueued::New { plan, .. }) => plan,
        other => panic!("an enqueue: {other:?}"),
    };
    Commit::of(state, &plan).expect("an enqueue writes")
}

fn new_player(id: &str) -> PlayerState {
    PlayerState {
        player: Player::new(id, T0, Catalog::shipped(), 10),
        queue: Vec::new(),
    }
}

/// A finished task as the state machine writes it, to copy into every history.
fn finished_task(game: &Game) -> Task {
    let before = new_player("template");
    let commit = enqueued(game, &before, "r0", T0);
    let running = commit.state;
    let ends_at = running.queue[0].ends_at.expect("running");
    let plan = advance(game, &running.player, &running.queue, ends_at);
    let done = Commit::of(&running, &plan).expect("a completion writes");
    done.outbox.history[0].clone()
}

fn history(template: &Task, id: &str, from: u64, count: u64) -> Vec<Task> {
    (from..from + count)
        .map(|n| Task {
            player_id: id.to_owned(),
            task_id: format!("{:020}", n),
            ..template.clone()
        })
        .collect()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((samples.len() as f64 * p).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

fn summary(samples: &mut [Duration]) -> String {
    format!(
        "p50 {:>7.1} µs  p99 {:>7.1} µs  max {:>7.1} µs",
        percentile(samples, 0.50).as_secs_f64() * 1e6,
        percentile(samples, 0.99).as_secs_f64() * 1e6,
        percentile(samples, 1.0).as_secs_f64() * 1e6,
    )
}

/// Fills `store` with `players` players, each created, given a running task (the enqueue's
/// commit) and `HISTORY_PER_PLAYER` history records; performed outboxes are marked as the
/// runtime would.
async fn fill(store: &SqliteStore, game: &Game<'_>, template: &Task, players: usize) {
    for i in 0..players {
        let id = format!("player-{i:07}");
        let state = new_player(&id);
        store.create_player(&state).await.unwrap();
        store
            .commit(&enqueued(game, &state, "r1", T0))
            .await
            .unwrap();
        store
            .put_history(&history(template, &id, 0, HISTORY_PER_PLAYER))
            .await
            .unwrap();
        if i % 1000 == 999 {
            mark_all(store);
        }
    }
    mark_all(store);
}

fn mark_all(store: &SqliteStore) {
    let done: Vec<(String, u64)> = store
        .take_outboxes()
        .into_iter()
        .map(|r| (r.player_id, r.version))
        .collect();
    store.mark_performed(&done).unwrap();
}

struct Timed {
    whole: Vec<Duration>,
    commit: Vec<Duration>,
}

/// One enqueue-like write per player in `ids`: load, compute the enqueue, commit, put one
/// history record. Returns the time of the whole and of the commit alone.
async fn enqueue_like(
    store: &SqliteStore,
    game: &Game<'_>,
    template: &Task,
    ids: &[String],
) -> Timed {
    let now = T0 + 60_000;
    let mut timed = Timed {
        whole: Vec::new(),
        commit: Vec::new(),
    };
    for (n, id) in ids.iter().enumerate() {
        let started = Instant::now();
        let state = store
            .load_players(std::slice::from_ref(id))
            .await
            .unwrap()
            .players
            .pop()
            .expect("a stored player");
        let commit = enqueued(game, &state, "r2", now);
        let committing = Instant::now();
        store.commit(&commit).await.unwrap();
        timed.commit.push(committing.elapsed());
        store
            .put_history(&history(template, id, 1000 + n as u64, 1))
            .await
            .unwrap();
        timed.whole.push(started.elapsed());
    }
    timed
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Bytes of each table with its indexes (SQLite's `dbstat`), from a second connection.
fn table_bytes(path: &Path) -> Vec<(String, u64)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT coalesce(tbl_name, d.name), sum(pgsize) FROM dbstat d
             LEFT JOIN sqlite_schema s ON s.name = d.name GROUP BY 1 ORDER BY 2 DESC",
        )
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn fresh_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
}

/// Default options; `SYNC=full` for `Synchronous::Full`, `CHECKPOINT=auto` for SQLite's own
/// checkpoints.
fn options() -> SqliteOptions {
    let full = std::env::var("SYNC").is_ok_and(|v| v.eq_ignore_ascii_case("full"));
    SqliteOptions {
        synchronous: if full {
            Synchronous::Full
        } else {
            Synchronous::Normal
        },
        // CHECKPOINT=auto: SQLite's own checkpoint, inside the commit that crosses 1000 pages.
        checkpoint_interval: match std::env::var("CHECKPOINT").as_deref() {
            Ok("auto") => None,
            _ => SqliteOptions::default().checkpoint_interval,
        },
        ..SqliteOptions::default()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let players: usize = args.next().map_or(100_000, |a| a.parse().expect("PLAYERS"));
    let root: PathBuf = args.next().map_or_else(
        || std::env::temp_dir().join("idle-sqlite-scale"),
        PathBuf::from,
    );
    let game = game();
    let template = finished_task(&game);
    println!(
        "load average before: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!(
        "synchronous: {:?}, checkpoint interval: {:?}",
        options().synchronous,
        options().checkpoint_interval
    );
    println!(
        "player row JSON: {} bytes, history record JSON: {} bytes",
        serde_json::to_string(
            &enqueued(&game, &new_player("player-0000000"), "r1", T0)
                .state
                .player
        )
        .unwrap()
        .len(),
        serde_json::to_string(&template).unwrap().len()
    );

    // ---- the same writes on an almost empty store -------------------------------------------
    let small_dir = root.join("empty");
    fresh_dir(&small_dir);
    let small = SqliteStore::open_with(small_dir.join("idle.db"), options()).unwrap();
    fill(&small, &game, &template, SAMPLES).await;
    small.checkpoint().unwrap();
    let ids: Vec<String> = (0..SAMPLES).map(|i| format!("player-{i:07}")).collect();
    let mut empty = enqueue_like(&small, &game, &template, &ids).await;
    let started = Instant::now();
    let small_pending = small.last_outboxes().unwrap();
    let small_last = started.elapsed();
    let outbox_bytes: usize = small_pending
        .iter()
        .map(|r| serde_json::to_string(&r.outbox).unwrap().len())
        .sum();
    drop(small);

    // ---- the full store ----------------------------------------------------------------------
    let dir = root.join("full");
    fresh_dir(&dir);
    let path = dir.join("idle.db");
    let store = SqliteStore::open_with(&path, options()).unwrap();
    let started = Instant::now();
    fill(&store, &game, &template, players).await;
    let filled = started.elapsed();
    // Time steady state, not the checkpoint of the fill's last second.
    store.checkpoint().unwrap();
    println!(
        "filled {players} players ({} history rows) in {:.1} s: {:.0} players/s, 3 writes each",
        players as u64 * HISTORY_PER_PLAYER,
        filled.as_secs_f64(),
        players as f64 / filled.as_secs_f64()
    );
    // Distinct players spread evenly over the whole store.
    let samples = SAMPLES.min(players);
    let ids: Vec<String> = (0..samples)
        .map(|i| format!("player-{:07}", i * players / samples))
        .collect();
    let mut full = enqueue_like(&store, &game, &template, &ids).await;

    println!(
        "\nenqueue-like write (load_players + commit + put_history), {SAMPLES} and {samples} samples:"
    );
    println!("  {:>7} players: {}", SAMPLES, summary(&mut empty.whole));
    println!("  {players:>7} players: {}", summary(&mut full.whole));
    println!("the commit alone:");
    println!("  {:>7} players: {}", SAMPLES, summary(&mut empty.commit));
    println!("  {players:>7} players: {}", summary(&mut full.commit));

    // What handing each call to the blocking pool would add.
    let mut handoff = Vec::new();
    for _ in 0..1000 {
        let started = Instant::now();
        tokio::task::spawn_blocking(|| ()).await.unwrap();
        handoff.push(started.elapsed());
    }
    println!(
        "spawn_blocking round trip (no work), 1000 samples: {}",
        summary(&mut handoff)
    );

    // Maintenance at this size.
    let started = Instant::now();
    let pending = store.last_outboxes().unwrap().len();
    println!(
        "\nlast_outboxes ({pending} unperformed): {:.2} ms at {players} players, {:.2} ms at \
         {SAMPLES} ({} bytes of outbox JSON on average)",
        started.elapsed().as_secs_f64() * 1e3,
        small_last.as_secs_f64() * 1e3,
        outbox_bytes / small_pending.len().max(1)
    );
    let started = Instant::now();
    let page = store.due_players(0, T0 + 3_600_000, None).await.unwrap();
    println!(
        "due_players, first page of shard 0 ({} ids): {:.2} ms",
        page.items.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let started = Instant::now();
    let purged = store.purge_expired(T0).unwrap();
    println!(
        "purge_expired with nothing expired ({purged:?}): {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    store.checkpoint().unwrap();
    let size = file_size(&path);
    println!(
        "\nfile: {:.1} MB after a checkpoint ({:.0} bytes per player, all tables)",
        size as f64 / 1e6,
        size as f64 / players as f64
    );
    let counts = store.counts().unwrap();
    for (table, bytes) in table_bytes(&path) {
        let rows = match table.as_str() {
            "players" => counts.players,
            "history" => counts.history,
            _ => 0,
        };
        let per_row = if rows > 0 {
            format!(
                " ({:.0} bytes per row, indexes included)",
                bytes as f64 / rows as f64
            )
        } else {
            String::new()
        };
        println!("  {table:<16} {:>8.1} MB{per_row}", bytes as f64 / 1e6);
    }

    let backup = dir.join("backup.db");
    let started = Instant::now();
    store.backup_to(&backup).unwrap();
    println!(
        "backup_to: {:.2} s for {:.1} MB",
        started.elapsed().as_secs_f64(),
        file_size(&backup) as f64 / 1e6
    );
    std::fs::remove_file(&backup).unwrap();
    store.close().unwrap();
    println!(
        "load average after: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    if std::env::var_os("KEEP").is_none() {
        std::fs::remove_dir_all(&root).unwrap();
    }
}

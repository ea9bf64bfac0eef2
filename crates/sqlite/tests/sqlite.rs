//! The SQLite store: the store contract in memory and on disk, and what only a database on disk
//! promises — commits survive a crash, WAL is on, the old JSON data file is imported once,
//! expired rows are purged in bounded batches, a backup opens as a database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use idle_app::memory::MemoryStore;
use idle_app::outbox::{Commit, Outbox};
use idle_app::ports::{wake_shard, Connection, ConnectionStore, GameStore, Inbox, StoreError};
use idle_app::state::PlayerState;
use idle_core::catalog::Catalog;
use idle_core::model::{EpochSecs, Millis, Player, Task, TaskStatus};
use idle_core::protocol::{Event, Notification};
use idle_sqlite::{Import, SqliteOptions, SqliteStore, SCHEMA_VERSION};
use idle_testing::contract;

const T0: Millis = 1_800_000_000_000;

/// An empty directory of this test's own under the system's temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("idle-sqlite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Small pages, so every paginated read of the contract spans several.
fn options() -> SqliteOptions {
    SqliteOptions {
        wake_shards: 4,
        page_size: 3,
        ..SqliteOptions::default()
    }
}

fn on_disk(name: &str) -> (SqliteStore, PathBuf) {
    let dir = temp_dir(name);
    let store = SqliteStore::open_with(dir.join("idle.db"), options()).unwrap();
    (store, dir)
}

fn in_memory() -> SqliteStore {
    SqliteStore::in_memory_with(options()).unwrap()
}

fn player(id: &str) -> PlayerState {
    PlayerState {
        player: Player::new(id, T0, Catalog::shipped(), 10),
        queue: Vec::new(),
    }
}

fn write(state: &PlayerState, expected: Option<u64>, version: u64, outbox: Outbox) -> Commit {
    let mut state = state.clone();
    state.player.version = version;
    Commit {
        state,
        expected_version: expected,
        outbox,
    }
}

fn note(seq: u64) -> Notification {
    Notification {
        seq,
        at: T0,
        event: Event::QueueUpdated { queue: Vec::new() },
    }
}

fn noting(seq: u64) -> Outbox {
    Outbox {
        notifications: vec![note(seq)],
        ..Outbox::default()
    }
}

/// A finished harvest numbered `n`, finished at `finished_at` (the contract's record).
fn task(player_id: &str, n: u64, finished_at: Millis) -> Task {
    contract::finished_task(player_id, n, finished_at + 1000)
}

async fn load(store: &SqliteStore, id: &str) -> Option<PlayerState> {
    store
        .load_players(&[id.to_owned()])
        .await
        .unwrap()
        .players
        .pop()
}

async fn run_contract(store: &SqliteStore) {
    contract::commit_on_version(store, T0).await;
    contract::history_put_if_absent(store, T0).await;
    contract::wake_index_paging(store, T0, 4).await;
    contract::outbox_feed_order(
        store,
        T0,
        || store.take_outboxes(),
        || store.last_outboxes().unwrap(),
    )
    .await;
    contract::connections_by_id_and_player(store, T0).await;
    contract::connections_listed_with_the_player(store, T0).await;
    contract::feed_carries_connections(store, T0, || store.take_outboxes()).await;
    contract::kept_notifications(store, T0).await;
    contract::catalogs_put_if_absent(store).await;
    contract::erase_player_everywhere(store, T0).await;
}

// ---- the contract --------------------------------------------------------------------------

#[tokio::test]
async fn an_in_memory_database_keeps_the_store_contract() {
    run_contract(&in_memory()).await;
}

#[tokio::test]
async fn a_database_file_keeps_the_store_contract() {
    let (store, dir) = on_disk("contract");
    run_contract(&store).await;
    drop(store);
    std::fs::remove_dir_all(dir).unwrap();
}

// ---- the file ------------------------------------------------------------------------------

#[tokio::test]
async fn a_database_file_is_in_wal_mode_at_the_current_schema_version() {
    let (store, dir) = on_disk("wal");
    store.create_player(&player("p1")).await.unwrap();
    // Another connection, as the sqlite3 shell would open it while the store is open.
    let shell = rusqlite::Connection::open(dir.join("idle.db")).unwrap();
    let mode: String = shell
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: u32 = shell
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let players: i64 = shell
        .query_row("SELECT count(*) FROM players", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        players, 1,
        "a reader sees the commit while the store is open"
    );
}

#[tokio::test]
async fn a_database_of_a_newer_schema_is_refused() {
    let dir = temp_dir("newer");
    let path = dir.join("idle.db");
    drop(SqliteStore::open(&path).unwrap());
    let shell = rusqlite::Connection::open(&path).unwrap();
    shell
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(shell);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::Permanent(m) if m.contains("newer") && m.contains("idle.db")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_row_that_does_not_decode_is_reported_for_its_player_alone() {
    let (store, dir) = on_disk("corrupt");
    store.create_player(&player("good")).await.unwrap();
    store.create_player(&player("bad")).await.unwrap();
    let shell = rusqlite::Connection::open(dir.join("idle.db")).unwrap();
    shell
        .execute(
            "UPDATE players SET player = '{' WHERE player_id = 'bad'",
            [],
        )
        .unwrap();
    let loaded = store
        .load_players(&["good".into(), "bad".into()])
        .await
        .unwrap();
    assert_eq!(loaded.players.len(), 1);
    assert_eq!(loaded.players[0].player.player_id, "good");
    assert_eq!(loaded.unreadable.len(), 1);
    let (id, err) = &loaded.unreadable[0];
    assert_eq!(id, "bad");
    assert!(
        matches!(err, StoreError::Permanent(m) if m.contains("players") && m.contains("bad")),
        "{err:?}"
    );
}

#[tokio::test]
async fn reopening_with_another_shard_count_reshards_the_wake_index() {
    let dir = temp_dir("reshard");
    let path = dir.join("idle.db");
    let with = |shards| SqliteOptions {
        wake_shards: shards,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(&path, with(2)).unwrap();
    let ids: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
    for id in &ids {
        let mut state = player(id);
        state.player.wake_at = Some(T0);
        store
            .commit(&write(&state, None, 1, Outbox::default()))
            .await
            .unwrap();
    }
    drop(store);

    let store = SqliteStore::open_with(&path, with(8)).unwrap();
    let mut found = Vec::new();
    for shard in 0..8 {
        let page = store.due_players(shard, T0, None).await.unwrap();
        assert!(page.items.iter().all(|id| wake_shard(id, 8) == shard));
        found.extend(page.items);
    }
    found.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(found, expected);
}

// ---- crashes and restarts ------------------------------------------------------------------

const CRASH_DIR: &str = "IDLE_SQLITE_CRASH_DIR";

/// Not a test on its own: run by `a_killed_process_leaves_its_commits_and_their_outboxes` as a
/// child process, it commits and then aborts (no destructor runs, the connection is never
/// closed, the WAL is never checkpointed).
#[test]
fn crash_child_commits_then_aborts() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(Path::new(&dir).join("idle.db")).unwrap();
        let p = player("crash");
        store.commit(&write(&p, None, 1, noting(1))).await.unwrap();
        store
            .commit(&write(&p, Some(1), 2, noting(2)))
            .await
            .unwrap();
        store.put_history(&[task("crash", 1, T0)]).await.unwrap();
        store
            .store("crash", &[note(1)], EpochSecs(T0 / 1000 + 3600))
            .await
            .unwrap();
        // Stale: refused, and must stay refused after the crash.
        assert!(store
            .commit(&write(&p, Some(1), 3, noting(3)))
            .await
            .is_err());
        // While the store is open: dropping it would close the connection cleanly.
        std::process::abort();
    });
}

#[tokio::test]
async fn a_killed_process_leaves_its_commits_and_their_outboxes() {
    let dir = temp_dir("crash");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child_commits_then_aborts",
            "--exact",
            "--test-threads=1",
        ])
        .env(CRASH_DIR, &dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child aborts");
    assert!(
        dir.join("idle.db-wal").exists(),
        "its commits are in the log only"
    );

    let store = SqliteStore::open(dir.join("idle.db")).unwrap();
    let state = load(&store, "crash").await.expect("the committed player");
    assert_eq!(state.player.version, 2);
    assert!(store.load_task("crash", "t000001").await.unwrap().is_some());
    let kept = store.kept_after("crash", 0, T0, 10).await.unwrap();
    assert_eq!(kept.notifications, [note(1)]);
    // Both outboxes were committed and never marked performed: a restart performs them again.
    let again: Vec<(String, u64)> = store
        .last_outboxes()
        .unwrap()
        .into_iter()
        .map(|r| (r.player_id, r.version))
        .collect();
    assert_eq!(again, [("crash".into(), 1), ("crash".into(), 2)]);
    // The version condition still holds.
    let p = player("crash");
    assert!(matches!(
        store
            .commit(&write(&p, Some(1), 3, Outbox::default()))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .commit(&write(&p, Some(2), 3, Outbox::default()))
        .await
        .unwrap();
}

#[tokio::test]
async fn performed_outboxes_are_not_performed_again_after_a_restart() {
    let dir = temp_dir("performed");
    let path = dir.join("idle.db");
    let store = SqliteStore::open(&path).unwrap();
    let feed = store.feed_notify();
    let (a, b) = (player("a"), player("b"));
    store.commit(&write(&a, None, 1, noting(1))).await.unwrap();
    store
        .commit(&write(&a, Some(1), 2, noting(2)))
        .await
        .unwrap();
    store.commit(&write(&b, None, 1, noting(1))).await.unwrap();
    store
        .commit(&write(&b, Some(1), 2, Outbox::default()))
        .await
        .unwrap();
    // A commit signalled the feed; the signal waits for its waiter.
    tokio::time::timeout(Duration::from_secs(10), feed.notified())
        .await
        .expect("the feed was signalled");
    let taken: Vec<(String, u64)> = store
        .take_outboxes()
        .into_iter()
        .map(|r| (r.player_id, r.version))
        .collect();
    assert_eq!(
        taken,
        [("a".into(), 1), ("a".into(), 2), ("b".into(), 1)],
        "commit order"
    );

    // a's first outbox was performed, and a stale or unknown mark changes nothing.
    let marked = store
        .mark_performed(&[("a".into(), 1), ("a".into(), 7), ("nobody".into(), 1)])
        .unwrap();
    assert_eq!(marked, 1);
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    assert!(store.take_outboxes().is_empty(), "the feed starts empty");
    let again: Vec<(String, u64)> = store
        .last_outboxes()
        .unwrap()
        .into_iter()
        .map(|r| (r.player_id, r.version))
        .collect();
    assert_eq!(
        again,
        [("a".into(), 2), ("b".into(), 1)],
        "what was not marked, b's outbox included though an empty one followed it"
    );
    store
        .mark_performed(&[("a".into(), 2), ("b".into(), 1)])
        .unwrap();
    assert!(store.last_outboxes().unwrap().is_empty());
    assert_eq!(store.counts().unwrap().outboxes, 0);
}

#[tokio::test]
async fn connections_are_cleared_at_start() {
    let (store, _dir) = on_disk("connections");
    let connection = Connection {
        connection_id: "c1".into(),
        player_id: "p1".into(),
        is_admin: false,
        connected_at: T0,
        token_expires_at: T0 + 1000,
        expires_at: EpochSecs(T0 / 1000 + 60),
    };
    store.put_connection(&connection).await.unwrap();
    assert_eq!(store.clear_connections().unwrap(), 1);
    assert_eq!(store.get_connection("c1").await.unwrap(), None);
}

// ---- the old JSON data directory -------------------------------------------------------------

/// A JSON data file as the JSON runtime wrote it, from a memory store's snapshot.
async fn json_data_file(path: &Path) -> MemoryStore {
    let memory = MemoryStore::new(8);
    let a = player("json-a");
    let mut queued = a.clone();
    queued.queue = vec![Task {
        status: TaskStatus::Queued,
        finished_at: None,
        ..task("json-a", 2, T0)
    }];
    queued.player.wake_at = Some(T0 + 5000);
    memory
        .commit(&write(&a, None, 1, Outbox::default()))
        .await
        .unwrap();
    memory
        .commit(&write(&queued, Some(1), 2, noting(3)))
        .await
        .unwrap();
    memory
        .commit(&write(&player("json-b"), None, 1, Outbox::default()))
        .await
        .unwrap();
    memory.put_history(&[task("json-a", 1, T0)]).await.unwrap();
    memory
        .store("json-b", &[note(1), note(2)], EpochSecs(T0 / 1000 + 3600))
        .await
        .unwrap();
    let file = serde_json::json!({ "format": 1, "store": memory.snapshot() });
    std::fs::write(path, file.to_string()).unwrap();
    memory
}

#[tokio::test]
async fn the_json_data_file_is_imported_once_and_renamed() {
    let dir = temp_dir("import");
    let json = dir.join("store.json");
    let memory = json_data_file(&json).await;
    let store = SqliteStore::open(dir.join("idle.db")).unwrap();

    let outcome = store.import_store_json(&json).unwrap();
    assert_eq!(
        outcome,
        Import::Imported {
            players: 2,
            history: 1,
            kept: 2,
            outboxes: 1
        }
    );
    assert!(!json.exists());
    assert!(dir.join("store.json.imported").exists());
    for id in ["json-a", "json-b"] {
        assert_eq!(load(&store, id).await, memory.player(id), "{id} as it was");
    }
    assert_eq!(
        store.load_task("json-a", "t000001").await.unwrap(),
        memory.task_history("json-a").pop()
    );
    let kept = store.kept_after("json-b", 0, T0, 10).await.unwrap();
    assert_eq!(kept.notifications, [note(1), note(2)]);
    let due = store.due_players(wake_shard("json-a", 8), T0 + 5000, None);
    assert_eq!(due.await.unwrap().items, ["json-a"], "in the wake index");
    let again = store.last_outboxes().unwrap();
    assert_eq!(again.len(), 1, "json-a's last outbox is performed again");
    assert_eq!((again[0].version, &again[0].outbox), (2, &noting(3)));

    assert_eq!(store.import_store_json(&json).unwrap(), Import::NoFile);
    // The file back again (a crash came between the import and the rename): renamed, not
    // imported twice.
    std::fs::rename(dir.join("store.json.imported"), &json).unwrap();
    assert_eq!(
        store.import_store_json(&json).unwrap(),
        Import::AlreadyImported
    );
    assert!(!json.exists());
    assert_eq!(store.counts().unwrap().kept, 2);
}

#[tokio::test]
async fn a_json_data_file_is_not_mixed_into_a_database_that_has_data() {
    let dir = temp_dir("import-refused");
    let json = dir.join("store.json");
    json_data_file(&json).await;
    let store = SqliteStore::open(dir.join("idle.db")).unwrap();
    store.create_player(&player("already")).await.unwrap();
    let err = store.import_store_json(&json).unwrap_err();
    assert!(
        matches!(&err, StoreError::Permanent(m) if m.contains("store.json") && m.contains("already holds")),
        "{err:?}"
    );
    assert!(json.exists(), "left where it was");
    assert_eq!(load(&store, "json-a").await, None);

    std::fs::write(&json, r#"{"format": 2, "store": {}}"#).unwrap();
    let err = store.import_store_json(&json).unwrap_err();
    assert!(
        matches!(&err, StoreError::Permanent(m) if m.contains("format")),
        "{err:?}"
    );
}

// ---- retention and backup --------------------------------------------------------------------

#[tokio::test]
async fn expired_rows_are_purged_in_bounded_batches() {
    let store = SqliteStore::in_memory_with(SqliteOptions {
        history_ttl_secs: 3600,
        ..SqliteOptions::default()
    })
    .unwrap();
    let now = T0;
    // Finished 2 h ago (expired: kept 1 h) and just now (live).
    let old: Vec<Task> = (1..=5).map(|n| task("p", n, now - 7_200_000)).collect();
    store.put_history(&old).await.unwrap();
    store.put_history(&[task("p", 9, now)]).await.unwrap();
    let notes: Vec<Notification> = (1..=5).map(note).collect();
    store
        .store("p", &notes, EpochSecs(now / 1000))
        .await
        .unwrap();
    store
        .store("p", &[note(6)], EpochSecs(now / 1000 + 1))
        .await
        .unwrap();
    for (id, expires_at) in [
        ("c1", EpochSecs(now / 1000 - 1)),
        ("c2", EpochSecs(now / 1000 + 60)),
    ] {
        let connection = Connection {
            connection_id: id.into(),
            player_id: "p".into(),
            is_admin: false,
            connected_at: now - 1000,
            token_expires_at: now,
            expires_at,
        };
        store.put_connection(&connection).await.unwrap();
    }

    let first = store.purge_expired_at_most(now, 2).unwrap();
    assert_eq!((first.history, first.kept, first.connections), (2, 2, 1));
    assert!(first.more, "a full batch says more may follow");
    let mut rounds = 1;
    while store.purge_expired_at_most(now, 2).unwrap().more {
        rounds += 1;
        assert!(rounds < 10);
    }
    let counts = store.counts().unwrap();
    assert_eq!(
        (counts.history, counts.kept, counts.connections),
        (1, 1, 1),
        "only live rows remain"
    );
    assert!(store.load_task("p", "t000001").await.unwrap().is_none());
    assert!(store.load_task("p", "t000009").await.unwrap().is_some());
    assert_eq!(
        store
            .kept_after("p", 0, now, 10)
            .await
            .unwrap()
            .notifications,
        [note(6)]
    );
    assert!(store.get_connection("c2").await.unwrap().is_some());
    assert_eq!(store.purge_expired(now).unwrap(), Default::default());
}

#[tokio::test]
async fn a_backup_opens_as_a_database_with_the_state_of_its_instant() {
    let (store, dir) = on_disk("backup");
    let p = player("saved");
    store.commit(&write(&p, None, 1, noting(1))).await.unwrap();
    store.put_history(&[task("saved", 1, T0)]).await.unwrap();
    let backup = dir.join("backup.db");
    store.backup_to(&backup).unwrap();
    store
        .commit(&write(&p, Some(1), 2, noting(2)))
        .await
        .unwrap();

    let copy = SqliteStore::open(&backup).unwrap();
    let saved = load(&copy, "saved").await.expect("the player in the copy");
    assert_eq!(
        saved.player.version, 1,
        "the copy is the instant of the backup"
    );
    assert!(copy.load_task("saved", "t000001").await.unwrap().is_some());
    assert_eq!(copy.last_outboxes().unwrap().len(), 1);
    assert_eq!(load(&store, "saved").await.unwrap().player.version, 2);

    // An in-memory store backs up the same way.
    let memory = in_memory();
    memory.create_player(&player("mem")).await.unwrap();
    let mem_backup = dir.join("memory.db");
    memory.backup_to(&mem_backup).unwrap();
    let copy = SqliteStore::open(&mem_backup).unwrap();
    assert!(load(&copy, "mem").await.is_some());
}

#[tokio::test]
async fn close_checkpoints_the_log_into_the_file() {
    let dir = temp_dir("close");
    let path = dir.join("idle.db");
    let store = SqliteStore::open(&path).unwrap();
    store.create_player(&player("p")).await.unwrap();
    store.close().unwrap();
    let wal = std::fs::metadata(dir.join("idle.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "nothing left in the log");
    let store = SqliteStore::open(&path).unwrap();
    assert!(load(&store, "p").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_writers_racing_on_one_version_exactly_one_wins() {
    let (store, _dir) = on_disk("race");
    let store = std::sync::Arc::new(store);
    let p = player("race");
    store
        .commit(&write(&p, None, 0, Outbox::default()))
        .await
        .unwrap();
    for round in 0..20u64 {
        let racers: Vec<_> = (0..8u64)
            .map(|writer| {
                let store = store.clone();
                let mut state = p.clone();
                state.player.character_xp = writer;
                tokio::spawn(async move {
                    store
                        .commit(&write(&state, Some(round), round + 1, noting(writer)))
                        .await
                })
            })
            .collect();
        let mut won = Vec::new();
        for (writer, racer) in racers.into_iter().enumerate() {
            match racer.await.unwrap() {
                Ok(()) => won.push(writer as u64),
                Err(StoreError::Conflict(_)) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: one winner");
        let stored = load(&store, "race").await.unwrap();
        assert_eq!(stored.player.version, round + 1);
        assert_eq!(stored.player.character_xp, won[0], "the winner's write");
        let fed = store.take_outboxes();
        assert_eq!(fed.len(), 1, "only the winner's outbox is on the feed");
        assert_eq!(fed[0].outbox, noting(won[0]));
    }
}

#[tokio::test]
async fn the_checkpointer_folds_commits_into_the_database_file() {
    let dir = temp_dir("checkpointer");
    let store = SqliteStore::open_with(
        dir.join("idle.db"),
        SqliteOptions {
            checkpoint_interval: Some(Duration::from_millis(10)),
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    store.create_player(&player("folded")).await.unwrap();
    // The database file alone (without its log), copied, holds the commit once the
    // checkpointer has run: wait for that, up to a minute on a busy machine.
    let copy = dir.join("copy.db");
    let mut found = false;
    for _ in 0..600 {
        std::fs::copy(dir.join("idle.db"), &copy).unwrap();
        let _ = std::fs::remove_file(dir.join("copy.db-wal"));
        let players: i64 = rusqlite::Connection::open(&copy)
            .and_then(|c| c.query_row("SELECT count(*) FROM players", [], |r| r.get(0)))
            .unwrap_or(0);
        if players == 1 {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the commit reached the database file");
}

#[tokio::test]
async fn a_data_directory_starts_with_its_json_imported_and_no_stale_connections() {
    let dir = temp_dir("start").join("data");
    std::fs::create_dir_all(&dir).unwrap();
    // A bare snapshot, as well as the runtime's {"format": 1, "store": ...}.
    let memory = MemoryStore::new(8);
    memory
        .commit(&write(&player("bare"), None, 1, Outbox::default()))
        .await
        .unwrap();
    std::fs::write(
        dir.join("store.json"),
        serde_json::to_string(&memory.snapshot()).unwrap(),
    )
    .unwrap();

    let (store, import) = SqliteStore::start_in(&dir, SqliteOptions::default()).unwrap();
    assert!(
        matches!(import, Import::Imported { players: 1, .. }),
        "{import:?}"
    );
    assert!(dir.join("idle.db").exists());
    assert!(load(&store, "bare").await.is_some());
    let connection = Connection {
        connection_id: "c1".into(),
        player_id: "bare".into(),
        is_admin: false,
        connected_at: T0,
        token_expires_at: T0 + 1000,
        expires_at: EpochSecs(T0 / 1000 + 60),
    };
    store.put_connection(&connection).await.unwrap();
    drop(store);

    let (store, import) = SqliteStore::start_in(&dir, SqliteOptions::default()).unwrap();
    assert_eq!(import, Import::NoFile);
    assert_eq!(
        store.get_connection("c1").await.unwrap(),
        None,
        "cleared at start"
    );
    assert!(load(&store, "bare").await.is_some());
}

// ---- the use cases over the store, fed as the local runtime feeds them --------------------------

mod use_cases {
    use std::sync::Arc;

    use idle_app::auth::{mint, DEV_TOKEN_SECRET};
    use idle_app::handlers;
    use idle_app::memory::{stream_event, ManualClock, MemoryNotifier, MemoryWaker};
    use idle_app::outbox::OutboxRecord;
    use idle_app::ports::{ConnectionStore, GameStore, Inbox};
    use idle_app::usecase::{self, BatchReport};
    use idle_app::{AppConfig, Secret, Services};
    use idle_core::model::TaskStatus;
    use idle_sqlite::{SqliteOptions, SqliteStore};
    use serde_json::{json, Value};

    use super::{temp_dir, T0};

    struct World {
        store: Arc<SqliteStore>,
        notifier: Arc<MemoryNotifier>,
        clock: Arc<ManualClock>,
        services: Services,
    }

    fn config() -> AppConfig {
        AppConfig {
            token_secret: Some(Secret::new(DEV_TOKEN_SECRET).unwrap()),
            seed_secret: Some(Secret::new("sqlite-test-seed-secret-sqlite-test").unwrap()),
            ..AppConfig::default()
        }
    }

    fn world(path: &std::path::Path, now: i64) -> World {
        let config = config();
        let options = SqliteOptions {
            wake_shards: config.wake_shards,
            ..SqliteOptions::default()
        };
        let store = Arc::new(SqliteStore::open_with(path, options).unwrap());
        let notifier = Arc::new(MemoryNotifier::new());
        let clock = Arc::new(ManualClock::new(now));
        let services = Services::new(
            config,
            store.clone(),
            store.clone(),
            store.clone(),
            notifier.clone(),
            clock.clone(),
            Arc::new(MemoryWaker::new()),
        );
        World {
            store,
            notifier,
            clock,
            services,
        }
    }

    /// The local runtime's feed: perform in commit order through the stream handler, then mark
    /// what was performed.
    async fn perform(world: &World, records: &[OutboxRecord]) -> BatchReport {
        let report = handlers::player_stream_report(&world.services, stream_event(records)).await;
        assert!(report.failures.is_empty(), "{report:?}");
        let done: Vec<(String, u64)> = records
            .iter()
            .map(|r| (r.player_id.clone(), r.version))
            .collect();
        world.store.mark_performed(&done).unwrap();
        report
    }

    fn posts(world: &World, connection_id: &str) -> Vec<Value> {
        world
            .notifier
            .take_posts(connection_id)
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_task_completed_before_a_crash_reaches_history_and_sync_after_the_restart() {
        let dir = temp_dir("use-cases");
        let path = dir.join("idle.db");
        let world1 = world(&path, T0);
        world1.notifier.open("c1", T0);
        let token = mint(
            DEV_TOKEN_SECRET.as_bytes(),
            "alice",
            std::time::Duration::from_secs(24 * 3600),
            false,
            T0,
        )
        .unwrap();
        usecase::connect(&world1.services, "c1", Some(&token))
            .await
            .unwrap();
        let enqueue = json!({
            "action": "enqueue",
            "request_id": "r1",
            "task": {"activity": "harvest", "resource": "copper_ore", "location": "meadow", "quantity": 1}
        });
        let replies = usecase::message(&world1.services, "c1", &enqueue.to_string())
            .await
            .replies;
        assert_eq!(serde_json::to_value(&replies[0]).unwrap()["type"], "ack");

        // The enqueue's outbox, performed: the connection hears of the start.
        let records = world1.store.take_outboxes();
        assert_eq!(records.len(), 1);
        let report = perform(&world1, &records).await;
        assert_eq!(report.performed, 1);
        let started: Vec<u64> = posts(&world1, "c1")
            .iter()
            .filter_map(|p| p["seq"].as_u64())
            .collect();
        assert!(!started.is_empty());

        // The task's end: the wake-up commits the completion, and the process dies before the
        // feed performs it.
        let state = world1
            .store
            .load_players(&["alice".into()])
            .await
            .unwrap()
            .players
            .pop()
            .unwrap();
        let task_id = state.queue[0].task_id.clone();
        let ends_at = state.queue[0].ends_at.unwrap();
        world1.clock.set(ends_at);
        usecase::wake(&world1.services, "alice", ends_at)
            .await
            .unwrap();
        assert_eq!(
            world1.store.take_outboxes().len(),
            1,
            "committed, not performed"
        );
        assert_eq!(
            world1.store.load_task("alice", &task_id).await.unwrap(),
            None
        );
        drop(world1);

        // The restart: connections cleared (their sockets died), the unperformed outbox
        // performed again.
        let world2 = world(&path, ends_at + 1000);
        world2.store.clear_connections().unwrap();
        let again = world2.store.last_outboxes().unwrap();
        assert_eq!(again.len(), 1);
        let report = perform(&world2, &again).await;
        assert_eq!(report.history, 1, "{report:?}");
        let finished = world2.store.load_task("alice", &task_id).await.unwrap();
        assert_eq!(finished.map(|t| t.status), Some(TaskStatus::Completed));
        // Nobody was connected: the completion's notifications are kept for sync, after the
        // seqs the connection already had.
        let kept = world2
            .store
            .kept_after("alice", *started.iter().max().unwrap(), ends_at + 1000, 100)
            .await
            .unwrap();
        assert!(!kept.notifications.is_empty());
        assert!(world2.store.last_outboxes().unwrap().is_empty());

        // Performing the same outbox once more (a redelivery) changes nothing.
        let kept_before = world2.store.counts().unwrap();
        perform(&world2, &again).await;
        assert_eq!(world2.store.counts().unwrap(), kept_before);
        assert!(world2
            .store
            .player_connections("alice")
            .await
            .unwrap()
            .is_empty());
    }
}

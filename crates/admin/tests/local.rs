//! `idle-admin` (the real binary) against an idle-local data directory seeded through the
//! SQLite store: show, tasks, grant and revoke (audited in the history), export, replay, the
//! writer lock, redrive, and erase with the check that no row of the player remains.

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use idle_app::ports::PlayerRecords;
use idle_local::lock::DirLock;
use idle_sqlite::{SqliteOptions, SqliteStore, DATABASE_FILE};
use support::{admin, audit_line, check_show, json_of, seed, stderr};

/// A fresh data directory under the system's temporary directory.
fn data_dir(test: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "idle-admin-{test}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A data directory with the players `ids` seeded (a row in every table each), closed.
async fn seeded(test: &str, ids: &[&str]) -> (PathBuf, String) {
    let dir = data_dir(test);
    let store = SqliteStore::open_with(dir.join(DATABASE_FILE), SqliteOptions::default()).unwrap();
    for id in ids {
        seed(&store, id).await;
    }
    store.close().unwrap();
    let arg = dir.to_str().unwrap().to_owned();
    (dir, arg)
}

/// A data directory with `p1` seeded, and its writer lock held as a running idle-local holds it.
async fn seeded_and_locked(test: &str) -> (PathBuf, String, DirLock) {
    let (dir, arg) = seeded(test, &["p1"]).await;
    let lock = DirLock::acquire(&dir).unwrap();
    (dir, arg, lock)
}

/// Plays one harvest of `player_id` to its end with the game's own lifecycle, committing and
/// putting its history record as the runtime does; returns its task id.
async fn play_a_task(dir: &std::path::Path, player_id: &str, secret: &[u8]) -> String {
    use idle_app::outbox::Commit;
    use idle_app::ports::GameStore;
    use idle_core::catalog::Catalog;
    use idle_core::model::TaskRequest;
    use idle_core::{advance, enqueue, Enqueued, Game};

    let store = SqliteStore::open_with(dir.join(DATABASE_FILE), SqliteOptions::default()).unwrap();
    let game = Game::new(Catalog::shipped(), secret.to_vec());
    let before = store
        .load_players(&[player_id.to_owned()])
        .await
        .unwrap()
        .players
        .remove(0);
    let request = TaskRequest::Harvest {
        resource: "copper_ore".into(),
        location: "meadow".into(),
        quantity: 3,
        repeat: None,
    };
    let now = before.player.rate.updated_at.max(support::NOW);
    let plan = match enqueue(
        &game,
        &before.player,
        &before.queue,
        "replay-r1",
        &request,
        false,
        false,
        now,
    ) {
        Ok(Enqueued::New { plan, .. }) => *plan,
        other => panic!("a new task: {other:?}"),
    };
    let commit = Commit::of(&before, &plan).unwrap();
    store.commit(&commit).await.unwrap();
    let running = commit.state;
    let ends_at = running.queue[0].ends_at.unwrap();
    let done = advance(&game, &running.player, &running.queue, ends_at);
    let commit = Commit::of(&running, &done).unwrap();
    store.commit(&commit).await.unwrap();
    store.put_history(&commit.outbox.history).await.unwrap();
    let task_id = commit.outbox.history[0].task_id.clone();
    store.close().unwrap();
    task_id
}

/// `idle-admin --json show` of a player on the data directory `d`, parsed.
fn show(d: &str, player_id: &str) -> serde_json::Value {
    json_of(&admin(
        &["--data-dir", d, "--json", "show", player_id],
        &[],
        "",
    ))
}

fn copper(report: &serde_json::Value) -> u64 {
    report["player"]["inventory"]["copper_ore"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn show_grant_export_and_erase_on_a_data_directory() {
    let (dir, d) = seeded("main", &["p1", "p2"]).await;
    let env = [("USER", "someone".to_owned())];

    // show: state, queue, recent history, connections, kept notifications
    let shown = json_of(&admin(
        &["--data-dir", &d, "--json", "show", "p1"],
        &env,
        "",
    ));
    check_show(&shown, "p1");
    let before = copper(&shown);
    let text = admin(&["--data-dir", &d, "show", "p1"], &env, "");
    assert!(String::from_utf8_lossy(&text.stdout).contains("recent history (1)"));

    // grant: one commit, audited in the history and on stderr
    let granted = admin(
        &[
            "--data-dir",
            &d,
            "--yes",
            "--operator",
            "ops-anna",
            "grant",
            "p1",
            "copper_ore",
            "5",
            "--reason",
            "ticket 42",
        ],
        &env,
        "",
    );
    let audit = json_of(&granted);
    assert_eq!(
        (audit["before"].as_u64(), audit["after"].as_u64()),
        (Some(before), Some(before + 5))
    );
    let line = audit_line(&stderr(&granted), "grant");
    assert_eq!(line["fields"]["operator"], "ops-anna");
    assert_eq!(line["fields"]["player"], "p1");
    assert_eq!(line["fields"]["reason"], "ticket 42");
    assert_eq!(line["fields"]["outcome"], "done");
    let shown = json_of(&admin(
        &["--data-dir", &d, "--json", "show", "p1"],
        &env,
        "",
    ));
    assert_eq!(copper(&shown), before + 5);
    assert_eq!(shown["version"], 1, "one commit");
    let tasks = json_of(&admin(
        &["--data-dir", &d, "--json", "tasks", "p1"],
        &env,
        "",
    ));
    let history = tasks["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "the task and the audit record");
    let record = history
        .iter()
        .find(|r| r["operator"] == "ops-anna")
        .unwrap();
    assert_eq!(record["command"], "grant");
    assert_eq!(record["reason"], "ticket 42");
    assert_eq!(record["item"], "copper_ore");
    assert_eq!(record["count"], 5);

    // Without --yes, anything but "yes" aborts and changes nothing (and is audited as failed)
    let grant = [
        "--data-dir",
        &d,
        "grant",
        "p1",
        "copper_ore",
        "1",
        "--reason",
        "r",
    ];
    let refused = admin(&grant, &env, "no\n");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert_eq!(
        audit_line(&stderr(&refused), "grant")["fields"]["outcome"],
        "failed"
    );
    let confirmed = admin(&grant, &env, "yes\n");
    assert!(confirmed.status.success(), "{}", stderr(&confirmed));
    assert_eq!(
        audit_line(&stderr(&confirmed), "grant")["fields"]["operator"],
        "someone"
    );

    // revoke never below zero, and unknown items are refused: nothing changes
    let too_many = admin(
        &[
            "--data-dir",
            &d,
            "--yes",
            "revoke",
            "p1",
            "copper_ore",
            "1000000",
            "--reason",
            "x",
        ],
        &env,
        "",
    );
    assert_eq!(too_many.status.code(), Some(1));
    assert!(
        stderr(&too_many).contains("cannot revoke"),
        "{}",
        stderr(&too_many)
    );
    let unknown = admin(
        &[
            "--data-dir",
            &d,
            "--yes",
            "grant",
            "p1",
            "no_such_item",
            "1",
            "--reason",
            "x",
        ],
        &env,
        "",
    );
    assert!(
        stderr(&unknown).contains("unknown item"),
        "{}",
        stderr(&unknown)
    );
    let revoked = json_of(&admin(
        &[
            "--data-dir",
            &d,
            "--yes",
            "revoke",
            "p1",
            "copper_ore",
            "2",
            "--reason",
            "x",
        ],
        &env,
        "",
    ));
    assert_eq!(revoked["after"].as_u64(), Some(before + 4));

    // export: everything stored, as one document
    let export = json_of(&admin(&["--data-dir", &d, "export", "p1"], &env, ""));
    assert_eq!(export["player"]["player_id"], "p1");
    assert_eq!(
        export["player"]["inventory"]["copper_ore"].as_u64(),
        Some(before + 4)
    );
    assert_eq!(
        export["history"].as_array().unwrap().len(),
        4,
        "a task, three audits"
    );
    assert_eq!(export["kept_notifications"].as_array().unwrap().len(), 2);
    assert_eq!(export["connections"].as_array().unwrap().len(), 1);
    assert!(!export["pending_outboxes"].as_array().unwrap().is_empty());

    // erase, and the check that nothing of the player remains in any table
    let erased = admin(&["--data-dir", &d, "--yes", "erase", "p1"], &env, "");
    let report = json_of(&erased);
    assert_eq!(report["remaining"]["players"], 0);
    assert_eq!(report["deleted"]["history"], 4);
    assert_eq!(
        audit_line(&stderr(&erased), "erase")["fields"]["player"],
        "p1"
    );
    let store = SqliteStore::open_read_only(dir.join(DATABASE_FILE)).unwrap();
    assert_eq!(store.remaining("p1").await.unwrap().total(), 0);
    let counts = store.counts().unwrap();
    let other = store.remaining("p2").await.unwrap();
    assert_eq!(
        (
            counts.players,
            counts.history,
            counts.kept,
            counts.connections,
            counts.outboxes
        ),
        (
            other.players,
            other.history,
            other.kept,
            other.connections,
            other.outboxes
        ),
        "every row left in every table is the other player's"
    );
    assert_eq!(
        (other.players, other.history, other.kept, other.connections),
        (1, 1, 2, 1)
    );
    drop(store);
    let gone = admin(&["--data-dir", &d, "show", "p1"], &env, "");
    assert_eq!(gone.status.code(), Some(1));
    assert!(stderr(&gone).contains("no player"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn writes_are_refused_while_idle_local_holds_the_lock_and_reads_still_work() {
    // Given a running idle-local (its lock held)
    let (dir, d, lock) = seeded_and_locked("lock").await;
    // Reads open the database beside it
    check_show(&show(&d, "p1"), "p1");
    // Writes are refused, saying what to do, and nothing changes
    for args in [
        vec!["grant", "p1", "copper_ore", "1", "--reason", "r"],
        vec!["erase", "p1"],
        vec!["redrive"],
    ] {
        let mut all = vec!["--data-dir", d.as_str(), "--yes"];
        all.extend(args);
        let out = admin(&all, &[], "");
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("stop idle-local"), "{}", stderr(&out));
        assert!(stderr(&out).contains("--wait SECS"), "{}", stderr(&out));
    }
    drop(lock);
    assert_eq!(show(&d, "p1")["version"], 0, "nothing written");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_write_with_wait_goes_through_once_idle_local_releases_the_lock() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    // Given a running idle-local (its lock held)
    let (dir, d, lock) = seeded_and_locked("wait").await;
    // When a grant is run with --wait
    let mut child = Command::new(env!("CARGO_BIN_EXE_idle-admin"))
        .args([
            "--data-dir",
            &d,
            "--yes",
            "--wait",
            "60",
            "grant",
            "p1",
            "copper_ore",
            "4",
            "--reason",
            "after the restart",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Then it says that it waits, and for what
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("waiting up to") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "no waiting message");
    }
    assert!(line.contains("waiting up to 60 s"), "{line}");
    assert!(line.contains("idle-local.lock"), "{line}");
    assert!(
        line.contains(&format!("pid {}", std::process::id())),
        "{line}"
    );
    // And once idle-local stops (the lock released), the grant goes through
    drop(lock);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{rest}");
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        audit["after"].as_u64(),
        Some(audit["before"].as_u64().unwrap() + 4)
    );
    assert_eq!(show(&d, "p1")["version"], 1, "the grant was written");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_write_with_wait_gives_up_with_a_clear_error_when_the_lock_stays_held() {
    let (dir, d, lock) = seeded_and_locked("wait-timeout").await;
    let started = std::time::Instant::now();
    let out = admin(
        &["--data-dir", &d, "--yes", "--wait", "1", "erase", "p1"],
        &[],
        "",
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "it waited"
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("waiting up to 1 s"), "{message}");
    assert!(
        message.contains("Still held after waiting 1 s"),
        "{message}"
    );
    assert!(message.contains("stop idle-local"), "{message}");
    assert_eq!(audit_line(&message, "erase")["fields"]["outcome"], "failed");
    drop(lock);
    assert_eq!(show(&d, "p1")["version"], 0, "nothing erased or written");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn redrive_performs_what_is_left_and_replay_recomputes_a_played_task() {
    let (dir, d) = seeded("redrive", &["p1"]).await;
    json_of(&admin(
        &[
            "--data-dir",
            &d,
            "--yes",
            "grant",
            "p1",
            "copper_ore",
            "3",
            "--reason",
            "r",
        ],
        &[],
        "",
    ));
    // The grant's outbox waits in the outboxes table until performed
    let pending = SqliteStore::open_read_only(dir.join(DATABASE_FILE)).unwrap();
    assert_eq!(pending.counts().unwrap().outboxes, 1);
    drop(pending);
    let report = json_of(&admin(&["--data-dir", &d, "--yes", "redrive"], &[], ""));
    assert_eq!(report["marked_performed"], 1);
    let after = SqliteStore::open_read_only(dir.join(DATABASE_FILE)).unwrap();
    assert_eq!(after.counts().unwrap().outboxes, 0);
    drop(after);
    // Nothing left: a second redrive performs nothing
    let again = json_of(&admin(&["--data-dir", &d, "--yes", "redrive"], &[], ""));
    assert_eq!(again["outboxes"], 0);

    // replay of an audit record is refused with a clear error; without the secret too
    let tasks = json_of(&admin(
        &["--data-dir", &d, "--json", "tasks", "p1"],
        &[],
        "",
    ));
    let audit_id = tasks["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operator"].is_string())
        .unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = [(
        "SEED_SECRET",
        "a-test-seed-secret-of-32-bytes-at-least".to_owned(),
    )];
    let refused = admin(&["--data-dir", &d, "replay", "p1", &audit_id], &secret, "");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("audit record"),
        "{}",
        stderr(&refused)
    );
    // A task played by the game replays to the same outcome with the same seed secret
    let played = play_a_task(&dir, "p1", secret[0].1.as_bytes()).await;
    let replayed = json_of(&admin(
        &["--data-dir", &d, "--json", "replay", "p1", &played],
        &secret,
        "",
    ));
    assert_eq!(replayed["task_id"], played.as_str());
    assert_eq!(replayed["differences"].as_array().unwrap().len(), 0);
    let other_secret = [(
        "SEED_SECRET",
        "another-seed-secret-of-32-bytes-at-least".to_owned(),
    )];
    let differs = admin(
        &["--data-dir", &d, "--json", "replay", "p1", &played],
        &other_secret,
        "",
    );
    assert_eq!(
        differs.status.code(),
        Some(1),
        "another secret, another outcome"
    );
    let no_secret = admin(
        &["--data-dir", &d, "replay", "p1", "t000001"],
        &[("SEED_SECRET", String::new())],
        "",
    );
    assert!(
        stderr(&no_secret).contains("seed secret"),
        "{}",
        stderr(&no_secret)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

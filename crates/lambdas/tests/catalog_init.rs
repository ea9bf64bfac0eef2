//! `CATALOG_FILE` as a deployed function meets it: the real binaries, started the way Lambda
//! starts them (`LAMBDA_TASK_ROOT` set, the file beside `bootstrap`), refuse a bad catalog at
//! init, before they ask the runtime API for an event, naming the file, the entry and the field;
//! and they write nothing to the catalog store at init.

use std::process::Command;
use std::time::{Duration, Instant};

const SEED: &str = "catalog-init-test-seed-secret-0123456789";

/// Runs one function binary with `vars` until it exits (at most 20 s); its exit success and
/// everything it printed.
fn run(binary: &str, vars: &[(&str, &str)]) -> (bool, String) {
    let mut child = Command::new(binary)
        .env_clear()
        .envs(vars.iter().copied())
        // Nothing listens here: a function that got past init would fail on the runtime API.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the function");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "{binary} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), printed)
}

#[test]
fn a_bad_catalog_file_beside_bootstrap_stops_every_function_at_init_naming_entry_and_field() {
    let root = std::env::temp_dir().join(format!("idle-catalog-init-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let mut catalog: serde_json::Value =
        serde_json::from_str(include_str!("../../core/catalog/catalog.json")).unwrap();
    catalog["enemies"]["goblin"]["difficulty"] = 0.5.into();
    std::fs::write(root.join("studio.json"), catalog.to_string()).unwrap();
    let root_str = root.to_str().unwrap();
    for binary in [
        env!("CARGO_BIN_EXE_ws-message"),
        env!("CARGO_BIN_EXE_task-processor"),
        env!("CARGO_BIN_EXE_connection-cleaner"),
    ] {
        let (ok, printed) = run(
            binary,
            &[
                ("LAMBDA_TASK_ROOT", root_str),
                ("CATALOG_FILE", "studio.json"),
                ("SEED_SECRET", SEED),
            ],
        );
        assert!(!ok, "{binary} started with a bad catalog");
        assert!(printed.contains("studio.json"), "{binary}: {printed}");
        assert!(
            printed.contains("enemies.goblin") && printed.contains("difficulty"),
            "{binary}: {printed}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

const TABLES: [(&str, &str); 4] = [
    ("PLAYERS_TABLE", "Players"),
    ("TASKS_TABLE", "Tasks"),
    ("CONNECTIONS_TABLE", "Connections"),
    ("NOTIFICATIONS_TABLE", "Notifications"),
];

#[test]
fn a_function_that_computes_outcomes_refuses_to_start_without_the_catalog_store() {
    let mut vars = TABLES.to_vec();
    vars.push(("SEED_SECRET", SEED));
    for binary in [
        env!("CARGO_BIN_EXE_ws-message"),
        env!("CARGO_BIN_EXE_task-ticker"),
    ] {
        let (ok, printed) = run(binary, &vars);
        assert!(!ok, "{binary} started without CATALOGS_TABLE");
        assert!(printed.contains("CATALOGS_TABLE"), "{binary}: {printed}");
    }
}

#[test]
fn a_function_writes_no_catalog_at_init_so_an_unreachable_store_does_not_hold_up_its_start() {
    // Nothing listens at either endpoint: a function that stored its catalog at init would
    // fail there (after the SDK's retries) and say so; this one reaches the runtime API, where
    // the refused connection ends it. It stores the catalog before its first write that names it
    // (crates/app/tests/catalog_change.rs).
    let mut vars = TABLES.to_vec();
    vars.extend([
        ("SEED_SECRET", SEED),
        ("CATALOGS_TABLE", "Catalogs"),
        ("DYNAMODB_ENDPOINT", "http://127.0.0.1:9"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_LAMBDA_FUNCTION_NAME", "task-ticker"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ]);
    let (ok, printed) = run(env!("CARGO_BIN_EXE_task-ticker"), &vars);
    assert!(!ok, "task-ticker ran without a runtime API");
    assert!(
        printed.contains("playing the embedded catalog"),
        "{printed}"
    );
    assert!(!printed.contains("catalog store"), "{printed}");
    assert!(printed.contains("127.0.0.1:9"), "{printed}");
}

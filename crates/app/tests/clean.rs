//! The connection cleaner: lifetime, idleness, gone connections, every page.

mod common;

use common::Env;
use idle_app::usecase::clean;

const MINUTE: i64 = 60_000;

#[tokio::test]
async fn the_cleaner_removes_expired_idle_and_gone_connections_across_pages() {
    // Given connections of every kind, read two per page
    let env = Env::new();
    env.world.store.set_page_size(2);
    env.connect("old", "p1").await; // connected at T0: past 2 h at the sweep
    env.advance_clock(2 * 60 * MINUTE - 30 * MINUTE);
    env.connect("idle", "p2").await; // never active after connecting
    env.connect("gone", "p3").await;
    env.world.notifier.drop_connection("gone");
    env.connect("busy", "p4").await;
    env.connect("fresh", "p5").await;
    env.advance_clock(30 * MINUTE);
    let now = env.now();
    env.world.notifier.touch("busy", now - MINUTE);
    env.world.notifier.touch("fresh", now - 9 * MINUTE);

    // When the cleaner sweeps
    let report = clean(&env.services).await;

    // Then only the busy and fresh connections remain
    assert_eq!(report.scanned, 5);
    assert_eq!(report.expired, 1);
    assert_eq!(report.idle, 1);
    assert_eq!(report.gone, 1);
    assert_eq!(report.kept, 2);
    assert_eq!(report.errors, 0);
    assert!(report.pages >= 3, "{report:?}");
    let mut left: Vec<String> = env
        .world
        .store
        .connections()
        .into_iter()
        .map(|c| c.connection_id)
        .collect();
    left.sort();
    assert_eq!(left, ["busy", "fresh"]);
    // And stale ones still open at the gateway were closed there too
    let mut closed = env.world.notifier.closed_by_server();
    closed.sort();
    assert_eq!(closed, ["idle", "old"]);
}

#[tokio::test]
async fn a_failed_scan_is_counted_not_fatal() {
    let env = Env::new();
    env.world.faults.fail_next(
        idle_app::memory::StoreOp::ScanConnections,
        idle_app::ports::StoreError::Transient("throttled".into()),
    );
    let report = clean(&env.services).await;
    assert_eq!(report.errors, 1);
}

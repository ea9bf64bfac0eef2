//! A small load run against `idle-local` started in-process: 20 clients, every count checked,
//! no timing asserted (2 shared cores; the figures are in docs/performance.md).

use std::time::Duration;

use idle_load::{run, Config};
use idle_local::{app_config, start, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_clients_get_every_ack_and_every_completion_with_no_error_and_nothing_missing() {
    // Given the runtime on a free port, ticking often so that the test is short
    let options = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        tick: Duration::from_millis(100),
        ..Options::default()
    };
    let running = start(options, app_config(|_| None).unwrap()).await.unwrap();

    // When 20 clients ramp up over 1 s and cycle for 2 s more
    let config = Config {
        url: running.ws_url(),
        clients: 20,
        ramp: Duration::from_secs(1),
        steady: Duration::from_secs(2),
        tasks: 3,
        server_pid: Some(std::process::id()),
        ..Config::default()
    };
    let report = run(config).await.unwrap();
    println!("{}", report.table());

    // Then every client connected, every enqueue was acked and completed, nothing is missing
    let counts = &report.counts;
    assert_eq!(report.errors.len(), 0, "errors: {:?}", report.errors);
    assert_eq!(counts.connected, 20);
    assert!(counts.enqueued >= 60, "{counts:?}");
    assert_eq!(counts.acked, counts.enqueued, "{counts:?}");
    assert_eq!(counts.completed, counts.enqueued, "{counts:?}");
    assert_eq!(counts.missing, 0, "{counts:?}");
    // Out-of-order arrivals are reported, not asserted: the runtime is known to reorder
    // sometimes.
    if counts.out_of_order > 0 {
        println!("out of order: {}", counts.out_of_order);
    }
    let connect = report.connect.expect("connect times");
    assert_eq!(connect.count, 20);
    assert!(report.server.is_some(), "this process's /proc was sampled");

    running.shutdown().await.unwrap();
}

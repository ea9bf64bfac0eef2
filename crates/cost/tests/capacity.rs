//! The capacity plan's arithmetic on a small run: every figure of docs/capacity.md is the run's
//! count per player-hour scaled by the players, and the plan agrees with the bill per task the
//! tool prints beside it.

use idle_cost::capacity::{self, Assumptions, PerPlayerHour, TABLES};
use idle_cost::counting::{Model, WAKE_INDEX};
use idle_cost::money;
use idle_cost::workload::{run, Params, Report};

async fn small_run() -> Report {
    run(Params {
        players: 12,
        tasks_per_player: 5,
        quantity: 3,
        batch_size: 100,
        tick_ms: 60_000,
        model: Model::default(),
        offline: 0,
        dedupe_wakes: false,
        record_calls: false,
        continuous_hours: None,
    })
    .await
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[tokio::test(flavor = "current_thread")]
async fn the_plan_is_the_runs_rates_per_player_hour_times_the_players() {
    // Given a small run and the default assumptions
    let report = small_run().await;
    assert_eq!(report.completed, 60, "every task completes");
    let a = Assumptions::default();
    let rates = PerPlayerHour::from_report(&report, &a);

    // Then the rates are the run's counts over its player-hours
    let hours = report.player_hours;
    assert!(hours > 0.0);
    assert!(close(rates.tasks, report.completed as f64 / hours));
    let messages = report.invocations["ws-message"] as f64;
    assert!(close(rates.client_messages, messages / hours));
    assert!(close(
        rates.client_messages + rates.posts,
        report.api_messages as f64 / hours
    ));
    assert!(close(
        rates.wake_index_wcu,
        report.counters.wcu(WAKE_INDEX) as f64 / hours
    ));
    // Connects are one per session, not one per run
    assert!(close(rates.connects, 60.0 / a.session_minutes));
    assert!(close(rates.invocations["ws-connect"], rates.connects));
    assert!(close(rates.invocations["ws-disconnect"], rates.connects));

    // When planned for 10,000 and 1,000,000 players
    let small = capacity::plan(&rates, 10_000.0, &a);
    let large = capacity::plan(&rates, 1_000_000.0, &a);

    // Then every load figure is players × rate / 3600, so 100 times the players is 100 times it
    assert!(close(small.tasks_per_s, 10_000.0 * rates.tasks / 3600.0));
    assert!(close(large.tasks_per_s, 100.0 * small.tasks_per_s));
    assert!(close(large.posts_per_s, 100.0 * small.posts_per_s));
    assert!(close(
        small.new_connections_per_s,
        10_000.0 / (a.session_minutes * 60.0)
    ));
    for table in TABLES {
        let (s, l) = (small.tables[table], large.tables[table]);
        assert!(close(l.wcu_per_s, 100.0 * s.wcu_per_s), "{table}");
        assert!(close(l.rcu_per_s, 100.0 * s.rcu_per_s), "{table}");
        assert_eq!(
            l.partitions,
            capacity::partitions(l.wcu_per_s, l.rcu_per_s, l.storage_gb),
            "{table}"
        );
    }
    // Every write unit of the run is in some table or the wake index (connects rescaled)
    let tables_wcu: f64 = TABLES.iter().map(|t| rates.wcu[t]).sum();
    assert!(tables_wcu > 0.0 && rates.wake_index_wcu > 0.0);
    assert!(rates.wcu["Tasks"] > 0.0, "history is written");
    assert!(rates.wcu["Connections"] > 0.0, "connections are written");

    // Little's law: concurrency = invocations per second × the duration of one
    for (name, (per_s, concurrency)) in &large.functions {
        if name.starts_with("ws-") || name.starts_with("task-processor") {
            assert!(close(*concurrency, per_s * a.lambda_ms / 1000.0), "{name}");
            assert!(close(
                *per_s,
                1_000_000.0 * rates.invocations[name] / 3600.0
            ));
        }
    }
    assert!(
        close(large.functions["task-ticker"].0, 1.0 / 60.0),
        "a schedule"
    );

    // The wake index: write units per shard and the shards needed
    assert!(close(
        large.wake_wcu_per_shard,
        large.wake_index_wcu_per_s / f64::from(a.wake_shards)
    ));
    assert_eq!(
        large.wake_shards_needed,
        capacity::wake_shards_needed(large.wake_index_wcu_per_s)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_monthly_bill_agrees_with_the_bill_per_task() {
    let report = small_run().await;
    let a = Assumptions::default();
    let rates = PerPlayerHour::from_report(&report, &a);
    let plan = capacity::plan(&rates, 100_000.0, &a);
    let month_s = capacity::HOURS_PER_MONTH * 3600.0;
    let tasks_per_month = plan.tasks_per_s * month_s;
    let line = |name: &str| {
        plan.monthly
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no {name} line"))
            .1
    };
    // WebSocket messages and SQS requests per task, as `idle-cost` prints them, times the
    // month's tasks, at the same prices
    let per_task = |n: u64| n as f64 / report.completed as f64;
    assert!(close(
        line("API Gateway messages"),
        per_task(report.api_messages) * tasks_per_month * money::WS_MESSAGE
    ));
    assert!(close(
        line("SQS"),
        per_task(report.sqs_requests) * tasks_per_month * money::SQS_REQUEST
    ));
    // Connection minutes: every player connected all month
    assert!(close(
        line("API Gateway connection minutes"),
        100_000.0 * 60.0 * capacity::HOURS_PER_MONTH * money::WS_CONNECTION_MINUTE
    ));
    // Writes: the tables and the wake index
    let wcu: f64 =
        plan.tables.values().map(|t| t.wcu_per_s).sum::<f64>() + plan.wake_index_wcu_per_s;
    assert!(close(line("DynamoDB writes"), wcu * month_s * money::WRU));
    // History storage: 90 days of the tasks, one KB each
    let history_gb = plan.tasks_per_s * 90.0 * 86_400.0 * 1024.0 / (1024.0 * 1024.0 * 1024.0);
    assert!(close(plan.tables["Tasks"].storage_gb, history_gb));
    assert!(close(
        plan.monthly_total(),
        plan.monthly.iter().map(|(_, d)| d).sum::<f64>()
    ));
    // The rendered table names every scale and every quota it checks
    let text = capacity::render(&rates, std::slice::from_ref(&plan), &a);
    for wanted in [
        "100,000 players",
        "new connections / s (500)",
        "(10,000)",
        "concurrency in all (1,000)",
        "`wake` index",
        "**total**",
    ] {
        assert!(text.contains(wanted), "{wanted} missing:\n{text}");
    }
}

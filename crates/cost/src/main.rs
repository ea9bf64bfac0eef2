//! `idle-cost`: what a scripted workload through the real handlers is billed per completed
//! task — DynamoDB write units by cause and read units, SQS requests, Lambda invocations,
//! API Gateway WebSocket messages and connection minutes — and in dollars, before and after the
//! persistence seam. See `docs/performance.md`.

use clap::Parser;
use idle_cost::capacity::{self, Assumptions, PerPlayerHour};
use idle_cost::counting::{Model, CAUSES};
use idle_cost::money::{self, Bill};
use idle_cost::workload::{self, Params, Report};

/// Counts what a workload is billed and prices it.
#[derive(Debug, Parser)]
#[command(name = "idle-cost")]
struct Args {
    /// Players.
    #[arg(long, default_value_t = 1_000)]
    players: usize,
    /// Tasks each player queues (at most the queue limit, 10), cycling through the activities.
    #[arg(long, default_value_t = 5)]
    tasks: usize,
    /// Actions per harvest or combat task.
    #[arg(long, default_value_t = 10)]
    quantity: u32,
    /// Stream records per processor invocation.
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// The ticker's period, in seconds.
    #[arg(long, default_value_t = 60)]
    tick_secs: i64,
    /// The `wake` index's bucket in seconds (the adapter's `WAKE_BUCKET_SECS`; default its
    /// default, 300; 0 models the exact wake time).
    #[arg(long)]
    wake_bucket_secs: Option<i64>,
    /// Keep every durable notification, not only those no connection received.
    #[arg(long)]
    keep_all: bool,
    /// Players whose connection goes away (no `$disconnect`) once they queued their tasks.
    #[arg(long, default_value_t = 0)]
    offline: usize,
    /// Deliver one wake-up per (player, time) however often it was armed (SQS does not).
    #[arg(long)]
    dedupe_wakes: bool,
    /// Also print the capacity plan (docs/capacity.md): this run's counts per player-hour,
    /// scaled to each of `--scales` concurrently connected players.
    #[arg(long)]
    capacity: bool,
    /// Concurrently connected players the capacity plan is printed for.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000u64, 100_000, 1_000_000])]
    scales: Vec<u64>,
    /// Capacity plan: mean duration of one Lambda invocation, ms (Little's law, and its bill).
    #[arg(long, default_value_t = 100.0)]
    lambda_ms: f64,
    /// Capacity plan: mean length of a connection, minutes (one connect and one disconnect).
    #[arg(long, default_value_t = 60.0)]
    session_minutes: f64,
    /// Capacity plan: the wake index's shards (`WakeShards`).
    #[arg(long, default_value_t = 8)]
    wake_shards: u32,
    /// The continuous workload: each player runs one continuous combat task for this many
    /// hours of server time; reports write units per task-hour and per 1,000 actions.
    #[arg(long)]
    continuous_hours: Option<u32>,
}

/// The continuous workload's figures: what an hour of a continuous task costs.
fn per_task_hour(report: &Report) {
    let hours = report.task_hours.max(1e-9);
    let c = &report.counters;
    let wcu = c.all_wcu() as f64;
    println!(
        "  continuous: {} chunks settled, {} actions, {:.0} task-hours",
        report.chunks, report.actions, report.task_hours
    );
    println!("  per task-hour (one player's continuous task running an hour):");
    println!("    write units (WCU)   {:>8.2}", wcu / hours);
    for cause in CAUSES {
        println!("      {cause:<22} {:>7.2}", c.wcu(cause) as f64 / hours);
    }
    println!("    read units (RCU)    {:>8.2}", c.total().rcu / hours);
    println!(
        "    chunks              {:>8.2}",
        report.chunks as f64 / hours
    );
    println!(
        "    actions             {:>8.1}  ({:.2} WCU per 1,000 actions)",
        report.actions as f64 / hours,
        wcu * 1000.0 / (report.actions.max(1) as f64)
    );
    let invocations: u64 = report.invocations.values().sum();
    println!(
        "    Lambda invocations  {:>8.2}",
        invocations as f64 / hours
    );
    println!(
        "    SQS requests        {:>8.2}",
        report.sqs_requests as f64 / hours
    );
}

fn per_task(report: &Report) -> Bill {
    let done = report.completed.max(1) as f64;
    let c = &report.counters;
    let total = c.total();
    println!(
        "  tasks: {} queued, {} completed, {} not completed",
        report.tasks, report.completed, report.not_completed
    );
    println!("  per completed task:");
    println!(
        "    write units (WCU)   {:>8.2}  (all writes: items and index entries)",
        c.all_wcu() as f64 / done
    );
    for cause in CAUSES {
        println!("      {cause:<22} {:>7.2}", c.wcu(cause) as f64 / done);
    }
    println!("    read units (RCU)    {:>8.2}", total.rcu / done);
    println!(
        "    DynamoDB requests   {:>8.2}",
        total.requests as f64 / done
    );
    for (kind, usage) in &c.by_kind {
        println!(
            "      {kind:<22} {:>7.2} req  {:>7.2} WCU  {:>7.2} RCU  ({} requests in all)",
            usage.requests as f64 / done,
            usage.wcu as f64 / done,
            usage.rcu / done,
            usage.requests
        );
    }
    let invocations: u64 = report.invocations.values().sum();
    println!("    Lambda invocations  {:>8.2}", invocations as f64 / done);
    for (function, n) in &report.invocations {
        println!(
            "      {function:<22} {:>7.3}  ({n} in all)",
            *n as f64 / done
        );
    }
    println!(
        "    SQS requests        {:>8.2}  ({} wake-ups armed, each write's in one SendMessageBatch; a ReceiveMessage and a DeleteMessageBatch per wake batch)",
        report.sqs_requests as f64 / done,
        report.wake_messages
    );
    println!(
        "    WebSocket messages  {:>8.2}  (client messages and posts, 32 KB units)",
        report.api_messages as f64 / done
    );
    println!(
        "    connection minutes  {:>8.2}  ({:.1} player-hours in the run)",
        report.connection_minutes / done,
        report.player_hours
    );
    Bill {
        wcu: c.all_wcu() as f64 / done,
        rcu: total.rcu / done,
        invocations: invocations as f64 / done,
        ws_messages: report.api_messages as f64 / done,
        connection_minutes: report.connection_minutes / done,
        sqs_requests: report.sqs_requests as f64 / done,
    }
}

/// The money table: dollars per million completed tasks and per active player-hour.
fn money_table(after: &Bill, tasks_per_player_hour: f64) {
    let before = money::before(after.ws_messages, after.connection_minutes);
    let million = 1e6;
    println!(
        "\nmoney (us-east-1 list prices read 2026-11-30; Lambda 128 MB, {} ms per invocation assumed):",
        money::LAMBDA_SECONDS * 1000.0
    );
    println!(
        "  {:<24} {:>12} {:>12}   {:>12} {:>12}",
        "", "$/M tasks", "", "$/player-h", ""
    );
    println!(
        "  {:<24} {:>12} {:>12}   {:>12} {:>12}",
        "", "before", "after", "before", "after"
    );
    let b = before.times(million).lines();
    let a = after.times(million).lines();
    let bh = before.times(tasks_per_player_hour).lines();
    let ah = after.times(tasks_per_player_hour).lines();
    for i in 0..b.len() {
        println!(
            "  {:<24} {:>12.4} {:>12.4}   {:>12.8} {:>12.8}",
            b[i].0, b[i].1, a[i].1, bh[i].1, ah[i].1
        );
    }
    println!(
        "  {:<24} {:>12.4} {:>12.4}   {:>12.8} {:>12.8}",
        "total",
        before.times(million).dollars(),
        after.times(million).dollars(),
        before.times(tasks_per_player_hour).dollars(),
        after.times(tasks_per_player_hour).dollars()
    );
    println!(
        "  (an active player-hour: {tasks_per_player_hour:.1} completed tasks and 60 connection minutes, as in this run; \"before\": 13.00 WCU, 3.71 RCU, 1.21 invocations and no SQS per task, messages and minutes as after)"
    );
}

fn main() {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("idle-cost: cannot start a runtime: {error}");
            std::process::exit(1);
        }
    };
    let model = Model {
        wake_bucket_ms: args
            .wake_bucket_secs
            .map_or(idle_aws::DEFAULT_WAKE_BUCKET_MS, |s| (s * 1000).max(1)),
        keep_all: args.keep_all,
    };
    let params = Params {
        players: args.players,
        tasks_per_player: args.tasks,
        quantity: args.quantity,
        batch_size: args.batch_size,
        tick_ms: args.tick_secs.max(1) * 1000,
        model,
        dedupe_wakes: args.dedupe_wakes,
        offline: args.offline,
        // The binary prints counts, never the call log.
        record_calls: false,
        continuous_hours: args.continuous_hours,
    };
    if let Some(hours) = args.continuous_hours {
        println!(
            "workload: {} players x one continuous combat task (chickens, repeat until stopped) for {hours} h, chunks of at most {} s, ticker every {} s",
            args.players,
            idle_core::game::DEFAULT_CHUNK_MS / 1000,
            args.tick_secs
        );
        let report = runtime.block_on(workload::run(params));
        per_task_hour(&report);
        return;
    }
    println!(
        "workload: {} players x {} tasks ({} actions per harvest/combat), ticker every {} s, stream batches of up to {} records",
        args.players, args.tasks, args.quantity, args.tick_secs, args.batch_size
    );
    println!(
        "model: the adapter's packed player item, wake index key {}, kept notifications: {}",
        if model.wake_bucket_ms <= 1 {
            "the exact wake time (variant)".to_owned()
        } else {
            format!(
                "the wake time rounded up to {} s",
                model.wake_bucket_ms / 1000
            )
        },
        if model.keep_all {
            "every durable one (variant)"
        } else {
            "those no connection received"
        }
    );
    if args.offline > 0 {
        println!(
            "offline: the first {} players lose their connection after queueing",
            args.offline
        );
    }
    if args.dedupe_wakes {
        println!("wake-ups: one delivery per (player, time) (variant; SQS delivers every copy)");
    }
    let report = runtime.block_on(workload::run(params));
    let bill = per_task(&report);
    let tasks_per_player_hour = report.completed as f64 / report.player_hours.max(1e-9);
    money_table(&bill, tasks_per_player_hour);
    if args.capacity {
        let assumptions = Assumptions {
            lambda_ms: args.lambda_ms,
            session_minutes: args.session_minutes,
            wake_shards: args.wake_shards,
            ..Assumptions::default()
        };
        let rates = PerPlayerHour::from_report(&report, &assumptions);
        let plans: Vec<_> = args
            .scales
            .iter()
            .map(|n| capacity::plan(&rates, *n as f64, &assumptions))
            .collect();
        println!("\ncapacity plan (docs/capacity.md):");
        print!("{}", capacity::render(&rates, &plans, &assumptions));
    }
}

//! `idle-cost`: DynamoDB requests, capacity units and Lambda invocations per completed task, for
//! a scripted workload through the real handlers, batched as the stream delivers and naively one
//! record at a time. See `docs/performance.md`.

mod counting;
mod size;
mod workload;

use clap::Parser;
use workload::{Params, Report};

/// Counts what a workload costs in DynamoDB requests, capacity units and Lambda invocations.
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
}

fn per_task(report: &Report) {
    let done = report.completed.max(1) as f64;
    let total = report.counters.total();
    println!(
        "  tasks: {} queued, {} completed, {} not completed",
        report.tasks, report.completed, report.not_completed
    );
    println!("  per completed task:");
    println!(
        "    DynamoDB requests   {:>8.2}",
        total.requests as f64 / done
    );
    println!(
        "    write units (WCU)   {:>8.2}  (+ {:.2} index WCU)",
        total.wcu as f64 / done,
        report.counters.index_wcu as f64 / done
    );
    println!("    read units (RCU)    {:>8.2}", total.rcu / done);
    for (kind, usage) in &report.counters.by_kind {
        println!(
            "      {kind:<20} {:>7.2} req  {:>7.2} WCU  {:>7.2} RCU",
            usage.requests as f64 / done,
            usage.wcu as f64 / done,
            usage.rcu / done
        );
    }
    let invocations: u64 = report.invocations.values().sum();
    println!("    Lambda invocations  {:>8.2}", invocations as f64 / done);
    for (function, n) in &report.invocations {
        println!(
            "      {function:<20} {:>7.3}  ({n} in all)",
            *n as f64 / done
        );
    }
    println!(
        "    wake-up messages    {:>8.2}  (SQS SendMessage, {} in all)",
        report.wake_messages as f64 / done,
        report.wake_messages
    );
    let processor = report.processor.total();
    println!(
        "  task-processor alone: {} invocations, {} requests, {} WCU, {:.1} RCU",
        report
            .invocations
            .get("task-processor")
            .copied()
            .unwrap_or(0),
        processor.requests,
        processor.wcu,
        processor.rcu
    );
}

fn main() {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("idle-cost: cannot start a runtime: {error}");
            std::process::exit(1);
        }
    };
    let params = Params {
        players: args.players,
        tasks_per_player: args.tasks,
        quantity: args.quantity,
        batch_size: args.batch_size,
        tick_ms: args.tick_secs.max(1) * 1000,
    };
    println!(
        "workload: {} players x {} tasks ({} actions per harvest/combat), ticker every {} s",
        args.players, args.tasks, args.quantity, args.tick_secs
    );
    let batched = runtime.block_on(workload::run(params));
    println!(
        "\nbatched: stream batches of up to {} records",
        args.batch_size
    );
    per_task(&batched);
    let (p, r, c) = batched.worst_reads;
    println!(
        "  processor budget (<= ceil(P/100) BatchGetItem, <= P commits per batch of P players): {} of {} batches over budget",
        batched.over_budget, batched.batches
    );
    println!(
        "    worst reads:   P = {p}, {r} BatchGetItem (budget {}), {c} commits",
        p.div_ceil(100)
    );
    let (p, r, c) = batched.worst_commits;
    println!("    worst commits: P = {p}, {c} commits (budget {p}), {r} BatchGetItem");

    let naive = runtime.block_on(workload::run(Params {
        batch_size: 1,
        ..params
    }));
    println!("\nnaive baseline: one record per invocation, the player read for every record");
    per_task(&naive);

    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let (bp, np) = (batched.processor.total(), naive.processor.total());
    println!("\nnaive / batched (task-processor):");
    println!(
        "  invocations {:.1}x, requests {:.1}x, WCU {:.1}x, RCU {:.1}x",
        ratio(
            naive
                .invocations
                .get("task-processor")
                .copied()
                .unwrap_or(0) as f64,
            batched
                .invocations
                .get("task-processor")
                .copied()
                .unwrap_or(0) as f64
        ),
        ratio(np.requests as f64, bp.requests as f64),
        ratio(np.wcu as f64, bp.wcu as f64),
        ratio(np.rcu, bp.rcu)
    );
    let (bt, nt) = (batched.counters.total(), naive.counters.total());
    println!(
        "naive / batched (whole workload): requests {:.2}x, WCU {:.2}x, RCU {:.2}x",
        ratio(nt.requests as f64, bt.requests as f64),
        ratio(nt.wcu as f64, bt.wcu as f64),
        ratio(nt.rcu, bt.rcu)
    );
    if batched.over_budget > 0 {
        std::process::exit(2);
    }
}

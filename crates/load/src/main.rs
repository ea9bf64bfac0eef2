//! `idle-load`: ramps N WebSocket clients onto a running `idle-local` and prints connect,
//! enqueue→ack and completion-lag percentiles, errors and the server's CPU and RSS.
//!
//!     idle-load --clients 1000 --server-pid "$(pgrep -n idle-local)"
//!
//! `scripts/load-local.sh` builds both, starts the server pinned to one core and this tool to
//! the other, and prints the figures.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use idle_load::{raise_open_files_limit, run, Config};

/// Load tool for the idle-game WebSocket gateway: N clients (one player each) ramped over
/// --ramp-secs; each syncs, then enqueues --tasks one-action harvests 1 s apart and waits for
/// them to complete, in cycles until the end of the steady window; then a final sync counts
/// missing notifications. Latency percentiles are over the steady window, in ms.
#[derive(Debug, Parser)]
#[command(name = "idle-load", version)]
struct Cli {
    /// The gateway's WebSocket URL (dev tokens come from /dev/token on the same host:port).
    #[arg(long, default_value = "ws://127.0.0.1:8787/ws")]
    url: String,
    /// Clients, one player each.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Seconds over which the clients connect, evenly spaced.
    #[arg(long, default_value_t = 20.0)]
    ramp_secs: f64,
    /// Seconds after the ramp over which latencies are summarised (clients keep cycling).
    #[arg(long, default_value_t = 60.0)]
    steady_secs: f64,
    /// Tasks per cycle, one action each.
    #[arg(long, default_value_t = 3)]
    tasks: u32,
    /// Milliseconds between two enqueues of a cycle.
    #[arg(long, default_value_t = 1000)]
    enqueue_gap_ms: u64,
    /// Seconds to wait for a connect, an ack or a snapshot before counting a timeout.
    #[arg(long, default_value_t = 10.0)]
    timeout_secs: f64,
    /// The server's process id: its CPU and RSS are sampled from /proc once a second.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The harvest's resource (with --location); default: the shortest level-1 harvest in
    /// the server's catalog.
    #[arg(long, requires = "location")]
    resource: Option<String>,
    /// The harvest's location (with --resource).
    #[arg(long, requires = "resource")]
    location: Option<String>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn seconds(value: f64, name: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("--{name} must be a number >= 0"))
}

fn config(cli: &Cli) -> Result<Config, String> {
    if cli.clients == 0 {
        return Err("--clients must be at least 1".to_owned());
    }
    Ok(Config {
        url: cli.url.clone(),
        clients: cli.clients,
        ramp: seconds(cli.ramp_secs, "ramp-secs")?,
        steady: seconds(cli.steady_secs, "steady-secs")?,
        tasks: cli.tasks,
        enqueue_gap: Duration::from_millis(cli.enqueue_gap_ms),
        timeout: seconds(cli.timeout_secs, "timeout-secs")?,
        server_pid: cli.server_pid,
        harvest: cli.resource.clone().zip(cli.location.clone()),
        ..Config::default()
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match config(&cli) {
        Ok(config) => config,
        Err(why) => {
            eprintln!("idle-load: {why}");
            return ExitCode::from(2);
        }
    };
    match raise_open_files_limit() {
        Ok(limit) if (limit as usize) < config.clients + 64 => eprintln!(
            "idle-load: warning: the open-file limit is {limit}, too low for {} clients",
            config.clients
        ),
        Ok(_) => {}
        Err(e) => eprintln!("idle-load: warning: could not raise the open-file limit: {e}"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("idle-load: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.json;
    match runtime.block_on(run(config)) {
        Ok(report) => {
            if json {
                println!("{:#}", report.to_json());
            } else {
                print!("{}", report.table());
            }
            if report.error_total == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("idle-load: {e}");
            ExitCode::from(2)
        }
    }
}

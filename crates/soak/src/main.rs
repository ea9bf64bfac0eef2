//! `idle-soak`: runs the fault-injection soak and prints its figures.
//!
//!     cargo run --release -p idle-soak -- --players 1000 --tasks 10000 --seed 1
//!
//! (A debug build runs it too, in a few minutes: the dependencies are optimised in `dev`.)
//!
//! Every fault rate has a flag (a probability in [0, 1]); `--help` lists them. Exits 1 if any
//! invariant was violated.

use idle_soak::{run_memory, SoakConfig};

const HELP: &str = "idle-soak: fault-injection soak of the idle-game backend (in-memory store)

usage: idle-soak [--players N] [--tasks N] [--seed N] [--step-ms MS] [--max-rounds N]
                 [--store-fault P] [--after-write P] [--conflict P] [--post-failure P]
                 [--crash P] [--gone P] [--replay P] [--no-faults]

  --players N        players (default 1000)
  --tasks N          tasks to create (default 10000)
  --seed N           seed of every random choice (default 1)
  --step-ms MS       server time between rounds (default 1000)
  --max-rounds N     bound on rounds before the drain (default 5000)
  --store-fault P    a store call fails with a transient error (default 0.02)
  --after-write P    share of failing writes applied before the error (default 0.3)
  --conflict P       a commit fails with an injected conflict (default 0.02)
  --post-failure P   a post to a connection fails (default 0.02)
  --crash P          per stream batch, the process dies after the commits, before performing it;
                     the restart performs the unperformed outboxes (default 0.02)
  --gone P           per round, an online client vanishes without $disconnect (default 0.01)
  --replay P         per stream batch, it is delivered again with what follows, in order
                     (default 0.2)
  --no-faults        every rate 0 (every batch is still delivered twice)
";

fn parse(args: &[String]) -> Result<SoakConfig, String> {
    let mut config = SoakConfig::default();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        if flag == "--no-faults" {
            config.rates = idle_soak::FaultRates::none();
            i += 1;
            continue;
        }
        let value = args
            .get(i + 1)
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let int = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: `{value}` is not a whole number"))
        };
        let prob = || match value.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
            _ => Err(format!("{flag}: `{value}` is not a probability in [0, 1]")),
        };
        match flag {
            "--players" => config.players = int()? as usize,
            "--tasks" => config.tasks = int()? as usize,
            "--seed" => config.seed = int()?,
            "--step-ms" => config.step_ms = int()?.max(1) as i64,
            "--max-rounds" => config.max_rounds = int()? as usize,
            "--store-fault" => config.rates.store_transient = prob()?,
            "--after-write" => config.rates.after_write = prob()?,
            "--conflict" => config.rates.conflict = prob()?,
            "--post-failure" => config.rates.post_failure = prob()?,
            "--crash" => config.rates.crash = prob()?,
            "--gone" => config.rates.gone = prob()?,
            "--replay" => config.rates.replay = prob()?,
            _ => return Err(format!("unknown flag {flag}")),
        }
        i += 2;
    }
    Ok(config)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(config) => config,
        Err(message) if message.is_empty() => {
            print!("{HELP}");
            return;
        }
        Err(message) => {
            eprintln!("idle-soak: {message}\n\n{HELP}");
            std::process::exit(2);
        }
    };
    println!("idle-soak {config:?}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let started = std::time::Instant::now();
    let report = runtime.block_on(run_memory(config));
    print!("{report}");
    println!(
        "wall time          {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if report.violations > 0 {
        std::process::exit(1);
    }
}

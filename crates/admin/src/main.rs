//! `idle-admin`: the operator's CLI (see the crate README). Parses the arguments, opens the
//! backend, runs one command, prints its report, and logs an audit record for every mutating
//! command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use idle_admin::audit::{confirm, operator, record};
use idle_admin::backend::{Access, Backend};
use idle_admin::{commands, redrive, CliError};
use idle_app::config::{AppConfig, Function};
use idle_app::ports::{Clock, SystemClock};
use idle_core::model::{AdminCommand, InventoryChange};
use serde_json::Value;

#[derive(Debug, Parser)]
#[command(
    name = "idle-admin",
    about = "Look at, repair, export and erase players of the idle-game backend.",
    long_about = "Look at, repair, export and erase players of the idle-game backend, on \
    DynamoDB (tables from PLAYERS_TABLE, TASKS_TABLE, CONNECTIONS_TABLE, NOTIFICATIONS_TABLE; \
    DYNAMODB_ENDPOINT overrides the endpoint) or on an idle-local data directory (--data-dir)."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// An idle-local data directory (its DIR/idle.db) instead of DynamoDB.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print JSON instead of a readable table.
    #[arg(long, global = true)]
    json: bool,
    /// Do not ask for confirmation before a change.
    #[arg(long, global = true)]
    yes: bool,
    /// Who runs the command, for the audit records (default: $USER).
    #[arg(long, global = true)]
    operator: Option<String>,
    /// Writes to a data directory: wait up to SECS seconds for a running idle-local to release
    /// the directory's writer lock (default: refuse at once).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 0)]
    wait: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The player's state, queue, recent history, connections and kept notifications.
    Show {
        player: String,
        /// History records shown (the most recent).
        #[arg(long, default_value_t = 10)]
        recent: usize,
    },
    /// The player's tasks: the history (with audit records) and the unfinished ones.
    Tasks { player: String },
    /// Adds items to the player's inventory (audited in the history).
    Grant(ChangeArgs),
    /// Takes items from the player's inventory, never below zero (audited in the history).
    Revoke(ChangeArgs),
    /// Recomputes a stored task's outcome and compares (the balance tool's replay).
    Replay {
        player: String,
        task_id: String,
        /// Environment variable holding the deployment's seed secret.
        #[arg(long, default_value = "SEED_SECRET")]
        secret_env: String,
    },
    /// Everything stored about the player, as one JSON document.
    Export { player: String },
    /// Deletes every row of the player in every table, then checks that none remains.
    Erase { player: String },
    /// Performs outboxes the processor did not: locally every unperformed one; on AWS the
    /// batches named by the stream's on-failure queue.
    Redrive {
        /// The on-failure queue's URL (the stack output TaskProcessorFailureQueueUrl); AWS only.
        #[arg(long)]
        queue_url: Option<String>,
        /// Messages read at most (AWS).
        #[arg(long, default_value_t = 100)]
        max_messages: usize,
        /// A range the stream no longer holds (AWS): advance the players found from the
        /// history (a scan of the Tasks table), those whose wake-up is due, or keep the message.
        #[arg(long, value_enum, default_value_t = redrive::Expired::History)]
        expired: redrive::Expired,
        /// Seconds added on both sides of an expired range's time window (AWS).
        #[arg(long, default_value_t = 300)]
        slack_secs: i64,
    },
}

#[derive(Debug, Args)]
struct ChangeArgs {
    player: String,
    /// An item id of the catalog, or `item@tier` for a quality tier.
    item: String,
    count: u64,
    /// Why (a ticket, a refund): stored in the audit record.
    #[arg(long)]
    reason: String,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("idle-admin: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("idle-admin: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

async fn open(global: &Global, access: Access, config: &AppConfig) -> Result<Backend, CliError> {
    match &global.data_dir {
        Some(dir) => Backend::local(
            dir,
            access,
            config,
            std::time::Duration::from_secs(global.wait),
        ),
        None => Backend::dynamo(config).await,
    }
}

fn print(global: &Global, report: &Value, text: impl FnOnce(&Value) -> String) {
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
    } else {
        print!("{}", text(report));
    }
}

fn pretty(report: &Value) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let global = &cli.global;
    // The settings the functions read (WAKE_SHARDS, HISTORY_TTL_SECS, CATALOG_FILE, ...);
    // no secret is required here (replay reads the seed secret itself).
    let config = AppConfig::from_env_for(Function::ConnectionCleaner)?;
    let now = SystemClock.now();
    let who = operator(global.operator.as_deref());
    match &cli.command {
        Command::Show { player, recent } => {
            let backend = open(global, Access::Read, &config).await?;
            let report = commands::show(&backend, &config, player, *recent, now).await?;
            print(global, &report, commands::show_text);
        }
        Command::Tasks { player } => {
            let backend = open(global, Access::Read, &config).await?;
            let report = commands::tasks(&backend, player).await?;
            print(global, &report, commands::tasks_text);
        }
        Command::Export { player } => {
            let backend = open(global, Access::Read, &config).await?;
            let report = commands::export(&backend, player, now).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        Command::Replay {
            player,
            task_id,
            secret_env,
        } => {
            let secret = std::env::var_os(secret_env)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "the seed secret is missing: set {secret_env} (or name another variable \
                         with --secret-env)"
                    ))
                })?
                .into_encoded_bytes();
            let backend = open(global, Access::Read, &config).await?;
            let (report, matches) =
                commands::replay(&backend, &config, player, task_id, &secret).await?;
            print(global, &report, pretty);
            if !matches {
                return Err(CliError::ReplayDiffers);
            }
        }
        Command::Grant(args) | Command::Revoke(args) => {
            let command = match &cli.command {
                Command::Grant(_) => AdminCommand::Grant,
                _ => AdminCommand::Revoke,
            };
            let change = InventoryChange {
                command,
                item: args.item.clone(),
                count: args.count,
                reason: args.reason.clone(),
                operator: who.clone(),
            };
            let outcome = async {
                confirm(
                    &format!(
                        "{} {} {} {} player {} (reason: {})?",
                        command.as_str(),
                        args.count,
                        args.item,
                        if command == AdminCommand::Grant {
                            "to"
                        } else {
                            "from"
                        },
                        args.player,
                        args.reason
                    ),
                    global.yes,
                )?;
                let backend = open(global, Access::Write, &config).await?;
                commands::change(&backend, &config, &args.player, &change, now).await
            }
            .await;
            record(
                &who,
                command.as_str(),
                Some(args.player.as_str()),
                Some(args.reason.as_str()),
                &outcome,
            );
            print(global, &outcome?, pretty);
        }
        Command::Erase { player } => {
            let outcome = async {
                confirm(
                    &format!("erase player {player} from every table (this cannot be undone)?"),
                    global.yes,
                )?;
                let backend = open(global, Access::Write, &config).await?;
                commands::erase(&backend, player).await
            }
            .await;
            record(&who, "erase", Some(player.as_str()), None, &outcome);
            print(global, &outcome?, pretty);
        }
        Command::Redrive {
            queue_url,
            max_messages,
            expired,
            slack_secs,
        } => {
            let outcome = async {
                confirm("perform the outboxes the processor did not?", global.yes)?;
                match open(global, Access::Write, &config).await? {
                    Backend::Local {
                        store, _lock: lock, ..
                    } => {
                        let done = redrive::redrive_local(store, &config).await;
                        drop(lock);
                        done
                    }
                    Backend::Dynamo { store, sdk } => {
                        let queue_url = queue_url.as_deref().ok_or_else(|| {
                            CliError::Usage(
                                "--queue-url is required on AWS: the stream's on-failure queue \
                                 (stack output TaskProcessorFailureQueueUrl)"
                                    .into(),
                            )
                        })?;
                        redrive::redrive_aws(
                            &sdk,
                            store,
                            &config,
                            queue_url,
                            *max_messages,
                            *expired,
                            slack_secs.saturating_mul(1000).max(0),
                        )
                        .await
                    }
                }
            }
            .await;
            record(&who, "redrive", None, None, &outcome);
            print(global, &outcome?, pretty);
        }
    }
    Ok(())
}

//! `idle-balance`: the balance report, the balance checks and task replay, for game designers.
//!
//! Exit codes: 0 success (report written, no check error, replay matches); 1 a check found an
//! error or a replay differs; 2 the input could not be used (bad catalog or task file, missing
//! secret, bad arguments).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use idle_balance::chart::{self, ChartError, Figure};
use idle_balance::check::{self, has_errors};
use idle_balance::curve::curves;
use idle_balance::output::{self, Format, OutputError, ReportHeader};
use idle_balance::profile::Profile;
use idle_balance::replay::{replay, ReplayError, ReplayReport};
use idle_balance::report::{self, ReportOptions, DEFAULT_TOLERANCE_SE};
use idle_core::catalog::{Catalog, CatalogError};
use idle_core::model::{Activity, Task};
use idle_core::rules::RulesError;
use idle_core::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "idle-balance",
    version,
    about = "Balance report, balance checks and task replay for the idle game's catalog"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Expected (closed form) and simulated (Monte Carlo) rewards of every target for each
    /// player profile.
    Report(ReportArgs),
    /// Balance checks; exits 1 when a finding is an error.
    Check(CheckArgs),
    /// Recomputes a stored task's outcome and compares it with the stored one; exits 0 on a
    /// match, 1 on a difference, 2 on an error.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
struct CatalogArg {
    /// Catalog JSON file to use instead of the shipped catalog.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ReportArgs {
    #[command(flatten)]
    catalog: CatalogArg,
    /// Report for a single profile of this level instead of the built-in 1, 10, 30, 60, 99.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    level: Option<u32>,
    /// Simulated tasks per target and profile.
    #[arg(long, value_name = "N", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    tasks: u32,
    /// Actions per simulated task (at most the game's largest quantity).
    #[arg(long, value_name = "Q", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(Limits::default().max_quantity)))]
    quantity: u32,
    /// Only this activity.
    #[arg(long, value_enum)]
    activity: Option<ActivityArg>,
    /// Output format: aligned table, or CSV/JSON with every figure unrounded.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
    /// Also write a chart of the best target's figure by level, per activity, to this SVG file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// The figure the chart shows.
    #[arg(long, value_enum, default_value_t = ChartArg::XpPerHour)]
    chart: ChartArg,
    /// Flag rows whose Monte Carlo strays more than this many standard errors from the closed
    /// form.
    #[arg(long, value_name = "SE", default_value_t = DEFAULT_TOLERANCE_SE)]
    tolerance_se: f64,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    catalog: CatalogArg,
    /// Output format for the findings.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    #[command(flatten)]
    catalog: CatalogArg,
    /// The task as JSON (a stored `Task`); `-` or nothing reads standard input.
    #[arg(value_name = "TASK_FILE", conflicts_with = "dynamodb")]
    task: Option<PathBuf>,
    /// Read the task from the DynamoDB Tasks table (`TASKS_TABLE`; `DYNAMODB_ENDPOINT`, region
    /// and credentials as the AWS SDK reads them) by player id and task id.
    #[arg(long, num_args = 2, value_names = ["PLAYER_ID", "TASK_ID"])]
    dynamodb: Option<Vec<String>>,
    /// Environment variable holding the seed secret (its raw bytes are the secret).
    #[arg(long, value_name = "NAME", default_value = "SEED_SECRET")]
    secret_env: String,
    /// `table` (or `csv`) prints a summary and the differences; `json` the whole replay report.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    format: FormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Table,
    Csv,
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ActivityArg {
    Harvest,
    Craft,
    Combat,
}

impl From<ActivityArg> for Activity {
    fn from(a: ActivityArg) -> Activity {
        match a {
            ActivityArg::Harvest => Activity::Harvest,
            ActivityArg::Craft => Activity::Craft,
            ActivityArg::Combat => Activity::Combat,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ChartArg {
    XpPerHour,
    ValuePerHour,
}

/// Why a command could not do its work (exit code 2).
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the task from standard input: {0}")]
    Stdin(#[source] io::Error),
    #[error("catalog {path} is not usable: {source}")]
    Catalog {
        path: PathBuf,
        #[source]
        source: CatalogError,
    },
    #[error("the task is not valid task JSON: {0}")]
    TaskJson(#[source] serde_json::Error),
    #[error("the seed secret is missing: set the environment variable {0} (or name another with --secret-env)")]
    MissingSecret(String),
    #[error("--level {level} is above this catalog's max_level {max}")]
    Level { level: u32, max: u32 },
    #[error("--tolerance-se must be a positive number, not {0}")]
    Tolerance(f64),
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("--dynamodb needs TASKS_TABLE, the name of the Tasks table")]
    MissingTable,
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    #[error("reading the task from DynamoDB failed: {0}")]
    Store(#[source] idle_app::ports::StoreError),
    #[error("no task `{1}` of player `{0}` in the Tasks table")]
    NoSuchTask(String, String),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write to standard output: {0}")]
    Stdout(#[source] io::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report(args) => run_report(args),
        Command::Check(args) => run_check(args),
        Command::Replay(args) => run_replay(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("idle-balance: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn print(text: &str) -> Result<(), CliError> {
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(CliError::Stdout(e)),
        _ => Ok(()),
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// The catalog from `--catalog`, or the shipped one.
fn load_catalog(arg: &CatalogArg) -> Result<Option<Catalog>, CliError> {
    let Some(path) = &arg.catalog else {
        return Ok(None);
    };
    let text = read_file("catalog", path)?;
    Catalog::from_json(&text)
        .map(Some)
        .map_err(|source| CliError::Catalog {
            path: path.clone(),
            source,
        })
}

fn run_report(args: ReportArgs) -> Result<ExitCode, CliError> {
    let loaded = load_catalog(&args.catalog)?;
    let catalog = loaded.as_ref().unwrap_or_else(|| Catalog::shipped());
    if !(args.tolerance_se.is_finite() && args.tolerance_se > 0.0) {
        return Err(CliError::Tolerance(args.tolerance_se));
    }
    let profiles = match args.level {
        Some(level) if level > catalog.rules.max_level => {
            return Err(CliError::Level {
                level,
                max: catalog.rules.max_level,
            })
        }
        Some(level) => vec![Profile::at_level(level, catalog)],
        None => Profile::standard(catalog),
    };
    let options = ReportOptions {
        profiles,
        tasks: args.tasks,
        quantity: args.quantity,
        activity: args.activity.map(Activity::from),
        tolerance_se: args.tolerance_se,
    };
    let rows = report::report(catalog, &options)?;
    let header = ReportHeader {
        catalog_version: catalog.version,
        tasks: args.tasks,
        quantity: args.quantity,
        tolerance_se: args.tolerance_se,
    };
    print(&output::report(&rows, &header, args.format.into())?)?;
    if let Some(path) = &args.svg {
        let figure = match args.chart {
            ChartArg::XpPerHour => Figure::XpPerHour,
            ChartArg::ValuePerHour => Figure::ValuePerHour,
        };
        let svg = chart::svg(&curves(catalog)?, figure, catalog.rules.max_level)?;
        std::fs::write(path, svg).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?;
        eprintln!("idle-balance: chart written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn run_check(args: CheckArgs) -> Result<ExitCode, CliError> {
    let loaded = load_catalog(&args.catalog)?;
    let catalog = loaded.as_ref().unwrap_or_else(|| Catalog::shipped());
    let findings = check::check(catalog)?;
    print(&output::findings(&findings, args.format.into())?)?;
    Ok(if has_errors(&findings) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_replay(args: ReplayArgs) -> Result<ExitCode, CliError> {
    let loaded = load_catalog(&args.catalog)?;
    let catalog = loaded.as_ref().unwrap_or_else(|| Catalog::shipped());
    let task: Task = match (&args.dynamodb, args.task.as_deref()) {
        (Some(key), _) => load_stored_task(&key[0], &key[1])?,
        (None, Some(path)) if path != Path::new("-") => {
            serde_json::from_str(&read_file("task", path)?).map_err(CliError::TaskJson)?
        }
        (None, _) => {
            let mut text = String::new();
            io::stdin()
                .read_to_string(&mut text)
                .map_err(CliError::Stdin)?;
            serde_json::from_str(&text).map_err(CliError::TaskJson)?
        }
    };
    let secret = std::env::var_os(&args.secret_env)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CliError::MissingSecret(args.secret_env.clone()))?
        .into_encoded_bytes();
    let report = replay(&task, &secret, catalog)?;
    let text = match args.format {
        FormatArg::Json => serde_json::to_string_pretty(&report).map_err(OutputError::from)? + "\n",
        FormatArg::Table | FormatArg::Csv => replay_summary(&report),
    };
    print(&text)?;
    Ok(if report.matches() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Reads one task from the Tasks table through the DynamoDB adapter.
fn load_stored_task(player_id: &str, task_id: &str) -> Result<Task, CliError> {
    let table = std::env::var("TASKS_TABLE")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or(CliError::MissingTable)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let config = idle_aws::sdk_config().await;
        let tables = idle_aws::Tables {
            tasks: table,
            ..idle_aws::Tables::with_prefix("unused-")
        };
        let store = idle_aws::DynamoStore::new(idle_aws::dynamodb_client(&config), tables, 1);
        idle_app::ports::GameStore::load_task(&store, player_id, task_id)
            .await
            .map_err(CliError::Store)?
            .ok_or_else(|| CliError::NoSuchTask(player_id.to_owned(), task_id.to_owned()))
    })
}

fn replay_summary(report: &ReplayReport) -> String {
    let mut text = format!(
        "task {} of player {} ({}, rules version {}, {} actions): ",
        report.task_id,
        report.player_id,
        report.status.as_str(),
        report.rules_version,
        report.actions
    );
    if report.matches() {
        text.push_str("MATCHES the stored outcome\n");
        return text;
    }
    text.push_str(&format!(
        "DIFFERS from the stored outcome in {} field(s)\n",
        report.differences.len()
    ));
    let width = report
        .differences
        .iter()
        .map(|d| d.field.len())
        .max()
        .unwrap_or(0)
        .max("field".len());
    text.push_str(&format!("{:<width$}  stored → recomputed\n", "field"));
    for d in &report.differences {
        text.push_str(&format!(
            "{:<width$}  {} → {}\n",
            d.field, d.stored, d.recomputed
        ));
    }
    text
}

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
use idle_balance::replay::{replay, stored_catalog, ReplayError, ReplayReport, StoredCatalogError};
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
    /// Catalog JSON file to replay with. Without it, a task read with `--dynamodb` or
    /// `--local` is replayed with the catalog its recorded hash names, from the catalog store
    /// (`CATALOGS_TABLE` for `--dynamodb`; the data directory's database for `--local`), and
    /// any other task with the shipped catalog.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// The task as JSON (a stored `Task`); `-` or nothing reads standard input.
    #[arg(value_name = "TASK_FILE", conflicts_with_all = ["dynamodb", "local"])]
    task: Option<PathBuf>,
    /// Read the task from the DynamoDB Tasks table (`TASKS_TABLE`; `DYNAMODB_ENDPOINT`, region
    /// and credentials as the AWS SDK reads them) by player id and task id.
    #[arg(long, num_args = 2, value_names = ["PLAYER_ID", "TASK_ID"], conflicts_with = "local")]
    dynamodb: Option<Vec<String>>,
    /// Read the task from the local runtime's data directory (`DIR/idle.db`) by player id and
    /// task id.
    #[arg(long, num_args = 3, value_names = ["DIR", "PLAYER_ID", "TASK_ID"])]
    local: Option<Vec<String>>,
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
    #[error(
        "task {0} recorded catalog {1}: set CATALOGS_TABLE to the Catalogs table to replay with \
         it, or give its file with --catalog"
    )]
    MissingCatalogsTable(String, String),
    #[error(transparent)]
    StoredCatalog(#[from] StoredCatalogError),
    #[error("cannot open the local data in {}: {source}", dir.display())]
    Local {
        dir: PathBuf,
        #[source]
        source: idle_app::ports::StoreError,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] io::Error),
    #[error("reading the task failed: {0}")]
    Store(#[source] idle_app::ports::StoreError),
    #[error("no task `{1}` of player `{0}` in the task history")]
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
    let given = load_catalog(&CatalogArg {
        catalog: args.catalog.clone(),
    })?;
    let (task, catalog) = match (&args.dynamodb, &args.local, args.task.as_deref()) {
        (Some(key), _, _) => load_stored_task(&key[0], &key[1], given.is_none())?,
        (_, Some(key), _) => {
            load_local_task(Path::new(&key[0]), &key[1], &key[2], given.is_none())?
        }
        (None, None, Some(path)) if path != Path::new("-") => (
            serde_json::from_str(&read_file("task", path)?).map_err(CliError::TaskJson)?,
            None,
        ),
        (None, None, _) => {
            let mut text = String::new();
            io::stdin()
                .read_to_string(&mut text)
                .map_err(CliError::Stdin)?;
            (
                serde_json::from_str(&text).map_err(CliError::TaskJson)?,
                None,
            )
        }
    };
    let catalog = given
        .or(catalog)
        .unwrap_or_else(|| Catalog::shipped().clone());
    let secret = std::env::var_os(&args.secret_env)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CliError::MissingSecret(args.secret_env.clone()))?
        .into_encoded_bytes();
    let report = replay(&task, &secret, &catalog)?;
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

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// Reads one task from the Tasks table through the DynamoDB adapter and, when `by_hash` and the
/// task recorded a catalog hash, that catalog from the Catalogs table (`CATALOGS_TABLE`).
fn load_stored_task(
    player_id: &str,
    task_id: &str,
    by_hash: bool,
) -> Result<(Task, Option<Catalog>), CliError> {
    let table = std::env::var("TASKS_TABLE")
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or(CliError::MissingTable)?;
    runtime()?.block_on(async {
        let config = idle_aws::sdk_config().await;
        let client = idle_aws::dynamodb_client(&config);
        let tables = idle_aws::Tables {
            tasks: table,
            ..idle_aws::Tables::with_prefix("unused-")
        };
        let store = idle_aws::DynamoStore::new(client.clone(), tables, 1);
        let task = idle_app::ports::GameStore::load_task(&store, player_id, task_id)
            .await
            .map_err(CliError::Store)?
            .ok_or_else(|| CliError::NoSuchTask(player_id.to_owned(), task_id.to_owned()))?;
        let Some(hash) = task.catalog_hash.clone().filter(|_| by_hash) else {
            return Ok((task, None));
        };
        let Some(catalogs) = std::env::var(idle_aws::CATALOGS_TABLE_VAR)
            .ok()
            .filter(|t| !t.is_empty())
        else {
            // Without the table, the shipped catalog still serves the tasks it computed.
            return if hash == Catalog::shipped().content_hash() {
                Ok((task, None))
            } else {
                Err(CliError::MissingCatalogsTable(task_id.to_owned(), hash))
            };
        };
        let catalogs = idle_aws::DynamoCatalogs::new(client, catalogs);
        let catalog = stored_catalog(&catalogs, &hash).await?;
        Ok((task, Some(catalog)))
    })
}

/// Reads one task from the local runtime's data directory and, when `by_hash` and the task
/// recorded a catalog hash, that catalog from the same database.
fn load_local_task(
    dir: &Path,
    player_id: &str,
    task_id: &str,
    by_hash: bool,
) -> Result<(Task, Option<Catalog>), CliError> {
    let file = dir.join(idle_sqlite::DATABASE_FILE);
    if !file.is_file() {
        return Err(CliError::Local {
            dir: dir.to_owned(),
            source: idle_app::ports::StoreError::Permanent(format!("no {}", file.display())),
        });
    }
    let store = idle_sqlite::SqliteStore::open(&file).map_err(|source| CliError::Local {
        dir: dir.to_owned(),
        source,
    })?;
    runtime()?.block_on(async {
        let task = idle_app::ports::GameStore::load_task(&store, player_id, task_id)
            .await
            .map_err(CliError::Store)?
            .ok_or_else(|| CliError::NoSuchTask(player_id.to_owned(), task_id.to_owned()))?;
        let Some(hash) = task.catalog_hash.clone().filter(|_| by_hash) else {
            return Ok((task, None));
        };
        let catalog = stored_catalog(&store, &hash).await?;
        Ok((task, Some(catalog)))
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

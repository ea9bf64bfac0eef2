//! `idle-local`: the whole idle-game backend on one machine (see the crate docs and README).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use idle_app::auth;
use idle_app::config::{GameCatalog, CATALOG_FILE};
use idle_app::ports::{Clock, SystemClock};
use idle_local::console::DEV_TOKEN_TTL;
use idle_local::settings::uses_dev_secrets;
use idle_local::{app_config, LocalError, Options};

/// The idle-game backend on one machine: WebSocket gateway, @connections API, task processor,
/// ticker, cleaner and a web console. No AWS account needed.
#[derive(Debug, Parser)]
#[command(name = "idle-local", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Address to listen on (loopback unless --public); port 0 picks a free port (printed at
    /// start).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Serve others than this machine's users (any --listen address, or behind a reverse
    /// proxy): needs TOKEN_SECRET and SEED_SECRET, turns off /dev/token. Serves plain HTTP: put
    /// a TLS-terminating reverse proxy in front.
    #[arg(long)]
    public: bool,
    /// Keep players, task history and kept notifications in DIR/idle.db (SQLite, WAL) across
    /// restarts; an old DIR/store.json is imported once.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Milliseconds between ticker sweeps of the wake index: the safety net behind the precise
    /// timer that completes tasks at their end (as the one-minute ticker is on AWS).
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    tick_ms: u64,
    /// Milliseconds between connection-cleaner sweeps.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    clean_ms: u64,
    /// Post replies and notifications through the real SDK client over this process's own
    /// `@connections` API, as the Lambdas do on AWS (slower), instead of in process.
    #[arg(long)]
    posts_through_api: bool,
    /// The player whose token and console link are printed at start.
    #[arg(long, default_value = "demo-player")]
    demo_player: String,
    /// Play this catalog file instead of the embedded one (or CATALOG_FILE's). A file that is
    /// not a valid catalog stops the start, naming the entry and the field (docs/catalog.md).
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a player token signed with the dev secret (or TOKEN_SECRET when set).
    Token {
        /// The player id (the token's `sub`).
        player_id: String,
        /// Give the token the admin role (may use `bypass_validation`).
        #[arg(long)]
        admin: bool,
        /// How long the token is valid, in seconds.
        #[arg(long, default_value_t = DEV_TOKEN_TTL.as_secs(), value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
        ttl_secs: u64,
    },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn token(player_id: &str, admin: bool, ttl_secs: u64) -> Result<String, LocalError> {
    // Minting needs no catalog: CATALOG_FILE is not read here.
    let config = app_config(|name| {
        if name == CATALOG_FILE {
            None
        } else {
            env(name)
        }
    })?;
    let secret = config
        .token_secret
        .ok_or(idle_app::ConfigError::MissingSecret {
            name: "TOKEN_SECRET",
        })?;
    Ok(auth::mint(
        secret.expose(),
        player_id,
        Duration::from_secs(ttl_secs),
        admin,
        SystemClock.now(),
    )?)
}

/// SIGINT (Ctrl-C) or SIGTERM (service managers, `docker stop`, `kill`), caught from the
/// moment this returns; the future yields the signal's name.
#[cfg(unix)]
fn stop_signals() -> Result<impl std::future::Future<Output = &'static str>, LocalError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(LocalError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(LocalError::Signals)?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    })
}

/// Ctrl-C, where there is no SIGTERM.
#[cfg(not(unix))]
fn stop_signals() -> Result<impl std::future::Future<Output = &'static str>, LocalError> {
    Ok(async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    })
}

async fn run(args: RunArgs) -> Result<(), LocalError> {
    // --catalog wins over CATALOG_FILE, which is then not even read.
    let flag = args.catalog.is_some();
    let mut config = app_config(|name| {
        if flag && name == CATALOG_FILE {
            None
        } else {
            env(name)
        }
    })?;
    if let Some(file) = &args.catalog {
        config.catalog = GameCatalog::from_file(file)?;
    }
    let catalog = config.catalog.clone();
    // Caught from now on, before the address is printed: whoever reads it may send SIGTERM
    // at once, and an uncaught one would kill the process without the final write.
    let stop = stop_signals()?;
    let public = args.public;
    // A public runtime's stdout often ends up in shared logs: no ready-made token there.
    let demo_token = if public {
        None
    } else {
        Some(token(&args.demo_player, false, DEV_TOKEN_TTL.as_secs())?)
    };
    let options = Options {
        listen: args.listen,
        public: args.public,
        data_dir: args.data_dir,
        tick: Duration::from_millis(args.tick_ms),
        clean: Duration::from_millis(args.clean_ms),
        posts_through_api: args.posts_through_api,
    };
    let running = idle_local::start(options, config).await?;
    let base = format!("http://{}", running.addr());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "idle-local is running: the whole backend, no AWS account needed"
    );
    let _ = writeln!(out, "  listening on  {base}");
    let _ = writeln!(out, "  console       {base}/   (open it in a browser)");
    if let Some(demo_token) = &demo_token {
        let _ = writeln!(
            out,
            "  as {}  {base}/?player={}",
            args.demo_player, args.demo_player
        );
        let _ = writeln!(out, "  WebSocket     {}?token=<token>", running.ws_url());
        let _ = writeln!(out, "  @connections  {base}/@connections/{{id}}");
        let _ = writeln!(out, "  token for {}: {demo_token}", args.demo_player);
    } else {
        let _ = writeln!(out, "  WebSocket     {}?token=<token>", running.ws_url());
        let _ = writeln!(
            out,
            "  @connections  {base}/@connections/{{id}}   (from this machine only)"
        );
        let _ = writeln!(
            out,
            "  public        /dev/token is off; serve it behind a TLS-terminating reverse proxy"
        );
    }
    let _ = writeln!(
        out,
        "  catalog       {} (version {}, hash {})",
        catalog
            .file
            .as_deref()
            .map_or_else(|| "embedded".to_owned(), |f| f.display().to_string()),
        catalog.catalog().version,
        &catalog.hash()[..12]
    );
    match running.data_file() {
        Some(file) => {
            let _ = writeln!(out, "  data file     {}", file.display());
        }
        None => {
            let _ = writeln!(
                out,
                "  data          in memory only (--data-dir DIR keeps it across restarts)"
            );
        }
    }
    if uses_dev_secrets(env) {
        let _ = writeln!(
            out,
            "  secrets       public dev secrets (set TOKEN_SECRET and SEED_SECRET to use your own)"
        );
    }
    let _ = writeln!(out, "Press Ctrl-C (or send SIGTERM) to stop.");
    let _ = out.flush();
    drop(out);

    let signal = stop.await;
    tracing::info!(
        signal,
        "stopping: finishing work under way, then writing the state"
    );
    running.shutdown().await
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            // Every tick and sweep logs a report at info: too much for a terminal.
            "info,idle_app::usecase::tick=warn,idle_app::usecase::clean=warn,aws_config=warn,aws_smithy_runtime=warn",
        )
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Token {
        player_id,
        admin,
        ttl_secs,
    }) = cli.command
    {
        return match token(&player_id, admin, ttl_secs) {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("idle-local: {error}");
                ExitCode::from(2)
            }
        };
    }
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("idle-local: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.run)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("idle-local: {error}");
            ExitCode::FAILURE
        }
    }
}

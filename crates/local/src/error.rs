//! What can stop the local runtime from starting or running.

use std::net::SocketAddr;
use std::path::PathBuf;

use idle_app::auth::AuthError;
use idle_app::ConfigError;

/// Why the local runtime could not start, run, or mint a token. Each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The settings (environment variables) are invalid.
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    /// `--listen` names an address other than loopback without `--public`.
    #[error("--listen {0} is not a loopback address; the local runtime listens on 127.0.0.1 or [::1] unless started with --public (then set TOKEN_SECRET and SEED_SECRET, and put a TLS-terminating reverse proxy in front)")]
    NotLoopback(SocketAddr),
    /// `--public` was given but a public development secret would be used.
    #[error("--public needs your own secrets: set {} (the built-in dev secrets are public: anyone could mint tokens or predict task outcomes)", .0.join(" and "))]
    DevSecretsInPublic(Vec<&'static str>),
    /// Another process (or runtime) holds the data directory's writer lock.
    #[error("{} is held by another idle-local ({}); stop it or use another --data-dir", path.display(), holder.map_or_else(|| "pid unknown".to_owned(), |pid| format!("pid {pid}")))]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, as it wrote it in the lock file.
        holder: Option<u32>,
    },
    /// The listening socket could not be opened (port in use, …).
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The data directory could not be created or written.
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The data file exists but cannot be read back; it is left untouched.
    #[error("data file {path} cannot be loaded: {reason}; move it away to start afresh")]
    DataFile { path: PathBuf, reason: String },
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(String),
    /// A token could not be minted.
    #[error("token: {0}")]
    Token(#[from] AuthError),
    /// The handlers of SIGINT and SIGTERM could not be installed.
    #[error("cannot catch SIGINT and SIGTERM to stop gracefully: {0}")]
    Signals(std::io::Error),
    /// The HTTP server stopped with an error.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

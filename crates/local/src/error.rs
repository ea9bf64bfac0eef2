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
    /// `--listen` names an address other than loopback: the runtime uses public dev secrets.
    #[error("--listen {0} is not a loopback address; the local runtime only listens on 127.0.0.1 or [::1]")]
    NotLoopback(SocketAddr),
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
    /// A token could not be minted.
    #[error("token: {0}")]
    Token(#[from] AuthError),
    /// The HTTP server stopped with an error.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

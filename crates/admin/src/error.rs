//! What can go wrong, and the exit code each failure gives.

use idle_app::ports::StoreError;
use idle_app::usecase::AdminChangeError;
use idle_app::ConfigError;

/// A command's failure. Every variant says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("DynamoDB tables: {0} (or pass --data-dir for a local data directory)")]
    Tables(#[from] idle_aws::ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Change(#[from] AdminChangeError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Locked(String),
    #[error("aborted: not confirmed (answer `yes`, or pass --yes)")]
    Aborted,
    /// Erase finished but the check found rows of the player.
    #[error("rows of the player remain after the erase: {0}")]
    Remains(String),
    /// A replay recomputed another outcome than the stored one.
    #[error("the replay does not match the stored outcome")]
    ReplayDiffers,
    #[error("replay: {0}")]
    Replay(#[from] idle_balance::replay::ReplayError),
    #[error("redrive left work undone: {0}")]
    Redrive(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// The process exit code: 2 for usage and refusals before anything was done, 3 when erase
    /// leaves rows behind, 4 when a redrive left work undone, 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Aborted | CliError::Locked(_) => 2,
            CliError::Remains(_) => 3,
            CliError::Redrive(_) => 4,
            _ => 1,
        }
    }
}

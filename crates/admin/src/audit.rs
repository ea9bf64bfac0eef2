//! Confirmation and the audit trail of mutating commands.

use std::io::{BufRead, IsTerminal, Write};

use crate::CliError;

/// Who runs the command: `--operator`, else `$USER`, else `unknown`.
pub fn operator(flag: Option<&str>) -> String {
    flag.map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .filter(|o| !o.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Asks `question` on stderr and reads one line from stdin; anything but `y` or `yes` (or the
/// end of input) is [`CliError::Aborted`]. `yes` (the `--yes` flag) skips the question.
pub fn confirm(question: &str, yes: bool) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    let mut stderr = std::io::stderr();
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !std::io::stdin().is_terminal() {
        // The answer was not echoed: end the question's line, so the log lines start clean.
        writeln!(stderr)?;
    }
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(CliError::Aborted),
    }
}

/// One audit record of a mutating command, as a JSON line on stderr (the `tracing` subscriber
/// `main` installs): `audit = true`, the operator, the command, the player (if any), the reason
/// (if any) and the outcome (`done`, or the error).
pub fn record(
    operator: &str,
    command: &str,
    player: Option<&str>,
    reason: Option<&str>,
    outcome: &Result<serde_json::Value, CliError>,
) {
    let player = player.unwrap_or("");
    let reason = reason.unwrap_or("");
    match outcome {
        Ok(detail) => tracing::info!(
            audit = true,
            operator,
            command,
            player,
            reason,
            outcome = "done",
            detail = %detail,
            "admin command"
        ),
        Err(error) => tracing::warn!(
            audit = true,
            operator,
            command,
            player,
            reason,
            outcome = "failed",
            error = %error,
            "admin command"
        ),
    }
}

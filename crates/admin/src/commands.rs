//! The commands, each over a [`Backend`]: a JSON value to print (or a text rendering of it).

use std::collections::VecDeque;

use idle_app::config::AppConfig;
use idle_app::ports::{PlayerRecords, StoreError};
use idle_app::state::PlayerState;
use idle_app::usecase::change_player_inventory;
use idle_core::model::{HistoryRecord, InventoryChange, Millis, Task};
use idle_core::protocol::{Notification, PlayerView, QueueEntry};
use serde_json::{json, Value};

use crate::backend::Backend;
use crate::CliError;

/// Kept notifications read per page while collecting them all.
const INBOX_PAGE: usize = 500;

/// The player with its queue, or [`CliError::NotFound`] (also for a player who has connected
/// but sent nothing yet: its item is created by its first write).
pub async fn load_player(backend: &Backend, player_id: &str) -> Result<PlayerState, CliError> {
    let mut loaded = backend.game().load_players(&[player_id.to_owned()]).await?;
    if let Some((_, error)) = loaded.unreadable.pop() {
        return Err(error.into());
    }
    loaded
        .players
        .pop()
        .ok_or_else(|| {
            CliError::NotFound(format!(
                "no player {player_id:?} (a player who has only connected has no item until its first message)"
            ))
        })
}

/// Every history record of the player (tasks and audit records), in `task_id` order.
pub async fn all_history(
    records: &dyn PlayerRecords,
    player_id: &str,
) -> Result<Vec<HistoryRecord>, StoreError> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = records.history(player_id, cursor).await?;
        all.extend(page.items);
        cursor = page.next;
        if cursor.is_none() {
            return Ok(all);
        }
    }
}

/// The last `n` history records (all are read: the history is short-lived, its TTL bounds it).
async fn recent_history(
    records: &dyn PlayerRecords,
    player_id: &str,
    n: usize,
) -> Result<Vec<HistoryRecord>, StoreError> {
    let mut last = VecDeque::with_capacity(n + 1);
    let mut cursor = None;
    loop {
        let page = records.history(player_id, cursor).await?;
        for record in page.items {
            last.push_back(record);
            if last.len() > n {
                last.pop_front();
            }
        }
        cursor = page.next;
        if cursor.is_none() {
            return Ok(last.into());
        }
    }
}

/// Kept notifications of the player; with `expired`, those past their expiry that the store
/// has not removed yet too.
async fn kept(
    backend: &Backend,
    player_id: &str,
    now: Millis,
    expired: bool,
) -> Result<Vec<Notification>, StoreError> {
    let as_of = if expired { Millis::MIN } else { now };
    let mut all: Vec<Notification> = Vec::new();
    let mut after = 0;
    loop {
        let page = backend
            .inbox()
            .kept_after(player_id, after, as_of, INBOX_PAGE)
            .await?;
        after = page.notifications.last().map_or(after, |n| n.seq);
        all.extend(page.notifications);
        if !page.more {
            return Ok(all);
        }
    }
}

/// `show`: the player as the game sees it (levels, skills, inventory, equipment), the queue,
/// the last `recent` history records, open connections and kept notifications.
pub async fn show(
    backend: &Backend,
    config: &AppConfig,
    player_id: &str,
    recent: usize,
    now: Millis,
) -> Result<Value, CliError> {
    let state = load_player(backend, player_id).await?;
    let catalog = config.catalog.catalog();
    let queue: Vec<QueueEntry> = state.queue.iter().map(QueueEntry::from).collect();
    Ok(json!({
        "player": PlayerView::of(&state.player, catalog),
        "version": state.player.version,
        "created_at": state.player.created_at,
        "wake_at": state.player.wake_at,
        "queue": queue,
        "history": recent_history(backend.records(), player_id, recent).await?,
        "connections": backend.connections().player_connections(player_id).await?,
        "inbox": kept(backend, player_id, now, false).await?,
    }))
}

/// `tasks`: the finished tasks and audit records of the history, then the unfinished tasks of
/// the queue.
pub async fn tasks(backend: &Backend, player_id: &str) -> Result<Value, CliError> {
    let history = all_history(backend.records(), player_id).await?;
    let queue = match load_player(backend, player_id).await {
        Ok(state) => state.queue,
        Err(CliError::NotFound(_)) if !history.is_empty() => Vec::new(),
        Err(error) => return Err(error),
    };
    Ok(json!({ "player_id": player_id, "history": history, "queue": queue }))
}

/// `grant` / `revoke`: one conditional commit with the audit record in its outbox.
pub async fn change(
    backend: &Backend,
    config: &AppConfig,
    player_id: &str,
    change: &InventoryChange,
    now: Millis,
) -> Result<Value, CliError> {
    let audit = change_player_inventory(
        backend.game(),
        config.catalog.catalog(),
        player_id,
        change,
        now,
    )
    .await?;
    Ok(serde_json::to_value(audit).unwrap_or(Value::Null))
}

/// `export`: everything stored about the player, as one JSON document.
pub async fn export(backend: &Backend, player_id: &str, now: Millis) -> Result<Value, CliError> {
    let history = all_history(backend.records(), player_id).await?;
    let state = match load_player(backend, player_id).await {
        Ok(state) => Some(state),
        Err(CliError::NotFound(_)) => None,
        Err(error) => return Err(error),
    };
    let kept = kept(backend, player_id, now, true).await?;
    let connections = backend.connections().player_connections(player_id).await?;
    if state.is_none() && history.is_empty() && kept.is_empty() && connections.is_empty() {
        return Err(CliError::NotFound(format!(
            "nothing is stored about player {player_id:?}"
        )));
    }
    let outboxes: Vec<Value> = backend
        .pending_outboxes(player_id)
        .await?
        .into_iter()
        .map(|r| json!({ "version": r.version, "outbox": r.outbox }))
        .collect();
    Ok(json!({
        "player_id": player_id,
        "exported_at": now,
        "player": state.as_ref().map(|s| &s.player),
        "queue": state.as_ref().map_or(&[] as &[Task], |s| &s.queue),
        "history": history,
        "kept_notifications": kept,
        "connections": connections,
        "pending_outboxes": outboxes,
    }))
}

/// `erase`: deletes every row of the player, then counts what remains. A count that finds
/// only connections (a client connecting during the erase) is taken again, up to five times a
/// second apart.
pub async fn erase(backend: &Backend, player_id: &str) -> Result<Value, CliError> {
    let deleted = backend.records().erase_player(player_id).await?;
    let mut remaining = backend.records().remaining(player_id).await?;
    for _ in 0..5 {
        if remaining.total() == 0 || remaining.total() != remaining.connections {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        remaining = backend.records().remaining(player_id).await?;
    }
    let report = json!({ "player_id": player_id, "deleted": deleted, "remaining": remaining });
    if remaining.total() > 0 {
        return Err(CliError::Remains(report.to_string()));
    }
    Ok(report)
}

/// `replay`: the stored task recomputed from its snapshot and the seed secret, with the balance
/// tool's replay; [`CliError::ReplayDiffers`] when the outcome differs (the report is printed
/// first by the caller).
pub async fn replay(
    backend: &Backend,
    config: &AppConfig,
    player_id: &str,
    task_id: &str,
    secret: &[u8],
) -> Result<(Value, bool), CliError> {
    let task = backend
        .game()
        .load_task(player_id, task_id)
        .await
        .map_err(|e| match e {
            StoreError::Permanent(m) if task_id.starts_with("admin-") => CliError::Usage(format!(
                "{task_id} is an admin change's audit record, not a task: nothing to replay ({m})"
            )),
            other => other.into(),
        })?
        .ok_or_else(|| {
            CliError::NotFound(format!(
                "no task {task_id:?} in player {player_id:?}'s history"
            ))
        })?;
    let report = idle_balance::replay::replay(&task, secret, config.catalog.catalog())?;
    let matches = report.matches();
    Ok((
        serde_json::to_value(&report).unwrap_or(Value::Null),
        matches,
    ))
}

// ---- text rendering ---------------------------------------------------------------------------

fn at(ms: &Value) -> String {
    ms.as_i64()
        .map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// One line per history record or queued task: id, status, what, count, times.
fn task_lines(out: &mut String, records: &[Value]) {
    for r in records {
        let line = if r.get("operator").is_some() {
            format!(
                "  {:<28} {:<10} {} {} x{} by {} ({}) at {}",
                r["task_id"].as_str().unwrap_or("?"),
                "audit",
                r["command"].as_str().unwrap_or("?"),
                r["item"].as_str().unwrap_or("?"),
                r["count"],
                r["operator"].as_str().unwrap_or("?"),
                r["reason"].as_str().unwrap_or(""),
                at(&r["at"]),
            )
        } else {
            let request = &r["request"];
            let target = ["resource", "recipe", "enemy"]
                .iter()
                .find_map(|k| request[*k].as_str())
                .unwrap_or("?");
            format!(
                "  {:<28} {:<10} {} {} x{} enqueued {} finished {}",
                r["task_id"].as_str().unwrap_or("?"),
                r["status"].as_str().unwrap_or("?"),
                request["activity"].as_str().unwrap_or("?"),
                target,
                request["quantity"],
                at(&r["enqueued_at"]),
                at(&r["finished_at"]),
            )
        };
        out.push_str(&line);
        out.push('\n');
    }
}

/// `show`'s report as text.
pub fn show_text(report: &Value) -> String {
    let player = &report["player"];
    let mut out = format!(
        "player {}  version {}  character level {} ({} xp)\n",
        player["player_id"].as_str().unwrap_or("?"),
        report["version"],
        player["character"]["level"],
        player["character"]["xp"],
    );
    out.push_str("skills:\n");
    if let Some(skills) = player["skills"].as_object() {
        for (skill, track) in skills {
            out.push_str(&format!(
                "  {skill:<12} level {} ({} xp)\n",
                track["level"], track["xp"]
            ));
        }
    }
    out.push_str("inventory:\n");
    if let Some(items) = player["inventory"].as_object() {
        for (item, n) in items {
            out.push_str(&format!("  {item:<28} {n}\n"));
        }
    }
    out.push_str("equipment:\n");
    if let Some(gear) = player["equipment"].as_object() {
        for (slot, worn) in gear {
            out.push_str(&format!(
                "  {slot:<12} {} (quality {}, durability {}/{})\n",
                worn["item"].as_str().unwrap_or("?"),
                worn["quality"],
                worn["durability"],
                worn["max_durability"]
            ));
        }
    }
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let queue = list(&report["queue"]);
    out.push_str(&format!("queue ({}):\n", queue.len()));
    for q in &queue {
        out.push_str(&format!(
            "  {:<28} {:<10} {} {}\n",
            q["task_id"].as_str().unwrap_or("?"),
            q["status"].as_str().unwrap_or("?"),
            q["task"]["activity"].as_str().unwrap_or("?"),
            q["task"]["quantity"],
        ));
    }
    let history = list(&report["history"]);
    out.push_str(&format!("recent history ({}):\n", history.len()));
    task_lines(&mut out, &history);
    let connections = list(&report["connections"]);
    out.push_str(&format!("connections ({}):\n", connections.len()));
    for c in &connections {
        out.push_str(&format!(
            "  {} connected at {}\n",
            c["connection_id"].as_str().unwrap_or("?"),
            at(&c["connected_at"])
        ));
    }
    let inbox = list(&report["inbox"]);
    out.push_str(&format!("kept notifications ({}):\n", inbox.len()));
    for n in &inbox {
        out.push_str(&format!(
            "  seq {} {} at {}\n",
            n["seq"],
            n["type"].as_str().unwrap_or("?"),
            at(&n["at"])
        ));
    }
    out
}

/// `tasks`' report as text.
pub fn tasks_text(report: &Value) -> String {
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let history = list(&report["history"]);
    let queue = list(&report["queue"]);
    let mut out = format!(
        "player {}: {} history records, {} unfinished\n",
        report["player_id"].as_str().unwrap_or("?"),
        history.len(),
        queue.len()
    );
    out.push_str("history:\n");
    task_lines(&mut out, &history);
    out.push_str("queue:\n");
    task_lines(&mut out, &queue);
    out
}

//! The message routes: `enqueue`, `cancel`, `sync`, `catalog`, `ping`.
//!
//! The player and the admin flag come only from the stored connection (written by `connect`
//! from the verified token), never from the message. Every answer is a JSON reply for the
//! sender; state changes are also announced to all of the player's connections by [`deliver`]
//! before the replies are returned, so a sender sees the `queue_updated` notification before
//! its `ack` (clients match them by `task_id` and `seq`, not by arrival order).

use idle_core::model::{Millis, TaskRequest};
use idle_core::protocol::{parse_client_message, ClientMessage, PlayerView, QueueEntry, Reply};
use idle_core::{cancel, enqueue, Enqueued};
use serde::Serialize;

use super::deliver::deliver;
use super::update::{load_player, update_player, Decision, UpdateError};
use crate::metrics::{record_plan, Transition};
use crate::ports::Connection;
use crate::services::Services;

/// Handles one client message on `connection_id` and returns the replies to send back to it,
/// in order. Never fails: every problem is an `error` reply with a stable code.
pub async fn message(services: &Services, connection_id: &str, body: &str) -> Vec<String> {
    let now = services.clock.now();
    let parsed = match parse_client_message(body, services.config.max_message_bytes) {
        Ok(parsed) => parsed,
        Err(error) => {
            tracing::info!(
                connection_id,
                code = error.code(),
                outcome = "refused",
                "bad message"
            );
            return vec![json(&Reply::protocol_error(now, &error))];
        }
    };
    let connection = match services.connections.get_connection(connection_id).await {
        Ok(Some(connection)) => connection,
        Ok(None) => {
            tracing::info!(
                connection_id,
                outcome = "forbidden",
                "message on an unknown connection"
            );
            return vec![error(
                now,
                "forbidden",
                "this connection is not signed in; reconnect with a valid token",
                None,
            )];
        }
        Err(e) => {
            tracing::warn!(connection_id, error = %e, "could not read the connection");
            return vec![unavailable(now, None)];
        }
    };
    match parsed {
        ClientMessage::Ping => vec![json(&Reply::Pong { at: now })],
        ClientMessage::Catalog => vec![json(&Reply::Catalog {
            at: now,
            catalog: Box::new(services.game.catalog.clone()),
        })],
        ClientMessage::Sync => sync(services, &connection, now).await,
        ClientMessage::Enqueue {
            request_id,
            task,
            bypass_validation,
        } => {
            enqueue_task(
                services,
                &connection,
                request_id,
                &task,
                bypass_validation,
                now,
            )
            .await
        }
        ClientMessage::Cancel { task_id } => cancel_task(services, &connection, task_id, now).await,
    }
}

async fn enqueue_task(
    services: &Services,
    connection: &Connection,
    request_id: String,
    task: &TaskRequest,
    bypass_validation: bool,
    now: Millis,
) -> Vec<String> {
    let player_id = connection.player_id.as_str();
    let is_admin = connection.is_admin;
    let activity = task.activity().as_str();
    if bypass_validation {
        // The audit trail of admin overrides, and of attempts by others (refused by the core).
        tracing::warn!(
            target: "audit",
            // The marker that survives every log format: Lambda's JSON logs drop the target.
            audit = true,
            player_id,
            request_id = %request_id,
            activity,
            target_id = task.target(),
            quantity = task.quantity(),
            is_admin,
            "enqueue with bypass_validation"
        );
    }
    let game = &services.game;
    let result = update_player(services, player_id, None, |state| {
        let answer = enqueue(
            game,
            &state.player,
            &state.queue,
            &request_id,
            task,
            bypass_validation,
            is_admin,
            now,
        )?;
        Ok(match answer {
            Enqueued::Duplicate { task_id } => Decision::Done((task_id, true)),
            Enqueued::New { task_id, plan } => Decision::Write(plan, (task_id, false)),
        })
    })
    .await;
    match result {
        Ok(updated) => {
            let (task_id, duplicate) = updated.value;
            tracing::info!(
                player_id,
                task_id = %task_id,
                activity,
                duplicate,
                outcome = "queued",
                "enqueue"
            );
            if let Some(plan) = &updated.plan {
                record_plan(&services.metrics, player_id, plan);
                deliver(services, player_id, &plan.notifications).await;
            }
            vec![json(&Reply::Ack {
                at: now,
                request_id: Some(request_id),
                task_id,
                duplicate,
            })]
        }
        Err(e) => {
            if let UpdateError::Rejected(rejection) = &e {
                // Refused before a task existed: the request id stands in for the task id.
                services.metrics.task(task.activity(), Transition::Rejected);
                tracing::info!(
                    player_id,
                    request_id = %request_id,
                    task_id = "",
                    activity,
                    outcome = Transition::Rejected.as_str(),
                    code = rejection.code(),
                    "task"
                );
            }
            vec![update_error(
                now,
                player_id,
                "enqueue",
                &e,
                Some(request_id),
            )]
        }
    }
}

async fn cancel_task(
    services: &Services,
    connection: &Connection,
    task_id: String,
    now: Millis,
) -> Vec<String> {
    let player_id = connection.player_id.as_str();
    let game = &services.game;
    let result = update_player(services, player_id, None, |state| {
        let plan = cancel(game, &state.player, &state.queue, &task_id, now)?;
        Ok(Decision::Write(Box::new(plan), ()))
    })
    .await;
    match result {
        Ok(updated) => {
            tracing::info!(player_id, task_id = %task_id, outcome = "cancelled", "cancel");
            if let Some(plan) = &updated.plan {
                record_plan(&services.metrics, player_id, plan);
                deliver(services, player_id, &plan.notifications).await;
            }
            vec![json(&Reply::Ack {
                at: now,
                request_id: None,
                task_id,
                duplicate: false,
            })]
        }
        Err(e) => vec![update_error(now, player_id, "cancel", &e, None)],
    }
}

/// The snapshot, then the inbox in `seq` order (which is then emptied through the last one).
async fn sync(services: &Services, connection: &Connection, now: Millis) -> Vec<String> {
    let player_id = connection.player_id.as_str();
    let state = match load_player(services, player_id).await {
        Ok(Some(state)) => state,
        Ok(None) => return vec![no_player(now)],
        Err(e) => {
            tracing::warn!(player_id, error = %e, "sync: could not load the player");
            return vec![unavailable(now, None)];
        }
    };
    let mut replies = vec![json(&Reply::Snapshot {
        at: now,
        player: PlayerView::of(&state.player, services.game.catalog),
        queue: state.queue.iter().map(QueueEntry::from).collect(),
    })];
    let pending = match services.inbox.pending(player_id, now).await {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!(player_id, error = %e, "sync: could not read the inbox");
            Vec::new()
        }
    };
    replies.extend(pending.iter().map(json));
    if let Some(last) = pending.last() {
        if let Err(e) = services.inbox.remove_through(player_id, last.seq).await {
            // They stay and are sent again on the next sync; seq lets the client skip repeats.
            tracing::warn!(player_id, error = %e, "sync: could not empty the inbox");
        }
    }
    tracing::info!(player_id, inbox = pending.len(), outcome = "synced", "sync");
    replies
}

fn update_error(
    now: Millis,
    player_id: &str,
    action: &str,
    e: &UpdateError,
    request_id: Option<String>,
) -> String {
    match e {
        UpdateError::Rejected(rejection) => {
            tracing::info!(
                player_id,
                action,
                code = rejection.code(),
                outcome = "rejected",
                "refused"
            );
            json(&Reply::rejection(now, rejection, request_id))
        }
        UpdateError::NoPlayer => no_player(now),
        UpdateError::Contended(_) | UpdateError::Store(_) => {
            tracing::warn!(player_id, action, error = %e, outcome = "unavailable", "could not write");
            unavailable(now, request_id)
        }
    }
}

fn no_player(now: Millis) -> String {
    error(
        now,
        "not_found",
        "no player for this connection; reconnect to create one",
        None,
    )
}

fn unavailable(now: Millis, request_id: Option<String>) -> String {
    json(&Reply::Error {
        at: now,
        code: "unavailable".to_owned(),
        message: "the server is busy; try again in a moment".to_owned(),
        retry_after_ms: Some(1000),
        request_id,
    })
}

fn error(now: Millis, code: &str, message: &str, request_id: Option<String>) -> String {
    json(&Reply::Error {
        at: now,
        code: code.to_owned(),
        message: message.to_owned(),
        retry_after_ms: None,
        request_id,
    })
}

/// Serialises a reply; our types always serialise, but a failure still answers with JSON.
fn json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not serialise a reply");
        r#"{"type":"error","code":"internal","message":"internal error"}"#.to_owned()
    })
}

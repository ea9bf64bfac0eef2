//! The message routes: `enqueue`, `cancel`, `sync`, `catalog`, `ping`.
//!
//! The player and the admin flag come only from the stored connection (written by `connect`
//! from the verified token), never from the message. Every answer is a typed reply for the
//! sender, returned once the change it reports is committed; the change is announced to all of
//! the player's connections by performing the write's outbox, in `seq` order, after the reply
//! (clients match replies by `request_id` and notifications by `seq`, not by arrival order).

use idle_core::model::{Millis, TaskRequest};
use idle_core::protocol::{
    parse_client_message, ClientMessage, ErrorCode, Outgoing, PlayerView, QueueEntry, Reply,
    PROTOCOL_VERSION,
};
use idle_core::{cancel, enqueue, spend_token, Enqueued};

use super::update::{update_or_create_player, Decision, UpdateError};
use crate::metrics::{record_plan, Transition};
use crate::ports::{Connection, Kept};
use crate::services::Services;
use crate::state::PlayerState;

/// What the sender gets for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// What the sender gets, in order; the handler serialises them (typed to the edge).
    pub replies: Vec<Outgoing>,
    /// Close the connection once the replies are posted (its token has expired).
    pub close: bool,
}

impl Answer {
    fn reply(reply: Outgoing) -> Answer {
        Answer {
            replies: vec![reply],
            close: false,
        }
    }
}

/// Handles one client message on `connection_id` and returns the replies to send back to it,
/// in order. Never fails: every problem is an `error` reply with a stable code, echoing the
/// message's `request_id` whenever one could be read. Every message from a signed-in
/// connection spends a token of the player's rate bucket, refused ones included.
pub async fn message(services: &Services, connection_id: &str, body: &str) -> Answer {
    let now = services.clock.now();
    let parsed = parse_client_message(body, services.config.max_message_bytes);
    let request_id = match &parsed {
        Ok(message) => message.request_id().map(str::to_owned),
        Err(bad) => bad.request_id.clone(),
    };
    let connection = match read_connection(services, connection_id).await {
        Ok(Some(connection)) => connection,
        Ok(None) => {
            tracing::info!(
                connection_id,
                outcome = "not_connected",
                "message on an unknown connection"
            );
            return Answer::reply(error(
                now,
                ErrorCode::NotConnected,
                "this connection is not signed in; reconnect with a valid token",
                request_id,
            ));
        }
        Err(e) => {
            tracing::warn!(connection_id, error = %e, "could not read the connection");
            return Answer::reply(unavailable(now, request_id));
        }
    };
    if now >= connection.token_expires_at {
        tracing::info!(
            connection_id,
            player_id = %connection.player_id,
            outcome = "token_expired",
            "message after the token expired; closing"
        );
        return Answer {
            replies: vec![error(
                now,
                ErrorCode::TokenExpired,
                "the token this connection was opened with has expired; reconnect with a fresh token",
                request_id,
            )],
            close: true,
        };
    }
    let message = match parsed {
        Ok(message) => message,
        Err(bad) => {
            tracing::info!(
                connection_id,
                code = bad.code().as_str(),
                outcome = "refused",
                "bad message"
            );
            // A refused message costs its sender too; only an empty bucket changes the answer.
            if let Err(e @ UpdateError::Rejected(_)) = spend(services, &connection, now).await {
                return Answer::reply(update_error(
                    now,
                    &connection.player_id,
                    "message",
                    &e,
                    request_id,
                ));
            }
            return Answer::reply(Outgoing::Reply(Reply::protocol_error(now, &bad)));
        }
    };
    let replies = match message {
        ClientMessage::Ping { request_id } => {
            let pong = |request_id| Reply::Pong {
                at: now,
                request_id,
            };
            spend_then(services, &connection, now, "ping", request_id, pong).await
        }
        ClientMessage::Catalog { request_id } => {
            let catalog = |request_id| Reply::Catalog {
                at: now,
                request_id,
                catalog_hash: services.game.catalog_hash.clone(),
                catalog: Box::new(services.game.catalog.clone()),
            };
            spend_then(services, &connection, now, "catalog", request_id, catalog).await
        }
        ClientMessage::Sync {
            request_id,
            after_seq,
        } => {
            sync(
                services,
                &connection,
                request_id,
                after_seq.unwrap_or(0),
                now,
            )
            .await
        }
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
        ClientMessage::Cancel {
            request_id,
            task_id,
        } => cancel_task(services, &connection, request_id, task_id, now).await,
    };
    Answer {
        replies,
        close: false,
    }
}

/// The connection's row: an eventually consistent read first (half the read units), and a
/// consistent one only when that finds nothing, as a row `$connect` has just put may not be in
/// the copy read yet. A row never changes once put, so a copy that has it has it right.
async fn read_connection(
    services: &Services,
    connection_id: &str,
) -> Result<Option<Connection>, crate::ports::StoreError> {
    match services
        .connections
        .get_connection_relaxed(connection_id)
        .await?
    {
        Some(connection) => Ok(Some(connection)),
        None => services.connections.get_connection(connection_id).await,
    }
}

/// Spends a token for a message that changes nothing else, then answers with `reply`; or the
/// error reply when the bucket is empty or the store failed.
async fn spend_then(
    services: &Services,
    connection: &Connection,
    now: Millis,
    action: &str,
    request_id: Option<String>,
    reply: impl FnOnce(Option<String>) -> Reply,
) -> Vec<Outgoing> {
    match spend(services, connection, now).await {
        Ok(_) => vec![Outgoing::Reply(reply(request_id))],
        Err(e) => vec![update_error(
            now,
            &connection.player_id,
            action,
            &e,
            request_id,
        )],
    }
}

/// Spends one token of the player's bucket for a message that changes nothing else; the
/// player's state after it.
async fn spend(
    services: &Services,
    connection: &Connection,
    now: Millis,
) -> Result<PlayerState, UpdateError> {
    let updated = update_or_create_player(services, &connection.player_id, now, |game, state| {
        let plan = spend_token(game, &state.player, &state.queue, now)?;
        let after = state.after(&plan);
        Ok(Decision::Write(Box::new(plan), after))
    })
    .await?;
    Ok(updated.value)
}

async fn enqueue_task(
    services: &Services,
    connection: &Connection,
    request_id: String,
    task: &TaskRequest,
    bypass_validation: bool,
    now: Millis,
) -> Vec<Outgoing> {
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
    let result = update_or_create_player(services, player_id, now, |game, state| {
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
            }
            vec![Outgoing::Reply(Reply::Ack {
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
                    code = rejection.code().as_str(),
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
    request_id: Option<String>,
    task_id: String,
    now: Millis,
) -> Vec<Outgoing> {
    let player_id = connection.player_id.as_str();
    let result = update_or_create_player(services, player_id, now, |game, state| {
        let plan = cancel(game, &state.player, &state.queue, &task_id, now)?;
        Ok(Decision::Write(Box::new(plan), ()))
    })
    .await;
    match result {
        Ok(updated) => {
            tracing::info!(player_id, task_id = %task_id, outcome = "cancelled", "cancel");
            if let Some(plan) = &updated.plan {
                record_plan(&services.metrics, player_id, plan);
            }
            vec![Outgoing::Reply(Reply::Ack {
                at: now,
                request_id,
                task_id,
                duplicate: false,
            })]
        }
        Err(e) => vec![update_error(now, player_id, "cancel", &e, request_id)],
    }
}

/// Most kept notifications one `sync` returns; `more` tells the client to ask again.
pub const SYNC_PAGE: usize = 100;

/// The snapshot, then the kept notifications with `seq > after_seq` in order, at most
/// [`SYNC_PAGE`]. Deletes nothing: another device syncing at the same time gets the same.
async fn sync(
    services: &Services,
    connection: &Connection,
    request_id: Option<String>,
    after_seq: u64,
    now: Millis,
) -> Vec<Outgoing> {
    let player_id = connection.player_id.as_str();
    let state = match spend(services, connection, now).await {
        Ok(state) => state,
        Err(e) => return vec![update_error(now, player_id, "sync", &e, request_id)],
    };
    let current = state.player.next_seq.saturating_sub(1);
    let kept = match services
        .inbox
        .kept_after(player_id, after_seq, now, SYNC_PAGE)
        .await
    {
        Ok(kept) => kept,
        Err(e) => {
            // The snapshot is the truth: without the kept notifications it still is, and
            // `truncated` says so.
            tracing::warn!(player_id, error = %e, "sync: could not read the kept notifications");
            Kept::default()
        }
    };
    let truncated = !contiguous(after_seq, current, &kept);
    let mut replies = vec![Outgoing::Reply(Reply::Snapshot {
        at: now,
        request_id,
        protocol: PROTOCOL_VERSION,
        seq: current,
        catalog_hash: services.game.catalog_hash.clone(),
        player: PlayerView::of(&state.player, services.game.catalog),
        queue: state.queue.iter().map(QueueEntry::from).collect(),
        more: kept.more,
        truncated,
    })];
    let kept_count = kept.notifications.len();
    replies.extend(kept.notifications.into_iter().map(Outgoing::Notification));
    tracing::info!(
        player_id,
        after_seq,
        seq = current,
        kept = kept_count,
        more = kept.more,
        truncated,
        outcome = "synced",
        "sync"
    );
    replies
}

/// True when `kept` is every notification after `after_seq`: no gap before or between them,
/// and, on the last page, none missing up to the player's `current` seq.
fn contiguous(after_seq: u64, current: u64, kept: &Kept) -> bool {
    if after_seq > current {
        return false;
    }
    let mut expected = after_seq + 1;
    for notification in &kept.notifications {
        if notification.seq != expected {
            return false;
        }
        expected += 1;
    }
    kept.more || expected > current
}

fn update_error(
    now: Millis,
    player_id: &str,
    action: &str,
    e: &UpdateError,
    request_id: Option<String>,
) -> Outgoing {
    match e {
        UpdateError::Rejected(rejection) => {
            tracing::info!(
                player_id,
                action,
                code = rejection.code().as_str(),
                outcome = "rejected",
                "refused"
            );
            Outgoing::Reply(Reply::rejection(now, rejection, request_id))
        }
        UpdateError::NoPlayer => no_player(now, request_id),
        UpdateError::Contended(_) | UpdateError::Store(_) => {
            tracing::warn!(player_id, action, error = %e, outcome = "unavailable", "could not write");
            unavailable(now, request_id)
        }
    }
}

fn no_player(now: Millis, request_id: Option<String>) -> Outgoing {
    error(
        now,
        ErrorCode::NotConnected,
        "no player for this connection; reconnect to create one",
        request_id,
    )
}

fn unavailable(now: Millis, request_id: Option<String>) -> Outgoing {
    Outgoing::Reply(Reply::Error {
        at: now,
        code: ErrorCode::Unavailable,
        message: "the server is busy; try again in a moment".to_owned(),
        retry_after_ms: Some(1000),
        request_id,
    })
}

fn error(now: Millis, code: ErrorCode, message: &str, request_id: Option<String>) -> Outgoing {
    Outgoing::Reply(Reply::Error {
        at: now,
        code,
        message: message.to_owned(),
        retry_after_ms: None,
        request_id,
    })
}

//! An in-memory gateway: live connections, the messages posted to them, and their activity.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use idle_core::model::Millis;

use crate::ports::{ConnectionInfo, Notifier, PostError};

#[derive(Debug, Default)]
struct Live {
    info: Option<ConnectionInfo>,
    posts: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    /// Every connection ever opened; `info` is `None` once it closed.
    connections: BTreeMap<String, Live>,
    /// Ids the server closed through [`Notifier::close`], in order.
    closed_by_server: Vec<String>,
    /// Injected post failures: (connection or any, error), first match wins.
    faults: VecDeque<(Option<String>, PostError)>,
}

/// A [`Notifier`] that records what is posted. Unknown and closed connections are
/// [`PostError::Gone`], as API Gateway answers 410.
#[derive(Debug, Default)]
pub struct MemoryNotifier {
    state: Mutex<State>,
}

impl MemoryNotifier {
    pub fn new() -> MemoryNotifier {
        MemoryNotifier::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A client connects.
    pub fn open(&self, connection_id: &str, at: Millis) {
        let mut state = self.lock();
        let live = state
            .connections
            .entry(connection_id.to_owned())
            .or_default();
        live.info = Some(ConnectionInfo {
            connected_at: at,
            last_active_at: at,
        });
    }

    /// The client sent something at `at` (its idle clock restarts).
    pub fn touch(&self, connection_id: &str, at: Millis) {
        if let Some(info) = self
            .lock()
            .connections
            .get_mut(connection_id)
            .and_then(|l| l.info.as_mut())
        {
            info.last_active_at = at;
        }
    }

    /// The client went away (posts to it are now `Gone`).
    pub fn drop_connection(&self, connection_id: &str) {
        if let Some(live) = self.lock().connections.get_mut(connection_id) {
            live.info = None;
        }
    }

    /// Everything posted to a connection, in order.
    pub fn posts(&self, connection_id: &str) -> Vec<String> {
        self.lock()
            .connections
            .get(connection_id)
            .map(|l| l.posts.clone())
            .unwrap_or_default()
    }

    /// Everything posted to a connection since the last call, in order.
    pub fn take_posts(&self, connection_id: &str) -> Vec<String> {
        self.lock()
            .connections
            .get_mut(connection_id)
            .map(|l| std::mem::take(&mut l.posts))
            .unwrap_or_default()
    }

    /// Connections the server closed, in order.
    pub fn closed_by_server(&self) -> Vec<String> {
        self.lock().closed_by_server.clone()
    }

    /// The next post (to `connection_id`, or to any connection if `None`) fails with `error`.
    pub fn fail_next_post(&self, connection_id: Option<&str>, error: PostError) {
        self.lock()
            .faults
            .push_back((connection_id.map(str::to_owned), error));
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    async fn post(&self, connection_id: &str, payload: &[u8]) -> Result<(), PostError> {
        if payload.len() > crate::ports::limits::POST_BYTES {
            // API Gateway refuses it (PayloadTooLargeException, 413): a post that tests must catch.
            return Err(PostError::Permanent(format!(
                "the payload is {} bytes; @connections takes at most {}",
                payload.len(),
                crate::ports::limits::POST_BYTES
            )));
        }
        let mut state = self.lock();
        if let Some(i) = state
            .faults
            .iter()
            .position(|(c, _)| c.as_deref().is_none_or(|c| c == connection_id))
        {
            if let Some((_, error)) = state.faults.remove(i) {
                return Err(error);
            }
        }
        match state.connections.get_mut(connection_id) {
            Some(live) if live.info.is_some() => {
                live.posts
                    .push(String::from_utf8_lossy(payload).into_owned());
                Ok(())
            }
            _ => Err(PostError::Gone),
        }
    }

    async fn connection_info(&self, connection_id: &str) -> Result<ConnectionInfo, PostError> {
        self.lock()
            .connections
            .get(connection_id)
            .and_then(|l| l.info.clone())
            .ok_or(PostError::Gone)
    }

    async fn close(&self, connection_id: &str) -> Result<(), PostError> {
        let mut state = self.lock();
        if let Some(live) = state.connections.get_mut(connection_id) {
            if live.info.take().is_some() {
                state.closed_by_server.push(connection_id.to_owned());
            }
        }
        Ok(())
    }
}

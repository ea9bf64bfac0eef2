//! Injected store failures and call counts, for tests: [`FaultyStore`] wraps a store (the
//! in-memory one in [`super::MemoryWorld`]) and fails the calls its [`Fault`] rules name, before
//! or after the wrapped store writes, as the soak's chaos store and the cost tool's counting
//! store wrap theirs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use idle_core::model::{Millis, Task};
use idle_core::protocol::Notification;

use crate::outbox::Commit;
use crate::ports::{Connection, ConnectionStore, GameStore, Inbox, Kept, Loaded, Page, StoreError};
use crate::state::PlayerState;

/// A store operation, as fault rules and call counters name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreOp {
    LoadPlayers,
    CreatePlayer,
    Commit,
    PutHistory,
    LoadTask,
    DuePlayers,
    PutConnection,
    GetConnection,
    DeleteConnection,
    PlayerConnections,
    ScanConnections,
    StoreInbox,
    KeptAfter,
}

impl StoreOp {
    /// Operations that change the store (where a fault may strike after the write).
    fn is_write(self) -> bool {
        matches!(
            self,
            StoreOp::CreatePlayer
                | StoreOp::Commit
                | StoreOp::PutHistory
                | StoreOp::PutConnection
                | StoreOp::DeleteConnection
                | StoreOp::StoreInbox
        )
    }
}

/// One failure rule: matching calls fail with `error` until `times` runs out.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub op: StoreOp,
    /// Only calls about this player (a commit of its plan, a load that includes it, its
    /// connections or inbox); `None` matches every call.
    pub player_id: Option<String>,
    /// Matching calls still to fail; `None` fails every one until the rules are cleared.
    pub times: Option<u32>,
    pub error: StoreError,
    /// The write takes effect and then the error is reported, as when a request times out after
    /// the store applied it. Ignored for reads.
    pub after_write: bool,
}

impl Fault {
    /// The next matching call fails.
    pub fn once(op: StoreOp, error: StoreError) -> Fault {
        Fault::times(op, 1, error)
    }

    /// The next `n` matching calls fail.
    pub fn times(op: StoreOp, n: u32, error: StoreError) -> Fault {
        Fault {
            op,
            player_id: None,
            times: Some(n),
            error,
            after_write: false,
        }
    }

    /// Every matching call fails until the rules are cleared.
    pub fn always(op: StoreOp, error: StoreError) -> Fault {
        Fault {
            times: None,
            ..Fault::once(op, error)
        }
    }

    /// Only calls about this player.
    pub fn for_player(mut self, player_id: impl Into<String>) -> Fault {
        self.player_id = Some(player_id.into());
        self
    }

    /// The write happens, then the error is reported.
    pub fn after_write(mut self) -> Fault {
        self.after_write = true;
        self
    }
}

/// What a call should do about faults.
#[derive(Debug, Clone, PartialEq)]
struct Strike {
    error: StoreError,
    after_write: bool,
}

#[derive(Debug, Default)]
struct Faults {
    rules: Vec<Fault>,
    calls: HashMap<StoreOp, u64>,
    /// Commits the wrapped store accepted (written, whatever was reported after).
    commits: u64,
}

impl Faults {
    /// Counts a call of `op` about `players` and returns its fault, if a rule matches;
    /// consumes one use of the rule.
    fn strike(&mut self, op: StoreOp, players: &[&str]) -> Option<Strike> {
        *self.calls.entry(op).or_insert(0) += 1;
        let i = self.rules.iter().position(|f| {
            f.op == op && f.player_id.as_deref().is_none_or(|p| players.contains(&p))
        })?;
        let rule = &mut self.rules[i];
        let strike = Strike {
            error: rule.error.clone(),
            after_write: rule.after_write && op.is_write(),
        };
        if let Some(n) = rule.times.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.rules.remove(i);
            }
        }
        Some(strike)
    }
}

/// A store that fails the calls its [`Fault`] rules name and counts every call, around the
/// store `S` (share it through an `Arc`). A fault before the write returns its error without
/// calling `S`; a fault after the write calls `S` and then reports its error, unless `S`
/// failed on its own (its error wins, as nothing was written).
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: Arc<S>,
    faults: Mutex<Faults>,
}

impl<S> FaultyStore<S> {
    /// `inner` with no fault rules and no calls counted.
    pub fn new(inner: Arc<S>) -> FaultyStore<S> {
        FaultyStore {
            inner,
            faults: Mutex::new(Faults::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Faults> {
        // Every change under the lock is one push, removal or count: a poisoned lock is usable.
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next call of `op` fails with `error` (nothing written).
    pub fn fail_next(&self, op: StoreOp, error: StoreError) {
        self.inject(Fault::once(op, error));
    }

    /// Adds a fault rule; rules are tried in the order added.
    pub fn inject(&self, fault: Fault) {
        self.lock().rules.push(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.lock().rules.clear();
    }

    /// How many times `op` was called (failed calls included).
    pub fn calls(&self, op: StoreOp) -> u64 {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    /// Commits that wrote something.
    pub fn commits(&self) -> u64 {
        self.lock().commits
    }

    /// Counts the call; `Err` for a fault before the write, `Ok(Some)` for one after it.
    fn check(&self, op: StoreOp, players: &[&str]) -> Result<Option<StoreError>, StoreError> {
        match self.lock().strike(op, players) {
            Some(strike) if !strike.after_write => Err(strike.error),
            Some(strike) => Ok(Some(strike.error)),
            None => Ok(None),
        }
    }

    /// A write of `op` about `players` through `write`, with its fault.
    async fn write<T>(
        &self,
        op: StoreOp,
        players: &[&str],
        write: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let late = self.check(op, players)?;
        let written = write.await?;
        late.map_or(Ok(written), Err)
    }
}

#[async_trait]
impl<S: GameStore + 'static> GameStore for FaultyStore<S> {
    async fn load_players(&self, player_ids: &[String]) -> Result<Loaded, StoreError> {
        let ids: Vec<&str> = player_ids.iter().map(String::as_str).collect();
        self.check(StoreOp::LoadPlayers, &ids)?;
        self.inner.load_players(player_ids).await
    }

    async fn create_player(&self, state: &PlayerState) -> Result<bool, StoreError> {
        let id = state.player.player_id.as_str();
        let create = self.inner.create_player(state);
        self.write(StoreOp::CreatePlayer, &[id], create).await
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let late = self.check(StoreOp::Commit, &[commit.player_id()])?;
        self.inner.commit(commit).await?;
        self.lock().commits += 1;
        late.map_or(Ok(()), Err)
    }

    async fn put_history(&self, tasks: &[Task]) -> Result<(), StoreError> {
        let ids: Vec<&str> = tasks.iter().map(|t| t.player_id.as_str()).collect();
        let put = self.inner.put_history(tasks);
        self.write(StoreOp::PutHistory, &ids, put).await
    }

    async fn put_audit(&self, records: &[idle_core::model::AuditRecord]) -> Result<(), StoreError> {
        let ids: Vec<&str> = records.iter().map(|r| r.player_id.as_str()).collect();
        let put = self.inner.put_audit(records);
        self.write(StoreOp::PutHistory, &ids, put).await
    }

    async fn load_task(&self, player_id: &str, task_id: &str) -> Result<Option<Task>, StoreError> {
        self.check(StoreOp::LoadTask, &[player_id])?;
        self.inner.load_task(player_id, task_id).await
    }

    async fn due_players(
        &self,
        shard: u32,
        now: Millis,
        cursor: Option<String>,
    ) -> Result<Page<String>, StoreError> {
        self.check(StoreOp::DuePlayers, &[])?;
        self.inner.due_players(shard, now, cursor).await
    }
}

#[async_trait]
impl<S: ConnectionStore + 'static> ConnectionStore for FaultyStore<S> {
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let put = self.inner.put_connection(connection);
        let players = [connection.player_id.as_str()];
        self.write(StoreOp::PutConnection, &players, put).await
    }

    async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        self.check(StoreOp::GetConnection, &[])?;
        self.inner.get_connection(connection_id).await
    }

    async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        let delete = self.inner.delete_connection(connection_id);
        self.write(StoreOp::DeleteConnection, &[], delete).await
    }

    async fn delete_connection_if(&self, connection: &Connection) -> Result<bool, StoreError> {
        let delete = self.inner.delete_connection_if(connection);
        self.write(StoreOp::DeleteConnection, &[], delete).await
    }

    async fn unlist_connection(
        &self,
        player_id: &str,
        connection_id: &str,
    ) -> Result<(), StoreError> {
        let unlist = self.inner.unlist_connection(player_id, connection_id);
        self.write(StoreOp::DeleteConnection, &[player_id], unlist)
            .await
    }

    async fn player_connections(&self, player_id: &str) -> Result<Vec<Connection>, StoreError> {
        self.check(StoreOp::PlayerConnections, &[player_id])?;
        self.inner.player_connections(player_id).await
    }

    async fn scan_connections(
        &self,
        cursor: Option<String>,
    ) -> Result<Page<Connection>, StoreError> {
        self.check(StoreOp::ScanConnections, &[])?;
        self.inner.scan_connections(cursor).await
    }
}

#[async_trait]
impl<S: Inbox + 'static> Inbox for FaultyStore<S> {
    async fn store(
        &self,
        player_id: &str,
        notifications: &[Notification],
        expires_at: idle_core::model::EpochSecs,
    ) -> Result<(), StoreError> {
        let store = self.inner.store(player_id, notifications, expires_at);
        self.write(StoreOp::StoreInbox, &[player_id], store).await
    }

    async fn kept_after(
        &self,
        player_id: &str,
        after_seq: u64,
        now: Millis,
        limit: usize,
    ) -> Result<Kept, StoreError> {
        self.check(StoreOp::KeptAfter, &[player_id])?;
        self.inner
            .kept_after(player_id, after_seq, now, limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> StoreError {
        StoreError::Transient("x".into())
    }

    #[test]
    fn a_counted_rule_fails_that_many_matching_calls() {
        let mut faults = Faults::default();
        faults
            .rules
            .push(Fault::times(StoreOp::Commit, 2, transient()).for_player("a"));
        assert!(faults.strike(StoreOp::Commit, &["b"]).is_none());
        assert!(faults.strike(StoreOp::LoadPlayers, &["a"]).is_none());
        assert!(faults.strike(StoreOp::Commit, &["a"]).is_some());
        assert!(faults.strike(StoreOp::Commit, &["a"]).is_some());
        assert!(faults.strike(StoreOp::Commit, &["a"]).is_none());
    }
}

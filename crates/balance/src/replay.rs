//! Replay: recompute a stored task's outcome and compare it with what was granted.
//!
//! The outcome of a task is a pure function of its input snapshot, its seed
//! (`Seed::for_task(secret, player id, task id)`) and the catalog of its rules version. A
//! stored task carries the snapshot, the rules version and the outcome granted; [`replay`]
//! recomputes the outcome of the same number of actions (a cancelled task settles a prefix) and
//! lists every field that differs. It reads nothing itself, so a caller that loads tasks from
//! DynamoDB (or a file, or stdin) can use it as it is.
//!
//! The catalog to replay with is the one the task recorded the hash of: [`stored_catalog`]
//! finds it in a deployment's catalog store (DynamoDB's Catalogs table, the local runtime's
//! `catalogs` table), so a task replays without anyone keeping the file it ran under.

use serde::Serialize;
use serde_json::Value;

use idle_app::ports::{CatalogStore, StoreError};
use idle_core::catalog::Catalog;
use idle_core::model::{Task, TaskStatus};
use idle_core::rng::Seed;
use idle_core::rules::{self, Outcome, RulesError};

/// Why a task could not be replayed (as opposed to replayed and found different).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplayError {
    /// The task's rules version is not the catalog's.
    #[error(
        "task {task_id} was computed with rules version {task}, but the catalog is version \
         {catalog}; load the catalog of version {task} with --catalog"
    )]
    RulesVersion {
        /// The task.
        task_id: String,
        /// Its rules version.
        task: u32,
        /// The catalog's version.
        catalog: u32,
    },
    /// The task's outcome was computed with another catalog: same label, other content.
    #[error(
        "task {task_id} was computed with the catalog whose content hash is {task}, but the \
         catalog given hashes to {catalog}; load that catalog with --catalog"
    )]
    CatalogHash {
        /// The task.
        task_id: String,
        /// The content hash the task recorded.
        task: String,
        /// The given catalog's content hash.
        catalog: String,
    },
    /// The task has no snapshot: it never started.
    #[error("task {task_id} is {status} and never started, so it has no snapshot to replay")]
    NotStarted {
        /// The task.
        task_id: String,
        /// Its status.
        status: String,
    },
    /// The task has no stored outcome.
    #[error("task {task_id} is {status} and has no stored outcome to compare with")]
    NoResult {
        /// The task.
        task_id: String,
        /// Its status.
        status: String,
    },
    /// The rules could not compute the outcome (a target the catalog lacks).
    #[error("task {task_id} cannot be recomputed: {source}")]
    Rules {
        /// The task.
        task_id: String,
        /// What the rules said.
        #[source]
        source: RulesError,
    },
}

/// Why the catalog a task recorded could not be taken from the catalog store.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoredCatalogError {
    /// The store could not be read.
    #[error("reading catalog {hash} from the catalog store failed: {source}")]
    Store {
        /// The hash asked for.
        hash: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The store has no catalog under the hash (a task from before the store existed, or
    /// another deployment's): give the file with `--catalog`.
    #[error("the catalog store has no catalog {hash}; give its file with --catalog")]
    Missing {
        /// The hash asked for.
        hash: String,
    },
    /// What is stored under the hash is not a valid catalog, or hashes to something else.
    #[error("the catalog stored under {hash} is not usable: {problem}")]
    Corrupt {
        /// The hash asked for.
        hash: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The catalog stored under `hash`, parsed, checked and confirmed to hash to `hash`.
///
/// # Errors
/// [`StoredCatalogError`]: the store failed, has none, or holds an unusable one.
pub async fn stored_catalog(
    store: &dyn CatalogStore,
    hash: &str,
) -> Result<Catalog, StoredCatalogError> {
    let json = store
        .load_catalog(hash)
        .await
        .map_err(|source| StoredCatalogError::Store {
            hash: hash.to_owned(),
            source,
        })?
        .ok_or_else(|| StoredCatalogError::Missing {
            hash: hash.to_owned(),
        })?;
    let corrupt = |problem: String| StoredCatalogError::Corrupt {
        hash: hash.to_owned(),
        problem,
    };
    let catalog = Catalog::from_json(&json).map_err(|e| corrupt(e.to_string()))?;
    let actual = catalog.content_hash();
    if actual != hash {
        return Err(corrupt(format!("its content hashes to {actual}")));
    }
    Ok(catalog)
}

/// One field whose stored and recomputed values differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// A dotted path into the outcome, e.g. `items.copper_ore` or `xp`.
    pub field: String,
    /// The stored value (`null` when absent).
    pub stored: Value,
    /// The recomputed value (`null` when absent).
    pub recomputed: Value,
}

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    /// The task's player.
    pub player_id: String,
    /// The task.
    pub task_id: String,
    /// The task's status.
    pub status: TaskStatus,
    /// The rules version replayed with.
    pub rules_version: u32,
    /// Actions recomputed (the stored outcome's `actions`).
    pub actions: u32,
    /// The outcome stored on the task.
    pub stored: Outcome,
    /// The outcome recomputed now.
    pub recomputed: Outcome,
    /// Every field that differs; empty when the task replays exactly.
    pub differences: Vec<Difference>,
}

impl ReplayReport {
    /// True when the recomputed outcome equals the stored one exactly.
    pub fn matches(&self) -> bool {
        self.differences.is_empty() && self.stored == self.recomputed
    }
}

/// Recomputes a stored task's outcome with the seed secret and the catalog it was computed
/// with, and compares it field by field with the stored outcome.
///
/// The catalog must be the task's: the same `version` label and, when the task recorded one
/// (tasks from before hashes were recorded did not), the same content hash.
pub fn replay(task: &Task, secret: &[u8], catalog: &Catalog) -> Result<ReplayReport, ReplayError> {
    let status = || task.status.as_str().to_owned();
    if task.rules_version != catalog.version {
        return Err(ReplayError::RulesVersion {
            task_id: task.task_id.clone(),
            task: task.rules_version,
            catalog: catalog.version,
        });
    }
    if let Some(hash) = &task.catalog_hash {
        let given = catalog.content_hash();
        if *hash != given {
            return Err(ReplayError::CatalogHash {
                task_id: task.task_id.clone(),
                task: hash.clone(),
                catalog: given,
            });
        }
    }
    let snapshot = task
        .snapshot
        .as_ref()
        .ok_or_else(|| ReplayError::NotStarted {
            task_id: task.task_id.clone(),
            status: status(),
        })?;
    let stored = task
        .result
        .as_ref()
        .map(|r| &r.outcome)
        .ok_or_else(|| ReplayError::NoResult {
            task_id: task.task_id.clone(),
            status: status(),
        })?;
    // A chunk of a continuous task rolls its task's seed from its own first action.
    let seed = Seed::for_task(secret, &task.player_id, task.seed_task_id());
    let recomputed = rules::outcome_from(
        &task.request,
        snapshot,
        &seed,
        catalog,
        task.first_action(),
        stored.actions,
    )
    .map_err(|source| ReplayError::Rules {
        task_id: task.task_id.clone(),
        source,
    })?;
    let mut differences = Vec::new();
    // Compare as JSON so every field, present or future, is covered.
    let (a, b) = (
        serde_json::to_value(stored).unwrap_or(Value::Null),
        serde_json::to_value(&recomputed).unwrap_or(Value::Null),
    );
    diff("", &a, &b, &mut differences);
    Ok(ReplayReport {
        player_id: task.player_id.clone(),
        task_id: task.task_id.clone(),
        status: task.status,
        rules_version: task.rules_version,
        actions: stored.actions,
        stored: stored.clone(),
        recomputed,
        differences,
    })
}

/// Collects the leaves where two JSON values differ, with their dotted paths.
fn diff(path: &str, stored: &Value, recomputed: &Value, out: &mut Vec<Difference>) {
    match (stored, recomputed) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff(
                    &field,
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                diff(
                    &format!("{path}[{i}]"),
                    a.get(i).unwrap_or(&Value::Null),
                    b.get(i).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push(Difference {
            field: path.to_owned(),
            stored: a.clone(),
            recomputed: b.clone(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_each_leaf_that_changed() {
        let stored = json!({"xp": 10, "items": {"coal": 3, "ruby": 1}, "stations": ["anvil"]});
        let recomputed = json!({"xp": 10, "items": {"coal": 4}, "stations": []});
        let mut out = Vec::new();
        diff("", &stored, &recomputed, &mut out);
        let fields: Vec<&str> = out.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["items.coal", "items.ruby", "stations[0]"]);
        assert_eq!(out[1].recomputed, Value::Null);
    }
}

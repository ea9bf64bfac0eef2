//! The catalogs a process computes with: the current one, and earlier ones loaded by content
//! hash from the [`CatalogStore`] when a task recorded one the process does not hold.
//!
//! A task records the hash of the catalog it started under and completes under that catalog
//! (docs/catalog.md, "Versions and changes under a live game"). A process holds only the
//! catalog it started with, so when a player's queue names another hash (the task started
//! before a deploy), [`Catalogs::needed`] loads it from the store once, checks it (it must parse
//! and check as a catalog, and hash to its key) and keeps it for the rest of the process: one
//! consistent read per process per unknown hash. A hash the store does not have (a task from
//! before the store existed) or holds corrupt is remembered as missing, logged once, and the
//! task completes under the current catalog as before, recording that catalog's hash.
//!
//! # Why `Arc`, not leaked references
//!
//! [`Game`] borrows its catalogs for a lifetime `'c`, and the services' game is
//! `Game<'static>`. Loaded catalogs are kept as `Arc<Catalog>` in the cache and a use case
//! holds the ones its player needs ([`Held`]) while it computes: [`Held::game`] lends them to a
//! copy of the services' game for that short borrow (`Game` is covariant in `'c`). Nothing is
//! leaked, so tests that build many services do not grow the process, and a copy of the game is
//! made only for a player whose queue names an earlier catalog (rare: the minutes around a
//! deploy that changes the catalog).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use idle_core::catalog::{Catalog, CatalogHash};
use idle_core::model::Task;
use idle_core::Game;

use crate::ports::{CatalogStore, StoreError};

/// What the process knows of a hash: the checked catalog, or `None` when the store has none
/// (or only a corrupt one) and the current catalog stands in.
type Known = Option<Arc<Catalog>>;

/// The catalog store and what this process has loaded from it. Built once per process.
pub struct Catalogs {
    store: Arc<dyn CatalogStore>,
    known: RwLock<HashMap<CatalogHash, Known>>,
    /// Set once this process's catalog is known to be stored ([`Catalogs::register`]).
    registered: tokio::sync::OnceCell<()>,
}

impl std::fmt::Debug for Catalogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("Catalogs")
            .field("known", &known.len())
            .finish_non_exhaustive()
    }
}

/// The earlier catalogs one player's tasks need, held while a use case computes with them.
#[derive(Debug, Default, Clone)]
pub struct Held(Vec<(CatalogHash, Arc<Catalog>)>);

impl Held {
    /// `game` with these catalogs kept ([`Game::earlier`]): `game` itself when none are needed,
    /// else a copy (the catalogs are borrowed, not cloned).
    pub fn game<'a>(&'a self, game: &'a Game<'static>) -> Cow<'a, Game<'a>> {
        if self.0.is_empty() {
            return Cow::Borrowed(game);
        }
        let mut game: Game<'a> = game.clone();
        for (hash, catalog) in &self.0 {
            game.earlier.insert(hash.clone(), catalog.as_ref());
        }
        Cow::Owned(game)
    }

    /// The hashes held.
    pub fn hashes(&self) -> Vec<&str> {
        self.0.iter().map(|(hash, _)| hash.as_str()).collect()
    }
}

impl Catalogs {
    /// Nothing loaded yet, over `store`.
    pub fn new(store: Arc<dyn CatalogStore>) -> Catalogs {
        Catalogs {
            store,
            known: RwLock::new(HashMap::new()),
            registered: tokio::sync::OnceCell::new(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CatalogStore> {
        &self.store
    }

    /// Stores `catalog` under `hash` (its content hash) unless it is stored already, once per
    /// process: the first call that succeeds puts it if absent, and every later call returns at
    /// once (callers at the same time share the one put). What a process does with the catalog
    /// it serves before it writes anything under it, so that tasks it starts can complete and
    /// replay under it after the next deploy. Logs the outcome of the put; returns true when
    /// this call stored it.
    ///
    /// # Errors
    /// The store's: a transient failure, or a permanent one (a missing table or permission, a
    /// catalog over [`CATALOG_BYTES`](crate::ports::CATALOG_BYTES)). Nothing is remembered
    /// then: the next call tries again.
    pub(crate) async fn register(&self, catalog: &Catalog, hash: &str) -> Result<bool, StoreError> {
        let mut stored = false;
        self.registered
            .get_or_try_init(|| async {
                let json = serde_json::to_string(catalog).map_err(|e| {
                    StoreError::Permanent(format!("catalog {hash} does not serialise: {e}"))
                })?;
                stored = self.store.put_catalog_if_absent(hash, &json).await?;
                tracing::info!(
                    catalog_hash = hash,
                    catalog_version = catalog.version,
                    stored,
                    "catalog registered in the catalog store"
                );
                Ok::<(), StoreError>(())
            })
            .await?;
        Ok(stored)
    }

    /// The catalogs the `tasks` need that `game` does not hold: for each distinct
    /// [`Task::catalog_hash`] that is neither the current catalog's nor kept in
    /// [`Game::earlier`], the catalog from the cache or, the first time, from the store. A hash
    /// the store lacks is left out (the task completes under the current catalog).
    ///
    /// # Errors
    /// A store failure reading a catalog not yet known: the caller fails (and retries) as for
    /// a failed read of the player, rather than compute an outcome under the wrong catalog.
    pub async fn needed(&self, game: &Game<'_>, tasks: &[Task]) -> Result<Held, StoreError> {
        let mut held = Held::default();
        for task in tasks {
            let Some(hash) = task.catalog_hash.as_deref() else {
                continue;
            };
            if hash == game.catalog_hash
                || game.earlier.contains_key(hash)
                || held.0.iter().any(|(h, _)| h == hash)
            {
                continue;
            }
            if let Some(catalog) = self.get(hash).await? {
                held.0.push((hash.to_owned(), catalog));
            }
        }
        Ok(held)
    }

    /// The catalog stored under `hash`, checked, from the cache or (once per process) the store;
    /// `None` when the store has none or only one that does not check (logged once).
    ///
    /// # Errors
    /// A store failure; nothing is remembered then, so the next call asks again.
    pub async fn get(&self, hash: &str) -> Result<Option<Arc<Catalog>>, StoreError> {
        if let Some(known) = self.cached(hash) {
            return Ok(known);
        }
        let loaded = match self.store.load_catalog(hash).await? {
            None => {
                tracing::warn!(
                    catalog_hash = hash,
                    "a task recorded a catalog the catalog store does not have; it completes \
                     under the current catalog, which its record names"
                );
                None
            }
            Some(json) => match Catalog::from_json(&json) {
                Ok(catalog) if catalog.content_hash() == hash => {
                    tracing::info!(
                        catalog_hash = hash,
                        catalog_version = catalog.version,
                        "loaded an earlier catalog from the catalog store"
                    );
                    Some(Arc::new(catalog))
                }
                Ok(catalog) => {
                    tracing::error!(
                        catalog_hash = hash,
                        content_hash = %catalog.content_hash(),
                        "the catalog stored under this hash has other content; it is not used"
                    );
                    None
                }
                Err(error) => {
                    tracing::error!(
                        catalog_hash = hash,
                        %error,
                        "the catalog stored under this hash is not a valid catalog; it is not used"
                    );
                    None
                }
            },
        };
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        Ok(known.entry(hash.to_owned()).or_insert(loaded).clone())
    }

    fn cached(&self, hash: &str) -> Option<Known> {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        known.get(hash).cloned()
    }
}

//! [`CatalogStore`] in memory: a map from content hash to catalog JSON.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{catalog_too_large, CatalogStore, StoreError, CATALOG_BYTES};

/// The in-memory catalog store, with the DynamoDB adapter's semantics (put if absent, the same
/// size limit). Shared by every [`Services`](crate::Services) built from one
/// [`MemoryWorld`](super::MemoryWorld), as one Catalogs table is by every function.
#[derive(Debug, Default)]
pub struct MemoryCatalogs {
    catalogs: Mutex<HashMap<String, String>>,
}

impl MemoryCatalogs {
    /// An empty store.
    pub fn new() -> MemoryCatalogs {
        MemoryCatalogs::default()
    }

    /// Stores `json` under `hash` unless one is stored: [`CatalogStore::put_catalog_if_absent`]
    /// without `.await`, for callers that build services synchronously.
    pub(crate) fn put_now(&self, hash: &str, json: &str) -> Result<bool, StoreError> {
        if json.len() > CATALOG_BYTES {
            return Err(catalog_too_large(hash, json.len()));
        }
        let mut catalogs = self.catalogs.lock().unwrap_or_else(|e| e.into_inner());
        if catalogs.contains_key(hash) {
            return Ok(false);
        }
        catalogs.insert(hash.to_owned(), json.to_owned());
        Ok(true)
    }

    /// The hashes stored, in no order.
    pub fn hashes(&self) -> Vec<String> {
        let catalogs = self.catalogs.lock().unwrap_or_else(|e| e.into_inner());
        catalogs.keys().cloned().collect()
    }
}

#[async_trait]
impl CatalogStore for MemoryCatalogs {
    async fn put_catalog_if_absent(&self, hash: &str, json: &str) -> Result<bool, StoreError> {
        self.put_now(hash, json)
    }

    async fn load_catalog(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let catalogs = self.catalogs.lock().unwrap_or_else(|e| e.into_inner());
        Ok(catalogs.get(hash).cloned())
    }
}

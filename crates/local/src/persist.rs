//! The data directory: the store's durable state in one JSON file, written atomically (a temp
//! file, synced, then renamed over the old one) so a crash leaves the old or the new state,
//! never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use idle_app::memory::StoreSnapshot;
use serde::{Deserialize, Serialize};

use crate::error::LocalError;

/// The data file's name inside the data directory.
pub const DATA_FILE: &str = "store.json";
/// The data file's format; a file of another format is refused, not guessed at.
pub const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct DataFile {
    format: u32,
    store: StoreSnapshot,
}

/// A data directory, created if missing.
#[derive(Debug, Clone)]
pub struct DataDir {
    dir: PathBuf,
}

impl DataDir {
    /// Opens (creating it if needed) the data directory at `dir`.
    pub fn open(dir: &Path) -> Result<DataDir, LocalError> {
        std::fs::create_dir_all(dir).map_err(|source| LocalError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
        Ok(DataDir {
            dir: dir.to_owned(),
        })
    }

    /// The data file's path.
    pub fn file(&self) -> PathBuf {
        self.dir.join(DATA_FILE)
    }

    /// The stored state, or `None` when there is no data file yet. A file that cannot be read
    /// back is an error naming it (it is never overwritten).
    pub fn load(&self) -> Result<Option<StoreSnapshot>, LocalError> {
        let path = self.file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(LocalError::DataFile {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let file: DataFile = serde_json::from_str(&text).map_err(|e| LocalError::DataFile {
            path: path.clone(),
            reason: format!("not a store file: {e}"),
        })?;
        if file.format != FORMAT {
            return Err(LocalError::DataFile {
                path,
                reason: format!("format {} is not {FORMAT}", file.format),
            });
        }
        Ok(Some(file.store))
    }

    /// The file contents for `snapshot` (compare them to skip unchanged writes).
    pub fn render(snapshot: StoreSnapshot) -> Result<String, serde_json::Error> {
        serde_json::to_string(&DataFile {
            format: FORMAT,
            store: snapshot,
        })
    }

    /// Writes `contents` (from [`render`](Self::render)) atomically.
    pub fn save(&self, contents: &str) -> Result<(), LocalError> {
        let path = self.file();
        let temp = self.dir.join(format!("{DATA_FILE}.tmp"));
        let io = |source| LocalError::DataDir {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::File::create(&temp).map_err(io)?;
        file.write_all(contents.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&temp, &path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("idle-local-persist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_saved_snapshot_loads_back_and_a_missing_file_is_none() {
        let dir = temp_dir("roundtrip");
        let data = DataDir::open(&dir).unwrap();
        assert!(data.load().unwrap().is_none());
        data.save(&DataDir::render(StoreSnapshot::default()).unwrap())
            .unwrap();
        assert_eq!(data.load().unwrap(), Some(StoreSnapshot::default()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_file_is_an_error_that_names_it_and_is_left_alone() {
        let dir = temp_dir("bad");
        let data = DataDir::open(&dir).unwrap();
        std::fs::write(data.file(), "{not json").unwrap();
        let err = data.load().unwrap_err();
        assert!(err.to_string().contains("store.json"), "{err}");
        assert_eq!(std::fs::read_to_string(data.file()).unwrap(), "{not json");
        std::fs::write(
            data.file(),
            r#"{"format":9,"store":{"players":[],"history":[],"inbox":[]}}"#,
        )
        .unwrap();
        assert!(data.load().unwrap_err().to_string().contains("format 9"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

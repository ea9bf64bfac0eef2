//! The data directory's writer lock: one `idle-local` writes a data directory at a time.
//!
//! The lock is an OS advisory lock (`flock` on Unix, `LockFileEx` on Windows) on a file of its
//! own, [`LOCK_FILE`], held for as long as the process runs. The OS releases it when the
//! process ends however it ends, so a killed process leaves no stale lock to clean up; the file
//! itself stays (removing it would let a third process lock a new file while a second still
//! holds the old one). The lock is on that file alone: readers of the data files (an admin
//! tool, a backup) are never blocked, whatever the data files' format.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::LocalError;

/// The lock file's name inside the data directory. It holds the holder's pid, for the message
/// a second process prints.
pub const LOCK_FILE: &str = "idle-local.lock";

/// The held writer lock of a data directory; dropping it releases the lock.
#[derive(Debug)]
pub struct DirLock {
    // Held only for its lock: closing the file releases it.
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the writer lock of `dir` (creating the directory if needed) without waiting:
    /// [`LocalError::Locked`] when another process (or another runtime in this one) holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, LocalError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LocalError::DataDir {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        // Not truncated on open: until the lock is ours, the pid in it is the holder's.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|text| text.trim().parse().ok());
                return Err(LocalError::Locked { path, holder });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(DirLock { _file: file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("idle-local-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_held_lock_refuses_a_second_holder_naming_the_file_and_pid_until_released() {
        // Given a data directory whose lock is held
        let dir = temp_dir("held");
        let first = DirLock::acquire(&dir).unwrap();
        assert_eq!(first.path(), dir.join(LOCK_FILE));

        // When a second runtime asks for it, then it is refused with the file and the holder
        let err = DirLock::acquire(&dir).unwrap_err();
        assert!(
            matches!(&err, LocalError::Locked { path, holder: Some(pid) }
                if *path == dir.join(LOCK_FILE) && *pid == std::process::id()),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("idle-local.lock"), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );

        // and the data files stay readable meanwhile
        std::fs::write(dir.join("store.json"), "{}").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("store.json")).unwrap(),
            "{}"
        );

        // When the holder lets go, then the next one gets it (the file left behind is no lock)
        drop(first);
        let again = DirLock::acquire(&dir).unwrap();
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

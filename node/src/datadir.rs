//! The data directory: its layout, the exclusive lock that keeps a second
//! node out, the persistent p2p and miner keys, and the RPC cookie.
//!
//! ```text
//! <datadir>/
//!   .lock        held (flock) while a node runs
//!   chain.redb   the chain store
//!   node_key     p2p identity seed, hex, mode 0600
//!   miner_key    default coinbase key seed, hex, mode 0600
//!   .cookie      `__cookie__:<64 hex>`, mode 0600, rewritten at each start
//!   mempool.dat  the mempool, written at shutdown, loaded at start (`mempool_file`)
//!   rumord.toml  optional config file
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rumor_chain::KeyPair;

/// The user name in the cookie file.
pub const COOKIE_USER: &str = "__cookie__";

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataDirError {
    /// Another process holds the lock.
    #[error("data directory {0} is in use by another running rumord")]
    Locked(PathBuf),
    /// A file holds something other than what it should.
    #[error("{path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An open, locked data directory. The lock is released when it is dropped.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory if needed (mode 0700) and takes its lock.
    ///
    /// # Errors
    /// [`DataDirError::Locked`] if another node runs on it; I/O failures.
    pub fn open(path: &Path) -> Result<Self, DataDirError> {
        if !path.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(io(path))?;
        }
        if !path.is_dir() {
            return Err(DataDirError::Corrupt {
                path: path.to_owned(),
                reason: "not a directory".into(),
            });
        }
        let lock_path = path.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(DataDirError::Locked(path.to_owned()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The chain database file.
    pub fn chain_db(&self) -> PathBuf {
        self.path.join("chain.redb")
    }

    /// The mempool file.
    pub fn mempool_file(&self) -> PathBuf {
        self.path.join(crate::mempool_file::MEMPOOL_FILE)
    }

    /// The ban list file.
    pub fn ban_file(&self) -> PathBuf {
        self.path.join(crate::ban_file::BAN_FILE)
    }

    /// The cookie file.
    pub fn cookie_path(&self) -> PathBuf {
        self.path.join(".cookie")
    }

    /// The p2p identity seed: `given`, or the one in `node_key` (created on
    /// first use), so the PeerId is stable across restarts.
    ///
    /// # Errors
    /// A corrupt key file or an I/O failure.
    pub fn node_key(&self, given: Option<[u8; 32]>) -> Result<[u8; 32], DataDirError> {
        match given {
            Some(seed) => Ok(seed),
            None => self.seed_file("node_key"),
        }
    }

    /// The default miner key, from `miner_key` (created on first use).
    ///
    /// # Errors
    /// A corrupt key file or an I/O failure.
    pub fn miner_key(&self) -> Result<KeyPair, DataDirError> {
        self.seed_file("miner_key").map(KeyPair::from_seed)
    }

    /// Reads a hex seed file, creating it with a fresh random seed (mode 0600) if absent.
    fn seed_file(&self, name: &str) -> Result<[u8; 32], DataDirError> {
        let path = self.path.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => crate::config::parse_seed(&text).ok_or_else(|| DataDirError::Corrupt {
                path: path.clone(),
                reason: "expected 64 hex characters (a 32-byte seed)".into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let seed = KeyPair::generate().seed();
                write_private(&path, format!("{}\n", hex::encode(seed)).as_bytes(), false)?;
                Ok(seed)
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Writes a fresh RPC cookie (mode 0600) and returns its password.
    ///
    /// # Errors
    /// An I/O failure.
    pub fn write_cookie(&self) -> Result<String, DataDirError> {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        let password = hex::encode(secret);
        write_private(
            &self.cookie_path(),
            format!("{COOKIE_USER}:{password}").as_bytes(),
            true,
        )?;
        Ok(password)
    }

    /// Removes the cookie (at shutdown), ignoring a missing file.
    pub fn remove_cookie(&self) {
        let _ = std::fs::remove_file(self.cookie_path());
    }
}

/// Writes `data` to a new file with mode 0600. With `replace`, an existing
/// file is removed first; otherwise an existing file is an error.
fn write_private(path: &Path, data: &[u8], replace: bool) -> Result<(), DataDirError> {
    if replace {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(path)(e)),
        }
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    // The umask cannot widen 0600, but make sure anyway.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io(path))?;
    f.write_all(data).map_err(io(path))?;
    f.sync_all().map_err(io(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_and_keys_persist() {
        let dir = tempfile::tempdir().unwrap();
        let d = DataDir::open(dir.path()).unwrap();
        assert!(matches!(
            DataDir::open(dir.path()),
            Err(DataDirError::Locked(_))
        ));
        let k1 = d.node_key(None).unwrap();
        let k2 = d.node_key(None).unwrap();
        assert_eq!(k1, k2);
        assert_eq!(d.node_key(Some([7; 32])).unwrap(), [7; 32]);
        let mode = std::fs::metadata(dir.path().join("node_key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let pw = d.write_cookie().unwrap();
        let text = std::fs::read_to_string(d.cookie_path()).unwrap();
        assert_eq!(text, format!("__cookie__:{pw}"));
        assert_eq!(
            std::fs::metadata(d.cookie_path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        drop(d);
        let d = DataDir::open(dir.path()).unwrap();
        assert_eq!(d.node_key(None).unwrap(), k1);
        std::fs::write(dir.path().join("node_key"), "zz").unwrap();
        assert!(matches!(
            d.node_key(None),
            Err(DataDirError::Corrupt { .. })
        ));
    }
}

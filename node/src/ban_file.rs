//! `banlist.json`: the peers this node banned, kept across a restart
//! (Bitcoin Core's file of the same name). The p2p layer owns the bans
//! while the node runs and reports the whole list whenever it changes
//! ([`P2pEvent::BansChanged`](rumor_p2p::P2pEvent)); this module writes
//! each list as it comes and reads the last one back at start, for
//! [`P2pConfig::bans`](rumor_p2p::P2pConfig).
//!
//! ```json
//! {"version": 1, "bans": [{"peer": "12D3KooW…", "ip": "192.0.2.7", "until_unix_ms": 1765000000000}]}
//! ```
//!
//! It is written to `banlist.json.new` and renamed over `banlist.json`, so
//! a crash leaves one whole list. A file that is not this format is
//! refused with a log line naming the fault, moved aside to
//! `banlist.json.bad`, and the node starts with no bans: a lost ban list
//! lets peers back in, never keeps an honest one out.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rumor_p2p::{BanRecord, MAX_BANS, PeerId};
use serde::{Deserialize, Serialize};

/// The file name in the data directory.
pub const BAN_FILE: &str = "banlist.json";
/// The format version this node writes and reads.
pub const BAN_FILE_VERSION: u32 = 1;
/// The largest file read (a full list is about 1.5 MB).
const MAX_BAN_FILE_BYTES: u64 = 4 << 20;

/// Why a ban file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BanFileError {
    /// It could not be read.
    #[error("reading: {0}")]
    Io(#[from] std::io::Error),
    /// Larger than any list this node writes.
    #[error("{0} bytes, over the {MAX_BAN_FILE_BYTES}-byte limit")]
    TooLarge(u64),
    /// Not JSON of this shape.
    #[error("not a ban list: {0}")]
    Json(#[from] serde_json::Error),
    /// A format version this node does not read.
    #[error("format version {0}; this node reads version {BAN_FILE_VERSION}")]
    UnsupportedVersion(u32),
    /// More bans than a node keeps.
    #[error("{0} bans, over the {MAX_BANS} a node keeps")]
    TooMany(usize),
    /// A ban whose peer is not a PeerId.
    #[error("ban {index}: `{peer}` is not a peer id")]
    BadPeer {
        /// Its position.
        index: usize,
        /// What the file says.
        peer: String,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBan {
    peer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
    until_unix_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileList {
    version: u32,
    bans: Vec<FileBan>,
}

/// The ban list file of a data directory.
#[derive(Debug, Clone)]
pub struct BanFile {
    path: PathBuf,
}

impl BanFile {
    /// The file at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the list (none if there is no file).
    ///
    /// # Errors
    /// [`BanFileError`] naming what is wrong with the file.
    pub fn read(&self) -> Result<Vec<BanRecord>, BanFileError> {
        let len = match std::fs::metadata(&self.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        if len > MAX_BAN_FILE_BYTES {
            return Err(BanFileError::TooLarge(len));
        }
        let bytes = std::fs::read(&self.path)?;
        decode(&bytes)
    }

    /// Reads the list; a file that is refused is logged, moved aside to
    /// `banlist.json.bad`, and read as no bans.
    pub fn load(&self) -> Vec<BanRecord> {
        match self.read() {
            Ok(bans) => {
                if !bans.is_empty() {
                    tracing::info!(bans = bans.len(), file = %self.path.display(), "bans loaded");
                }
                bans
            }
            Err(e) => {
                let bad = self.path.with_extension("json.bad");
                tracing::warn!(file = %self.path.display(), error = %e, moved_to = %bad.display(), "ban list refused; starting with no bans");
                if let Err(e) = std::fs::rename(&self.path, &bad) {
                    tracing::warn!(error = %e, "could not move the refused ban list aside");
                }
                Vec::new()
            }
        }
    }

    /// Writes `bans` (temp file, sync, rename).
    ///
    /// # Errors
    /// The I/O error.
    pub fn save(&self, bans: &[BanRecord]) -> std::io::Result<()> {
        let tmp = self.path.with_extension("json.new");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&encode(bans))?;
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)
    }
}

fn encode(bans: &[BanRecord]) -> Vec<u8> {
    let list = FileList {
        version: BAN_FILE_VERSION,
        bans: bans
            .iter()
            .map(|b| FileBan {
                peer: b.peer.to_string(),
                ip: b.ip,
                until_unix_ms: b.until_unix_ms,
            })
            .collect(),
    };
    // Serialising plain structs of strings and integers cannot fail.
    serde_json::to_vec_pretty(&list).unwrap_or_default()
}

fn decode(bytes: &[u8]) -> Result<Vec<BanRecord>, BanFileError> {
    let list: FileList = serde_json::from_slice(bytes)?;
    if list.version != BAN_FILE_VERSION {
        return Err(BanFileError::UnsupportedVersion(list.version));
    }
    if list.bans.len() > MAX_BANS {
        return Err(BanFileError::TooMany(list.bans.len()));
    }
    list.bans
        .into_iter()
        .enumerate()
        .map(|(index, b)| {
            let peer = b
                .peer
                .parse::<PeerId>()
                .map_err(|_| BanFileError::BadPeer {
                    index,
                    peer: b.peer.clone(),
                })?;
            Ok(BanRecord {
                peer,
                ip: b.ip,
                until_unix_ms: b.until_unix_ms,
            })
        })
        .collect()
}

/// Writes every ban list the p2p layer reports, latest first: a list that
/// came while the previous one was being written replaces any older one
/// still waiting, so the file always ends as the latest list.
pub(crate) async fn keep(file: BanFile, mut lists: tokio::sync::watch::Receiver<Vec<BanRecord>>) {
    while lists.changed().await.is_ok() {
        let bans = lists.borrow_and_update().clone();
        let f = file.clone();
        match tokio::task::spawn_blocking(move || f.save(&bans)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(file = %file.path().display(), error = %e, "could not write the ban list");
            }
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ip: Option<&str>) -> BanRecord {
        BanRecord {
            peer: PeerId::random(),
            ip: ip.map(|s| s.parse().unwrap()),
            until_unix_ms: 1_765_000_000_000,
        }
    }

    #[test]
    fn a_saved_list_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let file = BanFile::new(dir.path().join(BAN_FILE));
        assert_eq!(file.read().unwrap(), vec![], "no file: no bans");
        let bans = vec![
            record(Some("192.0.2.7")),
            record(None),
            record(Some("2001:db8::1")),
        ];
        file.save(&bans).unwrap();
        assert_eq!(file.read().unwrap(), bans);
        assert!(!dir.path().join("banlist.json.new").exists());
    }

    #[test]
    fn a_bad_file_is_refused_with_its_fault_and_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(BAN_FILE);
        let file = BanFile::new(path.clone());
        type Expected = fn(&BanFileError) -> bool;
        let cases: [(&str, Expected); 5] = [
            ("{\"version\": 1, \"bans\": [", |e| {
                matches!(e, BanFileError::Json(_))
            }),
            ("{\"version\": 2, \"bans\": []}", |e| {
                matches!(e, BanFileError::UnsupportedVersion(2))
            }),
            (
                "{\"version\": 1, \"bans\": [{\"peer\": \"nope\", \"until_unix_ms\": 1}]}",
                |e| matches!(e, BanFileError::BadPeer { index: 0, .. }),
            ),
            (
                "{\"version\": 1, \"bans\": [{\"peer\": \"x\", \"ip\": \"300.1.1.1\", \"until_unix_ms\": 1}]}",
                |e| matches!(e, BanFileError::Json(_)),
            ),
            ("{\"version\": 1, \"bans\": [], \"extra\": 0}", |e| {
                matches!(e, BanFileError::Json(_))
            }),
        ];
        for (text, expected) in cases {
            std::fs::write(&path, text).unwrap();
            let e = file.read().unwrap_err();
            assert!(expected(&e), "{text}: {e}");
        }
        std::fs::write(&path, vec![b' '; MAX_BAN_FILE_BYTES as usize + 1]).unwrap();
        assert!(matches!(file.read(), Err(BanFileError::TooLarge(_))));
        // Loading refuses it, moves it aside, and starts with no bans.
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(file.load(), vec![]);
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("banlist.json.bad")).unwrap(),
            "garbage"
        );
    }
}

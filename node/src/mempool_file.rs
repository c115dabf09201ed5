//! `mempool.dat`: the mempool kept across a restart (Bitcoin Core's
//! `mempool.dat`). Written at shutdown (and by RPC `savemempool`), read at
//! start-up, where every transaction goes through the validator like any
//! submission: what is no longer valid is dropped and counted, never taken
//! on trust.
//!
//! The file, version 1 (integers little-endian):
//!
//! ```text
//! magic     8 bytes   "rumormp\n"
//! version   u32       1
//! genesis   32 bytes  the network's genesis block hash
//! count     u32       transactions that follow
//! count ×   u32 length, then the transaction's canonical encoding
//! checksum  32 bytes  sha256 of everything before it
//! ```
//!
//! Parents come before their children (saved by unconfirmed depth), so a
//! reader can submit level by level. It is written to `mempool.dat.new`,
//! synced, then renamed over `mempool.dat`: a crash leaves the old file or
//! the new one, never half of one. A file that is not this format (bad
//! magic, another version, another network, truncated, checksum mismatch)
//! is refused with a log line naming the fault, moved aside to
//! `mempool.dat.bad` for inspection, and the node starts with an empty
//! mempool.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use rumor_chain::{BlockHash, DecodedTx, MAX_TX_DECODE_BYTES, Object, Txid, Verdict};

use crate::core::{CoreError, NodeCore};
use crate::validator::Validator;

/// The file name in the data directory.
pub const MEMPOOL_FILE: &str = "mempool.dat";
/// The format version this node writes and reads.
pub const MEMPOOL_FILE_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"rumormp\n";
const HEADER: usize = 8 + 4 + 32 + 4;
const CHECKSUM: usize = 32;
/// Transactions submitted to the validator at once while loading.
const LOAD_CHUNK: usize = 1024;

/// Why a mempool file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MempoolFileError {
    /// It does not start with the magic bytes: not a rumor mempool file.
    #[error("not a rumor mempool file (bad magic)")]
    BadMagic,
    /// A format version this node does not read.
    #[error("format version {found}; this node reads version {MEMPOOL_FILE_VERSION}")]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
    },
    /// Saved by a node of another network.
    #[error("saved for the network with genesis {found}, not this one's {expected}")]
    WrongNetwork {
        /// This network's genesis.
        expected: BlockHash,
        /// The file's.
        found: BlockHash,
    },
    /// The file ends before what its header and lengths announce.
    #[error("truncated")]
    Truncated,
    /// A transaction longer than any transaction may be.
    #[error("transaction {index} claims {len} bytes, over the {MAX_TX_DECODE_BYTES}-byte limit")]
    OversizedEntry {
        /// Its position.
        index: usize,
        /// Its claimed length.
        len: usize,
    },
    /// Bytes after the last transaction and before the checksum.
    #[error("{0} bytes after the last transaction")]
    TrailingBytes(usize),
    /// The content does not match its checksum.
    #[error("checksum mismatch")]
    Checksum,
    /// It could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

/// The file's bytes for `txs` (canonical encodings, parents first).
pub fn encode_mempool_file(genesis: &BlockHash, txs: &[Bytes]) -> Vec<u8> {
    let body: usize = txs.iter().map(|t| 4 + t.len()).sum();
    let mut out = Vec::with_capacity(HEADER + body + CHECKSUM);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&MEMPOOL_FILE_VERSION.to_le_bytes());
    out.extend_from_slice(genesis.as_bytes());
    out.extend_from_slice(&(txs.len() as u32).to_le_bytes());
    for t in txs {
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t);
    }
    let sum = rumor_chain::sha256(&out);
    out.extend_from_slice(&sum);
    out
}

/// The transactions in a file's bytes, for the network with `genesis`. The
/// transactions themselves are not decoded here: the validator does that.
///
/// # Errors
/// [`MempoolFileError`] naming what is wrong with the bytes.
pub fn decode_mempool_file(
    bytes: &[u8],
    genesis: &BlockHash,
) -> Result<Vec<Bytes>, MempoolFileError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(MempoolFileError::BadMagic);
    }
    if bytes.len() < HEADER + CHECKSUM {
        return Err(MempoolFileError::Truncated);
    }
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let version = u32_at(8);
    if version != MEMPOOL_FILE_VERSION {
        return Err(MempoolFileError::UnsupportedVersion { found: version });
    }
    let (content, sum) = bytes.split_at(bytes.len() - CHECKSUM);
    if rumor_chain::sha256(content) != sum {
        return Err(MempoolFileError::Checksum);
    }
    let found = BlockHash(bytes[12..44].try_into().expect("32 bytes"));
    if found != *genesis {
        return Err(MempoolFileError::WrongNetwork {
            expected: *genesis,
            found,
        });
    }
    let count = u32_at(44) as usize;
    let mut at = HEADER;
    // Each entry takes at least its 4-byte length.
    let mut txs = Vec::with_capacity(count.min((content.len() - HEADER) / 4));
    for index in 0..count {
        if content.len() - at < 4 {
            return Err(MempoolFileError::Truncated);
        }
        let len = u32_at(at) as usize;
        at += 4;
        if len > MAX_TX_DECODE_BYTES {
            return Err(MempoolFileError::OversizedEntry { index, len });
        }
        if content.len() - at < len {
            return Err(MempoolFileError::Truncated);
        }
        txs.push(Bytes::copy_from_slice(&content[at..at + len]));
        at += len;
    }
    if at != content.len() {
        return Err(MempoolFileError::TrailingBytes(content.len() - at));
    }
    Ok(txs)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> MempoolFileError + '_ {
    move |source| MempoolFileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes the file at `path` atomically: a temporary file beside it,
/// synced, renamed over it, and the directory synced.
///
/// # Errors
/// [`MempoolFileError::Io`].
pub fn write_mempool_file(
    path: &Path,
    genesis: &BlockHash,
    txs: &[Bytes],
) -> Result<(), MempoolFileError> {
    let tmp = path.with_extension("dat.new");
    let bytes = encode_mempool_file(genesis, txs);
    let mut f = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
    f.write_all(&bytes).map_err(io_error(&tmp))?;
    f.sync_all().map_err(io_error(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io_error(path))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(dir))?;
    }
    Ok(())
}

/// Reads the file at `path`: `None` if there is none.
///
/// # Errors
/// [`MempoolFileError`]: unreadable, or not a valid file for this network.
pub fn read_mempool_file(
    path: &Path,
    genesis: &BlockHash,
) -> Result<Option<Vec<Bytes>>, MempoolFileError> {
    match std::fs::read(path) {
        Ok(bytes) => decode_mempool_file(&bytes, genesis).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

/// The mempool's transactions, parents before children (by unconfirmed
/// depth, then entry time), as canonical encodings.
///
/// # Errors
/// [`CoreError::Stopped`] once the chain state is gone (after a fatal error).
fn mempool_snapshot(core: &NodeCore) -> Result<Vec<Bytes>, CoreError> {
    let mut entries = Vec::new();
    for txid in core.mempool_txids()? {
        // A transaction may leave between the two reads (a block).
        if let Some(e) = core.mempool_entry(&txid)? {
            entries.push((e.depth, e.time_ms, txid, Bytes::from(e.tx.encode())));
        }
    }
    entries.sort_unstable_by_key(|(depth, time, txid, _)| (*depth, *time, *txid));
    Ok(entries.into_iter().map(|(.., bytes)| bytes).collect())
}

/// Why the mempool could not be saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// Loading the file at start-up has not finished: writing now would
    /// replace transactions not yet read with fewer.
    #[error("the mempool was not loaded yet")]
    NotLoaded,
    /// The chain state is gone (the node stopped after a fatal error).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The file could not be written.
    #[error(transparent)]
    File(#[from] MempoolFileError),
}

/// The node's mempool file: where it is, and whether loading it at
/// start-up has finished (only then may it be rewritten). Clones share
/// the flag.
#[derive(Debug, Clone)]
pub struct MempoolFile {
    path: PathBuf,
    loaded: Arc<AtomicBool>,
}

impl MempoolFile {
    /// The file at `path`, not loaded yet.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            loaded: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether loading at start-up has finished (RPC `getmempoolinfo`'s
    /// `loaded`).
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Writes the mempool to the file; returns how many transactions it holds.
    ///
    /// # Errors
    /// [`SaveError`]: not loaded yet, the chain state is gone, or the file
    /// could not be written.
    pub fn save(&self, core: &NodeCore) -> Result<usize, SaveError> {
        if !self.is_loaded() {
            return Err(SaveError::NotLoaded);
        }
        let txs = mempool_snapshot(core)?;
        write_mempool_file(&self.path, &core.params().genesis_block().hash(), &txs)?;
        Ok(txs.len())
    }

    /// Reads the file and submits its transactions to `validator`, then
    /// marks it loaded. A missing file is an empty mempool. A file that is
    /// not valid for this node is logged, moved aside to `<file>.bad`, and
    /// ignored. Returns what loading did (`None`: no file, a refused file,
    /// or the node stopped before the end, in which case it stays not
    /// loaded and the file is kept for the next start).
    pub async fn load(&self, core: &NodeCore, validator: &Validator) -> Option<LoadReport> {
        let genesis = core.params().genesis_block().hash();
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || read_mempool_file(&path, &genesis)).await;
        let txs = match read {
            Ok(Ok(Some(txs))) => txs,
            Ok(Ok(None)) => {
                self.loaded.store(true, Ordering::Release);
                return None;
            }
            Ok(Err(e)) => {
                let aside = self.path.with_extension("dat.bad");
                let moved = !matches!(e, MempoolFileError::Io { .. })
                    && std::fs::rename(&self.path, &aside).is_ok();
                tracing::warn!(
                    path = %self.path.display(),
                    error = %e,
                    moved_to = moved.then(|| aside.display().to_string()),
                    "mempool file refused; starting with an empty mempool"
                );
                self.loaded.store(true, Ordering::Release);
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "mempool file read task failed");
                return None;
            }
        };
        let report = restore_mempool(core, validator, txs).await?;
        tracing::info!(
            path = %self.path.display(),
            read = report.read,
            accepted = report.accepted,
            known = report.known,
            dropped = report.dropped_total(),
            dropped_reasons = ?report.dropped,
            "mempool loaded"
        );
        self.loaded.store(true, Ordering::Release);
        Some(report)
    }
}

/// What loading a mempool file did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Transactions in the file.
    pub read: usize,
    /// Accepted into the mempool again.
    pub accepted: usize,
    /// Already in the mempool (a peer sent it first).
    pub known: usize,
    /// Not taken, by reason: `confirmed` (in a block since), `undecodable`,
    /// or the validator's refusal label (a spent input, a conflict, a fee
    /// policy, a parent that was dropped…).
    pub dropped: BTreeMap<String, usize>,
}

impl LoadReport {
    /// Transactions not taken, all reasons.
    pub fn dropped_total(&self) -> usize {
        self.dropped.values().sum()
    }

    fn drop(&mut self, reason: &str) {
        *self.dropped.entry(reason.to_owned()).or_default() += 1;
    }
}

/// Submits `txs` (a file's, parents first) to the validator, as any
/// submission is validated: each unconfirmed-depth level after the one
/// before it is settled, so a child never waits as an orphan for a parent
/// in the same batch. Confirmed transactions are dropped without asking the
/// validator. `None` if the node stopped before the end.
async fn restore_mempool(
    core: &NodeCore,
    validator: &Validator,
    txs: Vec<Bytes>,
) -> Option<LoadReport> {
    let mut report = LoadReport {
        read: txs.len(),
        ..LoadReport::default()
    };
    // Level of each transaction: 1 + the highest level among its parents
    // in the file.
    let mut level_of: HashMap<Txid, usize> = HashMap::with_capacity(txs.len());
    let mut levels: Vec<Vec<(DecodedTx, Bytes)>> = Vec::new();
    for bytes in txs {
        let Ok(tx) = DecodedTx::decode(&bytes) else {
            report.drop("undecodable");
            continue;
        };
        match core.reader().tx_block(&tx.txid()) {
            Ok(Some(_)) => {
                report.drop("confirmed");
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(txid = %tx.txid(), error = %e, "mempool load: store lookup failed");
            }
        }
        let level = tx
            .tx()
            .inputs
            .iter()
            .filter_map(|i| level_of.get(&i.prev.txid).map(|l| l + 1))
            .max()
            .unwrap_or(0);
        level_of.insert(tx.txid(), level);
        if levels.len() <= level {
            levels.resize_with(level + 1, Vec::new);
        }
        levels[level].push((tx, bytes));
    }
    for level in levels {
        let mut level = level.into_iter().peekable();
        while level.peek().is_some() {
            let chunk: Vec<_> = level.by_ref().take(LOAD_CHUNK).collect();
            let outcomes = futures::future::join_all(
                chunk
                    .into_iter()
                    .map(|(tx, bytes)| validator.submit(Object::Tx(tx), bytes)),
            )
            .await;
            for outcome in outcomes {
                match outcome?.verdict {
                    Verdict::Accepted { .. } => report.accepted += 1,
                    Verdict::Known => report.known += 1,
                    v => report.drop(v.label()),
                }
            }
        }
    }
    Some(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genesis() -> BlockHash {
        BlockHash([5; 32])
    }

    fn txs() -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"first"),
            Bytes::new(),
            Bytes::from(vec![7u8; 300]),
        ]
    }

    #[test]
    fn a_file_reads_back_what_was_written() {
        let bytes = encode_mempool_file(&genesis(), &txs());
        assert_eq!(decode_mempool_file(&bytes, &genesis()).unwrap(), txs());
        let empty = encode_mempool_file(&genesis(), &[]);
        assert_eq!(empty.len(), HEADER + CHECKSUM);
        assert!(decode_mempool_file(&empty, &genesis()).unwrap().is_empty());
    }

    /// Rewrites the checksum after a change, so the check under test is
    /// the one that fires.
    fn resealed(mut bytes: Vec<u8>) -> Vec<u8> {
        let n = bytes.len() - CHECKSUM;
        let sum = rumor_chain::sha256(&bytes[..n]);
        bytes[n..].copy_from_slice(&sum);
        bytes
    }

    #[test]
    fn each_fault_is_refused_with_its_own_error() {
        let good = encode_mempool_file(&genesis(), &txs());
        let decode = |b: &[u8]| decode_mempool_file(b, &genesis()).unwrap_err();

        assert!(matches!(
            decode(b"PK\x03\x04 zip"),
            MempoolFileError::BadMagic
        ));
        assert!(matches!(decode(b""), MempoolFileError::BadMagic));
        assert!(matches!(decode(MAGIC), MempoolFileError::Truncated));

        let mut v2 = good.clone();
        v2[8] = 2;
        assert!(matches!(
            decode(&resealed(v2)),
            MempoolFileError::UnsupportedVersion { found: 2 }
        ));

        let other = BlockHash([6; 32]);
        let foreign = encode_mempool_file(&other, &txs());
        assert!(matches!(
            decode(&foreign),
            MempoolFileError::WrongNetwork { found, .. } if found == other
        ));

        // One flipped bit anywhere in the content.
        for at in [20, HEADER + 2, good.len() - CHECKSUM - 1] {
            let mut flipped = good.clone();
            flipped[at] ^= 1;
            assert!(
                matches!(decode(&flipped), MempoolFileError::Checksum),
                "{at}"
            );
        }
        // Cut short: the checksum no longer matches what is left.
        assert!(matches!(
            decode(&good[..good.len() - 1]),
            MempoolFileError::Checksum
        ));

        // A count larger than the entries: truncated, even with a valid checksum.
        let mut more = good.clone();
        more[44] = 4;
        assert!(matches!(
            decode(&resealed(more)),
            MempoolFileError::Truncated
        ));
        // A count smaller than the entries: bytes left over.
        let mut fewer = good.clone();
        fewer[44] = 2;
        assert!(matches!(
            decode(&resealed(fewer)),
            MempoolFileError::TrailingBytes(304)
        ));
        // A length past any transaction's.
        let mut huge = good.clone();
        huge[HEADER..HEADER + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&resealed(huge)),
            MempoolFileError::OversizedEntry { index: 0, .. }
        ));
    }

    #[test]
    fn writing_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MEMPOOL_FILE);
        assert!(read_mempool_file(&path, &genesis()).unwrap().is_none());
        write_mempool_file(&path, &genesis(), &txs()).unwrap();
        write_mempool_file(&path, &genesis(), &txs()[..1]).unwrap();
        assert_eq!(
            read_mempool_file(&path, &genesis()).unwrap().unwrap(),
            txs()[..1]
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [MEMPOOL_FILE]);
    }
}

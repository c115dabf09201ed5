//! [`RedbStore`]: the durable [`ChainStore`], in one redb file.
//!
//! Tables:
//! - `meta`: schema version, network name, genesis hash, tip, UTXO count.
//! - `index`: block hash → [`IndexEntry`] (canonical encoding).
//! - `blocks`: block hash → block (canonical encoding).
//! - `undo`: block hash → [`BlockUndo`] of connected blocks.
//! - `utxo`: outpoint (txid ‖ vout BE) → coin (fixed 37 bytes).
//! - `addr`: address ‖ outpoint → coin: the address index behind
//!   `listunspent` and `getbalance`.
//! - `txindex`: txid → hash of the best-chain block holding it.
//!
//! [`ChainStore::apply`] is one durable write transaction. Block bodies and
//! index entries are written with `Durability::None`: the next durable commit
//! (the connect that follows) makes them durable too, and a block lost in a
//! crash before it was connected is simply fetched again.
//!
//! [`StoreReader`] shares the database for lock-free reads (MVCC snapshots):
//! RPC queries and UTXO lookups never wait for the chain-state lock.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};
use rumor_chain::{
    Address, Amount, Block, BlockHash, BlockUndo, ChainStore, ChainUpdate, Coin, HARD_LIMIT,
    IndexEntry, OutPoint, Params, TxOut, Txid, UpdateKind, UtxoView,
};

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const INDEX: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("index");
pub(crate) const BLOCKS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blocks");
pub(crate) const UNDO: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("undo");
pub(crate) const UTXO: TableDefinition<&[u8; 36], &[u8; 37]> = TableDefinition::new("utxo");
pub(crate) const ADDR: TableDefinition<&[u8; 56], &[u8; 37]> = TableDefinition::new("addr");
pub(crate) const TXINDEX: TableDefinition<&[u8; 32], &[u8; 32]> = TableDefinition::new("txindex");

/// The on-disk format version.
pub const SCHEMA_VERSION: u32 = 1;

/// A chain store failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file is held by another process.
    #[error("chain database {0} is open in another process")]
    Locked(PathBuf),
    /// The file is not a readable redb database, or its contents are inconsistent.
    #[error("chain database is corrupt: {0}")]
    Corrupt(String),
    /// The database belongs to another network or genesis.
    #[error(
        "chain database belongs to network `{found}` (genesis {found_genesis}), not `{expected}` \
         (genesis {expected_genesis}); use another --datadir, or the same --network and \
         --genesis-outputs as before"
    )]
    WrongNetwork {
        /// This node's network.
        expected: String,
        /// The database's network.
        found: String,
        /// This node's genesis.
        expected_genesis: String,
        /// The database's genesis.
        found_genesis: String,
    },
    /// The database was written by an unknown schema version.
    #[error(
        "chain database has schema version {found}; this rumord reads version {SCHEMA_VERSION}"
    )]
    Schema {
        /// The version found.
        found: u32,
    },
    /// An I/O or database failure.
    #[error("chain database: {0}")]
    Db(#[from] redb::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

pub(crate) fn outpoint_key(op: &OutPoint) -> [u8; 36] {
    let mut k = [0u8; 36];
    k[..32].copy_from_slice(op.txid.as_bytes());
    k[32..].copy_from_slice(&op.vout.to_be_bytes());
    k
}

pub(crate) fn outpoint_from_key(k: &[u8]) -> OutPoint {
    let mut txid = [0u8; 32];
    txid.copy_from_slice(&k[..32]);
    let mut vout = [0u8; 4];
    vout.copy_from_slice(&k[32..36]);
    OutPoint::new(Txid(txid), u32::from_be_bytes(vout))
}

fn addr_key(addr: &Address, op: &OutPoint) -> [u8; 56] {
    let mut k = [0u8; 56];
    k[..20].copy_from_slice(addr.as_bytes());
    k[20..].copy_from_slice(&outpoint_key(op));
    k
}

pub(crate) fn encode_coin(c: &Coin) -> [u8; 37] {
    let mut v = [0u8; 37];
    v[..8].copy_from_slice(&c.output.amount.units().to_le_bytes());
    v[8..28].copy_from_slice(c.output.address.as_bytes());
    v[28..36].copy_from_slice(&c.height.to_le_bytes());
    v[36] = u8::from(c.coinbase);
    v
}

pub(crate) fn decode_coin(v: &[u8; 37]) -> Result<Coin, StoreError> {
    let units = u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    let amount =
        Amount::new(units).map_err(|_| StoreError::Corrupt("coin amount out of range".into()))?;
    let mut addr = [0u8; 20];
    addr.copy_from_slice(&v[8..28]);
    let coinbase = match v[36] {
        0 => false,
        1 => true,
        _ => return Err(StoreError::Corrupt("bad coinbase flag in coin".into())),
    };
    Ok(Coin {
        output: TxOut {
            amount,
            address: Address(addr),
        },
        height: u64::from_le_bytes(v[28..36].try_into().expect("8 bytes")),
        coinbase,
    })
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

/// Shared read access to the chain database.
#[derive(Clone)]
pub struct StoreReader {
    db: Arc<Database>,
}

impl std::fmt::Debug for StoreReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReader").finish_non_exhaustive()
    }
}

impl StoreReader {
    /// A read snapshot of the whole database.
    pub(crate) fn begin_read(&self) -> Result<redb::ReadTransaction, StoreError> {
        Ok(self.db.begin_read()?)
    }

    /// The database, for tests that tamper with it.
    #[cfg(test)]
    pub(crate) fn db_for_tests(&self) -> &Database {
        &self.db
    }

    /// A stored block body.
    ///
    /// # Errors
    /// A database failure or an undecodable body.
    pub fn block(&self, hash: &BlockHash) -> Result<Option<Block>, StoreError> {
        self.block_bytes(hash)?
            .map(|b| {
                Block::decode(&b).map_err(|e| StoreError::Corrupt(format!("block {hash}: {e}")))
            })
            .transpose()
    }

    /// A stored block's canonical encoding.
    ///
    /// # Errors
    /// A database failure.
    pub fn block_bytes(&self, hash: &BlockHash) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(BLOCKS)?;
        Ok(t.get(hash.as_bytes())?.map(|v| v.value().to_vec()))
    }

    /// The best-chain block holding `txid`, if any.
    ///
    /// # Errors
    /// A database failure.
    pub fn tx_block(&self, txid: &Txid) -> Result<Option<BlockHash>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(TXINDEX)?;
        Ok(t.get(txid.as_bytes())?.map(|v| BlockHash(*v.value())))
    }

    /// One unspent coin.
    ///
    /// # Errors
    /// A database failure.
    pub fn coin(&self, outpoint: &OutPoint) -> Result<Option<Coin>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(UTXO)?;
        t.get(&outpoint_key(outpoint))?
            .map(|v| decode_coin(v.value()))
            .transpose()
    }

    /// The unspent coins among `outpoints`, from one snapshot.
    ///
    /// # Errors
    /// A database failure.
    pub fn coins(&self, outpoints: &[OutPoint]) -> Result<HashMap<OutPoint, Coin>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(UTXO)?;
        let mut out = HashMap::with_capacity(outpoints.len());
        for op in outpoints {
            if let Some(v) = t.get(&outpoint_key(op))? {
                out.insert(*op, decode_coin(v.value())?);
            }
        }
        Ok(out)
    }

    /// Every unspent coin paying `address`, from the address index.
    ///
    /// # Errors
    /// A database failure.
    pub fn address_coins(&self, address: &Address) -> Result<Vec<(OutPoint, Coin)>, StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(ADDR)?;
        let mut lo = [0u8; 56];
        lo[..20].copy_from_slice(address.as_bytes());
        let mut hi = [0xffu8; 56];
        hi[..20].copy_from_slice(address.as_bytes());
        let mut out = Vec::new();
        for item in t.range::<&[u8; 56]>(&lo..=&hi)? {
            let (k, v) = item?;
            out.push((outpoint_from_key(&k.value()[20..]), decode_coin(v.value())?));
        }
        Ok(out)
    }

    /// A snapshot of the UTXO set to validate against (see [`UtxoSnapshot`]).
    ///
    /// # Errors
    /// A database failure.
    pub fn utxo_snapshot(&self) -> Result<UtxoSnapshot, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(UtxoSnapshot {
            table: txn.open_table(UTXO)?,
            failed: Cell::new(false),
        })
    }

    /// The number of unspent coins.
    ///
    /// # Errors
    /// A database failure.
    pub fn utxo_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(UTXO)?.len()?)
    }
}

/// A consistent read-only view of the UTXO set, for validation. A read
/// failure looks like a missing coin and is remembered: check
/// [`UtxoSnapshot::failed`] afterwards.
pub struct UtxoSnapshot {
    table: ReadOnlyTable<&'static [u8; 36], &'static [u8; 37]>,
    failed: Cell<bool>,
}

impl UtxoSnapshot {
    /// Whether any lookup failed (the answers given may then be wrong).
    pub fn failed(&self) -> bool {
        self.failed.get()
    }
}

impl UtxoView for UtxoSnapshot {
    fn coin(&self, outpoint: &OutPoint) -> Option<Coin> {
        match self.table.get(&outpoint_key(outpoint)) {
            Ok(Some(v)) => match decode_coin(v.value()) {
                Ok(c) => Some(c),
                Err(_) => {
                    self.failed.set(true);
                    None
                }
            },
            Ok(None) => None,
            Err(_) => {
                self.failed.set(true);
                None
            }
        }
    }
}

/// The redb chain store.
#[derive(Debug)]
pub struct RedbStore {
    reader: StoreReader,
}

impl RedbStore {
    /// Opens (or creates) the database at `path` for `params`' network and
    /// checks it: schema version, network and genesis, and that the tip's
    /// block, index entry and undo data are present. Nothing is written to a
    /// database that fails these checks.
    ///
    /// # Errors
    /// [`StoreError`]: locked, corrupt, another network, or I/O.
    pub fn open(path: &Path, params: &Params) -> Result<Self, StoreError> {
        Self::open_with_cache(path, params, crate::DEFAULT_DB_CACHE_MIB * 1024 * 1024)
    }

    /// [`RedbStore::open`] with a page cache of `cache_bytes` (redb's
    /// read cache and write buffer together).
    ///
    /// # Errors
    /// [`StoreError`]: locked, corrupt, another network, or I/O.
    pub fn open_with_cache(
        path: &Path,
        params: &Params,
        cache_bytes: usize,
    ) -> Result<Self, StoreError> {
        let mut builder = Database::builder();
        builder.set_cache_size(cache_bytes);
        let existed = path.exists();
        let result = if existed {
            builder.open(path)
        } else {
            builder.create(path)
        };
        let db = result.map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen
            | redb::DatabaseError::LockProtocolMismatch => StoreError::Locked(path.to_owned()),
            redb::DatabaseError::Storage(redb::StorageError::Corrupted(m)) => {
                StoreError::Corrupt(m)
            }
            redb::DatabaseError::Storage(redb::StorageError::Io(io))
                if io.kind() == std::io::ErrorKind::InvalidData
                    || io.kind() == std::io::ErrorKind::UnexpectedEof =>
            {
                StoreError::Corrupt(io.to_string())
            }
            redb::DatabaseError::UpgradeRequired(v) => {
                StoreError::Corrupt(format!("unsupported redb file format {v}"))
            }
            other => StoreError::Db(other.into()),
        })?;
        let store = Self {
            reader: StoreReader { db: Arc::new(db) },
        };
        store.check_meta(params, existed)?;
        Ok(store)
    }

    /// Shared read access.
    pub fn reader(&self) -> StoreReader {
        self.reader.clone()
    }

    fn db(&self) -> &Database {
        &self.reader.db
    }

    /// Checks (or, for a new database, writes) the meta table.
    fn check_meta(&self, params: &Params, existed: bool) -> Result<(), StoreError> {
        let genesis = params.genesis_block().hash();
        let network = params.network.name();
        let read = self.db().begin_read()?;
        let meta = match read.open_table(META) {
            Ok(t) => Some(t),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let Some(meta) = meta else {
            // A new database: no table may exist yet.
            if existed && read.list_tables()?.next().is_some() {
                return Err(StoreError::Corrupt("tables without a meta table".into()));
            }
            drop(read);
            let txn = self.db().begin_write()?;
            {
                let mut m = txn.open_table(META)?;
                m.insert("schema", SCHEMA_VERSION.to_le_bytes().as_slice())?;
                m.insert("network", network.as_bytes())?;
                m.insert("genesis", genesis.as_bytes().as_slice())?;
                m.insert("utxos", 0u64.to_le_bytes().as_slice())?;
                txn.open_table(INDEX)?;
                txn.open_table(BLOCKS)?;
                txn.open_table(UNDO)?;
                txn.open_table(UTXO)?;
                txn.open_table(ADDR)?;
                txn.open_table(TXINDEX)?;
            }
            txn.commit()?;
            return Ok(());
        };
        let get = |key: &str| -> Result<Vec<u8>, StoreError> {
            meta.get(key)?
                .map(|v| v.value().to_vec())
                .ok_or_else(|| StoreError::Corrupt(format!("meta key `{key}` is missing")))
        };
        let schema = get("schema")?;
        let schema = u32::from_le_bytes(
            schema
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt("bad schema version".into()))?,
        );
        if schema != SCHEMA_VERSION {
            return Err(StoreError::Schema { found: schema });
        }
        let found_network = String::from_utf8_lossy(&get("network")?).into_owned();
        let found_genesis = BlockHash(hash32(&get("genesis")?, "genesis hash")?);
        if found_network != network || found_genesis != genesis {
            return Err(StoreError::WrongNetwork {
                expected: network.to_owned(),
                found: found_network,
                expected_genesis: genesis.to_string(),
                found_genesis: found_genesis.to_string(),
            });
        }
        // The tip and what connecting it wrote must all be there.
        if let Some(tip) = meta.get("tip")? {
            let tip = BlockHash(hash32(tip.value(), "tip")?);
            let index = read.open_table(INDEX)?;
            let entry = index
                .get(tip.as_bytes())?
                .ok_or_else(|| StoreError::Corrupt(format!("tip {tip} is not indexed")))?;
            let entry: IndexEntry = rumor_chain::decode(entry.value(), 1024)
                .map_err(|e| StoreError::Corrupt(format!("index entry of the tip: {e}")))?;
            if read.open_table(BLOCKS)?.get(tip.as_bytes())?.is_none() {
                return Err(StoreError::Corrupt(format!("tip block {tip} has no body")));
            }
            if entry.height > 0 && read.open_table(UNDO)?.get(tip.as_bytes())?.is_none() {
                return Err(StoreError::Corrupt(format!(
                    "tip block {tip} has no undo data"
                )));
            }
            let counted = u64::from_le_bytes(
                get("utxos")?
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("bad utxo count".into()))?,
            );
            let len = read.open_table(UTXO)?.len()?;
            if counted != len {
                return Err(StoreError::Corrupt(format!(
                    "UTXO set holds {len} coins, but {counted} were recorded"
                )));
            }
        }
        Ok(())
    }

    fn write(&self, durable: bool) -> Result<WriteTransaction, StoreError> {
        let mut txn = self.db().begin_write()?;
        if !durable {
            txn.set_durability(Durability::None)?;
        }
        Ok(txn)
    }
}

impl ChainStore for RedbStore {
    type Error = StoreError;

    fn load_index(&self) -> Result<Vec<IndexEntry>, StoreError> {
        let txn = self.db().begin_read()?;
        let t = txn.open_table(INDEX)?;
        let mut out = Vec::with_capacity(t.len()? as usize);
        for item in t.iter()? {
            let (k, v) = item?;
            let entry: IndexEntry = rumor_chain::decode(v.value(), 1024)
                .map_err(|e| StoreError::Corrupt(format!("index entry: {e}")))?;
            if entry.hash.as_bytes() != k.value() {
                return Err(StoreError::Corrupt(format!(
                    "index entry {} stored under another key",
                    entry.hash
                )));
            }
            out.push(entry);
        }
        Ok(out)
    }

    fn tip(&self) -> Result<Option<BlockHash>, StoreError> {
        let txn = self.db().begin_read()?;
        let t = txn.open_table(META)?;
        t.get("tip")?
            .map(|v| hash32(v.value(), "tip").map(BlockHash))
            .transpose()
    }

    fn block(&self, hash: &BlockHash) -> Result<Option<Block>, StoreError> {
        self.reader.block(hash)
    }

    fn undo(&self, hash: &BlockHash) -> Result<Option<BlockUndo>, StoreError> {
        let txn = self.db().begin_read()?;
        let t = txn.open_table(UNDO)?;
        t.get(hash.as_bytes())?
            .map(|v| {
                rumor_chain::decode(v.value(), HARD_LIMIT)
                    .map_err(|e| StoreError::Corrupt(format!("undo data of {hash}: {e}")))
            })
            .transpose()
    }

    fn coins(&self, outpoints: &[OutPoint]) -> Result<HashMap<OutPoint, Coin>, StoreError> {
        self.reader.coins(outpoints)
    }

    fn put_block(&mut self, entry: &IndexEntry, block: &Block) -> Result<(), StoreError> {
        let txn = self.write(false)?;
        {
            txn.open_table(INDEX)?
                .insert(entry.hash.as_bytes(), rumor_chain::encode(entry).as_slice())?;
            txn.open_table(BLOCKS)?
                .insert(entry.hash.as_bytes(), block.encode().as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn put_index(&mut self, entry: &IndexEntry) -> Result<(), StoreError> {
        let txn = self.write(false)?;
        txn.open_table(INDEX)?
            .insert(entry.hash.as_bytes(), rumor_chain::encode(entry).as_slice())?;
        txn.commit()?;
        Ok(())
    }

    fn apply(&mut self, update: &ChainUpdate<'_>) -> Result<(), StoreError> {
        let txn = self.write(true)?;
        {
            let mut utxo = txn.open_table(UTXO)?;
            let mut addr = txn.open_table(ADDR)?;
            let mut meta = txn.open_table(META)?;
            let mut removed = 0u64;
            for (op, coin) in &update.spent {
                if utxo.remove(&outpoint_key(op))?.is_some() {
                    removed += 1;
                }
                addr.remove(&addr_key(&coin.output.address, op))?;
            }
            let mut added = 0u64;
            for (op, coin) in &update.created {
                let value = encode_coin(coin);
                if utxo.insert(&outpoint_key(op), &value)?.is_none() {
                    added += 1;
                }
                addr.insert(&addr_key(&coin.output.address, op), &value)?;
            }
            let count = match meta.get("utxos")? {
                Some(v) => u64::from_le_bytes(
                    v.value()
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("bad utxo count".into()))?,
                ),
                None => 0,
            };
            let count = (count + added).saturating_sub(removed);
            meta.insert("utxos", count.to_le_bytes().as_slice())?;
            meta.insert("tip", update.new_tip.as_bytes().as_slice())?;
            let mut undo = txn.open_table(UNDO)?;
            let mut txindex = txn.open_table(TXINDEX)?;
            let hash = update.hash.as_bytes();
            match &update.kind {
                UpdateKind::Connect { undo: data } => {
                    undo.insert(hash, rumor_chain::encode(data).as_slice())?;
                    for tx in &update.block.txs {
                        txindex.insert(tx.txid().as_bytes(), hash)?;
                    }
                }
                UpdateKind::Disconnect => {
                    undo.remove(hash)?;
                    for tx in &update.block.txs {
                        let txid = tx.txid();
                        let ours = txindex
                            .get(txid.as_bytes())?
                            .is_some_and(|v| v.value() == hash);
                        if ours {
                            txindex.remove(txid.as_bytes())?;
                        }
                    }
                }
            }
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_chain::{BlockSpec, ChainState, KeyPair, Network, build_block};

    fn params() -> Params {
        Params::new(Network::Regtest)
            .with_genesis_outputs(20)
            .unwrap()
    }

    fn mine_on(chain: &ChainState<RedbStore>, miner: u8) -> Block {
        let tip = chain.tip();
        build_block(
            chain.params(),
            &BlockSpec {
                prev: tip.hash,
                height: tip.height + 1,
                time: chain.median_time_past(&tip.hash) + 1000,
                pay_to: KeyPair::from_seed([miner; 32]).address(),
                fees: Amount::ZERO,
                extra: [miner; 56],
            },
            vec![],
        )
    }

    #[test]
    fn reopen_keeps_tip_utxos_and_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let p = params();
        let faucet = p.faucet_key(0).address();
        let (tip, h1) = {
            let store = RedbStore::open(&path, &p).unwrap();
            let mut chain = ChainState::open(p.clone(), store).unwrap();
            let b1 = mine_on(&chain, 1);
            chain.process_block(b1.clone(), u64::MAX / 2).unwrap();
            let b2 = mine_on(&chain, 1);
            chain.process_block(b2, u64::MAX / 2).unwrap();
            (chain.tip().hash, b1.hash())
        };
        let store = RedbStore::open(&path, &p).unwrap();
        let reader = store.reader();
        let chain = ChainState::open(p.clone(), store).unwrap();
        assert_eq!(chain.tip().hash, tip);
        assert_eq!(chain.height(), 2);
        // 20 genesis outputs + 2 coinbases.
        assert_eq!(reader.utxo_count().unwrap(), 22);
        assert_eq!(reader.address_coins(&faucet).unwrap().len(), 1);
        let miner = KeyPair::from_seed([1; 32]).address();
        assert_eq!(reader.address_coins(&miner).unwrap().len(), 2);
        let block = reader.block(&h1).unwrap().unwrap();
        assert_eq!(reader.tx_block(&block.txs[0].txid()).unwrap(), Some(h1));
    }

    #[test]
    fn reorg_updates_address_and_tx_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let p = params();
        let store = RedbStore::open(&dir.path().join("c.redb"), &p).unwrap();
        let reader = store.reader();
        let mut chain = ChainState::open(p.clone(), store).unwrap();
        let a1 = mine_on(&chain, 1);
        chain.process_block(a1.clone(), u64::MAX / 2).unwrap();
        // A competing branch of two blocks from genesis wins.
        let genesis = chain.genesis_hash();
        let mk = |prev: BlockHash, height: u64, time: u64| {
            build_block(
                &p,
                &BlockSpec {
                    prev,
                    height,
                    time,
                    pay_to: KeyPair::from_seed([2; 32]).address(),
                    fees: Amount::ZERO,
                    extra: [2; 56],
                },
                vec![],
            )
        };
        let b1 = mk(genesis, 1, p.genesis_time + 5000);
        let b2 = mk(b1.hash(), 2, p.genesis_time + 6000);
        chain.process_block(b1, u64::MAX / 2).unwrap();
        chain.process_block(b2.clone(), u64::MAX / 2).unwrap();
        assert_eq!(chain.tip().hash, b2.hash());
        let m1 = KeyPair::from_seed([1; 32]).address();
        assert!(reader.address_coins(&m1).unwrap().is_empty());
        assert_eq!(reader.tx_block(&a1.txs[0].txid()).unwrap(), None);
        assert_eq!(
            reader
                .address_coins(&KeyPair::from_seed([2; 32]).address())
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn foreign_and_corrupt_databases_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        drop(RedbStore::open(&path, &params()).unwrap());
        let other = Params::new(Network::Testnet)
            .with_genesis_outputs(20)
            .unwrap();
        assert!(matches!(
            RedbStore::open(&path, &other),
            Err(StoreError::WrongNetwork { .. })
        ));
        let more = params().with_genesis_outputs(21).unwrap();
        assert!(matches!(
            RedbStore::open(&path, &more),
            Err(StoreError::WrongNetwork { .. })
        ));
        // redb rewrites its own header flags on open and close, but no data changed.
        let store = RedbStore::open(&path, &params()).unwrap();
        let chain = ChainState::open(params(), store).unwrap();
        assert_eq!(chain.height(), 0);

        let junk = dir.path().join("junk.redb");
        std::fs::write(&junk, vec![0x42; 8192]).unwrap();
        assert!(matches!(
            RedbStore::open(&junk, &params()),
            Err(StoreError::Corrupt(_))
        ));
        assert!(
            std::fs::read(&junk).unwrap() == vec![0x42; 8192],
            "junk file modified"
        );
    }
}

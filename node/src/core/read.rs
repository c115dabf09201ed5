//! The read model: what RPC shows (chain, mempool, coins, transactions),
//! and what the p2p layer asks the node (bodies to serve, the anti-entropy
//! summary, headers, what is missing). Mempool reads take the lock briefly;
//! stored blocks and coins are read from the store without it.

use std::collections::HashSet;

use bytes::Bytes;
use rumor_chain::{
    Address, BlockHash, BlockHeader, Coin, IndexEntry, Inv, OutPoint, Transaction, Txid,
};
use rumor_p2p::{CompactBlock, SyncStatus};

use super::{CoreError, NodeCore};

/// A summary of the chain tip and the mempool.
#[derive(Debug, Clone, Copy)]
pub struct PoolSummary {
    /// Best-chain height.
    pub height: u64,
    /// Mempool transactions.
    pub txs: usize,
    /// Mempool bytes.
    pub bytes: usize,
    /// Orphan transactions.
    pub orphans: usize,
    /// The mempool's byte limit.
    pub max_bytes: usize,
}

/// The best chain, as `getblockchaininfo` shows it.
#[derive(Debug, Clone)]
pub struct ChainInfo {
    /// The tip's index entry.
    pub tip: IndexEntry,
    /// Median time past of the tip.
    pub median_time: u64,
    /// Genesis hash.
    pub genesis: BlockHash,
}

/// A mempool entry, copied out of the lock.
#[derive(Debug, Clone)]
pub struct PoolEntry {
    /// The transaction.
    pub tx: Transaction,
    /// Encoded size.
    pub size: usize,
    /// Fee.
    pub fee: u64,
    /// Entry time, Unix ms.
    pub time_ms: u64,
    /// Unconfirmed chain depth.
    pub depth: u32,
    /// Pool parents.
    pub parents: Vec<Txid>,
    /// Pool children.
    pub children: Vec<Txid>,
}

/// An unspent output with where it is.
#[derive(Debug, Clone, Copy)]
pub struct Unspent {
    /// The outpoint.
    pub outpoint: OutPoint,
    /// The coin (height is the next block's for mempool outputs).
    pub coin: Coin,
    /// Whether it is confirmed (else a mempool output).
    pub confirmed: bool,
}

impl NodeCore {
    /// A summary of tip and mempool.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn pool_summary(&self) -> Result<PoolSummary, CoreError> {
        self.with_state(|s| PoolSummary {
            height: s.chain().height(),
            txs: s.mempool().len(),
            bytes: s.mempool().bytes(),
            orphans: s.mempool().orphans().len(),
            max_bytes: s.mempool().config().max_bytes,
        })
    }

    /// The best chain.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn chain_info(&self) -> Result<ChainInfo, CoreError> {
        self.with_state(|s| {
            let tip = *s.chain().tip();
            ChainInfo {
                median_time: s.chain().median_time_past(&tip.hash),
                tip,
                genesis: s.chain().genesis_hash(),
            }
        })
    }

    /// The best-chain block hash at `height`.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn hash_at(&self, height: u64) -> Result<Option<BlockHash>, CoreError> {
        self.with_state(|s| s.chain().hash_at(height))
    }

    /// A block's index entry, whether it is on the best chain, and the tip height.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn block_entry(
        &self,
        hash: &BlockHash,
    ) -> Result<Option<(IndexEntry, bool, u64)>, CoreError> {
        self.with_state(|s| {
            s.chain()
                .entry(hash)
                .map(|e| (*e, s.chain().is_active(hash), s.chain().height()))
        })
    }

    /// The best-chain successor of `hash`, if any.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn next_hash(&self, hash: &BlockHash) -> Result<Option<BlockHash>, CoreError> {
        self.with_state(|s| {
            let e = s.chain().entry(hash)?;
            if !s.chain().is_active(hash) {
                return None;
            }
            s.chain().hash_at(e.height + 1)
        })
    }

    /// Mempool txids.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn mempool_txids(&self) -> Result<Vec<Txid>, CoreError> {
        self.with_state(|s| s.mempool().txids().copied().collect())
    }

    /// A mempool entry.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn mempool_entry(&self, txid: &Txid) -> Result<Option<PoolEntry>, CoreError> {
        self.with_state(|s| {
            s.mempool().get(txid).map(|e| PoolEntry {
                tx: e.tx.tx().clone(),
                size: e.tx.size(),
                fee: e.fee.units(),
                time_ms: e.time_ms,
                depth: e.depth,
                parents: e.parents.iter().copied().collect(),
                children: e.children.iter().copied().collect(),
            })
        })
    }

    /// The mempool transaction spending `op`, if any.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn mempool_spender(&self, op: &OutPoint) -> Result<Option<Txid>, CoreError> {
        self.with_state(|s| s.mempool().spender(op))
    }

    /// Unspent outputs paying any of `addresses`: confirmed coins not spent
    /// by a mempool transaction, and with `include_mempool` also mempool
    /// outputs not spent in the mempool.
    ///
    /// # Errors
    /// A store failure, or [`CoreError::Stopped`].
    pub fn unspent(
        &self,
        addresses: &[Address],
        include_mempool: bool,
    ) -> Result<Vec<Unspent>, CoreError> {
        let mut confirmed = Vec::new();
        for a in addresses {
            confirmed.extend(self.reader.address_coins(a)?);
        }
        self.with_state(|s| {
            let mut out: Vec<Unspent> = confirmed
                .into_iter()
                .filter(|(op, _)| s.mempool().spender(op).is_none())
                .map(|(outpoint, coin)| Unspent {
                    outpoint,
                    coin,
                    confirmed: true,
                })
                .collect();
            if include_mempool {
                let wanted: HashSet<&Address> = addresses.iter().collect();
                let next = s.chain().height() + 1;
                for txid in s.mempool().txids() {
                    let Some(tx) = s.mempool().tx(txid) else {
                        continue;
                    };
                    for (vout, o) in tx.outputs.iter().enumerate() {
                        let op = OutPoint::new(*txid, vout as u32);
                        if wanted.contains(&o.address) && s.mempool().spender(&op).is_none() {
                            out.push(Unspent {
                                outpoint: op,
                                coin: Coin {
                                    output: *o,
                                    height: next,
                                    coinbase: false,
                                },
                                confirmed: false,
                            });
                        }
                    }
                }
            }
            out
        })
    }

    /// A transaction from the mempool, or confirmed (with its block).
    ///
    /// # Errors
    /// A store failure, or [`CoreError::Stopped`].
    pub fn transaction(
        &self,
        txid: &Txid,
    ) -> Result<Option<(Transaction, Option<BlockHash>)>, CoreError> {
        if let Some(tx) = self.with_state(|s| s.mempool().tx(txid).cloned())? {
            return Ok(Some((tx, None)));
        }
        let Some(hash) = self.reader.tx_block(txid)? else {
            return Ok(None);
        };
        let Some(block) = self.reader.block(&hash)? else {
            return Ok(None);
        };
        Ok(block
            .txs
            .into_iter()
            .find(|t| t.txid() == *txid)
            .map(|t| (t, Some(hash))))
    }

    /// The canonical encodings of `invs` (mempool transactions, stored
    /// blocks), reading no more once `budget` bytes were found.
    pub fn bodies(&self, invs: &[Inv], budget: usize) -> Vec<Option<Bytes>> {
        let txs: Vec<Option<Bytes>> = self
            .with_state(|s| {
                invs.iter()
                    .map(|inv| match inv {
                        Inv::Tx(txid) => s.mempool().tx(txid).map(|t| Bytes::from(t.encode())),
                        Inv::Block(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_else(|_| vec![None; invs.len()]);
        let mut size = 0usize;
        invs.iter()
            .zip(txs)
            .map(|(inv, tx)| {
                if size >= budget {
                    return None;
                }
                let found = match inv {
                    Inv::Tx(_) => tx,
                    Inv::Block(hash) => self
                        .reader
                        .block_bytes(hash)
                        .ok()
                        .flatten()
                        .map(Bytes::from),
                };
                size += found.as_ref().map_or(0, Bytes::len);
                found
            })
            .collect()
    }

    /// The anti-entropy summary: tip and mempool digest.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn status(&self) -> Result<SyncStatus, CoreError> {
        self.with_state(|s| {
            let tip = s.chain().tip();
            SyncStatus {
                height: tip.height,
                tip: tip.hash,
                work: tip.chain_work,
                mempool_digest: s.mempool().digest(),
                mempool_len: s.mempool().len() as u32,
            }
        })
    }

    /// The mempool's short ids, sorted.
    ///
    /// # Errors
    /// [`CoreError::Stopped`].
    pub fn mempool_short_ids(&self) -> Result<Vec<u64>, CoreError> {
        self.with_state(|s| s.mempool().short_ids())
    }

    /// Mempool transactions by short id: the encoding of the one
    /// transaction with each id (ids shared by two are left out).
    pub fn txs_by_short_id(&self, ids: &[u64]) -> Vec<Bytes> {
        self.with_state(|s| {
            ids.iter()
                .filter_map(|id| {
                    let mut it = s.mempool().by_short_id(*id);
                    match (it.next(), it.next()) {
                        (Some(t), None) => Some(Bytes::from(t.tx().encode())),
                        _ => None,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// A locator of the best chain.
    pub fn locator(&self) -> Vec<BlockHash> {
        self.with_state(|s| s.chain().locator()).unwrap_or_default()
    }

    /// Up to `max` best-chain headers after the fork point with `locator`.
    pub fn headers_after(&self, locator: &[BlockHash], max: usize) -> Vec<BlockHeader> {
        self.with_state(|s| s.chain().headers_after(locator, max))
            .unwrap_or_default()
    }

    /// Which of `invs` the node does not have (in the mempool or the chain;
    /// a block known to be invalid counts as missing), in order.
    pub fn missing(&self, invs: &[Inv]) -> Vec<Inv> {
        let known: Vec<bool> = self
            .with_state(|s| {
                invs.iter()
                    .map(|inv| match inv {
                        Inv::Tx(txid) => s.mempool().contains(txid),
                        Inv::Block(hash) => s.chain().entry(hash).is_some_and(|e| !e.invalid),
                    })
                    .collect()
            })
            .unwrap_or_else(|_| vec![true; invs.len()]);
        invs.iter()
            .zip(known)
            .filter(|(inv, known)| {
                !known
                    && match inv {
                        Inv::Tx(txid) => !matches!(self.reader.tx_block(txid), Ok(Some(_))),
                        Inv::Block(_) => true,
                    }
            })
            .map(|(inv, _)| *inv)
            .collect()
    }

    /// A stored block's compact form.
    pub fn compact(&self, hash: &BlockHash) -> Option<CompactBlock> {
        let block = self.reader.block(hash).ok().flatten()?;
        Some(CompactBlock::of(&block, &block.txids()))
    }

    /// Transactions of a stored block by position (0 is the coinbase);
    /// `None` if the block is unknown or a position is out of range.
    pub fn block_txs(&self, hash: &BlockHash, indexes: &[u32]) -> Option<Vec<Bytes>> {
        let block = self.reader.block(hash).ok().flatten()?;
        indexes
            .iter()
            .map(|i| block.txs.get(*i as usize).map(|t| Bytes::from(t.encode())))
            .collect()
    }
}

//! [`verify_store`]: checks a chain database against a replay of its own
//! best chain. From one read snapshot it walks the stored best chain from the
//! tip back to genesis, replays every block with full validation into an
//! in-memory chain, and compares the result with what the store holds: the
//! UTXO set coin by coin, the recorded UTXO count, the address index and the
//! transaction index. Behind `rumord verify` (offline) and the
//! `verifychain` RPC (on a running node).

use std::collections::HashMap;

use redb::{ReadableTable, ReadableTableMetadata};
use rumor_chain::{
    AcceptOutcome, Block, BlockHash, ChainState, Coin, IndexEntry, MemStore, OutPoint, Params,
};
use serde::Serialize;

use crate::store::{
    ADDR, BLOCKS, INDEX, META, StoreError, StoreReader, TXINDEX, UTXO, decode_coin,
    outpoint_from_key,
};

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Height of the stored best tip.
    pub height: u64,
    /// The stored best tip.
    pub tip: String,
    /// Blocks replayed (the best chain without genesis).
    pub blocks_replayed: u64,
    /// Transactions in the best chain (genesis included).
    pub transactions: u64,
    /// Coins in the UTXO set.
    pub utxos: u64,
    /// Block index entries in the store (all branches).
    pub index_entries: u64,
}

/// Why a chain database failed verification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored best chain is broken (a missing block, a bad link).
    #[error("stored best chain is broken: {0}")]
    Chain(String),
    /// A best-chain block does not replay (it breaks a rule).
    #[error("best-chain block {hash} at height {height} does not replay: {reason}")]
    Replay {
        /// The block.
        hash: BlockHash,
        /// Its height.
        height: u64,
        /// Why.
        reason: String,
    },
    /// The store's state differs from the replay.
    #[error("store differs from a replay of its best chain: {0}")]
    Mismatch(String),
}

fn mismatch(text: String) -> VerifyError {
    VerifyError::Mismatch(text)
}

/// Replays the best chain stored behind `reader` and compares the store
/// with the result (see the module docs). The store is only read.
///
/// # Errors
/// [`VerifyError`] naming the first difference or failure.
pub fn verify_store(reader: &StoreReader, params: &Params) -> Result<VerifyReport, VerifyError> {
    let txn = reader.begin_read()?;
    let meta = txn.open_table(META).map_err(StoreError::from)?;
    let index = txn.open_table(INDEX).map_err(StoreError::from)?;
    let blocks = txn.open_table(BLOCKS).map_err(StoreError::from)?;
    let tip = meta
        .get("tip")
        .map_err(StoreError::from)?
        .ok_or_else(|| VerifyError::Chain("no tip recorded".into()))?;
    let tip = BlockHash(
        tip.value()
            .try_into()
            .map_err(|_| VerifyError::Chain("tip is not 32 bytes".into()))?,
    );
    let index_entries = index.len().map_err(StoreError::from)?;

    // Walk the best chain back to genesis.
    let mut path = Vec::new();
    let mut cur = tip;
    loop {
        let raw = index
            .get(cur.as_bytes())
            .map_err(StoreError::from)?
            .ok_or_else(|| VerifyError::Chain(format!("block {cur} is not indexed")))?;
        let entry: IndexEntry = rumor_chain::decode(raw.value(), 1024)
            .map_err(|e| VerifyError::Chain(format!("index entry of {cur}: {e}")))?;
        if entry.invalid {
            return Err(VerifyError::Chain(format!(
                "best-chain block {cur} is marked invalid"
            )));
        }
        path.push((cur, entry.height));
        if entry.height == 0 {
            break;
        }
        if path.len() as u64 > index_entries {
            return Err(VerifyError::Chain("parent links form a cycle".into()));
        }
        cur = entry.header.prev;
    }
    path.reverse();
    let genesis = params.genesis_block().hash();
    if path[0].0 != genesis {
        return Err(VerifyError::Chain(format!(
            "the best chain starts at {}, not at this network's genesis {genesis}",
            path[0].0
        )));
    }
    let height = path.len() as u64 - 1;

    // Replay it with full validation.
    let mut chain = ChainState::open(params.clone(), MemStore::new())
        .map_err(|e| VerifyError::Chain(format!("cannot start a replay: {e}")))?;
    let mut best_txs: Vec<(rumor_chain::Txid, BlockHash)> = params
        .genesis_block()
        .txs
        .iter()
        .map(|t| (t.txid(), genesis))
        .collect();
    for (i, (hash, h)) in path.iter().enumerate().skip(1) {
        if *h != i as u64 {
            return Err(VerifyError::Chain(format!(
                "block {hash} has height {h} at position {i}"
            )));
        }
        let raw = blocks
            .get(hash.as_bytes())
            .map_err(StoreError::from)?
            .ok_or_else(|| VerifyError::Chain(format!("block {hash} has no body")))?;
        let block = Block::decode(raw.value()).map_err(|e| VerifyError::Replay {
            hash: *hash,
            height: *h,
            reason: format!("undecodable body: {e}"),
        })?;
        if block.hash() != *hash {
            return Err(VerifyError::Replay {
                hash: *hash,
                height: *h,
                reason: format!("stored body is block {}", block.hash()),
            });
        }
        best_txs.extend(block.txs.iter().map(|t| (t.txid(), *hash)));
        let replay_err = |reason: String| VerifyError::Replay {
            hash: *hash,
            height: *h,
            reason,
        };
        // Far in the future: a stored block is never "too new".
        match chain.process_block(block, u64::MAX / 4) {
            Ok(AcceptOutcome::Accepted(acc)) => {
                if let Some((_, e)) = acc.invalid.first() {
                    return Err(replay_err(e.to_string()));
                }
            }
            Ok(other) => return Err(replay_err(format!("not connected: {other:?}"))),
            Err(e) => return Err(replay_err(e.to_string())),
        }
        if chain.tip().hash != *hash {
            return Err(replay_err("did not become the tip".into()));
        }
    }

    // Compare the UTXO set, coin by coin.
    let expected: &HashMap<OutPoint, Coin> = chain.store().utxo_set();
    let utxo = txn.open_table(UTXO).map_err(StoreError::from)?;
    let mut stored = 0u64;
    for item in utxo.iter().map_err(StoreError::from)? {
        let (k, v) = item.map_err(StoreError::from)?;
        let op = outpoint_from_key(k.value());
        let coin = decode_coin(v.value())?;
        match expected.get(&op) {
            Some(c) if *c == coin => {}
            Some(c) => {
                return Err(mismatch(format!(
                    "coin {op} is {coin:?} in the store, {c:?} in the replay"
                )));
            }
            None => return Err(mismatch(format!("coin {op} is not in the replay"))),
        }
        stored += 1;
    }
    if stored != expected.len() as u64 {
        let missing = expected
            .keys()
            .find(|op| matches!(utxo.get(&crate::store::outpoint_key(op)), Ok(None)));
        return Err(mismatch(format!(
            "the store holds {stored} coins, the replay {} (e.g. {missing:?} is missing)",
            expected.len()
        )));
    }
    let counted = meta
        .get("utxos")
        .map_err(StoreError::from)?
        .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes));
    if counted != Some(stored) {
        return Err(mismatch(format!(
            "recorded UTXO count {counted:?}, actual {stored}"
        )));
    }

    // The address index holds exactly the UTXO set.
    let addr = txn.open_table(ADDR).map_err(StoreError::from)?;
    let mut indexed = 0u64;
    for item in addr.iter().map_err(StoreError::from)? {
        let (k, v) = item.map_err(StoreError::from)?;
        let op = outpoint_from_key(&k.value()[20..]);
        let coin = decode_coin(v.value())?;
        if expected.get(&op) != Some(&coin) || coin.output.address.as_bytes() != &k.value()[..20] {
            return Err(mismatch(format!("address index entry for {op} is stale")));
        }
        indexed += 1;
    }
    if indexed != stored {
        return Err(mismatch(format!(
            "address index holds {indexed} coins, the UTXO set {stored}"
        )));
    }

    // The transaction index maps exactly the best chain's transactions.
    let txindex = txn.open_table(TXINDEX).map_err(StoreError::from)?;
    for (txid, hash) in &best_txs {
        let at = txindex
            .get(txid.as_bytes())
            .map_err(StoreError::from)?
            .map(|v| BlockHash(*v.value()));
        if at != Some(*hash) {
            return Err(mismatch(format!(
                "tx index maps {txid} to {at:?}, not to best-chain block {hash}"
            )));
        }
    }
    let txindex_len = txindex.len().map_err(StoreError::from)?;
    if txindex_len != best_txs.len() as u64 {
        return Err(mismatch(format!(
            "tx index holds {txindex_len} entries, the best chain {} transactions",
            best_txs.len()
        )));
    }

    Ok(VerifyReport {
        height,
        tip: tip.to_string(),
        blocks_replayed: height,
        transactions: best_txs.len() as u64,
        utxos: stored,
        index_entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RedbStore, encode_coin, outpoint_key};
    use rumor_chain::{Address, Amount, BlockSpec, KeyPair, Network, TxOut, build_block};

    fn params() -> Params {
        Params::new(Network::Regtest)
            .with_genesis_outputs(20)
            .unwrap()
    }

    fn chain_of(n: u64, dir: &std::path::Path) -> (StoreReader, Params) {
        let p = params();
        let store = RedbStore::open(&dir.join("c.redb"), &p).unwrap();
        let reader = store.reader();
        let mut chain = ChainState::open(p.clone(), store).unwrap();
        for _ in 0..n {
            let tip = *chain.tip();
            let b = build_block(
                &p,
                &BlockSpec {
                    prev: tip.hash,
                    height: tip.height + 1,
                    time: chain.median_time_past(&tip.hash) + 1000,
                    pay_to: KeyPair::from_seed([1; 32]).address(),
                    fees: Amount::ZERO,
                    extra: [0; 56],
                },
                vec![],
            );
            chain.process_block(b, u64::MAX / 4).unwrap();
        }
        drop(chain);
        (reader, p)
    }

    #[test]
    fn a_consistent_store_verifies_and_a_tampered_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let (reader, p) = chain_of(5, dir.path());
        let report = verify_store(&reader, &p).unwrap();
        assert_eq!(report.height, 5);
        assert_eq!(report.utxos, 25);
        assert_eq!(report.transactions, 6);

        // A coin that no block created.
        let op = OutPoint::new(rumor_chain::Txid([9; 32]), 0);
        let coin = Coin {
            output: TxOut {
                amount: Amount::new(1).unwrap(),
                address: Address([1; 20]),
            },
            height: 1,
            coinbase: false,
        };
        let txn = reader.db_for_tests().begin_write().unwrap();
        txn.open_table(UTXO)
            .unwrap()
            .insert(&outpoint_key(&op), &encode_coin(&coin))
            .unwrap();
        txn.commit().unwrap();
        let e = verify_store(&reader, &p).unwrap_err();
        assert!(matches!(e, VerifyError::Mismatch(_)), "{e}");
        assert!(e.to_string().contains("not in the replay"), "{e}");

        // Removed again, but the recorded count is off.
        let txn = reader.db_for_tests().begin_write().unwrap();
        txn.open_table(UTXO)
            .unwrap()
            .remove(&outpoint_key(&op))
            .unwrap();
        txn.open_table(META)
            .unwrap()
            .insert("utxos", 7u64.to_le_bytes().as_slice())
            .unwrap();
        txn.commit().unwrap();
        let e = verify_store(&reader, &p).unwrap_err();
        assert!(e.to_string().contains("recorded UTXO count"), "{e}");
    }

    #[test]
    fn a_missing_best_chain_body_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (reader, p) = chain_of(3, dir.path());
        let tip = verify_store(&reader, &p).unwrap().tip;
        let hash: BlockHash = tip.parse().unwrap();
        let txn = reader.db_for_tests().begin_write().unwrap();
        txn.open_table(BLOCKS)
            .unwrap()
            .remove(hash.as_bytes())
            .unwrap();
        txn.commit().unwrap();
        let e = verify_store(&reader, &p).unwrap_err();
        assert!(matches!(e, VerifyError::Chain(_)), "{e}");
    }
}

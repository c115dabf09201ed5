//! The JSON-RPC methods. Parameters are positional like bitcoind's, and may
//! also be given by name. Amounts are integer base units in `amount` fields
//! and decimal coin strings (8 decimals) in `coins` fields.
//!
//! What each method takes, returns and fails with is in `help.rs` (the
//! table behind `help <method>` and `docs/rpc.md`); keep it in step.

use std::str::FromStr;
use std::sync::Arc;

use jsonrpsee::RpcModule;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use rumor_chain::{
    Address, Amount, Block, BlockHash, BlockHeader, DecodedTx, IndexEntry, MAX_TX_DECODE_BYTES,
    Network, Object, Outcome, Transaction, Txid, Verdict,
};
use rumor_p2p::{FirstSeenQuery, Inv, LinkConfig, P2pHandle, RelayMode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::errors::{
    ALREADY_IN_CHAIN, BUSY, DECODE_ERROR, INVALID_PARAMETER, MISC_ERROR, NOT_FOUND, REJECTED,
    VERIFY_ERROR, err, err_data, internal, invalid_params,
};
use crate::admission::Busy;
use crate::core::{CoreError, NodeCore};
use crate::miner;
use crate::shutdown::{Shutdown, StopReason};
use crate::validator::Validator;

/// Records returned by `getpropagation` when no limit is given.
const DEFAULT_PROPAGATION_LIMIT: usize = 100_000;
/// Addresses one `listunspent` call may ask for.
const MAX_ADDRESSES: usize = 1_000;
/// Blocks one `generatetoaddress` call may mine.
const MAX_GENERATE: u64 = 10_000;
/// Transactions one `sendrawtransactions` call may carry: well under
/// admission control's 8,192 queued submissions, so a call of the largest
/// size is refused as busy only when the node is busy, and "retry" is
/// true advice (a call larger than the queue bound could never get in).
const MAX_TXS_PER_CALL: usize = 4_096;

/// What the methods share.
#[derive(Debug)]
pub struct RpcContext {
    /// Chain and mempool.
    pub core: Arc<NodeCore>,
    /// The p2p layer.
    pub p2p: P2pHandle,
    /// The validation queue (submissions are validated in batches with
    /// everything else).
    pub validator: Validator,
    /// Triggered by `stop`.
    pub shutdown: Shutdown,
    /// Relay mode, for `getnetworkinfo`.
    pub relay: RelayMode,
    /// Link emulation, for `getnetworkinfo`.
    pub link: LinkConfig,
    /// The mempool file (`savemempool`, `getmempoolinfo`'s `loaded`).
    pub mempool_file: crate::MempoolFile,
}

type RpcResult<T> = Result<T, ErrorObjectOwned>;

impl From<CoreError> for ErrorObjectOwned {
    fn from(e: CoreError) -> Self {
        internal(e)
    }
}

/// Positional (or named) parameters, normalized to one slot per name.
struct Args {
    names: &'static [&'static str],
    vals: Vec<Value>,
}

impl Args {
    fn parse(params: &Params<'_>, names: &'static [&'static str]) -> RpcResult<Self> {
        let raw = match params.as_str() {
            None => Value::Null,
            Some(s) => serde_json::from_str(s)
                .map_err(|e| invalid_params(format!("params are not JSON: {e}")))?,
        };
        let mut vals = vec![Value::Null; names.len()];
        match raw {
            Value::Null => {}
            Value::Array(items) => {
                if items.len() > names.len() {
                    return Err(invalid_params(format!(
                        "expected at most {} parameter(s) ({}), got {}",
                        names.len(),
                        names.join(", "),
                        items.len()
                    )));
                }
                for (slot, v) in vals.iter_mut().zip(items) {
                    *slot = v;
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let Some(i) = names.iter().position(|n| *n == k) else {
                        return Err(invalid_params(format!(
                            "unknown parameter `{k}` (expected: {})",
                            names.join(", ")
                        )));
                    };
                    vals[i] = v;
                }
            }
            other => {
                return Err(invalid_params(format!(
                    "params must be an array or an object, not {other}"
                )));
            }
        }
        Ok(Self { names, vals })
    }

    fn opt<T: DeserializeOwned>(&self, i: usize) -> RpcResult<Option<T>> {
        match &self.vals[i] {
            Value::Null => Ok(None),
            v => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| invalid_params(format!("parameter `{}`: {e}", self.names[i]))),
        }
    }

    fn req<T: DeserializeOwned>(&self, i: usize) -> RpcResult<T> {
        self.opt(i)?
            .ok_or_else(|| invalid_params(format!("missing parameter `{}`", self.names[i])))
    }
}

fn parse_hash<T: FromStr>(text: &str, what: &str) -> RpcResult<T> {
    T::from_str(text.trim()).map_err(|_| {
        err(
            INVALID_PARAMETER,
            format!("{what} must be 64 hex characters"),
        )
    })
}

/// An address of `network` (one of another network is refused, naming both).
fn parse_address(text: &str, network: Network) -> RpcResult<Address> {
    Address::parse(text, network)
        .map_err(|e| err(NOT_FOUND, format!("invalid address `{text}`: {e}")))
}

/// A transaction from its hex encoding (−22 if it is not one).
fn decode_tx_hex(text: &str) -> RpcResult<(DecodedTx, Vec<u8>)> {
    if text.len() > 2 * MAX_TX_DECODE_BYTES {
        return Err(err(DECODE_ERROR, "TX decode failed: too large"));
    }
    let bytes = hex::decode(text.trim())
        .map_err(|e| err(DECODE_ERROR, format!("TX decode failed: {e}")))?;
    let tx = DecodedTx::decode(&bytes)
        .map_err(|e| err(DECODE_ERROR, format!("TX decode failed: {e}")))?;
    Ok((tx, bytes))
}

/// −28 "node busy, retry …", with the reason label as data.
fn busy(b: Busy) -> ErrorObjectOwned {
    err_data(BUSY, b.to_string(), b.label())
}

fn coins(units: u64) -> String {
    Amount::new(units).map_or_else(|_| units.to_string(), |a| a.to_string())
}

fn tx_json(tx: &Transaction, network: Network) -> Value {
    let vin: Vec<Value> = tx
        .inputs
        .iter()
        .map(|i| {
            if tx.is_coinbase() {
                json!({ "coinbase": true, "height": tx.coinbase_height() })
            } else {
                json!({
                    "txid": i.prev.txid.to_string(),
                    "vout": i.prev.vout,
                    "pubkey": hex::encode(i.pubkey.as_bytes()),
                })
            }
        })
        .collect();
    let vout: Vec<Value> = tx
        .outputs
        .iter()
        .enumerate()
        .map(|(n, o)| {
            json!({
                "n": n,
                "amount": o.amount.units(),
                "coins": o.amount.to_string(),
                "address": o.address.encode(network),
            })
        })
        .collect();
    json!({
        "txid": tx.txid().to_string(),
        "version": tx.version,
        "size": tx.size(),
        "vin": vin,
        "vout": vout,
    })
}

fn header_json(
    entry: &IndexEntry,
    active: bool,
    tip_height: u64,
    next: Option<BlockHash>,
) -> Value {
    let h: &BlockHeader = &entry.header;
    let mut v = json!({
        "hash": entry.hash.to_string(),
        "confirmations": if active { (tip_height - entry.height + 1) as i64 } else { -1 },
        "height": entry.height,
        "version": h.version,
        "merkleroot": h.merkle_root.to_string(),
        "time": h.time / 1000,
        "time_ms": h.time,
        "nonce": h.nonce,
        "target": h.target.to_string(),
        "chainwork": entry.chain_work.to_string(),
    });
    if entry.height > 0 {
        v["previousblockhash"] = json!(h.prev.to_string());
    }
    if let Some(n) = next {
        v["nextblockhash"] = json!(n.to_string());
    }
    v
}

impl RpcContext {
    /// The node's network, which every address text must be for.
    fn network(&self) -> Network {
        self.core.params().network
    }

    fn entry(&self, hash: &BlockHash) -> RpcResult<(IndexEntry, bool, u64)> {
        self.core
            .block_entry(hash)?
            .filter(|(e, _, _)| !e.invalid)
            .ok_or_else(|| err(NOT_FOUND, "Block not found"))
    }

    fn getblockchaininfo(&self) -> RpcResult<Value> {
        let info = self.core.chain_info()?;
        Ok(json!({
            "chain": self.core.params().network.name(),
            "blocks": info.tip.height,
            "headers": info.tip.height,
            "bestblockhash": info.tip.hash.to_string(),
            "chainwork": info.tip.chain_work.to_string(),
            "mediantime": info.median_time / 1000,
            "mediantime_ms": info.median_time,
            "time": info.tip.header.time / 1000,
            "time_ms": info.tip.header.time,
            "genesis": info.genesis.to_string(),
            "genesis_outputs": self.core.params().genesis_outputs,
        }))
    }

    fn getblockhash(&self, p: Params<'_>) -> RpcResult<String> {
        let a = Args::parse(&p, &["height"])?;
        let height: u64 = a.req(0)?;
        self.core
            .hash_at(height)?
            .map(|h| h.to_string())
            .ok_or_else(|| err(INVALID_PARAMETER, "Block height out of range"))
    }

    fn getblockheader(&self, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["blockhash", "verbose"])?;
        let hash: BlockHash = parse_hash(&a.req::<String>(0)?, "blockhash")?;
        let verbose = a.opt::<bool>(1)?.unwrap_or(true);
        let (entry, active, tip) = self.entry(&hash)?;
        if !verbose {
            return Ok(json!(hex::encode(rumor_chain::encode(&entry.header))));
        }
        Ok(header_json(
            &entry,
            active,
            tip,
            self.core.next_hash(&hash)?,
        ))
    }

    fn getblock(&self, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["blockhash", "verbosity"])?;
        let hash: BlockHash = parse_hash(&a.req::<String>(0)?, "blockhash")?;
        let verbosity = match &a.vals[1] {
            Value::Bool(b) => u8::from(*b),
            _ => a.opt::<u8>(1)?.unwrap_or(1),
        };
        let (entry, active, tip) = self.entry(&hash)?;
        let block: Block = self
            .core
            .reader()
            .block(&hash)
            .map_err(internal)?
            .ok_or_else(|| err(NOT_FOUND, "Block not available"))?;
        if verbosity == 0 {
            return Ok(json!(hex::encode(block.encode())));
        }
        let mut v = header_json(&entry, active, tip, self.core.next_hash(&hash)?);
        v["size"] = json!(block.size());
        v["ntx"] = json!(block.txs.len());
        v["tx"] = if verbosity >= 2 {
            Value::Array(
                block
                    .txs
                    .iter()
                    .map(|t| tx_json(t, self.network()))
                    .collect(),
            )
        } else {
            Value::Array(
                block
                    .txs
                    .iter()
                    .map(|t| json!(t.txid().to_string()))
                    .collect(),
            )
        };
        Ok(v)
    }

    fn getrawtransaction(&self, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["txid", "verbose"])?;
        let txid: Txid = parse_hash(&a.req::<String>(0)?, "txid")?;
        let verbose = match &a.vals[1] {
            Value::Number(n) => n.as_u64().unwrap_or(0) > 0,
            _ => a.opt::<bool>(1)?.unwrap_or(false),
        };
        let (tx, block) = self
            .core
            .transaction(&txid)?
            .ok_or_else(|| err(NOT_FOUND, "No such mempool or blockchain transaction"))?;
        if !verbose {
            return Ok(json!(hex::encode(tx.encode())));
        }
        let mut v = tx_json(&tx, self.network());
        v["hex"] = json!(hex::encode(tx.encode()));
        match block {
            Some(hash) => {
                let (entry, active, tip) = self.entry(&hash)?;
                v["blockhash"] = json!(hash.to_string());
                v["blockheight"] = json!(entry.height);
                v["confirmations"] = json!(if active { tip - entry.height + 1 } else { 0 });
            }
            None => v["confirmations"] = json!(0),
        }
        Ok(v)
    }

    async fn sendrawtransaction(&self, p: Params<'_>) -> RpcResult<String> {
        let a = Args::parse(&p, &["hexstring"])?;
        let text: String = a.req(0)?;
        let (tx, bytes) = decode_tx_hex(&text)?;
        let txid = tx.txid();
        let outcome = self
            .validator
            .submit_client(vec![(Object::Tx(tx), bytes.into())])
            .await
            .map_err(busy)?
            .and_then(|mut o| o.pop())
            .ok_or_else(|| internal("the node is shutting down"))?;
        self.tx_answer(txid, outcome)
    }

    /// Many transactions in one call, validated together: one result per
    /// transaction, in order (`{txid}` or `{txid?, error}`); the whole call
    /// is refused with −28 when the node is busy.
    async fn sendrawtransactions(&self, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["hexstrings"])?;
        let texts: Vec<String> = a.req(0)?;
        if texts.len() > MAX_TXS_PER_CALL {
            return Err(invalid_params(format!(
                "at most {MAX_TXS_PER_CALL} transactions per call, got {}",
                texts.len()
            )));
        }
        let mut results: Vec<Value> = Vec::with_capacity(texts.len());
        let mut objects = Vec::with_capacity(texts.len());
        let mut slots = Vec::with_capacity(texts.len());
        for text in &texts {
            match decode_tx_hex(text) {
                Ok((tx, bytes)) => {
                    slots.push((results.len(), tx.txid()));
                    results.push(Value::Null);
                    objects.push((Object::Tx(tx), bytes.into()));
                }
                Err(e) => results.push(json!({ "error": e })),
            }
        }
        if !objects.is_empty() {
            let outcomes = self
                .validator
                .submit_client(objects)
                .await
                .map_err(busy)?
                .ok_or_else(|| internal("the node is shutting down"))?;
            for ((i, txid), outcome) in slots.into_iter().zip(outcomes) {
                results[i] = match self.tx_answer(txid, outcome) {
                    Ok(id) => json!({ "txid": id }),
                    Err(e) => json!({ "txid": txid.to_string(), "error": e }),
                };
            }
        }
        Ok(Value::Array(results))
    }

    /// What `sendrawtransaction` answers for `txid`'s outcome.
    fn tx_answer(&self, txid: Txid, outcome: Outcome) -> RpcResult<String> {
        match outcome.verdict {
            Verdict::Accepted { .. } => Ok(txid.to_string()),
            Verdict::Known => match self.core.reader().tx_block(&txid) {
                Ok(Some(_)) => Err(err(ALREADY_IN_CHAIN, "transaction already in block chain")),
                _ => Ok(txid.to_string()),
            },
            Verdict::NotYet { reason, .. } => {
                Err(err_data(VERIFY_ERROR, reason.to_owned(), outcome.detail))
            }
            Verdict::Invalid { reason }
            | Verdict::Policy { reason }
            | Verdict::Malformed { reason } => {
                Err(err_data(REJECTED, reason.to_owned(), outcome.detail))
            }
        }
    }

    fn gettxout(&self, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["txid", "n", "include_mempool"])?;
        let txid: Txid = parse_hash(&a.req::<String>(0)?, "txid")?;
        let vout: u32 = a.req(1)?;
        let include_mempool = a.opt::<bool>(2)?.unwrap_or(true);
        let op = rumor_chain::OutPoint::new(txid, vout);
        let info = self.core.chain_info()?;
        let best = info.tip.hash.to_string();
        if include_mempool && let Some(entry) = self.core.mempool_entry(&txid)? {
            return Ok(match entry.tx.outputs.get(vout as usize) {
                Some(o) if self.spendable_in_pool(&op)? => json!({
                    "bestblock": best,
                    "confirmations": 0,
                    "amount": o.amount.units(),
                    "coins": o.amount.to_string(),
                    "address": o.address.encode(self.network()),
                    "coinbase": false,
                }),
                _ => Value::Null,
            });
        }
        let Some(coin) = self.core.reader().coin(&op).map_err(internal)? else {
            return Ok(Value::Null);
        };
        if include_mempool && !self.spendable_in_pool(&op)? {
            return Ok(Value::Null);
        }
        Ok(json!({
            "bestblock": best,
            "confirmations": info.tip.height.saturating_sub(coin.height) + 1,
            "amount": coin.output.amount.units(),
            "coins": coin.output.amount.to_string(),
            "address": coin.output.address.encode(self.network()),
            "coinbase": coin.coinbase,
        }))
    }

    /// Whether no mempool transaction spends `op`.
    fn spendable_in_pool(&self, op: &rumor_chain::OutPoint) -> RpcResult<bool> {
        Ok(self.core.mempool_spender(op)?.is_none())
    }

    fn addresses(&self, v: &Value) -> RpcResult<Vec<Address>> {
        let network = self.network();
        let list: Vec<String> = match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| invalid_params("addresses must be strings"))
                })
                .collect::<RpcResult<_>>()?,
            Value::Null => return Err(invalid_params("missing parameter `address`")),
            _ => return Err(invalid_params("address must be a string or an array")),
        };
        if list.len() > MAX_ADDRESSES {
            return Err(invalid_params(format!(
                "at most {MAX_ADDRESSES} addresses per call"
            )));
        }
        list.iter().map(|s| parse_address(s, network)).collect()
    }

    fn listunspent(&self, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["address", "minconf"])?;
        let addresses = self.addresses(&a.vals[0])?;
        let minconf = a.opt::<u64>(1)?.unwrap_or(1);
        let tip = self.core.chain_info()?.tip.height;
        let maturity = self.core.params().coinbase_maturity;
        let list = self.core.unspent(&addresses, minconf == 0)?;
        let out: Vec<Value> = list
            .iter()
            .filter_map(|u| {
                let confirmations = if u.confirmed {
                    tip.saturating_sub(u.coin.height) + 1
                } else {
                    0
                };
                // The genesis outputs are exempt from maturity (the rule in
                // validate.rs); a block at tip+1 may spend a coin with
                // `maturity` confirmations.
                let immature = u.coin.coinbase && u.coin.height > 0 && confirmations < maturity;
                (confirmations >= minconf).then(|| {
                    json!({
                        "txid": u.outpoint.txid.to_string(),
                        "vout": u.outpoint.vout,
                        "address": u.coin.output.address.encode(self.network()),
                        "amount": u.coin.output.amount.units(),
                        "coins": u.coin.output.amount.to_string(),
                        "height": u.confirmed.then_some(u.coin.height),
                        "confirmations": confirmations,
                        "coinbase": u.coin.coinbase,
                        "spendable": !immature,
                    })
                })
            })
            .collect();
        Ok(Value::Array(out))
    }

    fn getbalance(&self, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["address"])?;
        let addresses = self.addresses(&a.vals[0])?;
        let mut total: u64 = 0;
        let mut count = 0usize;
        for addr in &addresses {
            for (_, coin) in self.core.reader().address_coins(addr).map_err(internal)? {
                total = total.saturating_add(coin.output.amount.units());
                count += 1;
            }
        }
        Ok(json!({
            "amount": total,
            "coins": coins(total),
            "utxos": count,
        }))
    }

    fn getmempoolinfo(&self) -> RpcResult<Value> {
        let s = self.core.pool_summary()?;
        Ok(json!({
            "size": s.txs,
            "bytes": s.bytes,
            "orphans": s.orphans,
            "maxmempool": s.max_bytes,
            "minrelayfee_per_byte": self.core.params().min_relay_fee_per_byte,
            "loaded": self.mempool_file.is_loaded(),
        }))
    }

    /// `savemempool`: writes the mempool file now (as at shutdown).
    async fn savemempool(&self) -> RpcResult<Value> {
        let (file, core) = (self.mempool_file.clone(), Arc::clone(&self.core));
        let saved = tokio::task::spawn_blocking(move || file.save(&core))
            .await
            .map_err(internal)?;
        match saved {
            Ok(_) => Ok(json!({ "filename": self.mempool_file.path().display().to_string() })),
            Err(crate::SaveError::NotLoaded) => {
                Err(err(MISC_ERROR, "The mempool was not loaded yet"))
            }
            Err(e) => Err(err(
                MISC_ERROR,
                format!("Unable to dump mempool to disk: {e}"),
            )),
        }
    }

    fn getmemoryinfo(&self, p: Params<'_>) -> RpcResult<Value> {
        let mode: Option<String> = Args::parse(&p, &["mode"])?.opt(0)?;
        match mode.as_deref().unwrap_or("stats") {
            "stats" => serde_json::to_value(crate::memory_info()).map_err(internal),
            "mallocinfo" => {
                let text = crate::allocator_dump().map_err(internal)?;
                serde_json::from_str(&text).map_err(internal)
            }
            other => Err(invalid_params(format!(
                "unknown mode {other:?}: expected \"stats\" or \"mallocinfo\""
            ))),
        }
    }

    fn getrawmempool(&self, p: Params<'_>) -> RpcResult<Value> {
        // `verbose` is accepted for bitcoind compatibility; ids are always returned.
        let _ = Args::parse(&p, &["verbose"])?;
        let mut ids: Vec<String> = self
            .core
            .mempool_txids()?
            .iter()
            .map(Txid::to_string)
            .collect();
        ids.sort();
        Ok(json!(ids))
    }

    fn getmempoolentry(&self, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["txid"])?;
        let txid: Txid = parse_hash(&a.req::<String>(0)?, "txid")?;
        let e = self
            .core
            .mempool_entry(&txid)?
            .ok_or_else(|| err(NOT_FOUND, "Transaction not in mempool"))?;
        Ok(json!({
            "txid": txid.to_string(),
            "size": e.size,
            "fee": e.fee,
            "fee_coins": coins(e.fee),
            "time": e.time_ms / 1000,
            "time_ms": e.time_ms,
            "depth": e.depth,
            "depends": e.parents.iter().map(Txid::to_string).collect::<Vec<_>>(),
            "spentby": e.children.iter().map(Txid::to_string).collect::<Vec<_>>(),
        }))
    }

    async fn getnetworkinfo(&self) -> RpcResult<Value> {
        let addrs = self.p2p.listen_addrs().await.map_err(internal)?;
        let peers = self.p2p.peers().await.map_err(internal)?;
        Ok(json!({
            "network": self.core.params().network.name(),
            "peer_id": self.p2p.peer_id().to_string(),
            "listen_addrs": addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "relay": self.relay,
            "connections": peers.len(),
            "link": self.link,
            "version": env!("CARGO_PKG_VERSION"),
        }))
    }

    async fn generatetoaddress(self: Arc<Self>, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["nblocks", "address"])?;
        let n: u64 = a.req(0)?;
        if n > MAX_GENERATE {
            return Err(err(
                INVALID_PARAMETER,
                format!("at most {MAX_GENERATE} blocks per call"),
            ));
        }
        let address = parse_address(&a.req::<String>(1)?, self.network())?;
        let hashes = miner::generate(&self.core, &self.validator, n, address)
            .await
            .map_err(|e| err(MISC_ERROR, e.to_string()))?;
        Ok(json!(
            hashes.iter().map(ToString::to_string).collect::<Vec<_>>()
        ))
    }

    async fn getpropagation(&self, p: Params<'_>) -> RpcResult<Value> {
        #[derive(serde::Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct Query {
            ids: Option<Vec<String>>,
            since_ns: Option<u64>,
            limit: Option<usize>,
        }
        let a = Args::parse(&p, &["query"])?;
        let q: Query = a.opt(0)?.unwrap_or_default();
        let limit = q.limit.unwrap_or(DEFAULT_PROPAGATION_LIMIT);
        let query = match q.ids {
            Some(ids) => {
                let mut invs = Vec::with_capacity(ids.len() * 2);
                for id in &ids {
                    let hash: rumor_chain::Hash256 = parse_hash(id, "id")?;
                    invs.push(Inv::Tx(Txid(hash.0)));
                    invs.push(Inv::Block(BlockHash(hash.0)));
                }
                FirstSeenQuery::Ids(invs)
            }
            None => FirstSeenQuery::Since {
                since_ns: q.since_ns.unwrap_or(0),
                limit,
            },
        };
        let mut records = self.p2p.first_seen(query).await.map_err(internal)?;
        records.truncate(limit);
        serde_json::to_value(records).map_err(internal)
    }
}

impl RpcContext {
    /// `setban peer_id "add"|"remove" [duration_ms]`: disconnect and refuse a
    /// peer for a while (default 24 h), or lift its ban.
    async fn setban(&self, p: Params<'_>) -> RpcResult<Value> {
        let a = Args::parse(&p, &["peer_id", "command", "duration_ms"])?;
        let peer: String = a.req(0)?;
        let peer: rumor_p2p::PeerId = peer
            .trim()
            .parse()
            .map_err(|_| err(INVALID_PARAMETER, format!("`{peer}` is not a peer id")))?;
        let command: String = a.req(1)?;
        match command.as_str() {
            "add" => {
                let ms: u64 = a.opt(2)?.unwrap_or(24 * 60 * 60 * 1000);
                self.p2p
                    .ban(peer, std::time::Duration::from_millis(ms))
                    .await
                    .map_err(internal)?;
            }
            "remove" => self.p2p.unban(peer).await.map_err(internal)?,
            other => {
                return Err(invalid_params(format!(
                    "command must be `add` or `remove`, not `{other}`"
                )));
            }
        }
        Ok(Value::Null)
    }
}

// Methods that read the chain state take its lock, which a block connect
// holds for as long as it runs. They run on the blocking pool, never on a
// runtime worker: with one worker (a testnet with more nodes than cores),
// a worker blocked on the lock would stop the p2p loop and every other
// task until the connect finished.
macro_rules! sync_method {
    ($m:expr, $name:literal, $f:ident) => {
        $m.register_blocking_method($name, |p, ctx, _| ctx.$f(p))
            .expect("unique method name");
    };
}

macro_rules! sync_method_noargs {
    ($m:expr, $name:literal, $f:ident) => {
        $m.register_blocking_method($name, |p, ctx, _| {
            no_args(&p)?;
            ctx.$f()
        })
        .expect("unique method name");
    };
}

fn no_args(p: &Params<'_>) -> RpcResult<()> {
    Args::parse(p, &[]).map(|_| ())
}

/// Builds the RPC module with every method.
pub fn module(ctx: RpcContext) -> RpcModule<RpcContext> {
    let mut m = RpcModule::new(ctx);
    sync_method_noargs!(m, "getblockchaininfo", getblockchaininfo);
    m.register_blocking_method("getbestblockhash", |p, ctx, _| {
        no_args(&p)?;
        Ok::<_, ErrorObjectOwned>(ctx.core.chain_info()?.tip.hash.to_string())
    })
    .expect("unique method name");
    m.register_blocking_method("getblockcount", |p, ctx, _| {
        no_args(&p)?;
        Ok::<_, ErrorObjectOwned>(ctx.core.chain_info()?.tip.height)
    })
    .expect("unique method name");
    sync_method!(m, "getblockhash", getblockhash);
    sync_method!(m, "getblock", getblock);
    sync_method!(m, "getblockheader", getblockheader);
    sync_method!(m, "getrawtransaction", getrawtransaction);
    sync_method!(m, "gettxout", gettxout);
    sync_method!(m, "listunspent", listunspent);
    sync_method!(m, "getbalance", getbalance);
    sync_method!(m, "getrawmempool", getrawmempool);
    sync_method_noargs!(m, "getmempoolinfo", getmempoolinfo);
    sync_method!(m, "getmempoolentry", getmempoolentry);
    sync_method!(m, "getmemoryinfo", getmemoryinfo);
    m.register_async_method("savemempool", |p, ctx, _| async move {
        no_args(&p)?;
        ctx.savemempool().await
    })
    .expect("unique method name");
    m.register_async_method("sendrawtransaction", |p, ctx, _| async move {
        ctx.sendrawtransaction(p).await
    })
    .expect("unique method name");
    m.register_async_method("sendrawtransactions", |p, ctx, _| async move {
        ctx.sendrawtransactions(p).await
    })
    .expect("unique method name");
    m.register_async_method("getpeerinfo", |p, ctx, _| async move {
        no_args(&p)?;
        let peers = ctx.p2p.peers().await.map_err(internal)?;
        serde_json::to_value(peers).map_err(internal)
    })
    .expect("unique method name");
    m.register_async_method("getnetworkinfo", |p, ctx, _| async move {
        no_args(&p)?;
        ctx.getnetworkinfo().await
    })
    .expect("unique method name");
    m.register_async_method("getrelaystats", |p, ctx, _| async move {
        no_args(&p)?;
        let stats = ctx.p2p.stats().await.map_err(internal)?;
        serde_json::to_value(stats).map_err(internal)
    })
    .expect("unique method name");
    m.register_async_method("getpropagation", |p, ctx, _| async move {
        ctx.getpropagation(p).await
    })
    .expect("unique method name");
    m.register_async_method("setban", |p, ctx, _| async move { ctx.setban(p).await })
        .expect("unique method name");
    m.register_async_method("clearbanned", |p, ctx, _| async move {
        no_args(&p)?;
        ctx.p2p.clear_bans().await.map_err(internal)?;
        Ok::<_, ErrorObjectOwned>(Value::Null)
    })
    .expect("unique method name");
    m.register_async_method("listbanned", |p, ctx, _| async move {
        no_args(&p)?;
        let bans = ctx.p2p.bans().await.map_err(internal)?;
        let out: Vec<Value> = bans
            .into_iter()
            .map(|(peer, left)| {
                serde_json::json!({
                    "peer_id": peer.to_string(),
                    "time_remaining": left.as_secs(),
                    "remaining_ms": left.as_millis() as u64,
                })
            })
            .collect();
        Ok::<_, ErrorObjectOwned>(Value::Array(out))
    })
    .expect("unique method name");
    m.register_async_method("generatetoaddress", |p, ctx, _| async move {
        ctx.generatetoaddress(p).await
    })
    .expect("unique method name");
    m.register_blocking_method("verifychain", |p, ctx, _| {
        no_args(&p)?;
        let report = crate::verify::verify_store(ctx.core.reader(), ctx.core.params())
            .map_err(|e| err(MISC_ERROR, e.to_string()))?;
        serde_json::to_value(report).map_err(internal)
    })
    .expect("unique method name");
    m.register_method("stop", |p, ctx, _| {
        no_args(&p)?;
        let shutdown = ctx.shutdown.clone();
        // Answer first, then stop.
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            shutdown.trigger(StopReason::Requested("rpc stop"));
        });
        Ok::<_, ErrorObjectOwned>("rumord stopping")
    })
    .expect("unique method name");
    let names: Vec<String> = m.method_names().map(str::to_owned).collect();
    m.register_method("help", move |p, _, _| {
        let a = Args::parse(&p, &["command"])?;
        match a.opt::<String>(0)? {
            None => {
                let mut n = names.clone();
                n.push("help".into());
                n.sort();
                Ok::<_, ErrorObjectOwned>(json!(n))
            }
            Some(command) => super::help::method_doc(command.trim())
                .map(|d| json!(super::help::usage(d)))
                .ok_or_else(|| err(MISC_ERROR, format!("help: unknown command: {command}"))),
        }
    })
    .expect("unique method name");
    m
}

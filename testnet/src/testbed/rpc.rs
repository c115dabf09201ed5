//! A typed JSON-RPC client for one node.

use std::time::Duration;

use base64::Engine;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use jsonrpsee_http_client::{HeaderMap, HeaderValue, HttpClient, HttpClientBuilder};
use rumor_p2p::{FirstSeen, PeerInfo, RelayStats};
use serde::Deserialize;
use serde_json::Value;

/// An RPC failure, as text (the node's error or the transport's).
#[derive(Debug, Clone, thiserror::Error)]
#[error("rpc {method}: {message}")]
pub struct RpcError {
    /// The method called.
    pub method: &'static str,
    /// What went wrong.
    pub message: String,
    /// The node's JSON-RPC error code; `None` if it did not answer at all.
    pub code: Option<i32>,
}

/// The node's "node busy, retry" (bitcoind's `RPC_IN_WARMUP`).
pub const BUSY: i32 = -28;
/// JSON-RPC's "method not found" (a node older than the method).
pub const METHOD_NOT_FOUND: i32 = -32601;

impl RpcError {
    /// The node answered and refused (as opposed to a transport failure).
    pub fn is_rejection(&self) -> bool {
        self.code.is_some()
    }

    /// The node refused because it was busy: nothing was queued.
    pub fn is_busy(&self) -> bool {
        self.code == Some(BUSY)
    }

    fn answer(method: &'static str, message: impl Into<String>) -> Self {
        Self {
            method,
            message: message.into(),
            code: Some(jsonrpsee::types::error::INTERNAL_ERROR_CODE),
        }
    }
}

/// One transaction's answer in a `sendrawtransactions` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitResult {
    /// Accepted (or already in the mempool).
    Accepted,
    /// Refused: the code and message `sendrawtransaction` would give.
    Refused {
        /// The JSON-RPC error code.
        code: i32,
        /// Its message.
        message: String,
    },
}

/// A node's `getnetworkinfo`.
#[derive(Debug, Clone, Deserialize)]
pub struct NetworkInfo {
    /// Its PeerId.
    pub peer_id: String,
}

/// A node's `getblockchaininfo`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChainInfo {
    /// Best height.
    pub blocks: u64,
    /// Best tip.
    pub bestblockhash: String,
}

/// The allocator's byte counts in a node's `getmemoryinfo`.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct AllocatorStats {
    /// Live allocations.
    pub allocated: u64,
    /// Pages holding them.
    pub active: u64,
    /// Touched and not yet returned to the kernel.
    pub resident: u64,
}

/// A node's `getmemoryinfo` (the fields the testnet reads).
#[derive(Debug, Clone, Deserialize)]
pub struct MemoryInfo {
    /// The allocator's counts, when it keeps them.
    pub stats: Option<AllocatorStats>,
    /// Threads in the node's process.
    #[serde(default)]
    pub threads: Option<u64>,
}

/// A client for one node's RPC.
#[derive(Debug, Clone)]
pub struct NodeRpc {
    client: HttpClient,
    /// The URL.
    pub url: String,
}

impl NodeRpc {
    /// A client for `url` with Basic credentials.
    ///
    /// # Errors
    /// A malformed URL.
    pub fn new(url: &str, user: &str, password: &str, timeout: Duration) -> Result<Self, RpcError> {
        let mut headers = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let value = HeaderValue::from_str(&format!("Basic {token}")).map_err(|e| RpcError {
            method: "connect",
            message: e.to_string(),
            code: None,
        })?;
        headers.insert("authorization", value);
        let client = HttpClientBuilder::default()
            .set_headers(headers)
            .request_timeout(timeout)
            .max_response_size(512 * 1024 * 1024)
            .max_request_size(64 * 1024 * 1024)
            .build(url)
            .map_err(|e| RpcError {
                method: "connect",
                message: e.to_string(),
                code: None,
            })?;
        Ok(Self {
            client,
            url: url.to_owned(),
        })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: &'static str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> Result<T, RpcError> {
        self.client
            .request(method, params)
            .await
            .map_err(|e| RpcError {
                method,
                code: match &e {
                    jsonrpsee::core::client::Error::Call(c) => Some(c.code()),
                    _ => None,
                },
                message: e.to_string(),
            })
    }

    /// `getblockchaininfo`.
    pub async fn chain_info(&self) -> Result<ChainInfo, RpcError> {
        self.call("getblockchaininfo", rpc_params![]).await
    }

    /// `getnetworkinfo`.
    pub async fn network_info(&self) -> Result<NetworkInfo, RpcError> {
        self.call("getnetworkinfo", rpc_params![]).await
    }

    /// `sendrawtransaction`: the txid.
    pub async fn send_raw(&self, hex: &str) -> Result<String, RpcError> {
        self.call("sendrawtransaction", rpc_params![hex]).await
    }

    /// `sendrawtransactions`: one result per transaction, in order.
    pub async fn send_raw_many(&self, hexes: &[&str]) -> Result<Vec<SubmitResult>, RpcError> {
        let v: Vec<Value> = self.call("sendrawtransactions", rpc_params![hexes]).await?;
        if v.len() != hexes.len() {
            return Err(RpcError::answer(
                "sendrawtransactions",
                format!("{} results for {} transactions", v.len(), hexes.len()),
            ));
        }
        Ok(v.iter()
            .map(|r| match r.get("error") {
                None | Some(Value::Null) => SubmitResult::Accepted,
                Some(e) => SubmitResult::Refused {
                    code: e
                        .get("code")
                        .and_then(Value::as_i64)
                        .and_then(|c| i32::try_from(c).ok())
                        .unwrap_or(jsonrpsee::types::error::INTERNAL_ERROR_CODE),
                    message: e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                },
            })
            .collect())
    }

    /// `generatetoaddress 1`: the block hash.
    pub async fn generate_one(&self, address: &str) -> Result<String, RpcError> {
        let v: Vec<String> = self
            .call("generatetoaddress", rpc_params![1, address])
            .await?;
        v.into_iter()
            .next()
            .ok_or_else(|| RpcError::answer("generatetoaddress", "no block returned"))
    }

    /// `getpropagation` for records since `since_ns`.
    pub async fn propagation_since(&self, since_ns: u64) -> Result<Vec<FirstSeen>, RpcError> {
        let q = serde_json::json!({ "since_ns": since_ns, "limit": 50_000_000u64 });
        self.call("getpropagation", rpc_params![q]).await
    }

    /// `getrelaystats`.
    pub async fn relay_stats(&self) -> Result<RelayStats, RpcError> {
        self.call("getrelaystats", rpc_params![]).await
    }

    /// `getmemoryinfo`.
    pub async fn memory_info(&self) -> Result<MemoryInfo, RpcError> {
        self.call("getmemoryinfo", rpc_params![]).await
    }

    /// `getpeerinfo`.
    pub async fn peers(&self) -> Result<Vec<PeerInfo>, RpcError> {
        self.call("getpeerinfo", rpc_params![]).await
    }

    /// `getrawmempool`: txids.
    pub async fn mempool(&self) -> Result<Vec<String>, RpcError> {
        self.call("getrawmempool", rpc_params![]).await
    }

    /// `getblockhash height`.
    pub async fn block_hash(&self, height: u64) -> Result<String, RpcError> {
        self.call("getblockhash", rpc_params![height]).await
    }

    /// `getblock hash 1`: the txids of a block.
    pub async fn block_txids(&self, hash: &str) -> Result<Vec<String>, RpcError> {
        let v: Value = self.call("getblock", rpc_params![hash, 1]).await?;
        let txs = v
            .get("tx")
            .and_then(Value::as_array)
            .ok_or_else(|| RpcError::answer("getblock", "no tx list in the answer"))?;
        Ok(txs
            .iter()
            .filter_map(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .or_else(|| t.get("txid").and_then(Value::as_str).map(str::to_owned))
            })
            .collect())
    }

    /// `setban peer_id add ms`: disconnect and refuse a peer for a while.
    pub async fn ban(&self, peer_id: &str, for_ms: u64) -> Result<(), RpcError> {
        let _: Value = self
            .call("setban", rpc_params![peer_id, "add", for_ms])
            .await?;
        Ok(())
    }

    /// `clearbanned`.
    pub async fn clear_bans(&self) -> Result<(), RpcError> {
        let _: Value = self.call("clearbanned", rpc_params![]).await?;
        Ok(())
    }
}

//! rumor-node: the full node `rumord`. It keeps the chain in a redb store,
//! owns the mempool, plugs `rumor-chain` validation into the `rumor-p2p`
//! relay, mines, and answers JSON-RPC and Prometheus scrapes.
//!
//! # Map
//! - `config`: flags, `RUMOR_*` env vars and `rumord.toml`, merged into a [`NodeConfig`].
//! - `datadir`: layout, exclusive lock, node and miner keys, RPC cookie.
//! - `store`: [`RedbStore`], the durable `ChainStore`, with address and tx indexes.
//! - `core`: [`NodeCore`], chain state + mempool behind one lock: the write
//!   path (rumor-chain's acceptance pipeline) and the read model.
//! - `validator`: [`Validator`], the one batching validation queue for RPC
//!   submissions, the miner and bodies from the network.
//! - `admission`: when clients' transactions are refused ([`Busy`], RPC
//!   −28 "node busy, retry") rather than queued past what the node carries.
//! - `mempool_file`: [`MempoolFile`], `mempool.dat`: the mempool written at
//!   shutdown and loaded through the validator at start.
//! - `answers`: answers to the p2p layer's questions, off the async runtime.
//! - `ban_file`: [`BanFile`], `banlist.json`: the bans the p2p layer
//!   reports, written as they change and handed back to it at start.
//! - [`reasons`]: stable labels for every rejection (rumor-chain's).
//! - `miner`: `--mine` and `generatetoaddress`.
//! - [`rpc`]: JSON-RPC server, auth, methods, submission batching.
//! - `metrics`: Prometheus registry and the `/metrics` server (every family
//!   in `docs/metrics.md`); `process_metrics`: the `process_*` families from `/proc`.
//! - `status`: the operator's status line, once a minute at info level.
//! - `memory`: resident size and the allocator's counts ([`memory_info`]).
//! - `run`: start-up and graceful shutdown ([`run()`], [`start`]); `shutdown`: the stop signal.
//! - `client`: the small RPC client behind `rumord health`.
//! - `verify`: [`verify_store`], a store checked against a replay of its best chain
//!   (`rumord verify`, RPC `verifychain`).

mod admission;
mod answers;
mod ban_file;
mod client;
mod config;
mod core;
mod datadir;
mod memory;
mod mempool_file;
mod metrics;
mod miner;
mod process_metrics;
pub use rumor_chain::reasons;
pub mod rpc;
mod run;
mod shutdown;
mod status;
mod store;
mod validator;
mod verify;

pub use admission::{Busy, Limits as AdmissionLimits, Load};
pub use ban_file::{BAN_FILE, BAN_FILE_VERSION, BanFile, BanFileError};
pub use client::{ClientError, call as call_rpc, read_cookie};
pub use config::{
    CONFIG_FILE, ConfigError, DEFAULT_BLOCK_INTERVAL_MS, DEFAULT_DB_CACHE_MIB,
    DEFAULT_GENESIS_OUTPUTS, LogFormat, NodeConfig, RpcAuth, Settings, default_datadir,
    default_listen, default_rpc_bind, parse_seed, resolve_datadir,
};
pub use core::{
    ChainInfo, CoreError, NodeCore, PoolEntry, PoolSummary, Processed, Unspent, now_ms,
};
pub use datadir::{COOKIE_USER, DataDir, DataDirError};
pub use memory::{
    Allocator, AllocatorStats, MemoryInfo, allocator_dump, memory_info, set_allocator,
};
pub use mempool_file::{
    LoadReport, MEMPOOL_FILE, MEMPOOL_FILE_VERSION, MempoolFile, MempoolFileError, SaveError,
    decode_mempool_file, encode_mempool_file, read_mempool_file, write_mempool_file,
};
pub use metrics::{
    AcceptedLabels, AllocatorLabels, BatchLabels, BytesLabels, EventLabels, FaultLabels,
    NodeMetrics, ReasonLabels, RefusedLabels, RejectedLabels, TopicLabels,
};
pub use miner::{MineError, generate, mine_one};
pub use run::{NodeError, RunningNode, run, start};
pub use shutdown::{Shutdown, StopReason};
pub use store::{RedbStore, SCHEMA_VERSION, StoreError, StoreReader, UtxoSnapshot};
pub use validator::Validator;
pub use verify::{VerifyError, VerifyReport, verify_store};

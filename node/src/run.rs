//! [`run`]: the node's life. Open the data directory, the store and the
//! chain; start p2p, RPC, metrics and the miner; wait for a stop; then shut
//! down in reverse order and close the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rumor_chain::{ChainState, MempoolConfig, OpenError};
use rumor_p2p::Keypair;

use crate::ban_file::BanFile;
use crate::config::{ConfigError, NodeConfig, RpcAuth};
use crate::core::NodeCore;
use crate::datadir::{COOKIE_USER, DataDir, DataDirError};
use crate::mempool_file::{MempoolFile, SaveError};
use crate::metrics::NodeMetrics;
use crate::rpc::{self, RpcContext};
use crate::shutdown::{Shutdown, StopReason};
use crate::store::{RedbStore, StoreError};
use crate::validator::Validator;

/// Why the node could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory is unusable (locked, corrupt, I/O).
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The chain store cannot be opened (corrupt, another network, I/O).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The p2p layer could not start.
    #[error("p2p: {0}")]
    P2p(#[from] rumor_p2p::StartError),
    /// The RPC server could not bind.
    #[error("cannot bind RPC on {addr}: {source}")]
    RpcBind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The metrics server could not bind.
    #[error("cannot bind metrics on {addr}: {source}")]
    MetricsBind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The validation thread could not be started.
    #[error("cannot start the validator: {0}")]
    Validator(#[source] std::io::Error),
    /// The node stopped because it could not go on safely.
    #[error("{0}")]
    Fatal(String),
}

fn open_error(e: OpenError<StoreError>) -> NodeError {
    match e {
        OpenError::WrongNetwork { expected, found } => NodeError::Store(StoreError::Corrupt(
            format!("the best chain starts at {found}, not at this network's genesis {expected}"),
        )),
        OpenError::Corrupt(m) => NodeError::Store(StoreError::Corrupt(m)),
        OpenError::Store(e) => NodeError::Store(e),
    }
}

/// Runs a node until `stop` completes, `stop` is called over RPC, or a fatal
/// error happens.
///
/// # Errors
/// [`NodeError`]: start-up failures, or a fatal error while running.
pub async fn run(config: NodeConfig, stop: impl Future<Output = ()>) -> Result<(), NodeError> {
    let shutdown = Shutdown::new();
    let node = start(config, shutdown.clone()).await?;
    tokio::select! {
        _ = stop => shutdown.trigger(StopReason::Requested("signal")),
        _ = shutdown.wait() => {}
    }
    node.stop().await
}

/// A started node; [`RunningNode::stop`] shuts it down.
#[derive(Debug)]
pub struct RunningNode {
    datadir: DataDir,
    core: Arc<NodeCore>,
    p2p: rumor_p2p::P2pHandle,
    p2p_task: tokio::task::JoinHandle<()>,
    validator: std::thread::JoinHandle<()>,
    rpc: rpc::RpcServer,
    mempool_file: MempoolFile,
    shutdown: Shutdown,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts every part of the node; returns once RPC is listening.
///
/// # Errors
/// [`NodeError`] naming what could not start.
pub async fn start(config: NodeConfig, shutdown: Shutdown) -> Result<RunningNode, NodeError> {
    let datadir = DataDir::open(&config.datadir)?;
    let store =
        RedbStore::open_with_cache(&datadir.chain_db(), &config.params, config.db_cache_bytes)?;
    let chain = ChainState::open(config.params.clone(), store).map_err(open_error)?;
    let tip = *chain.tip();
    tracing::info!(height = tip.height, tip = %tip.hash, "chain loaded");

    let metrics = Arc::new(NodeMetrics::new());
    let mempool = MempoolConfig {
        max_bytes: config.max_mempool_bytes,
        ..MempoolConfig::default()
    };
    let core = Arc::new(NodeCore::new(chain, mempool, shutdown.clone()));

    let seed = datadir.node_key(config.node_key)?;
    let key = Keypair::ed25519_from_bytes(seed).map_err(|e| DataDirError::Corrupt {
        path: datadir.path().join("node_key"),
        reason: e.to_string(),
    })?;
    // The bans of the last run, kept by `ban_file` as the p2p layer
    // reports them.
    let ban_file = BanFile::new(datadir.ban_file());
    let p2p_config = rumor_p2p::P2pConfig {
        bans: ban_file.load(),
        ..config.p2p.clone()
    };
    let (ban_lists, ban_list) = tokio::sync::watch::channel(p2p_config.bans.clone());
    let p2p = rumor_p2p::start(p2p_config, key).await?;
    let handle = p2p.handle.clone();
    let (validator, validator_thread) = Validator::start(
        Arc::clone(&core),
        handle.clone(),
        p2p.bodies,
        Arc::clone(&metrics),
        config.admission,
        shutdown.clone(),
    )
    .map_err(NodeError::Validator)?;
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(crate::answers::run(
        Arc::clone(&core),
        p2p.events,
        ban_lists,
    )));
    tasks.push(tokio::spawn(crate::ban_file::keep(ban_file, ban_list)));
    // The mempool saved at the last shutdown, through the validator like
    // any submission, while the node already serves.
    let mempool_file = MempoolFile::new(datadir.mempool_file());
    {
        let (file, core, validator) = (mempool_file.clone(), Arc::clone(&core), validator.clone());
        tasks.push(tokio::spawn(async move {
            file.load(&core, &validator).await;
        }));
    }

    let (user, password) = match &config.rpc_auth {
        RpcAuth::Cookie => (COOKIE_USER.to_owned(), datadir.write_cookie()?),
        RpcAuth::UserPassword { user, password } => (user.clone(), password.clone()),
    };
    let ctx = RpcContext {
        core: Arc::clone(&core),
        p2p: handle.clone(),
        validator: validator.clone(),
        shutdown: shutdown.clone(),
        relay: config.p2p.relay,
        link: config.p2p.link,
        mempool_file: mempool_file.clone(),
    };
    let rpc = rpc::start(config.rpc_bind, &user, &password, ctx)
        .await
        .map_err(|source| NodeError::RpcBind {
            addr: config.rpc_bind,
            source,
        })?;
    tracing::info!(addr = %rpc.addr, "rpc listening");
    let addrs: Vec<String> = handle
        .listen_addrs()
        .await
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    tracing::info!(addrs = ?addrs, peer_id = %handle.peer_id(), "p2p listening");

    tasks.push(tokio::spawn(crate::status::run(
        config.status_interval,
        Arc::clone(&core),
        handle.clone(),
        Arc::clone(&metrics),
        shutdown.clone(),
    )));

    if let Some(addr) = config.metrics {
        let listener = crate::metrics::bind(addr)
            .await
            .map_err(|source| NodeError::MetricsBind { addr, source })?;
        tracing::info!(addr = %listener.local_addr().unwrap_or(addr), "metrics listening");
        tasks.push(tokio::spawn(crate::metrics::serve(
            listener,
            metrics,
            Arc::clone(&core),
            handle.clone(),
            shutdown.clone(),
        )));
    }

    if config.mine {
        let pay_to = match config.mine_address {
            Some(a) => a,
            None => datadir.miner_key()?.address(),
        };
        tasks.push(tokio::spawn(crate::miner::run(
            Arc::clone(&core),
            validator,
            pay_to,
            config.block_interval,
            shutdown.clone(),
        )));
    }

    Ok(RunningNode {
        datadir,
        core,
        p2p: handle,
        p2p_task: p2p.task,
        validator: validator_thread,
        rpc,
        mempool_file,
        shutdown,
        tasks,
    })
}

impl RunningNode {
    /// The RPC address.
    pub fn rpc_addr(&self) -> SocketAddr {
        self.rpc.addr
    }

    /// The node core.
    pub fn core(&self) -> &Arc<NodeCore> {
        &self.core
    }

    /// Shuts down in order: miner and metrics, RPC, p2p, the validator;
    /// then saves the mempool and closes the store.
    ///
    /// # Errors
    /// [`NodeError::Fatal`] if the node stopped because of a fatal error.
    pub async fn stop(self) -> Result<(), NodeError> {
        let reason = self
            .shutdown
            .reason()
            .unwrap_or(StopReason::Requested("stop"));
        self.shutdown.trigger(reason.clone());
        tracing::info!(reason = ?reason, "shutting down");
        for t in self.tasks {
            t.abort();
        }
        self.rpc.stop().await;
        let _ = self.p2p.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.p2p_task).await;
        // The validator stops on the shutdown signal, after its batch.
        let validator = self.validator;
        let _ = tokio::task::spawn_blocking(move || validator.join()).await;
        save_mempool(&self.mempool_file, &self.core).await;
        self.core.close();
        self.datadir.remove_cookie();
        tracing::info!("stopped");
        match reason {
            StopReason::Fatal(m) => Err(NodeError::Fatal(m)),
            StopReason::Requested(_) => Ok(()),
        }
    }
}

/// Writes the mempool file at shutdown, once nothing can change the mempool.
async fn save_mempool(file: &MempoolFile, core: &Arc<NodeCore>) {
    let (f, c) = (file.clone(), Arc::clone(core));
    let path = file.path().display().to_string();
    match tokio::task::spawn_blocking(move || f.save(&c)).await {
        Ok(Ok(txs)) => tracing::info!(path, txs, "mempool saved"),
        Ok(Err(SaveError::NotLoaded)) => tracing::warn!(
            path,
            "mempool not saved: loading it had not finished; the file is kept for the next start"
        ),
        Ok(Err(e)) => tracing::warn!(path, error = %e, "mempool not saved"),
        Err(e) => tracing::warn!(path, error = %e, "mempool not saved"),
    }
}

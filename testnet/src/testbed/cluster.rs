//! What every backend shares: the node specs (keys, ports, flags) and the
//! [`Cluster`] a run drives, whatever runs the nodes.

use std::path::PathBuf;
use std::time::Duration;

use rumor_p2p::{Keypair, PeerId};

use super::compose::ComposeCluster;
use super::local::LocalCluster;
use super::plan::{Relay, RunArgs, Topology};
use super::rpc::NodeRpc;
use super::swarm::{SwarmCluster, SwarmError};

/// Why the cluster could not be started or driven.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// `rumord` could not be found or built.
    #[error("rumord binary: {0}")]
    Binary(String),
    /// A process or container could not be started.
    #[error("starting node {node}: {reason}")]
    Start {
        /// The node.
        node: usize,
        /// Why.
        reason: String,
    },
    /// Nodes did not become ready in time.
    #[error("nodes not ready after {0:?}: {1}")]
    NotReady(Duration, String),
    /// docker / docker-compose failed.
    #[error("docker: {0}")]
    Docker(String),
    /// `--image` names an image that is neither on this engine nor pullable.
    #[error("image {image} is not on this docker engine and cannot be pulled: {reason}")]
    ImageMissing {
        /// The image.
        image: String,
        /// docker's answer to the pull.
        reason: String,
    },
    /// The Docker Swarm backend refused or failed.
    #[error(transparent)]
    Swarm(#[from] SwarmError),
    /// File system trouble.
    #[error("{0}")]
    Io(String),
}

/// One node's fixed identity and flags.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// Index 0..n.
    pub index: usize,
    /// Secret key seed (hex), so the PeerId is known before start.
    pub key_hex: String,
    /// Its PeerId.
    pub peer_id: PeerId,
    /// Nodes it dials at start.
    pub dials: Vec<usize>,
}

/// The parameters every node of a run shares.
#[derive(Debug, Clone)]
pub struct NodeFlags {
    /// Genesis outputs (enough for the workload).
    pub genesis_outputs: usize,
    /// Relay mode.
    pub relay: Relay,
    /// gossipsub D.
    pub mesh_d: usize,
    /// Anti-entropy interval.
    pub sync_interval: Duration,
    /// Batch window (batch mode).
    pub batch_window: Duration,
    /// Eager degree (hybrid mode).
    pub eager_degree: u16,
    /// Link emulation.
    pub link_delay: Duration,
    /// Jitter.
    pub link_jitter: Duration,
    /// Loss in [0, 1].
    pub link_loss: f64,
    /// Bits per second (0: unlimited).
    pub link_bandwidth: u64,
    /// Peer exchange on (the bootnode topology).
    pub discovery: bool,
    /// Outbound peers to keep.
    pub target_peers: usize,
    /// Most connections at once.
    pub max_peers: usize,
    /// Async worker threads per node (0: the node's default, one per core).
    pub threads: usize,
    /// RPC credential.
    pub rpc_user: String,
    /// RPC credential.
    pub rpc_password: String,
}

impl NodeFlags {
    /// The flags for `rumord` shared by every node, in any backend.
    pub fn args(&self) -> Vec<String> {
        let d = self.mesh_d;
        let mut a = vec![
            "--network".into(),
            "testnet".into(),
            "--genesis-outputs".into(),
            self.genesis_outputs.to_string(),
            "--relay".into(),
            self.relay.as_str().into(),
            "--mesh-d".into(),
            d.to_string(),
            "--mesh-d-low".into(),
            (d * 2 / 3).max(1).to_string(),
            "--mesh-d-high".into(),
            (d * 2).to_string(),
            "--mesh-d-lazy".into(),
            d.to_string(),
            "--sync-interval-ms".into(),
            self.sync_interval.as_millis().to_string(),
            "--batch-window-ms".into(),
            self.batch_window.as_millis().max(1).to_string(),
            "--eager-degree".into(),
            self.eager_degree.to_string(),
            "--link-delay-ms".into(),
            self.link_delay.as_millis().to_string(),
            "--link-jitter-ms".into(),
            self.link_jitter.as_millis().to_string(),
            "--link-loss".into(),
            self.link_loss.to_string(),
            "--link-bandwidth-bps".into(),
            self.link_bandwidth.to_string(),
            "--target-peers".into(),
            self.target_peers.to_string(),
            "--max-peers".into(),
            self.max_peers.to_string(),
            "--rpc-user".into(),
            self.rpc_user.clone(),
            "--rpc-password".into(),
            self.rpc_password.clone(),
            "--log-format".into(),
            "json".into(),
        ];
        if self.threads > 0 {
            a.push("--threads".into());
            a.push(self.threads.to_string());
        }
        if !self.discovery {
            a.push("--no-discovery".into());
        }
        a
    }
}

/// Node identities and dial lists for a run, derived from the seed.
pub fn node_specs(args: &RunArgs, edges: &[(usize, usize)]) -> Vec<NodeSpec> {
    (0..args.nodes)
        .map(|i| {
            let mut seed_input = b"rumor-testnet/node-key/".to_vec();
            seed_input.extend_from_slice(&args.seed.to_le_bytes());
            seed_input.extend_from_slice(&(i as u64).to_le_bytes());
            let seed = rumor_chain::sha256(&seed_input);
            let key = Keypair::ed25519_from_bytes(seed).expect("32-byte seed");
            NodeSpec {
                index: i,
                key_hex: hex::encode(seed),
                peer_id: key.public().to_peer_id(),
                dials: edges
                    .iter()
                    .filter(|(a, _)| *a == i)
                    .map(|(_, b)| *b)
                    .collect(),
            }
        })
        .collect()
}

/// A node's default peer target and limit (`rumord`'s own defaults).
const DEFAULT_TARGET_PEERS: usize = 8;
const DEFAULT_MAX_PEERS: usize = 64;

/// The peer target and limit every node needs for the topology the run
/// asks for: a node keeps dialling its links only while below its target,
/// so a target under its degree left links undialled (`--degree 10` on 16
/// nodes stopped at 8 peers), and the bootnode takes every other node.
pub fn peer_limits(args: &RunArgs) -> (usize, usize) {
    if args.topology == Topology::Bootnode {
        let most = args.nodes.saturating_sub(1);
        return (
            args.degree(),
            DEFAULT_MAX_PEERS.max(most + DEFAULT_TARGET_PEERS),
        );
    }
    let links = rumor_sim::edges(args.topology, args.nodes, args.degree(), args.seed);
    let mut degree = vec![0usize; args.nodes];
    for (a, b) in links {
        degree[a] += 1;
        degree[b] += 1;
    }
    let most = degree.into_iter().max().unwrap_or(0);
    (
        DEFAULT_TARGET_PEERS.max(most),
        DEFAULT_MAX_PEERS.max(most + DEFAULT_TARGET_PEERS),
    )
}

/// The shared flags of a run.
pub fn node_flags(args: &RunArgs, relay: Relay, generated_password: &str) -> NodeFlags {
    let password = args.rpc_password.as_deref().unwrap_or(generated_password);
    let (target_peers, max_peers) = peer_limits(args);
    NodeFlags {
        genesis_outputs: args.txs.max(10_000),
        relay,
        mesh_d: args.mesh_d(),
        sync_interval: args.sync_interval,
        batch_window: args.batch_window,
        eager_degree: args.eager_degree,
        link_delay: args.link_delay,
        link_jitter: args.link_jitter,
        link_loss: args.link_loss,
        link_bandwidth: args.link_bandwidth,
        discovery: args.topology == Topology::Bootnode,
        target_peers,
        max_peers,
        // Many nodes on few cores: one async worker each, so they do not
        // fight over the cores with idle threads and context switches.
        threads: {
            let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
            if args.nodes > cores { 1 } else { 0 }
        },
        rpc_user: "rumor".into(),
        rpc_password: password.to_owned(),
    }
}

/// Nodes running somewhere: local processes or containers.
pub enum Cluster {
    /// Local processes.
    Local(LocalCluster),
    /// docker-compose.
    Compose(ComposeCluster),
    /// A Docker Swarm stack.
    Swarm(SwarmCluster),
}

impl Cluster {
    /// Node `i`'s RPC client.
    pub fn rpc(&self, i: usize) -> &NodeRpc {
        match self {
            Self::Local(c) => c.rpc(i),
            Self::Compose(c) => c.rpc(i),
            Self::Swarm(c) => c.rpc(i),
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        match self {
            Self::Local(c) => c.len(),
            Self::Compose(c) => c.len(),
            Self::Swarm(c) => c.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Kills node `i` at once (SIGKILL: no shutdown, no flush).
    ///
    /// # Errors
    /// The kill failed.
    pub async fn kill(&mut self, i: usize) -> Result<(), ClusterError> {
        match self {
            Self::Local(c) => c.kill(i).await,
            Self::Compose(c) => c.kill(i).await,
            Self::Swarm(c) => c.kill(i).await,
        }
    }

    /// Restarts node `i` with its data.
    ///
    /// # Errors
    /// The restart failed.
    pub async fn restart(&mut self, i: usize) -> Result<(), ClusterError> {
        match self {
            Self::Local(c) => c.restart(i).await,
            Self::Compose(c) => c.restart(i).await,
            Self::Swarm(c) => c.restart(i).await,
        }
    }

    /// Stops every node and removes what the backend created (processes,
    /// containers, networks). Safe to call more than once.
    pub async fn teardown(&mut self) {
        match self {
            Self::Local(c) => c.teardown().await,
            Self::Compose(c) => c.teardown().await,
            Self::Swarm(c) => c.teardown().await,
        }
    }

    /// Node `i`'s process id and resident memory in KiB (local processes only).
    pub fn pid_and_rss_kib(&self, i: usize) -> Option<(u32, u64)> {
        match self {
            Self::Local(c) => c.pid_and_rss_kib(i),
            Self::Compose(_) | Self::Swarm(_) => None,
        }
    }

    /// A local node that exited by itself (containers: always `None`; a
    /// swarm node that fails to start fails the start).
    pub fn exited(&mut self) -> Option<(usize, String)> {
        match self {
            Self::Local(c) => c.exited(),
            Self::Compose(_) | Self::Swarm(_) => None,
        }
    }

    /// Where node logs are.
    pub fn log_hint(&self) -> PathBuf {
        match self {
            Self::Local(c) => c.log_dir(),
            Self::Compose(c) => c.log_dir(),
            Self::Swarm(c) => c.log_dir(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        run: RunArgs,
    }

    fn args(line: &[&str]) -> RunArgs {
        Cmd::try_parse_from(std::iter::once("run").chain(line.iter().copied()))
            .unwrap()
            .run
    }

    #[test]
    fn peer_limits_fit_the_topology() {
        // Degree 10 of 16: every node may keep (and keeps dialling) 10 links.
        let a = args(&["-n", "16", "--degree", "10"]);
        a.validate().unwrap();
        let (target, max) = peer_limits(&a);
        assert!(target >= 10, "target {target}");
        assert!(max >= target);
        // The default graph keeps rumord's defaults.
        assert_eq!(peer_limits(&args(&[])), (8, 64));
        // Every node links to every other.
        let full = args(&["-n", "70", "--degree", "69"]);
        full.validate().unwrap();
        let (target, max) = peer_limits(&full);
        assert!(target >= 69 && max >= 69, "{target} {max}");
        // The bootnode takes every other node.
        let (_, max) = peer_limits(&args(&["-n", "100", "--topology", "bootnode"]));
        assert!(max >= 99);
    }

    #[test]
    fn two_nodes_work_with_the_default_degree() {
        let a = args(&["-n", "2"]);
        assert_eq!(a.degree(), 1);
        a.validate().unwrap();
        let e = args(&["-n", "16", "--degree", "16"])
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("between 2 and nodes-1 = 15"), "{e}");
    }
}

//! The nodes an attack runs against: a target `rumord` and honest `rumord`
//! peers that reach each other only through the target (a star), so every
//! honest object between them is relayed by the target. Real processes on
//! 127.0.0.1 with fixed node keys, regtest and fast timers.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rumor_p2p::{Keypair, Multiaddr, PeerId};
use tokio::process::{Child, Command};

use super::AttackError;
use crate::testbed::rpc::NodeRpc;

/// RPC credential of every node.
const RPC_USER: &str = "attack";
/// RPC credential of every node.
const RPC_PASSWORD: &str = "attack-password";

/// One running node.
pub struct NodeProc {
    /// Index (0 is the target).
    pub index: usize,
    /// Its PeerId.
    pub peer_id: PeerId,
    /// Its p2p address with `/p2p/<id>`.
    pub addr: Multiaddr,
    /// Its RPC.
    pub rpc: NodeRpc,
    /// Its log file.
    pub log: PathBuf,
    /// Its p2p address on a non-loopback interface of this host (the
    /// target only, when the host has one), with `/p2p/<id>`: peers that
    /// dial it connect from an address a ban may name (loopback never is).
    pub external_addr: Option<Multiaddr>,
    child: Child,
    /// How it was started (to start it again).
    command: (PathBuf, Vec<String>),
}

impl NodeProc {
    /// Whether the process is still running (a panic or abort ends it).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its peak resident memory (VmHWM) in MiB, from `/proc`.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }

    /// The last lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The target (node 0) and the honest nodes.
pub struct Cluster {
    /// Every node; `nodes[0]` is the target.
    pub nodes: Vec<NodeProc>,
}

fn free_port() -> Result<u16, AttackError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| AttackError::Setup(format!("finding a free port: {e}")))
}

fn node_key(i: usize) -> ([u8; 32], PeerId) {
    let mut input = b"rumor-testnet/attack/node-key/".to_vec();
    input.extend_from_slice(&(i as u64).to_le_bytes());
    let seed = rumor_chain::sha256(&input);
    let key = Keypair::ed25519_from_bytes(seed).expect("32-byte seed");
    (seed, key.public().to_peer_id())
}

/// The PeerId and address node `i` will have when it listens on `port`
/// (node keys are derived from the index, so a node's address is known
/// before it starts).
pub fn planned_addr(i: usize, port: u16) -> Multiaddr {
    let (_, peer_id) = node_key(i);
    format!("/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id}")
        .parse()
        .expect("a valid multiaddr")
}

/// Starts node `i` under `root`, listening on `p2p_port`, with `extra`
/// flags, and waits until its RPC answers. The target (`i == 0`) also
/// listens on a non-loopback address of this host, if it has one.
async fn launch(
    rumord: &Path,
    root: &Path,
    i: usize,
    p2p_port: u16,
    extra: &[String],
    genesis_outputs: u32,
) -> Result<NodeProc, AttackError> {
    let (seed, peer_id) = node_key(i);
    let rpc_port = free_port()?;
    let datadir = root.join(format!("node-{i}"));
    let _ = std::fs::remove_dir_all(&datadir);
    let mut args = vec![
        "--datadir".to_owned(),
        datadir.display().to_string(),
        "--listen".into(),
        format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
        "--rpc-bind".into(),
        format!("127.0.0.1:{rpc_port}"),
        "--node-key".into(),
        hex::encode(seed),
    ];
    args.extend(extra.iter().cloned());
    let mut external_addr = None;
    if i == 0
        && let Some(ip) = external_ip()
    {
        let port = free_port()?;
        args.push("--listen".into());
        args.push(format!("/ip4/{ip}/tcp/{port}"));
        external_addr = format!("/ip4/{ip}/tcp/{port}/p2p/{peer_id}").parse().ok();
    }
    args.extend(base_flags(genesis_outputs));
    let log = root.join(format!("node-{i}.log"));
    let child = spawn(rumord, &args, &log, false)?;
    let rpc = NodeRpc::new(
        &format!("http://127.0.0.1:{rpc_port}"),
        RPC_USER,
        RPC_PASSWORD,
        Duration::from_secs(30),
    )
    .map_err(|e| AttackError::Setup(e.to_string()))?;
    let mut node = NodeProc {
        index: i,
        peer_id,
        addr: planned_addr(i, p2p_port),
        rpc,
        log,
        external_addr,
        child,
        command: (rumord.to_owned(), args),
    };
    wait_ready(&mut node).await?;
    Ok(node)
}

/// Every node's fetch timeout, ms.
pub const FETCH_TIMEOUT_MS: u64 = 800;

/// The flags every node gets.
pub fn base_flags(genesis_outputs: u32) -> Vec<String> {
    [
        "--network",
        "regtest",
        "--genesis-outputs",
        &genesis_outputs.to_string(),
        "--no-discovery",
        "--heartbeat-ms",
        "100",
        "--sync-interval-ms",
        "300",
        "--fetch-timeout-ms",
        &FETCH_TIMEOUT_MS.to_string(),
        "--mesh-d",
        "3",
        "--mesh-d-low",
        "1",
        "--mesh-d-high",
        "8",
        "--mesh-d-lazy",
        "3",
        "--rpc-user",
        RPC_USER,
        "--rpc-password",
        RPC_PASSWORD,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl Cluster {
    /// Starts the target and `honest` honest nodes under `root`, each honest
    /// node dialing the target, and waits until all are connected.
    ///
    /// # Errors
    /// [`AttackError::Setup`] if a node does not start or connect.
    pub async fn start(
        rumord: &Path,
        root: &Path,
        honest: usize,
        genesis_outputs: u32,
    ) -> Result<Self, AttackError> {
        Self::start_with(rumord, root, honest, genesis_outputs, &[]).await
    }

    /// [`Cluster::start`], with extra flags for the target only.
    ///
    /// # Errors
    /// [`AttackError::Setup`] if a node does not start or connect.
    pub async fn start_with(
        rumord: &Path,
        root: &Path,
        honest: usize,
        genesis_outputs: u32,
        target_flags: &[&str],
    ) -> Result<Self, AttackError> {
        std::fs::create_dir_all(root)
            .map_err(|e| AttackError::Setup(format!("{}: {e}", root.display())))?;
        let mut nodes: Vec<NodeProc> = Vec::new();
        for i in 0..=honest {
            let extra: Vec<String> = if i > 0 {
                vec!["--bootnode".into(), nodes[0].addr.to_string()]
            } else {
                target_flags.iter().map(|f| f.to_string()).collect()
            };
            let node = launch(rumord, root, i, free_port()?, &extra, genesis_outputs).await?;
            nodes.push(node);
        }
        let cluster = Self { nodes };
        cluster
            .wait_for_honest(honest, Duration::from_secs(30))
            .await?;
        // Let the meshes form.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(cluster)
    }

    /// Stops the target (SIGTERM, as an operator would; SIGKILL after
    /// 10 s) and starts it again on the same data directory, flags and
    /// ports, its log continued; returns once its RPC answers and its
    /// honest peers are back (they dial it again themselves).
    ///
    /// # Errors
    /// [`AttackError::Setup`] if it does not stop, start or reconnect.
    pub async fn restart_target(&mut self) -> Result<(), AttackError> {
        let honest = self.honest().len();
        let target = &mut self.nodes[0];
        if let Some(pid) = target.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(10), target.child.wait())
            .await
            .is_err()
        {
            let _ = target.child.kill().await;
        }
        let (rumord, args) = &target.command;
        target.child = spawn(rumord, args, &target.log, true)?;
        wait_ready(target).await?;
        self.wait_for_honest(honest, Duration::from_secs(30)).await
    }

    /// Starts node `i` listening on `p2p_port`, dialing no one (the target
    /// may dial it), and adds it to the cluster's nodes.
    ///
    /// # Errors
    /// [`AttackError::Setup`] if it does not start.
    pub async fn add_node(
        &mut self,
        rumord: &Path,
        root: &Path,
        i: usize,
        p2p_port: u16,
        genesis_outputs: u32,
    ) -> Result<(), AttackError> {
        let node = launch(rumord, root, i, p2p_port, &[], genesis_outputs).await?;
        self.nodes.push(node);
        Ok(())
    }

    /// Waits until the target has `honest` peers.
    async fn wait_for_honest(&self, honest: usize, within: Duration) -> Result<(), AttackError> {
        let deadline = Instant::now() + within;
        loop {
            let peers = self
                .target()
                .rpc
                .peers()
                .await
                .map(|p| p.len())
                .unwrap_or(0);
            if peers >= honest {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(AttackError::Setup(format!(
                    "the target has {peers} of {honest} honest peers after {within:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The target.
    pub fn target(&self) -> &NodeProc {
        &self.nodes[0]
    }

    /// The honest nodes.
    pub fn honest(&self) -> &[NodeProc] {
        &self.nodes[1..]
    }

    /// Stops every node (SIGTERM, then SIGKILL after 5 s).
    pub async fn stop(mut self) {
        for n in &mut self.nodes {
            if let Some(pid) = n.child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        for n in &mut self.nodes {
            if tokio::time::timeout(Duration::from_secs(5), n.child.wait())
                .await
                .is_err()
            {
                let _ = n.child.kill().await;
            }
        }
    }
}

/// Starts `rumord` with `args`, its output to `log` (appended to, for a
/// restart).
fn spawn(rumord: &Path, args: &[String], log: &Path, append: bool) -> Result<Child, AttackError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(log)
        .map_err(|e| AttackError::Setup(format!("{}: {e}", log.display())))?;
    let err = file
        .try_clone()
        .map_err(|e| AttackError::Setup(e.to_string()))?;
    Command::new(rumord)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("RUMOR_NODE_LOG").unwrap_or("info".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| AttackError::Setup(format!("{}: {e}", rumord.display())))
}

/// A non-loopback IPv4 address of this host: the source address the
/// kernel would use towards a public address (a UDP `connect` sends
/// nothing). `None` on a host without one.
fn external_ip() -> Option<std::net::Ipv4Addr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket
        .connect("192.0.2.1:9")
        .or_else(|_| socket.connect("8.8.8.8:53"))
        .ok()?;
    match socket.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

async fn wait_ready(node: &mut NodeProc) -> Result<(), AttackError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if node.rpc.chain_info().await.is_ok() {
            return Ok(());
        }
        if !node.alive() {
            return Err(AttackError::Setup(format!(
                "node {} exited at start:\n{}",
                node.index,
                node.log_tail(20)
            )));
        }
        if Instant::now() > deadline {
            return Err(AttackError::Setup(format!(
                "node {} not ready after 60 s",
                node.index
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

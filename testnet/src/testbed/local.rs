//! The local backend: `rumord` processes on 127.0.0.1, one data directory
//! each under the run directory.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::cluster::{ClusterError, NodeFlags, NodeSpec};
use super::rpc::NodeRpc;

struct LocalNode {
    spec: NodeSpec,
    datadir: PathBuf,
    p2p_port: u16,
    args: Vec<String>,
    child: Option<Child>,
    rpc: NodeRpc,
}

/// `rumord` processes.
pub struct LocalCluster {
    rumord: PathBuf,
    nodes: Vec<LocalNode>,
    root: PathBuf,
}

/// Ports for nodes come from below the kernel's ephemeral range, so an
/// outgoing connection cannot take a port between our check and the node's
/// bind (Linux hands out ephemeral ports from 32768 up by default).
const PORT_LOW: u16 = 20_000;
const PORT_HIGH: u16 = 32_000;

/// Finds `count` free ports below the ephemeral range, starting at a
/// random offset so concurrent runs rarely collide.
pub(crate) fn free_ports(count: usize) -> Result<Vec<u16>, ClusterError> {
    let span = u32::from(PORT_HIGH - PORT_LOW);
    let start = (rumor_p2p::unix_nanos() % u64::from(span)) as u32;
    let mut out = Vec::with_capacity(count);
    for k in 0..span {
        if out.len() == count {
            break;
        }
        let port = PORT_LOW + ((start + k) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            out.push(port);
        }
    }
    if out.len() < count {
        return Err(ClusterError::Io(format!(
            "found only {} free ports in {PORT_LOW}..{PORT_HIGH}",
            out.len()
        )));
    }
    Ok(out)
}

/// The `rumord` to run: the one given, or the one next to this binary
/// (built first, with the cargo that runs us if there is one, from the
/// workspace this binary was built from: any current directory works).
///
/// # Errors
/// [`ClusterError::Binary`] if none can be found or built.
pub fn find_rumord(given: Option<&Path>) -> Result<PathBuf, ClusterError> {
    if let Some(p) = given {
        return if p.is_file() {
            Ok(p.to_owned())
        } else {
            Err(ClusterError::Binary(format!(
                "{} does not exist",
                p.display()
            )))
        };
    }
    let exe = std::env::current_exe().map_err(|e| ClusterError::Binary(e.to_string()))?;
    let mut dir = exe
        .parent()
        .ok_or_else(|| ClusterError::Binary("no directory for this executable".into()))?;
    // Test and bench binaries live in target/<profile>/deps.
    if dir.file_name().is_some_and(|n| n == "deps")
        && let Some(up) = dir.parent()
    {
        dir = up;
    }
    // Under cargo (`cargo run -p rumor-testnet`), make sure rumord is built and
    // current, with the same profile: a newcomer never needs to know the order.
    // The workspace is the one this binary was built from, wherever the
    // command runs.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(|w| w.join("Cargo.toml"))
        .filter(|m| m.is_file());
    if let (Some(cargo), Some(manifest)) = (std::env::var_os("CARGO"), manifest) {
        let profile_dir = dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug");
        eprintln!(
            "building rumord ({}) with cargo; the first build takes a few minutes…",
            if profile_dir == "release" {
                "release"
            } else {
                "dev"
            }
        );
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "rumor-node", "--bin", "rumord"])
            .arg("--manifest-path")
            .arg(&manifest);
        if profile_dir == "release" {
            cmd.arg("--release");
        }
        if let Some(target) = dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let status = cmd
            .status()
            .map_err(|e| ClusterError::Binary(format!("running cargo: {e}")))?;
        if !status.success() {
            return Err(ClusterError::Binary(format!(
                "cargo build -p rumor-node --manifest-path {} failed",
                manifest.display()
            )));
        }
    }
    let candidate = dir.join("rumord");
    if candidate.is_file() {
        return Ok(candidate);
    }
    Err(ClusterError::Binary(format!(
        "no rumord next to {}; build it with `cargo build --release -p rumor-node` or pass --rumord PATH",
        exe.display()
    )))
}

impl LocalCluster {
    /// Starts every node (they find each other through their dial lists).
    ///
    /// # Errors
    /// [`ClusterError`] if a node cannot be started.
    pub async fn start(
        rumord: PathBuf,
        specs: &[NodeSpec],
        flags: &NodeFlags,
        root: &Path,
    ) -> Result<Self, ClusterError> {
        std::fs::create_dir_all(root)
            .map_err(|e| ClusterError::Io(format!("{}: {e}", root.display())))?;
        let free = free_ports(2 * specs.len())?;
        let ports: Vec<(u16, u16)> = free.chunks(2).map(|c| (c[0], c[1])).collect();
        let mut nodes = Vec::new();
        for spec in specs {
            let (p2p_port, rpc_port) = ports[spec.index];
            let datadir = root.join(format!("node-{}", spec.index));
            let mut args = vec![
                "--datadir".into(),
                datadir.display().to_string(),
                "--listen".into(),
                format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
                "--rpc-bind".into(),
                format!("127.0.0.1:{rpc_port}"),
                "--node-key".into(),
                spec.key_hex.clone(),
            ];
            for j in &spec.dials {
                args.push("--bootnode".into());
                args.push(format!(
                    "/ip4/127.0.0.1/tcp/{}/p2p/{}",
                    ports[*j].0, specs[*j].peer_id
                ));
            }
            args.extend(flags.args());
            let rpc = NodeRpc::new(
                &format!("http://127.0.0.1:{rpc_port}"),
                &flags.rpc_user,
                &flags.rpc_password,
                Duration::from_secs(60),
            )
            .map_err(|e| ClusterError::Start {
                node: spec.index,
                reason: e.to_string(),
            })?;
            nodes.push(LocalNode {
                spec: spec.clone(),
                datadir,
                p2p_port,
                args,
                child: None,
                rpc,
            });
        }
        let mut cluster = Self {
            rumord,
            nodes,
            root: root.to_owned(),
        };
        for i in 0..cluster.nodes.len() {
            cluster.spawn(i)?;
        }
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> Result<(), ClusterError> {
        let node = &mut self.nodes[i];
        std::fs::create_dir_all(&node.datadir).map_err(|e| ClusterError::Io(e.to_string()))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.datadir.join("rumord.log"))
            .map_err(|e| ClusterError::Io(e.to_string()))?;
        let err = log
            .try_clone()
            .map_err(|e| ClusterError::Io(e.to_string()))?;
        let child = Command::new(&self.rumord)
            .args(&node.args)
            .env(
                "RUST_LOG",
                std::env::var("RUMOR_NODE_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ClusterError::Start {
                node: i,
                reason: format!("{}: {e}", self.rumord.display()),
            })?;
        node.child = Some(child);
        Ok(())
    }

    /// Node `i`'s RPC client.
    pub fn rpc(&self, i: usize) -> &NodeRpc {
        &self.nodes[i].rpc
    }

    /// Node `i`'s process id and resident memory (KiB), if it is running.
    pub fn pid_and_rss_kib(&self, i: usize) -> Option<(u32, u64)> {
        let pid = self.nodes[i].child.as_ref()?.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .map(|kib| (pid, kib))
    }

    /// A node that exited on its own (not killed by the run), with its status.
    pub fn exited(&mut self) -> Option<(usize, String)> {
        for node in &mut self.nodes {
            if let Some(c) = &mut node.child
                && let Ok(Some(status)) = c.try_wait()
            {
                return Some((
                    node.spec.index,
                    format!(
                        "{status}; see {}",
                        node.datadir.join("rumord.log").display()
                    ),
                ));
            }
        }
        None
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// SIGKILL node `i`.
    ///
    /// # Errors
    /// The kill failed.
    pub async fn kill(&mut self, i: usize) -> Result<(), ClusterError> {
        if let Some(mut c) = self.nodes[i].child.take() {
            c.kill()
                .await
                .map_err(|e| ClusterError::Io(format!("kill node {i}: {e}")))?;
        }
        Ok(())
    }

    /// Starts node `i` again on its data.
    ///
    /// # Errors
    /// The spawn failed.
    pub async fn restart(&mut self, i: usize) -> Result<(), ClusterError> {
        self.kill(i).await?;
        self.spawn(i)
    }

    /// SIGTERM every node, wait a little, then SIGKILL what is left.
    pub async fn teardown(&mut self) {
        for node in &mut self.nodes {
            if let Some(c) = &node.child
                && let Some(pid) = c.id()
            {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        for node in &mut self.nodes {
            if let Some(mut c) = node.child.take() {
                match tokio::time::timeout(Duration::from_secs(5), c.wait()).await {
                    Ok(_) => {}
                    Err(_) => {
                        let _ = c.kill().await;
                    }
                }
            }
        }
    }

    /// Where the node logs are.
    pub fn log_dir(&self) -> PathBuf {
        self.root.clone()
    }

    /// Node `i`'s p2p port (for diagnostics).
    pub fn p2p_port(&self, i: usize) -> u16 {
        self.nodes[i].p2p_port
    }

    /// Node `i`'s spec.
    pub fn spec(&self, i: usize) -> &NodeSpec {
        &self.nodes[i].spec
    }
}

//! The docker-compose backend: a static `rumord` in a `FROM scratch` image
//! (no registry pull), one container per node on a bridge network with an
//! explicit subnet and static addresses, fixed node keys so bootnodes are
//! known PeerIds, exec-form healthchecks, and RPC published on 127.0.0.1 only.
//! Containers and the network are always removed at the end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::cluster::{ClusterError, NodeFlags, NodeSpec};
use super::rpc::NodeRpc;

const P2P_PORT: u16 = 9333;
const RPC_PORT: u16 = 8332;
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The compose command available here.
#[derive(Debug, Clone)]
pub struct ComposeTool {
    program: String,
    prefix: Vec<String>,
}

impl ComposeTool {
    /// `docker compose` (v2) if it works, else `docker-compose` (v1).
    ///
    /// # Errors
    /// [`ClusterError::Docker`] if neither exists or the engine is down.
    pub async fn detect() -> Result<Self, ClusterError> {
        let engine = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output()
            .await
            .map_err(|e| ClusterError::Docker(format!("docker not found: {e}")))?;
        if !engine.status.success() {
            return Err(ClusterError::Docker(format!(
                "docker engine not reachable: {}",
                String::from_utf8_lossy(&engine.stderr).trim()
            )));
        }
        let v2 = Command::new("docker")
            .args(["compose", "version"])
            .output()
            .await;
        if v2.is_ok_and(|o| o.status.success()) {
            return Ok(Self {
                program: "docker".into(),
                prefix: vec!["compose".into()],
            });
        }
        let v1 = Command::new("docker-compose").arg("version").output().await;
        if v1.is_ok_and(|o| o.status.success()) {
            return Ok(Self {
                program: "docker-compose".into(),
                prefix: vec![],
            });
        }
        Err(ClusterError::Docker(
            "neither `docker compose` nor `docker-compose` works".into(),
        ))
    }

    async fn run(&self, project: &str, file: &Path, args: &[&str]) -> Result<String, ClusterError> {
        let out = Command::new(&self.program)
            .args(&self.prefix)
            .args(["-p", project, "-f"])
            .arg(file)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| ClusterError::Docker(e.to_string()))?;
        if !out.status.success() {
            return Err(ClusterError::Docker(format!(
                "{} {}: {}",
                self.program,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

async fn docker(args: &[&str]) -> Result<String, ClusterError> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ClusterError::Docker(e.to_string()))?;
    if !out.status.success() {
        return Err(ClusterError::Docker(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds a statically linked `rumord` and a `FROM scratch` image of it.
/// Returns the image tag.
///
/// # Errors
/// [`ClusterError`] if cargo or docker fail.
pub async fn build_image(
    workspace: &Path,
    ctx: &Path,
    profile: &str,
) -> Result<String, ClusterError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--profile",
            profile,
            "--target",
            TARGET,
            "-p",
            "rumor-node",
            "--bin",
            "rumord",
        ])
        .status()
        .await
        .map_err(|e| ClusterError::Binary(format!("running cargo: {e}")))?;
    if !status.success() {
        return Err(ClusterError::Binary("static build of rumord failed".into()));
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let profile_dir = if profile == "dev" { "debug" } else { profile };
    let bin = target_dir.join(TARGET).join(profile_dir).join("rumord");
    std::fs::create_dir_all(ctx).map_err(|e| ClusterError::Io(e.to_string()))?;
    std::fs::copy(&bin, ctx.join("rumord"))
        .map_err(|e| ClusterError::Io(format!("{}: {e}", bin.display())))?;
    // No `# syntax` line and a scratch base: nothing is pulled.
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY rumord /rumord\nENTRYPOINT [\"/rumord\"]\n",
    )
    .map_err(|e| ClusterError::Io(e.to_string()))?;
    let digest = rumor_chain::sha256(
        &std::fs::read(ctx.join("rumord")).map_err(|e| ClusterError::Io(e.to_string()))?,
    );
    let tag = format!("rumor-node:{}", &hex::encode(digest)[..12]);
    docker(&["build", "-q", "-t", &tag, &ctx.display().to_string()]).await?;
    Ok(tag)
}

/// The workspace root (for the static build): the nearest parent with `Cargo.lock`.
pub fn workspace_root() -> Option<PathBuf> {
    let mut dir = std::env::current_dir().ok()?;
    loop {
        if dir.join("Cargo.lock").is_file() && dir.join("node").is_dir() {
            return Some(dir);
        }
        dir = dir.parent()?.to_owned();
    }
}

/// A docker-compose network of nodes.
pub struct ComposeCluster {
    tool: ComposeTool,
    project: String,
    file: PathBuf,
    root: PathBuf,
    rpcs: Vec<NodeRpc>,
    down: bool,
}

/// Writes the compose file. Works with docker-compose 1.29 (no `version:`
/// key) and with `docker compose` v2.
pub fn compose_yaml(
    project: &str,
    image: &str,
    specs: &[NodeSpec],
    flags: &NodeFlags,
    subnet: (u8, u8),
    rpc_ports: &[u16],
) -> String {
    let ip = |i: usize| format!("10.{}.{}.{}", subnet.0, subnet.1, 10 + i);
    let mut y = String::new();
    y.push_str("# Generated by rumor-testnet; removed with the run.\n");
    y.push_str("networks:\n  rumor:\n    driver: bridge\n    ipam:\n      config:\n");
    y.push_str(&format!(
        "        - subnet: 10.{}.{}.0/24\n",
        subnet.0, subnet.1
    ));
    y.push_str("services:\n");
    for spec in specs {
        let i = spec.index;
        let mut args: Vec<String> = vec![
            "--datadir".into(),
            "/data".into(),
            "--listen".into(),
            format!("/ip4/0.0.0.0/tcp/{P2P_PORT}"),
            "--rpc-bind".into(),
            format!("0.0.0.0:{RPC_PORT}"),
            "--node-key".into(),
            spec.key_hex.clone(),
        ];
        for j in &spec.dials {
            args.push("--bootnode".into());
            args.push(format!(
                "/ip4/{}/tcp/{P2P_PORT}/p2p/{}",
                ip(*j),
                specs[*j].peer_id
            ));
        }
        args.extend(flags.args());
        let quoted: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
        y.push_str(&format!("  node{i}:\n"));
        y.push_str(&format!("    image: {image}\n"));
        y.push_str(&format!("    container_name: {project}-node{i}\n"));
        y.push_str(&format!("    command: [{}]\n", quoted.join(", ")));
        y.push_str("    environment:\n      RUST_LOG: info\n");
        y.push_str(&format!(
            "    ports:\n      - \"127.0.0.1:{}:{RPC_PORT}\"\n",
            rpc_ports[i]
        ));
        y.push_str(&format!(
            "    networks:\n      rumor:\n        ipv4_address: {}\n",
            ip(i)
        ));
        y.push_str("    healthcheck:\n");
        y.push_str(&format!(
            "      test: [\"CMD\", \"/rumord\", \"health\", \"--rpc\", \"http://127.0.0.1:{RPC_PORT}\", \"--rpc-user\", \"{}\", \"--rpc-password\", \"{}\"]\n",
            flags.rpc_user, flags.rpc_password
        ));
        y.push_str("      interval: 1s\n      timeout: 2s\n      retries: 60\n");
        if i > 0 {
            y.push_str("    depends_on:\n      node0:\n        condition: service_healthy\n");
        }
    }
    y
}

impl ComposeCluster {
    /// Builds the image, writes the compose file and brings it up.
    ///
    /// # Errors
    /// [`ClusterError`] on any docker or build failure (what was created is removed).
    pub async fn start(
        specs: &[NodeSpec],
        flags: &NodeFlags,
        root: &Path,
        run_id: &str,
        profile: &str,
    ) -> Result<Self, ClusterError> {
        let tool = ComposeTool::detect().await?;
        let workspace = workspace_root().ok_or_else(|| {
            ClusterError::Binary(
                "the compose backend builds rumord from source: run it inside the rumor workspace"
                    .into(),
            )
        })?;
        std::fs::create_dir_all(root).map_err(|e| ClusterError::Io(e.to_string()))?;
        let image = build_image(&workspace, &root.join("image"), profile).await?;
        let h = rumor_chain::sha256(run_id.as_bytes());
        let subnet = (200 + h[0] % 50, h[1] % 250);
        let project: String = format!("rumor{}", &hex::encode(h)[..8]);
        let rpc_ports: Vec<u16> = (0..specs.len())
            .map(|_| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port())
                    .map_err(|e| ClusterError::Io(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let file = root.join("docker-compose.yml");
        std::fs::write(
            &file,
            compose_yaml(&project, &image, specs, flags, subnet, &rpc_ports),
        )
        .map_err(|e| ClusterError::Io(e.to_string()))?;
        let rpcs = rpc_ports
            .iter()
            .map(|p| {
                NodeRpc::new(
                    &format!("http://127.0.0.1:{p}"),
                    &flags.rpc_user,
                    &flags.rpc_password,
                    Duration::from_secs(60),
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ClusterError::Docker(e.to_string()))?;
        let mut cluster = Self {
            tool,
            project,
            file,
            root: root.to_owned(),
            rpcs,
            down: false,
        };
        if let Err(e) = cluster
            .tool
            .run(&cluster.project, &cluster.file, &["up", "-d"])
            .await
        {
            cluster.teardown().await;
            return Err(e);
        }
        Ok(cluster)
    }

    fn container(&self, i: usize) -> String {
        format!("{}-node{i}", self.project)
    }

    /// Node `i`'s RPC client.
    pub fn rpc(&self, i: usize) -> &NodeRpc {
        &self.rpcs[i]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.rpcs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rpcs.is_empty()
    }

    /// `docker kill -s KILL`.
    ///
    /// # Errors
    /// docker failed.
    pub async fn kill(&mut self, i: usize) -> Result<(), ClusterError> {
        docker(&["kill", "-s", "KILL", &self.container(i)])
            .await
            .map(|_| ())
    }

    /// `docker start` (the container keeps its data).
    ///
    /// # Errors
    /// docker failed.
    pub async fn restart(&mut self, i: usize) -> Result<(), ClusterError> {
        docker(&["start", &self.container(i)]).await.map(|_| ())
    }

    /// Saves the logs, then removes containers and the network.
    pub async fn teardown(&mut self) {
        if self.down {
            return;
        }
        self.down = true;
        for i in 0..self.rpcs.len() {
            if let Ok(out) = Command::new("docker")
                .args(["logs", &self.container(i)])
                .output()
                .await
            {
                let mut log = out.stdout;
                log.extend_from_slice(&out.stderr);
                let _ = std::fs::write(self.root.join(format!("node-{i}.log")), log);
            }
        }
        if let Err(e) = self
            .tool
            .run(
                &self.project,
                &self.file,
                &["down", "-v", "--remove-orphans", "-t", "5"],
            )
            .await
        {
            eprintln!("warning: compose down failed ({e}); removing containers directly");
            for i in 0..self.rpcs.len() {
                let _ = docker(&["rm", "-f", &self.container(i)]).await;
            }
            let _ = docker(&["network", "rm", &format!("{}_rumor", self.project)]).await;
        }
    }

    /// Where node logs are saved.
    pub fn log_dir(&self) -> PathBuf {
        self.root.clone()
    }
}

/// Whether the kernel offers `sch_netem` (for the report: rumor shapes links
/// itself either way, since the nodes of one host share loopback and the
/// scratch image has no `tc`).
pub fn netem_available() -> bool {
    Path::new("/sys/module/sch_netem").exists()
        || std::process::Command::new("modprobe")
            .args(["-n", "sch_netem"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

//! The Docker Swarm backend: the same nodes as a stack (`docker stack
//! deploy`) on the swarm this engine manages, one service per node on an
//! overlay network. Nodes know each other by service name
//! (`/dns4/node<j>/tcp/9333/p2p/<id>`, ids derived from the seed), services
//! use `endpoint_mode: dnsrr` (names resolve to the task itself, not to a
//! virtual IP the routing mesh would balance), and each node's RPC is a
//! `mode: host` published port on the host its task runs on. Every
//! service, network, volume and built image tag is removed at the end, on
//! failure too. The backend never initialises or leaves a swarm.

mod stack;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cluster::{ClusterError, NodeFlags, NodeSpec};
use super::image::{NodeImage, docker};
use super::local::free_ports;
use super::plan::RunArgs;
use super::rpc::NodeRpc;
use stack::{NAMESPACE, Task, check_free, lines, manager_node};
pub use stack::{default_stack_name, stack_yaml};

/// How long every node gets to run and answer RPC.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `docker stack rm` gets to stop the containers.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a swarm run could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwarmError {
    /// The engine is not a swarm manager.
    #[error(
        "this docker engine is not a swarm manager (swarm: {state}); make it a single-node swarm with \
         `docker swarm init --advertise-addr 127.0.0.1`, or run on a manager of your swarm \
         (rumor-testnet never initialises or leaves a swarm itself)"
    )]
    NotManager {
        /// `docker info`'s swarm state.
        state: String,
    },
    /// The stack name is taken.
    #[error("a stack named {stack:?} already exists ({what}); {fix}, or choose another --stack")]
    StackExists {
        /// The name.
        stack: String,
        /// What carries its name.
        what: String,
        /// The command that removes it.
        fix: String,
    },
    /// A node's task failed, or its `rumord` exited, before it was up.
    #[error("node {node} failed to start: {reason}{log}")]
    NodeFailed {
        /// The node.
        node: usize,
        /// The task's state and error.
        reason: String,
        /// The last lines of its log, if any.
        log: String,
    },
    /// A node did not answer RPC in time.
    #[error("node {node} not up after {after:?}: {state}")]
    NotStarted {
        /// The node.
        node: usize,
        /// How long it had.
        after: Duration,
        /// Its task state, or the RPC error.
        state: String,
    },
    /// Ctrl-C while the stack was starting.
    #[error("interrupted while the stack was starting")]
    Interrupted,
}

/// The nodes of a run as a Docker Swarm stack.
pub struct SwarmCluster {
    stack: String,
    root: PathBuf,
    image: NodeImage,
    /// This engine's swarm node id (its tasks are reached on 127.0.0.1).
    local_node: String,
    rpc_ports: Vec<u16>,
    rpcs: Vec<NodeRpc>,
    rpc_user: String,
    rpc_password: String,
    /// Service id → node index.
    services: HashMap<String, usize>,
    /// Per node: stopped by scaling to 0 (its task ran on another host).
    scaled_down: Vec<bool>,
    /// Per node: pinned to the host of its first task (its data volume).
    pinned: Vec<bool>,
    down: bool,
}

fn service(stack: &str, i: usize) -> String {
    format!("{stack}_node{i}")
}

impl SwarmCluster {
    /// Checks the engine and the name, gets the image, deploys the stack
    /// and waits until every node runs and answers RPC.
    ///
    /// # Errors
    /// [`ClusterError`]: not a swarm manager, a taken stack name, a missing
    /// image, a node that fails to start; everything created by then is
    /// removed.
    pub async fn start(
        specs: &[NodeSpec],
        flags: &NodeFlags,
        root: &Path,
        run_id: &str,
        args: &RunArgs,
    ) -> Result<Self, ClusterError> {
        let local_node = manager_node().await?;
        let stack = args
            .stack
            .clone()
            .unwrap_or_else(|| default_stack_name(run_id));
        check_free(&stack).await?;
        std::fs::create_dir_all(root)
            .map_err(|e| ClusterError::Io(format!("{}: {e}", root.display())))?;
        let rpc_ports = free_ports(specs.len())?;
        let image = match &args.image {
            Some(name) => NodeImage::given(name).await?,
            None => NodeImage::build(&root.join("image"), &args.compose_profile, &stack).await?,
        };
        let mut cluster = Self {
            stack,
            root: root.to_owned(),
            image,
            local_node,
            rpc_ports,
            rpcs: Vec::new(),
            rpc_user: flags.rpc_user.clone(),
            rpc_password: flags.rpc_password.clone(),
            services: HashMap::new(),
            scaled_down: vec![false; specs.len()],
            pinned: vec![false; specs.len()],
            down: false,
        };
        match cluster.deploy(specs, flags, !args.kills.is_empty()).await {
            Ok(()) => Ok(cluster),
            Err(e) => {
                cluster.teardown().await;
                Err(e)
            }
        }
    }

    async fn deploy(
        &mut self,
        specs: &[NodeSpec],
        flags: &NodeFlags,
        volumes: bool,
    ) -> Result<(), ClusterError> {
        let file = self.root.join("stack.yml");
        let yaml = stack_yaml(self.image.name(), specs, flags, &self.rpc_ports, volumes);
        std::fs::write(&file, yaml)
            .map_err(|e| ClusterError::Io(format!("{}: {e}", file.display())))?;
        // A locally built image has no registry digest to pin, and asking a
        // registry for one would only fail.
        let resolve = if self.image.built() || !self.has_registry_digest().await {
            "never"
        } else {
            "always"
        };
        docker(&[
            "stack",
            "deploy",
            "--resolve-image",
            resolve,
            "-c",
            &file.display().to_string(),
            &self.stack,
        ])
        .await?;
        let names: Vec<String> = (0..specs.len()).map(|i| service(&self.stack, i)).collect();
        let mut args = vec!["service", "inspect", "--format", "{{.ID}} {{.Spec.Name}}"];
        args.extend(names.iter().map(String::as_str));
        for line in lines(&docker(&args).await?) {
            if let Some((id, name)) = line.split_once(' ')
                && let Some(i) = names.iter().position(|n| n == name)
            {
                self.services.insert(id.to_owned(), i);
            }
        }
        self.wait_up(specs.len()).await
    }

    async fn has_registry_digest(&self) -> bool {
        docker(&[
            "image",
            "inspect",
            "--format",
            "{{len .RepoDigests}}",
            self.image.name(),
        ])
        .await
        .is_ok_and(|n| n.trim() != "0")
    }

    /// Every task of the stack, by node.
    async fn tasks(&self) -> Result<Vec<Vec<Task>>, ClusterError> {
        let ids = lines(&docker(&["stack", "ps", "-q", "--no-trunc", &self.stack]).await?);
        let mut by_node = vec![Vec::new(); self.scaled_down.len()];
        if ids.is_empty() {
            return Ok(by_node);
        }
        let mut args = vec!["inspect", "--type", "task"];
        args.extend(ids.iter().map(String::as_str));
        let out = docker(&args).await?;
        let tasks: Vec<Task> = serde_json::from_str(&out)
            .map_err(|e| ClusterError::Docker(format!("docker inspect of tasks: {e}")))?;
        for t in tasks {
            if let Some(&i) = self.services.get(&t.service_id) {
                by_node[i].push(t);
            }
        }
        Ok(by_node)
    }

    /// The RPC address of a task on swarm node `node_id`: loopback for this
    /// engine's own tasks, else that node's address.
    async fn host_of(&self, node_id: &str) -> Result<String, ClusterError> {
        if node_id == self.local_node {
            return Ok("127.0.0.1".into());
        }
        let addr = docker(&["node", "inspect", "--format", "{{.Status.Addr}}", node_id]).await?;
        Ok(addr.trim().to_owned())
    }

    fn client(&self, host: &str, i: usize) -> Result<NodeRpc, ClusterError> {
        NodeRpc::new(
            &format!("http://{host}:{}", self.rpc_ports[i]),
            &self.rpc_user,
            &self.rpc_password,
            Duration::from_secs(60),
        )
        .map_err(|e| ClusterError::Docker(e.to_string()))
    }

    /// The last lines of node `i`'s log.
    async fn log_tail(&self, i: usize) -> String {
        let svc = service(&self.stack, i);
        let logs = tokio::time::timeout(
            Duration::from_secs(10),
            tokio::process::Command::new("docker")
                .args(["service", "logs", "--raw", "--tail", "8", &svc])
                .output(),
        )
        .await;
        match logs {
            Ok(Ok(out)) => {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                let text = text.trim();
                if text.is_empty() {
                    String::new()
                } else {
                    format!("\n  its log ends:\n    {}", text.replace('\n', "\n    "))
                }
            }
            _ => String::new(),
        }
    }

    /// Waits until every node's task runs and its RPC answers.
    async fn wait_up(&mut self, n: usize) -> Result<(), ClusterError> {
        let start = Instant::now();
        let mut rpcs: Vec<Option<NodeRpc>> = vec![None; n];
        let mut up = vec![false; n];
        loop {
            if super::interrupted() {
                return Err(SwarmError::Interrupted.into());
            }
            let tasks = self.tasks().await?;
            let mut waiting = String::new();
            for i in 0..n {
                if up[i] {
                    continue;
                }
                let Some(task) = tasks[i].first() else {
                    waiting = format!("no task yet for node{i}");
                    continue;
                };
                if task.failed() {
                    let mut reason = task.describe();
                    if reason.contains("No such image") {
                        reason.push_str(
                            " (on a multi-host swarm, push an image every host can pull and pass --image; see docs/testnet.md)",
                        );
                    }
                    return Err(SwarmError::NodeFailed {
                        node: i,
                        reason,
                        log: self.log_tail(i).await,
                    }
                    .into());
                }
                if task.status.state != "running" {
                    waiting = task.describe();
                    continue;
                }
                if rpcs[i].is_none() {
                    let host = self.host_of(&task.node_id).await?;
                    rpcs[i] = Some(self.client(&host, i)?);
                }
                if let Some(rpc) = &rpcs[i] {
                    match tokio::time::timeout(Duration::from_secs(2), rpc.chain_info()).await {
                        Ok(Ok(_)) => up[i] = true,
                        Ok(Err(e)) => waiting = format!("node {i}: {e}"),
                        Err(_) => waiting = format!("node {i}: no RPC answer in 2 s"),
                    }
                }
            }
            if up.iter().all(|u| *u) {
                self.rpcs = rpcs.into_iter().flatten().collect();
                return Ok(());
            }
            if start.elapsed() > START_TIMEOUT {
                let node = up.iter().position(|u| !u).unwrap_or(0);
                return Err(SwarmError::NotStarted {
                    node,
                    after: START_TIMEOUT,
                    state: waiting,
                }
                .into());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
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

    /// The task node `i` runs as now.
    async fn running_task(&self, i: usize) -> Result<Task, ClusterError> {
        let mut tasks = self.tasks().await?;
        tasks[i]
            .drain(..)
            .find(|t| t.desired == "running")
            .ok_or_else(|| ClusterError::Docker(format!("node {i} has no running task")))
    }

    /// Kills node `i`: `docker kill -s KILL` of its task's container when
    /// the task runs on this engine, else scales its service to 0 (its
    /// stop signal is SIGKILL too, but Swarm takes a few seconds).
    ///
    /// # Errors
    /// docker failed.
    pub async fn kill(&mut self, i: usize) -> Result<(), ClusterError> {
        let task = self.running_task(i).await?;
        let container = task.status.container.map(|c| c.id).unwrap_or_default();
        if task.node_id == self.local_node && !container.is_empty() {
            docker(&["kill", "-s", "KILL", &container]).await?;
        } else {
            let svc = service(&self.stack, i);
            docker(&["service", "scale", "--detach", &format!("{svc}=0")]).await?;
            self.scaled_down[i] = true;
        }
        Ok(())
    }

    /// Starts node `i` again as a new task on its old data: on the same
    /// host (where its volume is), through `docker service update --force`;
    /// a node stopped by scaling comes back by scaling to 1, wherever Swarm
    /// places it (its RPC address is looked up again).
    ///
    /// # Errors
    /// docker failed.
    pub async fn restart(&mut self, i: usize) -> Result<(), ClusterError> {
        let svc = service(&self.stack, i);
        if std::mem::take(&mut self.scaled_down[i]) {
            docker(&["service", "scale", "--detach", &format!("{svc}=1")]).await?;
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(task) = self.running_task(i).await
                    && !task.node_id.is_empty()
                {
                    let host = self.host_of(&task.node_id).await?;
                    self.rpcs[i] = self.client(&host, i)?;
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            return Err(ClusterError::Docker(format!(
                "node {i}: no task placed 20 s after scaling up"
            )));
        }
        let mut args = vec!["service", "update", "--detach", "--force"];
        let pin = format!("node.id=={}", self.local_node);
        if !self.pinned[i] {
            args.extend(["--constraint-add", pin.as_str()]);
        }
        args.push(&svc);
        docker(&args).await?;
        self.pinned[i] = true;
        Ok(())
    }

    /// Saves each node's log, removes the stack, waits for its containers
    /// to go, then removes its volumes, any network left, and the image tag
    /// the run built. Says what it could not remove. Safe to call twice.
    pub async fn teardown(&mut self) {
        if self.down {
            return;
        }
        self.down = true;
        let n = self.scaled_down.len();
        let logs = futures::future::join_all((0..n).map(|i| {
            let svc = service(&self.stack, i);
            async move {
                tokio::time::timeout(
                    Duration::from_secs(30),
                    tokio::process::Command::new("docker")
                        .args(["service", "logs", "--raw", &svc])
                        .output(),
                )
                .await
            }
        }))
        .await;
        for (i, out) in logs.into_iter().enumerate() {
            if let Ok(Ok(out)) = out
                && out.status.success()
            {
                let mut log = out.stdout;
                log.extend_from_slice(&out.stderr);
                let _ = std::fs::write(self.root.join(format!("node-{i}.log")), log);
            }
        }
        if let Err(e) = docker(&["stack", "rm", &self.stack]).await {
            eprintln!("warning: {e}");
        }
        let filter = format!("label={NAMESPACE}={}", self.stack);
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        loop {
            let left = docker(&["ps", "-aq", "--filter", &filter]).await;
            if left.as_deref().map_or(true, |l| lines(l).is_empty()) || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let mut leftovers = Vec::new();
        for kind in ["volume", "network"] {
            // Networks may still be detaching from the last containers.
            for _ in 0..20 {
                let left = match docker(&[kind, "ls", "-q", "--filter", &filter]).await {
                    Ok(out) => lines(&out),
                    Err(_) => Vec::new(),
                };
                if left.is_empty() {
                    break;
                }
                let mut args = vec![kind, "rm"];
                args.extend(left.iter().map(String::as_str));
                if docker(&args).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if let Ok(out) = docker(&[kind, "ls", "-q", "--filter", &filter]).await {
                leftovers.extend(lines(&out).into_iter().map(|l| format!("{kind} {l}")));
            }
        }
        if let Ok(out) = docker(&["ps", "-aq", "--filter", &filter]).await {
            leftovers.extend(lines(&out).into_iter().map(|l| format!("container {l}")));
        }
        if !leftovers.is_empty() {
            eprintln!(
                "warning: stack {} left behind: {} (remove with docker rm -f / volume rm / network rm)",
                self.stack,
                leftovers.join(", ")
            );
        }
        self.image.remove().await;
    }

    /// Where node logs are saved.
    pub fn log_dir(&self) -> PathBuf {
        self.root.clone()
    }
}

//! [`NetParams`]: one relay-driven run (the testnet's parameters, and the
//! simulator's models of links and CPU), its checks ([`NetParamError`]), and
//! how a testnet run's `params.json` becomes one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::results::{Relay, Topology};

/// Most nodes a relay-driven run takes (each runs a whole relay state
/// machine; the abstract models go to 10^6 and beyond).
pub const MAX_NET_NODES: usize = 100_000;

/// The longest any time parameter, and the workload's span, may be:
/// simulated time is counted in `u64` nanoseconds (585 years), and times
/// are added to one another, so each must be far from that.
pub const MAX_NET_TIME: Duration = Duration::from_secs(24 * 3600);

/// Links between simulated nodes: the testnet's link emulation
/// (`p2p/src/link.rs`): one-way delay ± jitter (uniform, per message),
/// serialisation at the bandwidth, release times never decreasing on a link
/// (bytes stay in order), and whole messages lost on receipt.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinkModel {
    /// One-way delay.
    pub delay: Duration,
    /// ± this, uniform per message.
    pub jitter: Duration,
    /// Probability that a message is dropped on receipt.
    pub loss: f64,
    /// Bits per second per direction of a link (0: unlimited).
    pub bandwidth_bps: u64,
}

impl Default for LinkModel {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(5),
            loss: 0.0,
            bandwidth_bps: 0,
        }
    }
}

/// What work costs a node: every message it handles and every object it
/// validates takes its CPU for this long; with `cores`, all nodes share that
/// many cores (a testnet of 16 processes on a 2-core machine).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// Validating one transaction: `cargo bench -p rumor-chain`'s
    /// `check_tx_1in_2out/single` measures 32 µs (docs/simulator.md).
    pub validation: Duration,
    /// Handling one received message (decode, gossipsub, bookkeeping).
    pub message: Duration,
    /// How long a received message waits before the node starts on it,
    /// without taking its CPU: a loaded machine's scheduling delay (a
    /// process woken by a message waits for a core). Meant for a core per
    /// node: with `cores`, a waiting message books the core it will run on
    /// ahead of time, which overstates contention.
    #[serde(default)]
    pub wait: Duration,
    /// Cores every node shares (`None`: each node has its own).
    pub cores: Option<usize>,
}

impl Default for CostModel {
    fn default() -> Self {
        Self {
            validation: Duration::from_micros(32),
            message: Duration::ZERO,
            wait: Duration::ZERO,
            cores: None,
        }
    }
}

/// Sizes of what travels, in bytes: payloads as the node counts them per
/// protocol, and the framing each message adds on the wire (gossipsub's
/// protobuf and topic, yamux, noise; a request-response exchange also opens
/// a stream). The defaults are calibrated against a 16-node testnet run
/// (docs/simulator.md): a faucet transaction is 173 bytes, a gossip payload
/// counts 34 bytes beyond its items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WireSizes {
    /// One transaction's canonical encoding.
    pub tx: usize,
    /// One inventory item (kind tag and 32-byte id).
    pub inv: usize,
    /// A gossip payload's fixed part (enum tag, batch nonce, length).
    pub gossip_header: usize,
    /// A getdata request's or response's fixed part.
    pub request_header: usize,
    /// Framing per gossip message on the wire.
    pub gossip_frame: usize,
    /// Framing per request or response on the wire (stream set-up included).
    pub request_frame: usize,
}

impl Default for WireSizes {
    fn default() -> Self {
        Self {
            tx: 173,
            inv: 33,
            gossip_header: 34,
            request_header: 3,
            gossip_frame: 41,
            request_frame: 160,
        }
    }
}

/// One relay-driven run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetParams {
    /// Nodes.
    pub nodes: usize,
    /// How they are connected (the testnet's generator, same seed, same graph).
    pub topology: Topology,
    /// Links per node (random topology).
    pub degree: usize,
    /// gossipsub's D: a node's mesh is its peers when it has at most D_high
    /// = 2 D of them (the testnet's case), else D of them.
    pub mesh_d: usize,
    /// The relay mode every node runs.
    pub relay: Relay,
    /// Batch mode's window.
    pub batch_window: Duration,
    /// Seeds the topology, the origins (as the testnet draws them), jitter
    /// and loss.
    pub seed: u64,
    /// Transactions.
    pub txs: usize,
    /// Transactions per second.
    pub tx_rate: f64,
    /// Submit every transaction to this node (default: a random one each).
    pub origin: Option<usize>,
    /// Links.
    pub link: LinkModel,
    /// CPU.
    pub cost: CostModel,
    /// Message sizes.
    pub sizes: WireSizes,
    /// How long one body request may take before the next announcer is asked.
    pub fetch_timeout: Duration,
    /// Stop this long after the last submission at the latest.
    pub settle: Duration,
}

impl Default for NetParams {
    fn default() -> Self {
        Self {
            nodes: 16,
            topology: Topology::Random,
            degree: 4,
            mesh_d: 6,
            relay: Relay::Announce,
            batch_window: Duration::from_millis(25),
            seed: 1,
            txs: 200,
            tx_rate: 50.0,
            origin: None,
            link: LinkModel::default(),
            cost: CostModel::default(),
            sizes: WireSizes::default(),
            fetch_timeout: Duration::from_secs(2),
            settle: Duration::from_secs(60),
        }
    }
}

/// Why relay-driven parameters are refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NetParamError {
    /// Fewer than 2 nodes or more than [`MAX_NET_NODES`].
    #[error("--nodes {0} must be between 2 and {MAX_NET_NODES}")]
    Nodes(usize),
    /// A random degree that does not fit.
    #[error("--degree {degree} must be between 2 (1 with two nodes) and nodes - 1 = {max}")]
    Degree {
        /// The degree.
        degree: usize,
        /// nodes - 1.
        max: usize,
    },
    /// The bootnode topology's graph comes from peer discovery.
    #[error(
        "--topology bootnode builds its graph by peer discovery, which the simulator does not model; use random, ring or line"
    )]
    Bootnode,
    /// Mesh degree 0.
    #[error("--mesh-d must be at least 1")]
    MeshD,
    /// No transactions, or no rate.
    #[error("--txs must be at least 1 and --tx-rate positive and finite")]
    Workload,
    /// An origin that is not a node.
    #[error("--origin {origin} is not a node (0..{nodes})")]
    Origin {
        /// The origin.
        origin: usize,
        /// Nodes.
        nodes: usize,
    },
    /// Loss outside [0, 1).
    #[error("--link-loss {0} is not a probability in [0, 1)")]
    Loss(f64),
    /// Zero cores.
    #[error("--cores must be at least 1")]
    Cores,
    /// A zero fetch timeout.
    #[error("--fetch-timeout must be positive")]
    FetchTimeout,
    /// A time beyond [`MAX_NET_TIME`].
    #[error("{what} of {value:?} is longer than the simulator's limit of {MAX_NET_TIME:?}")]
    Time {
        /// Which parameter.
        what: &'static str,
        /// Its value (the workload's span: `txs / tx_rate`).
        value: Duration,
    },

    /// Something in `params.json` that the simulator cannot take.
    #[error("params.json: {0}")]
    Testnet(String),
}

impl NetParams {
    /// Checks every rule.
    ///
    /// # Errors
    /// The first [`NetParamError`] broken.
    pub fn validate(&self) -> Result<(), NetParamError> {
        let n = self.nodes;
        if !(2..=MAX_NET_NODES).contains(&n) {
            return Err(NetParamError::Nodes(n));
        }
        match self.topology {
            Topology::Bootnode => return Err(NetParamError::Bootnode),
            Topology::Random => {
                let min = if n == 2 { 1 } else { 2 };
                if !(min..n).contains(&self.degree) {
                    return Err(NetParamError::Degree {
                        degree: self.degree,
                        max: n - 1,
                    });
                }
            }
            Topology::Ring | Topology::Line => {}
        }
        if self.mesh_d == 0 {
            return Err(NetParamError::MeshD);
        }

        if self.txs == 0 || !(self.tx_rate.is_finite() && self.tx_rate > 0.0) {
            return Err(NetParamError::Workload);
        }
        if let Some(origin) = self.origin
            && origin >= n
        {
            return Err(NetParamError::Origin { origin, nodes: n });
        }
        if !(0.0..1.0).contains(&self.link.loss) {
            return Err(NetParamError::Loss(self.link.loss));
        }
        if self.cost.cores == Some(0) {
            return Err(NetParamError::Cores);
        }
        if self.fetch_timeout.is_zero() {
            return Err(NetParamError::FetchTimeout);
        }
        let span =
            Duration::try_from_secs_f64(self.txs as f64 / self.tx_rate).unwrap_or(Duration::MAX);
        for (what, value) in [
            ("--link-delay", self.link.delay),
            ("--link-jitter", self.link.jitter),
            ("--batch-window", self.batch_window),
            ("--validation-us", self.cost.validation),
            ("--message-us", self.cost.message),
            ("--wait-us", self.cost.wait),
            ("the fetch timeout", self.fetch_timeout),
            ("the settle limit", self.settle),
            ("the workload (--txs / --tx-rate)", span),
        ] {
            if value > MAX_NET_TIME {
                return Err(NetParamError::Time { what, value });
            }
        }
        Ok(())
    }

    /// The run a testnet's `params.json` describes (its `args`), in `relay`
    /// mode (a `--compare` run names all three; pass each). The CPU model
    /// and wire sizes are the simulator's own: `cost` and `sizes`.
    /// Blocks, kills and partitions are not simulated: they are refused, so
    /// that a simulated run is never mistaken for the measured one.
    ///
    /// # Errors
    /// [`NetParamError::Testnet`] for a missing or impossible field, or a
    /// run with faults or blocks.
    pub fn from_testnet_args(
        args: &serde_json::Value,
        relay: Relay,
        cost: CostModel,
        sizes: WireSizes,
    ) -> Result<Self, NetParamError> {
        let bad = |what: &str| NetParamError::Testnet(what.to_owned());
        let u = |k: &str| {
            args.get(k)
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| bad(&format!("`{k}` is missing or not a whole number")))
        };
        let f = |k: &str| {
            args.get(k)
                .and_then(serde_json::Value::as_f64)
                .ok_or_else(|| bad(&format!("`{k}` is missing or not a number")))
        };
        let ms = |v: f64| Duration::from_secs_f64(v.max(0.0) / 1000.0);
        let topology: Topology = args
            .get("topology")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| bad("`topology` is missing"))?
            .parse()
            .map_err(|e: crate::results::UnknownTopology| bad(&e.to_string()))?;
        let nonempty = |k: &str| {
            args.get(k)
                .and_then(serde_json::Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        if nonempty("kills") || nonempty("partitions") {
            return Err(bad(
                "the run injected kills or partitions, which the simulator does not model",
            ));
        }
        if args
            .get("block_interval_ms")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
            > 0
        {
            return Err(bad(
                "the run mined blocks, which the simulator does not model",
            ));
        }
        if args.get("restart_every_ms").is_some_and(|v| !v.is_null())
            || args.get("partition_every_ms").is_some_and(|v| !v.is_null())
        {
            return Err(bad(
                "the run had rolling restarts or partitions, which the simulator does not model",
            ));
        }
        let p = Self {
            nodes: u("nodes")? as usize,
            topology,
            degree: u("degree")? as usize,
            mesh_d: u("mesh_d")? as usize,
            relay,
            batch_window: Duration::from_millis(u("batch_window_ms").unwrap_or(25)),
            seed: u("seed")?,
            txs: u("txs")? as usize,
            tx_rate: f("tx_rate")?,
            origin: args
                .get("origin")
                .and_then(serde_json::Value::as_u64)
                .map(|o| o as usize),
            link: LinkModel {
                delay: ms(f("link_delay_ms").unwrap_or(0.0)),
                jitter: ms(f("link_jitter_ms").unwrap_or(0.0)),
                loss: f("link_loss").unwrap_or(0.0),
                bandwidth_bps: u("link_bandwidth_bps").unwrap_or(0),
            },
            cost,
            sizes,
            fetch_timeout: Duration::from_secs(2),
            settle: Duration::from_millis(u("settle_ms").unwrap_or(60_000)),
        };
        p.validate()?;
        Ok(p)
    }

    /// The relay mode(s) of a testnet's `params.json` to simulate: every
    /// simulated mode for a `--compare` run.
    ///
    /// # Errors
    /// [`NetParamError::Testnet`] when `relay` is missing or unknown.
    pub fn testnet_relays(args: &serde_json::Value) -> Result<Vec<Relay>, NetParamError> {
        if args.get("compare").and_then(serde_json::Value::as_bool) == Some(true) {
            return Ok(Relay::ALL.to_vec());
        }
        let r: Relay = args
            .get("relay")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| NetParamError::Testnet("`relay` is missing".into()))?
            .parse()
            .map_err(|e: crate::results::UnknownRelay| NetParamError::Testnet(e.to_string()))?;
        Ok(vec![r])
    }
}

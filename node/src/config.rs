//! Configuration: flags, `RUMOR_*` environment variables and a TOML file,
//! merged with the precedence file < env < flags, then validated into a
//! [`NodeConfig`].
//!
//! [`Settings`] is both the clap argument set and the file format: every
//! field is optional, so "not given" is distinguishable from a default. Keys
//! in the file are the flag names, in `snake_case` or `kebab-case`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rumor_chain::{Address, Network, Params, ParamsError};
use rumor_p2p::{LinkConfig, MeshConfig, Multiaddr, P2pConfig, RelayMode};
use serde::{Deserialize, Serialize};

use crate::admission::Limits as AdmissionLimits;

/// The config file looked for in the data directory.
pub const CONFIG_FILE: &str = "rumord.toml";

/// The default RPC address of a node of `network`: loopback, on the
/// network's own port (testnet 17332, regtest 17443), so nodes of two
/// networks run side by side and neither takes bitcoind's 8332.
pub fn default_rpc_bind(network: Network) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], network.default_rpc_port()))
}

/// The default p2p listen address of a node of `network` (loopback:
/// nothing is exposed by accident; testnet 17333, regtest 17444).
pub fn default_listen(network: Network) -> String {
    format!("/ip4/127.0.0.1/tcp/{}", network.default_p2p_port())
}
/// The default genesis output count.
pub const DEFAULT_GENESIS_OUTPUTS: u32 = 10_000;
/// The default target block interval for `--mine`.
pub const DEFAULT_BLOCK_INTERVAL_MS: u64 = 10_000;
/// The default page cache of the chain database, MiB: small, since the node
/// is meant to idle in little memory.
pub const DEFAULT_DB_CACHE_MIB: usize = 16;

/// How often, in seconds, the status line is logged unless configured.
pub(crate) const DEFAULT_STATUS_INTERVAL_SECS: u64 = 60;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Every `rumord run` setting, as given on the command line, in the
/// environment or in the config file. `None` (or empty) means "not given".
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A config file to read instead of `<datadir>/rumord.toml`.
    #[arg(long, env = "RUMOR_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Data directory: node key, chain database, RPC cookie, config.
    /// Default `~/.rumor/<network>` (`~/.rumor/testnet`, `~/.rumor/regtest`).
    #[arg(long, env = "RUMOR_DATADIR", value_name = "PATH")]
    pub datadir: Option<PathBuf>,
    /// `testnet` (default) or `regtest`.
    #[arg(long, env = "RUMOR_NETWORK")]
    pub network: Option<Network>,
    /// Genesis outputs paid to the faucet keys (default 10000). All nodes of a network must agree.
    #[arg(long, env = "RUMOR_GENESIS_OUTPUTS", value_name = "N")]
    pub genesis_outputs: Option<u32>,
    /// p2p listen multiaddr (repeatable). Default `/ip4/127.0.0.1/tcp/17333`
    /// on testnet, port 17444 on regtest.
    #[arg(
        long,
        env = "RUMOR_LISTEN",
        value_name = "MULTIADDR",
        value_delimiter = ','
    )]
    #[serde(default)]
    pub listen: Vec<String>,
    /// Peer to dial at start (repeatable), optionally ending in `/p2p/<peerid>`.
    #[arg(
        long,
        env = "RUMOR_BOOTNODE",
        value_name = "MULTIADDR",
        value_delimiter = ','
    )]
    #[serde(default, alias = "bootnodes")]
    pub bootnode: Vec<String>,
    /// Do not look for more peers through peer exchange.
    #[arg(long, env = "RUMOR_NO_DISCOVERY", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_discovery: Option<bool>,
    /// Outbound connections to keep (default 8).
    #[arg(long, env = "RUMOR_TARGET_PEERS", value_name = "N")]
    pub target_peers: Option<usize>,
    /// Most peers at once (default 64); inbound peers may take all but
    /// min(8, N/2) of them, kept for the node's own dials.
    #[arg(long, env = "RUMOR_MAX_PEERS", value_name = "N")]
    pub max_peers: Option<usize>,
    /// Relay mode: `announce` (default), `push`, `batch` or `hybrid`.
    #[arg(long, env = "RUMOR_RELAY")]
    pub relay: Option<RelayMode>,
    /// Gossipsub D, the eager-push fan-out (default 6).
    #[arg(long, env = "RUMOR_MESH_D", value_name = "N")]
    pub mesh_d: Option<usize>,
    /// Gossipsub D_lo (default 4).
    #[arg(long, env = "RUMOR_MESH_D_LOW", value_name = "N")]
    pub mesh_d_low: Option<usize>,
    /// Gossipsub D_hi (default 12).
    #[arg(long, env = "RUMOR_MESH_D_HIGH", value_name = "N")]
    pub mesh_d_high: Option<usize>,
    /// Gossipsub D_lazy (default 6).
    #[arg(long, env = "RUMOR_MESH_D_LAZY", value_name = "N")]
    pub mesh_d_lazy: Option<usize>,
    /// Gossipsub heartbeat in ms (default 700).
    #[arg(long, env = "RUMOR_HEARTBEAT_MS", value_name = "N")]
    pub heartbeat_ms: Option<u64>,
    /// Seen-set capacity (default 200000).
    #[arg(long, env = "RUMOR_SEEN_CAPACITY", value_name = "N")]
    pub seen_capacity: Option<usize>,
    /// First-seen records kept for `getpropagation` (default 500000).
    #[arg(long, env = "RUMOR_FIRST_SEEN_CAPACITY", value_name = "N")]
    pub first_seen_capacity: Option<usize>,
    /// MiB of recently accepted transactions kept to serve peers and rebuild
    /// compact blocks without the mempool (default 32).
    #[arg(long, env = "RUMOR_RELAY_CACHE_MIB", value_name = "N")]
    pub relay_cache_mib: Option<usize>,
    /// Anti-entropy interval in ms (default 2000).
    #[arg(long, env = "RUMOR_SYNC_INTERVAL_MS", value_name = "N")]
    pub sync_interval_ms: Option<u64>,
    /// One fetch attempt's timeout in ms (default 2000).
    #[arg(long, env = "RUMOR_FETCH_TIMEOUT_MS", value_name = "N")]
    pub fetch_timeout_ms: Option<u64>,
    /// Batch relay mode: how long newly accepted ids are collected before
    /// they are announced in one message, in ms (default 25).
    #[arg(long, env = "RUMOR_BATCH_WINDOW_MS", value_name = "N")]
    pub batch_window_ms: Option<u64>,
    /// Hybrid relay mode: peers each node pushes an origin's objects to at
    /// once, at most (default 3; 1..=64).
    #[arg(long, env = "RUMOR_EAGER_DEGREE", value_name = "N")]
    pub eager_degree: Option<usize>,
    /// Link emulation: one-way delay in ms on everything sent.
    #[arg(long, env = "RUMOR_LINK_DELAY_MS", value_name = "N")]
    pub link_delay_ms: Option<u64>,
    /// Link emulation: jitter (±ms) on the delay; at most the delay.
    #[arg(long, env = "RUMOR_LINK_JITTER_MS", value_name = "N")]
    pub link_jitter_ms: Option<u64>,
    /// Link emulation: outgoing bandwidth per connection in bits/s (0: unlimited).
    #[arg(long, env = "RUMOR_LINK_BANDWIDTH_BPS", value_name = "N")]
    pub link_bandwidth_bps: Option<u64>,
    /// Link emulation: probability in [0, 1] that a received message is dropped.
    #[arg(long, env = "RUMOR_LINK_LOSS", value_name = "F")]
    pub link_loss: Option<f64>,
    /// The p2p identity: a 32-byte ed25519 secret seed in hex. Otherwise
    /// `<datadir>/node_key` is created once and reused.
    #[arg(
        long,
        env = "RUMOR_NODE_KEY",
        value_name = "HEX",
        hide_env_values = true
    )]
    pub node_key: Option<String>,
    /// JSON-RPC listen address. Default 127.0.0.1:17332 on testnet,
    /// 127.0.0.1:17443 on regtest. `rumor` reads it from `rumord.toml`.
    #[arg(long, env = "RUMOR_RPC_BIND", value_name = "ADDR")]
    pub rpc_bind: Option<SocketAddr>,
    /// RPC user (with --rpc-password); otherwise cookie auth.
    #[arg(long, env = "RUMOR_RPC_USER", value_name = "USER")]
    pub rpc_user: Option<String>,
    /// RPC password (with --rpc-user).
    #[arg(
        long,
        env = "RUMOR_RPC_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub rpc_password: Option<String>,
    /// Serve Prometheus metrics at `http://ADDR/metrics` (off by default).
    #[arg(long, env = "RUMOR_METRICS", value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
    /// Mine blocks, one per `--block-interval-ms` on average.
    #[arg(long, env = "RUMOR_MINE", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub mine: Option<bool>,
    /// Target block interval for `--mine`, in ms (default 10000).
    #[arg(long, env = "RUMOR_BLOCK_INTERVAL_MS", value_name = "N")]
    pub block_interval_ms: Option<u64>,
    /// Where mined coinbases pay (default: the key in `<datadir>/miner_key`).
    #[arg(long, env = "RUMOR_MINE_ADDRESS", value_name = "ADDR")]
    pub mine_address: Option<String>,
    /// Maximum mempool size in bytes (default 64 MiB).
    #[arg(long, env = "RUMOR_MAX_MEMPOOL_BYTES", value_name = "N")]
    pub max_mempool_bytes: Option<usize>,
    /// Refuse clients' transactions (RPC −28 "node busy, retry") while work
    /// waits longer than this for validation, in ms (default 200; 1 to
    /// 60000).
    #[arg(long, env = "RUMOR_BUSY_WAIT_MS", value_name = "N")]
    pub busy_wait_ms: Option<u64>,
    /// Refuse clients' transactions likewise while more than this many
    /// objects announced by peers wait to be fetched or validated (default
    /// 4096; 1 to 1000000).
    #[arg(long, env = "RUMOR_BUSY_BACKLOG", value_name = "N")]
    pub busy_backlog: Option<usize>,
    /// The chain database's page cache in MiB, like bitcoind's `-dbcache`
    /// (default 16; 1 to 65536).
    #[arg(long, env = "RUMOR_DB_CACHE_MIB", value_name = "N")]
    pub db_cache_mib: Option<usize>,
    /// Log the status line (tip, mempool, peers, relay backlog, refusals)
    /// every this many seconds (default 60; 1 to 86400).
    #[arg(long, env = "RUMOR_STATUS_INTERVAL_SECS", value_name = "N")]
    pub status_interval_secs: Option<u64>,
    /// `text` (default) or `json` log lines.
    #[arg(long, env = "RUMOR_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Worker threads of the node's async runtime (default: one per core).
    /// A testnet of many nodes on few cores runs better with 1.
    #[arg(long, env = "RUMOR_THREADS", value_name = "N")]
    pub threads: Option<usize>,
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No `--datadir` and no `$HOME` to default to.
    #[error("no --datadir given and $HOME is not set")]
    NoHome,
    /// The default data directory's config file names another network
    /// than the one that chose the directory.
    #[error(
        "{path} sets network = \"{file}\", but it is in the {dir} data directory; move it to the {file} one (~/.rumor/{file}/) or pass --network {file}"
    )]
    NetworkOfDefaultDir {
        /// The config file.
        path: PathBuf,
        /// The network it names.
        file: Network,
        /// The network whose default directory it is in.
        dir: Network,
    },
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("config file {path}: {message}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (unknown key, wrong type, syntax).
        message: String,
    },
    /// A multiaddr that does not parse.
    #[error("invalid {what} multiaddr `{value}`: {reason}")]
    Multiaddr {
        /// `listen` or `bootnode`.
        what: &'static str,
        /// The text.
        value: String,
        /// Why.
        reason: String,
    },
    /// A node key that is not 32 bytes of hex.
    #[error("--node-key must be 64 hex characters (a 32-byte ed25519 seed)")]
    NodeKey,
    /// An invalid mining address.
    #[error("invalid --mine-address `{value}`: {reason}")]
    MineAddress {
        /// The text.
        value: String,
        /// Why.
        reason: String,
    },
    /// Only one of user and password.
    #[error("--rpc-user and --rpc-password must be given together")]
    RpcCredentials,
    /// A value out of range.
    #[error("{0}")]
    Invalid(String),
    /// Genesis parameters that cannot form a network.
    #[error("invalid network parameters: {0}")]
    Params(#[from] ParamsError),
    /// p2p parameters that cannot work.
    #[error("invalid p2p configuration: {0}")]
    P2p(#[from] rumor_p2p::ConfigError),
}

/// How RPC clients authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcAuth {
    /// `<datadir>/.cookie`, rewritten at every start.
    Cookie,
    /// A configured user and password.
    UserPassword {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

/// The effective, validated node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The config file the settings were read from ([`Settings::load`]
    /// sets it when it read one), for the start-up log.
    pub config_file: Option<PathBuf>,
    /// The data directory.
    pub datadir: PathBuf,
    /// The consensus parameters (network and genesis).
    pub params: Params,
    /// The p2p layer's configuration.
    pub p2p: P2pConfig,
    /// A fixed p2p identity seed, if given.
    pub node_key: Option<[u8; 32]>,
    /// JSON-RPC listen address.
    pub rpc_bind: SocketAddr,
    /// RPC authentication.
    pub rpc_auth: RpcAuth,
    /// Prometheus listen address.
    pub metrics: Option<SocketAddr>,
    /// Whether to mine.
    pub mine: bool,
    /// Target block interval when mining.
    pub block_interval: Duration,
    /// Where mined coinbases pay (`None`: the datadir's miner key).
    pub mine_address: Option<Address>,
    /// Mempool size limit in bytes.
    pub max_mempool_bytes: usize,
    /// When clients' transactions are refused as busy.
    pub admission: AdmissionLimits,
    /// The chain database's page cache in bytes.
    pub db_cache_bytes: usize,
    /// How often the status line is logged.
    pub status_interval: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Async runtime worker threads (0: one per core).
    pub threads: usize,
}

impl Settings {
    /// These settings with `datadir` set.
    pub fn with_datadir(self, datadir: &Path) -> Settings {
        Settings {
            datadir: Some(datadir.to_owned()),
            ..self
        }
    }

    /// Overlays `self` (env and flags) on `file`: every value given here wins.
    pub fn over(self, file: Settings) -> Settings {
        macro_rules! pick {
            ($($f:ident),* $(,)?) => { Settings { $($f: self.$f.or(file.$f),)* listen: if self.listen.is_empty() { file.listen } else { self.listen }, bootnode: if self.bootnode.is_empty() { file.bootnode } else { self.bootnode } } };
        }
        pick!(
            config,
            datadir,
            network,
            genesis_outputs,
            no_discovery,
            target_peers,
            max_peers,
            relay,
            mesh_d,
            mesh_d_low,
            mesh_d_high,
            mesh_d_lazy,
            heartbeat_ms,
            seen_capacity,
            first_seen_capacity,
            relay_cache_mib,
            sync_interval_ms,
            fetch_timeout_ms,
            batch_window_ms,
            eager_degree,
            link_delay_ms,
            link_jitter_ms,
            link_bandwidth_bps,
            link_loss,
            node_key,
            rpc_bind,
            rpc_user,
            rpc_password,
            metrics,
            mine,
            block_interval_ms,
            mine_address,
            max_mempool_bytes,
            busy_wait_ms,
            busy_backlog,
            db_cache_mib,
            status_interval_secs,
            log_format,
            threads,
        )
    }

    /// Parses a config file's text. Keys may be written in kebab-case.
    ///
    /// # Errors
    /// [`ConfigError::ParseFile`] naming the problem.
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let err = |message: String| ConfigError::ParseFile {
            path: path.to_owned(),
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let normalized: toml::Table = table
            .into_iter()
            .map(|(k, v)| (k.replace('-', "_"), v))
            .collect();
        Settings::deserialize(toml::Value::Table(normalized)).map_err(|e| err(e.to_string()))
    }

    /// Reads the config file (`--config`, or `<datadir>/rumord.toml` if it
    /// exists) and overlays these settings on it.
    ///
    /// # Errors
    /// The file cannot be read or parsed, or no data directory can be found.
    ///
    /// Without `--datadir` the directory is `~/.rumor/<network>`, the
    /// network coming from the flags or environment (testnet if neither
    /// says); a config file there naming another network is an error,
    /// since it would have chosen another directory.
    pub fn load(self) -> Result<Settings, ConfigError> {
        let dir_network = self.network.unwrap_or_default();
        let (path, required) = match &self.config {
            Some(p) => (p.clone(), true),
            None => (
                resolve_datadir(self.datadir.as_deref(), dir_network)?.join(CONFIG_FILE),
                false,
            ),
        };
        let (file, read) = match std::fs::read_to_string(&path) {
            Ok(text) => (Settings::from_toml(&text, &path)?, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                (Settings::default(), false)
            }
            Err(source) => return Err(ConfigError::ReadFile { path, source }),
        };
        let defaulted_dir = self.datadir.is_none() && file.datadir.is_none();
        if defaulted_dir
            && self.config.is_none()
            && self.network.is_none()
            && let Some(n) = file.network.filter(|n| *n != dir_network)
        {
            return Err(ConfigError::NetworkOfDefaultDir {
                path,
                file: n,
                dir: dir_network,
            });
        }
        let mut merged = self.over(file);
        // The file read, if any, for the start-up log.
        merged.config = read.then_some(path);
        Ok(merged)
    }

    /// Validates the merged settings into a [`NodeConfig`].
    ///
    /// # Errors
    /// The first invalid value, as a [`ConfigError`].
    pub fn resolve(self) -> Result<NodeConfig, ConfigError> {
        let network = self.network.unwrap_or_default();
        let datadir = resolve_datadir(self.datadir.as_deref(), network)?;
        let params = Params::new(network)
            .with_genesis_outputs(self.genesis_outputs.unwrap_or(DEFAULT_GENESIS_OUTPUTS))?;
        let defaults = P2pConfig::default();
        let parse_addrs = |what: &'static str, list: &[String]| {
            list.iter()
                .map(|s| {
                    s.trim()
                        .parse::<Multiaddr>()
                        .map_err(|e| ConfigError::Multiaddr {
                            what,
                            value: s.clone(),
                            reason: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mut listen = parse_addrs("listen", &self.listen)?;
        if listen.is_empty() {
            listen.push(default_listen(network).parse().expect("valid default"));
        }
        let bootnodes = parse_addrs("bootnode", &self.bootnode)?;
        let dm = defaults.mesh;
        let mesh = MeshConfig {
            d: self.mesh_d.unwrap_or(dm.d),
            d_low: self.mesh_d_low.unwrap_or(dm.d_low),
            d_high: self.mesh_d_high.unwrap_or(dm.d_high),
            d_lazy: self.mesh_d_lazy.unwrap_or(dm.d_lazy),
            heartbeat: self
                .heartbeat_ms
                .map_or(dm.heartbeat, Duration::from_millis),
            history_gossip: dm.history_gossip,
        };
        let link = LinkConfig {
            delay: Duration::from_millis(self.link_delay_ms.unwrap_or(0)),
            jitter: Duration::from_millis(self.link_jitter_ms.unwrap_or(0)),
            bandwidth_bps: self.link_bandwidth_bps.unwrap_or(0),
            loss: self.link_loss.unwrap_or(0.0),
        };
        let p2p = P2pConfig {
            network: network.name().to_owned(),
            listen,
            bootnodes,
            discovery: !self.no_discovery.unwrap_or(false),
            target_peers: self.target_peers.unwrap_or(defaults.target_peers),
            max_peers: self.max_peers.unwrap_or(defaults.max_peers),
            relay: self.relay.unwrap_or_default(),
            mesh,
            seen_capacity: self.seen_capacity.unwrap_or(defaults.seen_capacity),
            first_seen_capacity: self
                .first_seen_capacity
                .unwrap_or(defaults.first_seen_capacity),
            relay_cache_bytes: self
                .relay_cache_mib
                .map_or(defaults.relay_cache_bytes, |m| m.saturating_mul(1 << 20)),
            sync_interval: self
                .sync_interval_ms
                .map_or(defaults.sync_interval, Duration::from_millis),
            fetch_timeout: self
                .fetch_timeout_ms
                .map_or(defaults.fetch_timeout, Duration::from_millis),
            batch_window: self
                .batch_window_ms
                .map_or(defaults.batch_window, Duration::from_millis),
            eager_degree: self.eager_degree.unwrap_or(defaults.eager_degree),
            link,
            ..defaults
        };
        p2p.validate()?;
        let node_key = match &self.node_key {
            None => None,
            Some(text) => Some(parse_seed(text).ok_or(ConfigError::NodeKey)?),
        };
        let rpc_auth = match (self.rpc_user, self.rpc_password) {
            (None, None) => RpcAuth::Cookie,
            (Some(user), Some(password)) => {
                if user.is_empty() || user.contains(':') {
                    return Err(ConfigError::Invalid(
                        "--rpc-user must be non-empty and contain no ':'".into(),
                    ));
                }
                RpcAuth::UserPassword { user, password }
            }
            _ => return Err(ConfigError::RpcCredentials),
        };
        let mine_address = match &self.mine_address {
            None => None,
            Some(text) => {
                Some(
                    Address::parse(text, network).map_err(|e| ConfigError::MineAddress {
                        value: text.clone(),
                        reason: e.to_string(),
                    })?,
                )
            }
        };
        let block_interval_ms = self.block_interval_ms.unwrap_or(DEFAULT_BLOCK_INTERVAL_MS);
        if block_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "--block-interval-ms must be greater than zero".into(),
            ));
        }
        let max_mempool_bytes = self.max_mempool_bytes.unwrap_or(64 * 1024 * 1024);
        if max_mempool_bytes < 1024 * 1024 {
            return Err(ConfigError::Invalid(
                "--max-mempool-bytes must be at least 1 MiB".into(),
            ));
        }
        let limits = AdmissionLimits::default();
        let busy_wait_ms = self
            .busy_wait_ms
            .unwrap_or(limits.max_wait.as_millis() as u64);
        if !(1..=60_000).contains(&busy_wait_ms) {
            return Err(ConfigError::Invalid(format!(
                "--busy-wait-ms must be 1 to 60000, not {busy_wait_ms}"
            )));
        }
        let busy_backlog = self.busy_backlog.unwrap_or(limits.max_relay_backlog);
        if !(1..=1_000_000).contains(&busy_backlog) {
            return Err(ConfigError::Invalid(format!(
                "--busy-backlog must be 1 to 1000000, not {busy_backlog}"
            )));
        }
        if let Some(d) = self.eager_degree
            && !(1..=64).contains(&d)
        {
            return Err(ConfigError::Invalid(format!(
                "--eager-degree must be 1 to 64, not {d}"
            )));
        }
        let admission = AdmissionLimits {
            max_wait: Duration::from_millis(busy_wait_ms),
            max_relay_backlog: busy_backlog,
            ..limits
        };
        let db_cache_mib = self.db_cache_mib.unwrap_or(DEFAULT_DB_CACHE_MIB);
        if !(1..=65_536).contains(&db_cache_mib) {
            return Err(ConfigError::Invalid(format!(
                "--db-cache-mib must be 1 to 65536, not {db_cache_mib}"
            )));
        }
        let status_interval_secs = self
            .status_interval_secs
            .unwrap_or(DEFAULT_STATUS_INTERVAL_SECS);
        if !(1..=86_400).contains(&status_interval_secs) {
            return Err(ConfigError::Invalid(format!(
                "--status-interval-secs must be 1 to 86400, not {status_interval_secs}"
            )));
        }
        Ok(NodeConfig {
            config_file: self.config,
            datadir,
            params,
            p2p,
            node_key,
            rpc_bind: self.rpc_bind.unwrap_or_else(|| default_rpc_bind(network)),
            rpc_auth,
            metrics: self.metrics,
            mine: self.mine.unwrap_or(false),
            block_interval: Duration::from_millis(block_interval_ms),
            mine_address,
            max_mempool_bytes,
            admission,
            db_cache_bytes: db_cache_mib * 1024 * 1024,
            status_interval: Duration::from_secs(status_interval_secs),
            log_format: self.log_format.unwrap_or_default(),
            threads: self.threads.unwrap_or(0),
        })
    }
}

/// `path` as given, or `~/.rumor/<network>`: like bitcoind's network
/// subfolders, so the default data of one network never meets another's.
///
/// # Errors
/// [`ConfigError::NoHome`] if no path is given and `$HOME` is unset.
pub fn resolve_datadir(path: Option<&Path>, network: Network) -> Result<PathBuf, ConfigError> {
    match path {
        Some(p) => Ok(p.to_owned()),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| default_datadir(Path::new(&h), network))
            .ok_or(ConfigError::NoHome),
    }
}

/// `<home>/.rumor/<network>`.
pub fn default_datadir(home: &Path, network: Network) -> PathBuf {
    home.join(".rumor").join(network.name())
}

/// Parses 64 hex characters into a 32-byte seed.
pub fn parse_seed(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

impl NodeConfig {
    /// Logs the effective configuration once, at info level, as structured
    /// fields named like the `rumord.toml` keys (snake_case), secrets
    /// redacted: the node's settings and the config file read, then the p2p
    /// layer's. JSON logs carry each as its own field.
    pub fn log_effective(&self) {
        let ms = |d: Duration| d.as_millis() as u64;
        let list = |addrs: &[Multiaddr]| {
            addrs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let config_file = self
            .config_file
            .as_ref()
            .map_or_else(|| "none".to_owned(), |p| p.display().to_string());
        let rpc_auth = match &self.rpc_auth {
            RpcAuth::Cookie => "cookie".to_owned(),
            RpcAuth::UserPassword { user, .. } => format!("user {user}"),
        };
        tracing::info!(
            config_file,
            datadir = %self.datadir.display(),
            network = %self.params.network,
            genesis_outputs = self.params.genesis_outputs,
            node_key = if self.node_key.is_some() { "given" } else { "datadir" },
            rpc_bind = %self.rpc_bind,
            rpc_auth,
            metrics = %self.metrics.map_or_else(|| "off".to_owned(), |a| a.to_string()),
            mine = self.mine,
            block_interval_ms = ms(self.block_interval),
            mine_address = %self
                .mine_address
                .map_or_else(|| "miner_key".to_owned(), |a| a.encode(self.params.network)),
            max_mempool_bytes = self.max_mempool_bytes,
            busy_wait_ms = ms(self.admission.max_wait),
            busy_backlog = self.admission.max_relay_backlog,
            db_cache_mib = self.db_cache_bytes / (1024 * 1024),
            status_interval_s = self.status_interval.as_secs(),
            log_format = match self.log_format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            },
            threads = self.threads,
            "effective configuration"
        );
        let p = &self.p2p;
        tracing::info!(
            listen = %list(&p.listen),
            bootnode = %list(&p.bootnodes),
            discovery = p.discovery,
            target_peers = p.target_peers,
            max_peers = p.max_peers,
            relay = %p.relay,
            mesh_d = p.mesh.d,
            mesh_d_low = p.mesh.d_low,
            mesh_d_high = p.mesh.d_high,
            mesh_d_lazy = p.mesh.d_lazy,
            heartbeat_ms = ms(p.mesh.heartbeat),
            seen_capacity = p.seen_capacity,
            first_seen_capacity = p.first_seen_capacity,
            relay_cache_mib = p.relay_cache_bytes / (1024 * 1024),
            sync_interval_ms = ms(p.sync_interval),
            fetch_timeout_ms = ms(p.fetch_timeout),
            batch_window_ms = ms(p.batch_window),
            link_delay_ms = ms(p.link.delay),
            link_jitter_ms = ms(p.link.jitter),
            link_bandwidth_bps = p.link.bandwidth_bps,
            link_loss = p.link.loss,
            "effective p2p configuration"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        s: Settings,
    }

    fn parse(args: &[&str]) -> Settings {
        Cli::try_parse_from(std::iter::once("rumord").chain(args.iter().copied()))
            .unwrap()
            .s
    }

    #[test]
    fn flags_override_file_and_file_fills_gaps() {
        let file = Settings::from_toml(
            "network = \"regtest\"\nmesh-d = 5\nlisten = [\"/ip4/127.0.0.1/tcp/1\"]\nmine = true\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let cli = parse(&["--datadir", "/tmp/x", "--mesh-d", "7", "--mine", "false"]);
        let merged = cli.over(file);
        assert_eq!(merged.mesh_d, Some(7));
        assert_eq!(merged.network, Some(Network::Regtest));
        assert_eq!(merged.mine, Some(false));
        assert_eq!(merged.listen, vec!["/ip4/127.0.0.1/tcp/1".to_owned()]);
        let cfg = merged.resolve().unwrap();
        assert_eq!(cfg.p2p.mesh.d, 7);
        assert_eq!(cfg.p2p.network, "regtest");
        assert!(!cfg.mine);
    }

    #[test]
    fn admission_bounds_are_applied_and_out_of_range_values_refused() {
        let cfg = parse(&[
            "--datadir",
            "/tmp/x",
            "--busy-wait-ms",
            "50",
            "--busy-backlog",
            "9",
        ])
        .resolve()
        .unwrap();
        assert_eq!(cfg.admission.max_wait, Duration::from_millis(50));
        assert_eq!(cfg.admission.max_relay_backlog, 9);
        for (flag, value) in [
            ("--busy-wait-ms", "0"),
            ("--busy-wait-ms", "60001"),
            ("--busy-backlog", "0"),
            ("--busy-backlog", "1000001"),
        ] {
            let err = parse(&["--datadir", "/tmp/x", flag, value])
                .resolve()
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(flag) && err.contains(value),
                "{flag} {value}: {err}"
            );
        }
    }

    #[test]
    fn the_example_file_parses() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rumord.example.toml"))
                .unwrap();
        // Every line uncommented (placeholders made valid) must be a known key.
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = "))
            .map(|l| l.split("  ").next().unwrap_or(l).trim().to_owned() + "\n")
            .collect::<String>()
            .replace("<64 hex>", &"ab".repeat(32))
            .replace(
                "12D3KooW...",
                "12D3KooWFrmqVwiYwpprEPtYvFSmTSXbUaEkwHqveW5isTxYK5qk",
            )
            .replace(
                "rumortest1...",
                &rumor_chain::KeyPair::from_seed([1; 32])
                    .address()
                    .encode(Network::Testnet),
            );
        let s = Settings::from_toml(&uncommented, Path::new("example")).unwrap();
        assert_eq!(s.mesh_d, Some(6));
        s.with_datadir(Path::new("/tmp/x")).resolve().unwrap();
    }

    #[test]
    fn bare_bool_flags_and_defaults() {
        let cfg = parse(&["--datadir", "/tmp/x", "--mine", "--no-discovery"])
            .resolve()
            .unwrap();
        assert!(cfg.mine);
        assert!(!cfg.p2p.discovery);
        assert_eq!(cfg.rpc_bind, default_rpc_bind(Network::Testnet));
        assert_eq!(
            cfg.p2p.listen[0].to_string(),
            default_listen(Network::Testnet)
        );
        assert_eq!(cfg.params.genesis_outputs, DEFAULT_GENESIS_OUTPUTS);
        assert_eq!(cfg.rpc_auth, RpcAuth::Cookie);
        assert_eq!(cfg.db_cache_bytes, DEFAULT_DB_CACHE_MIB << 20);
        let cfg = parse(&["--datadir", "/tmp/x", "--db-cache-mib", "4"])
            .resolve()
            .unwrap();
        assert_eq!(cfg.db_cache_bytes, 4 << 20);
    }

    #[test]
    fn each_network_has_its_own_ports_and_default_datadir() {
        let t = parse(&["--datadir", "/tmp/x"]).resolve().unwrap();
        let r = parse(&["--datadir", "/tmp/x", "--network", "regtest"])
            .resolve()
            .unwrap();
        assert_eq!(t.rpc_bind.to_string(), "127.0.0.1:17332");
        assert_eq!(r.rpc_bind.to_string(), "127.0.0.1:17443");
        assert_eq!(t.p2p.listen[0].to_string(), "/ip4/127.0.0.1/tcp/17333");
        assert_eq!(r.p2p.listen[0].to_string(), "/ip4/127.0.0.1/tcp/17444");
        for c in [&t, &r] {
            assert_ne!(c.rpc_bind.port(), 8332, "bitcoind mainnet's port");
        }
        assert_eq!(
            default_datadir(Path::new("/home/u"), Network::Regtest),
            Path::new("/home/u/.rumor/regtest")
        );
        assert_eq!(
            default_datadir(Path::new("/home/u"), Network::Testnet),
            Path::new("/home/u/.rumor/testnet")
        );
        // An explicit --datadir is used as given.
        assert_eq!(r.datadir, Path::new("/tmp/x"));
    }

    #[test]
    fn bad_values_are_typed_errors() {
        let bad = |args: &[&str]| {
            let mut all = vec!["--datadir", "/tmp/x"];
            all.extend_from_slice(args);
            parse(&all).resolve().unwrap_err()
        };
        assert!(matches!(
            bad(&["--listen", "nonsense"]),
            ConfigError::Multiaddr { .. }
        ));
        assert!(matches!(bad(&["--node-key", "abcd"]), ConfigError::NodeKey));
        assert!(matches!(
            bad(&["--rpc-user", "u"]),
            ConfigError::RpcCredentials
        ));
        assert!(matches!(
            bad(&["--link-loss", "2"]),
            ConfigError::P2p(rumor_p2p::ConfigError::Loss(_))
        ));
        assert!(matches!(
            bad(&["--mine-address", "xyz"]),
            ConfigError::MineAddress { .. }
        ));
        for mib in ["0", "65537"] {
            assert!(matches!(
                bad(&["--db-cache-mib", mib]),
                ConfigError::Invalid(m) if m.contains("--db-cache-mib")
            ));
        }
        assert!(matches!(
            bad(&["--genesis-outputs", "0"]),
            ConfigError::Params(_)
        ));
        assert!(matches!(
            Settings::from_toml("bogus_key = 1", Path::new("f.toml")),
            Err(ConfigError::ParseFile { .. })
        ));
        assert!(matches!(
            Settings::from_toml("mesh_d = \"six\"", Path::new("f.toml")),
            Err(ConfigError::ParseFile { .. })
        ));
    }
}

//! [`P2pConfig`]: everything the p2p layer can be tuned with, validated once.

use std::num::NonZeroUsize;
use std::time::Duration;

use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};

pub use rumor_relay::RelayMode;

/// The gossipsub mesh: D (the fan-out), its bounds, lazy gossip and heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MeshConfig {
    /// D: mesh peers per topic, the eager-push fan-out. Default 6.
    pub d: usize,
    /// D_lo: graft below this. Default 4.
    pub d_low: usize,
    /// D_hi: prune above this. Default 12.
    pub d_high: usize,
    /// D_lazy: peers sent IHAVE gossip per heartbeat. Default 6.
    pub d_lazy: usize,
    /// Heartbeat interval. Default 700 ms (gossipsub's 1 s is slow for a testbed).
    #[serde(with = "duration_ms")]
    pub heartbeat: Duration,
    /// Heartbeats an object is gossiped lazily after it was forwarded. Default 3.
    pub history_gossip: usize,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self {
            d: 6,
            d_low: 4,
            d_high: 12,
            d_lazy: 6,
            heartbeat: Duration::from_millis(700),
            history_gossip: 3,
        }
    }
}

/// Link emulation for testnets, applied by the node itself (the kernel may
/// lack `sch_netem`). Off by default.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkConfig {
    /// One-way delay added to everything this node sends.
    #[serde(with = "duration_ms")]
    pub delay: Duration,
    /// Uniform jitter (±) on the delay. Bytes stay in order.
    #[serde(with = "duration_ms")]
    pub jitter: Duration,
    /// Outgoing bandwidth per connection in bits per second (0: unlimited).
    pub bandwidth_bps: u64,
    /// Probability in [0, 1] that a received protocol message (gossip
    /// message, request or response) is dropped.
    pub loss: f64,
}

impl LinkConfig {
    /// Whether any shaping of the byte stream is on.
    pub fn shapes_stream(&self) -> bool {
        !self.delay.is_zero() || !self.jitter.is_zero() || self.bandwidth_bps > 0
    }
}

/// The p2p layer's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct P2pConfig {
    /// The network name, part of every topic and protocol name.
    pub network: String,
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start and whenever below `target_peers`.
    pub bootnodes: Vec<Multiaddr>,
    /// Find more peers through peer exchange. Off for fixed topologies.
    pub discovery: bool,
    /// Outbound connections to keep. Default 8.
    pub target_peers: usize,
    /// Most peers at once (inbound and outbound). Default 64. Inbound peers
    /// may take at most `max_peers - min(8, max_peers / 2)`: the rest are
    /// kept for the node's own dials, so inbound identities alone cannot
    /// eclipse it (Bitcoin Core's separate outbound slots).
    pub max_peers: usize,
    /// Announce, push, batch or hybrid.
    pub relay: RelayMode,
    /// The gossipsub mesh.
    pub mesh: MeshConfig,
    /// Batch mode: how long a node collects newly accepted ids before it
    /// announces them in one message. Default 25 ms.
    #[serde(with = "duration_ms")]
    pub batch_window: Duration,
    /// Hybrid mode: peers each node pushes an origin's objects to, at most
    /// (the eager degree of each tree). Default 3.
    #[serde(default = "default_eager_degree")]
    pub eager_degree: usize,
    /// Seen-set capacity. Default 200,000.
    pub seen_capacity: usize,
    /// Anti-entropy interval. Default 2 s.
    #[serde(with = "duration_ms")]
    pub sync_interval: Duration,
    /// Anti-entropy waits this long before fetching what a peer has and we
    /// lack, then checks again: objects still spreading by gossip arrive
    /// meanwhile and are not fetched twice. Default 1 s.
    #[serde(with = "duration_ms")]
    pub sync_grace: Duration,
    /// One fetch attempt's timeout. Default 2 s.
    #[serde(with = "duration_ms")]
    pub fetch_timeout: Duration,
    /// Attempts per fetch before giving up. Default 4.
    pub fetch_attempts: u32,
    /// Requests out to one peer at once. Default 512.
    pub max_inflight_per_peer: usize,
    /// Fetches tracked at once. Default 50,000.
    pub max_inflight: usize,
    /// Objects tracked on one peer's word (Bitcoin Core's
    /// `MAX_PEER_TX_ANNOUNCEMENTS`); more announcements from it are dropped.
    /// Default 5,000.
    pub max_announced_per_peer: usize,
    /// Transaction bytes kept to serve peers and rebuild compact blocks
    /// without asking the node. Default 32 MiB.
    pub relay_cache_bytes: usize,
    /// Bodies waiting for the node's validation before new ones are dropped.
    /// Default 20,000.
    pub validation_queue: usize,
    /// Failure detection: ping interval. Default 10 s: a peer that dies
    /// closes its TCP connections and is gone at once; pings find the rest
    /// (a hung process, a silent link), and at 2 s pings on every connection
    /// were, with anti-entropy rounds, most of an idle node's CPU.
    #[serde(with = "duration_ms")]
    pub ping_interval: Duration,
    /// Failure detection: a peer silent this long is dropped. Default 10 s.
    #[serde(with = "duration_ms")]
    pub ping_timeout: Duration,
    /// Gossip messages at least this large trigger IDONTWANT. Default 512.
    pub idontwant_threshold: usize,
    /// First-seen records kept. Default 500,000.
    pub first_seen_capacity: usize,
    /// Link emulation.
    pub link: LinkConfig,
    /// How long a peer disconnected for misbehaviour stays banned. Default 60 s.
    #[serde(with = "duration_ms")]
    pub ban_duration: Duration,
    /// Bans in force at start: the list the node kept from its last run
    /// (the p2p layer reports every change as
    /// [`crate::P2pEvent::BansChanged`]; the node owns the file). Not a
    /// configuration setting. Default none.
    #[serde(skip)]
    pub bans: Vec<crate::BanRecord>,
}

impl Default for P2pConfig {
    fn default() -> Self {
        Self {
            network: "testnet".into(),
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("valid multiaddr")],
            bootnodes: Vec::new(),
            discovery: true,
            target_peers: 8,
            max_peers: 64,
            relay: RelayMode::Announce,
            mesh: MeshConfig::default(),
            batch_window: Duration::from_millis(25),
            eager_degree: default_eager_degree(),
            seen_capacity: 200_000,
            sync_interval: Duration::from_secs(2),
            sync_grace: Duration::from_secs(1),
            fetch_timeout: Duration::from_secs(2),
            fetch_attempts: 4,
            max_inflight_per_peer: 512,
            max_inflight: 50_000,
            max_announced_per_peer: 5_000,
            relay_cache_bytes: 32 << 20,
            validation_queue: 20_000,
            ping_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(10),
            idontwant_threshold: 512,
            first_seen_capacity: 500_000,
            link: LinkConfig::default(),
            ban_duration: Duration::from_secs(60),
            bans: Vec::new(),
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An unknown relay mode name.
    #[error(transparent)]
    UnknownRelayMode(#[from] rumor_relay::UnknownRelayMode),
    /// Mesh bounds out of order.
    #[error(
        "mesh parameters must satisfy 1 <= d_low <= d <= d_high (got {d_low} <= {d} <= {d_high})"
    )]
    MeshBounds {
        /// D_lo.
        d_low: usize,
        /// D.
        d: usize,
        /// D_hi.
        d_high: usize,
    },
    /// A zero capacity or interval that must be positive.
    #[error("`{0}` must be greater than zero")]
    Zero(&'static str),
    /// A capacity so large it would exhaust memory before it bounds anything.
    #[error("`{name}` must be at most {max} (got {got})")]
    TooLarge {
        /// The setting.
        name: &'static str,
        /// Its upper bound.
        max: usize,
        /// The value given.
        got: usize,
    },
    /// Loss outside [0, 1].
    #[error("link loss {0} is outside [0, 1]")]
    Loss(f64),
    /// Jitter larger than the delay (it would reorder or go negative).
    #[error("link jitter ({jitter:?}) must not exceed the delay ({delay:?})")]
    Jitter {
        /// The jitter.
        jitter: Duration,
        /// The delay.
        delay: Duration,
    },
    /// A network name that cannot be part of a protocol name.
    #[error("network name `{0}` must be 1-32 characters of [a-z0-9-]")]
    NetworkName(String),
}

impl P2pConfig {
    /// Checks the configuration.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let m = &self.mesh;
        if !(1 <= m.d_low && m.d_low <= m.d && m.d <= m.d_high) {
            return Err(ConfigError::MeshBounds {
                d_low: m.d_low,
                d: m.d,
                d_high: m.d_high,
            });
        }
        let positive: [(&'static str, bool); 12] = [
            ("mesh.heartbeat", !m.heartbeat.is_zero()),
            ("batch_window", !self.batch_window.is_zero()),
            ("eager_degree", self.eager_degree > 0),
            ("seen_capacity", self.seen_capacity > 0),
            ("sync_interval", !self.sync_interval.is_zero()),
            ("fetch_timeout", !self.fetch_timeout.is_zero()),
            ("fetch_attempts", self.fetch_attempts > 0),
            ("max_inflight_per_peer", self.max_inflight_per_peer > 0),
            ("max_inflight", self.max_inflight > 0),
            ("validation_queue", self.validation_queue > 0),
            ("max_peers", self.max_peers > 0),
            ("max_announced_per_peer", self.max_announced_per_peer > 0),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, ok)| !ok) {
            return Err(ConfigError::Zero(name));
        }
        // Each bound is far above any useful value; the seen-set costs about
        // 100 bytes an entry, so 10 M entries is already a gigabyte.
        let bounded: [(&'static str, usize, usize); 8] = [
            ("seen_capacity", self.seen_capacity, 10_000_000),
            ("first_seen_capacity", self.first_seen_capacity, 10_000_000),
            ("max_inflight", self.max_inflight, 1_000_000),
            ("validation_queue", self.validation_queue, 1_000_000),
            ("max_peers", self.max_peers, 10_000),
            ("fetch_attempts", self.fetch_attempts as usize, 100),
            (
                "max_announced_per_peer",
                self.max_announced_per_peer,
                1_000_000,
            ),
            ("relay_cache_bytes", self.relay_cache_bytes, 1 << 34),
        ];
        if let Some(&(name, got, max)) = bounded.iter().find(|(_, got, max)| got > max) {
            return Err(ConfigError::TooLarge { name, max, got });
        }
        if !(0.0..=1.0).contains(&self.link.loss) || self.link.loss.is_nan() {
            return Err(ConfigError::Loss(self.link.loss));
        }
        if self.link.jitter > self.link.delay {
            return Err(ConfigError::Jitter {
                jitter: self.link.jitter,
                delay: self.link.delay,
            });
        }
        let name_ok = !self.network.is_empty()
            && self.network.len() <= 32
            && self
                .network
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(ConfigError::NetworkName(self.network.clone()));
        }
        Ok(())
    }

    /// The relay state machine's configuration (after [`P2pConfig::validate`]).
    pub fn relay_config(&self, seed: u64) -> rumor_relay::RelayConfig {
        let nz = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        rumor_relay::RelayConfig {
            mode: self.relay,
            batch_window: self.batch_window,
            seen_capacity: nz(self.seen_capacity),
            tracker: rumor_relay::TrackerLimits {
                timeout: self.fetch_timeout,
                max_attempts: self.fetch_attempts,
                max_announced_per_peer: self.max_announced_per_peer,
                max_inflight_per_peer: self.max_inflight_per_peer,
                capacity: self.max_inflight,
                struck_delay: self.fetch_timeout / 2,
                strike_memory: self.fetch_timeout * 15,
            },
            cache_tx_bytes: self.relay_cache_bytes,
            cache_blocks: nz(16),
            sync: rumor_relay::SyncLimits {
                interval: self.sync_interval,
                grace: self.sync_grace,
                ..rumor_relay::SyncLimits::default()
            },
            tree: rumor_relay::TreeLimits {
                eager_degree: self.eager_degree,
                ..rumor_relay::TreeLimits::default()
            },
            // A network rumor-chain knows fixes every block's target; a
            // name it does not know (tests) leaves headers checked only
            // against their own.
            header_target: self
                .network
                .parse::<rumor_chain::Network>()
                .ok()
                .map(|n| rumor_chain::Params::new(n).target),
            seed,
            ..rumor_relay::RelayConfig::default()
        }
    }
}

/// Serde for durations as integer milliseconds.
pub mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a duration as milliseconds.
    ///
    /// # Errors
    /// Those of the serializer.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis().min(u64::MAX as u128) as u64)
    }

    /// Reads milliseconds as a duration.
    ///
    /// # Errors
    /// Those of the deserializer.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

fn default_eager_degree() -> usize {
    rumor_relay::TreeLimits::default().eager_degree
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_bad_values_are_named() {
        assert_eq!(P2pConfig::default().validate(), Ok(()));
        let mut c = P2pConfig::default();
        c.mesh.d = 20;
        assert!(matches!(c.validate(), Err(ConfigError::MeshBounds { .. })));
        let mut c = P2pConfig::default();
        c.link.loss = 1.5;
        assert_eq!(c.validate(), Err(ConfigError::Loss(1.5)));
        let c = P2pConfig {
            seen_capacity: 0,
            ..P2pConfig::default()
        };
        assert_eq!(c.validate(), Err(ConfigError::Zero("seen_capacity")));
        let c = P2pConfig {
            seen_capacity: usize::MAX,
            ..P2pConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::TooLarge {
                name: "seen_capacity",
                ..
            })
        ));
        let mut c = P2pConfig::default();
        c.link.jitter = Duration::from_millis(5);
        assert!(matches!(c.validate(), Err(ConfigError::Jitter { .. })));
        let c = P2pConfig {
            network: "Bad Name".into(),
            ..P2pConfig::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::NetworkName(_))));
        assert!("flood".parse::<RelayMode>().is_err());
    }
}

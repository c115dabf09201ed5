//! The libp2p [`Behaviour`]: gossipsub, the `getdata`, `sync` and `push`
//! request-response protocols, identify and ping, built from a [`P2pConfig`].

use std::sync::Arc;
use std::time::Duration;

use libp2p::gossipsub::{
    self, IdentTopic, MessageAuthenticity, PeerScoreParams, PeerScoreThresholds, TopicScoreParams,
    ValidationMode,
};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, identify, ping};
use prometheus_client::registry::Registry;

use crate::codec::{BincodeCodec, Limits, ProtocolCounters};
use crate::config::P2pConfig;
use crate::wire::{
    self, GetDataRequest, GetDataResponse, GossipPayload, PushRequest, PushResponse, SyncRequest,
    SyncResponse,
};

/// The getdata codec.
pub(crate) type GetDataCodec = BincodeCodec<GetDataRequest, GetDataResponse>;
/// The sync codec.
pub(crate) type SyncCodec = BincodeCodec<SyncRequest, SyncResponse>;
/// The push codec (hybrid mode).
pub(crate) type PushCodec = BincodeCodec<PushRequest, PushResponse>;

/// rumor's network behaviour.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) getdata: request_response::Behaviour<GetDataCodec>,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    pub(crate) push: request_response::Behaviour<PushCodec>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
}

/// The two gossip topics of a network.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    pub(crate) tx: IdentTopic,
    pub(crate) block: IdentTopic,
}

impl Topics {
    pub(crate) fn new(network: &str) -> Self {
        Self {
            tx: IdentTopic::new(format!("rumor/{network}/tx/1")),
            block: IdentTopic::new(format!("rumor/{network}/block/1")),
        }
    }
}

/// Why the network behaviour could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BehaviourError {
    /// gossipsub refused its configuration.
    #[error("gossipsub config: {0}")]
    GossipsubConfig(#[from] gossipsub::ConfigBuilderError),
    /// gossipsub refused to start, score or subscribe (libp2p says why in words).
    #[error("gossipsub: {0}")]
    Gossipsub(String),
    /// A protocol name is invalid (the network name makes it so).
    #[error("protocol name: {0}")]
    Protocol(#[from] libp2p::swarm::InvalidProtocol),
}

fn score_params(topics: &Topics) -> (PeerScoreParams, PeerScoreThresholds) {
    let topic = TopicScoreParams {
        topic_weight: 1.0,
        // Modest positive credit for staying in the mesh and delivering new
        // messages first (at most +6 and +10 per topic): when a flood of
        // fresh identities grafts into the mesh, the heartbeat keeps the
        // peers that have been useful. Penalties still dominate: one
        // invalid object costs -8, squared with repeats.
        time_in_mesh_weight: 0.1,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 60.0,
        first_message_deliveries_weight: 0.5,
        first_message_deliveries_decay: 0.9,
        first_message_deliveries_cap: 20.0,
        // Announce mode delivers few messages; do not punish quiet mesh peers.
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        // P4: invalid messages, squared. 4 quick invalid objects pass -100.
        invalid_message_deliveries_weight: -8.0,
        invalid_message_deliveries_decay: 0.97,
        ..TopicScoreParams::default()
    };
    let mut params = PeerScoreParams {
        app_specific_weight: 1.0,
        // Every testnet node shares 127.0.0.1 or one bridge subnet: IP
        // colocation says nothing here.
        ip_colocation_factor_weight: 0.0,
        // P7 (broken IWANT promises, GRAFT during backoff) happens to honest
        // peers under load; only a pattern of it counts.
        behaviour_penalty_weight: -1.0,
        behaviour_penalty_threshold: 20.0,
        // rust-libp2p's "slow peer" penalty fires when a message waits in a
        // connection's send queue at start-up or behind emulated link delay;
        // even -0.05 prunes a peer from the mesh for the whole backoff.
        slow_peer_weight: 0.0,
        decay_interval: Duration::from_secs(1),
        ..PeerScoreParams::default()
    };
    params.topics.insert(topics.tx.hash(), topic.clone());
    params.topics.insert(topics.block.hash(), topic);
    let thresholds = PeerScoreThresholds {
        gossip_threshold: -50.0,
        publish_threshold: -80.0,
        graylist_threshold: -150.0,
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 5.0,
    };
    (params, thresholds)
}

/// Byte counters of the request-response protocols.
#[derive(Debug, Default, Clone)]
pub(crate) struct ProtocolCounterSet {
    pub(crate) getdata: Arc<ProtocolCounters>,
    pub(crate) sync: Arc<ProtocolCounters>,
    pub(crate) push: Arc<ProtocolCounters>,
}

impl Behaviour {
    pub(crate) fn new(
        key: &Keypair,
        cfg: &P2pConfig,
        topics: &Topics,
        counters: &ProtocolCounterSet,
        registry: &mut Registry,
    ) -> Result<Self, BehaviourError> {
        let limits = wire::GossipLimits::of(cfg.relay);
        Self::with_gossip_limits(key, cfg, topics, counters, registry, limits)
    }

    /// As [`Behaviour::new`], with other gossip size limits (the raw test
    /// peer raises them to send oversized messages).
    pub(crate) fn with_gossip_limits(
        key: &Keypair,
        cfg: &P2pConfig,
        topics: &Topics,
        counters: &ProtocolCounterSet,
        registry: &mut Registry,
        limits: wire::GossipLimits,
    ) -> Result<Self, BehaviourError> {
        let m = &cfg.mesh;
        let gs_cfg = gossipsub::ConfigBuilder::default()
            .validation_mode(ValidationMode::Anonymous)
            .validate_messages()
            .message_id_fn(|msg: &gossipsub::Message| {
                gossipsub::MessageId::new(&GossipPayload::message_id_of(&msg.data))
            })
            .mesh_n(m.d)
            .mesh_n_low(m.d_low)
            .mesh_n_high(m.d_high)
            .mesh_outbound_min(m.d_low.min(2).min(m.d / 2))
            .gossip_lazy(m.d_lazy)
            .history_gossip(m.history_gossip)
            // A message waits in gossipsub's cache for our verdict; an Accept
            // after it expired forwards nothing (`reports_expired`) and
            // anti-entropy spreads the object. A longer history made every
            // message cost more: under a getdata flood, honest relay slowed
            // past 2x.
            .history_length(m.history_gossip.max(5))
            .heartbeat_interval(m.heartbeat)
            .heartbeat_initial_delay(Duration::from_millis(10))
            // Per topic, what this relay mode sends: a message past its
            // topic's limit is an invalid message (P4 for its sender); a
            // frame past `frame` is not read (the stream is closed).
            .max_transmit_size(limits.frame)
            .max_transmit_size_for_topic(limits.tx + wire::GOSSIP_ENVELOPE_BYTES, topics.tx.hash())
            .max_transmit_size_for_topic(
                limits.block + wire::GOSSIP_ENVELOPE_BYTES,
                topics.block.hash(),
            )
            .idontwant_message_size_threshold(cfg.idontwant_threshold)
            .max_publish_messages(10_000)
            .max_control_messages_sent(20_000)
            .max_ihave_messages_heartbeat(100)
            .connection_handler_queue_len(20_000)
            .duplicate_cache_time(Duration::from_secs(120))
            .prune_backoff(Duration::from_secs(15))
            // Announcements go to the mesh (fan-out D), not to every peer;
            // push mode floods its own publications, as plain gossipsub does.
            .flood_publish(cfg.relay == crate::config::RelayMode::Push)
            .build()?;
        let (params, thresholds) = score_params(topics);
        let mut gossipsub = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gs_cfg)
            .map_err(|e| BehaviourError::Gossipsub(e.to_owned()))?
            .with_metrics(
                registry.sub_registry_with_prefix("gossipsub"),
                gossipsub::MetricsConfig::default(),
            );
        gossipsub
            .with_peer_score(params, thresholds)
            .map_err(BehaviourError::Gossipsub)?;
        gossipsub
            .subscribe(&topics.tx)
            .map_err(|e| BehaviourError::Gossipsub(e.to_string()))?;
        gossipsub
            .subscribe(&topics.block)
            .map_err(|e| BehaviourError::Gossipsub(e.to_string()))?;

        let net = &cfg.network;
        let rr_cfg = request_response::Config::default()
            .with_request_timeout(cfg.fetch_timeout.max(Duration::from_secs(5)) * 2)
            .with_max_concurrent_streams(2048);
        let getdata = request_response::Behaviour::with_codec(
            BincodeCodec::new(
                Limits {
                    request: wire::MAX_GETDATA_REQUEST_BYTES,
                    response: wire::MAX_GETDATA_RESPONSE_BYTES,
                },
                Arc::clone(&counters.getdata),
            ),
            [(
                protocol(format!("/rumor/{net}/getdata/1"))?,
                ProtocolSupport::Full,
            )],
            rr_cfg.clone(),
        );
        let sync = request_response::Behaviour::with_codec(
            BincodeCodec::new(
                Limits {
                    request: wire::MAX_SYNC_REQUEST_BYTES,
                    response: wire::MAX_SYNC_RESPONSE_BYTES,
                },
                Arc::clone(&counters.sync),
            ),
            [(
                protocol(format!("/rumor/{net}/sync/1"))?,
                ProtocolSupport::Full,
            )],
            rr_cfg.clone(),
        );
        // Hybrid mode's eager pushes and grafts. Every node serves it (a
        // network runs one relay mode; only hybrid nodes send on it).
        let push = request_response::Behaviour::with_codec(
            BincodeCodec::new(
                Limits {
                    request: wire::MAX_PUSH_REQUEST_BYTES,
                    response: wire::MAX_PUSH_RESPONSE_BYTES,
                },
                Arc::clone(&counters.push),
            ),
            [(
                protocol(format!("/rumor/{net}/push/1"))?,
                ProtocolSupport::Full,
            )],
            rr_cfg,
        );
        let identify = identify::Behaviour::new(
            identify::Config::new(format!("/rumor/{net}/1"), key.public())
                .with_agent_version(format!("rumor/{}", env!("CARGO_PKG_VERSION"))),
        );
        let ping = ping::Behaviour::new(
            ping::Config::new()
                .with_interval(cfg.ping_interval)
                .with_timeout(cfg.ping_timeout),
        );
        Ok(Self {
            gossipsub,
            getdata,
            sync,
            push,
            identify,
            ping,
        })
    }
}

fn protocol(name: String) -> Result<StreamProtocol, BehaviourError> {
    Ok(StreamProtocol::try_from_owned(name)?)
}

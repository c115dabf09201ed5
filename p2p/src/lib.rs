//! rumor-p2p: transaction and block relay over libp2p.
//!
//! The relay's decisions live in [`rumor_relay`]; this crate is the network
//! around them. One event loop owns the libp2p swarm (TCP + noise + yamux,
//! gossipsub, the `getdata` and `sync` request-response protocols,
//! identify and ping) and translates: swarm events become the relay's
//! inputs, its actions become swarm calls. Gossipsub carries inventory
//! announcements (or, in push mode, whole objects); bodies are fetched with
//! `getdata`, validated by the node, and only then announced in turn.
//!
//! p2p never calls into the node. Bodies to validate and questions go out
//! ([`ValidationRequest`]s and [`P2pEvent`]s, each on a bounded channel);
//! the node's verdicts ([`Judgement`]) and the objects it accepted by other
//! paths ([`Accepted`]) come back as commands on the [`P2pHandle`].
//!
//! # Map
//! - [`start`] builds the swarm and spawns the loop; it returns a [`P2p`].
//! - `event_loop`: the loop itself, the only owner of the swarm.
//! - `peers`: admission, misbehaviour scores, bans, rate limits, dialling.
//! - `frame_guard`: notices gossip frames past the frame limit (which
//!   gossipsub refuses silently) so that their sender is charged.
//! - `bans`: the ban list, by PeerId and address; [`BanRecord`], the form
//!   the node keeps it in across restarts.
//! - `serve`: what to answer to `getdata`, from the relay cache or the node.
//! - `queries`: questions to the node awaiting their answers.
//! - [`Backlog`]: what the relay has on its plate, for the node's admission
//!   control.
//! - [`events`](P2pEvent): what p2p asks of the node; [`P2pHandle`]: what
//!   the node tells p2p.
//! - wire: [`GossipPayload`], [`GetDataRequest`]/[`GetDataResponse`],
//!   [`SyncRequest`]/[`SyncResponse`], [`PushRequest`]/[`PushResponse`]
//!   (hybrid mode), with size limits; `codec`: their framing.
//! - [`P2pConfig`]: mesh parameters (D is the fan-out), relay mode, limits,
//!   and [`LinkConfig`] link emulation (`link`).
//! - telemetry: [`RelayStats`] and [`FirstSeen`] records.
//! - [`RawPeer`] (feature `raw-peer`): a misbehaving peer for tests and the
//!   attack tool.

mod backlog;
mod bans;
mod behaviour;
mod codec;
mod config;
mod event_loop;
mod events;
mod frame_guard;
mod handle;
mod link;
mod outbound;
mod peers;
mod queries;
#[cfg(feature = "raw-peer")]
mod raw;
mod serve;
mod start;
mod telemetry;
mod wire;

pub use backlog::{Backlog, BacklogReading};
pub use bans::{BanRecord, MAX_BANS, bannable_ip};
pub use behaviour::BehaviourError;
pub use codec::ProtocolCounters;
pub use config::{ConfigError, LinkConfig, MeshConfig, P2pConfig, RelayMode, duration_ms};
pub use events::{Accepted, Judgement, P2pEvent, Query, Reply, ValidationRequest};
pub use handle::{FirstSeenQuery, P2pError, P2pHandle, PeerInfo};
pub use link::{LinkCounters, ShapedStream};
#[cfg(feature = "raw-peer")]
pub use raw::{RawPeer, RawPeerError, RawProtocol, Serve};
pub use start::{P2p, StartError, start};
pub use telemetry::{Bytes, FirstSeen, FirstSeenLog, P2pCounters, RelayStats, unix_nanos};
pub use wire::{
    Batch, Body, GOSSIP_ENVELOPE_BYTES, GetDataRequest, GetDataResponse, GossipLimits,
    GossipPayload, MAX_ANNOUNCE_GOSSIP_BYTES, MAX_GETDATA_REQUEST_BYTES,
    MAX_GETDATA_RESPONSE_BYTES, MAX_GOSSIP_BYTES, MAX_HEADERS, MAX_INVS_PER_REQUEST,
    MAX_PEER_RECORDS, MAX_PUSH_REQUEST_BYTES, MAX_PUSH_RESPONSE_BYTES, MAX_SHORT_IDS,
    MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES, MAX_TX_GOSSIP_BYTES, PeerRecord, PushBody,
    PushRequest, PushResponse, PushedObject, SyncRequest, SyncResponse, object_message_id,
};

pub use libp2p::identity::Keypair;
pub use libp2p::{Multiaddr, PeerId};
pub use rumor_chain::{Inv, ObjectKind};
pub use rumor_relay::{CompactBlock, SyncStatus, Via};

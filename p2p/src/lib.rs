//! rumor-p2p: transaction and block relay over libp2p.
//!
//! Gossipsub topics carry *inventory announcements* with rumor-mongering
//! (SIR) semantics: a node that receives an announcement fetches the body
//! from the announcing peer with `getdata`, has the node validate it, and
//! only then lets gossipsub forward the announcement, once. A bounded LRU
//! seen-set suppresses redundant fetches and re-broadcasts. Anti-entropy
//! (push-pull over the `sync` protocol) is the backstop: every accepted object
//! eventually reaches every live node, whatever was lost. A `push` mode floods
//! whole objects instead, as the baseline to compare against.
//!
//! # Map
//! - [`start`] spawns the event loop and returns a [`P2p`]: a cloneable
//!   [`P2pHandle`] and a stream of [`P2pEvent`]s.
//! - [`Backend`] is what the node supplies: validation ([`Verdict`]), lookups,
//!   its tip and mempool digest.
//! - [`Relay`], [`SeenSet`] and [`InFlight`]: the socket-free relay state machine.
//! - wire: [`GossipPayload`], [`GetDataRequest`]/[`GetDataResponse`],
//!   [`SyncRequest`]/[`SyncResponse`], [`CompactBlock`], with size limits.
//! - [`P2pConfig`]: mesh parameters (D is the fan-out), relay mode, seen-set
//!   capacity, sync interval, and [`LinkConfig`] link emulation.
//! - telemetry: [`RelayStats`] counters and [`FirstSeen`] records.
//! - [`RawPeer`]: a misbehaving peer for tests and the attack tool.

mod backend;
mod behaviour;
mod codec;
mod config;
mod handle;
mod inflight;
mod link;
mod raw;
mod relay;
mod seen;
mod service;
mod telemetry;
mod wire;

pub use backend::{Backend, Origin, Verdict};
pub use codec::ProtocolCounters;
pub use config::{ConfigError, LinkConfig, MeshConfig, P2pConfig, RelayMode, duration_ms};
pub use handle::{FirstSeenQuery, P2pEvent, P2pHandle, PeerInfo, Stopped};
pub use inflight::{Fetch, InFlight, InFlightLimits, Retry};
pub use link::{LinkCounters, ShapedStream};
pub use raw::{RawPeer, RawProtocol, Serve};
pub use relay::{
    GossipRef, OnAnnounce, OnBody, OnFetchFailed, OnLocalAccept, OnVerdict, Relay, Scheduled,
};
pub use seen::{SeenSet, SeenState, SeenStats};
pub use service::{P2p, StartError, start};
pub use telemetry::{Bytes, Counters, FirstSeen, FirstSeenLog, RelayStats, Via, unix_nanos};
pub use wire::{
    Batch, Body, CompactBlock, GetDataRequest, GetDataResponse, GossipPayload, Inv,
    MAX_GETDATA_REQUEST_BYTES, MAX_GETDATA_RESPONSE_BYTES, MAX_GOSSIP_BYTES, MAX_HEADERS,
    MAX_INVS_PER_REQUEST, MAX_PEER_RECORDS, MAX_SHORT_IDS, MAX_SYNC_REQUEST_BYTES,
    MAX_SYNC_RESPONSE_BYTES, ObjectKind, PeerRecord, SyncRequest, SyncResponse, SyncStatus,
};

pub use libp2p::identity::Keypair;
pub use libp2p::{Multiaddr, PeerId};

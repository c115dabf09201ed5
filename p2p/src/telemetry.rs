//! Telemetry: the p2p layer's counters, the [`RelayStats`] snapshot served
//! by `getrelaystats`, and first-seen records ([`FirstSeen`]) for the
//! propagation report.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use rumor_chain::{Inv, ObjectKind};
use rumor_relay::{CacheStats, SeenStats, Via};

/// When and from whom this node first accepted an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstSeen {
    /// The object.
    pub kind: ObjectKind,
    /// Its id, hex.
    pub id: String,
    /// Wall-clock acceptance time, Unix nanoseconds.
    pub time_ns: u64,
    /// The peer it came from (`None`: local).
    pub from: Option<String>,
    /// How it came.
    pub via: Via,
}

/// A bounded log of first-seen records (the oldest are dropped first).
/// Records are kept compact (the object, a PeerId, a time) and rendered as
/// [`FirstSeen`] text only when asked for: the log is written once per
/// object accepted, in the loop's hot path, and read once per run.
#[derive(Debug)]
pub struct FirstSeenLog {
    by_inv: HashMap<Inv, Record>,
    order: VecDeque<Inv>,
    capacity: usize,
    dropped: u64,
}

/// What the log keeps of one object.
#[derive(Debug, Clone, Copy)]
struct Record {
    time_ns: u64,
    from: Option<libp2p::PeerId>,
    via: Via,
}

impl Record {
    fn render(&self, inv: &Inv) -> FirstSeen {
        FirstSeen {
            kind: inv.kind(),
            id: inv.id_hex(),
            time_ns: self.time_ns,
            from: self.from.map(|p| p.to_string()),
            via: self.via,
        }
    }
}

/// Wall-clock now in Unix nanoseconds.
pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl FirstSeenLog {
    /// A log of at most `capacity` records.
    pub fn new(capacity: usize) -> Self {
        Self {
            by_inv: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Records `inv` if it is not recorded yet.
    pub fn record(&mut self, inv: Inv, from: Option<libp2p::PeerId>, via: Via, time_ns: u64) {
        if self.by_inv.contains_key(&inv) {
            return;
        }
        if self.by_inv.len() >= self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.by_inv.remove(&old);
            self.dropped += 1;
        }
        self.order.push_back(inv);
        self.by_inv.insert(inv, Record { time_ns, from, via });
        // A full log removes and inserts one record per object, and the
        // table's tombstones make it double once, late and at a random
        // moment (3.5 MB at 20k records), though it holds no more records:
        // a table twice the size a full log needs is put back to that size.
        if self.by_inv.capacity() >= 2 * self.capacity {
            self.by_inv.shrink_to(self.capacity);
        }
    }

    /// The records of these objects (unknown ones are left out).
    pub fn get(&self, invs: &[Inv]) -> Vec<FirstSeen> {
        invs.iter()
            .filter_map(|i| self.by_inv.get(i).map(|r| r.render(i)))
            .collect()
    }

    /// Records at or after `since_ns`, oldest first, at most `limit`.
    pub fn since(&self, since_ns: u64, limit: usize) -> Vec<FirstSeen> {
        self.order
            .iter()
            .filter_map(|i| self.by_inv.get(i).map(|r| (i, r)))
            .filter(|(_, r)| r.time_ns >= since_ns)
            .take(limit)
            .map(|(i, r)| r.render(i))
            .collect()
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.by_inv.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.by_inv.is_empty()
    }

    /// Records dropped for space.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

rumor_relay::counters!(
    /// The p2p layer's own counters (the relay's are beside them in
    /// [`RelayStats::counters`]).
    P2pCounters {
        /// Gossip messages delivered to us (after gossipsub's duplicate filter).
        announcements_in,
        /// Gossip messages we published.
        announcements_out,
        /// Messages we accepted that gossipsub forwarded (push mode).
        forwarded,
        /// Accepts that came after gossipsub dropped the message (it waited
        /// past gossipsub's history): nothing was forwarded, and the object
        /// spreads by anti-entropy.
        reports_expired,
        /// Gossip messages dropped by emulated loss.
        emulated_loss,
        /// Requests and responses dropped by emulated loss.
        emulated_loss_rr,
        /// getdata items we could not serve.
        notfound_sent,
        /// getdata items served from the relay cache, without the node.
        served_from_cache,
        /// Gossip or request payloads that did not decode.
        undecodable,
        /// Gossip messages over the topic's size limit.
        oversized,
        /// Gossip payloads of a later protocol version (a variant tag this
        /// version does not know): ignored, not punished.
        future_payloads,
        /// Events dropped because the event stream was full.
        events_dropped,
        /// Questions to the node not asked because too many were open.
        queries_refused,
        /// Requests refused by the per-peer rate limit.
        rate_limited,
        /// getdata requests refused because the peer's byte budget for
        /// answers was spent.
        rate_limited_bytes,
        /// Peer connections established.
        peer_up,
        /// Peer connections lost.
        peer_down,
        /// Peers disconnected for misbehaviour.
        peers_banned,
        /// Peers dropped by failure detection (ping timeout).
        peers_failed,
        /// Anti-entropy rounds that brought nothing: the status request
        /// failed (the peer does not speak the sync protocol, timed out or
        /// went away) or was refused.
        sync_rounds_wasted,
        /// Gossip streams the frame guard stopped watching because they did
        /// not frame as gossipsub does (nobody is charged). Not 0 means the
        /// guard misread a stream; the node's warn log has its first bytes.
        frames_unwatched,
    }
);

/// Bytes per protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bytes {
    /// Received.
    pub inn: u64,
    /// Sent.
    pub out: u64,
}

/// A snapshot of the relay's counters, as served by `getrelaystats`. Fields
/// a node of another version does not send read as their defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RelayStats {
    /// The relay mode.
    pub mode: String,
    /// Connected peers.
    pub peers: usize,
    /// Mesh peers on the transaction topic.
    pub mesh_tx: usize,
    /// Mesh peers on the block topic.
    pub mesh_block: usize,
    /// Every monotonic counter, by name.
    pub counters: BTreeMap<String, u64>,
    /// Rejects by reason.
    pub rejects: BTreeMap<String, u64>,
    /// Policy refusals by reason.
    pub refusals: BTreeMap<String, u64>,
    /// Penalties charged to peers, by fault (every fault, from zero).
    pub penalties: BTreeMap<String, u64>,
    /// Seen-set counters.
    pub seen: SeenStats,
    /// Objects being fetched or validated now.
    pub inflight: usize,
    /// Bodies handed to the node and not yet judged.
    pub validation_backlog: usize,
    /// The relay cache.
    pub cache: CacheStats,
    /// First-seen records held.
    pub first_seen: usize,
    /// Gossip message bytes (payloads, duplicates included) per direction.
    pub gossip_bytes: Bytes,
    /// Gossip messages received including duplicates that gossipsub dropped.
    pub gossip_msgs_unfiltered: u64,
    /// Gossip messages received after duplicate filtering.
    pub gossip_msgs_filtered: u64,
    /// getdata protocol bytes.
    pub getdata_bytes: Bytes,
    /// sync protocol bytes.
    pub sync_bytes: Bytes,
    /// push protocol bytes (hybrid mode's eager pushes and grafts).
    #[serde(default)]
    pub push_bytes: Bytes,
    /// Every byte on every connection (all protocols, encryption and framing).
    pub wire_bytes: Bytes,
    /// Link emulation in force.
    pub link: crate::config::LinkConfig,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumor_chain::Txid;

    #[test]
    fn a_full_log_keeps_its_table_size() {
        let cap = 1000;
        let mut log = FirstSeenLog::new(cap);
        let mut table = 0;
        for i in 0u32..100_000 {
            let mut id = [0; 32];
            id[..4].copy_from_slice(&i.to_le_bytes());
            log.record(Inv::Tx(Txid(id)), None, Via::Announce, u64::from(i));
            if i as usize == cap {
                table = log.by_inv.capacity();
            }
            assert!(log.by_inv.capacity() < 2 * cap, "grew at {i}");
        }
        assert_eq!(log.by_inv.len(), cap);
        assert!(log.by_inv.capacity() <= table);
    }

    #[test]
    fn first_seen_keeps_first_and_is_bounded() {
        let mut log = FirstSeenLog::new(2);
        let a = Inv::Tx(Txid([1; 32]));
        let b = Inv::Tx(Txid([2; 32]));
        let c = Inv::Tx(Txid([3; 32]));
        log.record(a, None, Via::Local, 10);
        log.record(a, None, Via::Sync, 20);
        assert_eq!(log.get(&[a])[0].time_ns, 10);
        log.record(b, None, Via::Announce, 30);
        log.record(c, None, Via::Announce, 40);
        assert_eq!(log.len(), 2);
        assert!(log.get(&[a]).is_empty());
        assert_eq!(log.since(35, 10).len(), 1);
        assert_eq!(log.dropped(), 1);
    }
}

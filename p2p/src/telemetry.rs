//! Telemetry: relay counters ([`RelayStats`]) and first-seen records
//! ([`FirstSeen`]) for the propagation report.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::seen::SeenStats;
use crate::wire::{Inv, ObjectKind};

/// How an object reached this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Announced over gossip, then fetched.
    Announce,
    /// Pushed whole over gossip.
    Push,
    /// Found missing by anti-entropy, then fetched.
    Sync,
    /// Rebuilt from a compact block (blocks only).
    Compact,
    /// Fetched as an orphan's parent.
    Parent,
    /// Accepted locally (RPC or miner) or as a consequence of another object.
    Local,
}

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
#[derive(Debug)]
pub struct FirstSeenLog {
    by_inv: HashMap<Inv, FirstSeen>,
    order: VecDeque<Inv>,
    capacity: usize,
    dropped: u64,
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
        self.by_inv.insert(
            inv,
            FirstSeen {
                kind: inv.kind,
                id: inv.id.to_string(),
                time_ns,
                from: from.map(|p| p.to_string()),
                via,
            },
        );
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
            .filter_map(|i| self.by_inv.get(i).cloned())
            .collect()
    }

    /// Records at or after `since_ns`, oldest first, at most `limit`.
    pub fn since(&self, since_ns: u64, limit: usize) -> Vec<FirstSeen> {
        self.order
            .iter()
            .filter_map(|i| self.by_inv.get(i))
            .filter(|r| r.time_ns >= since_ns)
            .take(limit)
            .cloned()
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

macro_rules! counters {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[$fm])* pub $field: AtomicU64,)*
        }

        impl $name {
            /// A plain snapshot of every counter, by name.
            pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
                let mut m = BTreeMap::new();
                $(m.insert(stringify!($field), self.$field.load(Ordering::Relaxed));)*
                m
            }
        }
    };
}

counters!(
    /// Monotonic relay counters, shared between the event loop and readers.
    Counters {
        /// Announcements received (gossip messages delivered to us).
        announcements_in,
        /// Announcements we published ourselves.
        announcements_out,
        /// Gossip messages we accepted and gossipsub forwarded (our one relay).
        forwarded,
        /// Accepts that came after gossipsub dropped the message (it waited
        /// past gossipsub's history): nothing was forwarded, and the object
        /// spreads by anti-entropy.
        reports_expired,
        /// Bodies fetched successfully (first copies).
        bodies_fetched,
        /// Bodies received for objects we already had (sum of the four below).
        duplicate_bodies,
        /// ... pushed copies of objects already received (push mode).
        duplicate_push,
        /// ... fetch responses that arrived after the object came another way.
        duplicate_late,
        /// ... anti-entropy fetches of objects that arrived meanwhile.
        duplicate_sync,
        /// ... bodies the node reported as already known after validation.
        duplicate_known,
        /// Objects accepted from peers.
        accepted,
        /// Gossip messages dropped by emulated loss.
        emulated_loss,
        /// Requests and responses dropped by emulated loss.
        emulated_loss_rr,
        /// Fetch attempts that timed out.
        fetch_timeouts,
        /// notfound answers to our fetches.
        notfound_received,
        /// Fetches abandoned after every candidate failed.
        fetches_given_up,
        /// getdata items we could not serve.
        notfound_sent,
        /// Bodies that did not match the id they were sent for.
        mismatched_bodies,
        /// Gossip or request payloads that did not decode.
        undecodable,
        /// Gossip messages over the topic's size limit.
        oversized,
        /// Bodies dropped because the validation queue was full.
        validation_dropped,
        /// Events dropped because the event stream was full.
        events_dropped,
        /// Requests refused by the per-peer rate limit.
        rate_limited,
        /// Blocks rebuilt from compact blocks without fetching any transaction.
        compact_full_hits,
        /// Blocks rebuilt after fetching some missing transactions.
        compact_partial,
        /// Transactions fetched to complete compact blocks.
        compact_missing_txs,
        /// Full-block fetches (fallback or sync).
        full_blocks_fetched,
        /// Anti-entropy rounds started.
        sync_rounds,
        /// Mempool short-id listings exchanged because digests differed.
        sync_digest_mismatch,
        /// Objects fetched because anti-entropy found them missing.
        sync_fetched,
        /// Headers received in headers-first sync.
        sync_headers,
        /// Peer connections established.
        peer_up,
        /// Peer connections lost.
        peer_down,
        /// Peers disconnected for misbehaviour.
        peers_banned,
        /// Peers dropped by failure detection (ping timeout).
        peers_failed,
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

/// A snapshot of the relay's counters, as served by `getrelaystats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
    /// Seen-set counters.
    pub seen: SeenStats,
    /// Fetches in flight now.
    pub inflight: usize,
    /// Gossip messages awaiting a validation result.
    pub pending_reports: usize,
    /// Bodies waiting for validation.
    pub validation_backlog: usize,
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
            log.record(Inv::tx(Txid(id)), None, Via::Announce, u64::from(i));
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
        let a = Inv::tx(Txid([1; 32]));
        let b = Inv::tx(Txid([2; 32]));
        let c = Inv::tx(Txid([3; 32]));
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

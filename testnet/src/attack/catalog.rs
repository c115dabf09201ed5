//! The catalogue of attack classes: what each sends, what the target must
//! do with it, and the test it is anchored in (Bitcoin Core's p2p
//! functional tests, gossipsub v1.1's threat model).

/// What the target must do about a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Reject, count, lower the attacker's score until it is disconnected.
    Punish,
    /// Refuse and count, but never punish (policy, or "not yet valid").
    Tolerate,
    /// Stay within limits (no verdict on objects).
    Contain,
}

/// One attack class.
#[derive(Debug, Clone, Copy)]
pub struct ClassSpec {
    /// Stable name (`--class`).
    pub name: &'static str,
    /// What is tried, in words.
    pub what: &'static str,
    /// What the target must do.
    pub expect: Expect,
    /// Reject/refusal labels (or counters) at least one of which must grow.
    pub labels: &'static [&'static str],
    /// Where the class comes from.
    pub anchor: &'static str,
    /// In the fast subset CI runs.
    pub fast: bool,
}

const CORE_INVALID_MSG: &str = "Core p2p_invalid_messages.py; gossipsub v1.1 P4";
const CORE_INVALID_TX: &str = "Core p2p_invalid_tx.py (data/invalid_txs.py)";
const CORE_INVALID_BLOCK: &str = "Core p2p_invalid_block.py, feature_block.py";

macro_rules! class {
    ($name:literal, $what:literal, $expect:ident, [$($l:literal),*], $anchor:expr, $fast:literal) => {
        ClassSpec { name: $name, what: $what, expect: Expect::$expect, labels: &[$($l),*], anchor: $anchor, fast: $fast }
    };
}

/// Every class, in the order they run.
pub const CLASSES: &[ClassSpec] = &[
    class!(
        "undecodable-gossip",
        "random bytes on both topics",
        Punish,
        ["undecodable-gossip"],
        CORE_INVALID_MSG,
        true
    ),
    class!(
        "unknown-kind",
        "payload tags past those kept for later versions, and object kinds no version defines",
        Punish,
        ["undecodable-gossip"],
        CORE_INVALID_MSG,
        false
    ),
    class!(
        "future-payload",
        "payload tags kept for later protocol versions (3..=15), each with a body",
        Tolerate,
        ["future_payloads"],
        "docs/protocol.md, Versioning (Core ignores unknown message types)",
        false
    ),
    class!(
        "oversized-gossip",
        "512 KiB on the tx and block topics (limit in announce mode: 64 KiB, a batch of announcements)",
        Punish,
        ["invalid_gossip_frames", "oversized-gossip"],
        "Core p2p_invalid_messages.py (oversized payload)",
        true
    ),
    class!(
        "oversized-frames",
        "17 MiB frames on the block topic from 8 peers at once, past the 1 MiB frame limit of announce mode: not read (the length prefix tells), each sender charged and disconnected; the target's peak memory may grow at most 48 MiB",
        Punish,
        ["oversized-frame"],
        "Core p2p_invalid_messages.py (oversized payload); rust-libp2p gossipsub max_transmit_size",
        false
    ),
    class!(
        "wrong-topic",
        "block announcements on the tx topic and vice versa",
        Punish,
        ["wrong-topic"],
        "gossipsub v1.1 P4 (invalid message deliveries)",
        false
    ),
    class!(
        "score-grace",
        "one honest-looking slip: an announced id it never serves (one fetch timeout)",
        Tolerate,
        ["fetch_timeouts"],
        "gossipsub v1.1 (any negative score prunes from the mesh); Core Misbehaving() thresholds",
        true
    ),
    class!(
        "announce-never-serve",
        "announce ids, hold every getdata unanswered",
        Punish,
        ["fetch_timeouts"],
        "Core p2p_tx_download.py (peers that never respond)",
        false
    ),
    class!(
        "body-mismatch",
        "serve bodies that hash to another id",
        Punish,
        ["id-mismatch"],
        "Core p2p_tx_download.py; gossipsub v1.1 P4",
        true
    ),
    class!(
        "tx-bad-signature",
        "a flipped signature byte",
        Punish,
        ["bad-signature"],
        CORE_INVALID_TX,
        true
    ),
    class!(
        "tx-weak-key",
        "a small-order public key",
        Punish,
        ["bad-signature"],
        CORE_INVALID_TX,
        false
    ),
    class!(
        "tx-key-mismatch",
        "signed by a key that does not own the coin",
        Punish,
        ["key-mismatch"],
        CORE_INVALID_TX,
        false
    ),
    class!(
        "tx-unknown-input",
        "spends an outpoint nobody created (an orphan: may be valid later)",
        Tolerate,
        ["orphan-tx"],
        "Core p2p_orphan_handling.py",
        false
    ),
    class!(
        "orphan-parent-fetch",
        "children announced and served whose parents are served but never announced: the target must ask the announcer for each parent and accept both",
        Tolerate,
        ["orphan-tx"],
        "Core p2p_orphan_handling.py (parents requested from the orphan's sender)",
        true
    ),
    class!(
        "tx-double-spend",
        "spends a coin a mempool tx already spends",
        Tolerate,
        ["txn-mempool-conflict"],
        "Core mempool_accept.py (txn-mempool-conflict)",
        false
    ),
    class!(
        "tx-overflow",
        "outputs summing past MAX_MONEY",
        Punish,
        ["outputs-overflow"],
        CORE_INVALID_TX,
        false
    ),
    class!(
        "tx-duplicate-input",
        "one outpoint spent twice",
        Punish,
        ["duplicate-input"],
        CORE_INVALID_TX,
        false
    ),
    class!(
        "tx-zero-output",
        "an output of zero",
        Punish,
        ["zero-output"],
        CORE_INVALID_TX,
        false
    ),
    class!(
        "tx-oversize",
        "over the 100 kB transaction limit",
        Punish,
        ["tx-too-large"],
        CORE_INVALID_TX,
        false
    ),
    class!(
        "tx-inflation",
        "pays out more than it spends",
        Punish,
        ["outputs-exceed-inputs"],
        CORE_INVALID_TX,
        false
    ),
    class!(
        "tx-fee-too-low",
        "pays no fee (policy)",
        Tolerate,
        ["fee-too-low"],
        "Core mempool_accept.py (min relay fee)",
        true
    ),
    class!(
        "block-bad-pow",
        "header hash above the target",
        Punish,
        ["high-hash"],
        CORE_INVALID_BLOCK,
        true
    ),
    class!(
        "block-bad-merkle",
        "merkle root not over its transactions",
        Punish,
        ["bad-merkle-root"],
        CORE_INVALID_BLOCK,
        false
    ),
    class!(
        "block-duplicate-tx",
        "one transaction twice",
        Punish,
        ["duplicate-tx"],
        "Core p2p_invalid_block.py (CVE-2012-2459)",
        false
    ),
    class!(
        "block-inflation",
        "coinbase above subsidy + fees",
        Punish,
        ["coinbase-too-large"],
        CORE_INVALID_BLOCK,
        false
    ),
    class!(
        "block-bad-tx",
        "holds a transaction with a bad signature",
        Punish,
        ["bad-tx-in-block"],
        CORE_INVALID_BLOCK,
        false
    ),
    class!(
        "block-future-time",
        "timestamped 3 h ahead (may become valid)",
        Tolerate,
        ["time-too-new"],
        "Core feature_block.py (time-too-new)",
        true
    ),
    class!(
        "block-unknown-parent",
        "its parent is unknown and never served (an orphan: may be valid later)",
        Tolerate,
        ["orphan-block"],
        "Core p2p_unrequested_blocks.py, p2p_sendheaders.py (unconnecting headers)",
        false
    ),
    class!(
        "getdata-flood",
        "getdata far beyond the per-peer rate",
        Punish,
        ["rate_limited"],
        "Core p2p_getdata.py; resource exhaustion",
        true
    ),
    class!(
        "getdata-amplification",
        "getdata for 1,024 copies of a 60 kB block",
        Contain,
        ["notfound_sent"],
        "Core p2p_getdata.py; resource exhaustion (send buffer limits)",
        false
    ),
    class!(
        "getdata-oversized",
        "getdata over the item limit",
        Punish,
        ["oversized-request"],
        "Core p2p_invalid_messages.py (oversized inv/getdata)",
        false
    ),
    class!(
        "sync-flood",
        "anti-entropy requests far beyond any honest rate (their statuses claim work no chain of their height has, so the claim check may punish before the rate limit does)",
        Punish,
        ["rate_limited", "work-claim-mismatch"],
        "Core resource exhaustion (p2p_dos_header_tree.py)",
        true
    ),
    class!(
        "announce-flood",
        "announcements of ids it never serves",
        Punish,
        ["fetch_timeouts", "announce-cap"],
        "Core p2p_tx_download.py (MAX_PEER_TX_ANNOUNCEMENTS)",
        false
    ),
    class!(
        "censor-by-bad-body",
        "announce honest transactions before anyone else, serve bodies that hash to other ids",
        Punish,
        ["id-mismatch"],
        "Core p2p_tx_download.py (a mismatched body does not block the txid); TxRequestTracker",
        true
    ),
    class!(
        "withhold-first-announce",
        "announce honest transactions before anyone else, never answer the getdata",
        Contain,
        ["fetch_timeouts"],
        "Core p2p_tx_download.py (peers that never respond); TxRequestTracker",
        true
    ),
    class!(
        "announce-cap",
        "6,144 ids announced by one identity, past the 5,000 a peer may have tracked",
        Contain,
        ["announce-cap"],
        "Core p2p_tx_download.py (MAX_PEER_TX_ANNOUNCEMENTS)",
        true
    ),
    class!(
        "malformed-requests",
        "request frames that are oversized or undecodable, on getdata and sync",
        Contain,
        ["malformed_frames"],
        CORE_INVALID_MSG,
        true
    ),
    class!(
        "connection-flood",
        "connections: 80 identities at once, and 51 from one identity",
        Contain,
        [],
        "Core p2p_eviction.py, -maxconnections; gossipsub v1.1 Sybil",
        false
    ),
    // Chain-side classes (issue 17: stale blocks, lies about the chain).
    class!(
        "divergent-mempools",
        "two halves take opposite sides of 100 double spends while cut apart, then heal: the mempools differ for good, and anti-entropy must settle to a status exchange (at most 1 KiB per round over the last 6 s)",
        Contain,
        [],
        "Demers et al. (1987), anti-entropy; Core's mempool conflicts (txn-mempool-conflict) never resolve by relay",
        false
    ),
    class!(
        "inbound-eclipse",
        "80 inbound identities take every inbound slot; then the target's own bootnode comes up, and the target must dial it and keep it",
        Contain,
        [],
        "Core's separate outbound slots (-maxconnections, 8 full-relay outbound); Heilman et al., Eclipse Attacks on Bitcoin (2015)",
        false
    ),
    class!(
        "stale-block-spam",
        "150 valid blocks on a branch with less work than the best chain (cheap proof of work)",
        Tolerate,
        ["stale-block"],
        "Core AcceptBlock (less-work chains are not processed); p2p_unrequested_blocks.py",
        true
    ),
    class!(
        "header-lies",
        "claims a longer chain: headers at an easier target than the network's, then work no chain of its height has",
        Punish,
        [
            "bad-header-target",
            "work-claim-mismatch",
            "headers-short-of-claim"
        ],
        "Core headers sync (nMinimumChainWork, PRESYNC); p2p_dos_header_tree.py",
        true
    ),
    class!(
        "rpc-under-block-connect",
        "a lock-taking RPC called over and over while a 4,000-transaction reorg holds the chain lock, on a target with one runtime worker",
        Contain,
        [],
        "Core's RPC threads apart from its network thread (-rpcthreads); cs_main contention",
        false
    ),
    // Issue 17, p2p side: limits that are not about objects.
    class!(
        "getdata-bytes",
        "getdata for 200 copies of the 60 kB genesis block, 60 times: 12,000 items (within the item rate), 720 MB of answers; at most the byte budget is answered (answers cut to what is left of it, the rest notfound, or refused when nothing is), peak memory grows at most 160 MiB (not in the fast set: a debug node serves too slowly to spend its budget)",
        Contain,
        ["rate_limited_bytes", "notfound_sent"],
        "Core p2p_getdata.py, -maxuploadtarget; resource exhaustion",
        false
    ),
    class!(
        "persisted-bans",
        "invalid transactions from a non-loopback address until banned; the target restarts; the banned identity and a fresh one from its address come back",
        Punish,
        ["bad-signature"],
        "Core banlist.json (bans kept across restarts), Misbehaving() by address",
        false
    ),
];

/// Looks a class up by name.
pub fn find(name: &str) -> Option<&'static ClassSpec> {
    CLASSES.iter().find(|c| c.name == name)
}

//! [`RelayCounters`]: what the relay did, counted. The driver reports them
//! (the node's `getrelaystats` RPC and metrics) by these names.

/// Declares a struct of named `u64` counters with a `snapshot()` that
/// returns them by name (used here and by the p2p layer for its own).
#[macro_export]
macro_rules! counters {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name {
            $($(#[$fm])* pub $field: u64,)*
        }

        impl $name {
            /// Every counter, by name.
            pub fn snapshot(&self) -> std::collections::BTreeMap<&'static str, u64> {
                let mut m = std::collections::BTreeMap::new();
                $(m.insert(stringify!($field), self.$field);)*
                m
            }
        }
    };
}

crate::counters!(
    /// Monotonic relay counters.
    RelayCounters {
        /// Announced items received (each id in each announcement).
        announced_items,
        /// Announced items of objects already accepted, refused or rejected.
        announced_known,
        /// Announced items dropped: the peer had too many objects tracked.
        announce_capped,
        /// Announced items dropped: the tracker was full.
        tracker_full,
        /// Items requested (getdata, compact blocks, block transactions).
        requested_items,
        /// Bodies received that were requested (first copies, validated).
        bodies_fetched,
        /// Bodies received for objects already had (sum of the four below).
        duplicate_bodies,
        /// ... pushed copies of objects already received (push mode).
        duplicate_push,
        /// ... eager pushes of objects already received (hybrid mode).
        duplicate_eager,
        /// ... fetch answers that came after the object came another way.
        duplicate_late,
        /// ... anti-entropy bodies of objects that arrived meanwhile.
        duplicate_sync,
        /// ... bodies the node found it already had.
        duplicate_known,
        /// Objects from peers the node accepted.
        accepted,
        /// Objects published (announced or pushed) by this node.
        published,
        /// Requests that timed out.
        fetch_timeouts,
        /// `notfound` answers.
        notfound_received,
        /// Fetches given up (no candidate or attempt left).
        fetches_given_up,
        /// Bodies that were not the object they were sent as.
        mismatched_bodies,
        /// Bodies the node could not take for validation (its queue was full).
        validation_dropped,
        /// Bodies whose verdict never came.
        validation_timeouts,
        /// Blocks rebuilt from compact blocks without fetching a transaction.
        compact_full_hits,
        /// Blocks rebuilt after fetching some transactions.
        compact_partial,
        /// Transactions fetched to complete compact blocks.
        compact_missing_txs,
        /// Full-block requests (fallbacks, catch-up, parents).
        full_blocks_fetched,
        /// Anti-entropy rounds started.
        sync_rounds,
        /// Mempool listings asked for because digests differed.
        sync_digest_mismatch,
        /// Mempool listings not asked for: the peer's digest was one whose
        /// listing brought nothing to pull.
        sync_listing_settled,
        /// Short ids left out of a pull: the seen-set settled them.
        sync_settled_skipped,
        /// Transactions fetched because anti-entropy found them missing.
        sync_fetched,
        /// Headers received in catch-up.
        sync_headers,
        /// Hybrid: objects pushed to eager peers (one per peer).
        eager_pushed,
        /// Hybrid: pushed objects received (first copies and duplicates).
        eager_received,
        /// Hybrid: objects from peers accepted that came by eager push.
        eager_accepted,
        /// Hybrid: prunes sent (a duplicate push answered "stop").
        prunes_sent,
        /// Hybrid: prunes received (a peer left one of our trees).
        prunes_received,
        /// Hybrid: objects fetched after their grace period whose
        /// announcer was asked to graft.
        grafts_sent,
        /// Hybrid: grafts agreed to (a peer joined one of our trees).
        grafts_accepted,
        /// Hybrid: grafts refused (the peer is not connected here).
        grafts_refused,
        /// Hybrid: grafts of an announcer that was faster than the push.
        tree_optimised,
        /// Hybrid: pushes that failed (no answer, or the peer is gone).
        push_failures,
        /// Hybrid: objects from peers only announced, not pushed: their
        /// origin was not known yet.
        eager_unknown_origin,
    }
);

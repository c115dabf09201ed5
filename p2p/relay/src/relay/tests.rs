//! Socket-free tests of the relay: each drives the state machine with the
//! inputs a scenario produces and asserts the exact actions that come out.

use std::num::NonZeroUsize;

use rumor_chain::{Block, Network, Params};

use super::*;
use crate::sync::SyncLimits;
use crate::test_blocks::block_of;
use crate::tracker::TrackerLimits;

pub(super) type R = Relay<char, u32>;

const X: char = 'x'; // misbehaves
const H: char = 'h'; // honest
const G: char = 'g'; // honest

pub(super) fn cfg(mode: RelayMode) -> RelayConfig {
    RelayConfig {
        mode,
        tracker: TrackerLimits {
            timeout: Duration::from_millis(100),
            max_announced_per_peer: 50,
            struck_delay: Duration::from_millis(40),
            ..TrackerLimits::default()
        },
        seen_capacity: NonZeroUsize::new(1000).unwrap(),
        ..RelayConfig::default()
    }
}

pub(super) fn tx(i: u32) -> Inv {
    let mut id = [0u8; 32];
    id[..4].copy_from_slice(&i.to_le_bytes());
    Inv::Tx(Txid(id))
}

pub(super) fn body(i: u32) -> Bytes {
    Bytes::from(i.to_le_bytes().to_vec())
}

/// Everything queued, after the driver's idle flush.
pub(super) fn out(r: &mut R, now: Instant) -> Vec<Action<char, u32>> {
    r.flush(now);
    r.drain_actions().collect()
}

pub(super) fn objects(peer: char, invs: &[Inv]) -> Action<char, u32> {
    Action::Request {
        peer,
        request: Request::Objects(invs.to_vec()),
    }
}

pub(super) fn validate(peer: char, inv: Inv, bytes: Bytes, via: Via) -> Action<char, u32> {
    Action::Validate {
        peer,
        inv,
        bytes,
        via,
    }
}

pub(super) fn announce(invs: &[Inv]) -> Action<char, u32> {
    Action::Publish(Publication::Announce {
        kind: invs[0].kind(),
        invs: invs.to_vec(),
    })
}

fn penalize(peer: char, offence: Offence) -> Action<char, u32> {
    Action::Penalize { peer, offence }
}

pub(super) fn accepted() -> Verdict {
    Verdict::Accepted { also: vec![] }
}

#[test]
fn a_body_that_does_not_hash_to_the_id_costs_its_sender_not_the_id() {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t = Instant::now();
    // The censor announces first; an honest peer announces after.
    r.on_announcements(X, &[tx(1)], t);
    r.on_announcements(H, &[tx(1)], t);
    assert_eq!(out(&mut r, t), [objects(X, &[tx(1)])]);
    r.on_body(X, tx(1), body(99), t);
    assert_eq!(
        out(&mut r, t),
        [validate(X, tx(1), body(99), Via::Announce)]
    );
    let bad = Verdict::Malformed {
        reason: "id-mismatch",
    };
    r.on_verdict(tx(1), &bad, None, t);
    assert_eq!(
        out(&mut r, t),
        [penalize(X, Offence::MalformedBody), objects(H, &[tx(1)])]
    );
    assert_eq!(r.seen(&tx(1)), None, "the id is not condemned");
    r.on_body(H, tx(1), body(1), t);
    r.on_verdict(tx(1), &accepted(), None, t);
    let actions = out(&mut r, t);
    assert_eq!(
        actions,
        [
            validate(H, tx(1), body(1), Via::Announce),
            announce(&[tx(1)])
        ]
    );
    assert_eq!(r.seen(&tx(1)), Some(SeenState::Accepted));
    assert_eq!(r.rejects().get("id-mismatch"), Some(&1));
    assert_eq!(r.counters().mismatched_bodies, 1);
    // The honest copy is now served from the cache.
    assert_eq!(r.cached_tx(&Txid(*tx(1).id_bytes())), Some(body(1)));
}

#[test]
fn an_invalid_transaction_condemns_its_id_and_later_announcements_are_ignored() {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t = Instant::now();
    r.on_announcements(X, &[tx(1)], t);
    r.on_body(X, tx(1), body(1), t);
    out(&mut r, t);
    let invalid = Verdict::Invalid {
        reason: "bad-signature",
    };
    r.on_verdict(tx(1), &invalid, None, t);
    assert_eq!(out(&mut r, t), [penalize(X, Offence::InvalidObject)]);
    assert_eq!(r.seen(&tx(1)), Some(SeenState::Rejected));
    r.on_announcements(H, &[tx(1)], t);
    assert_eq!(out(&mut r, t), []);
    assert_eq!(r.counters().announced_known, 1);
}

#[test]
fn a_withholding_first_announcer_costs_one_timeout_then_is_asked_last() {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t0 = Instant::now();
    r.on_announcements(X, &[tx(1)], t0);
    r.on_announcements(H, &[tx(1)], t0);
    assert_eq!(out(&mut r, t0), [objects(X, &[tx(1)])]);
    let t1 = t0 + Duration::from_millis(100);
    r.tick(t1);
    assert_eq!(
        out(&mut r, t1),
        [penalize(X, Offence::Timeout), objects(H, &[tx(1)])]
    );
    // The next object X announces first is asked of the honest announcer
    // that comes a moment later, not of X.
    r.on_announcements(X, &[tx(2)], t1);
    assert_eq!(out(&mut r, t1), []);
    let t2 = t1 + Duration::from_millis(2);
    r.on_announcements(H, &[tx(2)], t2);
    assert_eq!(out(&mut r, t2), [objects(H, &[tx(2)])]);
    assert_eq!(r.counters().fetch_timeouts, 1);
}

#[test]
fn announcements_past_a_peers_cap_are_dropped_and_counted_and_others_still_fetched() {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t = Instant::now();
    let flood: Vec<Inv> = (100..200).map(tx).collect();
    r.on_announcements(X, &flood, t);
    assert_eq!(r.announced_by(&X), 50);
    assert_eq!(r.counters().announce_capped, 50);
    assert_eq!(r.rejects().get(ANNOUNCE_CAP), Some(&50));
    out(&mut r, t);
    r.on_announcements(H, &[tx(1)], t);
    assert_eq!(out(&mut r, t), [objects(H, &[tx(1)])]);
}

#[test]
fn announce_mode_announces_what_was_accepted_since_the_last_idle_moment_once() {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t = Instant::now();
    r.on_announcements(H, &[tx(1), tx(2)], t);
    out(&mut r, t);
    r.on_body(H, tx(1), body(1), t);
    r.on_body(H, tx(2), body(2), t);
    r.drain_actions().count();
    r.on_verdict(tx(1), &accepted(), None, t);
    r.on_verdict(tx(2), &accepted(), None, t);
    assert_eq!(out(&mut r, t), [announce(&[tx(1), tx(2)])]);
    // Accepted again by another path: nothing more is spread.
    r.on_local_accepted(tx(1), body(1), None, t);
    assert_eq!(out(&mut r, t), []);
    r.on_local_accepted(tx(3), body(3), None, t);
    assert_eq!(out(&mut r, t), [announce(&[tx(3)])]);
    assert_eq!(r.counters().published, 3);
}

/// Under load the driver runs timers before it is ever idle: what a timer
/// finds pending in announce mode still goes out at the next idle moment
/// (a tick used to take the pending ids and drop them, so a third of the
/// objects at 1,000 tx/s reached their peers only by anti-entropy).
#[test]
fn announce_mode_keeps_pending_ids_through_timers() {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t = Instant::now();
    r.on_local_accepted(tx(1), body(1), None, t);
    r.tick(t + Duration::from_millis(30));
    assert_eq!(r.drain_actions().count(), 0, "timers send no announcement");
    assert_eq!(out(&mut r, t), [announce(&[tx(1)])]);
    assert_eq!(r.counters().published, 1);
}

#[test]
fn batch_mode_announces_after_its_window() {
    let mut r = R::new(&cfg(RelayMode::Batch));
    let t = Instant::now();
    r.on_local_accepted(tx(1), body(1), None, t);
    r.on_local_accepted(tx(2), body(2), None, t);
    assert_eq!(out(&mut r, t), []);
    let later = t + Duration::from_millis(25);
    r.tick(later);
    assert_eq!(
        r.drain_actions().collect::<Vec<_>>(),
        [announce(&[tx(1), tx(2)])]
    );
}

#[test]
fn push_mode_validates_the_first_copy_and_lets_gossipsub_forward_it() {
    let mut r = R::new(&cfg(RelayMode::Push));
    let t = Instant::now();
    r.on_push(H, 7, tx(1), body(1), t);
    r.on_push(G, 8, tx(1), body(1), t);
    assert_eq!(
        out(&mut r, t),
        [
            validate(H, tx(1), body(1), Via::Push),
            Action::Report {
                message: 8,
                source: G,
                acceptance: Acceptance::Ignore
            }
        ]
    );
    r.on_verdict(tx(1), &accepted(), None, t);
    assert_eq!(
        out(&mut r, t),
        [Action::Report {
            message: 7,
            source: H,
            acceptance: Acceptance::Accept
        }]
    );
    // A local accept pushes the body itself.
    r.on_local_accepted(tx(2), body(2), None, t);
    assert_eq!(
        out(&mut r, t),
        [Action::Publish(Publication::Push {
            inv: tx(2),
            bytes: body(2)
        })]
    );
    assert_eq!(r.counters().duplicate_push, 1);
}

#[test]
fn an_orphan_fetches_its_parent_from_its_sender_and_a_dropped_body_is_forgotten() {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t = Instant::now();
    r.on_announcements(H, &[tx(2)], t);
    r.on_body(H, tx(2), body(2), t);
    out(&mut r, t);
    let orphan = Verdict::NotYet {
        reason: "orphan-tx",
        fetch: vec![tx(1), tx(5)],
    };
    r.on_verdict(tx(2), &orphan, None, t);
    // Every missing parent is asked of the orphan's sender (issue 17,
    // item 6: only the first was).
    assert_eq!(out(&mut r, t), [objects(H, &[tx(1), tx(5)])]);
    r.on_body(H, tx(1), body(1), t);
    assert_eq!(out(&mut r, t), [validate(H, tx(1), body(1), Via::Parent)]);
    r.on_validation_dropped(&tx(1));
    assert_eq!(r.in_flight(), 1, "only the other parent, still asked of H");
    assert_eq!(r.seen(&tx(1)), None);
    r.on_announcements(G, &[tx(1)], t);
    assert_eq!(out(&mut r, t), [objects(G, &[tx(1)])]);
}

// ----- compact blocks -----

/// A relay that has accepted transactions `have` of `block`, and was
/// announced the block by `H`.
fn announced_block(block: &Block, have: &[usize]) -> (R, Inv, Instant) {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t = Instant::now();
    for &i in have {
        let tx = &block.txs[i];
        r.on_local_accepted(Inv::Tx(tx.txid()), Bytes::from(tx.encode()), None, t);
    }
    out(&mut r, t);
    let inv = Inv::Block(block.hash());
    r.on_announcements(H, &[inv], t);
    assert_eq!(
        out(&mut r, t),
        [Action::Request {
            peer: H,
            request: Request::Compact(block.hash())
        }]
    );
    (r, inv, t)
}

#[test]
fn a_compact_block_whose_transactions_are_all_here_is_validated_at_once() {
    let block = block_of(4);
    let (mut r, inv, t) = announced_block(&block, &[1, 2, 3, 4]);
    let cb = CompactBlock::of(&block, &block.txids());
    r.on_compact(H, inv, Some(cb.clone()), t);
    assert_eq!(
        out(&mut r, t),
        [validate(H, inv, Bytes::from(block.encode()), Via::Compact)]
    );
    assert_eq!(r.counters().compact_full_hits, 1);
    r.on_verdict(inv, &accepted(), Some(cb.clone()), t);
    assert_eq!(out(&mut r, t), [announce(&[inv])]);
    let cached = r.cached_block(&block.hash()).unwrap();
    assert_eq!(*cached.compact, cb);
    assert_eq!(
        r.cached_block_txs(&block.hash(), &[0, 2]),
        Some(vec![
            Bytes::from(block.txs[0].encode()),
            Bytes::from(block.txs[2].encode())
        ])
    );
}

#[test]
fn missing_transactions_are_fetched_by_position_from_the_same_peer() {
    let block = block_of(4);
    let (mut r, inv, t) = announced_block(&block, &[1, 3]);
    r.on_compact(H, inv, Some(CompactBlock::of(&block, &block.txids())), t);
    assert_eq!(
        out(&mut r, t),
        [Action::Request {
            peer: H,
            request: Request::BlockTxs {
                block: block.hash(),
                indexes: vec![2, 4]
            }
        }]
    );
    let txs = vec![
        Bytes::from(block.txs[2].encode()),
        Bytes::from(block.txs[4].encode()),
    ];
    r.on_block_txs(H, inv, txs, t);
    assert_eq!(
        out(&mut r, t),
        [validate(H, inv, Bytes::from(block.encode()), Via::Compact)]
    );
    assert_eq!(r.counters().compact_missing_txs, 2);
}

#[test]
fn no_compact_block_or_a_mismatch_falls_back_to_the_full_block_and_a_lie_moves_on() {
    let block = block_of(3);
    let (mut r, inv, t) = announced_block(&block, &[1, 2, 3]);
    r.on_compact(H, inv, None, t);
    assert_eq!(out(&mut r, t), [objects(H, &[inv])]);

    let (mut r, inv, t) = announced_block(&block, &[1, 2, 3]);
    let mut wrong = CompactBlock::of(&block, &block.txids());
    wrong.short_ids.swap(0, 1);
    r.on_compact(H, inv, Some(wrong), t);
    assert_eq!(out(&mut r, t), [objects(H, &[inv])], "merkle mismatch");

    let (mut r, inv, t) = announced_block(&block, &[1, 2, 3]);
    r.on_announcements(G, &[inv], t);
    let mut other = CompactBlock::of(&block, &block.txids());
    other.header.nonce ^= 1;
    r.on_compact(H, inv, Some(other), t);
    assert_eq!(
        out(&mut r, t),
        [
            penalize(H, Offence::BadCompact),
            Action::Request {
                peer: G,
                request: Request::Compact(block.hash())
            }
        ]
    );
}

// ----- anti-entropy and catch-up -----

fn status(work: u128, digest: u8, len: u32) -> SyncStatus {
    SyncStatus {
        height: 0,
        tip: BlockHash([work as u8; 32]),
        work: rumor_chain::Work(work),
        mempool_digest: rumor_chain::Hash256([digest; 32]),
        mempool_len: len,
    }
}

#[test]
fn anti_entropy_rounds_pull_what_is_still_missing_after_the_grace_period() {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t0 = Instant::now();
    r.peer_up(H, true);
    r.peer_up(G, false);
    r.tick(t0);
    assert_eq!(out(&mut r, t0), []);
    let t1 = t0 + Duration::from_secs(2);
    r.tick(t1);
    assert_eq!(out(&mut r, t1), [Action::SyncWith(H)], "only sync peers");
    r.on_sync_status(H, &status(1, 2, 5), &status(1, 1, 3));
    assert_eq!(out(&mut r, t1), [Action::PullMempool(H)]);
    r.on_mempool_listing(H, &[1, 2, 3, 4], &[2], t1);
    let t2 = t1 + Duration::from_secs(1);
    r.tick(t2);
    assert_eq!(
        out(&mut r, t2),
        [Action::Recheck {
            peer: H,
            ids: vec![1, 3, 4]
        }]
    );
    r.on_recheck(H, &[1, 3, 4], &[1]);
    assert_eq!(
        out(&mut r, t2),
        [Action::FetchShortIds {
            peer: H,
            ids: vec![3, 4]
        }]
    );
    let txid = Txid(*tx(3).id_bytes());
    r.on_sync_bodies(H, vec![(txid, body(3)), (txid, body(3))], t2);
    assert_eq!(out(&mut r, t2), [validate(H, tx(3), body(3), Via::Sync)]);
    assert_eq!(r.counters().duplicate_sync, 1);
}

#[test]
fn anti_entropy_settles_when_mempools_differ_for_good() {
    // The peer holds a spend that conflicts with ours: fetched once,
    // refused by policy, and after that neither fetched nor listed again
    // while the peer's mempool stays as it is (issue 17, item 2).
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t0 = Instant::now();
    let grace = SyncLimits::default().grace;
    let (theirs, ours) = (status(1, 2, 1), status(1, 1, 1));
    let conflicting = tx(3); // short id 3
    let txid = Txid(*conflicting.id_bytes());
    assert_eq!(txid.short_id(), 3);
    r.on_sync_status(H, &theirs, &ours);
    assert_eq!(out(&mut r, t0), [Action::PullMempool(H)]);
    r.on_mempool_listing(H, &[3], &[7], t0);
    r.tick(t0 + grace);
    assert_eq!(
        out(&mut r, t0 + grace),
        [Action::Recheck {
            peer: H,
            ids: vec![3]
        }]
    );
    r.on_recheck(H, &[3], &[7]);
    assert_eq!(
        out(&mut r, t0 + grace),
        [Action::FetchShortIds {
            peer: H,
            ids: vec![3]
        }]
    );
    r.on_sync_bodies(H, vec![(txid, body(3))], t0 + grace);
    out(&mut r, t0 + grace);
    let conflict = Verdict::Policy {
        reason: "txn-mempool-conflict",
    };
    r.on_verdict(conflicting, &conflict, None, t0 + grace);
    assert_eq!(out(&mut r, t0 + grace), [], "policy is never punished");
    // Round two: the listing holds only what was refused. Nothing to pull.
    let t1 = t0 + Duration::from_secs(2);
    r.on_sync_status(H, &theirs, &ours);
    assert_eq!(out(&mut r, t1), [Action::PullMempool(H)]);
    r.on_mempool_listing(H, &[3], &[7], t1);
    r.tick(t1 + grace);
    let round_two: Vec<_> = out(&mut r, t1 + grace)
        .into_iter()
        .filter(|a| !matches!(a, Action::SyncWith(_)))
        .collect();
    assert_eq!(round_two, [], "the refused spend is not fetched again");
    // Round three and on: the same digest is not even listed.
    for round in 2..6u64 {
        r.on_sync_status(H, &theirs, &ours);
        assert_eq!(out(&mut r, t0 + Duration::from_secs(2 * round)), []);
    }
    assert_eq!(r.counters().sync_fetched, 1);
    // The peer's mempool changes: listed again.
    r.on_sync_status(H, &status(1, 3, 2), &ours);
    assert_eq!(out(&mut r, t1), [Action::PullMempool(H)]);
}

fn headers(n: usize) -> Vec<BlockHeader> {
    let p = Params::new(Network::Regtest)
        .with_genesis_outputs(1)
        .unwrap();
    let mut prev = p.genesis_block().header;
    (0..n)
        .map(|i| {
            let mut h = prev;
            h.prev = prev.hash();
            h.nonce = i as u64;
            while !h.meets_target() {
                h.nonce += 1 << 32;
            }
            prev = h;
            h
        })
        .collect()
}

#[test]
fn a_node_behind_catches_up_headers_first_and_bad_headers_cost_the_peer() {
    let mut r = R::new(&cfg(RelayMode::Announce));
    let t = Instant::now();
    let hs = headers(2);
    let tip = hs[1].hash();
    r.on_sync_status(
        H,
        &SyncStatus {
            tip,
            ..status(9, 1, 0)
        },
        &status(1, 1, 0),
    );
    assert_eq!(out(&mut r, t), [Action::CheckTip { peer: H, tip }]);
    r.on_behind(H, t);
    r.on_behind(G, t);
    assert_eq!(
        out(&mut r, t),
        [Action::RequestHeaders {
            peer: H,
            after: None
        }]
    );
    r.on_headers(H, &hs, t);
    let blocks: Vec<Inv> = hs.iter().map(|h| Inv::Block(h.hash())).collect();
    assert_eq!(
        out(&mut r, t),
        [Action::FilterBlocks {
            peer: H,
            blocks: blocks.clone()
        }]
    );
    r.on_unknown_blocks(H, blocks.clone(), t);
    assert_eq!(out(&mut r, t), [objects(H, &blocks)]);
    for (i, b) in blocks.iter().enumerate() {
        r.on_body(H, *b, body(i as u32), t);
        r.on_verdict(*b, &accepted(), None, t);
    }
    assert_eq!(r.catching_up_with(), None, "done");
    let mut bad = headers(3);
    bad.swap(1, 2);
    r.on_behind(G, t);
    out(&mut r, t);
    r.on_headers(G, &bad, t);
    assert_eq!(out(&mut r, t), [penalize(G, Offence::BadHeaders)]);
    assert_eq!(r.catching_up_with(), None);
}

#[test]
fn lies_about_chain_work_cost_the_peer_and_cannot_drive_catch_up_again() {
    let p = Params::new(Network::Regtest)
        .with_genesis_outputs(1)
        .unwrap();
    let mut r = R::new(&RelayConfig {
        header_target: Some(p.target),
        ..cfg(RelayMode::Announce)
    });
    let t = Instant::now();
    let ours = SyncStatus {
        height: 1,
        work: work_at(p.target, 1),
        ..status(0, 1, 0)
    };
    // Work that is not its height's at the network's target: refused.
    let inflated = SyncStatus {
        height: 5,
        work: rumor_chain::Work(u128::MAX / 2),
        ..status(0, 1, 0)
    };
    r.on_sync_status(X, &inflated, &ours);
    assert_eq!(out(&mut r, t), [penalize(X, Offence::BadHeaders)]);
    assert_eq!(r.rejects()[WORK_CLAIM_MISMATCH], 1);
    // A consistent claim whose headers end short of the claimed tip.
    let claim = SyncStatus {
        height: 50,
        work: work_at(p.target, 50),
        tip: BlockHash([0x51; 32]),
        ..status(0, 1, 0)
    };
    r.on_sync_status(X, &claim, &ours);
    assert_eq!(
        out(&mut r, t),
        [Action::CheckTip {
            peer: X,
            tip: claim.tip
        }]
    );
    r.on_behind(X, t);
    out(&mut r, t);
    r.on_headers(X, &headers(3), t);
    assert_eq!(out(&mut r, t), [penalize(X, Offence::BadHeaders)]);
    assert_eq!(r.rejects()[HEADERS_SHORT_OF_CLAIM], 1);
    assert_eq!(r.catching_up_with(), None);
    // The same claim again does not start another session with it...
    r.on_sync_status(X, &claim, &ours);
    out(&mut r, t);
    r.on_behind(X, t);
    assert_eq!(out(&mut r, t), []);
    // ...but an honest peer can.
    let hs = headers(3);
    let honest = SyncStatus {
        height: 3,
        work: work_at(p.target, 3),
        tip: hs[2].hash(),
        ..status(0, 1, 0)
    };
    r.on_sync_status(H, &honest, &ours);
    out(&mut r, t);
    r.on_behind(H, t);
    assert_eq!(
        out(&mut r, t),
        [Action::RequestHeaders {
            peer: H,
            after: None
        }]
    );
    r.on_headers(H, &hs, t);
    assert!(matches!(
        out(&mut r, t)[..],
        [Action::FilterBlocks { peer: H, .. }]
    ));
}

#[test]
fn a_verdict_that_never_comes_is_forgotten_and_a_peer_that_leaves_is_replaced() {
    let mut r = R::new(&RelayConfig {
        validation_timeout: Duration::from_millis(500),
        ..cfg(RelayMode::Announce)
    });
    let t = Instant::now();
    r.on_announcements(H, &[tx(1)], t);
    r.on_announcements(G, &[tx(1), tx(2)], t);
    r.on_announcements(H, &[tx(2)], t);
    assert_eq!(out(&mut r, t), [objects(G, &[tx(2)]), objects(H, &[tx(1)])]);
    r.on_body(H, tx(1), body(1), t);
    r.peer_gone(&G, t);
    assert_eq!(
        out(&mut r, t),
        [
            validate(H, tx(1), body(1), Via::Announce),
            objects(H, &[tx(2)])
        ]
    );
    let later = t + Duration::from_millis(600);
    r.tick(later);
    r.drain_actions().count();
    assert_eq!(r.counters().validation_timeouts, 1);
    assert_eq!(r.validating(), 0);
}

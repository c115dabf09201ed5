//! Socket-free tests of hybrid mode's tree upkeep (Plumtree's rules as
//! the relay applies them): eager push of what was accepted, PRUNE on a
//! duplicate, GRAFT when an announced object's push did not come within
//! the grace period, the eager degree bound, repair after a peer leaves,
//! and compact blocks along the same trees.

use std::sync::Arc;

use super::tests::{R, accepted, announce, body, cfg, objects, out, tx, validate};
use super::*;
use crate::test_blocks::block_of;
use crate::tree::TreeLimits;

/// This node's origin tag in these tests.
const ME: Origin = 1000;
/// Another node's origin.
const O: Origin = 7;

/// A hybrid relay with eager degree `degree`, a grace of 50 ms (no round
/// trip measured yet), and peers a..=e.
fn hybrid(degree: usize) -> (R, Instant) {
    let mut r = R::new(&RelayConfig {
        tree: TreeLimits {
            eager_degree: degree,
            grace_initial: Duration::from_millis(50),
            lead: Duration::from_millis(15),
            ..TreeLimits::default()
        },
        origin: ME,
        ..cfg(RelayMode::Hybrid)
    });
    for p in ['a', 'b', 'c', 'd', 'e'] {
        r.peer_up(p, true);
    }
    (r, Instant::now())
}

fn item(origin: Origin, i: u32) -> PushItem {
    PushItem {
        origin,
        inv: tx(i),
        body: Pushed::Body(body(i)),
    }
}

/// The pushes among `actions`: (peer, the ids and origins pushed), sorted.
fn pushes(actions: &[Action<char, u32>]) -> Vec<(char, Vec<(Inv, Origin)>)> {
    let mut v: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Push { peer, items } => {
                Some((*peer, items.iter().map(|i| (i.inv, i.origin)).collect()))
            }
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn pushed_to(actions: &[Action<char, u32>]) -> Vec<char> {
    pushes(actions).into_iter().map(|(p, _)| p).collect()
}

#[test]
fn an_accepted_object_is_pushed_to_the_eager_degree_and_announced() {
    let (mut r, t) = hybrid(2);
    r.on_local_accepted(tx(1), body(1), None, t);
    let acts = out(&mut r, t);
    let p = pushes(&acts);
    assert_eq!(p.len(), 2, "{acts:?}");
    assert!(p.iter().all(|(_, items)| items == &[(tx(1), ME)]));
    assert!(!acts.contains(&announce(&[tx(1)])), "pushed at once ...");
    let window = RelayConfig::default().batch_window;
    r.tick(t + window);
    assert_eq!(
        r.drain_actions().collect::<Vec<_>>(),
        [announce(&[tx(1)])],
        "... announced after the batch window (the lazy path)"
    );
    assert_eq!(r.counters().eager_pushed, 2);
    // Its tree is kept: the next object goes to the same peers.
    r.on_local_accepted(tx(2), body(2), None, t);
    assert_eq!(pushed_to(&out(&mut r, t)), pushed_to(&acts));
}

#[test]
fn a_pushed_object_is_validated_then_pushed_on_along_its_origin_not_back() {
    let (mut r, t) = hybrid(5);
    assert!(r.on_eager_push('a', vec![item(O, 1)], t).is_empty());
    assert_eq!(out(&mut r, t), [validate('a', tx(1), body(1), Via::Push)]);
    // Validate before relay: nothing is pushed before the verdict.
    r.on_verdict(tx(1), &accepted(), None, t);
    let acts = out(&mut r, t);
    assert_eq!(pushed_to(&acts), ['b', 'c', 'd', 'e'], "not back to a");
    assert!(pushes(&acts).iter().all(|(_, i)| i == &[(tx(1), O)]));
    assert_eq!(r.counters().eager_accepted, 1);
}

#[test]
fn a_duplicate_push_prunes_its_pusher_for_that_origin() {
    let (mut r, t) = hybrid(3);
    assert!(r.on_eager_push('a', vec![item(O, 1)], t).is_empty());
    // While the first copy is being validated, and after it was accepted.
    assert_eq!(r.on_eager_push('b', vec![item(O, 1)], t), [O]);
    out(&mut r, t);
    r.on_verdict(tx(1), &accepted(), None, t);
    assert_eq!(r.on_eager_push('c', vec![item(O, 1)], t), [O]);
    assert_eq!(r.counters().duplicate_eager, 2);
    assert_eq!(r.counters().prunes_sent, 2);
    assert_eq!(r.counters().duplicate_bodies, 2);
    // One prune per origin per answer, however many duplicates it carried.
    r.on_local_accepted(tx(2), body(2), None, t);
    assert_eq!(
        r.on_eager_push('d', vec![item(O, 1), item(O, 2), item(ME, 2)], t),
        [O, ME]
    );
}

#[test]
fn a_prune_answer_leaves_only_that_origins_tree() {
    let (mut r, t) = hybrid(5);
    r.on_local_accepted(tx(1), body(1), None, t);
    assert_eq!(pushed_to(&out(&mut r, t)), ['a', 'b', 'c', 'd', 'e']);
    r.on_push_answer('b', &[ME], Duration::from_millis(3));
    assert_eq!(r.counters().prunes_received, 1);
    r.on_local_accepted(tx(2), body(2), None, t);
    assert_eq!(pushed_to(&out(&mut r, t)), ['a', 'c', 'd', 'e']);
    // Another origin's tree still has b.
    r.on_eager_push('a', vec![item(O, 3)], t);
    r.on_verdict(tx(3), &accepted(), None, t);
    assert_eq!(pushed_to(&out(&mut r, t)), ['b', 'c', 'd', 'e']);
}

#[test]
fn an_announcement_waits_for_the_grace_then_is_fetched_and_grafts_its_announcer() {
    let (mut r, t) = hybrid(2);
    r.on_announcements('a', &[tx(1)], t);
    assert_eq!(out(&mut r, t), [], "the push may still come");
    assert_eq!(r.next_deadline(t), Some(t + Duration::from_millis(50)));
    let before = t + Duration::from_millis(49);
    r.tick(before);
    assert_eq!(out(&mut r, before), []);
    let due = t + Duration::from_millis(50);
    r.tick(due);
    assert_eq!(
        out(&mut r, due),
        [
            objects('a', &[tx(1)]),
            Action::Graft {
                peer: 'a',
                invs: vec![tx(1)]
            }
        ]
    );
    assert_eq!(r.counters().grafts_sent, 1);
    // The graft's answer names the origin: the object travels its tree.
    r.on_graft_answer('a', &[tx(1)], &[Some(O)]);
    r.on_body('a', tx(1), body(1), due);
    out(&mut r, due);
    r.on_verdict(tx(1), &accepted(), None, due);
    let acts = out(&mut r, due);
    assert!(
        pushes(&acts)
            .iter()
            .all(|(p, i)| *p != 'a' && i == &[(tx(1), O)])
    );
}

#[test]
fn a_push_within_the_grace_means_no_fetch() {
    let (mut r, t) = hybrid(2);
    r.on_announcements('a', &[tx(1)], t);
    let soon = t + Duration::from_millis(5);
    r.on_eager_push('b', vec![item(O, 1)], soon);
    assert_eq!(
        out(&mut r, soon),
        [validate('b', tx(1), body(1), Via::Push)]
    );
    let late = t + Duration::from_millis(100);
    r.tick(late);
    assert_eq!(out(&mut r, late), [], "nothing fetched, nobody grafted");
    assert_eq!(r.counters().grafts_sent, 0);
}

#[test]
fn an_announcer_well_ahead_of_the_push_is_grafted_as_a_faster_parent() {
    let (mut r, t) = hybrid(2);
    r.on_announcements('a', &[tx(1)], t);
    let late = t + Duration::from_millis(20);
    r.on_eager_push('b', vec![item(O, 1)], late);
    let acts = out(&mut r, late);
    assert!(
        acts.contains(&Action::Graft {
            peer: 'a',
            invs: vec![tx(1)]
        }),
        "{acts:?}"
    );
    assert_eq!(r.counters().tree_optimised, 1);
    // An announcement only a little ahead is noise, not a faster parent.
    r.on_announcements('a', &[tx(2)], late);
    let soon = late + Duration::from_millis(5);
    r.on_eager_push('b', vec![item(O, 2)], soon);
    assert!(
        !out(&mut r, soon)
            .iter()
            .any(|a| matches!(a, Action::Graft { .. }))
    );
}

#[test]
fn a_graft_adds_the_peer_that_asked_beyond_the_picks() {
    let (mut r, t) = hybrid(2);
    r.on_eager_push('a', vec![item(O, 1)], t);
    r.on_verdict(tx(1), &accepted(), None, t);
    let picked = pushed_to(&out(&mut r, t));
    assert_eq!(picked.len(), 2, "the degree bounds the picks");
    let other = ['b', 'c', 'd', 'e']
        .into_iter()
        .find(|p| !picked.contains(p))
        .unwrap();
    assert_eq!(r.on_graft(other, &[tx(1)]), [Some(O)]);
    assert_eq!(r.counters().grafts_accepted, 1);
    assert_eq!(r.on_graft(other, &[tx(99)]), [None], "unknown object");
    r.on_eager_push('a', vec![item(O, 2)], t);
    r.on_verdict(tx(2), &accepted(), None, t);
    let mut now_eager = picked.clone();
    now_eager.push(other);
    now_eager.sort();
    assert_eq!(pushed_to(&out(&mut r, t)), now_eager);
    // The pick that only got duplicates from us prunes itself out.
    r.on_push_answer(picked[0], &[O], Duration::from_millis(1));
    r.on_eager_push('a', vec![item(O, 3)], t);
    r.on_verdict(tx(3), &accepted(), None, t);
    let mut left = vec![picked[1], other];
    left.sort();
    assert_eq!(pushed_to(&out(&mut r, t)), left);
}

#[test]
fn a_peer_that_leaves_drops_out_and_its_children_repair_by_graft() {
    // Upstream: the peer that left is pushed nothing more.
    let (mut r, t) = hybrid(5);
    r.on_local_accepted(tx(1), body(1), None, t);
    out(&mut r, t);
    r.peer_gone(&'c', t);
    r.on_local_accepted(tx(2), body(2), None, t);
    assert_eq!(pushed_to(&out(&mut r, t)), ['a', 'b', 'd', 'e']);
    assert_eq!(r.on_graft('c', &[tx(1)]), [Some(ME)]);
    assert_eq!(r.counters().grafts_refused, 1, "c is not connected");

    // Downstream: a's pushes stop when it leaves; the next object is only
    // announced (by b), fetched after the grace, and b is grafted.
    let (mut r, t) = hybrid(2);
    r.on_eager_push('a', vec![item(O, 1)], t);
    out(&mut r, t);
    r.on_verdict(tx(1), &accepted(), None, t);
    out(&mut r, t);
    r.peer_gone(&'a', t);
    r.on_announcements('b', &[tx(2)], t);
    let due = t + Duration::from_millis(50);
    r.tick(due);
    let acts = out(&mut r, due);
    assert!(acts.contains(&objects('b', &[tx(2)])), "{acts:?}");
    assert!(acts.contains(&Action::Graft {
        peer: 'b',
        invs: vec![tx(2)]
    }));
}

#[test]
fn a_push_that_fails_leaves_the_tree_and_grace_follows_round_trips() {
    let (mut r, t) = hybrid(5);
    r.on_local_accepted(tx(1), body(1), None, t);
    out(&mut r, t);
    r.on_push_failed('d', &[ME]);
    r.on_local_accepted(tx(2), body(2), None, t);
    assert_eq!(pushed_to(&out(&mut r, t)), ['a', 'b', 'c', 'e']);
    assert_eq!(r.counters().push_failures, 1);
    // Measured round trips set the grace period.
    for p in ['a', 'b', 'c', 'e'] {
        r.on_push_answer(p, &[], Duration::from_millis(40));
    }
    r.on_announcements('a', &[tx(3)], t);
    assert_eq!(r.next_deadline(t), Some(t + Duration::from_millis(20)));
}

#[test]
fn blocks_go_along_the_trees_as_compact_blocks() {
    let block = block_of(3);
    let inv = Inv::Block(block.hash());
    let cb = CompactBlock::of(&block, &block.txids());
    let bytes = Bytes::from(block.encode());

    // The miner's node pushes the compact block at once.
    let (mut r, t) = hybrid(2);
    r.on_local_accepted(inv, bytes.clone(), Some(cb.clone()), t);
    let acts: Vec<_> = r.drain_actions().collect();
    let compact_pushes = acts
        .iter()
        .filter(|a| {
            matches!(a, Action::Push { items, .. }
                if items.len() == 1 && items[0].body == Pushed::Compact(Arc::new(cb.clone())))
        })
        .count();
    assert_eq!(compact_pushes, 2, "before any idle flush: {acts:?}");
    assert!(acts.contains(&announce(&[inv])));

    // A peer with every transaction rebuilds it from the push at once.
    let (mut r, t) = hybrid(2);
    for tx in &block.txs[1..] {
        r.on_local_accepted(Inv::Tx(tx.txid()), Bytes::from(tx.encode()), None, t);
    }
    out(&mut r, t);
    let push = PushItem {
        origin: O,
        inv,
        body: Pushed::Compact(Arc::new(cb.clone())),
    };
    assert!(r.on_eager_push('a', vec![push.clone()], t).is_empty());
    assert_eq!(out(&mut r, t), [validate('a', inv, bytes, Via::Compact)]);
    assert_eq!(r.counters().compact_full_hits, 1);
    assert_eq!(r.on_eager_push('b', vec![push], t), [O], "a duplicate");

    // A peer missing one asks the pusher for it by position.
    let (mut r, t) = hybrid(2);
    let tx1 = &block.txs[1];
    r.on_local_accepted(Inv::Tx(tx1.txid()), Bytes::from(tx1.encode()), None, t);
    out(&mut r, t);
    r.on_eager_push(
        'a',
        vec![PushItem {
            origin: O,
            inv,
            body: Pushed::Compact(Arc::new(cb)),
        }],
        t,
    );
    assert_eq!(
        out(&mut r, t),
        [Action::Request {
            peer: 'a',
            request: Request::BlockTxs {
                block: block.hash(),
                indexes: vec![2, 3]
            }
        }]
    );
}

#[test]
fn a_pushed_body_of_the_wrong_kind_costs_its_pusher() {
    let (mut r, t) = hybrid(2);
    let lie = PushItem {
        origin: O,
        inv: tx(1),
        body: Pushed::Compact(Arc::new(CompactBlock::of(&block_of(1), &[]))),
    };
    r.on_eager_push('a', vec![lie], t);
    assert_eq!(
        out(&mut r, t),
        [Action::Penalize {
            peer: 'a',
            offence: Offence::MalformedBody
        }]
    );
}

#[test]
fn an_object_of_unknown_origin_is_announced_but_not_pushed() {
    // Fetched after the grace, accepted before the graft's answer came:
    // pushing it along some tree would prune that tree for the wrong source.
    let (mut r, t) = hybrid(2);
    r.on_announcements('a', &[tx(1)], t);
    let due = t + Duration::from_millis(50);
    r.tick(due);
    out(&mut r, due);
    r.on_body('a', tx(1), body(1), due);
    out(&mut r, due);
    r.on_verdict(tx(1), &accepted(), None, due);
    assert_eq!(out(&mut r, due), []);
    let later = due + RelayConfig::default().batch_window;
    r.tick(later);
    assert_eq!(out(&mut r, later), [announce(&[tx(1)])]);
    assert_eq!(r.counters().eager_unknown_origin, 1);
}

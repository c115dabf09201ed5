//! Socket-free tests of the relay rules.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::gossipsub::{MessageAcceptance, MessageId};
use rumor_chain::Txid;

use super::*;

fn relay() -> Relay {
    Relay::new(
        NonZeroUsize::new(1000).unwrap(),
        InFlightLimits {
            timeout: Duration::from_millis(500),
            max_attempts: 3,
            max_per_peer: 16,
            capacity: 100,
        },
    )
}

fn inv(i: u8) -> Inv {
    Inv::tx(Txid([i; 32]))
}

fn gref(inv: &Inv, source: PeerId) -> GossipRef {
    GossipRef {
        message_id: MessageId::new(&inv.message_id()),
        source,
    }
}

fn accepted() -> Verdict {
    Verdict::Accepted { also: vec![] }
}

#[test]
fn new_announcement_fetches_from_source_then_accept_forwards_once() {
    let mut r = relay();
    let (a, b) = (PeerId::random(), PeerId::random());
    let now = Instant::now();
    let x = inv(1);
    assert_eq!(
        r.on_announce(x, gref(&x, a), || false, [b], now),
        OnAnnounce::Fetch(a)
    );
    assert_eq!(r.on_body(&x), OnBody::Validate);
    let v = r.on_verdict(&x, &accepted());
    assert_eq!(v.report, Some((gref(&x, a), MessageAcceptance::Accept)));
    assert!(
        !v.announce,
        "forwarding the message is the one announcement"
    );
    // After gossipsub's duplicate cache expired, a re-announcement is not
    // fetched and not forwarded again (SIR: removed).
    assert_eq!(
        r.on_announce(x, gref(&x, b), || panic!("seen-set answers"), [], now),
        OnAnnounce::Report(MessageAcceptance::Ignore)
    );
    assert_eq!(r.seen().stats().hits, 1);
}

#[test]
fn invalid_objects_are_rejected_without_refetch() {
    let mut r = relay();
    let a = PeerId::random();
    let now = Instant::now();
    let x = inv(2);
    r.on_announce(x, gref(&x, a), || false, [], now);
    r.on_body(&x);
    let v = r.on_verdict(
        &x,
        &Verdict::Invalid {
            reason: "bad-signature".into(),
        },
    );
    assert_eq!(v.report.unwrap().1, MessageAcceptance::Reject);
    assert_eq!(
        r.on_announce(x, gref(&x, a), || false, [], now),
        OnAnnounce::Report(MessageAcceptance::Reject)
    );
    assert!(r.inflight().is_empty());
}

#[test]
fn policy_refusals_are_ignored_not_punished() {
    let mut r = relay();
    let a = PeerId::random();
    let now = Instant::now();
    let x = inv(3);
    r.on_announce(x, gref(&x, a), || false, [], now);
    r.on_body(&x);
    let v = r.on_verdict(
        &x,
        &Verdict::Policy {
            reason: "fee-too-low".into(),
        },
    );
    assert_eq!(v.report.unwrap().1, MessageAcceptance::Ignore);
    assert_eq!(
        r.on_announce(x, gref(&x, a), || false, [], now),
        OnAnnounce::Report(MessageAcceptance::Ignore)
    );
}

#[test]
fn not_yet_forgets_and_fetches_the_parent() {
    let mut r = relay();
    let a = PeerId::random();
    let now = Instant::now();
    let x = inv(4);
    let parent = inv(5);
    r.on_announce(x, gref(&x, a), || false, [], now);
    r.on_body(&x);
    let v = r.on_verdict(
        &x,
        &Verdict::NotYet {
            reason: "orphan".into(),
            fetch: Some(parent),
        },
    );
    assert_eq!(v.report.unwrap().1, MessageAcceptance::Ignore);
    assert_eq!(v.fetch_parent, Some(parent));
    assert!(r.seen().peek(&x).is_none(), "can be fetched again later");
}

#[test]
fn retries_from_another_peer_then_gives_up_with_ignore() {
    let mut r = relay();
    let (a, b) = (PeerId::random(), PeerId::random());
    let t0 = Instant::now();
    let x = inv(6);
    assert_eq!(
        r.on_announce(x, gref(&x, a), || false, [b], t0),
        OnAnnounce::Fetch(a)
    );
    assert!(r.expired(t0 + Duration::from_millis(100)).is_empty());
    let t1 = t0 + Duration::from_millis(600);
    assert_eq!(r.expired(t1), vec![(x, a)]);
    assert_eq!(r.on_fetch_failed(&x, &a, t1), OnFetchFailed::RetryFrom(b));
    assert_eq!(
        r.on_fetch_failed(&x, &b, t1),
        OnFetchFailed::GaveUp(Some(gref(&x, a)))
    );
    assert!(r.inflight().is_empty());
    assert!(r.seen().peek(&x).is_none());
    assert_eq!(r.pending_reports(), 0, "no gossip report is left hanging");
}

#[test]
fn disconnect_fails_over() {
    let mut r = relay();
    let (a, b) = (PeerId::random(), PeerId::random());
    let t0 = Instant::now();
    let x = inv(7);
    r.on_announce(x, gref(&x, a), || false, [b], t0);
    assert_eq!(r.peer_gone(&a, t0), vec![(x, OnFetchFailed::RetryFrom(b))]);
}

#[test]
fn local_accept_is_announced_exactly_once() {
    let mut r = relay();
    let x = inv(8);
    assert_eq!(r.on_local_accept(x), OnLocalAccept::Publish);
    assert_eq!(r.on_local_accept(x), OnLocalAccept::AlreadyAnnounced);
    // and an announcement from a peer later is not forwarded
    let a = PeerId::random();
    assert_eq!(
        r.on_announce(x, gref(&x, a), || false, [], Instant::now()),
        OnAnnounce::Report(MessageAcceptance::Ignore)
    );
}

#[test]
fn local_accept_while_fetching_forwards_the_pending_message() {
    let mut r = relay();
    let a = PeerId::random();
    let x = inv(9);
    r.on_announce(x, gref(&x, a), || false, [], Instant::now());
    assert_eq!(r.on_local_accept(x), OnLocalAccept::Forward(gref(&x, a)));
    assert!(r.inflight().is_empty());
    // the body arriving later is a duplicate
    assert_eq!(r.on_body(&x), OnBody::Duplicate(None));
}

#[test]
fn objects_the_node_already_has_are_not_fetched() {
    let mut r = relay();
    let a = PeerId::random();
    let x = inv(10);
    assert_eq!(
        r.on_announce(x, gref(&x, a), || true, [], Instant::now()),
        OnAnnounce::Report(MessageAcceptance::Ignore)
    );
    assert!(r.inflight().is_empty());
}

#[test]
fn sync_fetch_accept_is_announced_by_us() {
    let mut r = relay();
    let a = PeerId::random();
    let x = inv(11);
    assert_eq!(r.fetch(x, [a], || false, Instant::now()), Some(a));
    assert_eq!(
        r.fetch(x, [a], || false, Instant::now()),
        None,
        "one fetch at a time"
    );
    assert_eq!(r.on_body(&x), OnBody::Validate);
    let v = r.on_verdict(&x, &accepted());
    assert!(v.announce);
    assert!(v.report.is_none());
}

#[test]
fn push_mode_validates_first_copy_and_counts_duplicates() {
    let mut r = relay();
    let (a, b) = (PeerId::random(), PeerId::random());
    let x = inv(12);
    assert_eq!(r.on_push(x, gref(&x, a), || false), OnBody::Validate);
    let v = r.on_verdict(&x, &accepted());
    assert_eq!(v.report.unwrap().1, MessageAcceptance::Accept);
    assert_eq!(
        r.on_push(x, gref(&x, b), || false),
        OnBody::Duplicate(Some(MessageAcceptance::Ignore))
    );
}

#[test]
fn overload_is_reported() {
    let mut r = Relay::new(
        NonZeroUsize::new(10).unwrap(),
        InFlightLimits {
            timeout: Duration::from_secs(1),
            max_attempts: 1,
            max_per_peer: 1,
            capacity: 1,
        },
    );
    let a = PeerId::random();
    let now = Instant::now();
    assert_eq!(
        r.on_announce(inv(1), gref(&inv(1), a), || false, [], now),
        OnAnnounce::Fetch(a)
    );
    assert_eq!(
        r.on_announce(inv(2), gref(&inv(2), a), || false, [], now),
        OnAnnounce::Overloaded
    );
}

#[test]
fn an_invalid_block_body_does_not_condemn_the_block_id() {
    let mut r = relay();
    let a = PeerId::random();
    let now = Instant::now();
    let b = Inv::block(rumor_chain::BlockHash([1; 32]));
    r.on_announce(b, gref(&b, a), || false, [], now);
    r.on_body(&b);
    let v = r.on_verdict(
        &b,
        &Verdict::Invalid {
            reason: "bad-merkle-root".into(),
        },
    );
    assert_eq!(v.report.unwrap().1, MessageAcceptance::Reject);
    // the real block, announced later, is fetched
    let c = PeerId::random();
    assert_eq!(
        r.on_announce(b, gref(&b, c), || false, [], now),
        OnAnnounce::Fetch(c)
    );
}

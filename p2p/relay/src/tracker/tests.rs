//! Socket-free tests of request tracking: candidates, timeouts, struck
//! peers, caps, bodies that are not the object, peers that leave.

use super::*;
use rumor_chain::Txid;

fn tx(i: u32) -> Inv {
    let mut id = [0u8; 32];
    id[..4].copy_from_slice(&i.to_le_bytes());
    Inv::Tx(Txid(id))
}

fn limits() -> TrackerLimits {
    TrackerLimits {
        timeout: Duration::from_millis(100),
        max_attempts: 3,
        max_announced_per_peer: 5,
        max_inflight_per_peer: 2,
        capacity: 100,
        struck_delay: Duration::from_millis(50),
        strike_memory: Duration::from_secs(10),
    }
}

#[test]
fn the_first_announcer_is_asked_and_later_ones_wait_as_candidates() {
    let mut t = RequestTracker::new(limits());
    let now = Instant::now();
    assert_eq!(t.announce(tx(1), 'a', Purpose::Announce, now), Tracked::New);
    assert_eq!(
        t.announce(tx(1), 'b', Purpose::Announce, now),
        Tracked::Candidate
    );
    assert_eq!(
        t.announce(tx(1), 'b', Purpose::Announce, now),
        Tracked::Duplicate
    );
    assert_eq!(t.assign(now), (vec![('a', tx(1))], vec![]));
    // One request at a time: 'b' is not asked while 'a' has it.
    assert_eq!(
        t.announce(tx(1), 'c', Purpose::Announce, now),
        Tracked::Candidate
    );
    assert_eq!(t.assign(now), (vec![], vec![]));
    assert_eq!(t.candidates(&tx(1)), ['b', 'c']);
    assert_eq!(t.inflight(&'a'), 1);
}

#[test]
fn a_timeout_strikes_the_peer_and_asks_the_next_candidate_at_once() {
    let mut t = RequestTracker::new(limits());
    let t0 = Instant::now();
    t.announce(tx(1), 'a', Purpose::Announce, t0);
    t.announce(tx(1), 'b', Purpose::Announce, t0);
    t.assign(t0);
    assert!(t.expire(t0 + Duration::from_millis(99)).is_empty());
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(t.expire(t1), vec![(tx(1), 'a')]);
    assert_eq!(t.assign(t1).0, vec![('b', tx(1))]);
    assert!(t.is_struck(&'a', t1));
    assert_eq!(t.inflight(&'a'), 0);
    assert_eq!(t.stats().timeouts, 1);
}

/// 'w' withholds an object until its request times out; returns that
/// moment, when 'w' is struck.
fn strike_w(t: &mut RequestTracker<char>) -> Instant {
    let t0 = Instant::now();
    t.announce(tx(1), 'w', Purpose::Announce, t0);
    t.assign(t0);
    let t1 = t0 + Duration::from_millis(100);
    t.expire(t1);
    t1
}

#[test]
fn a_struck_first_announcer_is_asked_last_and_only_after_the_delay() {
    let mut t = RequestTracker::new(limits());
    let t1 = strike_w(&mut t);
    // 'w' announces the next object first: it is not asked at once...
    t.announce(tx(2), 'w', Purpose::Announce, t1);
    assert_eq!(t.assign(t1).0, vec![]);
    // ...and an honest announcer a moment later is asked instead.
    let t2 = t1 + Duration::from_millis(5);
    t.announce(tx(2), 'h', Purpose::Announce, t2);
    assert_eq!(t.assign(t2).0, vec![('h', tx(2))]);
    // With nobody else, the struck peer is asked after the delay.
    t.announce(tx(3), 'w', Purpose::Announce, t2);
    assert_eq!(t.tick(t2 + Duration::from_millis(49)).0, vec![]);
    assert_eq!(t.tick(t2 + Duration::from_millis(50)).0, vec![('w', tx(3))]);
}

#[test]
fn a_body_that_is_not_the_object_moves_on_and_keeps_the_id_tracked() {
    let mut t = RequestTracker::new(limits());
    let now = Instant::now();
    t.announce(tx(1), 'x', Purpose::Announce, now);
    t.announce(tx(1), 'h', Purpose::Announce, now);
    t.assign(now);
    assert!(!t.received(&tx(1), 'h'), "not asked of 'h'");
    assert!(t.received(&tx(1), 'x'));
    assert_eq!(t.stage(&tx(1)), Some(&Stage::Holding { peer: 'x' }));
    t.bad_body(&tx(1));
    assert_eq!(t.assign(now).0, vec![('h', tx(1))]);
    assert!(t.received(&tx(1), 'h'));
    assert_eq!(t.remove(&tx(1)), Some(Purpose::Announce));
    assert_eq!(t.announced_by(&'x'), 0);
    assert_eq!(t.announced_by(&'h'), 0);
}

#[test]
fn notfound_moves_on_and_nothing_left_is_given_up() {
    let mut t = RequestTracker::new(limits());
    let t0 = Instant::now();
    t.announce(tx(1), 'a', Purpose::Announce, t0);
    t.assign(t0);
    t.failed(&tx(1), 'a');
    assert_eq!(t.assign(t0), (vec![], vec![]));
    assert!(t.contains(&tx(1)), "a new announcer may still come");
    let late = t0 + limits().timeout * (limits().max_attempts + 1);
    assert_eq!(t.tick(late), (vec![], vec![tx(1)]));
    assert!(t.is_empty());
    assert_eq!(t.stats().gave_up, 1);
}

#[test]
fn attempts_are_bounded() {
    let mut t = RequestTracker::new(limits());
    let now = Instant::now();
    for p in ['a', 'b', 'c', 'd'] {
        t.announce(tx(1), p, Purpose::Announce, now);
    }
    for p in ['a', 'b', 'c'] {
        assert_eq!(t.assign(now).0, vec![(p, tx(1))]);
        t.failed(&tx(1), p);
    }
    assert_eq!(t.assign(now), (vec![], vec![tx(1)]));
}

#[test]
fn one_peer_cannot_have_more_than_its_cap_tracked() {
    let mut t = RequestTracker::new(limits());
    let now = Instant::now();
    for i in 0..5 {
        assert_eq!(t.announce(tx(i), 'f', Purpose::Announce, now), Tracked::New);
    }
    assert_eq!(
        t.announce(tx(5), 'f', Purpose::Announce, now),
        Tracked::PeerCapped
    );
    assert_eq!(t.stats().peer_capped, 1);
    // Others are unaffected, also for the same object.
    assert_eq!(t.announce(tx(5), 'h', Purpose::Announce, now), Tracked::New);
    assert_eq!(
        t.announce(tx(0), 'h', Purpose::Announce, now),
        Tracked::Candidate
    );
    // Requests per peer are capped too; more wait until one is answered.
    let (sent, _) = t.assign(now);
    assert_eq!(sent.iter().filter(|(p, _)| *p == 'f').count(), 2);
    let first = sent
        .iter()
        .find(|(p, _)| *p == 'f')
        .map(|(_, i)| *i)
        .unwrap();
    assert!(t.received(&first, 'f'));
    assert_eq!(t.assign(now).0.iter().filter(|(p, _)| *p == 'f').count(), 1);
}

#[test]
fn the_tracker_has_a_capacity() {
    let mut t = RequestTracker::new(TrackerLimits {
        capacity: 2,
        ..limits()
    });
    let now = Instant::now();
    t.announce(tx(1), 'a', Purpose::Announce, now);
    t.announce(tx(2), 'b', Purpose::Announce, now);
    assert_eq!(
        t.announce(tx(3), 'c', Purpose::Announce, now),
        Tracked::Full
    );
    assert_eq!(
        t.announce(tx(1), 'c', Purpose::Announce, now),
        Tracked::Candidate
    );
}

#[test]
fn a_peer_that_leaves_is_replaced_and_a_held_body_stays_held() {
    let mut t = RequestTracker::new(limits());
    let now = Instant::now();
    t.announce(tx(1), 'a', Purpose::Announce, now);
    t.announce(tx(1), 'b', Purpose::Announce, now);
    t.announce(tx(2), 'a', Purpose::Announce, now);
    t.assign(now);
    assert!(t.received(&tx(2), 'a'));
    t.peer_gone(&'a');
    assert_eq!(t.assign(now).0, vec![('b', tx(1))]);
    assert_eq!(t.stage(&tx(2)), Some(&Stage::Holding { peer: 'a' }));
}

#[test]
fn a_pushed_body_is_adopted_once() {
    let mut t = RequestTracker::new(limits());
    let now = Instant::now();
    assert!(t.adopt(tx(1), 'p', Purpose::Announce, now));
    assert!(
        !t.adopt(tx(1), 'q', Purpose::Announce, now),
        "one copy is validated"
    );
    t.announce(tx(2), 'a', Purpose::Announce, now);
    t.assign(now);
    assert!(
        t.adopt(tx(2), 'p', Purpose::Announce, now),
        "a push beats a fetch"
    );
    assert_eq!(t.inflight(&'a'), 0);
}

#[test]
fn unasked_compact_pushes_count_against_the_peers_cap_and_the_capacity() {
    let mut t = RequestTracker::new(limits());
    let now = Instant::now();
    for i in 0..5 {
        assert!(t.expect(tx(i), 'a', Purpose::Announce, now));
    }
    assert_eq!(t.announced_by(&'a'), 5);
    assert!(
        !t.expect(tx(5), 'a', Purpose::Announce, now),
        "past a's cap"
    );
    assert!(!t.contains(&tx(5)));
    // Another peer may still take over an object a holds a request for.
    assert!(t.expect(tx(0), 'b', Purpose::Announce, now));
    // Removing what was pushed gives the cap back.
    for i in 0..5 {
        t.remove(&tx(i));
    }
    assert_eq!(t.announced_by(&'a'), 0);
    let mut t = RequestTracker::new(TrackerLimits {
        capacity: 2,
        ..limits()
    });
    assert!(t.expect(tx(1), 'a', Purpose::Announce, now));
    assert!(t.expect(tx(2), 'b', Purpose::Announce, now));
    assert!(
        !t.expect(tx(3), 'c', Purpose::Announce, now),
        "the tracker is full"
    );
}

#[test]
fn objects_that_waited_are_asked_for_in_id_order_not_the_maps() {
    // Four objects wait for a struck peer with room for two requests: the
    // tick asks for the two lowest ids, whatever order the announcements
    // came in and whatever the hash map's (random per process) order is,
    // so a simulation repeats exactly from its seed.
    let mut t = RequestTracker::new(limits());
    let t1 = strike_w(&mut t);
    for i in [9, 3, 7, 5] {
        t.announce(tx(i), 'w', Purpose::Announce, t1);
    }
    assert_eq!(t.assign(t1).0, vec![]);
    assert_eq!(
        t.tick(t1 + Duration::from_millis(50)).0,
        vec![('w', tx(3)), ('w', tx(5))]
    );
}

//! [`Shard`]: the nodes one thread simulates, with their own calendar, and
//! how a node's driver handles each event.
//!
//! The driver mirrors the p2p event loop (`p2p/src/event_loop.rs`), action
//! for action:
//! - `Publish(Announce)` is a gossipsub message to the node's mesh peers;
//!   receivers report it `Ignore` (never forwarded) and hand its ids to
//!   `on_announcements`.
//! - `Publish(Push)` is flood-published to every peer; gossipsub's duplicate
//!   filter (by object id) drops later copies, remembering who sent them
//!   while the first awaits validation; `Report(Accept)` forwards it to the
//!   mesh minus those senders; publishing an object whose push was seen is
//!   refused as a duplicate and announced instead.
//! - `Request(Objects)` is a getdata to the peer, served from its relay
//!   cache (found / notfound), answered into `on_body` / `on_not_found`.
//! - `Validate` costs the node [`CostModel::validation`] of CPU and comes
//!   back as the node's verdict (`Accepted`, or `Known` if it already had it).
//! - The loop is idle when a node has no message waiting: then `flush` runs
//!   (announce mode's batches, batched requests); timers run at
//!   `next_deadline`.
//!
//! Loss drops whole messages on receipt, as the node's emulation does:
//! gossip after gossipsub's duplicate filter, a lost getdata is answered
//! with a failure, a lost response times out. Anti-entropy is not driven
//! (nodes do not speak the sync protocol here), so what loss takes away
//! only the request tracker's retries bring back.
//!
//! **Shards.** Nodes interact only by messages, and a message takes at least
//! the link's delay minus its jitter to arrive (the *lookahead*), so within
//! a window that long every shard can run its own nodes' events without
//! hearing from the others; what it sends to another shard's nodes waits in
//! its outbox until the window closes (`world.rs` runs the windows). A run's
//! result must not depend on how many shards it was cut into, so:
//! - events are ordered by time, then by a key the creating node gives each
//!   event it makes (its index and its own count), the same whoever holds
//!   the node;
//! - every random draw comes from the drawing node's own stream (jitter
//!   from the sender's, loss from the receiver's);
//! - a node's idle flush is an event of its own, ordered after every other
//!   event of its instant, never a look at what else the calendar holds;
//! - a node reads another node's state only where causality makes it final:
//!   the hop count of the peer a body came from, written when that peer
//!   accepted it, at least one lookahead earlier.
//!
//! [`CostModel::validation`]: super::params::CostModel::validation

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::RngExt;
use rumor_chain::{Inv, Verdict};
use rumor_relay::{Acceptance, Action, Publication, PushItem, Pushed, Relay, Request};

use super::cpu::Cpu;
use super::link::DelayLine;
use super::params::NetParams;
use super::queue::EventQueue;
use super::wire::{Msg, Protocol, TxIndex};
use super::world::{DriverCounters, NEVER, index_of, inv, txid_of};
use crate::results::Relay as Mode;
use crate::rng::SimRng;

/// A node, by index.
pub(crate) type Node = u32;

/// Bits of an event's tie key taken by its creator's count: 2^40 events per
/// node, 2^23 nodes (both far beyond a run's).
const COUNT_BITS: u32 = 40;

/// Something that happens to one node at one time.
#[derive(Debug)]
pub(crate) enum Event {
    Submit { origin: Node, tx: TxIndex },
    LocalAccept(Node, TxIndex),
    Arrive { to: Node, from: Node, msg: Msg },
    Handle { to: Node, from: Node, msg: Msg },
    Verdict(Node, TxIndex),
    Tick(Node),
    Flush(Node),
}

impl Event {
    /// The node it happens to.
    fn node(&self) -> Node {
        match self {
            Self::Submit { origin: v, .. }
            | Self::LocalAccept(v, _)
            | Self::Arrive { to: v, .. }
            | Self::Handle { to: v, .. }
            | Self::Verdict(v, _)
            | Self::Tick(v)
            | Self::Flush(v) => *v,
        }
    }

    /// Ticks and flushes are upkeep: a run with only those left is done
    /// once every relay is quiet.
    fn is_upkeep(&self) -> bool {
        matches!(self, Self::Tick(_) | Self::Flush(_))
    }
}

/// One simulated node: its relay and what its p2p layer would hold.
pub(crate) struct NodeState {
    pub(crate) relay: Relay<Node, TxIndex>,
    pub(crate) peers: Vec<Node>,
    pub(crate) lines: Vec<DelayLine>,
    pub(crate) mesh: Vec<Node>,
    /// gossipsub's duplicate cache (push messages by object).
    /// A bit per workload transaction: the ids are dense, so a bitset
    /// beats hashing them.
    pub(crate) gossip_seen: Vec<u64>,
    /// Who else sent a push while its first copy awaited validation.
    /// A handful at a time (pushes awaiting validation), so a list.
    pub(crate) pending_dups: Vec<(TxIndex, Vec<Node>)>,
    /// Messages arrived and waiting for the CPU.
    pub(crate) queued: u32,
    /// Batch mode: accepted objects whose announcement waits for its
    /// window (the relay does not count them as pending work).
    pub(crate) unannounced: usize,
    pub(crate) tick_at: Option<u64>,
    pub(crate) flush_scheduled: bool,
    pub(crate) counters: DriverCounters,
    /// This node's link jitter draws (as a sender).
    pub(crate) jitter: SimRng,
    /// This node's loss draws (as a receiver).
    pub(crate) loss: SimRng,
    /// Events this node made: the low bits of their tie keys.
    pub(crate) made: u64,
}

impl NodeState {
    /// Nothing in flight, validating, batched or waiting to be announced.
    pub(crate) fn quiet(&self) -> bool {
        self.relay.in_flight() == 0
            && self.relay.validating() == 0
            && !self.relay.has_pending()
            && self.unannounced == 0
    }
}

/// What every shard reads, and the two tables all of them write (each its
/// own nodes' rows).
pub(crate) struct Shared<'a> {
    pub(crate) p: &'a NetParams,
    pub(crate) base: Instant,
    /// `first[node * txs + tx]`: when the node accepted it ([`NEVER`]).
    pub(crate) first: &'a [AtomicU64],
    /// `hops[node * txs + tx]`: relays from its origin.
    pub(crate) hops: &'a [AtomicU16],
    pub(crate) validation_ns: u64,
    pub(crate) message_ns: u64,
    pub(crate) wait_ns: u64,
    /// Nodes per shard (the last may hold fewer).
    pub(crate) per_shard: usize,
}

/// An event bound for another shard: (time, tie key, event).
pub(crate) type Mail = (u64, u64, Event);

/// Nodes `range`, their calendar and their CPUs.
pub(crate) struct Shard {
    range: Range<usize>,
    pub(crate) nodes: Vec<NodeState>,
    calendar: EventQueue<Event>,
    /// Events made here less events handled here that are not upkeep
    /// (summed over shards: the run's live events).
    pub(crate) live: i64,
    cpu: Cpu,
    body: Bytes,
    /// Reused for the ids of each announcement handed to a relay.
    invs: Vec<Inv>,
    /// Events for each other shard, made in this window.
    pub(crate) outbox: Vec<Vec<Mail>>,
    /// Events from other shards, not yet in the calendar.
    pub(crate) inbox: Vec<Vec<Mail>>,
    /// Events handled.
    pub(crate) events: u64,
    /// When the last one ran.
    pub(crate) last_at: u64,
}

impl Shard {
    /// A shard of `nodes` (indices `range`), one of `shards`; `cores` as in
    /// [`CostModel::cores`](super::params::CostModel::cores) (only a run in
    /// one shard shares cores).
    pub(crate) fn new(
        range: Range<usize>,
        nodes: Vec<NodeState>,
        shards: usize,
        cores: Option<usize>,
        tx_size: usize,
    ) -> Self {
        Self {
            cpu: Cpu::new(nodes.len(), cores),
            range,
            nodes,
            calendar: EventQueue::default(),
            live: 0,
            // Its own copy: clones of one `Bytes` on two threads would
            // fight over its reference count.
            body: Bytes::from(vec![0u8; tx_size]),
            invs: Vec::new(),
            outbox: (0..shards).map(|_| Vec::new()).collect(),
            inbox: Vec::new(),
            events: 0,
            last_at: 0,
        }
    }

    /// When this shard's next event is due, counting mail not yet sorted in.
    pub(crate) fn next_at(&mut self) -> Option<u64> {
        let mail = self.inbox.iter().flatten().map(|(at, _, _)| *at).min();
        match (self.calendar.next_at(), mail) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Every node here is quiet.
    pub(crate) fn quiet(&self) -> bool {
        self.nodes.iter().all(NodeState::quiet)
    }

    fn state(&mut self, v: Node) -> &mut NodeState {
        &mut self.nodes[v as usize - self.range.start]
    }

    /// `creator` makes `event`, due at `at`: into this calendar, or into
    /// the outbox of the shard holding its node.
    pub(crate) fn schedule(&mut self, sh: &Shared<'_>, at: u64, creator: Node, event: Event) {
        // Flushes run after everything else of their instant: the node is
        // idle only when no other message is in.
        let class = u64::from(matches!(event, Event::Flush(_)));
        let s = self.state(creator);
        s.made += 1;
        debug_assert!(s.made < 1 << COUNT_BITS);
        let tie = class << 63 | u64::from(creator) << COUNT_BITS | s.made;
        if !event.is_upkeep() {
            self.live += 1;
        }
        let to = event.node() as usize;
        if self.range.contains(&to) {
            self.calendar.push(at, tie, event);
        } else {
            self.outbox[to / sh.per_shard].push((at, tie, event));
        }
    }

    /// Handles every event due before `end` ns.
    pub(crate) fn run_until(&mut self, sh: &Shared<'_>, end: u64) {
        for mail in std::mem::take(&mut self.inbox) {
            for (at, tie, event) in mail {
                self.calendar.push(at, tie, event);
            }
        }
        while self.calendar.next_at().is_some_and(|at| at < end) {
            let Some((now, event)) = self.calendar.pop() else {
                break;
            };
            self.events += 1;
            self.last_at = now;
            if !event.is_upkeep() {
                self.live -= 1;
            }
            self.handle(sh, now, event);
        }
    }

    fn instant(sh: &Shared<'_>, t: u64) -> Instant {
        sh.base + Duration::from_nanos(t)
    }

    fn ns(sh: &Shared<'_>, i: Instant) -> u64 {
        i.saturating_duration_since(sh.base).as_nanos() as u64
    }

    fn cpu_run(&mut self, v: Node, now: u64, cost: u64) -> u64 {
        self.cpu.run(v as usize - self.range.start, now, cost)
    }

    fn cpu_free_at(&self, v: Node) -> u64 {
        self.cpu.free_at(v as usize - self.range.start)
    }

    fn handle(&mut self, sh: &Shared<'_>, now: u64, ev: Event) {
        let txs = sh.p.txs;
        match ev {
            Event::Submit { origin, tx } => {
                let done = self.cpu_run(origin, now, sh.validation_ns);
                self.schedule(sh, done, origin, Event::LocalAccept(origin, tx));
            }
            Event::LocalAccept(v, k) => {
                self.record(sh, v, k, now, 0);
                let t = Self::instant(sh, now);
                let body = self.body.clone();
                self.state(v).relay.on_local_accepted(inv(k), body, None, t);
                self.after(sh, v, now);
            }
            Event::Arrive { to, from, msg } => self.arrive(sh, now, to, from, msg),
            Event::Handle { to, from, msg } => {
                self.state(to).queued -= 1;
                self.deliver(sh, now, to, from, msg);
            }
            Event::Verdict(v, k) => {
                let known = sh.first[v as usize * txs + k as usize].load(Relaxed) != NEVER;
                let verdict = if known {
                    Verdict::Known
                } else {
                    Verdict::Accepted { also: Vec::new() }
                };
                let t = Self::instant(sh, now);
                let from = self.state(v).relay.on_verdict(inv(k), &verdict, None, t);
                if let Some((peer, _)) = from
                    && !known
                {
                    // The peer accepted it before sending it, at least a
                    // lookahead ago: final, whichever shard holds the peer.
                    let h = sh.hops[peer as usize * txs + k as usize].load(Relaxed);
                    self.record(sh, v, k, now, h.saturating_add(1));
                }
                self.after(sh, v, now);
            }
            Event::Tick(v) => {
                if self.state(v).tick_at == Some(now) {
                    self.state(v).tick_at = None;
                    let t = Self::instant(sh, now);
                    self.state(v).relay.tick(t);
                    self.after(sh, v, now);
                }
            }
            Event::Flush(v) => {
                let free = self.cpu_free_at(v) <= now;
                let s = self.state(v);
                s.flush_scheduled = false;
                if s.queued == 0 && s.relay.has_pending() && free {
                    s.relay.flush(Self::instant(sh, now));
                }
                self.after(sh, v, now);
            }
        }
    }

    fn record(&mut self, sh: &Shared<'_>, v: Node, k: TxIndex, now: u64, hops: u16) {
        let i = v as usize * sh.p.txs + k as usize;
        if sh.first[i].load(Relaxed) == NEVER {
            sh.first[i].store(now, Relaxed);
            sh.hops[i].store(hops, Relaxed);
            if matches!(sh.p.relay, Mode::Batch | Mode::Hybrid) {
                self.state(v).unannounced += 1;
            }
        }
    }

    /// A message reached `to`: count it, filter it as gossipsub would, drop
    /// it if emulated loss hits, and queue it for the CPU.
    fn arrive(&mut self, sh: &Shared<'_>, now: u64, to: Node, from: Node, msg: Msg) {
        let sizes = sh.p.sizes;
        let loss = sh.p.link.loss;
        let s = self.state(to);
        let c = &mut s.counters;
        c.wire_in += msg.wire(&sizes) as u64;
        match msg.protocol() {
            Protocol::Gossip => {
                c.gossip_in += msg.payload(&sizes) as u64;
                c.gossip_unfiltered += 1;
            }
            Protocol::GetData => c.getdata_in += msg.payload(&sizes) as u64,
            Protocol::Push => c.push_in += msg.payload(&sizes) as u64,
        }
        if let Msg::Push(k) = msg
            && !first_sight(&mut s.gossip_seen, k)
        {
            // gossipsub's duplicate filter; a copy that came while the
            // first awaits validation is not forwarded back to its sender.
            if let Some((_, senders)) = s.pending_dups.iter_mut().find(|(m, _)| *m == k) {
                senders.push(from);
            }
            return;
        }
        if msg.protocol() == Protocol::Gossip {
            s.counters.gossip_filtered += 1;
        }
        let lost =
            loss > 0.0 && !matches!(msg, Msg::RequestFailed(_)) && s.loss.random::<f64>() < loss;
        if lost {
            s.counters.lost += 1;
            if let Msg::GetData(ids) = msg {
                // The server drops the request: the requester's
                // request-response layer sees the stream fail.
                self.send(sh, now, to, from, Msg::RequestFailed(ids));
            }
            return;
        }
        if sh.message_ns == 0 && sh.wait_ns == 0 {
            self.deliver(sh, now, to, from, msg);
        } else {
            self.state(to).queued += 1;
            let done = self.cpu_run(to, now + sh.wait_ns, sh.message_ns);
            self.schedule(sh, done, to, Event::Handle { to, from, msg });
        }
    }

    /// The node's event loop handles a message (`on_gossip`, getdata).
    fn deliver(&mut self, sh: &Shared<'_>, now: u64, to: Node, from: Node, msg: Msg) {
        let t = Self::instant(sh, now);
        match msg {
            Msg::Announce(ids) => {
                let mut invs = std::mem::take(&mut self.invs);
                invs.clear();
                invs.extend(ids.iter().map(|k| inv(*k)));
                let s = self.state(to);
                s.counters.announcements_in += 1;
                s.relay.on_announcements(from, &invs, t);
                self.invs = invs;
            }
            Msg::Push(k) => {
                let body = self.body.clone();
                let s = self.state(to);
                s.counters.announcements_in += 1;
                if !s.pending_dups.iter().any(|(m, _)| *m == k) {
                    s.pending_dups.push((k, Vec::new()));
                }
                s.relay.on_push(from, k, inv(k), body, t);
            }
            Msg::GetData(ids) => {
                let (mut found, mut notfound) = (Vec::new(), Vec::new());
                let s = self.state(to);
                for k in ids {
                    if s.relay.cached_tx(&txid_of(k)).is_some() {
                        found.push(k);
                    } else {
                        notfound.push(k);
                    }
                }
                self.send(sh, now, to, from, Msg::Objects { found, notfound });
            }
            Msg::Objects { found, notfound } => {
                let body = self.body.clone();
                let s = self.state(to);
                for k in found {
                    s.relay.on_body(from, inv(k), body.clone(), t);
                }
                for k in notfound {
                    s.relay.on_not_found(from, inv(k), t);
                }
            }
            Msg::RequestFailed(ids) => {
                let s = self.state(to);
                for k in ids {
                    s.relay.request_failed(from, inv(k), t);
                }
            }
            Msg::EagerPush { items, sent } => {
                let items = items
                    .into_iter()
                    .map(|(k, origin)| PushItem {
                        origin,
                        inv: inv(k),
                        body: Pushed::Body(self.body.clone()),
                    })
                    .collect();
                let prune = self.state(to).relay.on_eager_push(from, items, t);
                self.send(sh, now, to, from, Msg::PushAck { prune, sent });
            }
            Msg::PushAck { prune, sent } => {
                let rtt = Duration::from_nanos(now.saturating_sub(sent));
                self.state(to).relay.on_push_answer(from, &prune, rtt);
            }
            Msg::Graft(ids) => {
                let invs: Vec<Inv> = ids.iter().map(|k| inv(*k)).collect();
                let origins = self.state(to).relay.on_graft(from, &invs);
                let answer = ids.into_iter().zip(origins).collect();
                self.send(sh, now, to, from, Msg::Grafted(answer));
            }
            Msg::Grafted(answer) => {
                let (ids, origins): (Vec<Inv>, Vec<Option<u64>>) =
                    answer.into_iter().map(|(k, o)| (inv(k), o)).unzip();
                self.state(to).relay.on_graft_answer(from, &ids, &origins);
            }
        }
        self.after(sh, to, now);
    }

    /// After an input: carry out the relay's actions, flush when the node
    /// is idle, and set its timer.
    fn after(&mut self, sh: &Shared<'_>, v: Node, now: u64) {
        self.act(sh, v, now);
        // Idle means nothing waiting and the CPU free: a node busy with
        // work flushes when done, so announcements batch up under load as
        // in the node; one that is free flushes after whatever else reached
        // it at this instant.
        let busy_until = self.cpu_free_at(v);
        let s = self.state(v);
        if s.queued == 0 && s.relay.has_pending() && !s.flush_scheduled {
            s.flush_scheduled = true;
            self.schedule(sh, busy_until.max(now), v, Event::Flush(v));
        }
        let t = Self::instant(sh, now);
        if let Some(d) = self.state(v).relay.next_deadline(t) {
            let d = Self::ns(sh, d).max(now);
            let s = self.state(v);
            if s.tick_at.is_none_or(|at| d < at) {
                s.tick_at = Some(d);
                self.schedule(sh, d, v, Event::Tick(v));
            }
        }
    }

    fn act(&mut self, sh: &Shared<'_>, v: Node, now: u64) {
        while let Some(action) = self.state(v).relay.poll_action() {
            match action {
                Action::Request {
                    peer,
                    request: Request::Objects(invs),
                } => {
                    let ids = invs.iter().filter_map(index_of).collect();
                    self.send(sh, now, v, peer, Msg::GetData(ids));
                }
                Action::Validate { inv, .. } => {
                    if let Some(k) = index_of(&inv) {
                        let done = self.cpu_run(v, now, sh.validation_ns);
                        self.schedule(sh, done, v, Event::Verdict(v, k));
                    }
                }
                Action::Report {
                    message,
                    source,
                    acceptance,
                } => {
                    let s = self.state(v);
                    let dups = match s.pending_dups.iter().position(|(m, _)| *m == message) {
                        Some(i) => s.pending_dups.swap_remove(i).1,
                        None => Vec::new(),
                    };
                    if acceptance == Acceptance::Accept {
                        let targets: Vec<Node> = s
                            .mesh
                            .iter()
                            .copied()
                            .filter(|q| *q != source && !dups.contains(q))
                            .collect();
                        for q in targets {
                            self.send(sh, now, v, q, Msg::Push(message));
                        }
                    }
                }
                Action::Publish(Publication::Announce { invs, .. }) => {
                    let ids: Vec<TxIndex> = invs.iter().filter_map(index_of).collect();
                    let s = self.state(v);
                    s.unannounced = s.unannounced.saturating_sub(ids.len());
                    self.announce(sh, now, v, ids);
                }
                Action::Publish(Publication::Push { inv, .. }) => {
                    let Some(k) = index_of(&inv) else { continue };
                    if first_sight(&mut self.state(v).gossip_seen, k) {
                        // flood_publish: an own message goes to every peer.
                        let peers = self.state(v).peers.clone();
                        for q in peers {
                            self.send(sh, now, v, q, Msg::Push(k));
                        }
                    } else {
                        // gossipsub refuses a message id it has seen: the
                        // event loop announces the object instead.
                        self.announce(sh, now, v, vec![k]);
                    }
                }
                Action::Push { peer, items } => {
                    let items = items
                        .iter()
                        .filter_map(|i| index_of(&i.inv).map(|k| (k, i.origin)))
                        .collect();
                    self.send(sh, now, v, peer, Msg::EagerPush { items, sent: now });
                }
                Action::Graft { peer, invs } => {
                    let ids = invs.iter().filter_map(index_of).collect();
                    self.send(sh, now, v, peer, Msg::Graft(ids));
                }
                Action::Penalize { .. } => self.state(v).counters.penalties += 1,
                _ => self.state(v).counters.unmodelled += 1,
            }
        }
    }

    fn announce(&mut self, sh: &Shared<'_>, now: u64, v: Node, ids: Vec<TxIndex>) {
        let ids: Arc<[TxIndex]> = ids.into();
        for i in 0..self.state(v).mesh.len() {
            let q = self.state(v).mesh[i];
            self.send(sh, now, v, q, Msg::Announce(Arc::clone(&ids)));
        }
    }

    fn send(&mut self, sh: &Shared<'_>, now: u64, from: Node, to: Node, msg: Msg) {
        let sizes = sh.p.sizes;
        let s = self.state(from);
        let Ok(i) = s.peers.binary_search(&to) else {
            s.counters.unmodelled += 1;
            return;
        };
        let wire = msg.wire(&sizes);
        s.counters.wire_out += wire as u64;
        match msg.protocol() {
            Protocol::Gossip => s.counters.gossip_out += msg.payload(&sizes) as u64,
            Protocol::GetData => s.counters.getdata_out += msg.payload(&sizes) as u64,
            Protocol::Push => s.counters.push_out += msg.payload(&sizes) as u64,
        }
        let at = s.lines[i].release(now, wire, &sh.p.link, &mut s.jitter);
        self.schedule(sh, at, from, Event::Arrive { to, from, msg });
    }
}

/// Marks `k` in `bits`; whether it was unmarked.
fn first_sight(bits: &mut [u64], k: TxIndex) -> bool {
    let (word, bit) = (k as usize / 64, 1u64 << (k % 64));
    let first = bits[word] & bit == 0;
    bits[word] |= bit;
    first
}

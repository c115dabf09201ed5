//! [`simulate`]: n nodes, each running rumor's real relay state machine
//! (`rumor_relay::Relay`), on simulated links and CPUs, in simulated time.
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
//! [`CostModel::validation`]: super::params::CostModel::validation

use std::num::NonZeroUsize;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rumor_chain::{Inv, Txid, Verdict};
use rumor_relay::{
    Acceptance, Action, Publication, PushItem, Pushed, Relay, RelayConfig, Request, SyncLimits,
    TrackerLimits, TreeLimits,
};

use super::cpu::Cpu;
use super::link::DelayLine;
use super::params::{NetParamError, NetParams};
use super::queue::EventQueue;
use super::wire::{Msg, Protocol, TxIndex};
use crate::rng::{SimRng, mix64};
use crate::topology::edges;

/// A node, by index.
type Node = u32;

/// No time: never happened.
pub const NEVER: u64 = u64::MAX;
/// No hop count.
pub const NO_HOPS: u16 = u16::MAX;

/// What one node's driver counted (the p2p layer's counters the report uses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverCounters {
    /// Gossip messages handed to the node (after duplicate filter and loss).
    pub announcements_in: u64,
    /// Gossip messages received before gossipsub's duplicate filter.
    pub gossip_unfiltered: u64,
    /// Gossip messages that passed the duplicate filter.
    pub gossip_filtered: u64,
    /// Messages dropped on receipt by emulated loss.
    pub lost: u64,
    /// Gossip payload bytes received / sent.
    pub gossip_in: u64,
    /// See `gossip_in`.
    pub gossip_out: u64,
    /// getdata payload bytes received / sent.
    pub getdata_in: u64,
    /// See `getdata_in`.
    pub getdata_out: u64,
    /// push payload bytes received / sent (hybrid mode).
    pub push_in: u64,
    /// See `push_in`.
    pub push_out: u64,
    /// Bytes on the wire received / sent (payloads and framing).
    pub wire_in: u64,
    /// See `wire_in`.
    pub wire_out: u64,
    /// Penalties the relay asked for.
    pub penalties: u64,
    /// Actions the simulator does not model (anti-entropy, blocks); 0 in
    /// every run it makes.
    pub unmodelled: u64,
}

/// Everything a relay-driven run observed.
#[derive(Debug, Clone)]
pub struct NetRun {
    /// What ran.
    pub params: NetParams,
    /// The links (each once, `(a, b)` with `a` dialling `b`).
    pub links: Vec<(usize, usize)>,
    /// Each transaction's origin.
    pub origins: Vec<usize>,
    /// When each transaction was submitted, ns of simulated time.
    pub submitted_ns: Vec<u64>,
    /// `first_ns[node * txs + tx]`: when the node accepted it ([`NEVER`]).
    pub first_ns: Vec<u64>,
    /// `hops[node * txs + tx]`: how many relays it went through to get
    /// there (0 at its origin, [`NO_HOPS`] if never).
    pub hops: Vec<u16>,
    /// The relay's counters, per node.
    pub relay_counters: Vec<rumor_relay::RelayCounters>,
    /// The driver's counters, per node.
    pub counters: Vec<DriverCounters>,
    /// When the last event ran, ns.
    pub end_ns: u64,
    /// Events processed.
    pub events: u64,
    /// Whether the run was cut off at the settle limit with work left.
    pub truncated: bool,
}

impl NetRun {
    /// When `node` accepted `tx` ([`NEVER`] if it did not).
    pub fn first_seen(&self, node: usize, tx: usize) -> u64 {
        self.first_ns[node * self.params.txs + tx]
    }

    /// Relays between `tx`'s origin and `node` ([`NO_HOPS`] if never).
    pub fn hop_count(&self, node: usize, tx: usize) -> u16 {
        self.hops[node * self.params.txs + tx]
    }
}

/// The id of workload transaction `k`: distinct short ids (the first 8
/// bytes), and `k` itself in bytes 8..12.
pub fn txid_of(k: TxIndex) -> Txid {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&mix64(u64::from(k) + 1).to_le_bytes());
    id[8..12].copy_from_slice(&k.to_le_bytes());
    Txid(id)
}

fn index_of(inv: &Inv) -> Option<TxIndex> {
    match inv {
        Inv::Tx(t) => Some(u32::from_le_bytes([t.0[8], t.0[9], t.0[10], t.0[11]])),
        Inv::Block(_) => None,
    }
}

fn inv(k: TxIndex) -> Inv {
    Inv::Tx(txid_of(k))
}

/// Marks `k` in `bits`; whether it was unmarked.
fn first_sight(bits: &mut [u64], k: TxIndex) -> bool {
    let (word, bit) = (k as usize / 64, 1u64 << (k % 64));
    let first = bits[word] & bit == 0;
    bits[word] |= bit;
    first
}

/// The origins the testnet draws for `params` (`testbed/runner.rs`: one
/// `StdRng` seeded `seed ^ 0xfa17`, one draw per transaction, unless
/// `--origin`; a run without kills draws nothing else first).
pub fn testnet_origins(params: &NetParams) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(params.seed ^ 0xfa17);
    (0..params.txs)
        .map(|_| {
            params
                .origin
                .unwrap_or_else(|| rng.random_range(0..params.nodes))
        })
        .collect()
}

#[derive(Debug)]
enum Event {
    Submit(TxIndex),
    LocalAccept(Node, TxIndex),
    Arrive { to: Node, from: Node, msg: Msg },
    Handle { to: Node, from: Node, msg: Msg },
    Verdict(Node, TxIndex),
    Tick(Node),
    Flush(Node),
}

impl Event {
    /// Ticks and flushes are upkeep: a run with only those left is done
    /// once every relay is quiet.
    fn is_upkeep(&self) -> bool {
        matches!(self, Self::Tick(_) | Self::Flush(_))
    }
}

struct NodeState {
    relay: Relay<Node, TxIndex>,
    peers: Vec<Node>,
    lines: Vec<DelayLine>,
    mesh: Vec<Node>,
    /// gossipsub's duplicate cache (push messages by object).
    /// A bit per workload transaction: the ids are dense, so a bitset
    /// beats hashing them.
    gossip_seen: Vec<u64>,
    /// Who else sent a push while its first copy awaited validation.
    /// A handful at a time (pushes awaiting validation), so a list.
    pending_dups: Vec<(TxIndex, Vec<Node>)>,
    /// Messages arrived and waiting for the CPU.
    queued: u32,
    /// Batch mode: accepted objects whose announcement waits for its
    /// window (the relay does not count them as pending work).
    unannounced: usize,
    tick_at: Option<u64>,
    flush_scheduled: bool,
    counters: DriverCounters,
}

struct World {
    p: NetParams,
    base: Instant,
    body: Bytes,
    nodes: Vec<NodeState>,
    calendar: EventQueue<Event>,
    live_events: u64,
    cpu: Cpu,
    jitter_rng: SimRng,
    loss_rng: SimRng,
    origins: Vec<usize>,
    submitted: Vec<u64>,
    first: Vec<u64>,
    hops: Vec<u16>,
    validation_ns: u64,
    message_ns: u64,
    /// Reused for the ids of each announcement handed to a relay.
    invs: Vec<Inv>,
}

/// Runs `params` with rumor's relay on every node.
///
/// # Errors
/// [`NetParamError`] for parameters that break a rule.
pub fn simulate(params: &NetParams) -> Result<NetRun, NetParamError> {
    params.validate()?;
    let p = params.clone();
    let n = p.nodes;
    let links = edges(p.topology, n, p.degree, p.seed);
    let mut adj = vec![Vec::new(); n];
    for &(a, b) in &links {
        adj[a].push(b as Node);
        adj[b].push(a as Node);
    }
    let mut mesh_rng = SimRng::seed_from_u64(mix64(p.seed ^ 0x6d65_7368));
    let mut nodes = Vec::with_capacity(n);
    for (v, peers) in adj.into_iter().enumerate() {
        let mut peers = peers;
        peers.sort_unstable();
        peers.dedup();
        let mesh = if peers.len() <= 2 * p.mesh_d {
            peers.clone()
        } else {
            let mut m = peers.clone();
            for i in 0..p.mesh_d {
                let j = mesh_rng.random_range(i..m.len());
                m.swap(i, j);
            }
            m.truncate(p.mesh_d);
            m.sort_unstable();
            m
        };
        let mut relay = Relay::new(&relay_config(&p, v));
        for &q in &peers {
            relay.peer_up(q, false);
        }
        nodes.push(NodeState {
            relay,
            lines: vec![DelayLine::default(); peers.len()],
            peers,
            mesh,
            gossip_seen: vec![0; p.txs.div_ceil(64)],
            pending_dups: Vec::new(),
            queued: 0,
            unannounced: 0,
            tick_at: None,
            flush_scheduled: false,
            counters: DriverCounters::default(),
        });
    }
    let origins = testnet_origins(&p);
    let mut w = World {
        base: Instant::now(),
        body: Bytes::from(vec![0u8; p.sizes.tx]),
        nodes,
        calendar: EventQueue::default(),
        live_events: 0,
        cpu: Cpu::new(n, p.cost.cores),
        jitter_rng: SimRng::seed_from_u64(mix64(p.seed ^ 0x6a69_7474)),
        loss_rng: SimRng::seed_from_u64(mix64(p.seed ^ 0x6c6f_7373)),
        origins,
        submitted: vec![NEVER; p.txs],
        first: vec![NEVER; n * p.txs],
        hops: vec![NO_HOPS; n * p.txs],
        validation_ns: p.cost.validation.as_nanos() as u64,
        message_ns: p.cost.message.as_nanos() as u64,
        invs: Vec::new(),
        p,
    };
    for k in 0..w.p.txs {
        // The testnet submits transaction i once i / rate seconds passed.
        let at = (k as f64 / w.p.tx_rate * 1e9) as u64;
        w.submitted[k] = at;
        w.push(at, Event::Submit(k as TxIndex));
    }
    let (end_ns, events, truncated) = w.run();
    Ok(NetRun {
        links,
        origins: w.origins,
        submitted_ns: w.submitted,
        first_ns: w.first,
        hops: w.hops,
        relay_counters: w.nodes.iter().map(|s| *s.relay.counters()).collect(),
        counters: w.nodes.iter().map(|s| s.counters).collect(),
        end_ns,
        events,
        truncated,
        params: w.p,
    })
}

/// The node's relay configuration (`P2pConfig::relay_config` with the
/// node's defaults), with the seen-set sized to the workload.
fn relay_config(p: &NetParams, v: usize) -> RelayConfig {
    let timeout = p.fetch_timeout;
    RelayConfig {
        mode: p.relay.into(),
        batch_window: p.batch_window,
        // The node's 200,000 would preallocate 10^4 nodes' worth of tables;
        // sized to the workload nothing is evicted, as in a testnet run.
        seen_capacity: NonZeroUsize::new(p.txs + 256).unwrap_or(NonZeroUsize::MIN),
        // Hybrid's trees likewise: the node's tables (200,000 objects' origins,
        // 4,096 origins' trees) took 4 MB per node before any traffic, 40 GB
        // at 10^4 nodes. A run has at most `txs` objects and as many origins,
        // so nothing is evicted either way.
        tree: TreeLimits {
            objects: NonZeroUsize::new(p.txs + 256).unwrap_or(NonZeroUsize::MIN),
            origins: NonZeroUsize::new((p.txs + 1).min(TreeLimits::default().origins.get()))
                .unwrap_or(NonZeroUsize::MIN),
            ..TreeLimits::default()
        },
        tracker: TrackerLimits {
            timeout,
            struck_delay: timeout / 2,
            strike_memory: timeout * 15,
            ..TrackerLimits::default()
        },
        sync: SyncLimits::default(),
        seed: mix64(p.seed ^ (v as u64).wrapping_mul(0x9e37_79b9)),
        origin: v as u64,
        ..RelayConfig::default()
    }
}

impl World {
    fn push(&mut self, at: u64, ev: Event) {
        if !ev.is_upkeep() {
            self.live_events += 1;
        }
        self.calendar.push(at, ev);
    }

    fn instant(&self, t: u64) -> Instant {
        self.base + Duration::from_nanos(t)
    }

    fn ns(&self, i: Instant) -> u64 {
        i.saturating_duration_since(self.base).as_nanos() as u64
    }

    /// Runs to the end: every event handled and every relay quiet, or the
    /// settle limit. Returns (end time, events, truncated).
    fn run(&mut self) -> (u64, u64, bool) {
        let last_submit = self.submitted.iter().copied().max().unwrap_or(0);
        let limit = last_submit + self.p.settle.as_nanos() as u64;
        let mut events = 0u64;
        let mut now = 0;
        let mut next_quiet_check = 0;
        while let Some((at, ev)) = self.calendar.pop() {
            if at > limit {
                return (now, events, true);
            }
            now = at;
            events += 1;
            if !ev.is_upkeep() {
                self.live_events -= 1;
            }
            self.handle(now, ev);
            if self.live_events == 0 && now >= last_submit && now >= next_quiet_check {
                next_quiet_check = now + 100_000_000;
                if self.quiet() {
                    return (now, events, false);
                }
            }
        }
        (now, events, false)
    }

    fn quiet(&self) -> bool {
        self.nodes.iter().all(|s| {
            s.relay.in_flight() == 0
                && s.relay.validating() == 0
                && !s.relay.has_pending()
                && s.unannounced == 0
        })
    }

    fn handle(&mut self, now: u64, ev: Event) {
        match ev {
            Event::Submit(k) => {
                let o = self.origins[k as usize];
                let done = self.cpu.run(o, now, self.validation_ns);
                self.push(done, Event::LocalAccept(o as Node, k));
            }
            Event::LocalAccept(v, k) => {
                self.record(v, k, now, 0);
                let t = self.instant(now);
                let body = self.body.clone();
                self.nodes[v as usize]
                    .relay
                    .on_local_accepted(inv(k), body, None, t);
                self.after(v, now);
            }
            Event::Arrive { to, from, msg } => self.arrive(now, to, from, msg),
            Event::Handle { to, from, msg } => {
                self.nodes[to as usize].queued -= 1;
                self.deliver(now, to, from, msg);
            }
            Event::Verdict(v, k) => {
                let known = self.first[v as usize * self.p.txs + k as usize] != NEVER;
                let verdict = if known {
                    Verdict::Known
                } else {
                    Verdict::Accepted { also: Vec::new() }
                };
                let t = self.instant(now);
                let from = self.nodes[v as usize]
                    .relay
                    .on_verdict(inv(k), &verdict, None, t);
                if let Some((peer, _)) = from
                    && !known
                {
                    let h = self.hops[peer as usize * self.p.txs + k as usize];
                    self.record(v, k, now, h.saturating_add(1));
                }
                self.after(v, now);
            }
            Event::Tick(v) => {
                if self.nodes[v as usize].tick_at == Some(now) {
                    self.nodes[v as usize].tick_at = None;
                    let t = self.instant(now);
                    self.nodes[v as usize].relay.tick(t);
                    self.after(v, now);
                }
            }
            Event::Flush(v) => {
                let s = &mut self.nodes[v as usize];
                s.flush_scheduled = false;
                if s.queued == 0 && s.relay.has_pending() && self.cpu.free_at(v as usize) <= now {
                    let t = self.instant(now);
                    self.nodes[v as usize].relay.flush(t);
                }
                self.after(v, now);
            }
        }
    }

    fn record(&mut self, v: Node, k: TxIndex, now: u64, hops: u16) {
        let i = v as usize * self.p.txs + k as usize;
        if self.first[i] == NEVER {
            self.first[i] = now;
            self.hops[i] = hops;
            if matches!(
                self.p.relay,
                crate::results::Relay::Batch | crate::results::Relay::Hybrid
            ) {
                self.nodes[v as usize].unannounced += 1;
            }
        }
    }

    /// A message reached `to`: count it, filter it as gossipsub would, drop
    /// it if emulated loss hits, and queue it for the CPU.
    fn arrive(&mut self, now: u64, to: Node, from: Node, msg: Msg) {
        let sizes = self.p.sizes;
        let loss = self.p.link.loss;
        let s = &mut self.nodes[to as usize];
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
        let lost = loss > 0.0
            && !matches!(msg, Msg::RequestFailed(_))
            && self.loss_rng.random::<f64>() < loss;
        if lost {
            self.nodes[to as usize].counters.lost += 1;
            if let Msg::GetData(ids) = msg {
                // The server drops the request: the requester's
                // request-response layer sees the stream fail.
                self.send(now, to, from, Msg::RequestFailed(ids));
            }
            return;
        }
        if self.message_ns == 0 {
            self.deliver(now, to, from, msg);
        } else {
            self.nodes[to as usize].queued += 1;
            let done = self.cpu.run(to as usize, now, self.message_ns);
            self.push(done, Event::Handle { to, from, msg });
        }
    }

    /// The node's event loop handles a message (`on_gossip`, getdata).
    fn deliver(&mut self, now: u64, to: Node, from: Node, msg: Msg) {
        let t = self.instant(now);
        let v = to as usize;
        match msg {
            Msg::Announce(ids) => {
                self.nodes[v].counters.announcements_in += 1;
                let mut invs = std::mem::take(&mut self.invs);
                invs.clear();
                invs.extend(ids.iter().map(|k| inv(*k)));
                self.nodes[v].relay.on_announcements(from, &invs, t);
                self.invs = invs;
            }
            Msg::Push(k) => {
                self.nodes[v].counters.announcements_in += 1;
                let dups = &mut self.nodes[v].pending_dups;
                if !dups.iter().any(|(m, _)| *m == k) {
                    dups.push((k, Vec::new()));
                }
                let body = self.body.clone();
                self.nodes[v].relay.on_push(from, k, inv(k), body, t);
            }
            Msg::GetData(ids) => {
                let (mut found, mut notfound) = (Vec::new(), Vec::new());
                for k in ids {
                    if self.nodes[v].relay.cached_tx(&txid_of(k)).is_some() {
                        found.push(k);
                    } else {
                        notfound.push(k);
                    }
                }
                self.send(now, to, from, Msg::Objects { found, notfound });
            }
            Msg::Objects { found, notfound } => {
                for k in found {
                    let body = self.body.clone();
                    self.nodes[v].relay.on_body(from, inv(k), body, t);
                }
                for k in notfound {
                    self.nodes[v].relay.on_not_found(from, inv(k), t);
                }
            }
            Msg::RequestFailed(ids) => {
                for k in ids {
                    self.nodes[v].relay.request_failed(from, inv(k), t);
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
                let prune = self.nodes[v].relay.on_eager_push(from, items, t);
                self.send(now, to, from, Msg::PushAck { prune, sent });
            }
            Msg::PushAck { prune, sent } => {
                let rtt = Duration::from_nanos(now.saturating_sub(sent));
                self.nodes[v].relay.on_push_answer(from, &prune, rtt);
            }
            Msg::Graft(ids) => {
                let invs: Vec<Inv> = ids.iter().map(|k| inv(*k)).collect();
                let origins = self.nodes[v].relay.on_graft(from, &invs);
                self.send(
                    now,
                    to,
                    from,
                    Msg::Grafted(ids.into_iter().zip(origins).collect()),
                );
            }
            Msg::Grafted(answer) => {
                let (ids, origins): (Vec<Inv>, Vec<Option<u64>>) =
                    answer.into_iter().map(|(k, o)| (inv(k), o)).unzip();
                self.nodes[v].relay.on_graft_answer(from, &ids, &origins);
            }
        }
        self.after(to, now);
    }

    /// After an input: carry out the relay's actions, flush when the node
    /// is idle, and set its timer.
    fn after(&mut self, v: Node, now: u64) {
        self.act(v, now);
        let s = &self.nodes[v as usize];
        if s.queued == 0 && s.relay.has_pending() {
            // Idle means nothing waiting and the CPU free: a node busy
            // with work (or waiting for a shared core) flushes when done,
            // so announcements batch up under load as in the node.
            let busy_until = self.cpu.free_at(v as usize);
            let another_now = self.calendar.next_at().is_some_and(|at| at <= now);
            if busy_until > now || another_now {
                if !self.nodes[v as usize].flush_scheduled {
                    self.nodes[v as usize].flush_scheduled = true;
                    self.push(busy_until.max(now), Event::Flush(v));
                }
            } else {
                let t = self.instant(now);
                self.nodes[v as usize].relay.flush(t);
                self.act(v, now);
            }
        }
        let t = self.instant(now);
        if let Some(d) = self.nodes[v as usize].relay.next_deadline(t) {
            let d = self.ns(d).max(now);
            let s = &mut self.nodes[v as usize];
            if s.tick_at.is_none_or(|at| d < at) {
                s.tick_at = Some(d);
                self.push(d, Event::Tick(v));
            }
        }
    }

    fn act(&mut self, v: Node, now: u64) {
        while let Some(action) = self.nodes[v as usize].relay.poll_action() {
            match action {
                Action::Request {
                    peer,
                    request: Request::Objects(invs),
                } => {
                    let ids = invs.iter().filter_map(index_of).collect();
                    self.send(now, v, peer, Msg::GetData(ids));
                }
                Action::Validate { inv, .. } => {
                    if let Some(k) = index_of(&inv) {
                        let done = self.cpu.run(v as usize, now, self.validation_ns);
                        self.push(done, Event::Verdict(v, k));
                    }
                }
                Action::Report {
                    message,
                    source,
                    acceptance,
                } => {
                    let pending = &mut self.nodes[v as usize].pending_dups;
                    let dups = match pending.iter().position(|(m, _)| *m == message) {
                        Some(i) => pending.swap_remove(i).1,
                        None => Vec::new(),
                    };
                    if acceptance == Acceptance::Accept {
                        let targets: Vec<Node> = self.nodes[v as usize]
                            .mesh
                            .iter()
                            .copied()
                            .filter(|q| *q != source && !dups.contains(q))
                            .collect();
                        for q in targets {
                            self.send(now, v, q, Msg::Push(message));
                        }
                    }
                }
                Action::Publish(Publication::Announce { invs, .. }) => {
                    let ids: Vec<TxIndex> = invs.iter().filter_map(index_of).collect();
                    let s = &mut self.nodes[v as usize];
                    s.unannounced = s.unannounced.saturating_sub(ids.len());
                    self.announce(now, v, ids);
                }
                Action::Publish(Publication::Push { inv, .. }) => {
                    let Some(k) = index_of(&inv) else { continue };
                    if first_sight(&mut self.nodes[v as usize].gossip_seen, k) {
                        // flood_publish: an own message goes to every peer.
                        let peers = self.nodes[v as usize].peers.clone();
                        for q in peers {
                            self.send(now, v, q, Msg::Push(k));
                        }
                    } else {
                        // gossipsub refuses a message id it has seen: the
                        // event loop announces the object instead.
                        self.announce(now, v, vec![k]);
                    }
                }
                Action::Push { peer, items } => {
                    let items = items
                        .iter()
                        .filter_map(|i| index_of(&i.inv).map(|k| (k, i.origin)))
                        .collect();
                    self.send(now, v, peer, Msg::EagerPush { items, sent: now });
                }
                Action::Graft { peer, invs } => {
                    let ids = invs.iter().filter_map(index_of).collect();
                    self.send(now, v, peer, Msg::Graft(ids));
                }
                Action::Penalize { .. } => self.nodes[v as usize].counters.penalties += 1,
                _ => self.nodes[v as usize].counters.unmodelled += 1,
            }
        }
    }

    fn announce(&mut self, now: u64, v: Node, ids: Vec<TxIndex>) {
        let ids: Rc<[TxIndex]> = ids.into();
        for i in 0..self.nodes[v as usize].mesh.len() {
            let q = self.nodes[v as usize].mesh[i];
            self.send(now, v, q, Msg::Announce(Rc::clone(&ids)));
        }
    }

    fn send(&mut self, now: u64, from: Node, to: Node, msg: Msg) {
        let sizes = self.p.sizes;
        let link = self.p.link;
        let s = &mut self.nodes[from as usize];
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
        let at = s.lines[i].release(now, wire, &link, &mut self.jitter_rng);
        self.push(at, Event::Arrive { to, from, msg });
    }
}

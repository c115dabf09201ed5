//! A relay-driven run's results in the testnet's schema: [`summarize`]
//! computes `summary.json` and the `objects.csv` rows exactly as the
//! testnet's report does from real nodes (`testbed/report.rs`): t0 is the
//! origin's acceptance, c_q the time until a fraction q of the nodes had an
//! object, the ideal bound the origin's eccentricity × L (push) or 3L
//! (announce, batch), and redundancy from the same counters.

use crate::results::{
    BytesPerObject, GraphSummary, Kind, KindSummary, ObjectRow, Redundancy, Relay, SCHEMA, Shaping,
    Summary,
};
use crate::topology::Graph;

use super::world::{NEVER, NetRun, txid_of};

/// Up to this many nodes the summary's diameter is exact (a search from
/// every node); above, it is the largest eccentricity of an origin (a lower
/// bound: all-pairs searches at 10^4 nodes cost more than the run).
pub const EXACT_DIAMETER_NODES: usize = 2000;

/// Hop counts over every (node, transaction) that arrived, origin excluded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hops {
    /// Arrivals counted.
    pub n: u64,
    /// Mean relays per arrival.
    pub mean: f64,
    /// Most relays.
    pub max: u16,
}

/// The hop counts of `run`.
pub fn hops(run: &NetRun) -> Hops {
    let txs = run.params.txs;
    let (mut n, mut sum, mut max) = (0u64, 0u64, 0u16);
    for (i, &h) in run.hops.iter().enumerate() {
        if h == super::world::NO_HOPS || h == 0 || run.origins[i % txs] == i / txs {
            continue;
        }
        n += 1;
        sum += u64::from(h);
        max = max.max(h);
    }
    Hops {
        n,
        mean: if n > 0 { sum as f64 / n as f64 } else { 0.0 },
        max,
    }
}

/// `summary.json` and `objects.csv` of `run`, under `run_id`.
pub fn summarize(run: &NetRun, run_id: &str) -> (Summary, Vec<ObjectRow>) {
    let p = &run.params;
    let (n, txs) = (p.nodes, p.txs);
    let graph = Graph::new(n, run.links.iter().copied());
    let all = vec![true; n];
    let l = p.link.delay.as_secs_f64() * 1000.0;
    let per_hop = match p.relay {
        Relay::Push | Relay::Hybrid => l,
        Relay::Announce | Relay::Batch => 3.0 * l,
    };
    let mut rows = Vec::with_capacity(txs);
    let mut delays = Vec::new();
    let mut ecc_cache: Vec<Option<Option<usize>>> = vec![None; n];
    for k in 0..txs {
        let origin = run.origins[k];
        let t0 = run.first_seen(origin, k);
        let mut times: Vec<f64> = Vec::with_capacity(n);
        for v in 0..n {
            let t = run.first_seen(v, k);
            if t == NEVER || t0 == NEVER {
                continue;
            }
            let d = t.saturating_sub(t0) as f64 / 1e6;
            times.push(d);
            if v != origin {
                delays.push(d);
            }
        }
        times.sort_by(f64::total_cmp);
        let cover = |q: f64| {
            let need = ((q * n as f64).ceil() as usize).max(1);
            times.get(need - 1).copied()
        };
        let ecc = *ecc_cache[origin].get_or_insert_with(|| graph.eccentricity(origin, &all));
        let ideal = ecc.map(|e| e as f64 * per_hop).filter(|v| *v > 0.0);
        let c100 = cover(1.0);
        rows.push(ObjectRow {
            kind: Kind::Tx,
            id: hex(&txid_of(k as u32).0),
            origin,
            start_ns: if t0 == NEVER { 0 } else { t0 },
            holders: times.len(),
            live: n,
            recorded: times.len(),
            c50_ms: cover(0.5),
            c90_ms: cover(0.9),
            c100_ms: c100,
            eccentricity: ecc,
            ideal_ms: ideal,
            efficiency: c100.zip(ideal).map(|(m, i)| m / i),
            lost: times.len() < n,
        });
    }
    let all_rows: Vec<&ObjectRow> = rows.iter().collect();
    let tx_summary = KindSummary::of(&all_rows, txs, &delays, n);
    let per = |v: u64| v as f64 / (n as f64 * txs as f64);
    let sum_d =
        |f: &dyn Fn(&super::world::DriverCounters) -> u64| run.counters.iter().map(f).sum::<u64>();
    let sum_r = |f: &dyn Fn(&rumor_relay::RelayCounters) -> u64| {
        run.relay_counters.iter().map(f).sum::<u64>()
    };
    let push = p.relay == Relay::Push;
    let bodies = if push {
        sum_d(&|c| c.gossip_unfiltered)
    } else {
        sum_r(&|c| c.bodies_fetched + c.duplicate_bodies + c.eager_received - c.duplicate_eager)
    };
    let duplicates = if push {
        sum_d(&|c| c.gossip_unfiltered - c.gossip_filtered) + sum_r(&|c| c.duplicate_bodies)
    } else {
        sum_r(&|c| c.duplicate_bodies)
    };
    let redundancy = Redundancy {
        duplicate_bodies_per_node_per_tx: per(duplicates),
        bodies_per_node_per_tx: per(bodies),
        announcements_per_node_per_tx: per(sum_d(&|c| c.announcements_in)),
        gossip_copies_per_node_per_tx: per(sum_d(&|c| c.gossip_unfiltered)),
        eager_bodies_per_node_per_tx: per(sum_r(&|c| c.eager_accepted)),
        bytes: BytesPerObject {
            gossip_in: per(sum_d(&|c| c.gossip_in)),
            gossip_out: per(sum_d(&|c| c.gossip_out)),
            getdata_in: per(sum_d(&|c| c.getdata_in)),
            getdata_out: per(sum_d(&|c| c.getdata_out)),
            sync_in: 0.0,
            sync_out: 0.0,
            push_in: per(sum_d(&|c| c.push_in)),
            push_out: per(sum_d(&|c| c.push_out)),
            wire_in: per(sum_d(&|c| c.wire_in)),
            wire_out: per(sum_d(&|c| c.wire_out)),
        },
    };
    let last_submit = run.submitted_ns.iter().copied().max().unwrap_or(0);
    let h = hops(run);
    let mut notes = vec![format!(
        "simulated by rumor-sim (relay-driven): {} events; CPU {} µs per validation, {} µs per message, {} µs wait per message, cores {}; anti-entropy not simulated; mean hops {:.2}, max {}",
        run.events,
        p.cost.validation.as_micros(),
        p.cost.message.as_micros(),
        p.cost.wait.as_micros(),
        p.cost
            .cores
            .map_or_else(|| "one per node".to_owned(), |c| c.to_string()),
        h.mean,
        h.max,
    )];
    if run.truncated {
        notes.push("cut off at the settle limit with work left".into());
    }
    let lost_ids = rows
        .iter()
        .filter(|r| r.lost)
        .take(100)
        .map(|r| r.id.clone())
        .collect();
    let summary = Summary {
        schema: SCHEMA.into(),
        run_id: run_id.into(),
        relay: p.relay,
        nodes: n,
        live_nodes: n,
        shaping: Shaping {
            mode: "simulated".into(),
            netem_available: false,
            why: "rumor-sim's link model (delay ± uniform jitter, bandwidth, loss on receipt)"
                .into(),
            delay_ms: l,
            jitter_ms: p.link.jitter.as_secs_f64() * 1000.0,
            loss: p.link.loss,
            bandwidth_bps: p.link.bandwidth_bps,
        },
        graph: GraphSummary {
            links: run.links.len(),
            mean_degree: 2.0 * run.links.len() as f64 / n as f64,
            diameter: if n <= EXACT_DIAMETER_NODES {
                graph.diameter()
            } else {
                ecc_cache.iter().flatten().copied().max().flatten()
            },
        },
        workload_s: last_submit as f64 / 1e9,
        settle_s: run.end_ns.saturating_sub(last_submit) as f64 / 1e9,
        rates: None,
        ok: tx_summary.lost == 0,
        txs: tx_summary,
        blocks: KindSummary::default(),
        redundancy: Some(redundancy),
        faults: Vec::new(),
        lost_ids,
        memory: Default::default(),
        inflight_at_end: run.truncated as usize,
        cpu: None,
        notes,
    };
    (summary, rows)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

//! The propagation report: arrival delays, coverage times, redundancy,
//! the ideal bound and efficiency, and lost objects (design.md, "Measuring
//! propagation"), computed from what a run collected.

use std::collections::{HashMap, HashSet};

use rumor_sim::{Graph, Kind, Relay};

use super::runner::{Collected, MemorySample};

pub use rumor_sim::{
    BytesPerObject, GraphSummary, KindSummary, MemorySummary, NodeMemory, ObjectRow, Percentiles,
    Rates, Redundancy, RunSummary as Summary, SCHEMA, Shaping,
};

/// Shortest process lifetime, s, over which memory is judged flat or not:
/// its first quarter (at least 5 min) is warm-up, in which bounded caches
/// sized for the run must fill (the soak's fill in about 7 min at 50 tx/s
/// from a cold start, 5 after a restart).
pub const FLAT_MIN_LIFETIME_S: f64 = 1200.0;
/// Largest growth, %, still counted as flat (bounded caches still filling,
/// allocator noise).
pub const FLAT_MAX_GROWTH_PCT: f64 = 10.0;

/// Least-squares slope of `kib` over `at_s`, KiB per minute.
fn slope_per_min(samples: &[MemorySample]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mt = samples.iter().map(|s| s.at_s).sum::<f64>() / n;
    let mk = samples.iter().map(|s| s.kib as f64).sum::<f64>() / n;
    let (num, den) = samples.iter().fold((0.0, 0.0), |(num, den), s| {
        let dt = s.at_s - mt;
        (num + dt * (s.kib as f64 - mk), den + dt * dt)
    });
    if den > 0.0 { 60.0 * num / den } else { 0.0 }
}

fn memory_summary(samples: &[Vec<MemorySample>]) -> MemorySummary {
    let mut out = MemorySummary::default();
    for (index, s) in samples.iter().enumerate() {
        // The node's processes, in order; the longest-lived one is judged.
        let lives: Vec<&[MemorySample]> = s.chunk_by(|a, b| a.pid == b.pid).collect();
        let span = |l: &[MemorySample]| l.last().map_or(0.0, |e| e.at_s) - l[0].at_s;
        let Some(life) = lives
            .iter()
            .copied()
            .filter(|l| l.len() >= 4)
            .max_by(|a, b| span(a).total_cmp(&span(b)))
        else {
            continue;
        };
        let q = life.len() / 4;
        // Growth of one reading, last quarter against second, if every
        // sample in both has it.
        let growth = |read: fn(&MemorySample) -> Option<u64>| {
            let mean = |part: &[MemorySample]| {
                let v: Option<Vec<u64>> = part.iter().map(read).collect();
                v.map(|v| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64)
            };
            let second = mean(&life[q..2 * q])?;
            let last = mean(&life[life.len() - q..])?;
            Some(if second > 0.0 {
                100.0 * (last - second) / second
            } else {
                0.0
            })
        };
        let node = NodeMemory {
            index,
            first_kib: s[0].kib,
            last_kib: s[s.len() - 1].kib,
            max_kib: s.iter().map(|m| m.kib).max().unwrap_or(0),
            processes: lives.len(),
            lifetime_s: span(life),
            growth_pct: growth(|m| Some(m.kib)).unwrap_or(0.0),
            slope_kib_per_min: slope_per_min(&life[life.len() / 2..]),
            allocated_growth_pct: growth(|m| m.allocated_kib),
            max_allocated_kib: s.iter().filter_map(|m| m.allocated_kib).max(),
        };
        if let Some(g) = node.allocated_growth_pct {
            out.max_allocated_growth_pct =
                Some(out.max_allocated_growth_pct.map_or(g, |m| m.max(g)));
        }
        out.max_growth_pct = Some(
            out.max_growth_pct
                .map_or(node.growth_pct, |m| m.max(node.growth_pct)),
        );
        out.max_slope_kib_per_min = Some(
            out.max_slope_kib_per_min
                .map_or(node.slope_kib_per_min, |m| m.max(node.slope_kib_per_min)),
        );
        out.max_kib = Some(out.max_kib.map_or(node.max_kib, |m| m.max(node.max_kib)));
        out.nodes.push(node);
    }
    out.flat = judge_flat(&out.nodes);
    out
}

/// Whether memory stayed flat (see [`MemorySummary::flat`]).
pub fn judge_flat(nodes: &[NodeMemory]) -> Option<bool> {
    let judged: Vec<&NodeMemory> = nodes
        .iter()
        .filter(|n| n.lifetime_s >= FLAT_MIN_LIFETIME_S)
        .collect();
    (!judged.is_empty()).then(|| judged.iter().all(|n| n.growth_pct <= FLAT_MAX_GROWTH_PCT))
}

/// Computes the report. `per_hop_ms` is the ideal cost of one hop (L for
/// push, 3L for announce + fetch).
pub fn analyze(
    c: &Collected,
    relay: Relay,
    run_id: &str,
    shaping: Shaping,
    per_hop_ms: f64,
) -> (Summary, Vec<ObjectRow>) {
    let n = c.nodes;
    let live_count = c.live.iter().filter(|l| **l).count();
    let index: HashMap<&str, usize> = c
        .peer_ids
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut links = HashSet::new();
    for (i, peers) in c.peers.iter().enumerate() {
        for p in peers {
            if let Some(&j) = index.get(p.peer_id.as_str())
                && c.live[i]
                && c.live[j]
            {
                links.insert((i.min(j), i.max(j)));
            }
        }
    }
    let graph = Graph::new(n, links.iter().copied());
    let live_graph_diameter = {
        let ecc: Option<Vec<usize>> = (0..n)
            .filter(|i| c.live[*i])
            .map(|i| graph.eccentricity(i, &c.live))
            .collect();
        ecc.map(|e| e.into_iter().max().unwrap_or(0))
    };
    let first: Vec<HashMap<&str, u64>> = c
        .first_seen
        .iter()
        .map(|recs| recs.iter().map(|r| (r.id.as_str(), r.time_ns)).collect())
        .collect();
    let present: Vec<HashSet<&str>> = c
        .present
        .iter()
        .map(|v| v.iter().map(String::as_str).collect())
        .collect();
    let best: HashSet<&str> = c.best_chain.iter().map(String::as_str).collect();
    let mut rows = Vec::new();
    let mut delays: HashMap<Kind, Vec<f64>> = HashMap::new();
    for obj in c.injected.iter().filter(|o| o.accepted) {
        let id = obj.id.as_str();
        let t0 = first[obj.origin].get(id).copied().unwrap_or(obj.submit_ns);
        let mut times = Vec::new();
        let mut holders = 0;
        let mut recorded = 0;
        for i in (0..n).filter(|i| c.live[*i]) {
            let holds = present[i].contains(id) || first[i].contains_key(id);
            if holds {
                holders += 1;
            }
            if let Some(t) = first[i].get(id) {
                recorded += 1;
                let d = t.saturating_sub(t0) as f64 / 1e6;
                times.push(d);
                if i != obj.origin {
                    delays.entry(obj.kind).or_default().push(d);
                }
            }
        }
        times.sort_by(f64::total_cmp);
        let cover = |q: f64| {
            let need = ((q * live_count as f64).ceil() as usize).max(1);
            times.get(need - 1).copied()
        };
        // Lost: a live node lacks it. Blocks off the agreed best chain are
        // stale, not lost.
        let relevant = obj.kind == Kind::Tx || best.contains(id);
        let lost = relevant && holders < live_count;
        let ecc = if c.live[obj.origin] {
            graph.eccentricity(obj.origin, &c.live)
        } else {
            None
        };
        let ideal = ecc.map(|e| e as f64 * per_hop_ms).filter(|v| *v > 0.0);
        let c100 = cover(1.0);
        rows.push(ObjectRow {
            kind: obj.kind,
            id: obj.id.clone(),
            origin: obj.origin,
            start_ns: t0,
            holders,
            live: live_count,
            recorded,
            c50_ms: cover(0.5),
            c90_ms: cover(0.9),
            c100_ms: c100,
            eccentricity: ecc,
            ideal_ms: ideal,
            efficiency: c100.zip(ideal).map(|(m, i)| m / i),
            lost,
        });
    }
    let kind_summary = |kind: Kind| {
        let rs: Vec<&ObjectRow> = rows.iter().filter(|r| r.kind == kind).collect();
        let of_kind = || c.injected.iter().filter(|o| o.kind == kind);
        let refused = of_kind().filter(|o| o.refused_busy()).count();
        let d = delays.get(&kind).map(Vec::as_slice).unwrap_or(&[]);
        KindSummary {
            refused,
            rejected: of_kind().filter(|o| !o.accepted).count() - refused,
            ..KindSummary::of(&rs, of_kind().count(), d, live_count)
        }
    };
    let txs = kind_summary(Kind::Tx);
    let blocks = kind_summary(Kind::Block);
    let rates = rates(c, &txs);
    let per = |v: u64| v as f64 / (live_count.max(1) as f64 * txs.accepted.max(1) as f64);
    let sum =
        |f: &dyn Fn(&rumor_p2p::RelayStats) -> u64| c.stats.iter().flatten().map(f).sum::<u64>();
    let counter = |name: &'static str| {
        move |s: &rumor_p2p::RelayStats| s.counters.get(name).copied().unwrap_or(0)
    };
    // In push mode every gossip copy is a body, and gossipsub drops
    // duplicates before the node sees them; in announce mode bodies come by
    // getdata and the node counts duplicates itself.
    let push = relay == Relay::Push;
    let bodies = if push {
        sum(&|s| s.gossip_msgs_unfiltered)
    } else {
        // Hybrid mode's eager pushes are bodies too (their duplicates are
        // in duplicate_bodies already).
        sum(&counter("bodies_fetched"))
            + sum(&counter("duplicate_bodies"))
            + sum(&counter("eager_received")).saturating_sub(sum(&counter("duplicate_eager")))
    };
    let duplicates = if push {
        sum(&|s| {
            s.gossip_msgs_unfiltered
                .saturating_sub(s.gossip_msgs_filtered)
        }) + sum(&counter("duplicate_bodies"))
    } else {
        sum(&counter("duplicate_bodies"))
    };
    let redundancy = (txs.accepted > 0 && live_count > 0).then(|| Redundancy {
        duplicate_bodies_per_node_per_tx: per(duplicates),
        bodies_per_node_per_tx: per(bodies),
        announcements_per_node_per_tx: per(sum(&counter("announcements_in"))),
        gossip_copies_per_node_per_tx: per(sum(&|s| s.gossip_msgs_unfiltered)),
        eager_bodies_per_node_per_tx: per(sum(&counter("eager_accepted"))),
        bytes: BytesPerObject {
            gossip_in: per(sum(&|s| s.gossip_bytes.inn)),
            gossip_out: per(sum(&|s| s.gossip_bytes.out)),
            getdata_in: per(sum(&|s| s.getdata_bytes.inn)),
            getdata_out: per(sum(&|s| s.getdata_bytes.out)),
            sync_in: per(sum(&|s| s.sync_bytes.inn)),
            sync_out: per(sum(&|s| s.sync_bytes.out)),
            push_in: per(sum(&|s| s.push_bytes.inn)),
            push_out: per(sum(&|s| s.push_bytes.out)),
            wire_in: per(sum(&|s| s.wire_bytes.inn)),
            wire_out: per(sum(&|s| s.wire_bytes.out)),
        },
    });
    let lost_ids: Vec<String> = rows
        .iter()
        .filter(|r| r.lost)
        .take(100)
        .map(|r| r.id.clone())
        .collect();
    let mut notes = c.notes.clone();
    if relay == Relay::Hybrid {
        let n = |name| sum(&counter(name));
        notes.push(format!(
            "hybrid trees: {} pushes ({} first copies accepted, {} duplicates), {} prunes sent; {} grafts sent ({} agreed, {} refused, {} toward a faster parent); {} objects only announced (origin unknown); {} pushes failed",
            n("eager_pushed"),
            n("eager_accepted"),
            n("duplicate_eager"),
            n("prunes_sent"),
            n("grafts_sent"),
            n("grafts_accepted"),
            n("grafts_refused"),
            n("tree_optimised"),
            n("eager_unknown_origin"),
            n("push_failures"),
        ));
    }
    let collected_all = c.stats.iter().zip(&c.live).all(|(s, l)| !*l || s.is_some());
    let summary = Summary {
        schema: SCHEMA.into(),
        run_id: run_id.into(),
        relay,
        nodes: n,
        live_nodes: live_count,
        shaping,
        graph: GraphSummary {
            links: links.len(),
            mean_degree: 2.0 * links.len() as f64 / live_count.max(1) as f64,
            diameter: live_graph_diameter,
        },
        workload_s: c.workload_s,
        settle_s: c.settle_s,
        rates,
        ok: txs.lost == 0
            && blocks.lost == 0
            && collected_all
            && c.inflight_at_end.iter().sum::<usize>() == 0,
        txs,
        blocks,
        redundancy,
        faults: c.faults.clone(),
        lost_ids,
        memory: memory_summary(&c.memory),
        inflight_at_end: c.inflight_at_end.iter().sum(),
        cpu: c
            .cpu
            .as_ref()
            .map(|w| rumor_sim::MachineCpu::judge(w.cores, w.window_s, &w.busy, &w.node_ms_per_s)),
        notes,
    };
    (summary, rows)
}

/// Transaction rates over the injection span: from the start of the
/// workload to the last submission (the schedule's own length when the
/// injector kept up).
fn rates(c: &Collected, txs: &KindSummary) -> Option<Rates> {
    let last = c
        .injected
        .iter()
        .filter(|o| o.kind == Kind::Tx)
        .map(|o| o.submit_ns)
        .max()?;
    let span_s =
        (last.saturating_sub(c.start_ns) as f64 / 1e9).max(1.0 / c.offered_tx_rate.max(1e-9));
    Some(Rates {
        offered: c.offered_tx_rate,
        injected: txs.injected as f64 / span_s,
        accepted: txs.accepted as f64 / span_s,
        refused: txs.refused as f64 / span_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&v);
        assert_eq!(
            (p.p50, p.p90, p.p99, p.max, p.n),
            (Some(50.0), Some(90.0), Some(99.0), Some(100.0), 100)
        );
        let p = Percentiles::of(&[3.0]);
        assert_eq!((p.p50, p.p99), (Some(3.0), Some(3.0)));
        assert_eq!(Percentiles::of(&[]).n, 0);
    }

    /// Two nodes; one transaction that reached both, no block.
    fn one_tx_no_blocks() -> Collected {
        serde_json::from_value(serde_json::json!({
            "start_ns": 1_000_000_000u64, "workload_s": 1.0, "settle_s": 0.5, "nodes": 2,
            "live": [true, true], "restarted": [false, false], "peer_ids": ["a", "b"],
            "injected": [{"kind": "tx", "id": "t1", "origin": 0, "submit_ns": 1_000_000_000u64,
                "accepted": true, "error": null}],
            "faults": [],
            "first_seen": [
                [{"kind": "Tx", "id": "t1", "time_ns": 1_000_000_000u64, "from": null,
                    "via": "local"}],
                [{"kind": "Tx", "id": "t1", "time_ns": 1_004_000_000u64, "from": "a",
                    "via": "announce"}]],
            "stats": [null, null], "peers": [[], []], "present": [["t1"], ["t1"]],
            "best_chain": [], "notes": [], "memory": [[], []], "inflight_at_end": [0, 0],
        }))
        .expect("a Collected")
    }

    #[test]
    fn empty_statistics_are_null_not_zero() {
        let c = one_tx_no_blocks();
        let (s, rows) = analyze(&c, Relay::Announce, "r", Shaping::default(), 0.0);
        assert_eq!(rows[0].start_ns, 1_000_000_000);
        assert_eq!(s.txs.c100_ms.p50, Some(4.0));
        let v = serde_json::to_value(&s).unwrap();
        // No block: no block statistics, not zeros.
        assert_eq!(v["blocks"]["c100_ms"]["n"], 0);
        for field in ["p50", "p90", "p99", "max"] {
            assert!(v["blocks"]["c100_ms"][field].is_null(), "{field}: {v}");
        }
        assert!(v["blocks"]["coverage_pct"].is_null());
        assert_eq!(v["txs"]["coverage_pct"], 100.0);
        // No link delay: no ideal bound.
        assert!(v["txs"]["ideal_ms"]["p99"].is_null());
        assert!(v["txs"]["p99_efficiency"].is_null());
        // No memory sampled: no maxima.
        assert!(v["memory"]["max_kib"].is_null());
        assert!(v["memory"]["max_growth_pct"].is_null());
        // The summary reads back.
        let back: Summary = serde_json::from_value(v).unwrap();
        assert_eq!(back.blocks.c100_ms, Percentiles::default());
    }

    /// Samples every 5 s for `secs`, from `pid`, of `kib(t)`.
    fn life(pid: u32, from: f64, secs: f64, kib: impl Fn(f64) -> u64) -> Vec<MemorySample> {
        (0..=(secs / 5.0) as usize)
            .map(|i| {
                let at_s = from + 5.0 * i as f64;
                MemorySample {
                    at_s,
                    pid,
                    kib: kib(at_s - from),
                    allocated_kib: Some(kib(at_s - from) / 2),
                    active_kib: None,
                    allocator_resident_kib: None,
                    threads: None,
                }
            })
            .collect()
    }

    #[test]
    fn memory_is_judged_over_the_longest_lived_process() {
        // Node 0: warms up, then flat; restarted at 1,200 s (smaller again).
        let mut a = life(1, 0.0, 1200.0, |t| 40_000 + (t.min(200.0) * 50.0) as u64);
        a.extend(life(2, 1205.0, 595.0, |_| 30_000));
        // Node 1: leaks 1 MiB a minute all run long.
        let b = life(3, 0.0, 1800.0, |t| 40_000 + (t / 60.0 * 1024.0) as u64);
        let m = memory_summary(&[a, b]);
        assert_eq!((m.nodes[0].processes, m.nodes[0].lifetime_s), (2, 1200.0));
        assert!(m.nodes[0].growth_pct.abs() < 0.1, "{:?}", m.nodes[0]);
        assert!(m.nodes[0].slope_kib_per_min.abs() < 1.0);
        assert!((m.nodes[1].slope_kib_per_min - 1024.0).abs() < 5.0);
        assert!(m.nodes[1].growth_pct > FLAT_MAX_GROWTH_PCT);
        assert_eq!(m.flat, Some(false));
        // The live heap is read over the same windows.
        assert!(m.nodes[0].allocated_growth_pct.unwrap().abs() < 0.1);
        assert!(m.nodes[1].allocated_growth_pct.unwrap() > FLAT_MAX_GROWTH_PCT);
        assert_eq!(m.max_allocated_growth_pct, m.nodes[1].allocated_growth_pct);
        // A node that does not report its heap has no heap growth.
        let mut c = life(4, 0.0, 1200.0, |_| 30_000);
        for m in &mut c {
            m.allocated_kib = None;
        }
        let m = memory_summary(&[c]);
        assert_eq!(m.nodes[0].allocated_growth_pct, None);
        assert_eq!(m.max_allocated_growth_pct, None);
        // Without the leaking node it is flat; a short run is not judged.
        let a = life(1, 0.0, 1200.0, |t| 40_000 + (t.min(200.0) * 50.0) as u64);
        assert_eq!(memory_summary(&[a]).flat, Some(true));
        let short = life(1, 0.0, 300.0, |t| 40_000 + (t * 100.0) as u64);
        assert_eq!(memory_summary(&[short]).flat, None);
    }
}

//! The relay-driven mode: rumor's relay on every node, over simulated links.
//! Where the model is deterministic (no jitter, no loss, CPU idle between
//! transactions) arrival times, hop counts and duplicates are exact, and
//! these tests check them to the nanosecond.

use std::time::Duration;

use rumor_sim::net::{self, CostModel, LinkModel, NEVER, NetParamError, NetParams};
use rumor_sim::{Graph, Relay, Topology, edges};

const L: Duration = Duration::from_millis(50);
const COST: Duration = Duration::from_micros(100);

fn quiet_line(relay: Relay) -> NetParams {
    NetParams {
        nodes: 16,
        topology: Topology::Line,
        relay,
        txs: 5,
        tx_rate: 2.0,
        link: LinkModel {
            delay: L,
            jitter: Duration::ZERO,
            ..LinkModel::default()
        },
        cost: CostModel {
            validation: COST,
            ..CostModel::default()
        },
        ..NetParams::default()
    }
}

fn distances(p: &NetParams, from: usize) -> Vec<usize> {
    Graph::new(p.nodes, edges(p.topology, p.nodes, p.degree, p.seed))
        .distances(from)
        .into_iter()
        .map(|d| d.expect("connected"))
        .collect()
}

#[test]
fn on_a_quiet_line_every_hop_costs_exactly_its_protocol() {
    // Announce: announcement, getdata, body (3L), then validation. Batch
    // adds its window. Push: the body (L), then validation. A wait per
    // message (a loaded machine's scheduling delay) adds itself to each of
    // the hop's messages.
    let window = NetParams::default().batch_window;
    const W: Duration = Duration::from_millis(7);
    for (relay, wait, per_hop) in [
        (Relay::Announce, Duration::ZERO, 3 * L + COST),
        (Relay::Batch, Duration::ZERO, 3 * L + COST + window),
        (Relay::Push, Duration::ZERO, L + COST),
        (Relay::Announce, W, 3 * (L + W) + COST),
        (Relay::Batch, W, 3 * (L + W) + COST + window),
        (Relay::Push, W, L + W + COST),
    ] {
        let mut p = quiet_line(relay);
        if wait > Duration::ZERO {
            p.cost.wait = wait;
            // One transaction alone: with others in flight, a node that
            // has a message waiting does not flush (it is not idle), so
            // a getdata can wait for another object's body.
            p.txs = 1;
        }
        let run = net::simulate(&p).unwrap();
        assert!(!run.truncated);
        for k in 0..p.txs {
            let o = run.origins[k];
            let t0 = run.first_seen(o, k);
            let dist = distances(&p, o);
            for (v, &d) in dist.iter().enumerate() {
                let t = run.first_seen(v, k);
                assert_ne!(t, NEVER, "{relay}: node {v} never got tx {k}");
                assert_eq!(
                    t - t0,
                    d as u64 * per_hop.as_nanos() as u64,
                    "{relay} (wait {wait:?}): node {v}, tx {k} from {o}"
                );
                assert_eq!(run.hop_count(v, k) as usize, d);
            }
        }
        let (s, rows) = net::summarize(&run, "line");
        assert!(s.ok && rows.iter().all(|r| !r.lost));
        let r = s.redundancy.unwrap();
        assert_eq!(r.duplicate_bodies_per_node_per_tx, 0.0, "{relay}");
        // Every node holds one body per transaction (the origin's own is
        // not received), so 15/16 bodies per node per transaction.
        assert!(
            (r.bodies_per_node_per_tx - 15.0 / 16.0).abs() < 1e-9,
            "{relay}: {r:?}"
        );
        // The ideal bound is met exactly, up to the validation cost (and
        // the wait, which the bound does not know of).
        let eff = s.txs.efficiency.max.unwrap();
        let slack = 1.2 + wait.as_secs_f64() / L.as_secs_f64();
        assert!((1.0..slack).contains(&eff), "{relay}: efficiency {eff}");
    }
}

#[test]
fn on_a_random_graph_everyone_gets_everything_along_shortest_paths() {
    for relay in Relay::ALL {
        let p = NetParams {
            relay,
            txs: 40,
            tx_rate: 20.0,
            ..NetParams::default()
        };
        let run = net::simulate(&p).unwrap();
        let (s, _) = net::summarize(&run, "random");
        assert_eq!(s.txs.lost, 0, "{relay}");
        let mut longer = 0;
        for k in 0..p.txs {
            let dist = distances(&p, run.origins[k]);
            for (v, &d) in dist.iter().enumerate() {
                let hops = run.hop_count(v, k) as usize;
                if relay == Relay::Hybrid {
                    // A tree's first objects go to a few peers each, so a
                    // node may get one over a longer path until its tree
                    // has grown (never a shorter one).
                    assert!(hops >= d, "{relay} node {v} tx {k}");
                    longer += usize::from(hops > d);
                } else {
                    // ±5 ms of jitter cannot make a longer path win against
                    // 50 ms links.
                    assert_eq!(hops, d, "{relay} node {v} tx {k}");
                }
            }
        }
        // 40 transactions from 16 origins are all among their origin's
        // first three, while its tree forms: at most a fifth of the
        // deliveries take a longer path.
        let deliveries = p.txs * p.nodes;
        assert!(
            longer * 5 < deliveries,
            "{relay}: {longer} of {deliveries} over longer paths"
        );
        let dup = s.redundancy.unwrap().duplicate_bodies_per_node_per_tx;
        match relay {
            // One request at a time per object: no duplicate bodies.
            Relay::Announce | Relay::Batch => assert_eq!(dup, 0.0, "{relay}"),
            // Flooding: copies cross on links; gossipsub drops them.
            Relay::Push => assert!(dup > 0.5, "push duplicates {dup}"),
            // Trees: duplicates while each origin's tree forms, which is
            // all of this short run (0.83 at this seed; push floods ~2).
            Relay::Hybrid => assert!(dup < 1.0, "hybrid duplicates {dup}"),
        }
    }
}

#[test]
fn runs_are_reproducible_from_the_seed() {
    let p = NetParams {
        txs: 30,
        ..NetParams::default()
    };
    let a = net::simulate(&p).unwrap();
    let b = net::simulate(&p).unwrap();
    let c = net::simulate(&NetParams { seed: 2, ..p }).unwrap();
    assert_eq!(a.first_ns, b.first_ns);
    assert_eq!(a.hops, b.hops);
    assert_ne!(a.first_ns, c.first_ns);
}

/// Cut into any number of shards (threads), a run is the same run: every
/// mode, with jitter and loss drawn, messages crossing between shards in
/// every window, and a node count that does not divide evenly.
#[test]
fn a_run_is_the_same_on_any_number_of_threads() {
    let modes = [Relay::Announce, Relay::Push, Relay::Batch, Relay::Hybrid];
    // Without jitter, messages sent together arrive together: many events
    // share an instant, across shards.
    for (relay, jitter) in modes.into_iter().flat_map(|m| [(m, true), (m, false)]) {
        let p = NetParams {
            nodes: 61,
            relay,
            txs: 40,
            tx_rate: 100.0,
            link: LinkModel {
                loss: 0.02,
                jitter: if jitter {
                    LinkModel::default().jitter
                } else {
                    Duration::ZERO
                },
                ..LinkModel::default()
            },
            // And, without jitter, a wait before each message is handled.
            cost: CostModel {
                wait: if jitter {
                    Duration::ZERO
                } else {
                    Duration::from_millis(3)
                },
                ..CostModel::default()
            },
            ..NetParams::default()
        };
        let one = net::simulate_on(&p, 1).unwrap();
        assert!(one.counters.iter().map(|c| c.lost).sum::<u64>() > 0);
        for threads in [2, 3, 8] {
            let many = net::simulate_on(&p, threads).unwrap();
            let what = format!("{relay} (jitter {jitter}) on {threads} threads");
            assert_eq!(one.first_ns, many.first_ns, "{what}");
            assert_eq!(one.hops, many.hops, "{what}");
            assert_eq!(one.counters, many.counters, "{what}");
            assert_eq!(one.relay_counters, many.relay_counters, "{what}");
            assert_eq!(
                (one.events, one.end_ns, one.truncated),
                (many.events, many.end_ns, many.truncated),
                "{what}"
            );
        }
    }
}

#[test]
fn shared_cores_slow_a_busy_network_down() {
    let fast = NetParams {
        txs: 100,
        tx_rate: 200.0,
        cost: CostModel {
            validation: Duration::from_micros(500),
            message: Duration::from_micros(200),
            wait: Duration::ZERO,
            cores: None,
        },
        ..NetParams::default()
    };
    let slow = NetParams {
        cost: CostModel {
            cores: Some(1),
            ..fast.cost
        },
        ..fast.clone()
    };
    let c100 = |p: &NetParams| {
        let (s, _) = net::summarize(&net::simulate(p).unwrap(), "cpu");
        assert_eq!(s.txs.lost, 0);
        s.txs.c100_ms.p50.unwrap()
    };
    let (f, s) = (c100(&fast), c100(&slow));
    assert!(s > f * 1.05, "one shared core {s} ms, own cores {f} ms");
}

#[test]
fn loss_is_recovered_by_other_announcers_and_retries_and_what_is_given_up_stays_lost() {
    let p = NetParams {
        txs: 50,
        link: LinkModel {
            loss: 0.05,
            ..LinkModel::default()
        },
        ..NetParams::default()
    };
    let run = net::simulate(&p).unwrap();
    assert!(!run.truncated);
    assert!(run.counters.iter().map(|c| c.lost).sum::<u64>() > 0);
    let timeouts: u64 = run.relay_counters.iter().map(|c| c.fetch_timeouts).sum();
    assert!(timeouts > 0, "lost bodies time out and are asked again");
    let (s, _) = net::summarize(&run, "loss");
    let coverage = s.txs.coverage_pct.unwrap();
    assert!(coverage > 95.0, "{coverage}");
    // Anti-entropy is not simulated: a node that gave a transaction up
    // (every announcer failed it) keeps lacking it, and so may its peers.
    let gave_up: u64 = run.relay_counters.iter().map(|c| c.fetches_given_up).sum();
    assert_eq!(
        coverage < 100.0,
        gave_up > 0,
        "coverage {coverage}, given up {gave_up}"
    );
    assert!(run.counters.iter().all(|c| c.unmodelled == 0));
}

#[test]
fn bad_parameters_are_refused_with_their_rule() {
    let ok = NetParams::default();
    let cases = [
        (
            NetParams {
                nodes: 1,
                ..ok.clone()
            },
            NetParamError::Nodes(1),
        ),
        (
            NetParams {
                degree: 16,
                ..ok.clone()
            },
            NetParamError::Degree {
                degree: 16,
                max: 15,
            },
        ),
        (
            NetParams {
                topology: Topology::Bootnode,
                ..ok.clone()
            },
            NetParamError::Bootnode,
        ),
        (
            NetParams {
                txs: 0,
                ..ok.clone()
            },
            NetParamError::Workload,
        ),
        (
            NetParams {
                origin: Some(16),
                ..ok.clone()
            },
            NetParamError::Origin {
                origin: 16,
                nodes: 16,
            },
        ),
        (
            NetParams {
                link: LinkModel {
                    loss: 1.0,
                    ..ok.link
                },
                ..ok.clone()
            },
            NetParamError::Loss(1.0),
        ),
        (
            NetParams {
                cost: CostModel {
                    cores: Some(0),
                    ..ok.cost
                },
                ..ok.clone()
            },
            NetParamError::Cores,
        ),
        (
            // Added to every message's arrival, in u64 nanoseconds.
            NetParams {
                cost: CostModel {
                    wait: Duration::from_secs(u64::MAX / 1000),
                    ..ok.cost
                },
                ..ok.clone()
            },
            NetParamError::Time {
                what: "--wait-us",
                value: Duration::from_secs(u64::MAX / 1000),
            },
        ),
        (
            NetParams {
                txs: 10,
                tx_rate: 1e-9,
                ..ok.clone()
            },
            NetParamError::Time {
                what: "the workload (--txs / --tx-rate)",
                value: Duration::from_secs(10_000_000_000),
            },
        ),
    ];
    for (p, e) in cases {
        assert_eq!(net::simulate(&p).unwrap_err(), e);
    }
}

#[test]
fn a_testnet_params_json_becomes_the_same_run() {
    let args = serde_json::json!({
        "backend": "local", "nodes": 48, "topology": "random", "degree": 4, "relay": "push",
        "compare": false, "seed": 7, "txs": 300, "tx_rate": 50.0, "origin": null,
        "block_interval_ms": 0, "miners": 1, "link_delay_ms": 50.0, "link_jitter_ms": 5.0,
        "link_loss": 0.0, "link_bandwidth_bps": 0, "mesh_d": 6, "sync_interval_ms": 2000,
        "kills": [], "partitions": [], "settle_ms": 60000, "batch_window_ms": 25,
        "duration_ms": null, "restart_every_ms": null, "restart_down_ms": 5000,
        "partition_every_ms": null, "partition_for_ms": 20000, "image": null, "stack": null
    });
    assert_eq!(NetParams::testnet_relays(&args).unwrap(), vec![Relay::Push]);
    let p =
        NetParams::from_testnet_args(&args, Relay::Push, CostModel::default(), Default::default())
            .unwrap();
    assert_eq!(
        (p.nodes, p.degree, p.mesh_d, p.seed, p.txs),
        (48, 4, 6, 7, 300)
    );
    assert_eq!((p.link.delay, p.link.jitter), (L, Duration::from_millis(5)));
    let mut compare = args.clone();
    compare["compare"] = true.into();
    assert_eq!(
        NetParams::testnet_relays(&compare).unwrap(),
        Relay::ALL.to_vec()
    );
    let mut killed = args.clone();
    killed["kills"] = serde_json::json!([{"count": 2, "at": 5, "down_for": 5}]);
    assert!(matches!(
        NetParams::from_testnet_args(
            &killed,
            Relay::Push,
            CostModel::default(),
            Default::default()
        ),
        Err(NetParamError::Testnet(_))
    ));
}

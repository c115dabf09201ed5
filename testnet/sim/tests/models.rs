//! Model invariants: reproducibility, the fan-out relay's sending rules, loss, and the
//! mesh's behaviour, through the public API.

use std::collections::HashSet;

use rumor_sim::{AlgoSpec, FanoutPolicy, MeshConfig, Schedule, SimParams, run, run_trial};

fn params(n: u32, algo: &str) -> rumor_sim::SimParamsBuilder {
    SimParams::builder()
        .nodes(n)
        .algo(algo.parse::<AlgoSpec>().expect("selector"))
}

#[test]
fn same_seed_same_results_other_seed_other_results() {
    let build = |seed| {
        SimParams::builder()
            .nodes(2000)
            .trials(3)
            .seed(seed)
            .algo(AlgoSpec::All)
            .ks([2])
            .build()
            .unwrap()
    };
    let a = run(&build(11), |_| {}).unwrap();
    let b = run(&build(11), |_| {}).unwrap();
    let c = run(&build(12), |_| {}).unwrap();
    assert_eq!(a.summaries.len(), 8);
    for ((x, y), z) in a.summaries.iter().zip(&b.summaries).zip(&c.summaries) {
        assert_eq!(x.runs, y.runs, "{}", x.label);
        assert_ne!(x.runs, z.runs, "{}", x.label);
    }
}

#[test]
fn fanout_never_repeats_a_peer_never_returns_to_the_sender() {
    for policy in [FanoutPolicy::EveryPeriod, FanoutPolicy::Once] {
        for seed in 0..20 {
            let p = params(16, "fanout")
                .fanout(3)
                .fanout_policy(policy)
                .seed(seed)
                .build()
                .unwrap();
            let t = run_trial(&p, 0, 0, true).unwrap();
            let trace = t.trace.expect("trace requested");
            let mut sent = HashSet::new();
            let mut first_sender = [None; 16];
            let mut infected_at = [None; 16];
            infected_at[trace.origin as usize] = Some(0);
            for period in &trace.periods {
                let mut per_node = [0u32; 16];
                for &(from, to) in &period.sends {
                    assert_ne!(from, to, "self-send");
                    assert!(sent.insert((from, to)), "{from}->{to} sent twice");
                    assert_ne!(
                        Some(to),
                        first_sender[from as usize],
                        "{from} sent back to its sender"
                    );
                    let since = infected_at[from as usize].expect("sender has the update");
                    assert!(
                        since < period.period,
                        "{from} sent in the period it was infected"
                    );
                    if policy == FanoutPolicy::Once {
                        assert_eq!(since + 1, period.period, "once: only right after infection");
                    }
                    per_node[from as usize] += 1;
                }
                assert!(per_node.iter().all(|&c| c <= 3), "fan-out exceeded");
                for &(from, to) in &period.sends {
                    if infected_at[to as usize].is_none() {
                        infected_at[to as usize] = Some(period.period);
                        first_sender[to as usize] = Some(from);
                    }
                }
                let expected: Vec<u32> = (0..16)
                    .filter(|&v| infected_at[v as usize].is_some())
                    .collect();
                assert_eq!(period.infected, expected);
            }
            if policy == FanoutPolicy::EveryPeriod {
                assert_eq!(t.metrics.reached, 16, "every-period reaches everyone");
                assert_eq!(
                    t.metrics.coverage.p100,
                    Some(f64::from(trace.periods.len() as u32))
                );
            }
        }
    }
}

#[test]
fn loss_slows_anti_entropy_and_feedback_but_breaks_blind_rumors() {
    let n = 5000;
    let lossy = |algo: &str| params(n, algo).loss(0.5).ks([2]).seed(3).build().unwrap();
    let clean = |algo: &str| params(n, algo).ks([2]).seed(3).build().unwrap();
    for algo in ["ae:push", "ae:pull", "ae:push-pull"] {
        let l = run_trial(&lossy(algo), 0, 0, false).unwrap().metrics;
        let c = run_trial(&clean(algo), 0, 0, false).unwrap().metrics;
        assert_eq!(l.reached, n, "{algo} with loss still reaches everyone");
        assert!(
            l.coverage.p100 > c.coverage.p100,
            "{algo}: loss must slow it down"
        );
    }
    // Blind counter k = 2: each infected site sends exactly two messages; with half of
    // them lost the epidemic is critical and mostly dies out.
    // Feedback counter k = 2: a lost message carries no feedback either, so loss only
    // stretches time; the residue stays where it was and the run takes longer.
    let mean = |p: &SimParams, f: &dyn Fn(&rumor_sim::RunMetrics) -> f64| {
        (0..20)
            .map(|t| f(&run_trial(p, 0, t, false).unwrap().metrics))
            .sum::<f64>()
            / 20.0
    };
    let residue = |r: &rumor_sim::RunMetrics| r.residue;
    let t_last = |r: &rumor_sim::RunMetrics| r.t_last.unwrap_or(0.0);
    let blind = "rumor:push:blind:counter";
    let (blind_clean, blind_lossy) = (mean(&clean(blind), &residue), mean(&lossy(blind), &residue));
    assert!(
        blind_clean < 0.3 && blind_lossy > 0.5,
        "blind: {blind_clean} -> {blind_lossy}"
    );
    let feedback = "rumor:push:feedback:counter";
    let (fb_clean, fb_lossy) = (
        mean(&clean(feedback), &residue),
        mean(&lossy(feedback), &residue),
    );
    assert!(
        (fb_lossy - fb_clean).abs() < 0.02,
        "feedback residue should not care about loss: {fb_clean} -> {fb_lossy}"
    );
    assert!(mean(&lossy(feedback), &t_last) > 1.5 * mean(&clean(feedback), &t_last));
}

#[test]
fn sequential_schedule_changes_duplicates_not_who_anti_entropy_reaches() {
    // Under both schedules a site is infected in cycle t iff some partner had the
    // update at the start of t, so coverage curves agree exactly; only the number of
    // redundant copies differs.
    for algo in ["ae:push", "ae:pull", "ae:push-pull"] {
        let sync = params(3000, algo).seed(5).build().unwrap();
        let seq = params(3000, algo)
            .seed(5)
            .schedule(Schedule::Sequential)
            .build()
            .unwrap();
        let a = run_trial(&sync, 0, 0, false).unwrap().metrics;
        let b = run_trial(&seq, 0, 0, false).unwrap().metrics;
        assert_eq!(a.curve, b.curve, "{algo}");
        assert!(b.duplicates_per_node <= a.duplicates_per_node, "{algo}");
    }
}

#[test]
fn mesh_reaches_everyone_with_d_minus_2_duplicates_and_reports_control_traffic() {
    let cfg = MeshConfig::default();
    let p = params(20_000, "mesh").mesh(cfg).trials(2).build().unwrap();
    let report = run(&p, |_| {}).unwrap();
    let s = &report.summaries[0];
    assert_eq!(s.residue.mean, Some(0.0));
    let dup = s.duplicates_per_node.mean.unwrap();
    // Eager push alone gives D - 2 + 2/n; IWANT replies that race an eager copy add a
    // little.
    assert!((4.0..4.2).contains(&dup), "duplicates per node {dup}");
    let ihave = s.ihave_per_node.mean.unwrap();
    // Every node advertises at history_gossip heartbeats to D_lazy peers.
    let expected = f64::from(cfg.history_gossip * cfg.d_lazy);
    assert!((ihave - expected).abs() < 1e-9, "IHAVE per node {ihave}");
    // Eager push over 20-100 ms links reaches everyone well within one heartbeat.
    assert!(s.coverage_100.mean.unwrap() < f64::from(cfg.heartbeat_ms));
}

#[test]
fn run_trial_rejects_an_index_out_of_range() {
    let p = params(100, "ae:push").build().unwrap();
    assert!(matches!(
        run_trial(&p, 1, 0, false),
        Err(rumor_sim::RunError::NoSuchAlgorithm { index: 1, count: 1 })
    ));
}

#[test]
fn mesh_runs_stop_at_the_time_limit_and_say_so() {
    let cfg = MeshConfig {
        max_time_ms: 150,
        ..MeshConfig::default()
    };
    let p = params(10_000, "mesh").mesh(cfg).build().unwrap();
    let m = run_trial(&p, 0, 0, false).unwrap().metrics;
    assert!(m.truncated);
    assert!(m.end <= 150.0);
    assert!(m.residue > 0.0 && m.reached > 1);
    assert!(m.t_last.unwrap() <= 150.0);
}

/// Demers' counter read two ways: blind contacts always count, so the
/// consecutive reading (reset on a useful contact) can never differ from the
/// plain counter there; nor at k = 1, where the first unnecessary contact
/// removes the site either way. With feedback and k > 1 the reset keeps
/// sites infective longer, so fewer sites are missed and more messages sent.
#[test]
fn consecutive_counter_equals_counter_when_blind_and_spreads_further_with_feedback() {
    let runs = |algo: &str| {
        let p = params(1000, algo)
            .trials(200)
            .seed(5)
            .ks([1, 2])
            .build()
            .unwrap();
        run(&p, |_| {}).unwrap().summaries
    };
    let blind = runs("rumor:push:blind:counter");
    let blind_consecutive = runs("rumor:push:blind:consecutive");
    for (a, b) in blind.iter().zip(&blind_consecutive) {
        assert_eq!(a.runs, b.runs, "{} vs {}", a.label, b.label);
    }
    let counter = runs("rumor:push:feedback:counter");
    let consecutive = runs("rumor:push:feedback:consecutive");
    assert_eq!(counter[0].runs, consecutive[0].runs, "k = 1");
    for (a, b) in counter.iter().zip(&consecutive).skip(1) {
        let mean = |s: &rumor_sim::Summary, f: fn(&rumor_sim::RunMetrics) -> f64| {
            s.runs.iter().map(f).sum::<f64>() / s.runs.len() as f64
        };
        let (sa, sb) = (mean(a, |r| r.residue), mean(b, |r| r.residue));
        let (ma, mb) = (mean(a, |r| r.traffic), mean(b, |r| r.traffic));
        assert!(sb < 0.8 * sa, "{}: residue {sb} not below {sa}", b.label);
        assert!(mb > ma, "{}: traffic {mb} not above {ma}", b.label);
    }
}

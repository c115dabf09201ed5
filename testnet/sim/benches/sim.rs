//! Simulator throughput: one single-update trial per iteration, per algorithm family.
//!
//! Speed targets (10^5 sites in under 10 s, 10^6 in under 2 minutes on one core) are
//! measured here and by the CLI, and recorded in `docs/simulator.md`; no test asserts
//! them.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rumor_sim::{AlgoSpec, SimParams, run_trial};

fn families(c: &mut Criterion) {
    let mut group = c.benchmark_group("single_update_trial");
    group.sample_size(10);
    for n in [10_000u32, 100_000] {
        for algo in [
            "ae:push",
            "ae:pull",
            "ae:push-pull",
            "rumor:push:feedback:counter",
            "rumor:pull:feedback:counter",
            "rumor:push-pull:feedback:counter",
            "fanout",
            "mesh",
        ] {
            let params = SimParams::builder()
                .nodes(n)
                .algo(algo.parse::<AlgoSpec>().expect("selector"))
                .build()
                .expect("valid parameters");
            let mut trial = 0;
            group.bench_with_input(BenchmarkId::new(algo, n), &params, |b, p| {
                b.iter(|| {
                    trial += 1;
                    black_box(run_trial(p, 0, trial, false).expect("run").metrics.reached)
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, families);
criterion_main!(benches);

//! Bad input: every parameter rule fails before any work starts, with its own variant.

use rumor_sim::{
    AlgoSpec, MAX_MESH_MS, MAX_MESH_RUN_MS, MAX_NODES, MeshConfig, ParamError, SimParams,
    SimParamsBuilder,
};

fn with(algo: &str) -> SimParamsBuilder {
    SimParams::builder().algo(algo.parse::<AlgoSpec>().expect("selector"))
}

fn mesh(f: impl FnOnce(&mut MeshConfig)) -> MeshConfig {
    let mut m = MeshConfig::default();
    f(&mut m);
    m
}

#[test]
fn population_rules() {
    assert_eq!(
        with("ae").nodes(1).build().unwrap_err(),
        ParamError::TooFewNodes(1)
    );
    assert_eq!(
        with("ae").nodes(0).build().unwrap_err(),
        ParamError::TooFewNodes(0)
    );
    assert_eq!(
        with("ae").nodes(MAX_NODES + 1).build().unwrap_err(),
        ParamError::TooManyNodes(MAX_NODES + 1)
    );
    assert!(with("ae").nodes(2).build().is_ok());
}

#[test]
fn run_rules() {
    assert_eq!(
        with("ae").trials(0).build().unwrap_err(),
        ParamError::NoTrials
    );
    assert_eq!(
        SimParams::builder().build().unwrap_err(),
        ParamError::NoAlgorithms
    );
    assert_eq!(
        with("ae").max_cycles(0).build().unwrap_err(),
        ParamError::ZeroMaxCycles
    );
}

#[test]
fn probabilities_must_be_in_range() {
    assert_eq!(
        with("ae").loss(-0.1).build().unwrap_err(),
        ParamError::LossOutOfRange(-0.1)
    );
    assert_eq!(
        with("ae").loss(1.0).build().unwrap_err(),
        ParamError::LossOutOfRange(1.0)
    );
    assert_eq!(
        with("ae").loss(1.5).build().unwrap_err(),
        ParamError::LossOutOfRange(1.5)
    );
    assert!(matches!(
        with("ae").loss(f64::NAN).build().unwrap_err(),
        ParamError::LossOutOfRange(x) if x.is_nan()
    ));
    assert!(with("ae").loss(0.0).build().is_ok());
    assert!(with("ae").loss(0.99).build().is_ok());
}

#[test]
fn k_rules() {
    assert_eq!(
        with("rumor").ks([0]).build().unwrap_err(),
        ParamError::ZeroK
    );
    assert_eq!(
        with("rumor").ks([1, 2, 0]).build().unwrap_err(),
        ParamError::ZeroK
    );
    // k is checked even when no rumor variant is selected: 0 is never meaningful.
    assert_eq!(with("ae").ks([0]).build().unwrap_err(), ParamError::ZeroK);
    assert_eq!(with("rumor").ks([]).build().unwrap_err(), ParamError::NoK);
    let p = with("rumor").ks([1, 5]).build().unwrap();
    assert_eq!(p.algorithms().len(), 12 * 2);
}

#[test]
fn fanout_rules() {
    assert_eq!(
        with("fanout").fanout(0).build().unwrap_err(),
        ParamError::ZeroFanout
    );
    assert_eq!(
        with("fanout").nodes(16).fanout(16).build().unwrap_err(),
        ParamError::FanoutTooLarge {
            fanout: 16,
            nodes: 16
        }
    );
    assert_eq!(
        with("fanout").nodes(16).fanout(40).build().unwrap_err(),
        ParamError::FanoutTooLarge {
            fanout: 40,
            nodes: 16
        }
    );
    assert!(with("fanout").nodes(16).fanout(15).build().is_ok());
    assert_eq!(
        with("fanout").period_ms(0).build().unwrap_err(),
        ParamError::ZeroPeriod
    );
    // Unselected families are not checked.
    assert!(with("ae").fanout(0).build().is_ok());
}

#[test]
fn mesh_rules() {
    let m = |f: fn(&mut MeshConfig)| with("mesh").nodes(16).mesh(mesh(f)).build().unwrap_err();
    assert_eq!(m(|c| c.d = 0), ParamError::ZeroMeshDegree);
    assert_eq!(
        m(|c| c.d = 16),
        ParamError::MeshDegreeTooLarge { d: 16, nodes: 16 }
    );
    assert_eq!(
        m(|c| c.d = 100),
        ParamError::MeshDegreeTooLarge { d: 100, nodes: 16 }
    );
    assert_eq!(
        with("mesh")
            .nodes(15)
            .mesh(mesh(|c| c.d = 3))
            .build()
            .unwrap_err(),
        ParamError::MeshDegreeParity { d: 3, nodes: 15 }
    );
    assert_eq!(
        m(|c| {
            c.d = 10;
            c.d_lazy = 6;
        }),
        ParamError::LazyTooLarge {
            d_lazy: 6,
            available: 5
        }
    );
    assert_eq!(
        m(|c| c.heartbeat_ms = 0),
        ParamError::HeartbeatOutOfRange(0)
    );
    assert_eq!(
        m(|c| c.heartbeat_ms = MAX_MESH_MS + 1),
        ParamError::HeartbeatOutOfRange(MAX_MESH_MS + 1)
    );
    assert_eq!(m(|c| c.history_gossip = 0), ParamError::ZeroHistoryGossip);
    assert_eq!(
        m(|c| {
            c.delay_min_ms = 50;
            c.delay_max_ms = 10;
        }),
        ParamError::DelayRangeInverted { min: 50, max: 10 }
    );
    assert_eq!(
        m(|c| c.delay_max_ms = MAX_MESH_MS + 1),
        ParamError::DelayTooLarge(MAX_MESH_MS + 1)
    );
    assert_eq!(m(|c| c.sample_ms = 0), ParamError::ZeroSampleStep);
    assert_eq!(m(|c| c.max_time_ms = 0), ParamError::MaxTimeOutOfRange(0));
    assert_eq!(
        m(|c| c.max_time_ms = MAX_MESH_RUN_MS + 1),
        ParamError::MaxTimeOutOfRange(MAX_MESH_RUN_MS + 1)
    );
    // D = n - 1 (the complete graph) and D_lazy = 0 with no history are fine.
    assert!(
        with("mesh")
            .nodes(16)
            .mesh(mesh(|c| {
                c.d = 15;
                c.d_lazy = 0;
                c.history_gossip = 0;
            }))
            .build()
            .is_ok()
    );
}

#[test]
fn messages_name_the_flag_and_the_rule() {
    let msg = |e: ParamError| e.to_string();
    assert!(msg(ParamError::TooFewNodes(1)).contains("--nodes must be at least 2"));
    assert!(
        msg(ParamError::FanoutTooLarge {
            fanout: 16,
            nodes: 16
        })
        .contains("--fanout 16 must be smaller than --nodes 16")
    );
    assert!(msg(ParamError::ZeroK).contains("--k must be at least 1"));
    assert!(msg(ParamError::LossOutOfRange(2.0)).contains("not a probability in [0, 1)"));
    assert!(
        msg(ParamError::MeshDegreeTooLarge { d: 20, nodes: 16 })
            .contains("--mesh-d 20 is larger than n - 1 = 15")
    );
}

//! Property tests for the JSON-RPC request path (the stable twin of
//! `fuzz/`'s `rpc_request`): arbitrary text, and generated JSON-RPC calls of
//! every method with parameters of every shape, into the node's real method
//! module over a real node core (redb store, mempool, p2p on 127.0.0.1);
//! and arbitrary `Authorization` headers into the credential check. Never a
//! panic; every answer is a JSON-RPC response. (`generatetoaddress` and
//! `stop` are left out: they mine or stop, which tests nothing here.)
//!
//! `RUMOR_RELIABILITY_OUT=DIR` records the case counts and each result
//! (pass, or the minimal failing input) in `DIR/props.json`.

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rumor_node::rpc::{RpcContext, authorized, module};
use serde_json::{Value, json};

const CASES: u32 = 512;

#[path = "../../tests/props.rs"]
mod props;

fn run<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    props::run(name, CASES, strategy, test);
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    module: jsonrpsee::RpcModule<RpcContext>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let params = rumor_chain::Params::new(rumor_chain::Network::Regtest)
            .with_genesis_outputs(50)
            .unwrap();
        let module = rt.block_on(async {
            let store =
                rumor_node::RedbStore::open(&dir.path().join("chain.redb"), &params).unwrap();
            let chain = rumor_chain::ChainState::open(params.clone(), store).unwrap();
            let shutdown = rumor_node::Shutdown::new();
            let core = Arc::new(rumor_node::NodeCore::new(
                chain,
                rumor_chain::MempoolConfig::default(),
                shutdown.clone(),
            ));
            let cfg = rumor_p2p::P2pConfig {
                network: "regtest".into(),
                discovery: false,
                ..rumor_p2p::P2pConfig::default()
            };
            let p2p = rumor_p2p::start(cfg, rumor_p2p::Keypair::generate_ed25519())
                .await
                .unwrap();
            let mut events = p2p.events;
            tokio::spawn(async move { while events.recv().await.is_some() {} });
            let (validator, _thread) = rumor_node::Validator::start(
                Arc::clone(&core),
                p2p.handle.clone(),
                p2p.bodies,
                Arc::new(rumor_node::NodeMetrics::new()),
                rumor_node::AdmissionLimits::default(),
                shutdown.clone(),
            )
            .unwrap();
            let ctx = RpcContext {
                core: Arc::clone(&core),
                p2p: p2p.handle.clone(),
                validator,
                shutdown,
                relay: rumor_p2p::RelayMode::Announce,
                link: rumor_p2p::LinkConfig::default(),
                mempool_file: rumor_node::MempoolFile::new(dir.path().join("mempool.dat")),
            };
            module(ctx)
        });
        Fixture {
            rt,
            module,
            _dir: dir,
        }
    })
}

/// Sends `text` as one request; checks the answer is a JSON-RPC response.
fn call(text: &str) -> Result<(), TestCaseError> {
    if text.contains("generatetoaddress") || text.contains("stop") {
        return Ok(());
    }
    let f = fixture();
    if let Ok((answer, _)) = f.rt.block_on(f.module.raw_json_request(text, 1)) {
        let v: Value = serde_json::from_str(answer.get()).expect("JSON answer");
        prop_assert!(
            v.get("result").is_some() || v.get("error").is_some(),
            "{}",
            v
        );
    }
    Ok(())
}

const METHODS: &[&str] = &[
    "getblockchaininfo",
    "getbestblockhash",
    "getblockcount",
    "getblockhash",
    "getblock",
    "getblockheader",
    "getrawtransaction",
    "sendrawtransaction",
    "gettxout",
    "listunspent",
    "getbalance",
    "getrawmempool",
    "getmempoolinfo",
    "getmempoolentry",
    "getmemoryinfo",
    "getpeerinfo",
    "getnetworkinfo",
    "getrelaystats",
    "getpropagation",
    "verifychain",
    "help",
    "nosuchmethod",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "00".repeat(32),
            "ff".repeat(32),
            "zz".into(),
            "rumorreg1qqqqqq".into(),
            "0100".into(),
            String::new(),
        ])
        .prop_map(Value::from),
        "[ -~]{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["ids", "since_ns", "limit", "txid", "height", "x"])
                    .prop_map(str::to_owned),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn arbitrary_text_as_a_request() {
    run(
        "node: JSON-RPC request, arbitrary text",
        prop::collection::vec(any::<u8>(), 0..200),
        |bytes| call(&String::from_utf8_lossy(&bytes)),
    );
}

#[test]
fn every_method_with_parameters_of_every_shape() {
    run(
        "node: JSON-RPC request, every method with generated params",
        (prop::sample::select(METHODS), json_value(), any::<bool>()),
        |(method, params, with_params)| {
            let mut req = json!({"jsonrpc": "2.0", "id": 7, "method": method});
            if with_params {
                req["params"] = params;
            }
            call(&req.to_string())
        },
    );
}

#[test]
fn arbitrary_authorization_headers() {
    run(
        "node: RPC credential check, arbitrary Authorization headers",
        prop::collection::vec(any::<u8>(), 0..120),
        |bytes| {
            let mut headers = hyper::HeaderMap::new();
            if let Ok(v) = hyper::header::HeaderValue::from_bytes(&bytes) {
                headers.insert(hyper::header::AUTHORIZATION, v);
                prop_assert!(!authorized(&headers, b"user:correct horse battery staple"));
            }
            Ok(())
        },
    );
}

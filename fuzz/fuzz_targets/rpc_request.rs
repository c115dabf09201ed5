//! The JSON-RPC request path behind the HTTP layer: arbitrary text as a
//! JSON-RPC request into the node's real method module (jsonrpsee request
//! parsing, method dispatch, rumor's positional/named parameter parsing and
//! every method's argument checks) over a real node core (redb store,
//! mempool, p2p layer on 127.0.0.1) — and the Basic-auth header check in
//! front of it. Never panics; every answer is a JSON-RPC response.
//!
//! `generatetoaddress` and `stop` are skipped: they mine thousands of blocks
//! or stop the core, which costs time without testing parsing (their
//! parameter checks are shared with the other methods).
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use rumor_node::rpc::{RpcContext, authorized, module};

struct Fixture {
    rt: tokio::runtime::Runtime,
    module: jsonrpsee::RpcModule<RpcContext>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let params = rumor_fuzz::params().clone();
        let module = rt.block_on(async {
            let store = rumor_node::RedbStore::open(&dir.path().join("chain.redb"), &params)
                .expect("store");
            let chain = rumor_chain::ChainState::open(params.clone(), store).expect("chain");
            let shutdown = rumor_node::Shutdown::new();
            let core = Arc::new(rumor_node::NodeCore::new(
                chain,
                rumor_chain::MempoolConfig::default(),
                shutdown.clone(),
            ));
            let cfg = rumor_p2p::P2pConfig {
                network: params.network.name().to_owned(),
                discovery: false,
                ..rumor_p2p::P2pConfig::default()
            };
            let p2p = rumor_p2p::start(cfg, rumor_p2p::Keypair::generate_ed25519())
                .await
                .expect("p2p");
            // Keep the event stream drained.
            let mut events = p2p.events;
            tokio::spawn(async move { while events.recv().await.is_some() {} });
            let (validator, thread) = rumor_node::Validator::start(
                Arc::clone(&core),
                p2p.handle.clone(),
                p2p.bodies,
                Arc::new(rumor_node::NodeMetrics::new()),
                rumor_node::AdmissionLimits::default(),
                shutdown.clone(),
            )
            .expect("validator");
            std::mem::forget(thread);
            let ctx = RpcContext {
                core: Arc::clone(&core),
                p2p: p2p.handle.clone(),
                validator,
                shutdown,
                relay: rumor_p2p::RelayMode::Announce,
                link: rumor_p2p::LinkConfig::default(),
                mempool_file: rumor_node::MempoolFile::new(dir.path().join("mempool.dat")),
            };
            std::mem::forget(p2p.task);
            module(ctx)
        });
        Fixture {
            rt,
            module,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 8 == 0 {
        // The Authorization header check.
        let mut headers = hyper::HeaderMap::new();
        if let Ok(v) = hyper::header::HeaderValue::from_bytes(rest) {
            headers.insert(hyper::header::AUTHORIZATION, v);
            let _ = authorized(&headers, b"user:password");
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if text.contains("generatetoaddress") || text.contains("stop") {
        return;
    }
    let f = fixture();
    let answer = f.rt.block_on(f.module.raw_json_request(text, 1));
    if let Ok((response, _)) = answer {
        let v: serde_json::Value =
            serde_json::from_str(response.get()).expect("the answer is JSON");
        assert!(v.get("result").is_some() || v.get("error").is_some(), "{v}");
    }
});

//! Test support: in-memory nodes (rumor-chain's acceptance pipeline over a
//! `MemStore`, playing the node's part for the p2p layer: validating its
//! bodies and answering its questions), a way to start many of them on
//! 127.0.0.1, and transaction builders that spend genesis faucet outputs.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumor_chain::{
    Address, Amount, Block, BlockHash, BlockSpec, ChainState, DecodedBlock, DecodedTx, KeyPair,
    MemStore, Mempool, MempoolConfig, Network, NodeState, Object, OutPoint, Outcome, Params,
    Transaction, TxIn, TxOut, Txid, Verdict, build_block, decode_body,
};
use rumor_p2p::{
    Accepted, CompactBlock, Inv, Judgement, Keypair, LinkConfig, MeshConfig, P2p, P2pConfig,
    P2pEvent, P2pHandle, Query, RelayMode, RelayStats, SyncStatus, ValidationRequest,
};
use tokio::sync::mpsc::Receiver;
use tokio::sync::watch;

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn params() -> Params {
    Params::new(Network::Regtest)
        .with_genesis_outputs(2000)
        .unwrap()
}

/// The genesis coinbase txid of [`params`] (computed once).
pub fn genesis_txid() -> Txid {
    static ID: std::sync::OnceLock<Txid> = std::sync::OnceLock::new();
    *ID.get_or_init(|| params().genesis_block().txs[0].txid())
}

/// Faucet key `i % 100` (computed once).
pub fn faucet_key(i: u32) -> KeyPair {
    static KEYS: std::sync::OnceLock<Vec<KeyPair>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| params().faucet_keypairs())[(i % 100) as usize].clone()
}

/// A node's chain and mempool: rumor-chain's one acceptance pipeline
/// ([`NodeState`]) over a [`MemStore`], as the node runs it over redb.
pub struct TestState {
    pub params: Params,
    state: Mutex<NodeState<MemStore>>,
    /// Objects accepted so far, for waiting on acceptance without polling.
    accepted: watch::Sender<u64>,
}

impl TestState {
    pub fn new(params: Params) -> Arc<Self> {
        let chain = ChainState::open(params.clone(), MemStore::new()).unwrap();
        let mempool = Mempool::new(params.clone(), MempoolConfig::default());
        Arc::new(Self {
            params,
            state: Mutex::new(NodeState::new(chain, mempool)),
            accepted: watch::channel(0).0,
        })
    }

    /// Objects accepted so far; it changes with every accepting batch.
    pub fn accepted(&self) -> watch::Receiver<u64> {
        self.accepted.subscribe()
    }

    pub fn mempool_len(&self) -> usize {
        self.state.lock().unwrap().mempool().len()
    }

    pub fn has_tx(&self, txid: &Txid) -> bool {
        self.state.lock().unwrap().mempool().contains(txid)
    }

    pub fn tip(&self) -> (u64, BlockHash) {
        let s = self.state.lock().unwrap();
        (s.chain().height(), s.chain().tip().hash)
    }

    pub fn mempool_short_ids(&self) -> Vec<u64> {
        self.state.lock().unwrap().mempool().short_ids()
    }

    /// Validates and accepts, in order; returns the outcomes and the bodies
    /// of what was accepted as a consequence (for the p2p layer to spread).
    pub fn process(&self, items: Vec<Result<Object, Outcome>>) -> (Vec<Outcome>, Vec<Accepted>) {
        let mut s = self.state.lock().unwrap();
        let committed = s.accept(items, now_ms(), |_| false);
        let mut also = Vec::new();
        let mut n = 0;
        for o in &committed.outcomes {
            if let Verdict::Accepted { also: invs } = &o.verdict {
                n += 1 + invs.len() as u64;
                for inv in invs {
                    also.extend(relayable(&s, *inv));
                }
            }
        }
        drop(s);
        if n > 0 {
            self.accepted.send_modify(|c| *c += n);
        }
        (committed.outcomes, also)
    }

    /// Submits a transaction locally (as RPC would).
    pub fn submit_tx(&self, tx: &Transaction) -> (Verdict, Vec<Accepted>) {
        let item = Ok(Object::Tx(DecodedTx::new(tx.clone())));
        let (mut outcomes, also) = self.process(vec![item]);
        (outcomes.pop().unwrap().verdict, also)
    }

    /// Mines a block on the tip from the mempool and accepts it locally.
    pub fn mine(&self, miner: u8) -> (Block, Vec<Accepted>) {
        let block = {
            let s = self.state.lock().unwrap();
            let (txs, fees) = s.mempool().block_template(1_000_000);
            let tip = s.chain().tip();
            let time = (s.chain().median_time_past(&tip.hash) + 1).max(now_ms());
            let mut extra = [0u8; 56];
            extra[0] = miner;
            build_block(
                &self.params,
                &BlockSpec {
                    prev: tip.hash,
                    height: tip.height + 1,
                    time,
                    pay_to: KeyPair::from_seed([miner; 32]).address(),
                    fees,
                    extra,
                },
                txs.into_iter().map(|t| t.tx().clone()).collect(),
            )
        };
        let item = Ok(Object::Block(DecodedBlock::new(block.clone())));
        let (mut outcomes, also) = self.process(vec![item]);
        let v = outcomes.pop().unwrap().verdict;
        assert!(matches!(v, Verdict::Accepted { .. }), "own block: {v:?}");
        (block, also)
    }

    /// Answers one of the p2p layer's questions.
    pub fn answer(&self, query: Query) {
        let s = self.state.lock().unwrap();
        let (chain, pool) = (s.chain(), s.mempool());
        match query {
            Query::Bodies { invs, reply, .. } => {
                let _ = reply.send(
                    invs.iter()
                        .map(|i| relayable(&s, *i).map(|a| a.bytes))
                        .collect(),
                );
            }
            Query::Status { reply } => {
                let tip = chain.tip();
                let _ = reply.send(SyncStatus {
                    height: tip.height,
                    tip: tip.hash,
                    work: tip.chain_work,
                    mempool_digest: pool.digest(),
                    mempool_len: pool.len() as u32,
                });
            }
            Query::MempoolShortIds { reply } => {
                let _ = reply.send(pool.short_ids());
            }
            Query::TxsByShortId { ids, reply } => {
                let found = ids
                    .iter()
                    .filter_map(|id| {
                        let mut it = pool.by_short_id(*id);
                        match (it.next(), it.next()) {
                            (Some(t), None) => Some(Bytes::from(t.tx().encode())),
                            _ => None,
                        }
                    })
                    .collect();
                let _ = reply.send(found);
            }
            Query::Headers {
                locator,
                max,
                reply,
            } => {
                let _ = reply.send(chain.headers_after(&locator, max));
            }
            Query::Locator { reply } => {
                let _ = reply.send(chain.locator());
            }
            Query::Missing { invs, reply } => {
                let missing = invs
                    .into_iter()
                    .filter(|inv| match inv {
                        Inv::Tx(t) => !pool.contains(t),
                        Inv::Block(h) => chain.entry(h).is_none_or(|e| e.invalid),
                    })
                    .collect();
                let _ = reply.send(missing);
            }
            Query::Compact { block, reply } => {
                let b = chain.block(&block).unwrap();
                let _ = reply.send(b.map(|b| CompactBlock::of(&b, &b.txids())));
            }
            Query::BlockTxs {
                block,
                indexes,
                reply,
            } => {
                let b = chain.block(&block).unwrap();
                let txs = b.and_then(|b| {
                    indexes
                        .iter()
                        .map(|i| b.txs.get(*i as usize).map(|t| Bytes::from(t.encode())))
                        .collect()
                });
                let _ = reply.send(txs);
            }
        }
    }
}

/// An object the state holds, with its body, for the p2p layer to spread.
fn relayable(s: &NodeState<MemStore>, inv: Inv) -> Option<Accepted> {
    match inv {
        Inv::Tx(txid) => s.mempool().tx(&txid).map(|t| Accepted {
            inv,
            bytes: Bytes::from(t.encode()),
            compact: None,
        }),
        Inv::Block(hash) => s.chain().block(&hash).unwrap().map(|b| Accepted {
            inv,
            bytes: Bytes::from(b.encode()),
            compact: Some(CompactBlock::of(&b, &b.txids())),
        }),
    }
}

/// Plays the node's part for a p2p layer: validates its bodies in batches
/// and answers its questions, with `state`.
fn serve_node(
    handle: P2pHandle,
    mut bodies: Receiver<ValidationRequest>,
    mut events: Receiver<P2pEvent>,
    state: Arc<TestState>,
) {
    let s = Arc::clone(&state);
    tokio::spawn(async move {
        while let Some(first) = bodies.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = bodies.try_recv() {
                batch.push(more);
                if batch.len() >= 512 {
                    break;
                }
            }
            let items = batch.iter().map(|r| decode_body(r.inv, &r.bytes)).collect();
            let (outcomes, also) = s.process(items);
            let judged = batch
                .iter()
                .zip(outcomes)
                .map(|(r, o)| {
                    let compact = match (&o.verdict, r.inv) {
                        (Verdict::Accepted { .. }, Inv::Block(_)) => {
                            relayable_in(&s, r.inv).and_then(|a| a.compact)
                        }
                        _ => None,
                    };
                    Judgement {
                        inv: r.inv,
                        verdict: o.verdict,
                        compact,
                    }
                })
                .collect();
            if handle.judge(judged).await.is_err() || handle.accepted(also).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            if let P2pEvent::Query(q) = ev {
                state.answer(q);
            }
        }
    });
}

fn relayable_in(state: &TestState, inv: Inv) -> Option<Accepted> {
    relayable(&state.state.lock().unwrap(), inv)
}

/// Fast timers for tests.
pub fn config(relay: RelayMode) -> P2pConfig {
    P2pConfig {
        network: "regtest".into(),
        relay,
        discovery: false,
        mesh: MeshConfig {
            d: 4,
            d_low: 3,
            d_high: 8,
            d_lazy: 4,
            heartbeat: Duration::from_millis(100),
            history_gossip: 3,
        },
        sync_interval: Duration::from_millis(300),
        fetch_timeout: Duration::from_millis(800),
        ping_interval: Duration::from_secs(1),
        ping_timeout: Duration::from_secs(5),
        link: LinkConfig::default(),
        ..P2pConfig::default()
    }
}

pub struct TestNode {
    pub handle: P2pHandle,
    pub state: Arc<TestState>,
    pub addr: rumor_p2p::Multiaddr,
    pub task: tokio::task::JoinHandle<()>,
}

impl TestNode {
    pub async fn stats(&self) -> RelayStats {
        self.handle.stats().await.unwrap()
    }

    /// Submits locally and hands it to p2p, as the node's RPC path does.
    pub async fn submit(&self, tx: Transaction) {
        let inv = Inv::Tx(tx.txid());
        let (v, mut also) = self.state.submit_tx(&tx);
        assert!(matches!(v, Verdict::Accepted { .. }), "submit: {v:?}");
        also.insert(
            0,
            Accepted {
                inv,
                bytes: Bytes::from(tx.encode()),
                compact: None,
            },
        );
        self.handle.accepted(also).await.unwrap();
    }

    pub async fn mine(&self, miner: u8) -> Block {
        let (b, mut also) = self.state.mine(miner);
        also.insert(
            0,
            Accepted {
                inv: Inv::Block(b.hash()),
                bytes: Bytes::from(b.encode()),
                compact: Some(CompactBlock::of(&b, &b.txids())),
            },
        );
        self.handle.accepted(also).await.unwrap();
        b
    }
}

pub async fn start_node(
    cfg: P2pConfig,
    state: Arc<TestState>,
    bootnodes: Vec<rumor_p2p::Multiaddr>,
) -> TestNode {
    let cfg = P2pConfig { bootnodes, ..cfg };
    let key = Keypair::generate_ed25519();
    let P2p {
        handle,
        events,
        bodies,
        task,
    } = rumor_p2p::start(cfg, key).await.unwrap();
    serve_node(handle.clone(), bodies, events, Arc::clone(&state));
    let peer = handle.peer_id();
    let addr = handle.listen_addrs().await.unwrap()[0]
        .clone()
        .with_p2p(peer)
        .unwrap();
    TestNode {
        handle,
        state,
        addr,
        task,
    }
}

/// Starts `n` nodes connected along `edges` (i dials j).
pub async fn start_graph(n: usize, edges: &[(usize, usize)], cfg: &P2pConfig) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(start_node(cfg.clone(), TestState::new(params()), vec![]).await);
    }
    for (i, j) in edges {
        nodes[*i].handle.dial(nodes[*j].addr.clone()).await.unwrap();
    }
    nodes
}

/// A random connected graph in which every node has about `degree` links:
/// a ring (connectivity) plus random chords.
pub fn random_graph(n: usize, degree: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut edges: Vec<(usize, usize)> = (0..n).map(|i| (i, (i + 1) % n)).collect();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let extra = n * degree.saturating_sub(2) / 2;
    while edges.len() < n + extra {
        let a = (next() % n as u64) as usize;
        let b = (next() % n as u64) as usize;
        if a != b && !edges.contains(&(a, b)) && !edges.contains(&(b, a)) {
            edges.push((a, b));
        }
    }
    edges
}

pub fn line(n: usize) -> Vec<(usize, usize)> {
    (0..n - 1).map(|i| (i, i + 1)).collect()
}

/// Waits until `cond` holds, polling; panics with `what` after `timeout`.
pub async fn wait_for<F, Fut>(timeout: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if cond().await {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every node has at least `min` mesh peers on both topics (or
/// as many peers as it has connections).
pub async fn wait_for_mesh(nodes: &[TestNode], min: usize) {
    wait_for(Duration::from_secs(20), "gossip meshes", || async {
        for n in nodes {
            let s = n.stats().await;
            let want = min.min(s.peers);
            if s.peers == 0 || s.mesh_tx < want || s.mesh_block < want {
                return false;
            }
        }
        true
    })
    .await;
}

/// A transaction spending genesis output `i` to a fresh address, with a fee.
pub fn faucet_tx(params: &Params, i: u32) -> Transaction {
    let key = faucet_key(i);
    let coinbase = genesis_txid();
    let value = params.genesis_output_amount.units();
    let fee = 1000;
    let mut tx = Transaction {
        version: 1,
        inputs: vec![TxIn::unsigned(OutPoint::new(coinbase, i), key.public())],
        outputs: vec![
            TxOut {
                amount: Amount::new(value / 2).unwrap(),
                address: Address([i as u8; 20]),
            },
            TxOut {
                amount: Amount::new(value - value / 2 - fee).unwrap(),
                address: key.address(),
            },
        ],
    };
    tx.sign(&[&key]).unwrap();
    tx
}

/// A transaction with a broken signature (otherwise valid).
pub fn bad_sig_tx(params: &Params, i: u32) -> Transaction {
    let mut tx = faucet_tx(params, i);
    tx.inputs[0].signature.0[10] ^= 1;
    tx
}

pub fn counter(s: &RelayStats, name: &str) -> u64 {
    s.counters.get(name).copied().unwrap_or(0)
}

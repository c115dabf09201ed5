//! Test support: an in-memory node (chain + mempool behind the p2p
//! [`Backend`]), a way to start many of them on 127.0.0.1, and transaction
//! builders that spend genesis faucet outputs.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumor_chain::{
    AcceptOutcome, Address, Amount, Block, BlockHash, BlockHeader, BlockSpec, ChainState, KeyPair,
    MemStore, Mempool, MempoolConfig, MempoolError, Network, OutPoint, Params, Transaction, TxIn,
    TxOut, Txid, build_block, check_block, check_transactions,
};
use rumor_p2p::{
    Backend, Body, Inv, Keypair, LinkConfig, MeshConfig, ObjectKind, Origin, P2p, P2pConfig,
    RelayMode, RelayStats, SyncStatus, Verdict,
};

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

struct State {
    chain: ChainState<MemStore>,
    mempool: Mempool,
}

/// A node's chain and mempool, as the p2p layer sees them.
pub struct TestBackend {
    pub params: Params,
    state: Mutex<State>,
}

fn label(e: &impl std::fmt::Debug) -> String {
    let s = format!("{e:?}");
    s.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("error")
        .to_owned()
}

impl TestBackend {
    pub fn new(params: Params) -> Arc<Self> {
        let chain = ChainState::open(params.clone(), MemStore::new()).unwrap();
        let mempool = Mempool::new(params.clone(), MempoolConfig::default());
        Arc::new(Self {
            params,
            state: Mutex::new(State { chain, mempool }),
        })
    }

    pub fn mempool_len(&self) -> usize {
        self.state.lock().unwrap().mempool.len()
    }

    pub fn has_tx(&self, txid: &Txid) -> bool {
        self.state.lock().unwrap().mempool.contains(txid)
    }

    pub fn tip(&self) -> (u64, BlockHash) {
        let s = self.state.lock().unwrap();
        (s.chain.height(), s.chain.tip().hash)
    }

    /// Submits a transaction locally (as RPC would).
    pub fn submit_tx(&self, tx: Transaction) -> Verdict {
        let body = Body {
            inv: Inv::tx(tx.txid()),
            bytes: tx.encode().into(),
        };
        self.validate(vec![(Origin::Local, body)]).pop().unwrap()
    }

    /// Mines a block on the tip from the mempool and accepts it locally.
    pub fn mine(&self, miner: u8) -> Block {
        let block = {
            let s = self.state.lock().unwrap();
            let (txs, fees) = s.mempool.block_template(1_000_000);
            let tip = s.chain.tip();
            let time = (s.chain.median_time_past(&tip.hash) + 1).max(now_ms());
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
        let body = Body {
            inv: Inv::block(block.hash()),
            bytes: block.encode().into(),
        };
        let v = self.validate(vec![(Origin::Local, body)]).pop().unwrap();
        assert!(matches!(v, Verdict::Accepted { .. }), "own block: {v:?}");
        block
    }

    fn accept_block(&self, s: &mut State, block: Block, now: u64) -> Verdict {
        let mempool = &s.mempool;
        let checked = match check_block(block, &self.params, |t| mempool.contains(t)) {
            Ok(c) => c,
            Err(e) if e.is_temporary() => {
                return Verdict::NotYet {
                    reason: "time-too-new".into(),
                    fetch: None,
                };
            }
            Err(e) => {
                return Verdict::Invalid {
                    reason: label(&e).into(),
                };
            }
        };
        let hash = checked.hash();
        match s.chain.accept_block(checked, now) {
            Err(e) => Verdict::Invalid {
                reason: label(&e).into(),
            },
            Ok(AcceptOutcome::AlreadyKnown) => Verdict::Known,
            Ok(AcceptOutcome::Orphan { missing }) => Verdict::NotYet {
                reason: "orphan-block".into(),
                fetch: Some(Inv::block(missing)),
            },
            Ok(AcceptOutcome::Accepted(acc)) => {
                if let Some((_, e)) = acc.invalid.iter().find(|(h, _)| *h == hash) {
                    return Verdict::Invalid {
                        reason: label(e).into(),
                    };
                }
                let mut also: Vec<Inv> =
                    acc.stored.iter().skip(1).map(|h| Inv::block(*h)).collect();
                let mut readd = Vec::new();
                for b in acc.disconnected.iter().rev() {
                    readd.extend(b.txs.iter().skip(1).cloned());
                }
                let mut retry = Vec::new();
                for b in &acc.connected {
                    retry.extend(s.mempool.remove_for_block(b).orphans_to_retry);
                }
                let readd = check_transactions(readd, &self.params)
                    .into_iter()
                    .flatten();
                for tx in readd.chain(retry) {
                    if let Ok(a) = Self::to_mempool(s, tx, now) {
                        also.extend(a.adopted.into_iter().map(Inv::tx));
                    }
                }
                Verdict::Accepted { also }
            }
        }
    }

    fn to_mempool(
        s: &mut State,
        tx: rumor_chain::CheckedTx,
        now: u64,
    ) -> Result<rumor_chain::TxAccepted, MempoolError> {
        let outpoints: Vec<OutPoint> = tx.tx().inputs.iter().map(|i| i.prev).collect();
        let coins = s.chain.coins(&outpoints).unwrap();
        let height = s.chain.height();
        s.mempool.accept(tx, &coins, height, now)
    }
}

impl Backend for TestBackend {
    fn validate(&self, items: Vec<(Origin, Body)>) -> Vec<Verdict> {
        let now = now_ms();
        let mut out: Vec<Option<Verdict>> = vec![None; items.len()];
        let mut txs = Vec::new();
        let mut tx_pos = Vec::new();
        let mut blocks = Vec::new();
        for (i, (_, body)) in items.iter().enumerate() {
            match body.inv.kind {
                ObjectKind::Tx => match Transaction::decode(&body.bytes) {
                    Ok(tx) if tx.txid().0 == body.inv.id.0 => {
                        txs.push(tx);
                        tx_pos.push(i);
                    }
                    Ok(_) => {
                        out[i] = Some(Verdict::Invalid {
                            reason: "id-mismatch".into(),
                        })
                    }
                    Err(_) => {
                        out[i] = Some(Verdict::Invalid {
                            reason: "undecodable".into(),
                        })
                    }
                },
                ObjectKind::Block => match Block::decode(&body.bytes) {
                    Ok(b) if b.hash().0 == body.inv.id.0 => blocks.push((i, b)),
                    Ok(_) => {
                        out[i] = Some(Verdict::Invalid {
                            reason: "id-mismatch".into(),
                        })
                    }
                    Err(_) => {
                        out[i] = Some(Verdict::Invalid {
                            reason: "undecodable".into(),
                        })
                    }
                },
            }
        }
        let checked = check_transactions(txs, &self.params);
        let mut s = self.state.lock().unwrap();
        let mut block_iter = blocks.into_iter().peekable();
        let mut tx_iter = tx_pos.into_iter().zip(checked).peekable();
        // Process in the original order.
        for (i, slot) in out.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            if tx_iter.peek().is_some_and(|(p, _)| *p == i) {
                let (_, r) = tx_iter.next().unwrap();
                *slot = Some(match r {
                    Err(e) => Verdict::Invalid {
                        reason: label(&e).into(),
                    },
                    Ok(tx) => match Self::to_mempool(&mut s, tx, now) {
                        Ok(a) => Verdict::Accepted {
                            also: a.adopted.into_iter().map(Inv::tx).collect(),
                        },
                        Err(MempoolError::AlreadyInPool) => Verdict::Known,
                        Err(MempoolError::MissingInputs { .. }) => Verdict::NotYet {
                            reason: "orphan-tx".into(),
                            fetch: None,
                        },
                        Err(e) if e.is_policy() => Verdict::Policy {
                            reason: label(&e).into(),
                        },
                        Err(e) => Verdict::Invalid {
                            reason: label(&e).into(),
                        },
                    },
                });
            } else if block_iter.peek().is_some_and(|(p, _)| *p == i) {
                let (_, b) = block_iter.next().unwrap();
                *slot = Some(self.accept_block(&mut s, b, now));
            }
        }
        out.into_iter()
            .map(|v| v.expect("every item answered"))
            .collect()
    }

    fn has(&self, inv: &Inv) -> bool {
        let s = self.state.lock().unwrap();
        match inv.kind {
            ObjectKind::Tx => s.mempool.contains(&Txid(inv.id.0)),
            ObjectKind::Block => s
                .chain
                .entry(&BlockHash(inv.id.0))
                .is_some_and(|e| !e.invalid),
        }
    }

    fn bodies(&self, invs: &[Inv]) -> Vec<Option<Vec<u8>>> {
        let s = self.state.lock().unwrap();
        invs.iter()
            .map(|inv| match inv.kind {
                ObjectKind::Tx => s.mempool.tx(&Txid(inv.id.0)).map(Transaction::encode),
                ObjectKind::Block => s
                    .chain
                    .block(&BlockHash(inv.id.0))
                    .unwrap()
                    .map(|b| b.encode()),
            })
            .collect()
    }

    fn status(&self) -> SyncStatus {
        let s = self.state.lock().unwrap();
        let tip = s.chain.tip();
        SyncStatus {
            height: tip.height,
            tip: tip.hash,
            work: tip.chain_work,
            mempool_digest: s.mempool.digest(),
            mempool_len: s.mempool.len() as u32,
        }
    }

    fn mempool_short_ids(&self) -> Vec<u64> {
        self.state.lock().unwrap().mempool.short_ids()
    }

    fn mempool_txs_by_short_id(&self, ids: &[u64]) -> Vec<Option<Vec<u8>>> {
        let s = self.state.lock().unwrap();
        ids.iter()
            .map(|id| {
                let mut it = s.mempool.by_short_id(*id);
                match (it.next(), it.next()) {
                    (Some(t), None) => Some(t.tx().encode()),
                    _ => None,
                }
            })
            .collect()
    }

    fn locator(&self) -> Vec<BlockHash> {
        self.state.lock().unwrap().chain.locator()
    }

    fn headers_after(&self, locator: &[BlockHash], max: usize) -> Vec<BlockHeader> {
        self.state.lock().unwrap().chain.headers_after(locator, max)
    }
}

/// A backend that accepts anything and serves whatever it was given: the
/// adversary in validate-before-relay tests.
pub struct LiarBackend {
    pub objects: Mutex<HashMap<Inv, Vec<u8>>>,
}

impl LiarBackend {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            objects: Mutex::new(HashMap::new()),
        })
    }
    pub fn add(&self, inv: Inv, bytes: Vec<u8>) {
        self.objects.lock().unwrap().insert(inv, bytes);
    }
}

impl Backend for LiarBackend {
    fn validate(&self, items: Vec<(Origin, Body)>) -> Vec<Verdict> {
        items
            .iter()
            .map(|_| Verdict::Accepted { also: vec![] })
            .collect()
    }
    fn has(&self, inv: &Inv) -> bool {
        self.objects.lock().unwrap().contains_key(inv)
    }
    fn bodies(&self, invs: &[Inv]) -> Vec<Option<Vec<u8>>> {
        let o = self.objects.lock().unwrap();
        invs.iter().map(|i| o.get(i).cloned()).collect()
    }
    fn status(&self) -> SyncStatus {
        SyncStatus {
            height: 0,
            tip: BlockHash::ZERO,
            work: Default::default(),
            mempool_digest: rumor_chain::Hash256::ZERO,
            mempool_len: 0,
        }
    }
    fn mempool_short_ids(&self) -> Vec<u64> {
        Vec::new()
    }
    fn mempool_txs_by_short_id(&self, ids: &[u64]) -> Vec<Option<Vec<u8>>> {
        vec![None; ids.len()]
    }
    fn locator(&self) -> Vec<BlockHash> {
        Vec::new()
    }
    fn headers_after(&self, _: &[BlockHash], _: usize) -> Vec<BlockHeader> {
        Vec::new()
    }
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
    pub p2p: P2p,
    pub backend: Arc<TestBackend>,
    pub addr: rumor_p2p::Multiaddr,
}

impl TestNode {
    pub async fn stats(&self) -> RelayStats {
        self.p2p.handle.stats().await.unwrap()
    }

    /// Submits locally and announces, as the node's RPC path does.
    pub async fn submit(&self, tx: Transaction) {
        let inv = Inv::tx(tx.txid());
        let v = self.backend.submit_tx(tx);
        assert!(matches!(v, Verdict::Accepted { .. }), "submit: {v:?}");
        self.p2p.handle.announce(vec![inv]).await.unwrap();
    }

    pub async fn mine(&self, miner: u8) -> Block {
        let b = self.backend.mine(miner);
        self.p2p
            .handle
            .announce(vec![Inv::block(b.hash())])
            .await
            .unwrap();
        b
    }
}

pub async fn start_node(
    cfg: P2pConfig,
    backend: Arc<TestBackend>,
    bootnodes: Vec<rumor_p2p::Multiaddr>,
) -> TestNode {
    let cfg = P2pConfig { bootnodes, ..cfg };
    let key = Keypair::generate_ed25519();
    let p2p = rumor_p2p::start(cfg, key, backend.clone()).await.unwrap();
    let peer = p2p.handle.peer_id();
    let addr = p2p.handle.listen_addrs().await.unwrap()[0]
        .clone()
        .with_p2p(peer)
        .unwrap();
    TestNode { p2p, backend, addr }
}

/// Starts `n` nodes connected along `edges` (i dials j).
pub async fn start_graph(n: usize, edges: &[(usize, usize)], cfg: &P2pConfig) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(start_node(cfg.clone(), TestBackend::new(params()), vec![]).await);
    }
    for (i, j) in edges {
        nodes[*i]
            .p2p
            .handle
            .dial(nodes[*j].addr.clone())
            .await
            .unwrap()
            .unwrap();
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

//! In-process multi-node relay tests over real sockets on 127.0.0.1.

mod support;

use std::time::Duration;

use rumor_p2p::{FirstSeenQuery, Inv, RelayMode};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_20_nodes_200_txs_with_few_duplicate_bodies() {
    let cfg = config(RelayMode::Announce);
    let nodes = start_graph(20, &random_graph(20, 4, 7), &cfg).await;
    wait_for_mesh(&nodes, 2).await;
    let p = params();
    let mut invs = Vec::new();
    for i in 0..200u32 {
        let tx = faucet_tx(&p, i);
        invs.push(Inv::Tx(tx.txid()));
        nodes[(i as usize * 7) % 20].submit(tx).await;
    }
    let done = tokio::time::timeout(Duration::from_secs(60), async {
        while !nodes.iter().all(|n| n.state.mempool_len() == 200) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    if done.is_err() {
        for (i, n) in nodes.iter().enumerate() {
            let s = n.stats().await;
            eprintln!(
                "node {i}: mempool {} peers {} mesh {} {:?} rejects {:?} refusals {:?}",
                n.state.mempool_len(),
                s.peers,
                s.mesh_tx,
                s.counters,
                s.rejects,
                s.refusals
            );
        }
        panic!("not every node has every tx");
    }
    let mut dups = 0;
    let mut fetched = 0;
    let mut causes = [0u64; 4];
    for n in &nodes {
        let s = n.stats().await;
        dups += counter(&s, "duplicate_bodies");
        for (c, name) in causes.iter_mut().zip([
            "duplicate_push",
            "duplicate_late",
            "duplicate_sync",
            "duplicate_known",
        ]) {
            *c += counter(&s, name);
        }
        fetched += counter(&s, "bodies_fetched");
        // every node recorded when it first saw each tx
        let seen = n
            .handle
            .first_seen(FirstSeenQuery::Ids(invs.clone()))
            .await
            .unwrap();
        assert_eq!(seen.len(), 200);
    }
    let per = dups as f64 / (20.0 * 200.0);
    println!(
        "announce: {fetched} bodies fetched, {dups} duplicates = {per:.4} per node per tx (push/late/sync/known {causes:?})"
    );
    assert!(per <= 0.05, "duplicate bodies per node per tx = {per}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_relay_mode_delivers_the_same_set() {
    let mut sets = Vec::new();
    for mode in [
        RelayMode::Announce,
        RelayMode::Push,
        RelayMode::Batch,
        RelayMode::Hybrid,
    ] {
        let cfg = config(mode);
        let nodes = start_graph(6, &random_graph(6, 3, 3), &cfg).await;
        wait_for_mesh(&nodes, 2).await;
        let p = params();
        for i in 0..40u32 {
            nodes[i as usize % 6].submit(faucet_tx(&p, 1000 + i)).await;
        }
        wait_for(Duration::from_secs(30), "delivery", || async {
            nodes.iter().all(|n| n.state.mempool_len() == 40)
        })
        .await;
        let mut ids: Vec<u64> = nodes[3].state.mempool_short_ids();
        ids.sort();
        sets.push(ids);
        let s = nodes[5].stats().await;
        if mode == RelayMode::Push {
            assert_eq!(
                counter(&s, "bodies_fetched"),
                0,
                "push mode never fetches bodies"
            );
        }
    }
    assert_eq!(sets[0], sets[1]);
    assert_eq!(sets[0], sets[2]);
    assert_eq!(sets[0], sets[3]);
}

/// Hybrid mode: once each origin's first objects have grown its tree, most
/// bodies arrive by eager push (not by announcement and fetch), and the
/// trees' pruning keeps duplicate bodies bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_mode_delivers_mostly_by_eager_push_with_few_duplicates() {
    const N: usize = 10;
    const WARM: u32 = 40;
    const TXS: u32 = 200;
    let cfg = config(RelayMode::Hybrid);
    let nodes = start_graph(N, &random_graph(N, 4, 11), &cfg).await;
    wait_for_mesh(&nodes, 2).await;
    let p = params();
    let submit = |from: u32, to: u32| {
        let nodes = &nodes;
        let p = &p;
        async move {
            for i in from..to {
                nodes[(i as usize * 3) % N].submit(faucet_tx(p, i)).await;
                // A steady stream, as the trees are meant for (a burst
                // all at once is validated in batches before anything
                // is pushed on).
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    // Warm-up: every origin's first objects flood its tree into shape.
    submit(0, WARM).await;
    wait_for(Duration::from_secs(60), "warm-up delivered", || async {
        nodes.iter().all(|n| n.state.mempool_len() == WARM as usize)
    })
    .await;
    let mut before = Vec::new();
    for n in &nodes {
        before.push(n.stats().await);
    }
    submit(WARM, TXS).await;
    wait_for(
        Duration::from_secs(60),
        "every node has every tx",
        || async { nodes.iter().all(|n| n.state.mempool_len() == TXS as usize) },
    )
    .await;
    let (mut eager, mut fetched, mut dups, mut prunes, mut grafts) = (0, 0, 0, 0, 0);
    for (n, b) in nodes.iter().zip(&before) {
        let s = n.stats().await;
        let d = |name| counter(&s, name) - counter(b, name);
        eager += d("eager_accepted");
        fetched += d("bodies_fetched");
        dups += d("duplicate_bodies");
        prunes += counter(&s, "prunes_sent");
        grafts += counter(&s, "grafts_sent");
    }
    let received = (N as u64 - 1) * u64::from(TXS - WARM);
    let per = dups as f64 / (N as f64 * f64::from(TXS - WARM));
    println!(
        "hybrid after warm-up: {eager} of {received} bodies by eager push, {fetched} fetched, \
         {per:.3} duplicates per node per tx; {prunes} prunes and {grafts} grafts in all"
    );
    assert!(prunes > 0, "duplicates during warm-up prune the trees");
    assert!(
        eager * 10 >= received * 8,
        "at least 80 % by eager push: {eager} of {received}"
    );
    assert!(per <= 0.5, "duplicate bodies per node per tx = {per}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_mode_delivers_with_few_gossip_messages() {
    let cfg = config(RelayMode::Batch);
    let nodes = start_graph(10, &random_graph(10, 4, 9), &cfg).await;
    wait_for_mesh(&nodes, 2).await;
    let p = params();
    for i in 0..300u32 {
        nodes[(i as usize * 3) % 10].submit(faucet_tx(&p, i)).await;
    }
    wait_for(
        Duration::from_secs(60),
        "every node has every tx",
        || async { nodes.iter().all(|n| n.state.mempool_len() == 300) },
    )
    .await;
    let mut gossip_in = 0;
    let mut dups = 0;
    let mut forwarded = 0;
    let mut via_sync = 0;
    for n in &nodes {
        let s = n.stats().await;
        via_sync += counter(&s, "sync_fetched");
        gossip_in += counter(&s, "announcements_in");
        dups += counter(&s, "duplicate_bodies");
        forwarded += counter(&s, "forwarded");
    }
    // Each node sends a batch per window, not a message per transaction.
    let per_node_per_tx = gossip_in as f64 / (10.0 * 300.0);
    println!(
        "batch: {per_node_per_tx:.3} gossip messages per node per tx, {dups} duplicate bodies"
    );
    assert!(per_node_per_tx < 0.5, "{per_node_per_tx}");
    assert_eq!(forwarded, 0, "batches are never forwarded by gossipsub");
    assert_eq!(
        via_sync, 0,
        "every hop announced by batch, none left to anti-entropy"
    );
    // A block travels by one-item batches, which must not collapse into one
    // gossipsub message across nodes.
    let block = nodes[0].mine(1).await;
    wait_for(Duration::from_secs(20), "block everywhere", || async {
        nodes.iter().all(|n| n.state.tip().1 == block.hash())
    })
    .await;
    for n in &nodes[1..] {
        let s = n.stats().await;
        assert_eq!(
            counter(&s, "sync_fetched"),
            0,
            "block came by relay, not anti-entropy"
        );
    }
    assert!(dups as f64 / 3000.0 <= 0.05);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiner_catches_up_through_anti_entropy() {
    let cfg = config(RelayMode::Announce);
    let nodes = start_graph(4, &random_graph(4, 2, 1), &cfg).await;
    wait_for_mesh(&nodes, 1).await;
    let p = params();
    for i in 0..100u32 {
        nodes[i as usize % 4].submit(faucet_tx(&p, i)).await;
    }
    wait_for(Duration::from_secs(30), "100 txs everywhere", || async {
        nodes.iter().all(|n| n.state.mempool_len() == 100)
    })
    .await;
    nodes[0].mine(1).await;
    for i in 100..130u32 {
        nodes[1].submit(faucet_tx(&p, i)).await;
    }
    wait_for(Duration::from_secs(30), "first nodes in sync", || async {
        nodes
            .iter()
            .all(|n| n.state.mempool_len() == 30 && n.state.tip().0 == 1)
    })
    .await;
    let late = start_node(
        cfg.clone(),
        TestState::new(params()),
        vec![nodes[2].addr.clone()],
    )
    .await;
    wait_for(Duration::from_secs(10), "late joiner synced", || async {
        late.state.mempool_len() == 30 && late.state.tip() == nodes[0].state.tip()
    })
    .await;
    let s = late.stats().await;
    assert!(
        counter(&s, "sync_fetched") >= 31,
        "objects came through anti-entropy: {:?}",
        s.counters
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_loss_still_reaches_everyone() {
    let mut cfg = config(RelayMode::Announce);
    cfg.link.loss = 0.2;
    let nodes = start_graph(8, &random_graph(8, 3, 11), &cfg).await;
    wait_for_mesh(&nodes, 2).await;
    let p = params();
    for i in 0..60u32 {
        nodes[i as usize % 8].submit(faucet_tx(&p, i)).await;
    }
    wait_for(Duration::from_secs(60), "delivery under loss", || async {
        nodes.iter().all(|n| n.state.mempool_len() == 60)
    })
    .await;
    let mut lost = 0;
    for n in &nodes {
        let s = n.stats().await;
        lost += counter(&s, "emulated_loss") + counter(&s, "emulated_loss_rr");
    }
    assert!(lost > 0, "loss emulation dropped messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seen_set_stays_bounded() {
    let mut cfg = config(RelayMode::Announce);
    cfg.seen_capacity = 50;
    let nodes = start_graph(3, &line(3), &cfg).await;
    wait_for_mesh(&nodes, 1).await;
    let p = params();
    for i in 0..500u32 {
        nodes[0].submit(faucet_tx(&p, i)).await;
    }
    wait_for(Duration::from_secs(60), "delivery", || async {
        nodes.iter().all(|n| n.state.mempool_len() == 500)
    })
    .await;
    for n in &nodes {
        let s = n.stats().await;
        assert_eq!(s.seen.len, 50);
        assert_eq!(s.seen.capacity, 50);
        assert!(s.seen.evictions >= 450, "{:?}", s.seen);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_propagate_as_compact_blocks() {
    let cfg = config(RelayMode::Announce);
    let nodes = start_graph(6, &random_graph(6, 3, 5), &cfg).await;
    wait_for_mesh(&nodes, 2).await;
    let p = params();
    for i in 0..50u32 {
        nodes[i as usize % 6].submit(faucet_tx(&p, i)).await;
    }
    wait_for(Duration::from_secs(30), "txs everywhere", || async {
        nodes.iter().all(|n| n.state.mempool_len() == 50)
    })
    .await;
    let block = nodes[0].mine(1).await;
    assert_eq!(block.txs.len(), 51);
    wait_for(Duration::from_secs(30), "block everywhere", || async {
        nodes
            .iter()
            .all(|n| n.state.tip().1 == block.hash() && n.state.mempool_len() == 0)
    })
    .await;
    let mut compact = 0;
    for n in &nodes[1..] {
        let s = n.stats().await;
        assert_eq!(counter(&s, "full_blocks_fetched"), 0, "{:?}", s.counters);
        assert_eq!(counter(&s, "compact_missing_txs"), 0);
        compact += counter(&s, "compact_full_hits");
    }
    assert_eq!(
        compact, 5,
        "every other node rebuilt the block from its mempool"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_chains_reorg_to_the_heavier_one() {
    let cfg = config(RelayMode::Announce);
    // two halves, joined later
    let nodes = start_graph(4, &[(0, 1), (2, 3)], &cfg).await;
    wait_for_mesh(&nodes, 1).await;
    nodes[0].mine(1).await;
    let b = nodes[2].mine(2).await;
    wait_for(
        Duration::from_secs(20),
        "node 3 has node 2's block",
        || async { nodes[3].state.tip().1 == b.hash() },
    )
    .await;
    let b2 = nodes[3].mine(3).await;
    assert_eq!(b2.header.prev, b.hash());
    wait_for(
        Duration::from_secs(20),
        "halves agree internally",
        || async { nodes[1].state.tip().0 == 1 && nodes[2].state.tip() == nodes[3].state.tip() },
    )
    .await;
    nodes[1].handle.dial(nodes[2].addr.clone()).await.unwrap();
    wait_for(
        Duration::from_secs(20),
        "everyone on the heavier chain",
        || async { nodes.iter().all(|n| n.state.tip() == (2, b2.hash())) },
    )
    .await;
}

//! One test per mempool policy.
#![allow(missing_docs)]

mod support;

use rumor_chain::{
    AcceptOutcome, Mempool, MempoolConfig, MempoolError, OutPoint, Source, Transaction, TxAccepted,
    Txid, check_transaction, check_transactions,
};
use support::{TestChain, amount, checked, key, pay, signed};

fn pool(t: &TestChain, config: MempoolConfig) -> Mempool {
    Mempool::new(t.params.clone(), config)
}

/// Offers `tx` to the pool at the chain's tip and clock.
fn offer(pool: &mut Mempool, t: &TestChain, tx: &Transaction) -> Result<TxAccepted, MempoolError> {
    pool.accept(
        checked(tx.clone(), &t.params),
        t.utxos(),
        t.chain.height(),
        t.now_ms,
    )
}

/// Spends output `vout` of `parent` (owned by `owner`) to `to`, leaving `fee`.
fn spend(parent: &Transaction, vout: u32, owner: u8, to: u8, fee: u64) -> Transaction {
    let value = parent.outputs[vout as usize].amount.units();
    signed(
        &[(OutPoint::new(parent.txid(), vout), &key(owner))],
        vec![pay(value - fee, &key(to))],
    )
}

fn txids(txs: &[rumor_chain::CheckedTx]) -> Vec<Txid> {
    txs.iter().map(|t| t.txid()).collect()
}

#[test]
fn first_seen_wins_on_conflicts() {
    let t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let first = t.faucet_to(0, &key(1), 1000);
    let second = t.faucet_to(0, &key(2), 50_000); // pays more: no replacement anyway
    let acc = offer(&mut mp, &t, &first).expect("first");
    assert_eq!(acc.txid, first.txid());
    assert_eq!(acc.fee, amount(1000));
    assert_eq!(
        offer(&mut mp, &t, &second),
        Err(MempoolError::Conflict {
            outpoint: t.faucet_outpoint(0),
            by: first.txid()
        })
    );
    assert!(mp.contains(&first.txid()) && !mp.contains(&second.txid()));
    assert_eq!(mp.spender(&t.faucet_outpoint(0)), Some(first.txid()));
    assert_eq!(offer(&mut mp, &t, &first), Err(MempoolError::AlreadyInPool));
}

#[test]
fn unconfirmed_chains_up_to_depth_25() {
    let mut t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let mut chain = vec![t.faucet_to(0, &key(1), 1000)];
    for _ in 1..26 {
        let next = spend(chain.last().expect("non-empty"), 0, 1, 1, 1000);
        chain.push(next);
    }
    for (i, tx) in chain[..25].iter().enumerate() {
        offer(&mut mp, &t, tx).unwrap_or_else(|e| panic!("tx {i}: {e}"));
        assert_eq!(mp.get(&tx.txid()).expect("in pool").depth, i as u32 + 1);
    }
    assert_eq!(
        offer(&mut mp, &t, &chain[25]),
        Err(MempoolError::TooLongChain { depth: 26, max: 25 })
    );
    // Once the root confirms, every depth drops by one and the 26th fits.
    let block = t.mine(vec![chain[0].clone()], 1000);
    let removal = mp.remove_for_block(&block);
    assert_eq!(removal.confirmed, vec![chain[0].txid()]);
    assert_eq!(mp.get(&chain[1].txid()).expect("in pool").depth, 1);
    assert_eq!(mp.get(&chain[24].txid()).expect("in pool").depth, 24);
    let acc = offer(&mut mp, &t, &chain[25]).expect("fits now");
    assert_eq!(mp.get(&acc.txid).expect("in pool").depth, 25);
}

#[test]
fn full_pool_evicts_the_lowest_fee_rate() {
    let t = TestChain::regtest(10);
    let low = t.faucet_to(0, &key(1), 200);
    let mid = t.faucet_to(1, &key(1), 400);
    let high = t.faucet_to(2, &key(1), 800);
    let newcomer = t.faucet_to(3, &key(1), 600);
    let size = low.size();
    assert!([&mid, &high, &newcomer].iter().all(|tx| tx.size() == size));
    let config = MempoolConfig {
        max_bytes: 3 * size,
        ..MempoolConfig::default()
    };
    let mut mp = pool(&t, config);
    for tx in [&low, &mid, &high] {
        assert!(offer(&mut mp, &t, tx).expect("fits").evicted.is_empty());
    }
    assert_eq!(mp.bytes(), 3 * size);
    let acc = offer(&mut mp, &t, &newcomer).expect("beats the lowest");
    assert_eq!(acc.evicted, vec![low.txid()]);
    assert!(!mp.contains(&low.txid()));
    assert_eq!(mp.len(), 3);
    assert_eq!(mp.bytes(), 3 * size);
    assert_eq!(mp.evicted_total(), 1);
}

#[test]
fn eviction_takes_descendants_along() {
    let t = TestChain::regtest(10);
    let parent = t.faucet_to(0, &key(1), 200); // the lowest fee rate
    let child = spend(&parent, 0, 1, 2, 5_000); // high rate, but a descendant
    let high = t.faucet_to(1, &key(1), 800);
    let newcomer = t.faucet_to(2, &key(1), 600);
    let config = MempoolConfig {
        max_bytes: parent.size() + child.size() + high.size(),
        ..MempoolConfig::default()
    };
    let mut mp = pool(&t, config);
    for tx in [&parent, &child, &high] {
        offer(&mut mp, &t, tx).expect("fits");
    }
    let acc = offer(&mut mp, &t, &newcomer).expect("enters");
    let mut evicted = acc.evicted.clone();
    evicted.sort();
    let mut expected = vec![parent.txid(), child.txid()];
    expected.sort();
    assert_eq!(evicted, expected);
    assert_eq!(mp.len(), 2);
    assert!(mp.contains(&high.txid()) && mp.contains(&newcomer.txid()));
    assert_eq!(mp.spender(&OutPoint::new(parent.txid(), 0)), None);
}

#[test]
fn mempool_full_when_the_newcomer_is_the_lowest() {
    let t = TestChain::regtest(10);
    let txs: Vec<_> = [400, 800, 600]
        .iter()
        .enumerate()
        .map(|(i, fee)| t.faucet_to(i as u32, &key(1), *fee))
        .collect();
    let config = MempoolConfig {
        max_bytes: txs.iter().map(Transaction::size).sum(),
        ..MempoolConfig::default()
    };
    let mut mp = pool(&t, config);
    for tx in &txs {
        offer(&mut mp, &t, tx).expect("fits");
    }
    let bytes = mp.bytes();
    let digest = mp.digest();
    let cheap = t.faucet_to(3, &key(1), 300);
    assert_eq!(offer(&mut mp, &t, &cheap), Err(MempoolError::MempoolFull));
    assert_eq!(mp.len(), 3);
    assert_eq!(mp.bytes(), bytes);
    assert_eq!(mp.digest(), digest);
    assert_eq!(mp.evicted_total(), 0);
    assert_eq!(mp.spender(&t.faucet_outpoint(3)), None);
}

#[test]
fn a_refused_newcomer_evicts_nothing() {
    // The newcomer outbids the lowest entry, but evicting it is not enough
    // room; the newcomer is next in line, so it is refused and the lowest
    // entry must stay (it was not in the way of anything that got in).
    let t = TestChain::regtest(10);
    let low = t.faucet_to(0, &key(1), 200);
    let high = t.faucet_to(1, &key(1), 2_000);
    let big_with_fee = |fee: u64| {
        let mut outputs: Vec<_> = (0..10).map(|_| pay(1_000, &key(2))).collect();
        outputs.push(pay(t.faucet_units() - 10_000 - fee, &key(2)));
        t.spend_faucet(2, outputs)
    };
    let size = big_with_fee(0).size();
    // 5 units/byte: between low (~1.3) and high (~12.7)
    let big = big_with_fee(5 * size as u64);
    assert_eq!(big.size(), size);
    let config = MempoolConfig {
        max_bytes: low.size() + high.size() + 100,
        ..MempoolConfig::default()
    };
    assert!(big.size() > low.size() + 100);
    let mut mp = pool(&t, config);
    offer(&mut mp, &t, &low).expect("fits");
    offer(&mut mp, &t, &high).expect("fits");
    assert_eq!(offer(&mut mp, &t, &big), Err(MempoolError::MempoolFull));
    assert!(
        mp.contains(&low.txid()),
        "the lowest entry was not evicted for nothing"
    );
    assert!(mp.contains(&high.txid()));
    assert_eq!(mp.bytes(), low.size() + high.size());
    assert_eq!(mp.evicted_total(), 0);
}

#[test]
fn fee_too_low() {
    let t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let cheap = t.faucet_to(0, &key(1), 100);
    let size = cheap.size() as u64;
    assert!(size > 100);
    assert_eq!(
        offer(&mut mp, &t, &cheap),
        Err(MempoolError::FeeTooLow {
            fee: amount(100),
            required: amount(size * t.params.min_relay_fee_per_byte)
        })
    );
    assert!(
        MempoolError::FeeTooLow {
            fee: amount(100),
            required: amount(size)
        }
        .is_policy()
    );
    // exactly the minimum is enough (same size: the amount keeps its 5-byte varint)
    let exact = t.faucet_to(0, &key(1), size);
    assert_eq!(exact.size() as u64, size);
    assert_eq!(
        offer(&mut mp, &t, &exact).expect("enough").fee,
        amount(size)
    );
}

#[test]
fn orphans_are_adopted_when_the_parent_arrives() {
    let t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let parent = t.faucet_to(0, &key(1), 1000);
    let child = spend(&parent, 0, 1, 2, 1000);
    let grandchild = spend(&child, 0, 2, 3, 1000);
    assert_eq!(
        offer(&mut mp, &t, &grandchild),
        Err(MempoolError::MissingInputs {
            parents: vec![child.txid()]
        })
    );
    assert_eq!(
        offer(&mut mp, &t, &child),
        Err(MempoolError::MissingInputs {
            parents: vec![parent.txid()]
        })
    );
    assert_eq!(mp.orphans().len(), 2);
    assert!(mp.is_empty());
    let acc = offer(&mut mp, &t, &parent).expect("parent");
    assert_eq!(acc.adopted, vec![child.txid(), grandchild.txid()]);
    assert_eq!(mp.len(), 3);
    assert!(mp.orphans().is_empty());
    assert_eq!(mp.get(&grandchild.txid()).expect("in pool").depth, 3);
}

/// `n` orphans spending outputs nobody made, told apart by `tag`.
fn made_up_orphans(tag: u8, n: u32) -> Vec<Transaction> {
    let owner = key(1);
    (0..n)
        .map(|i| {
            let mut unknown = [0u8; 32];
            unknown[..4].copy_from_slice(&i.to_le_bytes());
            unknown[30] = tag;
            unknown[31] = 0xee;
            signed(
                &[(OutPoint::new(Txid(unknown), 0), &owner)],
                vec![pay(1_000, &key(2))],
            )
        })
        .collect()
}

/// Offers `txs` as sent by `from`, one ms apart from `at`; each must be
/// held as an orphan.
fn offer_orphans(
    mp: &mut Mempool,
    t: &TestChain,
    txs: &[Transaction],
    from: Option<Source>,
    at: u64,
) {
    for (i, tx) in check_transactions(txs.to_vec(), &t.params)
        .into_iter()
        .enumerate()
    {
        let result = mp.accept_from(
            tx.expect("valid"),
            from,
            t.utxos(),
            t.chain.height(),
            at + i as u64,
        );
        assert!(matches!(result, Err(MempoolError::MissingInputs { .. })));
    }
}

#[test]
fn orphan_pool_holds_at_most_100() {
    let t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    assert_eq!(mp.config().max_orphans, 100);
    let orphans = made_up_orphans(0, 101);
    let checked_all = check_transactions(orphans.clone(), &t.params);
    for (i, tx) in checked_all.into_iter().enumerate() {
        let result = mp.accept(
            tx.expect("valid"),
            t.utxos(),
            t.chain.height(),
            t.now_ms + i as u64,
        );
        assert!(matches!(result, Err(MempoolError::MissingInputs { .. })));
    }
    assert_eq!(mp.orphans().len(), 100);
    assert_eq!(mp.orphans().dropped(), 1);
    assert!(
        !mp.orphans().contains(&orphans[0].txid()),
        "the oldest went"
    );
    assert!(mp.orphans().contains(&orphans[1].txid()));
    assert!(mp.orphans().contains(&orphans[100].txid()));
}

/// Issue 17, item 6: one pool shared by all and the oldest evicted first
/// let one peer's flood flush every other peer's orphans.
#[test]
fn an_orphan_flood_displaces_only_its_sender() {
    let t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let (flooder, honest) = (Some(Source(1)), Some(Source(2)));
    let honest_orphans = made_up_orphans(1, 3);
    offer_orphans(&mut mp, &t, &honest_orphans, honest, t.now_ms);
    // 300 from one peer into a pool of 100.
    let flood = made_up_orphans(2, 300);
    offer_orphans(&mut mp, &t, &flood, flooder, t.now_ms + 10);
    assert_eq!(mp.orphans().len(), 100);
    for tx in &honest_orphans {
        assert!(
            mp.orphans().contains(&tx.txid()),
            "an honest orphan was flushed"
        );
    }
    assert_eq!(mp.orphans().held_from(honest), 3);
    assert_eq!(mp.orphans().held_from(flooder), 97);
    assert!(
        mp.orphans().contains(&flood[299].txid()),
        "the newest stays"
    );
    assert!(
        !mp.orphans().contains(&flood[202].txid()),
        "the flood's oldest went"
    );
    assert_eq!(mp.orphans().dropped(), 203);
    // A new honest orphan pushes out the flood's oldest, not an honest one.
    let late = made_up_orphans(3, 1);
    offer_orphans(&mut mp, &t, &late, honest, t.now_ms + 400);
    assert_eq!(mp.orphans().held_from(honest), 4);
    assert_eq!(mp.orphans().held_from(flooder), 96);
    // When the flooder goes away, its orphans go with it.
    assert_eq!(mp.forget_orphans_from(Source(1)), 96);
    assert_eq!(mp.orphans().len(), 4);
    assert_eq!(mp.forget_orphans_from(Source(1)), 0);
}

/// An orphan keeps its sender through an adoption that does not complete
/// it (it still misses another parent).
#[test]
fn a_half_adopted_orphan_stays_its_senders() {
    let t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let parent = t.faucet_to(0, &key(1), 1000);
    let made_up = made_up_orphans(4, 1).remove(0);
    // Spends the parent's output and a made-up one.
    let child = signed(
        &[
            (OutPoint::new(parent.txid(), 0), &key(1)),
            (made_up.inputs[0].prev, &key(1)),
        ],
        vec![pay(1_000, &key(2))],
    );
    offer_orphans(
        &mut mp,
        &t,
        std::slice::from_ref(&child),
        Some(Source(7)),
        t.now_ms,
    );
    offer(&mut mp, &t, &parent).expect("the parent");
    assert!(mp.orphans().contains(&child.txid()));
    assert_eq!(mp.orphans().held_from(Some(Source(7))), 1);
    assert_eq!(mp.orphans().held_from(None), 0);
}

#[test]
fn orphans_expire_after_20_minutes() {
    let mut t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let ttl = mp.config().orphan_ttl_ms;
    assert_eq!(ttl, 20 * 60 * 1000);
    let parent = t.faucet_to(0, &key(1), 1000);
    let child = spend(&parent, 0, 1, 2, 1000);
    let t0 = t.now_ms;
    assert!(matches!(
        offer(&mut mp, &t, &child),
        Err(MempoolError::MissingInputs { .. })
    ));
    // Exactly 20 minutes later it is still held (expiry runs on every offer).
    t.now_ms = t0 + ttl;
    offer(&mut mp, &t, &t.faucet_to(1, &key(1), 1000)).expect("unrelated");
    assert!(mp.orphans().contains(&child.txid()));
    // One millisecond more and it is gone: the parent adopts nothing.
    t.now_ms = t0 + ttl + 1;
    let acc = offer(&mut mp, &t, &parent).expect("parent");
    assert!(acc.adopted.is_empty());
    assert!(!mp.orphans().contains(&child.txid()));
    assert_eq!(mp.orphans().dropped(), 1);
    assert!(!mp.contains(&child.txid()));
}

#[test]
fn connecting_a_block_removes_confirmed_and_conflicting() {
    let mut t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let a = t.faucet_to(0, &key(1), 1000);
    let a_child = spend(&a, 0, 1, 2, 1000);
    let c = t.faucet_to(1, &key(1), 1000);
    let c_child = spend(&c, 0, 1, 2, 1000);
    let d = t.faucet_to(2, &key(1), 1000);
    for tx in [&a, &a_child, &c, &c_child, &d] {
        offer(&mut mp, &t, tx).expect("accepted");
    }
    // An orphan waiting on a transaction the pool never saw.
    let x = t.faucet_to(3, &key(3), 1000);
    let x_child = spend(&x, 0, 3, 4, 1000);
    assert!(matches!(
        offer(&mut mp, &t, &x_child),
        Err(MempoolError::MissingInputs { .. })
    ));
    // The block confirms a and x, and e double-spends c's input.
    let e = t.faucet_to(1, &key(4), 1000);
    let block = t.mine(vec![a.clone(), e.clone(), x.clone()], 3000);
    let removal = mp.remove_for_block(&block);
    assert_eq!(removal.confirmed, vec![a.txid()]);
    let mut conflicts = removal.conflicts.clone();
    conflicts.sort();
    let mut expected = vec![c.txid(), c_child.txid()];
    expected.sort();
    assert_eq!(conflicts, expected);
    assert_eq!(txids(&removal.orphans_to_retry), vec![x_child.txid()]);
    assert!(mp.orphans().is_empty());
    // What is left: a's child (now a root) and d.
    assert_eq!(mp.len(), 2);
    let entry = mp.get(&a_child.txid()).expect("stays");
    assert!(entry.parents.is_empty());
    assert_eq!(entry.depth, 1);
    assert!(mp.contains(&d.txid()));
    // The retried orphan now enters against the new tip.
    for orphan in removal.orphans_to_retry {
        mp.accept(orphan, t.utxos(), t.chain.height(), t.now_ms)
            .expect("parent confirmed");
    }
    assert!(mp.contains(&x_child.txid()));
    // And the pool's template builds a valid block on the new tip.
    let (template, fees) = mp.block_template(usize::MAX);
    let txs = template.iter().map(|c| c.tx().clone()).collect();
    t.mine(txs, fees.units());
    assert_eq!(
        mp.remove_for_block(&t.chain.block(&t.chain.tip().hash).unwrap().unwrap())
            .confirmed
            .len(),
        3
    );
    assert!(mp.is_empty());
}

#[test]
fn disconnected_transactions_come_back() {
    let mut t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let genesis = t.genesis();
    // a is mined; its child b (paying a higher fee rate) enters afterwards.
    let a = t.faucet_to(0, &key(1), 200);
    offer(&mut mp, &t, &a).expect("a");
    let b1 = t.mine(vec![a.clone()], 200);
    assert_eq!(mp.remove_for_block(&b1).confirmed, vec![a.txid()]);
    let b = spend(&a, 0, 1, 2, 5_000);
    offer(&mut mp, &t, &b).expect("b spends a confirmed output");
    assert!(mp.get(&b.txid()).expect("b").parents.is_empty());

    // A heavier branch without a replaces b1.
    let c1 = t.block_after(&genesis, vec![], 0);
    let c2 = t.block_after(&c1, vec![], 0);
    t.accept(c1);
    let acc = t.accept(c2.clone());
    assert_eq!(acc.disconnected.len(), 1);
    assert_eq!(acc.disconnected[0].hash(), b1.hash());
    assert_eq!(acc.connected.len(), 2);
    assert!(!t.utxos().contains_key(&OutPoint::new(a.txid(), 0)));

    // What the node does: offer the disconnected blocks' transactions again
    // (oldest block first), then remove what the new blocks confirm.
    for block in acc.disconnected.iter().rev() {
        for tx in block.txs.iter().skip(1) {
            let ctx = check_transaction(tx.clone(), &t.params).expect("was valid");
            mp.accept(ctx, t.utxos(), t.chain.height(), t.now_ms)
                .expect("valid on the new chain too");
        }
    }
    for block in &acc.connected {
        mp.remove_for_block(block);
    }
    assert!(mp.remove_unspendable(t.utxos()).is_empty());
    assert!(mp.contains(&a.txid()) && mp.contains(&b.txid()));
    // a and its child b are linked again...
    assert_eq!(
        mp.get(&b.txid()).expect("b").parents,
        [a.txid()].into_iter().collect()
    );
    assert!(mp.get(&a.txid()).expect("a").children.contains(&b.txid()));
    assert_eq!(mp.get(&b.txid()).expect("b").depth, 2);
    // ...so the template puts a first although b pays more per byte,
    let (template, fees) = mp.block_template(usize::MAX);
    assert_eq!(txids(&template), vec![a.txid(), b.txid()]);
    assert_eq!(fees, amount(5_200));
    // and a block of it connects on the new tip.
    let txs = template.iter().map(|c| c.tx().clone()).collect();
    t.mine(txs, fees.units());
    assert_eq!(t.chain.height(), 3);
}

#[test]
fn a_reorg_drops_children_whose_parent_cannot_come_back() {
    let mut t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let genesis = t.genesis();
    let a = t.faucet_to(0, &key(1), 200);
    let b1 = t.mine(vec![a.clone()], 200);
    mp.remove_for_block(&b1);
    let b = spend(&a, 0, 1, 2, 5_000);
    offer(&mut mp, &t, &b).expect("b spends a confirmed output");
    let unrelated = t.faucet_to(1, &key(1), 1_000);
    offer(&mut mp, &t, &unrelated).expect("unrelated");

    // The heavier branch spends a's input differently: a cannot come back.
    let other = t.faucet_to(0, &key(3), 1_000);
    let c1 = t.block_after(&genesis, vec![other], 1_000);
    let c2 = t.block_after(&c1, vec![], 0);
    t.accept(c1);
    let acc = t.accept(c2);
    for block in acc.disconnected.iter().rev() {
        for tx in block.txs.iter().skip(1) {
            let ctx = check_transaction(tx.clone(), &t.params).expect("was valid");
            assert!(matches!(
                mp.accept(ctx, t.utxos(), t.chain.height(), t.now_ms),
                Err(MempoolError::MissingInputs { .. })
            ));
        }
    }
    for block in &acc.connected {
        mp.remove_for_block(block);
    }
    // b is left spending an output that exists nowhere; a template with it
    // would be an invalid block.
    assert!(mp.contains(&b.txid()));
    assert_eq!(mp.remove_unspendable(t.utxos()), vec![b.txid()]);
    assert_eq!(mp.len(), 1);
    let (template, fees) = mp.block_template(usize::MAX);
    assert_eq!(txids(&template), vec![unrelated.txid()]);
    t.mine(vec![unrelated], fees.units());
}

#[test]
fn block_template_by_fee_rate_with_parents_first() {
    let mut t = TestChain::regtest(10);
    let mut mp = pool(&t, MempoolConfig::default());
    let parent = t.faucet_to(0, &key(1), 200);
    let child = spend(&parent, 0, 1, 2, 3_000);
    let mid = t.faucet_to(1, &key(1), 1_000);
    let low = t.faucet_to(2, &key(1), 500);
    for tx in [&low, &parent, &mid, &child] {
        offer(&mut mp, &t, tx).expect("accepted");
    }
    let size = parent.size();
    assert!([&child, &mid, &low].iter().all(|tx| tx.size() == size));

    let (all, fees) = mp.block_template(usize::MAX);
    assert_eq!(
        txids(&all),
        vec![parent.txid(), child.txid(), mid.txid(), low.txid()]
    );
    assert_eq!(fees, amount(4_700));
    // Room for two: the best package (parent + child) fills it.
    let (two, fees) = mp.block_template(2 * size);
    assert_eq!(txids(&two), vec![parent.txid(), child.txid()]);
    assert_eq!(fees, amount(3_200));
    // Room for one: the package does not fit, the best single transaction does.
    let (one, fees) = mp.block_template(size);
    assert_eq!(txids(&one), vec![mid.txid()]);
    assert_eq!(fees, amount(1_000));
    let (none, fees) = mp.block_template(size - 1);
    assert!(none.is_empty() && fees == amount(0));

    // The template mines into a valid block.
    let txs = all.iter().map(|c| c.tx().clone()).collect();
    let block = t.block_on_tip(txs, 4_700);
    match t.process(block) {
        Ok(AcceptOutcome::Accepted(acc)) => {
            assert!(acc.invalid.is_empty());
            assert_eq!(acc.connected.len(), 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn digest_and_short_ids() {
    let t = TestChain::regtest(10);
    let txs: Vec<_> = (0..5).map(|i| t.faucet_to(i, &key(1), 1000)).collect();
    let mut forward = pool(&t, MempoolConfig::default());
    let mut backward = pool(&t, MempoolConfig::default());
    let mut fewer = pool(&t, MempoolConfig::default());
    for tx in &txs {
        offer(&mut forward, &t, tx).expect("ok");
    }
    for tx in txs.iter().rev() {
        offer(&mut backward, &t, tx).expect("ok");
    }
    for tx in &txs[..4] {
        offer(&mut fewer, &t, tx).expect("ok");
    }
    assert_eq!(forward.digest(), backward.digest());
    assert_eq!(forward.short_ids(), backward.short_ids());
    assert_ne!(forward.digest(), fewer.digest());
    assert_ne!(
        forward.digest(),
        pool(&t, MempoolConfig::default()).digest()
    );

    let ids = forward.short_ids();
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "sorted: {ids:?}");
    let mut expected: Vec<u64> = txs.iter().map(|tx| tx.txid().short_id()).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);

    for tx in &txs {
        let found: Vec<Txid> = forward
            .by_short_id(tx.txid().short_id())
            .map(|c| c.txid())
            .collect();
        assert_eq!(found, vec![tx.txid()]);
    }
    let unused = (0..u64::MAX)
        .find(|s| !ids.contains(s))
        .expect("some short id is free");
    assert_eq!(forward.by_short_id(unused).count(), 0);
}

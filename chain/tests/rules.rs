//! One test per validation rule: each breaks exactly that rule and asserts
//! exactly its error variant.
#![allow(missing_docs)]

mod support;

use rumor_chain::{
    AcceptBlockError, AcceptOutcome, Address, Amount, Block, BlockError, Coin, Hash256, InputError,
    KeyPair, MAX_ORPHAN_BLOCKS, Network, OutPoint, Params, PublicKey, SigError, Target,
    Transaction, TxError, TxOut, check_block, check_transaction, check_transactions,
    check_tx_inputs, coinbase_tx, median_time, mine_header,
};
use support::{TestChain, amount, check, key, pay, signed};

// ---------------------------------------------------------------------------
// helpers

/// A valid transaction spending genesis outputs 0 and 1 to key 1.
fn two_input_tx(t: &TestChain) -> Transaction {
    let (k0, k1) = (t.params.faucet_key(0), t.params.faucet_key(1));
    signed(
        &[(t.faucet_outpoint(0), &k0), (t.faucet_outpoint(1), &k1)],
        vec![pay(2 * t.faucet_units() - 1000, &key(1))],
    )
}

/// Signs every input with `signers[i]` (whatever public key the input names),
/// so an input can carry a key nobody can sign for.
fn sign_each(tx: &mut Transaction, signers: &[&KeyPair]) {
    let sighash = tx.sighash();
    for (input, kp) in tx.inputs.iter_mut().zip(signers) {
        input.signature = kp.sign(sighash.as_bytes());
    }
}

/// Re-mines a block after its header was edited.
fn remine(mut block: Block) -> Block {
    block.header.nonce = 0;
    assert!(mine_header(&mut block.header, u64::MAX));
    block
}

/// Recomputes the merkle root for the current transactions and re-mines.
fn recommit(mut block: Block) -> Block {
    block.header.merkle_root = Block::merkle_root_of(&block.txids());
    remine(block)
}

/// The block was stored but failed to connect with exactly `expected`; the
/// tip did not move and the block is marked invalid.
fn assert_connect_fails(t: &mut TestChain, block: Block, expected: BlockError) {
    let tip_before = t.chain.tip().hash;
    let hash = block.hash();
    match t.process(block) {
        Ok(AcceptOutcome::Accepted(acc)) => {
            assert_eq!(acc.invalid, vec![(hash, expected)]);
            assert!(acc.connected.is_empty() && acc.disconnected.is_empty());
        }
        other => panic!("expected a stored block that fails to connect, got {other:?}"),
    }
    assert_eq!(t.chain.tip().hash, tip_before);
    assert!(t.chain.entry(&hash).expect("indexed").invalid);
}

/// The block was refused before it was stored, with exactly `expected`.
fn assert_refused(t: &mut TestChain, block: Block, expected: BlockError) {
    match t.process(block) {
        Err(AcceptBlockError::Invalid(e)) => assert_eq!(e, expected),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

/// Parameters whose single genesis output holds all the money there is.
fn rich_params() -> Params {
    let mut p = Params::new(Network::Regtest);
    p.genesis_output_amount = Amount::MAX_MONEY;
    p.coinbase_maturity = 1;
    p.with_genesis_outputs(1).expect("valid")
}

// ---------------------------------------------------------------------------
// transactions, context-free

#[test]
fn valid_transactions_pass() {
    let t = TestChain::regtest(10);
    let tx = two_input_tx(&t);
    let checked = check_transaction(tx.clone(), &t.params).expect("valid");
    assert_eq!(checked.txid(), tx.txid());
    assert_eq!(checked.size(), tx.encode().len());
}

#[test]
fn tx_unsupported_version() {
    let t = TestChain::regtest(10);
    let mut tx = two_input_tx(&t);
    tx.version = 2;
    sign_each(&mut tx, &[&t.params.faucet_key(0), &t.params.faucet_key(1)]);
    assert_eq!(
        check_transaction(tx, &t.params),
        Err(TxError::UnsupportedVersion(2))
    );
}

#[test]
fn tx_no_inputs() {
    let t = TestChain::regtest(10);
    let tx = Transaction {
        version: 1,
        inputs: vec![],
        outputs: vec![pay(5, &key(1))],
    };
    assert_eq!(check_transaction(tx, &t.params), Err(TxError::NoInputs));
}

#[test]
fn tx_no_outputs() {
    let t = TestChain::regtest(10);
    let tx = t.spend_faucet(0, vec![]);
    assert_eq!(check_transaction(tx, &t.params), Err(TxError::NoOutputs));
}

#[test]
fn tx_too_large() {
    let t = TestChain::regtest(10);
    let to = key(1);
    // 1-unit outputs encode in 21 bytes: 5,000 of them pass the 100,000-byte limit.
    let tx = t.spend_faucet(0, (0..5_000).map(|_| pay(1, &to)).collect());
    let size = tx.encode().len();
    assert!(size > t.params.max_tx_bytes);
    assert_eq!(
        check_transaction(tx, &t.params),
        Err(TxError::TooLarge {
            size,
            max: t.params.max_tx_bytes
        })
    );
    // and exactly at the limit is fine
    let mut roomy = t.params.clone();
    roomy.max_tx_bytes = size;
    let tx = t.spend_faucet(0, (0..5_000).map(|_| pay(1, &to)).collect());
    assert!(check_transaction(tx, &roomy).is_ok());
}

#[test]
fn tx_duplicate_input() {
    let t = TestChain::regtest(10);
    let k0 = t.params.faucet_key(0);
    let f0 = t.faucet_outpoint(0);
    let tx = signed(&[(f0, &k0), (f0, &k0)], vec![pay(5, &key(1))]);
    assert_eq!(
        check_transaction(tx, &t.params),
        Err(TxError::DuplicateInput {
            index: 1,
            outpoint: f0
        })
    );
}

#[test]
fn tx_zero_output() {
    let t = TestChain::regtest(10);
    let tx = t.spend_faucet(
        0,
        vec![
            pay(5, &key(1)),
            TxOut {
                amount: Amount::ZERO,
                address: key(1).address(),
            },
        ],
    );
    assert_eq!(
        check_transaction(tx, &t.params),
        Err(TxError::ZeroOutput { index: 1 })
    );
}

#[test]
fn tx_outputs_overflow() {
    let t = TestChain::regtest(10);
    let to = key(1).address();
    let tx = t.spend_faucet(
        0,
        vec![
            TxOut {
                amount: Amount::MAX_MONEY,
                address: to,
            },
            TxOut {
                amount: amount(1),
                address: to,
            },
        ],
    );
    assert_eq!(
        check_transaction(tx, &t.params),
        Err(TxError::OutputsOverflow)
    );
}

#[test]
fn tx_null_input() {
    let t = TestChain::regtest(10);
    let k0 = t.params.faucet_key(0);
    // Two inputs, so it is not a coinbase; the second spends the null outpoint.
    let tx = signed(
        &[(t.faucet_outpoint(0), &k0), (OutPoint::NULL, &k0)],
        vec![pay(5, &key(1))],
    );
    assert!(!tx.is_coinbase());
    assert_eq!(
        check_transaction(tx, &t.params),
        Err(TxError::NullInput { index: 1 })
    );
}

#[test]
fn tx_unexpected_coinbase() {
    let t = TestChain::regtest(10);
    let cb = coinbase_tx(1, amount(50), key(1).address(), [0; 56]);
    assert_eq!(
        check_transaction(cb, &t.params),
        Err(TxError::UnexpectedCoinbase)
    );
}

#[test]
fn tx_signature_invalid_key() {
    let t = TestChain::regtest(10);
    let mut tx = two_input_tx(&t);
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2; // y = 2 is not on the curve
    tx.inputs[1].pubkey = PublicKey(not_a_point);
    sign_each(&mut tx, &[&t.params.faucet_key(0), &t.params.faucet_key(1)]);
    assert_eq!(
        check_transaction(tx, &t.params),
        Err(TxError::Signature {
            index: 1,
            error: SigError::InvalidKey
        })
    );
}

#[test]
fn tx_signature_weak_key() {
    let t = TestChain::regtest(10);
    let mut tx = two_input_tx(&t);
    let mut identity = [0u8; 32];
    identity[0] = 1; // the identity point: small order
    tx.inputs[1].pubkey = PublicKey(identity);
    sign_each(&mut tx, &[&t.params.faucet_key(0), &t.params.faucet_key(1)]);
    assert_eq!(
        check_transaction(tx, &t.params),
        Err(TxError::Signature {
            index: 1,
            error: SigError::WeakKey
        })
    );
}

#[test]
fn tx_signature_bad_signature() {
    let t = TestChain::regtest(10);
    let mut tx = two_input_tx(&t);
    tx.inputs[1].signature.0[10] ^= 0x01;
    assert_eq!(
        check_transaction(tx.clone(), &t.params),
        Err(TxError::Signature {
            index: 1,
            error: SigError::BadSignature
        })
    );
    // A signature by the right key over another transaction is just as bad.
    let mut tx = two_input_tx(&t);
    let other = t.faucet_to(0, &key(2), 1000);
    tx.inputs[0].signature = other.inputs[0].signature;
    assert_eq!(
        check_transaction(tx, &t.params),
        Err(TxError::Signature {
            index: 0,
            error: SigError::BadSignature
        })
    );
}

#[test]
fn batch_check_gives_each_transaction_its_own_answer() {
    let t = TestChain::regtest(10);
    let good = two_input_tx(&t);
    let mut bad_sig = t.faucet_to(2, &key(1), 1000);
    bad_sig.inputs[0].signature.0[0] ^= 1;
    let no_outputs = t.spend_faucet(3, vec![]);
    let good2 = t.faucet_to(4, &key(2), 1000);
    let txs = vec![
        good.clone(),
        bad_sig.clone(),
        no_outputs.clone(),
        good2.clone(),
    ];
    let batch = check_transactions(txs.clone(), &t.params);
    let single: Vec<_> = txs
        .into_iter()
        .map(|tx| check_transaction(tx, &t.params))
        .collect();
    assert_eq!(batch, single);
    assert_eq!(
        batch[1],
        Err(TxError::Signature {
            index: 0,
            error: SigError::BadSignature
        })
    );
    assert_eq!(batch[2], Err(TxError::NoOutputs));
    assert!(batch[0].is_ok() && batch[3].is_ok());
}

// ---------------------------------------------------------------------------
// transactions, contextual

#[test]
fn input_missing_or_spent() {
    let t = TestChain::regtest(10);
    let missing = t.faucet_outpoint(10); // genesis has outputs 0..10
    let kp = t.params.faucet_key(10);
    let tx = signed(&[(missing, &kp)], vec![pay(5, &key(1))]);
    assert_eq!(
        check_tx_inputs(&tx, t.utxos(), 1, &t.params),
        Err(InputError::MissingOrSpent {
            index: 0,
            outpoint: missing
        })
    );
}

#[test]
fn input_key_mismatch() {
    let t = TestChain::regtest(10);
    let wrong = key(1);
    let tx = signed(
        &[(t.faucet_outpoint(0), &wrong)],
        vec![pay(t.faucet_units() - 1000, &key(2))],
    );
    assert!(
        check_transaction(tx.clone(), &t.params).is_ok(),
        "well signed"
    );
    assert_eq!(
        check_tx_inputs(&tx, t.utxos(), 1, &t.params),
        Err(InputError::KeyMismatch {
            index: 0,
            expected: t.params.faucet_key(0).address()
        })
    );
}

#[test]
fn input_immature_coinbase() {
    let mut p = support::regtest(10);
    p.coinbase_maturity = 3;
    let mut t = TestChain::new(p);
    let b1 = t.mine(vec![], 0);
    let cb = OutPoint::new(b1.txs[0].txid(), 0);
    let value = b1.txs[0].outputs[0].amount.units();
    let miner = t.miner.clone();
    let tx = signed(&[(cb, &miner)], vec![pay(value - 1000, &key(1))]);
    for spend_height in [2, 3] {
        assert_eq!(
            check_tx_inputs(&tx, t.utxos(), spend_height, &t.params),
            Err(InputError::ImmatureCoinbase {
                index: 0,
                coin_height: 1,
                spend_height,
                maturity: 3
            })
        );
    }
    assert_eq!(
        check_tx_inputs(&tx, t.utxos(), 4, &t.params),
        Ok(amount(1000))
    );
    // Genesis outputs are exempt: the faucet can be spent at height 1.
    let faucet = t.faucet_to(0, &key(1), 1000);
    assert_eq!(
        check_tx_inputs(&faucet, t.utxos(), 2, &t.params),
        Ok(amount(1000))
    );

    // The same through blocks: refused at height 2, connected at height 4.
    let early = t.block_on_tip(vec![tx.clone()], 1000);
    assert_connect_fails(
        &mut t,
        early,
        BlockError::Inputs {
            index: 1,
            error: InputError::ImmatureCoinbase {
                index: 0,
                coin_height: 1,
                spend_height: 2,
                maturity: 3,
            },
        },
    );
    t.mine(vec![], 0);
    t.mine(vec![], 0);
    t.mine(vec![tx], 1000);
    assert_eq!(t.chain.height(), 4);
}

#[test]
fn input_inputs_overflow() {
    // With a sound UTXO set this needs the whole money supply in two coins.
    let mut view = std::collections::HashMap::new();
    let kp = key(1);
    let coin = Coin {
        output: TxOut {
            amount: Amount::MAX_MONEY,
            address: kp.address(),
        },
        height: 0,
        coinbase: false,
    };
    let (a, b) = (
        OutPoint::new(rumor_chain::Txid([1; 32]), 0),
        OutPoint::new(rumor_chain::Txid([2; 32]), 0),
    );
    view.insert(a, coin);
    view.insert(b, coin);
    let tx = signed(&[(a, &kp), (b, &kp)], vec![pay(1, &kp)]);
    let params = support::regtest(10);
    assert_eq!(
        check_tx_inputs(&tx, &view, 1, &params),
        Err(InputError::InputsOverflow)
    );

    // And on a chain: all the money in genesis, plus a block reward.
    let mut t = TestChain::new(rich_params());
    let b1 = t.mine(vec![], 0);
    let miner = t.miner.clone();
    let tx = signed(
        &[
            (t.faucet_outpoint(0), &t.params.faucet_key(0)),
            (OutPoint::new(b1.txs[0].txid(), 0), &miner),
        ],
        vec![pay(1, &kp)],
    );
    let block = t.block_on_tip(vec![tx], 0);
    assert_connect_fails(
        &mut t,
        block,
        BlockError::Inputs {
            index: 1,
            error: InputError::InputsOverflow,
        },
    );
}

#[test]
fn input_outputs_exceed_inputs() {
    let t = TestChain::regtest(10);
    let units = t.faucet_units();
    let tx = t.spend_faucet(0, vec![pay(units + 1, &key(1))]);
    assert_eq!(
        check_tx_inputs(&tx, t.utxos(), 1, &t.params),
        Err(InputError::OutputsExceedInputs {
            inputs: amount(units),
            outputs: amount(units + 1)
        })
    );
    // Spending exactly everything is fine (a zero fee).
    let tx = t.spend_faucet(0, vec![pay(units, &key(1))]);
    assert_eq!(
        check_tx_inputs(&tx, t.utxos(), 1, &t.params),
        Ok(Amount::ZERO)
    );
}

// ---------------------------------------------------------------------------
// blocks, context-free

#[test]
fn valid_block_passes_and_connects() {
    let mut t = TestChain::regtest(10);
    let tx = t.faucet_to(0, &key(1), 1000);
    let block = t.block_on_tip(vec![tx], 1000);
    let checked = check(block.clone(), &t.params).expect("valid");
    assert_eq!(checked.hash(), block.hash());
    assert_eq!(checked.txids(), block.txids().as_slice());
    t.accept(block);
    assert_eq!(t.chain.height(), 1);
}

#[test]
fn block_unsupported_version() {
    let t = TestChain::regtest(10);
    let mut block = t.block_on_tip(vec![], 0);
    block.header.version = 2;
    let block = remine(block);
    assert_eq!(
        check(block, &t.params).unwrap_err(),
        BlockError::UnsupportedVersion(2)
    );
}

#[test]
fn block_too_large() {
    let t = TestChain::regtest(10);
    let txs = (0..3).map(|i| t.faucet_to(i, &key(1), 1000)).collect();
    let block = t.block_on_tip(txs, 3000);
    let size = block.encode().len();
    let mut small = t.params.clone();
    small.max_block_bytes = size - 1;
    assert_eq!(
        check(block.clone(), &small).unwrap_err(),
        BlockError::TooLarge {
            size,
            max: size - 1
        }
    );
    small.max_block_bytes = size;
    assert!(check(block, &small).is_ok());
}

#[test]
fn block_wrong_target() {
    let t = TestChain::regtest(10);
    let mut block = t.block_on_tip(vec![], 0);
    block.header.target = Target::from_leading_zeros(2); // harder, still not the network's
    let block = remine(block);
    assert!(block.header.meets_target());
    assert_eq!(
        check(block, &t.params).unwrap_err(),
        BlockError::WrongTarget
    );
}

#[test]
fn block_bad_proof_of_work() {
    let t = TestChain::regtest(10);
    let mut block = t.block_on_tip(vec![], 0);
    while block.header.meets_target() {
        block.header.nonce += 1;
    }
    assert_eq!(
        check(block, &t.params).unwrap_err(),
        BlockError::BadProofOfWork
    );
}

#[test]
fn block_first_not_coinbase() {
    let t = TestChain::regtest(10);
    let tx = t.faucet_to(0, &key(1), 1000);
    let mut block = t.block_on_tip(vec![tx], 1000);
    block.txs.remove(0);
    assert_eq!(
        check(recommit(block.clone()), &t.params).unwrap_err(),
        BlockError::FirstNotCoinbase
    );
    block.txs.clear();
    assert_eq!(
        check(recommit(block), &t.params).unwrap_err(),
        BlockError::FirstNotCoinbase
    );
}

#[test]
fn block_extra_coinbase() {
    let t = TestChain::regtest(10);
    let tx = t.faucet_to(0, &key(1), 1000);
    let mut block = t.block_on_tip(vec![tx], 1000);
    block
        .txs
        .push(coinbase_tx(1, amount(5), key(1).address(), [9; 56]));
    assert_eq!(
        check(recommit(block), &t.params).unwrap_err(),
        BlockError::ExtraCoinbase { index: 2 }
    );
}

#[test]
fn block_duplicate_tx() {
    let t = TestChain::regtest(10);
    let tx = t.faucet_to(0, &key(1), 1000);
    let block = t.block_on_tip(vec![tx.clone(), tx.clone()], 1000);
    assert_eq!(
        check(block, &t.params).unwrap_err(),
        BlockError::DuplicateTx(tx.txid())
    );
}

#[test]
fn block_bad_merkle_root() {
    let t = TestChain::regtest(10);
    let tx = t.faucet_to(0, &key(1), 1000);
    let mut block = t.block_on_tip(vec![tx], 1000);
    block.header.merkle_root = Hash256([1; 32]);
    assert_eq!(
        check(remine(block.clone()), &t.params).unwrap_err(),
        BlockError::BadMerkleRoot
    );
    // Reordering the transactions also breaks the commitment.
    let tx2 = t.faucet_to(1, &key(1), 1000);
    let mut block = t.block_on_tip(vec![block.txs[1].clone(), tx2], 2000);
    block.txs.swap(1, 2);
    assert_eq!(
        check(remine(block), &t.params).unwrap_err(),
        BlockError::BadMerkleRoot
    );
}

#[test]
fn block_tx_breaks_a_context_free_rule() {
    let t = TestChain::regtest(10);
    let zero = t.spend_faucet(
        0,
        vec![TxOut {
            amount: Amount::ZERO,
            address: key(1).address(),
        }],
    );
    let block = t.block_on_tip(vec![zero], 0);
    assert_eq!(
        check(block, &t.params).unwrap_err(),
        BlockError::Tx {
            index: 1,
            error: TxError::ZeroOutput { index: 0 }
        }
    );

    let good = t.faucet_to(0, &key(1), 1000);
    let (k2, k3) = (t.params.faucet_key(2), t.params.faucet_key(3));
    let mut bad = signed(
        &[(t.faucet_outpoint(2), &k2), (t.faucet_outpoint(3), &k3)],
        vec![pay(1000, &key(1))],
    );
    bad.inputs[0].signature.0[33] ^= 0x01;
    let block = t.block_on_tip(vec![good, bad.clone()], 0);
    assert_eq!(
        check(block.clone(), &t.params).unwrap_err(),
        BlockError::Tx {
            index: 2,
            error: TxError::Signature {
                index: 0,
                error: SigError::BadSignature
            }
        }
    );
    // A transaction the caller already verified (its mempool has it) is not
    // verified again: that is what `sigs_known_valid` promises.
    let bad_txid = bad.txid();
    assert!(check_block(block, &t.params, |txid| *txid == bad_txid).is_ok());

    // The coinbase obeys the context-free rules too.
    let mut block = t.block_on_tip(vec![], 0);
    block.txs[0].outputs[0].amount = Amount::ZERO;
    assert_eq!(
        check(recommit(block.clone()), &t.params).unwrap_err(),
        BlockError::Tx {
            index: 0,
            error: TxError::ZeroOutput { index: 0 }
        }
    );
    block.txs[0].outputs.clear();
    assert_eq!(
        check(recommit(block), &t.params).unwrap_err(),
        BlockError::Tx {
            index: 0,
            error: TxError::NoOutputs
        }
    );
}

// ---------------------------------------------------------------------------
// blocks, contextual

#[test]
fn block_time_too_old() {
    let mut t = TestChain::regtest(10);
    for _ in 0..3 {
        t.mine(vec![], 0);
    }
    // times: g, g+1s, g+2s, g+3s -> the median of the 4 is g+2s
    let g = t.params.genesis_time;
    let mut times = vec![g, g + 1000, g + 2000, g + 3000];
    assert_eq!(median_time(&mut times), g + 2000);
    assert_eq!(t.chain.median_time_past(&t.chain.tip().hash), g + 2000);

    let mut spec = t.spec_on(&t.chain.tip().hash);
    spec.time = g + 2000;
    let old = rumor_chain::build_block(&t.params, &spec, vec![]);
    assert_refused(
        &mut t,
        old.clone(),
        BlockError::TimeTooOld {
            time: g + 2000,
            median: g + 2000,
        },
    );
    // Recorded as invalid (it can never become valid).
    assert!(t.chain.entry(&old.hash()).expect("indexed").invalid);
    spec.time = g + 2001;
    t.accept(rumor_chain::build_block(&t.params, &spec, vec![]));
    assert_eq!(t.chain.height(), 4);
}

#[test]
fn median_time_uses_the_last_eleven_blocks() {
    let mut t = TestChain::regtest(10);
    for _ in 0..12 {
        t.mine(vec![], 0);
    }
    // heights 2..=12 are the last 11: times g+2s..g+12s, median g+7s
    let g = t.params.genesis_time;
    assert_eq!(t.chain.median_time_past(&t.chain.tip().hash), g + 7000);
}

#[test]
fn block_time_too_new_is_temporary() {
    let mut t = TestChain::regtest(10);
    let drift = t.params.max_future_block_time_ms;
    let mut spec = t.spec_on(&t.chain.tip().hash);
    spec.time = t.now_ms + drift + 1;
    let block = rumor_chain::build_block(&t.params, &spec, vec![]);
    let err = match t.process(block.clone()) {
        Err(AcceptBlockError::Invalid(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err,
        BlockError::TimeTooNew {
            time: t.now_ms + drift + 1,
            max: t.now_ms + drift,
        }
    );
    assert!(err.is_temporary());
    assert!(!t.chain.knows(&block.hash()), "not recorded");
    // A millisecond later the very same block is fine.
    t.now_ms += 1;
    t.accept(block.clone());
    assert_eq!(t.chain.tip().hash, block.hash());
    // No other rule is temporary.
    assert!(!BlockError::BadMerkleRoot.is_temporary());
    assert!(!BlockError::InvalidAncestor(block.hash()).is_temporary());
}

#[test]
fn block_bad_coinbase_height() {
    let mut t = TestChain::regtest(10);
    let mut spec = t.spec_on(&t.chain.tip().hash);
    assert_eq!(spec.height, 1);
    spec.height = 5;
    let block = rumor_chain::build_block(&t.params, &spec, vec![]);
    assert_refused(
        &mut t,
        block,
        BlockError::BadCoinbaseHeight {
            expected: 1,
            found: Some(5),
        },
    );
}

#[test]
fn block_inputs_double_spend_inside_one_block() {
    let mut t = TestChain::regtest(10);
    let a = t.faucet_to(0, &key(1), 1000);
    let b = t.faucet_to(0, &key(2), 1000);
    let block = t.block_on_tip(vec![a, b], 2000);
    assert!(
        check(block.clone(), &t.params).is_ok(),
        "context-free valid"
    );
    let f0 = t.faucet_outpoint(0);
    assert_connect_fails(
        &mut t,
        block,
        BlockError::Inputs {
            index: 2,
            error: InputError::MissingOrSpent {
                index: 0,
                outpoint: f0,
            },
        },
    );
    assert_eq!(t.chain.height(), 0);
    assert!(t.utxos().contains_key(&f0), "nothing was spent");
}

#[test]
fn block_inputs_double_spend_across_blocks() {
    let mut t = TestChain::regtest(10);
    t.mine(vec![t.faucet_to(0, &key(1), 1000)], 1000);
    let again = t.faucet_to(0, &key(2), 1000);
    let block = t.block_on_tip(vec![again], 1000);
    let f0 = t.faucet_outpoint(0);
    assert_connect_fails(
        &mut t,
        block,
        BlockError::Inputs {
            index: 1,
            error: InputError::MissingOrSpent {
                index: 0,
                outpoint: f0,
            },
        },
    );
}

#[test]
fn block_inputs_in_block_order() {
    let mut t = TestChain::regtest(10);
    let parent = t.faucet_to(0, &key(1), 1000);
    let k1 = key(1);
    let child = signed(
        &[(OutPoint::new(parent.txid(), 0), &k1)],
        vec![pay(t.faucet_units() - 2000, &key(2))],
    );
    // The child before its parent: its input does not exist yet.
    let block = t.block_on_tip(vec![child.clone(), parent.clone()], 2000);
    assert_connect_fails(
        &mut t,
        block,
        BlockError::Inputs {
            index: 1,
            error: InputError::MissingOrSpent {
                index: 0,
                outpoint: OutPoint::new(parent.txid(), 0),
            },
        },
    );
    // Parent first is fine, and the parent's output never reaches the UTXO set.
    t.mine(vec![parent.clone(), child.clone()], 2000);
    assert!(!t.utxos().contains_key(&OutPoint::new(parent.txid(), 0)));
    assert!(t.utxos().contains_key(&OutPoint::new(child.txid(), 0)));
}

#[test]
fn block_inputs_other_contextual_rules() {
    let mut t = TestChain::regtest(10);
    let wrong = key(1);
    let mismatch = signed(
        &[(t.faucet_outpoint(0), &wrong)],
        vec![pay(t.faucet_units() - 1000, &key(2))],
    );
    let block = t.block_on_tip(vec![mismatch], 1000);
    let expected = t.params.faucet_key(0).address();
    assert_connect_fails(
        &mut t,
        block,
        BlockError::Inputs {
            index: 1,
            error: InputError::KeyMismatch { index: 0, expected },
        },
    );
    let units = t.faucet_units();
    let greedy = t.spend_faucet(1, vec![pay(units + 1, &key(1))]);
    let block = t.block_on_tip(vec![greedy], 0);
    assert_connect_fails(
        &mut t,
        block,
        BlockError::Inputs {
            index: 1,
            error: InputError::OutputsExceedInputs {
                inputs: amount(units),
                outputs: amount(units + 1),
            },
        },
    );
}

#[test]
fn block_fees_overflow() {
    // subsidy + fees past MAX_MONEY
    let mut t = TestChain::new(rich_params());
    let all = t.spend_faucet(0, vec![pay(1, &key(1))]);
    let block = t.block_on_tip(vec![all.clone()], 0);
    assert_connect_fails(&mut t, block, BlockError::FeesOverflow);

    // the fees themselves past MAX_MONEY
    let b1 = t.mine(vec![], 0);
    let miner = t.miner.clone();
    let reward = signed(
        &[(OutPoint::new(b1.txs[0].txid(), 0), &miner)],
        vec![pay(1, &key(1))],
    );
    let block = t.block_on_tip(vec![reward, all], 0);
    assert_connect_fails(&mut t, block, BlockError::FeesOverflow);
}

#[test]
fn block_coinbase_too_large() {
    let mut t = TestChain::regtest(10);
    let tx = t.faucet_to(0, &key(1), 1000);
    let subsidy = t.params.subsidy(1).units();
    let block = t.block_on_tip(vec![tx.clone()], 1001);
    assert_connect_fails(
        &mut t,
        block,
        BlockError::CoinbaseTooLarge {
            paid: amount(subsidy + 1001),
            allowed: amount(subsidy + 1000),
        },
    );
    // Claiming less than allowed is fine (the rest is never created).
    t.mine(vec![tx], 999);
}

#[test]
fn block_invalid_ancestor() {
    let mut t = TestChain::regtest(10);
    // An ancestor that broke a rule checked before storing...
    let mut spec = t.spec_on(&t.chain.tip().hash);
    spec.time = t.params.genesis_time;
    let old = rumor_chain::build_block(&t.params, &spec, vec![]);
    assert!(matches!(
        t.process(old.clone()),
        Err(AcceptBlockError::Invalid(BlockError::TimeTooOld { .. }))
    ));
    let child = t.block_after(&old, vec![], 0);
    assert_refused(
        &mut t,
        child.clone(),
        BlockError::InvalidAncestor(old.hash()),
    );
    assert!(t.chain.entry(&child.hash()).expect("indexed").invalid);
    let grandchild = t.block_after(&child, vec![], 0);
    assert_refused(
        &mut t,
        grandchild,
        BlockError::InvalidAncestor(child.hash()),
    );

    // ...and one that broke a rule found while connecting.
    let a = t.faucet_to(0, &key(1), 1000);
    let b = t.faucet_to(0, &key(2), 1000);
    let bad = t.block_on_tip(vec![a, b], 2000);
    assert!(
        matches!(t.process(bad.clone()), Ok(AcceptOutcome::Accepted(acc)) if acc.invalid.len() == 1)
    );
    let child = t.block_after(&bad, vec![], 0);
    assert_refused(&mut t, child, BlockError::InvalidAncestor(bad.hash()));
}

// ---------------------------------------------------------------------------
// chain state: orphans and branch selection

#[test]
fn orphan_blocks_wait_for_their_parent() {
    let mut t = TestChain::regtest(10);
    let genesis = t.genesis();
    let b1 = t.block_after(&genesis, vec![], 0);
    let b2 = t.block_after(&b1, vec![], 0);
    let b3 = t.block_after(&b2, vec![], 0);
    assert!(matches!(
        t.process(b3.clone()),
        Ok(AcceptOutcome::Orphan { missing }) if missing == b2.hash()
    ));
    assert!(matches!(
        t.process(b2.clone()),
        Ok(AcceptOutcome::Orphan { missing }) if missing == b1.hash()
    ));
    assert!(matches!(
        t.process(b3.clone()),
        Ok(AcceptOutcome::AlreadyKnown)
    ));
    assert_eq!(t.chain.orphans().len(), 2);
    let acc = t.accept(b1.clone());
    assert_eq!(acc.stored, vec![b1.hash(), b2.hash(), b3.hash()]);
    let connected: Vec<_> = acc.connected.iter().map(|b| b.hash()).collect();
    assert_eq!(connected, vec![b1.hash(), b2.hash(), b3.hash()]);
    assert_eq!(t.chain.height(), 3);
    assert!(t.chain.orphans().is_empty());
}

#[test]
fn an_invalid_best_branch_does_not_hide_a_valid_one() {
    // P arrives last; its descendants wait as orphans: a valid branch P-F2 and
    // a longer branch P-G2-G3 where G2 double-spends. G3 has the most work,
    // fails on G2, and then P-F2 (more work than the old tip) must win.
    let mut t = TestChain::regtest(10);
    let genesis = t.genesis();
    let p = t.block_after(&genesis, vec![], 0);
    let f2 = t.block_after(&p, vec![t.faucet_to(1, &key(1), 1000)], 1000);
    let spend_a = t.faucet_to(0, &key(1), 1000);
    let spend_b = t.faucet_to(0, &key(2), 1000);
    let g2 = t.block_after(&p, vec![spend_a, spend_b], 2000);
    let g3 = t.block_after(&g2, vec![], 0);
    for orphan in [g3.clone(), g2.clone(), f2.clone()] {
        assert!(matches!(
            t.process(orphan),
            Ok(AcceptOutcome::Orphan { .. })
        ));
    }
    let acc = match t.process(p.clone()) {
        Ok(AcceptOutcome::Accepted(acc)) => acc,
        other => panic!("{other:?}"),
    };
    assert_eq!(acc.invalid.len(), 1);
    assert_eq!(acc.invalid[0].0, g2.hash());
    assert!(matches!(
        acc.invalid[0].1,
        BlockError::Inputs {
            index: 2,
            error: InputError::MissingOrSpent { .. }
        }
    ));
    assert_eq!(t.chain.tip().hash, f2.hash());
    let connected: Vec<_> = acc.connected.iter().map(|b| b.hash()).collect();
    assert_eq!(connected, vec![p.hash(), f2.hash()]);
    assert!(acc.disconnected.is_empty());
    assert!(t.chain.entry(&g3.hash()).expect("indexed").invalid);
}

#[test]
fn equal_work_keeps_the_first_seen_tip() {
    let mut t = TestChain::regtest(10);
    let genesis = t.genesis();
    let a = t.block_after(&genesis, vec![], 0);
    let b = t.block_after(&genesis, vec![], 0);
    t.accept(a.clone());
    let acc = t.accept(b.clone());
    assert!(!acc.tip_changed());
    assert_eq!(t.chain.tip().hash, a.hash());
    assert!(!t.chain.is_active(&b.hash()));
    // Held aside, not stored: a competing block is kept only while bounded.
    assert!(t.chain.entry(&b.hash()).is_none());
    assert!(t.chain.is_stale_held(&b.hash()));
    // Its child makes its branch the best: both are stored and connected.
    let b2 = t.block_after(&b, vec![], 0);
    let acc = t.accept(b2.clone());
    assert_eq!(acc.stored, vec![b.hash(), b2.hash()]);
    assert_eq!(acc.disconnected.len(), 1);
    assert_eq!(t.chain.tip().hash, b2.hash());
    assert!(t.chain.orphans().is_empty());
}

#[test]
fn side_branches_that_do_not_become_best_are_never_stored_and_stay_bounded() {
    let mut t = TestChain::regtest(10);
    let genesis = t.genesis();
    let mut tip = genesis.clone();
    for _ in 0..3 {
        tip = t.mine(vec![], 0);
    }
    // Spam: many cheap blocks on genesis and on the tip's parent, and a
    // side branch growing from genesis, none with more work than the tip.
    let parent = t.chain.entry(&tip.header.prev).expect("indexed").hash;
    let parent = t.chain.block(&parent).unwrap().expect("stored");
    let mut side = t.block_after(&genesis, vec![], 0);
    assert!(matches!(t.process(side.clone()), Ok(AcceptOutcome::Stale)));
    side = t.block_after(&side, vec![], 0);
    assert!(matches!(t.process(side.clone()), Ok(AcceptOutcome::Stale)));
    for i in 0..2 * MAX_ORPHAN_BLOCKS {
        let on = if i % 2 == 0 { &genesis } else { &parent };
        let b = t.block_after(on, vec![], 0);
        assert!(
            matches!(t.process(b.clone()), Ok(AcceptOutcome::Stale)),
            "block {i}"
        );
        assert!(t.chain.entry(&b.hash()).is_none(), "block {i} stored");
    }
    assert_eq!(t.chain.tip().hash, tip.hash());
    assert!(t.chain.orphans().len() <= MAX_ORPHAN_BLOCKS);
    assert!(t.chain.orphans().evicted() >= MAX_ORPHAN_BLOCKS as u64);
    assert_eq!(t.chain.height(), 3);
}

#[test]
fn faucet_output_i_pays_faucet_key_i() {
    // The helpers rely on it.
    let t = TestChain::regtest(10);
    let genesis = t.genesis();
    for (i, out) in genesis.txs[0].outputs.iter().enumerate() {
        let kp = t.params.faucet_key(i as u32);
        assert_eq!(out.address, Address::from_pubkey(&kp.public()));
        assert_eq!(out.amount, t.params.genesis_output_amount);
    }
}

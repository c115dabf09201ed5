//! Property tests: canonical encoding, decoder robustness, UTXO undo and
//! reorgs, and batch signature verification.
#![allow(missing_docs)]

mod support;

use std::collections::HashMap;
use std::fmt::Debug;

use proptest::prelude::*;
use rumor_chain::{
    AcceptOutcome, Address, Amount, Block, BlockHash, BlockHeader, BlockUndo, Coin, DecodeError,
    HARD_LIMIT, Hash256, IndexEntry, KeyPair, MAX_BLOCK_DECODE_BYTES, MAX_HEADER_DECODE_BYTES,
    MAX_TX_DECODE_BYTES, MempoolConfig, Network, OutPoint, PublicKey, SigCheck, SigError,
    Signature, Target, Transaction, TxIn, TxOut, Txid, Work, check_block, check_transaction,
    check_transactions, decode, encode, sha256d, verify_batch, verify_one,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use support::{TestChain, key, pay, signed};

// ---------------------------------------------------------------------------
// strategies

fn bytes32() -> impl Strategy<Value = [u8; 32]> {
    prop::array::uniform::<_, 32>(any::<u8>())
}

fn bytes64() -> impl Strategy<Value = [u8; 64]> {
    prop::array::uniform::<_, 64>(any::<u8>())
}

fn txid() -> impl Strategy<Value = Txid> {
    bytes32().prop_map(Txid)
}

fn amount() -> impl Strategy<Value = Amount> {
    // Small values and all sizes of varint up to MAX_MONEY.
    prop_oneof![0..300u64, 0..70_000u64, 0..=Amount::MAX_MONEY.units()]
        .prop_map(|u| Amount::new(u).expect("in range"))
}

fn address() -> impl Strategy<Value = Address> {
    prop::array::uniform::<_, 20>(any::<u8>()).prop_map(Address)
}

fn outpoint() -> impl Strategy<Value = OutPoint> {
    (txid(), prop_oneof![0..4u32, any::<u32>()]).prop_map(|(t, v)| OutPoint::new(t, v))
}

fn txin() -> impl Strategy<Value = TxIn> {
    (outpoint(), bytes32(), bytes64()).prop_map(|(prev, k, s)| TxIn {
        prev,
        pubkey: PublicKey(k),
        signature: Signature(s),
    })
}

fn txout() -> impl Strategy<Value = TxOut> {
    (amount(), address()).prop_map(|(amount, address)| TxOut { amount, address })
}

fn transaction() -> impl Strategy<Value = Transaction> {
    (
        prop_oneof![Just(1u32), any::<u32>()],
        prop::collection::vec(txin(), 0..4),
        prop::collection::vec(txout(), 0..4),
    )
        .prop_map(|(version, inputs, outputs)| Transaction {
            version,
            inputs,
            outputs,
        })
}

fn header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<u32>(),
        bytes32(),
        bytes32(),
        any::<u64>(),
        bytes32(),
        any::<u64>(),
    )
        .prop_map(|(version, prev, root, time, target, nonce)| BlockHeader {
            version,
            prev: BlockHash(prev),
            merkle_root: Hash256(root),
            time,
            target: Target(target),
            nonce,
        })
}

fn block() -> impl Strategy<Value = Block> {
    (header(), prop::collection::vec(transaction(), 0..4))
        .prop_map(|(header, txs)| Block { header, txs })
}

fn coin() -> impl Strategy<Value = Coin> {
    (txout(), any::<u64>(), any::<bool>()).prop_map(|(output, height, coinbase)| Coin {
        output,
        height,
        coinbase,
    })
}

fn block_undo() -> impl Strategy<Value = BlockUndo> {
    prop::collection::vec((outpoint(), coin()), 0..5).prop_map(|spent| BlockUndo { spent })
}

fn index_entry() -> impl Strategy<Value = IndexEntry> {
    (
        bytes32(),
        header(),
        any::<u64>(),
        any::<u128>(),
        any::<bool>(),
    )
        .prop_map(|(hash, header, height, work, invalid)| IndexEntry {
            hash: BlockHash(hash),
            header,
            height,
            chain_work: Work(work),
            invalid,
        })
}

// ---------------------------------------------------------------------------
// encoding

/// encode -> decode is the identity, the length is what `encoded_len` says,
/// and the JSON form round-trips too.
fn roundtrip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let bytes = encode(value);
    prop_assert_eq!(rumor_chain::encoded_len(value), bytes.len());
    prop_assert_eq!(&decode::<T>(&bytes, HARD_LIMIT).expect("decodes"), value);
    let json = serde_json::to_string(value).expect("to json");
    prop_assert_eq!(&serde_json::from_str::<T>(&json).expect("from json"), value);
    Ok(())
}

/// Decoding arbitrary bytes gives a typed error or a value whose encoding is
/// exactly those bytes.
fn decodes_canonically_or_fails<T>(
    bytes: &[u8],
    decoder: impl Fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<Option<T>, TestCaseError>
where
    T: Serialize,
{
    match decoder(bytes) {
        Ok(value) => {
            prop_assert_eq!(encode(&value), bytes);
            Ok(Some(value))
        }
        Err(_) => Ok(None),
    }
}

/// Every decoder in the crate, on the same bytes.
fn every_decoder(bytes: &[u8]) -> Result<(), TestCaseError> {
    decodes_canonically_or_fails(bytes, Transaction::decode)?;
    decodes_canonically_or_fails(bytes, Block::decode)?;
    decodes_canonically_or_fails(bytes, BlockHeader::decode)?;
    decodes_canonically_or_fails(bytes, |b| decode::<OutPoint>(b, 64))?;
    decodes_canonically_or_fails(bytes, |b| decode::<TxIn>(b, 256))?;
    decodes_canonically_or_fails(bytes, |b| decode::<TxOut>(b, 64))?;
    decodes_canonically_or_fails(bytes, |b| decode::<Amount>(b, 16))?;
    decodes_canonically_or_fails(bytes, |b| decode::<Address>(b, 32))?;
    decodes_canonically_or_fails(bytes, |b| decode::<Txid>(b, 32))?;
    decodes_canonically_or_fails(bytes, |b| decode::<BlockHash>(b, 32))?;
    decodes_canonically_or_fails(bytes, |b| decode::<Coin>(b, 128))?;
    decodes_canonically_or_fails(bytes, |b| decode::<BlockUndo>(b, HARD_LIMIT))?;
    decodes_canonically_or_fails(bytes, |b| decode::<IndexEntry>(b, 512))?;
    decodes_canonically_or_fails(bytes, |b| decode::<Work>(b, 32))?;
    decodes_canonically_or_fails(bytes, |b| decode::<Signature>(b, 64))?;
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    FlipBit(usize),
    Append(Vec<u8>),
    Overwrite(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::FlipBit),
        prop::collection::vec(any::<u8>(), 1..8).prop_map(Mutation::Append),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
    ]
}

fn mutate(bytes: &[u8], m: &Mutation) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match m {
        Mutation::Truncate(n) => out.truncate(n % bytes.len().max(1)),
        Mutation::FlipBit(bit) => {
            if !out.is_empty() {
                let bit = bit % (out.len() * 8);
                out[bit / 8] ^= 1 << (bit % 8);
            }
        }
        Mutation::Append(extra) => out.extend_from_slice(extra),
        Mutation::Overwrite(i, b) => {
            if !out.is_empty() {
                let i = i % out.len();
                out[i] = *b;
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encode_decode_identity_for_leaf_types(
        op in outpoint(),
        input in txin(),
        output in txout(),
        amt in amount(),
        addr in address(),
        id in txid(),
        hash in bytes32(),
        coin in coin(),
        work in any::<u128>(),
        target in bytes32(),
        pk in bytes32(),
        sig in bytes64(),
    ) {
        roundtrip(&op)?;
        roundtrip(&input)?;
        roundtrip(&output)?;
        roundtrip(&amt)?;
        roundtrip(&addr)?;
        roundtrip(&id)?;
        roundtrip(&BlockHash(hash))?;
        roundtrip(&Hash256(hash))?;
        roundtrip(&coin)?;
        roundtrip(&Work(work))?;
        roundtrip(&Target(target))?;
        roundtrip(&PublicKey(pk))?;
        roundtrip(&Signature(sig))?;
        // human-readable text forms
        prop_assert_eq!(id.to_string().parse::<Txid>().expect("hex"), id);
        for net in Network::ALL {
            prop_assert_eq!(Address::parse(&addr.encode(net), net).expect("bech32m"), addr);
        }
        prop_assert_eq!(Amount::parse_coins(&amt.to_string()).expect("coins"), amt);
    }

    #[test]
    fn encode_decode_identity_for_objects(
        tx in transaction(),
        header in header(),
        block in block(),
        undo in block_undo(),
        entry in index_entry(),
    ) {
        roundtrip(&tx)?;
        roundtrip(&header)?;
        roundtrip(&block)?;
        roundtrip(&undo)?;
        roundtrip(&entry)?;
        // the type-specific decoders agree
        prop_assert_eq!(&Transaction::decode(&tx.encode()).expect("tx"), &tx);
        prop_assert_eq!(tx.size(), tx.encode().len());
        // txid and sighash (computed without going through bincode) are
        // hashes of the canonical encoding
        prop_assert_eq!(tx.txid(), Txid(sha256d(&tx.encode())));
        let mut blank = tx.clone();
        for input in &mut blank.inputs {
            input.signature = Signature::ZERO;
        }
        let mut tagged = b"rumor/sighash/v1".to_vec();
        tagged.extend_from_slice(&blank.encode());
        prop_assert_eq!(tx.sighash(), Hash256(sha256d(&tagged)));
        prop_assert_eq!(BlockHeader::decode(&encode(&header)).expect("header"), header);
        prop_assert_eq!(&Block::decode(&block.encode()).expect("block"), &block);
        prop_assert_eq!(block.size(), block.encode().len());
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        every_decoder(&bytes)?;
    }

    #[test]
    fn mutated_encodings_never_panic(
        tx in transaction(),
        block in block(),
        header in header(),
        undo in block_undo(),
        m in mutation(),
    ) {
        for valid in [tx.encode(), block.encode(), encode(&header), encode(&undo)] {
            let bytes = mutate(&valid, &m);
            every_decoder(&bytes)?;
        }
        // Specific outcomes for the transaction's own decoder.
        let bytes = mutate(&tx.encode(), &m);
        let result = Transaction::decode(&bytes);
        match &m {
            Mutation::Truncate(_) => prop_assert!(result.is_err()),
            Mutation::Append(extra) => {
                prop_assert_eq!(result, Err(DecodeError::TrailingBytes(extra.len())));
            }
            _ => {
                if let Ok(decoded) = result {
                    prop_assert_eq!(decoded.encode(), bytes);
                }
            }
        }
    }

    #[test]
    fn oversized_input_is_refused_before_reading(extra in 1..64usize) {
        let header = vec![0u8; MAX_HEADER_DECODE_BYTES + extra];
        prop_assert_eq!(
            BlockHeader::decode(&header),
            Err(DecodeError::TooLarge { len: header.len(), limit: MAX_HEADER_DECODE_BYTES })
        );
        prop_assert_eq!(
            decode::<Txid>(&[0u8; 40], 40 - extra.min(40)),
            Err(DecodeError::TooLarge { len: 40, limit: 40 - extra.min(40) })
        );
    }
}

#[test]
fn size_limits_of_the_object_decoders() {
    let tx = vec![0u8; MAX_TX_DECODE_BYTES + 1];
    assert_eq!(
        Transaction::decode(&tx),
        Err(DecodeError::TooLarge {
            len: tx.len(),
            limit: MAX_TX_DECODE_BYTES
        })
    );
    let block = vec![0u8; MAX_BLOCK_DECODE_BYTES + 1];
    assert_eq!(
        Block::decode(&block),
        Err(DecodeError::TooLarge {
            len: block.len(),
            limit: MAX_BLOCK_DECODE_BYTES
        })
    );
    // A length prefix claiming u64::MAX inputs, with nothing behind it, is a
    // malformed input: nothing is reserved for the claimed elements.
    let claim = [1u8, 253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        Transaction::decode(&claim),
        Err(DecodeError::Malformed(_))
    ));
    let undo_claim = [253u8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    assert!(matches!(
        decode::<BlockUndo>(&undo_claim, 64),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn human_readable_forms() {
    assert_eq!(
        serde_json::to_string(&Network::Regtest).unwrap(),
        "\"regtest\""
    );
    assert_eq!(
        serde_json::from_str::<Network>("\"testnet\"").unwrap(),
        Network::Testnet
    );
    let config = MempoolConfig::default();
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(
        serde_json::from_str::<MempoolConfig>(&json).unwrap(),
        config
    );
    // Amounts out of range are refused by JSON as by bincode.
    let too_much = Amount::MAX_MONEY.units() + 1;
    assert!(serde_json::from_str::<Amount>(&too_much.to_string()).is_err());
    assert!(matches!(
        decode::<Amount>(&encode(&too_much), 16),
        Err(DecodeError::Malformed(_))
    ));
}

// ---------------------------------------------------------------------------
// chains: undo and reorgs

/// A small deterministic generator for the shape of random chains.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const GENESIS_OUTPUTS: u32 = 24;
const WALLET_KEYS: usize = 3;

/// Keys that own spendable coins: the faucet keys of the genesis outputs,
/// then a few wallet keys.
struct Keys(Vec<KeyPair>);

impl Keys {
    fn new(t: &TestChain) -> Self {
        let mut keys: Vec<KeyPair> = (0..GENESIS_OUTPUTS)
            .map(|i| t.params.faucet_key(i))
            .collect();
        keys.extend((0..WALLET_KEYS).map(|i| key(100 + i as u8)));
        Self(keys)
    }
}

/// Spendable coins on one branch: (outpoint, value, owner key index).
/// Coinbase outputs are immature on regtest and never listed.
#[derive(Clone)]
struct Wallet(Vec<(OutPoint, u64, usize)>);

impl Wallet {
    fn genesis(t: &TestChain) -> Self {
        Self(
            (0..GENESIS_OUTPUTS)
                .map(|i| (t.faucet_outpoint(i), t.faucet_units(), i as usize))
                .collect(),
        )
    }
}

/// A block on `parent` with up to `max_txs` random transactions, each
/// spending one or two coins of `wallet` (genesis outputs, outputs of earlier
/// blocks, or outputs of earlier transactions of the same block).
fn random_block(
    t: &TestChain,
    keys: &Keys,
    wallet: &mut Wallet,
    parent: &Block,
    rng: &mut Rng,
    max_txs: u64,
) -> Block {
    let mut txs = Vec::new();
    let mut fees = 0;
    for _ in 0..rng.below(max_txs + 1) {
        if wallet.0.is_empty() {
            break;
        }
        let n_in = (1 + rng.below(2) as usize).min(wallet.0.len());
        let spent: Vec<_> = (0..n_in)
            .map(|_| {
                let i = rng.below(wallet.0.len() as u64) as usize;
                wallet.0.swap_remove(i)
            })
            .collect();
        let total: u64 = spent.iter().map(|c| c.1).sum();
        let n_out = 1 + rng.below(3);
        let fee = rng.below(500).min(total - n_out);
        let share = (total - fee) / n_out;
        let owners: Vec<usize> = (0..n_out)
            .map(|_| GENESIS_OUTPUTS as usize + rng.below(WALLET_KEYS as u64) as usize)
            .collect();
        let outputs: Vec<TxOut> = owners
            .iter()
            .enumerate()
            .map(|(i, owner)| {
                let value = if i as u64 == n_out - 1 {
                    total - fee - share * (n_out - 1)
                } else {
                    share
                };
                pay(value, &keys.0[*owner])
            })
            .collect();
        let inputs: Vec<(OutPoint, &KeyPair)> = spent
            .iter()
            .map(|(op, _, owner)| (*op, &keys.0[*owner]))
            .collect();
        let tx = signed(&inputs, outputs);
        let txid = tx.txid();
        for (vout, (out, owner)) in tx.outputs.iter().zip(&owners).enumerate() {
            wallet
                .0
                .push((OutPoint::new(txid, vout as u32), out.amount.units(), *owner));
        }
        fees += fee;
        txs.push(tx);
    }
    t.block_after(parent, txs, fees)
}

/// `len` random blocks on `parent`.
fn random_branch(
    t: &TestChain,
    keys: &Keys,
    mut wallet: Wallet,
    parent: &Block,
    len: usize,
    rng: &mut Rng,
    max_txs: u64,
) -> (Vec<Block>, Wallet) {
    let mut blocks: Vec<Block> = Vec::new();
    for _ in 0..len {
        let on = blocks.last().unwrap_or(parent).clone();
        blocks.push(random_block(t, keys, &mut wallet, &on, rng, max_txs));
    }
    (blocks, wallet)
}

/// Feeds blocks that must all be accepted without any rule broken.
fn feed(t: &mut TestChain, blocks: &[Block]) -> Vec<rumor_chain::BlockAccepted> {
    blocks.iter().map(|b| t.accept(b.clone())).collect()
}

/// A fresh chain fed only `branch` (signatures were verified on the first
/// pass, so the replay trusts them), to compare UTXO sets with.
fn replay(t: &TestChain, branch: &[Block]) -> TestChain {
    let mut fresh = TestChain::new(t.params.clone());
    for block in branch {
        let checked = check_block(block.clone(), &t.params, |_| true).expect("valid");
        match fresh.chain.accept_block(checked, fresh.now_ms) {
            Ok(AcceptOutcome::Accepted(acc)) => assert!(acc.invalid.is_empty()),
            other => panic!("{other:?}"),
        }
    }
    fresh
}

fn coinbase_coins(blocks: &[Block], first_height: u64) -> HashMap<OutPoint, Coin> {
    blocks
        .iter()
        .enumerate()
        .flat_map(|(i, b)| {
            let cb = &b.txs[0];
            let txid = cb.txid();
            cb.outputs.iter().enumerate().map(move |(vout, out)| {
                (
                    OutPoint::new(txid, vout as u32),
                    Coin {
                        output: *out,
                        height: first_height + i as u64,
                        coinbase: true,
                    },
                )
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Connecting random blocks and then disconnecting them (a heavier branch
    /// of empty blocks from the fork point wins) restores the UTXO set exactly.
    #[test]
    fn connect_then_disconnect_restores_the_utxo_set(
        seed in any::<u64>(),
        prefix_len in 0..3usize,
        len in 1..4usize,
    ) {
        let mut rng = Rng(seed);
        let mut t = TestChain::regtest(GENESIS_OUTPUTS);
        let keys = Keys::new(&t);
        let genesis = t.genesis();
        let (prefix, wallet) =
            random_branch(&t, &keys, Wallet::genesis(&t), &genesis, prefix_len, &mut rng, 3);
        feed(&mut t, &prefix);
        let fork = prefix.last().unwrap_or(&genesis).clone();
        let before = t.utxos().clone();

        let (a, _) = random_branch(&t, &keys, wallet, &fork, len, &mut rng, 4);
        feed(&mut t, &a);
        prop_assert_eq!(t.chain.tip().hash, a.last().expect("non-empty").hash());

        let (empty, _) = random_branch(&t, &keys, Wallet(vec![]), &fork, len + 1, &mut rng, 0);
        let accepted = feed(&mut t, &empty);
        let reorg = accepted.last().expect("non-empty");
        let disconnected: Vec<BlockHash> = reorg.disconnected.iter().map(|b| b.hash()).collect();
        let expected: Vec<BlockHash> = a.iter().rev().map(Block::hash).collect();
        prop_assert_eq!(disconnected, expected);

        let mut expected = before;
        expected.extend(coinbase_coins(&empty, prefix_len as u64 + 1));
        prop_assert_eq!(t.utxos(), &expected);
    }

    /// After reorgs (of depth > 1, back and forth), the UTXO set is exactly
    /// that of a fresh chain fed only the winning branch.
    #[test]
    fn reorg_equals_replay_of_the_winning_branch(
        seed in any::<u64>(),
        prefix_len in 0..3usize,
        len_a in 1..4usize,
        extra_b in 1..3usize,
    ) {
        let mut rng = Rng(seed);
        let mut t = TestChain::regtest(GENESIS_OUTPUTS);
        let keys = Keys::new(&t);
        let genesis = t.genesis();
        let (prefix, wallet) =
            random_branch(&t, &keys, Wallet::genesis(&t), &genesis, prefix_len, &mut rng, 3);
        feed(&mut t, &prefix);
        let fork = prefix.last().unwrap_or(&genesis).clone();

        // Branch A wins first; B (heavier, spending some of the same coins
        // differently) replaces it; then A grows and wins back.
        let (a, wallet_a) = random_branch(&t, &keys, wallet.clone(), &fork, len_a, &mut rng, 3);
        let len_b = len_a + extra_b;
        let (b, _) = random_branch(&t, &keys, wallet, &fork, len_b, &mut rng, 3);
        let a_tip = a.last().expect("non-empty").clone();
        let (a_more, _) =
            random_branch(&t, &keys, wallet_a, &a_tip, len_b - len_a + 1, &mut rng, 3);

        let mut won = prefix.clone();
        feed(&mut t, &a);
        won.extend(a.iter().cloned());
        let fresh = replay(&t, &won);
        prop_assert_eq!(t.utxos(), fresh.utxos());

        feed(&mut t, &b);
        let mut won_b = prefix.clone();
        won_b.extend(b.iter().cloned());
        prop_assert_eq!(t.chain.tip().hash, b.last().expect("non-empty").hash());
        let fresh = replay(&t, &won_b);
        prop_assert_eq!(t.utxos(), fresh.utxos());
        prop_assert_eq!(t.chain.height(), fresh.chain.height());

        let accepted = feed(&mut t, &a_more);
        let back = accepted.last().expect("non-empty");
        prop_assert_eq!(back.disconnected.len(), len_b);
        won.extend(a_more.iter().cloned());
        prop_assert_eq!(t.chain.tip().hash, won.last().expect("non-empty").hash());
        let fresh = replay(&t, &won);
        prop_assert_eq!(t.utxos(), fresh.utxos());
        prop_assert_eq!(t.chain.locator(), fresh.chain.locator());
    }
}

// ---------------------------------------------------------------------------
// signatures

/// How one signature of a batch is made.
#[derive(Debug, Clone, Copy)]
enum SigCase {
    Valid,
    FlipSignatureBit(usize),
    FlipMessageBit(usize),
    OtherSigner,
    WeakKey(usize),
    InvalidKey,
    NonCanonicalS,
    /// A key with a torsion component (crafted, never honest).
    TorsionKey,
}

fn sig_case() -> impl Strategy<Value = SigCase> {
    prop_oneof![
        4 => Just(SigCase::Valid),
        1 => (0..512usize).prop_map(SigCase::FlipSignatureBit),
        1 => (0..256usize).prop_map(SigCase::FlipMessageBit),
        1 => Just(SigCase::OtherSigner),
        1 => (0..3usize).prop_map(SigCase::WeakKey),
        1 => Just(SigCase::InvalidKey),
        1 => Just(SigCase::NonCanonicalS),
        1 => Just(SigCase::TorsionKey),
    ]
}

/// (message, key, signature) for one case; `n` varies keys and messages.
fn make_sig(case: SigCase, n: u8) -> (Vec<u8>, PublicKey, Signature) {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};

    let kp = KeyPair::from_seed([n.wrapping_add(1); 32]);
    let mut msg = vec![n; 32];
    let mut sig = kp.sign(&msg);
    let mut pk = kp.public();
    match case {
        SigCase::Valid => {}
        SigCase::FlipSignatureBit(bit) => sig.0[bit / 8] ^= 1 << (bit % 8),
        SigCase::FlipMessageBit(bit) => msg[bit / 8] ^= 1 << (bit % 8),
        SigCase::OtherSigner => pk = KeyPair::from_seed([n.wrapping_add(2); 32]).public(),
        SigCase::WeakKey(which) => {
            let mut weak = [0u8; 32];
            match which {
                0 => weak[0] = 1, // identity
                1 => {}           // y = 0, order 4
                _ => {
                    weak = [0xff; 32]; // y = p - 1, order 2
                    weak[0] = 0xec;
                    weak[31] = 0x7f;
                }
            }
            pk = PublicKey(weak);
        }
        SigCase::InvalidKey => {
            let mut bad = [0u8; 32];
            bad[0] = 2;
            pk = PublicKey(bad);
        }
        SigCase::NonCanonicalS => {
            // s + l: the classic malleation
            let l: [u8; 32] = [
                0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
                0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
            ];
            let mut carry = 0u16;
            for (byte, l_byte) in sig.0[32..].iter_mut().zip(l) {
                let sum = u16::from(*byte) + u16::from(l_byte) + carry;
                *byte = sum as u8;
                carry = sum >> 8;
            }
        }
        SigCase::TorsionKey => {
            let mut minus_one = [0xffu8; 32];
            minus_one[0] = 0xec;
            minus_one[31] = 0x7f;
            let t2 = CompressedEdwardsY(minus_one)
                .decompress()
                .expect("order-2 point");
            let a = Scalar::from(1_000_003u64 + u64::from(n));
            pk = PublicKey((B * a + t2).compress().to_bytes());
            let r = Scalar::from(7_777u64 + u64::from(n));
            let r_bytes = (B * r).compress().to_bytes();
            let mut h = Sha512::new();
            h.update(r_bytes);
            h.update(pk.as_bytes());
            h.update(&msg);
            let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
            sig.0[..32].copy_from_slice(&r_bytes);
            sig.0[32..].copy_from_slice((r + k * a).as_bytes());
        }
    }
    (msg, pk, sig)
}

fn as_checks(v: &[(Vec<u8>, PublicKey, Signature)]) -> Vec<SigCheck<'_>> {
    v.iter()
        .map(|(msg, key, sig)| SigCheck { msg, key, sig })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// verify_batch answers exactly what verify_one says of each signature:
    /// Ok if all verify, else the first failing index and its reason.
    #[test]
    fn verify_batch_agrees_with_verify_one(
        cases in prop::collection::vec((sig_case(), any::<u8>()), 0..7),
    ) {
        let sigs: Vec<_> = cases.iter().map(|(c, n)| make_sig(*c, *n)).collect();
        let checks = as_checks(&sigs);
        let expected = checks
            .iter()
            .enumerate()
            .find_map(|(i, c)| verify_one(c).err().map(|e| (i, e)));
        prop_assert_eq!(verify_batch(&checks), expected.map_or(Ok(()), Err));

        // verify_one is verify_strict for every key without a torsion part.
        for ((case, _), check) in cases.iter().zip(&checks) {
            if matches!(case, SigCase::TorsionKey) {
                prop_assert_eq!(verify_one(check), Ok(()));
                continue;
            }
            let strict = ed25519_dalek::VerifyingKey::from_bytes(check.key.as_bytes())
                .map_err(|_| SigError::InvalidKey)
                .and_then(|vk| {
                    vk.verify_strict(check.msg, &ed25519_dalek::Signature::from_bytes(check.sig.as_bytes()))
                        .map_err(|_| SigError::BadSignature)
                });
            prop_assert_eq!(verify_one(check).is_ok(), strict.is_ok());
        }
    }

    /// check_transactions (one batch) equals check_transaction on each.
    #[test]
    fn batch_transaction_checks_equal_single_ones(
        corrupt in prop::collection::vec(prop::option::of(0..1024usize), 1..6),
    ) {
        let t = TestChain::regtest(8);
        let txs: Vec<Transaction> = corrupt
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut tx = t.faucet_to(i as u32, &key(1), 1000);
                if let Some(bit) = c {
                    let bit = bit % (tx.inputs[0].signature.0.len() * 8);
                    tx.inputs[0].signature.0[bit / 8] ^= 1 << (bit % 8);
                }
                tx
            })
            .collect();
        let single: Vec<_> = txs.iter().map(|tx| check_transaction(tx.clone(), &t.params)).collect();
        prop_assert_eq!(check_transactions(txs, &t.params), single);
    }
}

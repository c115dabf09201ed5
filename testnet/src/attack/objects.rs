//! Transactions and blocks for attacks and honest probes: valid ones
//! spending genesis faucet outputs (each output once), and invalid ones that
//! break exactly one rule each.

use rumor_chain::{
    Address, Amount, Block, BlockHash, BlockSpec, KeyPair, Network, OutPoint, Params, PublicKey,
    Transaction, TxIn, TxOut, Txid, build_block, mine_header,
};

/// The fee of every valid transaction built here.
pub const FEE: u64 = 2_000;

/// How an invalid transaction is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxFault {
    /// A signature byte flipped.
    BadSignature,
    /// The input's public key is a small-order point (a weak key).
    WeakKey,
    /// Spends an outpoint nobody created.
    UnknownInput,
    /// Two outputs of MAX_MONEY each.
    Overflow,
    /// The same outpoint spent twice.
    DuplicateInput,
    /// An output of zero.
    ZeroOutput,
    /// Larger than the 100 kB transaction limit.
    Oversize,
    /// Pays out more than it spends.
    Inflation,
    /// Pays no fee.
    FeeTooLow,
    /// Signed by a key that does not own the coin.
    KeyMismatch,
}

/// How an invalid block is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockFault {
    /// The header hash misses the target.
    BadPow,
    /// The merkle root does not commit to the transactions (PoW valid).
    BadMerkle,
    /// One transaction twice.
    DuplicateTx,
    /// The coinbase claims more than subsidy + fees.
    Inflation,
    /// Timestamped three hours ahead.
    FutureTime,
    /// Its parent is unknown.
    UnknownParent,
    /// Holds a transaction with a bad signature.
    BadTx,
}

/// The tip to build blocks on.
#[derive(Debug, Clone, Copy)]
pub struct Tip {
    /// Best hash.
    pub hash: BlockHash,
    /// Best height.
    pub height: u64,
}

/// Hands out genesis outputs and builds objects.
pub struct Objects {
    params: Params,
    genesis: Txid,
    genesis_block: BlockHash,
    next_output: u32,
    serial: u64,
    /// The time of the last block built, so that each block is later than
    /// the one before (blocks built within one millisecond would otherwise
    /// not be later than their parent's median time past).
    last_time: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Objects {
    /// For a regtest network of `genesis_outputs` outputs.
    ///
    /// # Panics
    /// If `genesis_outputs` is zero.
    pub fn new(genesis_outputs: u32) -> Self {
        let params = Params::new(Network::Regtest)
            .with_genesis_outputs(genesis_outputs)
            .expect("valid genesis outputs");
        let block = params.genesis_block();
        let (genesis, genesis_block) = (block.txs[0].txid(), block.hash());
        Self {
            params,
            genesis,
            genesis_block,
            next_output: 0,
            serial: 0,
            last_time: 0,
        }
    }

    /// The genesis block's hash (a block of `genesis_outputs` outputs, the
    /// largest block a fresh cluster has).
    pub fn genesis_block(&self) -> BlockHash {
        self.genesis_block
    }

    /// Genesis outputs handed out so far.
    pub fn used(&self) -> u32 {
        self.next_output
    }

    /// The next unused genesis output and its key.
    fn coin(&mut self) -> (OutPoint, KeyPair) {
        let i = self.next_output;
        self.next_output += 1;
        assert!(
            i < self.params.genesis_outputs,
            "out of genesis outputs: raise --genesis-outputs"
        );
        (OutPoint::new(self.genesis, i), self.params.faucet_key(i))
    }

    fn amount(&self) -> u64 {
        self.params.genesis_output_amount.units()
    }

    fn signed(inputs: Vec<(OutPoint, &KeyPair)>, outputs: Vec<TxOut>) -> Transaction {
        let keys: Vec<&KeyPair> = inputs.iter().map(|(_, k)| *k).collect();
        let mut tx = Transaction {
            version: Transaction::VERSION,
            inputs: inputs
                .iter()
                .map(|(op, k)| TxIn::unsigned(*op, k.public()))
                .collect(),
            outputs,
        };
        tx.sign(&keys).expect("keys for every input");
        tx
    }

    fn out(units: u64, key: &KeyPair) -> TxOut {
        TxOut {
            amount: Amount::new(units).expect("in range"),
            address: key.address(),
        }
    }

    /// A valid transaction spending a fresh genesis output.
    pub fn valid_tx(&mut self) -> Transaction {
        let (op, key) = self.coin();
        let amount = self.amount();
        Self::signed(vec![(op, &key)], vec![Self::out(amount - FEE, &key)])
    }

    /// A valid transaction spending a fresh coin, and its child spending
    /// its only output.
    pub fn parent_and_child(&mut self) -> (Transaction, Transaction) {
        let (op, key) = self.coin();
        let amount = self.amount();
        let parent = Self::signed(vec![(op, &key)], vec![Self::out(amount - FEE, &key)]);
        let spent = OutPoint::new(parent.txid(), 0);
        let child = Self::signed(vec![(spent, &key)], vec![Self::out(amount - 2 * FEE, &key)]);
        (parent, child)
    }

    /// Two valid transactions spending the same fresh coin (first seen wins).
    pub fn conflicting_pair(&mut self) -> (Transaction, Transaction) {
        let (op, key) = self.coin();
        let amount = self.amount();
        let a = Self::signed(vec![(op, &key)], vec![Self::out(amount - FEE, &key)]);
        let b = Self::signed(vec![(op, &key)], vec![Self::out(amount - 2 * FEE, &key)]);
        (a, b)
    }

    /// A transaction that breaks `fault` (and nothing else).
    pub fn bad_tx(&mut self, fault: TxFault) -> Transaction {
        let amount = self.amount();
        let (op, key) = self.coin();
        match fault {
            TxFault::BadSignature => {
                let mut tx = Self::signed(vec![(op, &key)], vec![Self::out(amount - FEE, &key)]);
                tx.inputs[0].signature.0[7] ^= 0x40;
                tx
            }
            TxFault::WeakKey => {
                // The identity point (y = 1): small order, rejected by
                // verify_strict whatever the signature.
                let mut weak = [0u8; 32];
                weak[0] = 1;
                let mut tx = Transaction {
                    version: Transaction::VERSION,
                    inputs: vec![TxIn::unsigned(op, PublicKey(weak))],
                    outputs: vec![Self::out(amount - FEE, &key)],
                };
                tx.inputs[0].signature.0[0] = 1;
                tx.inputs[0].signature.0[40] = self.serial as u8;
                self.serial += 1;
                tx
            }
            TxFault::UnknownInput => {
                self.serial += 1;
                let mut id = [0x5au8; 32];
                id[..8].copy_from_slice(&self.serial.to_le_bytes());
                let unknown = OutPoint::new(Txid(id), 0);
                Self::signed(vec![(unknown, &key)], vec![Self::out(amount - FEE, &key)])
            }
            TxFault::Overflow => Self::signed(
                vec![(op, &key)],
                vec![
                    Self::out(Amount::MAX_MONEY.units(), &key),
                    Self::out(Amount::MAX_MONEY.units(), &key),
                ],
            ),
            TxFault::DuplicateInput => Self::signed(
                vec![(op, &key), (op, &key)],
                vec![Self::out(amount - FEE, &key)],
            ),
            TxFault::ZeroOutput => Self::signed(
                vec![(op, &key)],
                vec![Self::out(amount - FEE, &key), Self::out(0, &key)],
            ),
            TxFault::Oversize => {
                // Every output takes at least 21 bytes: this is over the limit.
                let n = self.params.max_tx_bytes / 20;
                let each = (amount - FEE) / n as u64;
                Self::signed(vec![(op, &key)], vec![Self::out(each, &key); n])
            }
            TxFault::Inflation => {
                Self::signed(vec![(op, &key)], vec![Self::out(amount + 1_000, &key)])
            }
            TxFault::FeeTooLow => Self::signed(vec![(op, &key)], vec![Self::out(amount, &key)]),
            TxFault::KeyMismatch => {
                let thief = KeyPair::from_seed([0xee; 32]);
                Self::signed(vec![(op, &thief)], vec![Self::out(amount - FEE, &thief)])
            }
        }
    }

    fn next_time(&mut self) -> u64 {
        self.last_time = now_ms().max(self.last_time + 1);
        self.last_time
    }

    /// A valid block on `tip` holding `txs`.
    pub fn block_on(&mut self, tip: Tip, txs: Vec<Transaction>, fees: u64) -> Block {
        self.serial += 1;
        let mut extra = [0u8; 56];
        extra[..8].copy_from_slice(&self.serial.to_le_bytes());
        extra[8..14].copy_from_slice(b"attack");
        let time = self.next_time();
        build_block(
            &self.params,
            &BlockSpec {
                prev: tip.hash,
                height: tip.height + 1,
                time,
                pay_to: Address([0xab; 20]),
                fees: Amount::new(fees).expect("in range"),
                extra,
            },
            txs,
        )
    }

    /// A block on `tip` that breaks `fault` (and nothing else).
    pub fn bad_block(&mut self, fault: BlockFault, tip: Tip) -> Block {
        match fault {
            BlockFault::BadPow => {
                let mut b = self.block_on(tip, vec![], 0);
                while b.header.meets_target() {
                    b.header.nonce = b.header.nonce.wrapping_add(1);
                }
                b
            }
            BlockFault::BadMerkle => {
                let tx = self.valid_tx();
                let mut b = self.block_on(tip, vec![tx], FEE);
                b.header.merkle_root.0[0] ^= 1;
                assert!(mine_header(&mut b.header, 1 << 20), "regtest PoW");
                b
            }
            BlockFault::DuplicateTx => {
                let tx = self.valid_tx();
                self.block_on(tip, vec![tx.clone(), tx], 2 * FEE)
            }
            BlockFault::Inflation => self.block_on(tip, vec![], 1),
            BlockFault::FutureTime => {
                let mut b = self.block_on(tip, vec![], 0);
                b.header.time = now_ms() + 3 * 60 * 60 * 1000;
                assert!(mine_header(&mut b.header, 1 << 20), "regtest PoW");
                b
            }
            BlockFault::UnknownParent => {
                self.serial += 1;
                let mut prev = [0x6bu8; 32];
                prev[..8].copy_from_slice(&self.serial.to_le_bytes());
                self.block_on(
                    Tip {
                        hash: BlockHash(prev),
                        height: tip.height + 1,
                    },
                    vec![],
                    0,
                )
            }
            BlockFault::BadTx => {
                let tx = self.bad_tx(TxFault::BadSignature);
                self.block_on(tip, vec![tx], FEE)
            }
        }
    }
}

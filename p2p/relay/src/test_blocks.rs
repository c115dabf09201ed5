//! Test blocks, shared by the crate's tests.

use rumor_chain::{
    Amount, Block, BlockSpec, Network, OutPoint, Params, Transaction, TxIn, TxOut, build_block,
};

/// A regtest block on genesis with `n` transactions, each spending one
/// genesis output.
pub(crate) fn block_of(n: u32) -> Block {
    let p = Params::new(Network::Regtest)
        .with_genesis_outputs(n)
        .unwrap();
    let genesis = p.genesis_block();
    let txs = (0..n)
        .map(|i| {
            let key = p.faucet_key(i);
            let mut t = Transaction {
                version: 1,
                inputs: vec![TxIn::unsigned(
                    OutPoint::new(genesis.txs[0].txid(), i),
                    key.public(),
                )],
                outputs: vec![TxOut {
                    amount: Amount::new(1000).unwrap(),
                    address: key.address(),
                }],
            };
            t.sign(&[&key]).unwrap();
            t
        })
        .collect();
    build_block(
        &p,
        &BlockSpec {
            prev: genesis.hash(),
            height: 1,
            time: genesis.header.time + 1,
            pay_to: p.faucet_key(0).address(),
            fees: Amount::ZERO,
            extra: [0; 56],
        },
        txs,
    )
}

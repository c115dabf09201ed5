//! Transaction validation: decode (or build from fuzzer choices a
//! near-valid, signed transaction), then every context-free rule
//! (`check_transaction`), the batch path (`check_transactions`, which must
//! agree with the single one), and the contextual rules against the genesis
//! UTXO set (`check_tx_inputs`). Never panics; a transaction that passes
//! both has a fee and creates no money.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rumor_chain::{Transaction, check_transaction, check_transactions, check_tx_inputs};
use rumor_fuzz::{Cursor, build_tx, genesis_utxos, params};

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let tx = if mode % 2 == 0 {
        match Transaction::decode(rest) {
            Ok(t) => t,
            Err(_) => return,
        }
    } else {
        build_tx(&mut Cursor::new(rest), &[])
    };
    let p = params();
    let single = check_transaction(tx.clone(), p);
    let batch = check_transactions(vec![tx.clone(), tx.clone()], p);
    assert_eq!(batch.len(), 2);
    for b in &batch {
        assert_eq!(
            single.as_ref().map(|c| c.txid()),
            b.as_ref().map(|c| c.txid()),
            "batch and single checks disagree"
        );
    }
    if let Ok(checked) = single {
        if let Ok(fee) = check_tx_inputs(checked.tx(), genesis_utxos(), 1000, p) {
            let inputs: u64 = checked
                .tx()
                .inputs
                .iter()
                .map(|i| genesis_utxos()[&i.prev].output.amount.units())
                .sum();
            let outputs = checked.tx().output_total().expect("checked").units();
            assert_eq!(inputs, outputs + fee.units(), "money created or lost");
        }
    }
});

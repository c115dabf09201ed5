//! `Transaction::decode` on arbitrary bytes: never panics; whatever decodes
//! re-encodes to exactly the input (canonical) and has a stable txid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rumor_chain::Transaction;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = Transaction::decode(data) {
        assert_eq!(tx.encode(), data, "non-canonical transaction accepted");
        assert_eq!(tx.size(), data.len());
        let _ = tx.txid();
        let _ = tx.sighash();
    }
});

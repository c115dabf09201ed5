//! `Block::decode` on arbitrary bytes: never panics; whatever decodes is canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rumor_chain::Block;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = Block::decode(data) {
        assert_eq!(b.encode(), data, "non-canonical block accepted");
        let _ = b.hash();
        let _ = b.header.meets_target();
    }
});

//! `BlockHeader::decode` on arbitrary bytes: never panics; canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rumor_chain::BlockHeader;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = BlockHeader::decode(data) {
        assert_eq!(
            rumor_chain::encode(&h),
            data,
            "non-canonical header accepted"
        );
        let _ = h.hash();
        let _ = h.target.work();
    }
});

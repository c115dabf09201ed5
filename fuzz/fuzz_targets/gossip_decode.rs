//! `GossipPayload::decode` (what every gossip message goes through) and the
//! message-id function gossipsub calls on every message, on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rumor_p2p::GossipPayload;

fuzz_target!(|data: &[u8]| {
    let id = GossipPayload::message_id_of(data);
    assert!(id.len() == 33);
    if let Ok(p) = GossipPayload::decode(data) {
        assert_eq!(p.encode(), data, "non-canonical gossip payload accepted");
    }
});

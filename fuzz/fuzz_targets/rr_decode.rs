//! The request-response messages as the codec reads them
//! (`rumor_chain::decode` with each protocol's limit): getdata and sync
//! requests and responses, and compact blocks. The first byte picks the type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rumor_p2p::{
    CompactBlock, GetDataRequest, GetDataResponse, MAX_GETDATA_REQUEST_BYTES,
    MAX_GETDATA_RESPONSE_BYTES, MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES, SyncRequest,
    SyncResponse,
};

fn check<T>(data: &[u8], limit: usize)
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    if let Ok(v) = rumor_chain::decode::<T>(data, limit) {
        assert_eq!(
            rumor_chain::encode(&v),
            data,
            "non-canonical message accepted"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((which, rest)) = data.split_first() else {
        return;
    };
    match which % 5 {
        0 => check::<GetDataRequest>(rest, MAX_GETDATA_REQUEST_BYTES),
        1 => check::<GetDataResponse>(rest, MAX_GETDATA_RESPONSE_BYTES),
        2 => check::<SyncRequest>(rest, MAX_SYNC_REQUEST_BYTES),
        3 => check::<SyncResponse>(rest, MAX_SYNC_RESPONSE_BYTES),
        _ => check::<CompactBlock>(rest, MAX_GETDATA_RESPONSE_BYTES),
    }
});

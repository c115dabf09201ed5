//! JSON-RPC error codes, bitcoind's where it has one.

use jsonrpsee::types::ErrorObjectOwned;
use serde::Serialize;

/// bitcoind `RPC_MISC_ERROR`.
pub const MISC_ERROR: i32 = -1;
/// bitcoind `RPC_INVALID_ADDRESS_OR_KEY`: also "not found".
pub const NOT_FOUND: i32 = -5;
/// bitcoind `RPC_INVALID_PARAMETER`.
pub const INVALID_PARAMETER: i32 = -8;
/// bitcoind `RPC_DESERIALIZATION_ERROR`.
pub const DECODE_ERROR: i32 = -22;
/// bitcoind `RPC_VERIFY_ERROR`: missing inputs (the transaction waits as an orphan).
pub const VERIFY_ERROR: i32 = -25;
/// bitcoind `RPC_VERIFY_REJECTED`.
pub const REJECTED: i32 = -26;
/// bitcoind `RPC_VERIFY_ALREADY_IN_CHAIN`.
pub const ALREADY_IN_CHAIN: i32 = -27;
/// bitcoind `RPC_IN_WARMUP` ("retry later"; `bitcoin-cli -rpcwait` and
/// other clients already retry on it): rumor also answers it when the node
/// is too busy to take a transaction ("node busy, retry").
pub const BUSY: i32 = -28;
/// JSON-RPC invalid params.
pub const INVALID_PARAMS: i32 = jsonrpsee::types::error::INVALID_PARAMS_CODE;
/// JSON-RPC internal error.
pub const INTERNAL_ERROR: i32 = jsonrpsee::types::error::INTERNAL_ERROR_CODE;

/// An error object without data.
pub fn err(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message, None::<()>)
}

/// An error object with data.
pub fn err_data(code: i32, message: impl Into<String>, data: impl Serialize) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message, Some(data))
}

/// Invalid params (−32602).
pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    err(INVALID_PARAMS, message)
}

/// Internal error (−32603), for store failures and shutdown.
pub fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    err(INTERNAL_ERROR, e.to_string())
}

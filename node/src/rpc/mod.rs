//! JSON-RPC 2.0 and 1.0 over HTTP (jsonrpsee), behind HTTP Basic auth.
//!
//! - `auth`: the tower layer answering 401 to a missing or wrong credential.
//! - `methods`: the methods and their parameter handling.
//! - `help`: what each method takes, returns and fails with (`help <method>`,
//!   `docs/rpc.md`).
//! - `compat`: bitcoind's habits: JSON-RPC 1.0 requests and any content type.
//! - `errors`: error codes (bitcoind's where it has one).
//!
//! Limits: request bodies up to 32 MiB (larger ones get error −32007),
//! batches up to 10,000 calls, 256 connections.

mod auth;
mod compat;
mod errors;
mod help;
mod methods;

use std::net::SocketAddr;

use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};

pub use auth::{AuthLayer, AuthService, authorized};
pub use compat::{CompatLayer, CompatService};
pub use errors::*;
pub use help::{METHODS, MethodDoc, ParamDoc, markdown, method_doc, signature, usage};
pub use methods::{RpcContext, module};

/// The largest request body accepted.
pub const MAX_REQUEST_BYTES: u32 = 32 * 1024 * 1024;
/// The largest response body sent.
pub const MAX_RESPONSE_BYTES: u32 = 512 * 1024 * 1024;
/// The most calls in one batch.
pub const MAX_BATCH: u32 = 10_000;
/// The most connections at once.
pub const MAX_CONNECTIONS: u32 = 256;

/// A running RPC server.
#[derive(Debug)]
pub struct RpcServer {
    /// The bound address.
    pub addr: SocketAddr,
    handle: ServerHandle,
}

/// Binds and starts the server; only `user:password` is let through.
///
/// # Errors
/// The address cannot be bound.
pub async fn start(
    bind: SocketAddr,
    user: &str,
    password: &str,
    ctx: RpcContext,
) -> std::io::Result<RpcServer> {
    let config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BYTES)
        .max_response_body_size(MAX_RESPONSE_BYTES)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH))
        .max_connections(MAX_CONNECTIONS)
        .http_only()
        .build();
    let server = Server::builder()
        .set_config(config)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .layer(AuthLayer::new(user, password))
                .layer(CompatLayer),
        )
        .build(bind)
        .await?;
    let addr = server.local_addr()?;
    let handle = server.start(module(ctx));
    Ok(RpcServer { addr, handle })
}

impl RpcServer {
    /// Stops accepting requests and waits for the server to finish.
    pub async fn stop(self) {
        let _ = self.handle.stop();
        self.handle.stopped().await;
    }
}

//! A minimal JSON-RPC client for `rumord health`: where the node is and how
//! to authenticate (cookie file, or user and password).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee_http_client::{HeaderMap, HeaderValue, HttpClientBuilder};

/// Why a health check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The credential could not be read.
    #[error("cannot read RPC cookie {path}: {source}")]
    Cookie {
        /// The cookie file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The URL is invalid.
    #[error("invalid RPC URL `{0}`")]
    Url(String),
    /// The node did not answer, or answered with an error.
    #[error("{0}")]
    Call(String),
}

/// Reads `user:password` from a cookie file.
///
/// # Errors
/// [`ClientError::Cookie`].
pub fn read_cookie(path: &Path) -> Result<(String, String), ClientError> {
    let text = std::fs::read_to_string(path).map_err(|source| ClientError::Cookie {
        path: path.to_owned(),
        source,
    })?;
    let (user, password) = text.trim().split_once(':').ok_or(ClientError::Cookie {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "expected user:password"),
    })?;
    Ok((user.to_owned(), password.to_owned()))
}

/// Calls `method` with no parameters and returns the raw result.
///
/// # Errors
/// [`ClientError`] if the node does not answer successfully within `timeout`.
pub async fn call(
    url: &str,
    user: &str,
    password: &str,
    method: &str,
    timeout: Duration,
) -> Result<serde_json::Value, ClientError> {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|e| ClientError::Call(e.to_string()))?,
    );
    let client = HttpClientBuilder::default()
        .set_headers(headers)
        .request_timeout(timeout)
        .build(url)
        .map_err(|_| ClientError::Url(url.to_owned()))?;
    client
        .request::<serde_json::Value, _>(method, ArrayParams::new())
        .await
        .map_err(|e| ClientError::Call(e.to_string()))
}

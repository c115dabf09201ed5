//! The JSON-RPC connection to `rumord`: where it is, how to authenticate,
//! and errors a person can act on (node unreachable, bad credential).

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use jsonrpsee::core::client::{BatchResponse, ClientT, Error as ClientError};
use jsonrpsee::core::params::{ArrayParams, BatchRequestBuilder};
use jsonrpsee_http_client::{HeaderMap, HeaderValue, HttpClient, HttpClientBuilder};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::CliError;

/// Where the node is and which credential to present.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The URL, e.g. `http://127.0.0.1:8332`.
    pub url: String,
    /// How to authenticate.
    pub auth: Credential,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// A credential source.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A cookie file (`user:password`), read when connecting.
    Cookie(PathBuf),
    /// A user and password.
    UserPassword(String, String),
}

impl Credential {
    /// The user and password for the node at `url`.
    fn resolve(&self, url: &str) -> Result<(String, String), CliError> {
        match self {
            Self::UserPassword(u, p) => Ok((u.clone(), p.clone())),
            Self::Cookie(path) => read_cookie(path, url),
        }
    }
}

/// Reads `user:password` from a cookie file, the credential for the node
/// at `url`.
///
/// # Errors
/// [`CliError::NoCredential`] (naming the file and `url`) if it is missing
/// or malformed.
pub fn read_cookie(path: &Path, url: &str) -> Result<(String, String), CliError> {
    let no = |reason: String| CliError::NoCredential {
        url: url.to_owned(),
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| no(e.to_string()))?;
    let (u, p) = text
        .trim()
        .split_once(':')
        .ok_or_else(|| no("expected user:password".into()))?;
    Ok((u.to_owned(), p.to_owned()))
}

/// A connected client.
#[derive(Debug)]
pub struct Rpc {
    client: HttpClient,
    url: String,
}

/// Positional parameters from JSON values.
fn params(values: Vec<Value>) -> ArrayParams {
    let mut p = ArrayParams::new();
    for v in values {
        // Serializing a JSON value cannot fail.
        let _ = p.insert(v);
    }
    p
}

impl Rpc {
    /// Builds a client (no request is made yet).
    ///
    /// # Errors
    /// No credential, or an invalid URL.
    pub fn connect(endpoint: &Endpoint) -> Result<Self, CliError> {
        let (user, password) = endpoint.auth.resolve(&endpoint.url)?;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|_| CliError::Other("the RPC credential has invalid characters".into()))?,
        );
        let client = HttpClientBuilder::default()
            .set_headers(headers)
            .request_timeout(endpoint.timeout)
            .max_request_size(64 * 1024 * 1024)
            .max_response_size(512 * 1024 * 1024)
            .build(&endpoint.url)
            .map_err(|e| CliError::Other(format!("invalid --rpc URL `{}`: {e}", endpoint.url)))?;
        Ok(Self {
            client,
            url: endpoint.url.clone(),
        })
    }

    /// Calls `method` with positional `args`.
    ///
    /// # Errors
    /// Transport failures (unreachable, 401) and RPC errors, as [`CliError`].
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        args: Vec<Value>,
    ) -> Result<T, CliError> {
        self.client
            .request::<T, _>(method, params(args))
            .await
            .map_err(|e| self.error(e))
    }

    /// Sends one JSON-RPC batch; one result per call, in order.
    ///
    /// # Errors
    /// A transport failure of the whole batch.
    pub async fn batch(
        &self,
        calls: &[(&str, Vec<Value>)],
    ) -> Result<Vec<Result<Value, (i32, String)>>, CliError> {
        let mut b = BatchRequestBuilder::new();
        for (method, args) in calls {
            b.insert(method, params(args.clone()))
                .map_err(|e| CliError::Other(e.to_string()))?;
        }
        let resp: BatchResponse<'_, Value> = self
            .client
            .batch_request(b)
            .await
            .map_err(|e| self.error(e))?;
        Ok(resp
            .into_iter()
            .map(|r| r.map_err(|e| (e.code(), e.message().to_owned())))
            .collect())
    }

    /// Turns a client error into one a person can act on.
    fn error(&self, e: ClientError) -> CliError {
        match e {
            ClientError::Call(obj) => CliError::Rpc {
                code: obj.code(),
                message: obj.message().to_owned(),
            },
            ClientError::RequestTimeout => CliError::Unreachable {
                url: self.url.clone(),
                reason: "request timed out".into(),
            },
            ClientError::Transport(t) => {
                if let Some(jsonrpsee_http_client::transport::Error::Rejected { status_code }) =
                    t.downcast_ref::<jsonrpsee_http_client::transport::Error>()
                {
                    if *status_code == 401 || *status_code == 403 {
                        return CliError::BadCredential;
                    }
                    return CliError::Other(format!("the node answered HTTP {status_code}"));
                }
                let mut reason = t.to_string();
                let mut source: Option<&(dyn std::error::Error + 'static)> = Some(t.as_ref());
                while let Some(s) = source {
                    if let Some(io) = s.downcast_ref::<std::io::Error>() {
                        reason = io.to_string();
                        break;
                    }
                    source = s.source();
                }
                CliError::Unreachable {
                    url: self.url.clone(),
                    reason,
                }
            }
            other => CliError::Other(other.to_string()),
        }
    }
}

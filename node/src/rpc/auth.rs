//! HTTP Basic authentication as a tower layer in front of the JSON-RPC
//! server: requests without the right credential get `401 Unauthorized`
//! before their body is read.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine;
use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use tower::{Layer, Service};

/// The accepted credential.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    expected: Arc<[u8]>,
}

impl AuthLayer {
    /// Accepts exactly `user:password`.
    pub fn new(user: &str, password: &str) -> Self {
        Self {
            expected: format!("{user}:{password}").into_bytes().into(),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            expected: Arc::clone(&self.expected),
        }
    }
}

/// The service [`AuthLayer`] wraps around the RPC server.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    expected: Arc<[u8]>,
}

/// Compares without an early exit, so timing does not leak the secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether `headers` carry `Authorization: Basic base64(expected)`.
pub fn authorized(headers: &HeaderMap, expected: &[u8]) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    match base64::engine::general_purpose::STANDARD.decode(token.trim()) {
        Ok(given) => constant_time_eq(&given, expected),
        Err(_) => false,
    }
}

fn unauthorized() -> HttpResponse {
    hyper::Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(WWW_AUTHENTICATE, "Basic realm=\"rumord\"")
        .body(HttpBody::from(
            "unauthorized: missing or wrong RPC credential\n",
        ))
        .unwrap_or_else(|_| HttpResponse::new(HttpBody::empty()))
}

impl<S, B> Service<HttpRequest<B>> for AuthService<S>
where
    S: Service<HttpRequest<B>, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        if authorized(req.headers(), &self.expected) {
            Box::pin(self.inner.call(req))
        } else {
            tracing::debug!("RPC request without a valid credential");
            Box::pin(async { Ok(unauthorized()) })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_checked_exactly() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, b"u:p"));
        let token = base64::engine::general_purpose::STANDARD.encode("u:p");
        h.insert(AUTHORIZATION, format!("Basic {token}").parse().unwrap());
        assert!(authorized(&h, b"u:p"));
        assert!(!authorized(&h, b"u:q"));
        h.insert(AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(!authorized(&h, b"u:p"));
        h.insert(AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
        assert!(!authorized(&h, b"u:p"));
    }
}

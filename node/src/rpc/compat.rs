//! bitcoind's RPC habits as a tower layer in front of jsonrpsee (which
//! speaks only JSON-RPC 2.0 over `application/json`):
//!
//! - any content type is accepted (Bitcoin Core's documented curl line sends
//!   `text/plain`); the body is parsed as JSON whatever the header says;
//! - a JSON-RPC 1.0 request (`"jsonrpc": "1.0"` or no `jsonrpc` field) is
//!   served, and answered as bitcoind answers one: `{result, error, id}`
//!   with both keys, HTTP 500 on an error (404 for an unknown method, 400
//!   for an invalid request). 2.0 requests pass through untouched.
//!
//! The body is read here, up to [`super::MAX_REQUEST_BYTES`] (larger ones
//! get jsonrpsee's own "too large" answer); behind the auth layer, so an
//! unauthenticated body is never read.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::{BodyExt, Limited};
use hyper::StatusCode;
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::http::response;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use serde_json::{Map, Value};
use tower::{Layer, Service};

use super::MAX_REQUEST_BYTES;

/// JSON-RPC 1.0 and any content type in front of the server.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompatLayer;

impl<S> Layer<S> for CompatLayer {
    type Service = CompatService<S>;
    fn layer(&self, inner: S) -> CompatService<S> {
        CompatService { inner }
    }
}

/// The service [`CompatLayer`] wraps around the RPC server.
#[derive(Debug, Clone)]
pub struct CompatService<S> {
    inner: S,
}

/// Only what decides whether a request is 2.0; the rest is skipped.
#[derive(serde::Deserialize)]
struct Version<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<std::borrow::Cow<'a, str>>,
}

/// Whether `v` is a 1.0 request: `"jsonrpc": "1.0"`, or no `jsonrpc`.
fn is_legacy(v: &Version<'_>) -> bool {
    v.jsonrpc.as_deref().is_none_or(|j| j == "1.0")
}

/// The body to hand to jsonrpsee, and whether the request was 1.0 (its
/// answer must then be rewritten). Bodies that are not JSON objects or
/// arrays of objects pass through for jsonrpsee to refuse.
pub(crate) fn upgrade_request(body: Bytes) -> (Bytes, bool) {
    let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let legacy = if batch {
        serde_json::from_slice::<Vec<Version<'_>>>(&body).map(|v| v.iter().any(is_legacy))
    } else {
        serde_json::from_slice::<Version<'_>>(&body).map(|v| is_legacy(&v))
    };
    if !legacy.unwrap_or(false) {
        return (body, false);
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(&body) else {
        return (body, false);
    };
    let upgrade = |o: &mut Map<String, Value>| {
        if o.get("jsonrpc").is_none_or(|j| j == "1.0") {
            o.insert("jsonrpc".into(), "2.0".into());
        }
    };
    match &mut value {
        Value::Object(o) => upgrade(o),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(upgrade),
        _ => return (body, false),
    }
    match serde_json::to_vec(&value) {
        Ok(v) => (Bytes::from(v), true),
        Err(_) => (body, false),
    }
}

/// A 2.0 response object as bitcoind answers a 1.0 request.
fn downgrade(v: &Value) -> Value {
    serde_json::json!({
        "result": v.get("result").cloned().unwrap_or(Value::Null),
        "error": v.get("error").cloned().unwrap_or(Value::Null),
        "id": v.get("id").cloned().unwrap_or(Value::Null),
    })
}

/// bitcoind's HTTP status for a 1.0 answer.
fn legacy_status(v: &Value) -> StatusCode {
    match v
        .get("error")
        .and_then(|e| e.get("code"))
        .and_then(Value::as_i64)
    {
        None => StatusCode::OK,
        Some(-32600) => StatusCode::BAD_REQUEST,
        Some(-32601) => StatusCode::NOT_FOUND,
        Some(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Rewrites jsonrpsee's 2.0 answer to a 1.0 request.
async fn downgrade_response(resp: HttpResponse) -> Result<HttpResponse, BoxError> {
    let (mut parts, body) = resp.into_parts();
    let bytes = body.collect().await?.to_bytes();
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        // Empty (a notification) or not JSON: as it is.
        return Ok(HttpResponse::from_parts(
            parts,
            HttpBody::new(http_body_util::Full::new(bytes)),
        ));
    };
    let (out, status) = match &value {
        Value::Array(items) => (
            Value::Array(items.iter().map(downgrade).collect()),
            StatusCode::OK,
        ),
        single => (downgrade(single), legacy_status(single)),
    };
    parts.status = status;
    parts.headers.remove(hyper::header::CONTENT_LENGTH);
    let body = serde_json::to_vec(&out)?;
    Ok(HttpResponse::from_parts(parts, HttpBody::from(body)))
}

impl<S, B> Service<HttpRequest<B>> for CompatService<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> Self::Future {
        if req.method() != hyper::Method::POST {
            return Box::pin(self.inner.call(req.map(HttpBody::new)));
        }
        // The ready service goes into the future; a clone stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let limit = MAX_REQUEST_BYTES as usize;
            let bytes = match Limited::new(body, limit).collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    return Ok(response::too_large(MAX_REQUEST_BYTES));
                }
                Err(_) => return Ok(response::malformed()),
            };
            parts
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            parts.headers.remove(hyper::header::CONTENT_LENGTH);
            let (bytes, legacy) = upgrade_request(bytes);
            let resp = inner
                .call(HttpRequest::from_parts(
                    parts,
                    HttpBody::new(http_body_util::Full::new(bytes)),
                ))
                .await?;
            if legacy {
                downgrade_response(resp).await
            } else {
                Ok(resp)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(text: &str) -> (Value, bool) {
        let (b, legacy) = upgrade_request(Bytes::from(text.to_owned()));
        (serde_json::from_slice(&b).unwrap_or(Value::Null), legacy)
    }

    #[test]
    fn one_point_zero_requests_are_upgraded_and_two_pass_untouched() {
        let two = r#"{"jsonrpc":"2.0","id":1,"method":"getblockcount","params":[]}"#;
        let (b, legacy) = upgrade_request(Bytes::from(two));
        assert!(!legacy);
        assert_eq!(&b[..], two.as_bytes());
        let (v, legacy) =
            up(r#"{"jsonrpc": "1.0", "id": "curltest", "method": "x", "params": []}"#);
        assert!(legacy);
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["id"], "curltest");
        let (v, legacy) = up(r#"{"id": 1, "method": "x"}"#);
        assert!(legacy);
        assert_eq!(v["jsonrpc"], "2.0");
        let (v, legacy) = up(r#" [{"jsonrpc":"2.0","id":1,"method":"a"},{"id":2,"method":"b"}]"#);
        assert!(legacy);
        assert_eq!(v[0]["jsonrpc"], "2.0");
        assert_eq!(v[1]["jsonrpc"], "2.0");
        // Not JSON, or another version: left for jsonrpsee to refuse.
        assert!(!upgrade_request(Bytes::from_static(b"{nope")).1);
        assert!(!up(r#"{"jsonrpc":"3.0","id":1,"method":"a"}"#).1);
    }

    #[test]
    fn answers_to_one_point_zero_look_like_bitcoinds() {
        let ok = serde_json::json!({"jsonrpc": "2.0", "id": "t", "result": 5});
        assert_eq!(
            downgrade(&ok),
            serde_json::json!({"result": 5, "error": null, "id": "t"})
        );
        assert_eq!(legacy_status(&ok), StatusCode::OK);
        let missing = serde_json::json!({"jsonrpc": "2.0", "id": 1,
            "error": {"code": -32601, "message": "Method not found"}});
        assert_eq!(downgrade(&missing)["result"], Value::Null);
        assert_eq!(downgrade(&missing)["error"]["code"], -32601);
        assert_eq!(legacy_status(&missing), StatusCode::NOT_FOUND);
        let failed = serde_json::json!({"jsonrpc": "2.0", "id": 1,
            "error": {"code": -5, "message": "Block not found"}});
        assert_eq!(legacy_status(&failed), StatusCode::INTERNAL_SERVER_ERROR);
    }
}

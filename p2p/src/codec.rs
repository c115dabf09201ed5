//! A request-response codec in rumor's canonical encoding: a 4-byte
//! big-endian length, then the message. Lengths over the protocol's limit are
//! refused before any allocation; every byte is counted.

use std::io;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use libp2p::request_response::Codec;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Byte and error counters for one protocol.
#[derive(Debug, Default)]
pub struct ProtocolCounters {
    /// Bytes read (frames included).
    pub bytes_in: AtomicU64,
    /// Bytes written (frames included).
    pub bytes_out: AtomicU64,
    /// Messages refused for exceeding the size limit.
    pub oversized: AtomicU64,
    /// Messages that did not decode.
    pub undecodable: AtomicU64,
}

/// Size limits for one request-response protocol.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest request.
    pub(crate) request: usize,
    /// Largest response.
    pub(crate) response: usize,
}

/// The codec. `Req` and `Resp` are the protocol's message types.
pub(crate) struct BincodeCodec<Req, Resp> {
    limits: Limits,
    counters: Arc<ProtocolCounters>,
    _types: PhantomData<fn() -> (Req, Resp)>,
}

impl<Req, Resp> Clone for BincodeCodec<Req, Resp> {
    fn clone(&self) -> Self {
        Self {
            limits: self.limits,
            counters: Arc::clone(&self.counters),
            _types: PhantomData,
        }
    }
}

impl<Req, Resp> BincodeCodec<Req, Resp> {
    /// A codec with `limits`, counting into `counters`.
    pub(crate) fn new(limits: Limits, counters: Arc<ProtocolCounters>) -> Self {
        Self {
            limits,
            counters,
            _types: PhantomData,
        }
    }
}

async fn read_frame<T: AsyncRead + Unpin + Send, M: Serialize + DeserializeOwned>(
    io: &mut T,
    limit: usize,
    counters: &ProtocolCounters,
) -> io::Result<M> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        counters.oversized.fetch_add(1, Ordering::Relaxed);
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes exceeds the {limit}-byte limit"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    counters
        .bytes_in
        .fetch_add(4 + len as u64, Ordering::Relaxed);
    rumor_chain::decode(&buf, limit).map_err(|e| {
        counters.undecodable.fetch_add(1, Ordering::Relaxed);
        io::Error::new(io::ErrorKind::InvalidData, e)
    })
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: Vec<u8>,
    limit: usize,
    counters: &ProtocolCounters,
) -> io::Result<()> {
    if bytes.len() > limit {
        counters.oversized.fetch_add(1, Ordering::Relaxed);
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "refusing to send {} bytes over the {limit}-byte limit",
                bytes.len()
            ),
        ));
    }
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.flush().await?;
    counters
        .bytes_out
        .fetch_add(4 + bytes.len() as u64, Ordering::Relaxed);
    Ok(())
}

impl<Req, Resp> Codec for BincodeCodec<Req, Resp>
where
    Req: Serialize + DeserializeOwned + Send + 'static,
    Resp: Serialize + DeserializeOwned + Send + 'static,
{
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Resp;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Req> {
        read_frame(io, self.limits.request, &self.counters).await
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Resp> {
        read_frame(io, self.limits.response, &self.counters).await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Req,
    ) -> io::Result<()> {
        write_frame(
            io,
            rumor_chain::encode(&req),
            self.limits.request,
            &self.counters,
        )
        .await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Resp,
    ) -> io::Result<()> {
        write_frame(
            io,
            rumor_chain::encode(&res),
            self.limits.response,
            &self.counters,
        )
        .await
    }
}

//! Link emulation and byte counting at the connection level.
//!
//! Every TCP connection is wrapped in a [`ShapedStream`] that counts bytes in
//! and out. With shaping on, written bytes go through a delay line: each
//! write is released after the configured one-way delay (± jitter) and after
//! the bytes ahead of it have been serialised at the configured bandwidth.
//! Release times never decrease, so bytes stay in order (as on a real link
//! with netem's default rate-and-delay model). Loss is not applied here (a
//! dropped encrypted frame would kill the connection); the event loop drops
//! whole protocol messages on receipt instead.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::io::{ReadHalf, WriteHalf};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use rand::RngExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::LinkConfig;

/// Bytes queued in one connection's delay line before writers must wait.
const MAX_QUEUED_BYTES: usize = 32 * 1024 * 1024;

/// Bytes through all connections of a node.
#[derive(Debug, Default)]
pub struct LinkCounters {
    /// Bytes received.
    pub bytes_in: AtomicU64,
    /// Bytes sent.
    pub bytes_out: AtomicU64,
}

enum Queued {
    Chunk { data: Vec<u8>, release: Instant },
    Close,
}

/// State shared between a shaped stream and its writer task.
struct Shared {
    queued: AtomicUsize,
    failed: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct DelayLine {
    tx: mpsc::UnboundedSender<Queued>,
    shared: Arc<Shared>,
    link: LinkConfig,
    last_tx_end: Instant,
    last_release: Instant,
}

enum Writer<S> {
    Direct(WriteHalf<S>),
    Delayed(DelayLine),
}

/// A connection that counts its bytes and, if configured, shapes what it sends.
pub struct ShapedStream<S> {
    read: ReadHalf<S>,
    write: Writer<S>,
    counters: Arc<LinkCounters>,
}

impl<S> ShapedStream<S>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    /// Wraps `stream`. With shaping on this spawns the connection's writer
    /// task, so it must run inside a tokio runtime.
    pub fn new(stream: S, link: LinkConfig, counters: Arc<LinkCounters>) -> Self {
        let (read, write) = stream.split();
        let write = if link.shapes_stream() {
            let (tx, rx) = mpsc::unbounded_channel();
            let shared = Arc::new(Shared {
                queued: AtomicUsize::new(0),
                failed: AtomicBool::new(false),
                waker: Mutex::new(None),
            });
            tokio::spawn(drain(write, rx, Arc::clone(&shared)));
            let now = Instant::now();
            Writer::Delayed(DelayLine {
                tx,
                shared,
                link,
                last_tx_end: now,
                last_release: now,
            })
        } else {
            Writer::Direct(write)
        };
        Self {
            read,
            write,
            counters,
        }
    }
}

/// Most bytes one write of the delay line carries: due chunks are joined up
/// to this, so a burst is still written in pieces the socket takes at once.
const MAX_WRITE_BYTES: usize = 256 * 1024;

/// The connection's writer: each chunk waits for its release time, and every
/// chunk already due by then joins it in one write. A message is several
/// chunks (yamux frames, each its own noise frame) written together, and
/// each written alone cost a system call and a wake-up of the peer.
/// Only chunks whose release time has passed are joined, so none leaves
/// earlier than its time, and release times never decrease, so order holds.
async fn drain<S: AsyncWrite + Unpin>(
    mut write: WriteHalf<S>,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    shared: Arc<Shared>,
) {
    // A chunk taken from the queue that was not yet due to join a write.
    let mut held: Option<Queued> = None;
    loop {
        let item = match held.take() {
            Some(item) => item,
            None => match rx.recv().await {
                Some(item) => item,
                None => break,
            },
        };
        match item {
            Queued::Chunk { mut data, release } => {
                tokio::time::sleep_until(release).await;
                let now = Instant::now();
                while data.len() < MAX_WRITE_BYTES {
                    match rx.try_recv() {
                        Ok(Queued::Chunk {
                            data: more,
                            release,
                        }) if release <= now => data.extend_from_slice(&more),
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let ok = write.write_all(&data).await.is_ok() && write.flush().await.is_ok();
                shared.queued.fetch_sub(data.len(), Ordering::AcqRel);
                if let Some(w) = shared.waker.lock().map(|mut g| g.take()).unwrap_or(None) {
                    w.wake();
                }
                if !ok {
                    shared.failed.store(true, Ordering::Release);
                    break;
                }
            }
            Queued::Close => {
                let _ = write.close().await;
                break;
            }
        }
    }
}

impl DelayLine {
    fn release_time(&mut self, len: usize) -> Instant {
        let now = Instant::now();
        let start = now.max(self.last_tx_end);
        let serialise = if self.link.bandwidth_bps > 0 {
            Duration::from_nanos(
                (len as u128 * 8 * 1_000_000_000 / self.link.bandwidth_bps as u128) as u64,
            )
        } else {
            Duration::ZERO
        };
        let tx_end = start + serialise;
        let jitter = self.link.jitter.as_nanos() as i64;
        let offset = if jitter > 0 {
            rand::rng().random_range(-jitter..=jitter)
        } else {
            0
        };
        let delay = (self.link.delay.as_nanos() as i64 + offset).max(0) as u64;
        let release = (tx_end + Duration::from_nanos(delay)).max(self.last_release);
        self.last_tx_end = tx_end;
        self.last_release = release;
        release
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for ShapedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let res = Pin::new(&mut this.read).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            this.counters
                .bytes_in
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        res
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ShapedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match &mut this.write {
            Writer::Direct(w) => {
                let res = Pin::new(w).poll_write(cx, buf);
                if let Poll::Ready(Ok(n)) = res {
                    this.counters
                        .bytes_out
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                res
            }
            Writer::Delayed(line) => {
                if line.shared.failed.load(Ordering::Acquire) {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                if line.shared.queued.load(Ordering::Acquire) >= MAX_QUEUED_BYTES {
                    if let Ok(mut g) = line.shared.waker.lock() {
                        *g = Some(cx.waker().clone());
                    }
                    // Re-check after registering, in case the writer drained meanwhile.
                    if line.shared.queued.load(Ordering::Acquire) >= MAX_QUEUED_BYTES {
                        return Poll::Pending;
                    }
                }
                let release = line.release_time(buf.len());
                line.shared.queued.fetch_add(buf.len(), Ordering::AcqRel);
                if line
                    .tx
                    .send(Queued::Chunk {
                        data: buf.to_vec(),
                        release,
                    })
                    .is_err()
                {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                this.counters
                    .bytes_out
                    .fetch_add(buf.len() as u64, Ordering::Relaxed);
                Poll::Ready(Ok(buf.len()))
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.write {
            Writer::Direct(w) => Pin::new(w).poll_flush(cx),
            // Bytes in the delay line are "on the wire".
            Writer::Delayed(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.write {
            Writer::Direct(w) => Pin::new(w).poll_close(cx),
            Writer::Delayed(line) => {
                let _ = line.tx.send(Queued::Close);
                Poll::Ready(Ok(()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory duplex pipe end made of two tokio duplex halves, adapted to futures io.
    fn pipe() -> (
        tokio_util_compat::Compat<tokio::io::DuplexStream>,
        tokio_util_compat::Compat<tokio::io::DuplexStream>,
    ) {
        let (a, b) = tokio::io::duplex(1 << 20);
        (tokio_util_compat::Compat(a), tokio_util_compat::Compat(b))
    }

    /// A minimal tokio -> futures io adapter for the tests.
    mod tokio_util_compat {
        use std::io;
        use std::pin::Pin;
        use std::task::{Context, Poll};

        pub(super) struct Compat<T>(pub(super) T);

        impl<T: tokio::io::AsyncRead + Unpin> futures::AsyncRead for Compat<T> {
            fn poll_read(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                let mut rb = tokio::io::ReadBuf::new(buf);
                match Pin::new(&mut self.0).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) => Poll::Ready(Ok(rb.filled().len())),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
        impl<T: tokio::io::AsyncWrite + Unpin> futures::AsyncWrite for Compat<T> {
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.0).poll_write(cx, buf)
            }
            fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.0).poll_flush(cx)
            }
            fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.0).poll_shutdown(cx)
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn delay_keeps_order_and_counts_bytes() {
        let (a, mut b) = pipe();
        let counters = Arc::new(LinkCounters::default());
        let link = LinkConfig {
            delay: Duration::from_millis(50),
            jitter: Duration::from_millis(10),
            ..LinkConfig::default()
        };
        let mut shaped = ShapedStream::new(a, link, Arc::clone(&counters));
        let start = Instant::now();
        for i in 0..100u8 {
            shaped.write_all(&[i]).await.unwrap();
        }
        let mut got = [0u8; 100];
        b.read_exact(&mut got).await.unwrap();
        let elapsed = start.elapsed();
        assert!(
            got.iter().enumerate().all(|(i, v)| *v == i as u8),
            "bytes stay in order"
        );
        assert!(elapsed >= Duration::from_millis(40), "delayed: {elapsed:?}");
        assert!(elapsed <= Duration::from_millis(70), "bounded: {elapsed:?}");
        assert_eq!(counters.bytes_out.load(Ordering::Relaxed), 100);
    }

    /// A writer that records the size of every write it is given.
    struct Recorder(Arc<Mutex<Vec<usize>>>);

    impl futures::AsyncRead for Recorder {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
    }

    impl futures::AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.lock().unwrap().push(buf.len());
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn chunks_due_together_go_out_in_one_write_and_none_early() {
        let writes = Arc::new(Mutex::new(Vec::new()));
        let link = LinkConfig {
            delay: Duration::from_millis(50),
            ..LinkConfig::default()
        };
        let mut shaped = ShapedStream::new(
            Recorder(Arc::clone(&writes)),
            link,
            Arc::new(LinkCounters::default()),
        );
        // One message of three frames, then another 20 ms later.
        for frame in [&b"ab"[..], b"cde", b"f"] {
            shaped.write_all(frame).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        shaped.write_all(b"gh").await.unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        // At 60 ms: the first message is out in one write, the second
        // (due at 70 ms) is not.
        assert_eq!(*writes.lock().unwrap(), vec![6]);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(*writes.lock().unwrap(), vec![6, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn bandwidth_serialises_bytes() {
        let (a, mut b) = pipe();
        let link = LinkConfig {
            bandwidth_bps: 8_000_000, // 1 MB/s
            ..LinkConfig::default()
        };
        let mut shaped = ShapedStream::new(a, link, Arc::new(LinkCounters::default()));
        let start = Instant::now();
        let data = vec![7u8; 100_000];
        shaped.write_all(&data).await.unwrap();
        let mut got = vec![0u8; 100_000];
        b.read_exact(&mut got).await.unwrap();
        let elapsed = start.elapsed();
        // 100 kB at 1 MB/s = 100 ms
        assert!(elapsed >= Duration::from_millis(95), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(130), "{elapsed:?}");
    }

    #[tokio::test]
    async fn direct_mode_counts_both_ways() {
        let (a, mut b) = pipe();
        let counters = Arc::new(LinkCounters::default());
        let mut shaped = ShapedStream::new(a, LinkConfig::default(), Arc::clone(&counters));
        shaped.write_all(b"hello").await.unwrap();
        shaped.flush().await.unwrap();
        let mut got = [0u8; 5];
        b.read_exact(&mut got).await.unwrap();
        b.write_all(b"abc").await.unwrap();
        let mut back = [0u8; 3];
        shaped.read_exact(&mut back).await.unwrap();
        assert_eq!(counters.bytes_out.load(Ordering::Relaxed), 5);
        assert_eq!(counters.bytes_in.load(Ordering::Relaxed), 3);
    }
}

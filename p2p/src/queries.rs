//! [`Queries`]: questions asked of the node and not yet answered. Each goes
//! out as a [`P2pEvent::Query`] with a reply channel; the event loop awaits
//! the answers here, each mapped to what to do with it. At most a bounded
//! number wait: past that (or when the event stream is full) a question is
//! not asked, and the caller refuses the work that needed it.

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};

use crate::events::{P2pEvent, Query, Reply};

/// The question could not be asked now (too many open, or the node is not
/// reading its events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotAsked;

/// Open questions, each resolving to an `A`.
pub(crate) struct Queries<A> {
    pending: FuturesUnordered<BoxFuture<'static, A>>,
    max: usize,
    events: mpsc::Sender<P2pEvent>,
}

impl<A: Send + 'static> Queries<A> {
    /// At most `max` open questions, sent on `events`.
    pub(crate) fn new(max: usize, events: mpsc::Sender<P2pEvent>) -> Self {
        Self {
            pending: FuturesUnordered::new(),
            max,
            events,
        }
    }

    /// Asks the question `make` builds; `then` turns the answer (`None`: the
    /// node dropped the question) into an `A`.
    pub(crate) fn ask<T: Send + 'static>(
        &mut self,
        make: impl FnOnce(Reply<T>) -> Query,
        then: impl FnOnce(Option<T>) -> A + Send + 'static,
    ) -> Result<(), NotAsked> {
        if self.pending.len() >= self.max {
            return Err(NotAsked);
        }
        let (tx, rx) = oneshot::channel();
        self.events
            .try_send(P2pEvent::Query(make(tx)))
            .map_err(|_| NotAsked)?;
        self.pending.push(rx.map(|r| then(r.ok())).boxed());
        Ok(())
    }

    /// Whether a question can be asked now.
    pub(crate) fn has_room(&self) -> bool {
        self.pending.len() < self.max && self.events.capacity() > 0
    }

    /// Questions open.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// The next answer (pending for ever while none is open).
    pub(crate) async fn next(&mut self) -> A {
        loop {
            if let Some(a) = self.pending.next().await {
                return a;
            }
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_come_back_mapped_and_the_bound_holds() {
        let (tx, mut rx) = mpsc::channel(8);
        let mut q: Queries<Option<u64>> = Queries::new(2, tx);
        q.ask(
            |reply| Query::MempoolShortIds { reply },
            |ids| ids.map(|v: Vec<u64>| v.len() as u64),
        )
        .unwrap();
        q.ask(
            |reply| Query::Locator { reply },
            |l| l.map(|v: Vec<_>| v.len() as u64),
        )
        .unwrap();
        assert_eq!(
            q.ask(|reply| Query::Locator { reply }, |_| None),
            Err(NotAsked)
        );
        let Some(P2pEvent::Query(Query::MempoolShortIds { reply })) = rx.recv().await else {
            panic!("the first question");
        };
        reply.send(vec![1, 2, 3]).unwrap();
        assert_eq!(q.next().await, Some(3));
        // A dropped reply is an answer too.
        drop(rx.recv().await);
        assert_eq!(q.next().await, None);
        assert_eq!(q.len(), 0);
    }
}

//! The write path: a batch of objects through rumor-chain's acceptance
//! pipeline ([`rumor_chain::NodeState`]), holding the lock only for the
//! steps that need the state, and block templates for the miner.
//!
//! 1. screen, under the lock: what is already known, and which of a
//!    block's transactions the mempool already verified;
//! 2. check, without the lock: the context-free rules and one signature
//!    batch (the CPU-heavy part);
//! 3. commit, under the lock, in order. A block that joins the best chain
//!    is reported (the `on_valid` hook of [`NodeCore::process`]) as soon as
//!    it passed every rule, before the store writes it: the caller relays
//!    it while the write and the mempool repair go on.

use bytes::Bytes;
use rumor_chain::{
    Address, Block, BlockHash, BlockSpec, Inv, Note, Object, Outcome, Source, Transaction, Verdict,
    build_block,
};
use rumor_p2p::{Accepted, CompactBlock};

use super::{CoreError, NodeCore, now_ms};

/// Bytes kept free in a block template for the header and the coinbase.
const TEMPLATE_RESERVE: usize = 2_000;

/// What a batch did.
#[derive(Debug)]
pub struct Processed {
    /// One outcome per item, in order.
    pub outcomes: Vec<Outcome>,
    /// Objects accepted as a consequence (orphan transactions adopted,
    /// orphan blocks connected with their parent), with their bodies, for
    /// the p2p layer to spread.
    pub also: Vec<Accepted>,
}

impl NodeCore {
    /// Validates and accepts `items` in order (a transaction may spend one
    /// earlier in the batch). `Err` items are bodies that did not decode as
    /// what they claimed; their outcome passes through.
    ///
    /// `on_valid` hears of each block that joins the best chain once it
    /// passed every rule (inputs included) and before the store writes it,
    /// under the chain lock: it must be quick and must not wait on the node.
    pub fn process(
        &self,
        items: Vec<Result<Object, Outcome>>,
        on_valid: &mut dyn FnMut(BlockHash),
    ) -> Processed {
        self.process_from(items, &[], on_valid)
    }

    /// [`NodeCore::process`], with each item's source (`sources` in item
    /// order, `None` for the node's own): transactions held as orphans are
    /// accounted to the peer that sent them.
    pub fn process_from(
        &self,
        items: Vec<Result<Object, Outcome>>,
        sources: &[Option<Source>],
        on_valid: &mut dyn FnMut(BlockHash),
    ) -> Processed {
        let now = now_ms();
        let n = items.len();
        let stopped = || Processed {
            outcomes: (0..n)
                .map(|_| Outcome::internal("the node is shutting down"))
                .collect(),
            also: Vec::new(),
        };
        let Ok(screened) = self.with_state(|s| s.screen(items)) else {
            return stopped();
        };
        let checked = screened.check(&self.params, |t| {
            matches!(self.reader.tx_block(t), Ok(Some(_)))
        });
        let mut guard = self.lock();
        let Some(state) = guard.as_mut() else {
            return stopped();
        };
        let committed = state.commit_from(checked, sources, now, on_valid);
        let also: Vec<Inv> = committed
            .outcomes
            .iter()
            .flat_map(|o| match &o.verdict {
                Verdict::Accepted { also } => also.clone(),
                _ => Vec::new(),
            })
            .collect();
        // Adopted orphans are in the mempool now; their bodies are taken
        // before the lock goes.
        let mut relay: Vec<Accepted> = also
            .iter()
            .filter_map(|inv| match inv {
                Inv::Tx(txid) => state.mempool().tx(txid).map(|tx| Accepted {
                    inv: *inv,
                    bytes: Bytes::from(tx.encode()),
                    compact: None,
                }),
                Inv::Block(_) => None,
            })
            .collect();
        if let Some(failure) = &committed.failure {
            self.fatal(&mut guard, failure);
        }
        drop(guard);
        for note in &committed.notes {
            log(note);
        }
        for inv in &also {
            if let Inv::Block(hash) = inv
                && let Ok(Some(block)) = self.reader.block(hash)
            {
                relay.push(Accepted {
                    inv: *inv,
                    bytes: Bytes::from(block.encode()),
                    compact: Some(CompactBlock::of(&block, &block.txids())),
                });
            }
        }
        Processed {
            outcomes: committed.outcomes,
            also: relay,
        }
    }

    /// Drops the orphan transactions `peer` sent: it went away (Bitcoin
    /// Core's `EraseForPeer`). Returns how many.
    ///
    /// # Errors
    /// [`CoreError::Stopped`] when shutting down.
    pub fn forget_orphans_from(&self, peer: Source) -> Result<usize, CoreError> {
        self.with_state(|s| s.forget_orphans_from(peer))
    }

    /// Builds a block on the tip from the mempool, paying `pay_to`, and
    /// mines it (proof of work: blocking).
    ///
    /// # Errors
    /// [`CoreError::Stopped`] when shutting down.
    pub fn mine_block(&self, pay_to: Address, extra: [u8; 56]) -> Result<Block, CoreError> {
        let (spec, txs) = self.with_state(|s| {
            let max = self.params.max_block_bytes.saturating_sub(TEMPLATE_RESERVE);
            let (txs, fees) = s.mempool().block_template(max);
            let chain = s.chain();
            let tip = chain.tip();
            let time = now_ms().max(chain.median_time_past(&tip.hash) + 1);
            let spec = BlockSpec {
                prev: tip.hash,
                height: tip.height + 1,
                time,
                pay_to,
                fees,
                extra,
            };
            let txs: Vec<Transaction> = txs.iter().map(|t| t.tx().clone()).collect();
            (spec, txs)
        })?;
        Ok(build_block(&self.params, &spec, txs))
    }
}

fn log(note: &Note) {
    match note {
        Note::NewTip { height, hash } => tracing::info!(height, tip = %hash, "new tip"),
        Note::Reorg {
            disconnected,
            connected,
        } => tracing::info!(disconnected, connected, "reorganisation"),
        Note::ConnectFailed { block, reason } => {
            tracing::info!(%block, reason, "block failed to connect")
        }
        Note::PoolRepaired { removed } => {
            tracing::info!(
                removed,
                "mempool: removed what the reorg left without inputs"
            )
        }
    }
}

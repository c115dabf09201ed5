//! The miner: `--mine` builds a block from the mempool every
//! `--block-interval-ms` (±10 % jitter, so that miners on many nodes do not
//! fire together) and `generatetoaddress` mines on demand. Mined blocks go
//! through the same validation as any other and are announced once.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rumor_chain::{Address, Block, BlockHash, DecodedBlock, Object, Outcome, Verdict};

use crate::core::{CoreError, NodeCore};
use crate::shutdown::Shutdown;
use crate::validator::Validator;

/// Why mining a block failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MineError {
    /// The core is stopping or failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The node refused its own block (a bug, or the tip moved while mining).
    #[error("own block {hash} was refused: {reason}")]
    Refused {
        /// The block.
        hash: BlockHash,
        /// The verdict.
        reason: String,
    },
}

/// Free coinbase bytes: random, so that two miners paying the same address
/// at the same height still make different blocks.
fn coinbase_extra() -> [u8; 56] {
    let mut extra = [0u8; 56];
    rand::fill(&mut extra[..16]);
    extra[16..22].copy_from_slice(b"rumord");
    extra
}

/// Mines one block on the tip paying `pay_to` (on the blocking pool) and
/// submits it like any other object; once accepted the p2p layer spreads it.
///
/// # Errors
/// [`MineError`].
pub async fn mine_one(
    core: &Arc<NodeCore>,
    validator: &Validator,
    pay_to: Address,
) -> Result<Block, MineError> {
    let c = Arc::clone(core);
    let block = tokio::task::spawn_blocking(move || c.mine_block(pay_to, coinbase_extra()))
        .await
        .map_err(|_| MineError::Core(CoreError::Stopped))??;
    let hash = block.hash();
    let bytes = Bytes::from(block.encode());
    let object = Object::Block(DecodedBlock::new(block.clone()));
    let Outcome { verdict, detail } = validator
        .submit(object, bytes)
        .await
        .ok_or(MineError::Core(CoreError::Stopped))?;
    match verdict {
        Verdict::Accepted { .. } => Ok(block),
        other => Err(MineError::Refused {
            hash,
            reason: detail.unwrap_or_else(|| other.label().to_owned()),
        }),
    }
}

/// Mines `n` blocks paying `pay_to`; returns their hashes.
///
/// # Errors
/// The first failure; blocks mined before it stay mined and spread.
pub async fn generate(
    core: &Arc<NodeCore>,
    validator: &Validator,
    n: u64,
    pay_to: Address,
) -> Result<Vec<BlockHash>, MineError> {
    let mut hashes = Vec::new();
    for _ in 0..n {
        hashes.push(mine_one(core, validator, pay_to).await?.hash());
    }
    Ok(hashes)
}

/// The `--mine` loop: one block per interval (±10 %) until shutdown.
pub(crate) async fn run(
    core: Arc<NodeCore>,
    validator: Validator,
    pay_to: Address,
    interval: Duration,
    shutdown: Shutdown,
) {
    let address = pay_to.text(core.params().network);
    tracing::info!(%address, interval_ms = interval.as_millis() as u64, "mining");
    loop {
        let mut r = [0u8; 2];
        rand::fill(&mut r);
        let jitter = f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) * 0.2 - 0.1;
        let wait = interval.mul_f64(1.0 + jitter);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait() => return,
        }
        match generate(&core, &validator, 1, pay_to).await {
            Ok(h) => {
                // On the blocking pool, like every read that takes the lock.
                let c = Arc::clone(&core);
                let height = tokio::task::spawn_blocking(move || c.pool_summary())
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map_or(0, |s| s.height);
                tracing::info!(block = %h[0], height, "mined");
            }
            Err(MineError::Core(CoreError::Stopped)) => return,
            Err(e) => tracing::warn!(error = %e, "mining failed"),
        }
    }
}

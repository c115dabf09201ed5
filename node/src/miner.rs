//! The miner: `--mine` builds a block from the mempool every
//! `--block-interval-ms` (±10 % jitter, so that miners on many nodes do not
//! fire together) and `generatetoaddress` mines on demand. Mined blocks go
//! through the same validation as any other and are announced once.

use std::sync::Arc;
use std::time::Duration;

use rumor_chain::{Address, Block, BlockHash};
use rumor_p2p::{Body, Inv, Origin, P2pHandle, Verdict};

use crate::core::{CoreError, NodeCore, Outcome};
use crate::shutdown::Shutdown;

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

/// Mines one block on the tip paying `pay_to`, and accepts it locally.
/// Blocking (proof of work). Returns the block and the objects to announce.
///
/// # Errors
/// [`MineError`].
pub fn mine_one(core: &NodeCore, pay_to: Address) -> Result<(Block, Vec<Inv>), MineError> {
    let block = core.mine_block(pay_to, coinbase_extra())?;
    let hash = block.hash();
    let body = Body {
        inv: Inv::block(hash),
        bytes: block.encode().into(),
    };
    let Outcome { verdict, detail } = core
        .process(vec![(Origin::Local, body)])
        .pop()
        .expect("one in, one out");
    match verdict {
        Verdict::Accepted { also } => {
            let mut invs = vec![Inv::block(hash)];
            invs.extend(also);
            Ok((block, invs))
        }
        other => Err(MineError::Refused {
            hash,
            reason: detail.unwrap_or_else(|| other.label().to_owned()),
        }),
    }
}

/// Mines `n` blocks paying `pay_to`, announcing each; returns their hashes.
///
/// # Errors
/// The first failure; blocks mined before it stay mined and announced.
pub async fn generate(
    core: &Arc<NodeCore>,
    p2p: &P2pHandle,
    n: u64,
    pay_to: Address,
) -> Result<Vec<BlockHash>, MineError> {
    let mut hashes = Vec::new();
    for _ in 0..n {
        let c = Arc::clone(core);
        let (block, invs) = tokio::task::spawn_blocking(move || mine_one(&c, pay_to))
            .await
            .map_err(|_| MineError::Core(CoreError::Stopped))??;
        hashes.push(block.hash());
        let _ = p2p.announce(invs).await;
    }
    Ok(hashes)
}

/// The `--mine` loop: one block per interval (±10 %) until shutdown.
pub(crate) async fn run(
    core: Arc<NodeCore>,
    p2p: P2pHandle,
    pay_to: Address,
    interval: Duration,
    shutdown: Shutdown,
) {
    tracing::info!(address = %pay_to, interval_ms = interval.as_millis() as u64, "mining");
    loop {
        let mut r = [0u8; 2];
        rand::fill(&mut r);
        let jitter = f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) * 0.2 - 0.1;
        let wait = interval.mul_f64(1.0 + jitter);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait() => return,
        }
        match generate(&core, &p2p, 1, pay_to).await {
            Ok(h) => {
                let height = core.pool_summary().map(|s| s.height).unwrap_or(0);
                tracing::info!(block = %h[0], height, "mined");
            }
            Err(MineError::Core(CoreError::Stopped)) => return,
            Err(e) => tracing::warn!(error = %e, "mining failed"),
        }
    }
}

//! What the chain-side attack classes send: valid blocks on branches that
//! never become best (`stale-block-spam`) and a peer that lies about its
//! chain to drive the target's catch-up (`header-lies`). Kept apart from
//! [`super::classes`], whose classes break one rule each.

use std::time::Duration;

use rumor_chain::{BlockHash, BlockHeader, Hash256, Network, Params, Target, Work};
use rumor_p2p::{GossipPayload, Inv, ObjectKind, Serve, SyncRequest, SyncStatus};

use super::catalog::ClassSpec;
use super::classes::{Script, Step};
use super::objects::{Objects, Tip};

/// Stale blocks sent: more than the target may hold aside (100), so that
/// the bound is exercised.
pub const STALE_BLOCKS: usize = 150;
/// Stale blocks announced between pauses.
const STALE_PER_BATCH: usize = 25;

/// The script of a chain-side class, or `None` for another class.
pub fn script(class: &ClassSpec, objects: &mut Objects, tip: Tip) -> Option<Script> {
    match class.name {
        "stale-block-spam" => Some(stale_block_spam(objects, tip)),
        "header-lies" => Some(header_lies(objects, tip)),
        _ => None,
    }
}

/// Two valid blocks that extend the best chain (accepted and relayed by
/// everyone, as they should be), then many valid blocks on the old tip:
/// each has less work than the new best chain, so none may be stored or
/// relayed, and only a bounded number held.
fn stale_block_spam(objects: &mut Objects, tip: Tip) -> Script {
    let mut s = Script::default();
    let b1 = objects.block_on(tip, vec![], 0);
    let b2 = objects.block_on(
        Tip {
            hash: b1.hash(),
            height: tip.height + 1,
        },
        vec![],
        0,
    );

    for b in [&b1, &b2] {
        let inv = Inv::Block(b.hash());
        s.prelude.push(Step::Serve(inv, Serve::Bytes(b.encode())));
        s.prelude.push(Step::Publish(
            ObjectKind::Block,
            GossipPayload::Announce(inv).encode(),
        ));
        s.prelude.push(Step::Drive(Duration::from_millis(400)));
    }
    let stale: Vec<_> = (0..STALE_BLOCKS)
        .map(|_| objects.block_on(tip, vec![], 0))
        .collect();
    for chunk in stale.chunks(STALE_PER_BATCH) {
        for b in chunk {
            let inv = Inv::Block(b.hash());
            s.steps.push(Step::Serve(inv, Serve::Bytes(b.encode())));
            s.steps.push(Step::Publish(
                ObjectKind::Block,
                GossipPayload::Announce(inv).encode(),
            ));
        }
        s.steps.push(Step::Drive(Duration::from_millis(300)));
    }
    s.steps.push(Step::Drive(Duration::from_secs(1)));
    s.watch_blocks = stale.iter().map(|b| b.hash()).collect();
    s
}

/// The work of a regtest chain of height `height` (every block carries the
/// network's one target).
fn regtest_work(height: u64) -> Work {
    let target = Params::new(Network::Regtest).target;
    Work(u128::from(height + 1).saturating_mul(target.work().0))
}

fn status(height: u64, tip: BlockHash, work: Work) -> SyncStatus {
    SyncStatus {
        height,
        tip,
        work,
        mempool_digest: Hash256([0; 32]),
        mempool_len: 0,
    }
}

/// A peer that claims a longer chain than the target's and cannot back the
/// claim: first its headers carry an easier target than the network's
/// (each meets its own, none the network's rule), then its status claims
/// work that no chain of its height has. Each lie must cost it, and it
/// must not get to lead catch-up round after round.
fn header_lies(objects: &mut Objects, tip: Tip) -> Script {
    let mut s = Script::default();
    let easy = Target([0xff; 32]);
    let mut headers: Vec<BlockHeader> = Vec::new();
    let mut prev = tip;
    for _ in 0..10 {
        let mut h = objects.block_on(prev, vec![], 0).header;
        h.target = easy;
        if let Some(last) = headers.last() {
            h.prev = last.hash();
        }
        prev = Tip {
            hash: h.hash(),
            height: prev.height + 1,
        };
        headers.push(h);
    }
    let claimed_height = tip.height + headers.len() as u64;
    let claimed_tip = headers.last().map_or(tip.hash, BlockHeader::hash);
    // The claim is consistent (its work is its height's); the headers that
    // back it are not at the network's target.
    let claim = status(claimed_height, claimed_tip, regtest_work(claimed_height));
    s.steps.push(Step::AnswerSync(claim, headers));
    for _ in 0..4 {
        s.steps.push(Step::Sync(SyncRequest::Status(claim)));
        s.steps.push(Step::Drive(Duration::from_millis(400)));
    }
    // Work no chain of that height has.
    let inflated = status(
        claimed_height,
        BlockHash([0x1e; 32]),
        Work(regtest_work(claimed_height).0.saturating_mul(1 << 20)),
    );
    for _ in 0..8 {
        s.steps.push(Step::Sync(SyncRequest::Status(inflated)));
        s.steps.push(Step::Drive(Duration::from_millis(300)));
    }
    s
}

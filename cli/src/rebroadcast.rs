//! The wallet's own unconfirmed sends, submitted again where the node lacks
//! them: a node restarted without its mempool, or another node than the one
//! that took the send, would otherwise forget them, and the wallet would
//! count their coins as spendable again. `rumor send` and `rumor balance`
//! call [`rebroadcast`] first.

use rumor_chain::Transaction;
use serde_json::{Value, json};

use crate::CliError;
use crate::rpc::Rpc;
use crate::wallet::Wallet;

/// Confirmations after which a send is no longer watched.
pub(crate) const WATCH_CONFIRMATIONS: u64 = 6;

/// What [`rebroadcast`] did.
#[derive(Debug, Default)]
pub(crate) struct Rebroadcast {
    /// Sends the node lacked and took again.
    pub(crate) resubmitted: Vec<String>,
    /// Sends the node lacked and refused (txid, why); they stay watched.
    pub(crate) refused: Vec<(String, String)>,
    /// Sends confirmed deeply enough to forget.
    pub(crate) confirmed: usize,
    /// Watched sends not yet in a block (in the node's mempool, submitted
    /// again, or refused).
    pub(crate) unconfirmed: usize,
    /// Sends that can never confirm: an input was spent by another
    /// confirmed transaction (txid, that input).
    pub(crate) abandoned: Vec<(String, String)>,
}

impl Rebroadcast {
    /// Whether the wallet's list changed (and must be written).
    pub(crate) fn changed(&self) -> bool {
        self.confirmed > 0 || !self.abandoned.is_empty()
    }

    /// Tells the user, on standard error, what happened to their sends.
    pub(crate) fn report(&self) {
        for txid in &self.resubmitted {
            eprintln!("rebroadcast {txid}: the node did not have this unconfirmed send");
        }
        for (txid, why) in &self.refused {
            eprintln!("unconfirmed send {txid} is not in the node, which refuses it: {why}");
        }
        for (txid, input) in &self.abandoned {
            eprintln!(
                "send {txid} can never confirm: its input {input} was spent by another confirmed transaction; no longer watched"
            );
        }
    }
}

/// An input of `hex` already spent in the best chain by another
/// transaction, if any (then the send can never confirm).
async fn spent_input(rpc: &Rpc, hex: &str) -> Result<Option<String>, CliError> {
    let Some(tx) = hex::decode(hex)
        .ok()
        .and_then(|b| Transaction::decode(&b).ok())
    else {
        return Ok(None);
    };
    for input in &tx.inputs {
        let prev = input.prev.txid.to_string();
        let parent: Result<Value, CliError> = rpc
            .call("getrawtransaction", vec![json!(prev), json!(true)])
            .await;
        let confirmed = match parent {
            Ok(v) => v["confirmations"].as_u64().unwrap_or(0) > 0,
            Err(CliError::Rpc { .. }) => false,
            Err(e) => return Err(e),
        };
        if !confirmed {
            continue;
        }
        let coin: Value = rpc
            .call(
                "gettxout",
                vec![json!(prev), json!(input.prev.vout), json!(false)],
            )
            .await?;
        if coin.is_null() {
            return Ok(Some(format!("{prev}:{}", input.prev.vout)));
        }
    }
    Ok(None)
}

/// Checks each watched send against the node: forgets those confirmed
/// [`WATCH_CONFIRMATIONS`] deep or that can never confirm, and submits
/// again, in the order sent (parents first), those the node has neither in
/// its mempool nor in its chain.
///
/// # Errors
/// A transport failure ([`CliError::Unreachable`] and the like).
pub(crate) async fn rebroadcast(rpc: &Rpc, wallet: &mut Wallet) -> Result<Rebroadcast, CliError> {
    let mut out = Rebroadcast::default();
    let mut keep = Vec::with_capacity(wallet.pending.len());
    let mut rest = std::mem::take(&mut wallet.pending).into_iter();
    while let Some(p) = rest.next() {
        let known: Result<Value, CliError> = rpc
            .call("getrawtransaction", vec![json!(p.txid), json!(true)])
            .await;
        match known {
            Ok(v) => {
                let confirmations = v["confirmations"].as_u64().unwrap_or(0);
                if confirmations == 0 {
                    out.unconfirmed += 1;
                }
                if confirmations < WATCH_CONFIRMATIONS {
                    keep.push(p);
                } else {
                    out.confirmed += 1;
                }
            }
            Err(CliError::Rpc { code: -5, .. }) => {
                let sent: Result<Value, CliError> =
                    rpc.call("sendrawtransaction", vec![json!(p.hex)]).await;
                match sent {
                    Ok(_) => {
                        out.resubmitted.push(p.txid.clone());
                        out.unconfirmed += 1;
                        keep.push(p);
                    }
                    Err(CliError::Rpc { message, .. }) => {
                        if let Some(input) = spent_input(rpc, &p.hex).await? {
                            out.abandoned.push((p.txid, input));
                        } else {
                            out.refused.push((p.txid.clone(), message));
                            out.unconfirmed += 1;
                            keep.push(p);
                        }
                    }
                    Err(e) => {
                        keep.push(p);
                        keep.extend(rest);
                        wallet.pending = keep;
                        return Err(e);
                    }
                }
            }
            Err(e) => {
                keep.push(p);
                keep.extend(rest);
                wallet.pending = keep;
                return Err(e);
            }
        }
    }
    wallet.pending = keep;
    Ok(out)
}

//! The wallet's commands: `wallet`, `address`, `balance`, `send`, `faucet`.
//! A payment's fee is a rate per byte, shown as the absolute fee it comes
//! to, and refused above `--max-fee`; the wallet remembers its sends and
//! submits them again where the node lacks them (`rebroadcast`).

use rumor_chain::{Address, Amount, KeyPair, Network, OutPoint, Params, Txid};
use serde_json::{Value, json};

use crate::output::{kv, print_json, table};
use crate::rebroadcast::rebroadcast;
use crate::rpc::Rpc;
use crate::txbuild::{Fee, Payment, Spendable, build_payment, check_fee};
use crate::wallet::{Wallet, parse_seed};
use crate::{Cli, CliError, FeeArgs, WalletCommand};

/// Retries of a faucet payment whose coins another client took meanwhile.
const FAUCET_RETRIES: usize = 4;

/// An address that must be for `network` (one of another network is
/// refused, naming both).
fn parse_address(text: &str, network: Network) -> Result<Address, CliError> {
    Address::parse(text, network).map_err(|e| CliError::InvalidAddress {
        text: text.to_owned(),
        reason: e.to_string(),
    })
}

fn parse_amount(text: &str) -> Result<Amount, CliError> {
    let a = Amount::parse_coins(text).map_err(|e| CliError::InvalidAmount {
        text: text.to_owned(),
        reason: e.to_string(),
    })?;
    if a == Amount::ZERO {
        return Err(CliError::InvalidAmount {
            text: text.to_owned(),
            reason: "the amount must be positive".into(),
        });
    }
    Ok(a)
}

/// The fee rate (`--fee-rate`, else the node's minimum) and the most a
/// payment may pay (`--max-fee`).
async fn fee_policy(rpc: &Rpc, args: &FeeArgs) -> Result<(Fee, Amount), CliError> {
    let max = Amount::parse_coins(&args.max_fee).map_err(|e| CliError::InvalidAmount {
        text: args.max_fee.clone(),
        reason: format!("--max-fee: {e}"),
    })?;
    let rate = match args.fee_rate {
        Some(r) => r,
        None => {
            let info: Value = rpc.call("getmempoolinfo", vec![]).await?;
            info["minrelayfee_per_byte"].as_u64().unwrap_or(1).max(1)
        }
    };
    Ok((Fee::PerByte(rate), max))
}

fn units(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn coins(u: u64) -> String {
    Amount::new(u).map_or_else(|_| u.to_string(), |a| a.to_string())
}

/// The node's chain name.
pub(crate) async fn node_network(rpc: &Rpc) -> Result<Network, CliError> {
    let info: Value = rpc.call("getblockchaininfo", vec![]).await?;
    let chain = info["chain"].as_str().unwrap_or_default();
    chain
        .parse()
        .map_err(|_| CliError::Other(format!("the node runs an unknown network `{chain}`")))
}

/// The unspent outputs of `addresses` (their text forms) as `listunspent`
/// gives them (`minconf` 0: mempool outputs too, without those the mempool
/// spends).
async fn unspent(rpc: &Rpc, addresses: &[String]) -> Result<Vec<Value>, CliError> {
    rpc.call("listunspent", vec![json!(addresses), json!(0)])
        .await
}

/// Spendable coins of `addresses` (including mempool outputs not yet spent,
/// leaving out coinbase outputs not yet mature), each tagged with the index
/// of its key.
async fn spendable(
    rpc: &Rpc,
    network: Network,
    addresses: &[Address],
) -> Result<Vec<Spendable>, CliError> {
    let texts: Vec<String> = addresses.iter().map(|a| a.encode(network)).collect();
    let list = unspent(rpc, &texts).await?;
    let mut out = Vec::with_capacity(list.len());
    for u in list {
        let addr = u["address"].as_str().unwrap_or_default();
        let Some(key) = texts.iter().position(|a| a == addr) else {
            continue;
        };
        if u["spendable"] == Value::Bool(false) {
            continue;
        }
        let txid: Txid = u["txid"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|_| CliError::Other("the node sent a malformed txid".into()))?;
        let vout = u["vout"].as_u64().unwrap_or(0) as u32;
        let amount = Amount::new(units(&u["amount"]))
            .map_err(|_| CliError::Other("the node sent an out-of-range amount".into()))?;
        out.push(Spendable {
            outpoint: OutPoint::new(txid, vout),
            amount,
            key,
        });
    }
    Ok(out)
}

async fn submit(rpc: &Rpc, p: &Payment) -> Result<String, CliError> {
    rpc.call(
        "sendrawtransaction",
        vec![json!(hex::encode(p.tx.encode()))],
    )
    .await
}

fn print_payment(
    json_out: bool,
    txid: &str,
    to: &str,
    amount: Amount,
    p: &Payment,
) -> Result<(), CliError> {
    let size = p.tx.size();
    let rate = p.fee.units() / size.max(1) as u64;
    if json_out {
        return print_json(&json!({
            "txid": txid,
            "to": to,
            "amount": amount.units(),
            "coins": amount.to_string(),
            "fee": p.fee.units(),
            "fee_coins": p.fee.to_string(),
            "fee_rate": rate,
            "change": p.change.units(),
            "inputs": p.tx.inputs.len(),
            "size": size,
        }));
    }
    outln!("{txid}")?;
    eprintln!(
        "sent {amount} to {to} (fee {} = {rate} units/byte × {size} bytes, change {}, {} input(s))",
        p.fee,
        p.change,
        p.tx.inputs.len()
    );
    Ok(())
}

pub(crate) fn wallet(cli: &Cli, cmd: &WalletCommand) -> Result<(), CliError> {
    let located = cli.locate()?;
    let path = located.wallet;
    let network = located.network;
    let w = match cmd {
        WalletCommand::New { force } => {
            let w = Wallet::generate(network);
            w.create(&path, *force)?;
            w
        }
        WalletCommand::Import { seed, force } => {
            let key = parse_seed(seed)?;
            match Wallet::load(&path) {
                Ok(mut w) if !*force => {
                    if w.network != network {
                        return Err(CliError::Wallet(format!(
                            "{} is a {} wallet, not {network}",
                            path.display(),
                            w.network
                        )));
                    }
                    w.add(&key);
                    w.replace(&path)?;
                    w
                }
                Ok(_) | Err(CliError::NoWallet(_)) => {
                    let w = Wallet::with_key(network, &key);
                    w.create(&path, true)?;
                    w
                }
                Err(e) => return Err(e),
            }
        }
        WalletCommand::Show { secrets } => {
            let w = Wallet::load(&path)?;
            if cli.json {
                let keys: Vec<Value> = w
                    .keys
                    .iter()
                    .map(|k| {
                        if *secrets {
                            json!({ "address": k.address, "seed": k.seed })
                        } else {
                            json!({ "address": k.address })
                        }
                    })
                    .collect();
                let pending: Vec<&str> = w.pending.iter().map(|p| p.txid.as_str()).collect();
                return print_json(&json!({
                    "path": path, "network": w.network, "keys": keys, "pending": pending,
                }));
            }
            kv(&[
                ("wallet", path.display().to_string()),
                ("network", w.network.to_string()),
                ("watched sends", w.pending.len().to_string()),
            ])?;
            let rows: Vec<Vec<String>> = w
                .keys
                .iter()
                .map(|k| {
                    let mut r = vec![k.address.clone()];
                    if *secrets {
                        r.push(k.seed.clone());
                    }
                    r
                })
                .collect();
            return if *secrets {
                table(&["address", "seed"], &rows)
            } else {
                table(&["address"], &rows)
            };
        }
    };
    if cli.json {
        print_json(&json!({
            "path": path, "network": w.network, "address": w.primary_text(),
        }))
    } else {
        outln!("{}", w.primary_text())?;
        eprintln!("wallet {} ({})", path.display(), w.network);
        Ok(())
    }
}

pub(crate) fn address(cli: &Cli) -> Result<(), CliError> {
    let w = Wallet::load(&cli.locate()?.wallet)?;
    if cli.json {
        print_json(&json!({ "address": w.primary_text() }))
    } else {
        outln!("{}", w.primary_text())
    }
}

/// Loads the wallet, checks it is for the node's network, and resubmits
/// its unconfirmed sends the node lacks (writing the wallet if its list of
/// sends changed). Also returns how many of its sends are unconfirmed.
async fn open_wallet(
    cli: &Cli,
    rpc: &Rpc,
) -> Result<(Wallet, std::path::PathBuf, usize), CliError> {
    let path = cli.locate()?.wallet;
    let mut w = Wallet::load(&path)?;
    let node = node_network(rpc).await?;
    if node != w.network {
        return Err(CliError::NetworkMismatch {
            wallet: w.network,
            node: node.to_string(),
        });
    }
    let r = rebroadcast(rpc, &mut w).await?;
    r.report();
    if r.changed() {
        w.replace(&path)?;
    }
    Ok((w, path, r.unconfirmed))
}

pub(crate) async fn balance(cli: &Cli) -> Result<(), CliError> {
    let rpc = cli.rpc()?;
    let (w, _, unconfirmed_sends) = open_wallet(cli, &rpc).await?;
    let params = Params::new(w.network);
    let texts: Vec<String> = w.keys.iter().map(|k| k.address.clone()).collect();
    let list = unspent(&rpc, &texts).await?;
    let sum = |f: &dyn Fn(&Value) -> bool| -> u64 {
        list.iter()
            .filter(|u| f(u))
            .map(|u| units(&u["amount"]))
            .sum()
    };
    let confirmed = |u: &Value| units(&u["confirmations"]) > 0;
    let mature = |u: &Value| u["spendable"] != Value::Bool(false);
    let confirmed_units = sum(&|u| confirmed(u) && mature(u));
    let immature_units = sum(&|u| !mature(u));
    let pending_units = sum(&|u| !confirmed(u) && mature(u));
    let spendable_units = confirmed_units + pending_units;
    // Blocks until the next immature coinbase output can be spent.
    let next_mature = list
        .iter()
        .filter(|u| !mature(u))
        .map(|u| {
            params
                .coinbase_maturity
                .saturating_sub(units(&u["confirmations"]))
        })
        .min();
    if cli.json {
        return print_json(&json!({
            "confirmed": confirmed_units,
            "confirmed_coins": coins(confirmed_units),
            "unconfirmed": pending_units,
            "unconfirmed_coins": coins(pending_units),
            "immature": immature_units,
            "immature_coins": coins(immature_units),
            "immature_next_in_blocks": next_mature,
            "spendable": spendable_units,
            "spendable_coins": coins(spendable_units),
            "utxos": list.len(),
            "unconfirmed_sends": unconfirmed_sends,
        }));
    }
    let immature = match next_mature {
        Some(n) => format!(
            "{} (mined coins: the first can be spent in {n} block(s))",
            coins(immature_units)
        ),
        None => coins(immature_units),
    };
    kv(&[
        ("confirmed", coins(confirmed_units)),
        ("unconfirmed", coins(pending_units)),
        ("immature", immature),
        ("spendable", coins(spendable_units)),
        ("utxos", list.len().to_string()),
        ("unconfirmed sends", unconfirmed_sends.to_string()),
    ])
}

pub(crate) async fn send(cli: &Cli, to: &str, amount: &str, fee: &FeeArgs) -> Result<(), CliError> {
    let rpc = cli.rpc()?;
    let (mut w, path, _) = open_wallet(cli, &rpc).await?;
    let to_text = to.trim();
    let to = parse_address(to_text, w.network)?;
    let amount = parse_amount(amount)?;
    let (fee, max_fee) = fee_policy(&rpc, fee).await?;
    let keys = w.keypairs();
    let coins = spendable(&rpc, w.network, &w.addresses()).await?;
    let payment = build_payment(coins, &keys, to, amount, w.primary(), fee)?;
    check_fee(&payment, max_fee)?;
    let hex = hex::encode(payment.tx.encode());
    // Remembered before it is sent: a send the node took is never forgotten,
    // even if this process dies before the answer.
    let txid = payment.tx.txid().to_string();
    w.remember(txid.clone(), hex);
    w.replace(&path)?;
    match submit(&rpc, &payment).await {
        Ok(txid) => print_payment(cli.json, &txid, to_text, amount, &payment),
        // Refused: it will never be in the node; forget it.
        Err(e @ CliError::Rpc { .. }) => {
            w.pending.retain(|p| p.txid != txid);
            w.replace(&path)?;
            Err(e)
        }
        // No answer: the node may have it. The wallet keeps it and submits
        // it again where it is missing (`rumor balance`, the next send).
        Err(e) => {
            eprintln!(
                "send {txid} may not have reached the node; the wallet keeps it and submits it again at the next `rumor balance` or `rumor send`"
            );
            Err(e)
        }
    }
}

/// A start index that differs between concurrent faucet users.
fn faucet_start(faucet_keys: u32) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    (nanos ^ std::process::id()) % faucet_keys.max(1)
}

pub(crate) async fn faucet(
    cli: &Cli,
    to: &str,
    amount: &str,
    fee: &FeeArgs,
) -> Result<(), CliError> {
    let rpc = cli.rpc()?;
    let params = Params::new(node_network(&rpc).await?);
    let to_text = to.trim();
    let to = parse_address(to_text, params.network)?;
    let amount = parse_amount(amount)?;
    let (fee, max_fee) = fee_policy(&rpc, fee).await?;
    let margin = match fee {
        Fee::Fixed(a) => a.units(),
        Fee::PerByte(r) => r.saturating_mul(20_000),
    };
    let start = faucet_start(params.faucet_keys);
    let mut attempt = 0;
    loop {
        // Gather coins key by key, from a start that differs between users.
        let mut keys: Vec<KeyPair> = Vec::new();
        let mut pool: Vec<Spendable> = Vec::new();
        let mut total = 0u64;
        let offset = start + attempt as u32 * 7;
        for i in 0..params.faucet_keys {
            let key = params.faucet_key(offset.wrapping_add(i));
            let mut found = spendable(&rpc, params.network, &[key.address()]).await?;
            if found.is_empty() {
                continue;
            }
            // Rotate so that concurrent users of this key start at different coins.
            let rot = (faucet_start(found.len() as u32) as usize) % found.len();
            found.rotate_left(rot);
            for c in &mut found {
                c.key = keys.len();
            }
            total = found
                .iter()
                .fold(total, |t, c| t.saturating_add(c.amount.units()));
            keys.push(key);
            pool.extend(found);
            if total >= amount.units().saturating_add(margin) {
                break;
            }
        }
        if keys.is_empty() {
            return Err(CliError::InsufficientFunds {
                have: Amount::ZERO,
                need: amount,
            });
        }
        let change_to = keys[0].address();
        let payment = build_payment(pool, &keys, to, amount, change_to, fee)?;
        check_fee(&payment, max_fee)?;
        match submit(&rpc, &payment).await {
            Ok(txid) => return print_payment(cli.json, &txid, to_text, amount, &payment),
            Err(CliError::Rpc { code: -26, message })
                if message == "txn-mempool-conflict" && attempt < FAUCET_RETRIES =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

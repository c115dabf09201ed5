//! The command implementations.

use std::path::PathBuf;
use std::time::Duration;

use rumor_chain::{Address, Amount, KeyPair, Network, OutPoint, Params, Txid};
use serde_json::{Value, json};

use crate::output::{kv, plain, table};
use crate::rpc::{Credential, Endpoint, Rpc};
use crate::txbuild::{Fee, Payment, Spendable, build_payment};
use crate::wallet::{Wallet, parse_seed};
use crate::{Cli, CliError, Command, WalletCommand};

/// Retries of a faucet payment whose coins another client took meanwhile.
const FAUCET_RETRIES: usize = 4;

impl Cli {
    fn datadir(&self) -> Result<PathBuf, CliError> {
        match &self.datadir {
            Some(d) => Ok(d.clone()),
            None => std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".rumor"))
                .ok_or_else(|| CliError::Other("no --datadir given and $HOME is not set".into())),
        }
    }

    fn wallet_path(&self) -> Result<PathBuf, CliError> {
        match &self.wallet {
            Some(w) => Ok(w.clone()),
            None => Ok(self.datadir()?.join("wallet.json")),
        }
    }

    /// Where the node is and how to authenticate.
    ///
    /// # Errors
    /// Only one of user and password, or no data directory.
    pub fn endpoint(&self) -> Result<Endpoint, CliError> {
        let auth = match (&self.rpc_user, &self.rpc_password) {
            (Some(u), Some(p)) => Credential::UserPassword(u.clone(), p.clone()),
            (None, None) => Credential::Cookie(match &self.cookie {
                Some(c) => c.clone(),
                None => self.datadir()?.join(".cookie"),
            }),
            _ => {
                return Err(CliError::Other(
                    "--rpc-user and --rpc-password must be given together".into(),
                ));
            }
        };
        Ok(Endpoint {
            url: self.rpc.clone(),
            auth,
            timeout: Duration::from_millis(self.timeout_ms),
        })
    }

    pub(crate) fn rpc(&self) -> Result<Rpc, CliError> {
        Rpc::connect(&self.endpoint()?)
    }
}

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

fn parse_fee(text: Option<&str>, per_byte: u64) -> Result<Fee, CliError> {
    match text {
        None => Ok(Fee::PerByte(per_byte)),
        Some(t) => Amount::parse_coins(t)
            .map(Fee::Fixed)
            .map_err(|e| CliError::InvalidAmount {
                text: t.to_owned(),
                reason: e.to_string(),
            }),
    }
}

fn print_json(v: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    );
}

fn units(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn coins(u: u64) -> String {
    Amount::new(u).map_or_else(|_| u.to_string(), |a| a.to_string())
}

/// The node's chain name.
async fn node_network(rpc: &Rpc) -> Result<Network, CliError> {
    let info: Value = rpc.call("getblockchaininfo", vec![]).await?;
    let chain = info["chain"].as_str().unwrap_or_default();
    chain
        .parse()
        .map_err(|_| CliError::Other(format!("the node runs an unknown network `{chain}`")))
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
    let list: Vec<Value> = rpc
        .call("listunspent", vec![json!(texts), json!(0)])
        .await?;
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

fn print_payment(json_out: bool, txid: &str, to: &str, amount: Amount, p: &Payment) {
    if json_out {
        print_json(&json!({
            "txid": txid,
            "to": to,
            "amount": amount.units(),
            "coins": amount.to_string(),
            "fee": p.fee.units(),
            "change": p.change.units(),
            "inputs": p.tx.inputs.len(),
            "size": p.tx.size(),
        }));
    } else {
        println!("{txid}");
        eprintln!(
            "sent {amount} to {to} (fee {}, change {}, {} input(s))",
            p.fee,
            p.change,
            p.tx.inputs.len()
        );
    }
}

/// Runs a command.
///
/// # Errors
/// [`CliError`], with a message fit to print.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Wallet { cmd } => wallet(&cli, cmd),
        Command::Address => {
            let w = Wallet::load(&cli.wallet_path()?)?;
            if cli.json {
                print_json(&json!({ "address": w.primary_text() }));
            } else {
                println!("{}", w.primary_text());
            }
            Ok(())
        }
        Command::Balance => balance(&cli).await,
        Command::Send {
            address,
            amount,
            fee,
        } => send(&cli, address, amount, fee.as_deref()).await,
        Command::Tx { txid } => tx(&cli, txid).await,
        Command::Mempool { txids } => mempool(&cli, *txids).await,
        Command::Peers => peers(&cli).await,
        Command::Info => info(&cli).await,
        Command::Block { id } => block(&cli, id).await,
        Command::Generate { n, address } => generate(&cli, *n, address.as_deref()).await,
        Command::Stop => {
            let r: Value = cli.rpc()?.call("stop", vec![]).await?;
            if cli.json {
                print_json(&json!({ "result": r }));
            } else {
                println!("{}", plain(&r));
            }
            Ok(())
        }
        Command::Faucet {
            address,
            amount,
            fee,
        } => faucet(&cli, address, amount, fee.as_deref()).await,
        Command::BenchSubmit(args) => crate::bench::run(&cli, args).await,
    }
}

fn wallet(cli: &Cli, cmd: &WalletCommand) -> Result<(), CliError> {
    let path = cli.wallet_path()?;
    let w = match cmd {
        WalletCommand::New { force, network } => {
            let w = Wallet::generate(*network);
            w.create(&path, *force)?;
            w
        }
        WalletCommand::Import {
            seed,
            force,
            network,
        } => {
            let key = parse_seed(seed)?;
            match Wallet::load(&path) {
                Ok(mut w) if !*force => {
                    if w.network != *network {
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
                    let w = Wallet::with_key(*network, &key);
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
                print_json(&json!({
                    "path": path, "network": w.network, "keys": keys,
                }));
            } else {
                kv(&[
                    ("wallet", path.display().to_string()),
                    ("network", w.network.to_string()),
                ]);
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
                if *secrets {
                    table(&["address", "seed"], &rows);
                } else {
                    table(&["address"], &rows);
                }
            }
            return Ok(());
        }
    };
    if cli.json {
        print_json(&json!({
            "path": path, "network": w.network, "address": w.primary_text(),
        }));
    } else {
        println!("{}", w.primary_text());
        eprintln!("wallet {} ({})", path.display(), w.network);
    }
    Ok(())
}

async fn balance(cli: &Cli) -> Result<(), CliError> {
    let w = Wallet::load(&cli.wallet_path()?)?;
    let rpc = cli.rpc()?;
    let addrs: Vec<String> = w.keys.iter().map(|k| k.address.clone()).collect();
    let confirmed: Value = rpc.call("getbalance", vec![json!(addrs)]).await?;
    let coins_list = spendable(&rpc, w.network, &w.addresses()).await?;
    let spendable_units: u64 = coins_list.iter().map(|c| c.amount.units()).sum();
    let confirmed_units = units(&confirmed["amount"]);
    if cli.json {
        print_json(&json!({
            "confirmed": confirmed_units,
            "confirmed_coins": coins(confirmed_units),
            "spendable": spendable_units,
            "spendable_coins": coins(spendable_units),
            "utxos": confirmed["utxos"],
        }));
    } else {
        kv(&[
            ("confirmed", coins(confirmed_units)),
            ("spendable", coins(spendable_units)),
            ("utxos", plain(&confirmed["utxos"])),
        ]);
    }
    Ok(())
}

async fn fee_rate(rpc: &Rpc) -> Result<u64, CliError> {
    let info: Value = rpc.call("getmempoolinfo", vec![]).await?;
    Ok(info["minrelayfee_per_byte"].as_u64().unwrap_or(1).max(1))
}

async fn send(cli: &Cli, to: &str, amount: &str, fee: Option<&str>) -> Result<(), CliError> {
    let w = Wallet::load(&cli.wallet_path()?)?;
    let to_text = to.trim();
    let to = parse_address(to_text, w.network)?;
    let amount = parse_amount(amount)?;
    let rpc = cli.rpc()?;
    let node = node_network(&rpc).await?;
    if node != w.network {
        return Err(CliError::NetworkMismatch {
            wallet: w.network,
            node: node.to_string(),
        });
    }
    let fee = parse_fee(fee, fee_rate(&rpc).await?)?;
    let keys = w.keypairs();
    let coins = spendable(&rpc, w.network, &w.addresses()).await?;
    let payment = build_payment(coins, &keys, to, amount, w.primary(), fee)?;
    let txid = submit(&rpc, &payment).await?;
    print_payment(cli.json, &txid, to_text, amount, &payment);
    Ok(())
}

/// A start index that differs between concurrent faucet users.
fn faucet_start(faucet_keys: u32) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    (nanos ^ std::process::id()) % faucet_keys.max(1)
}

async fn faucet(cli: &Cli, to: &str, amount: &str, fee: Option<&str>) -> Result<(), CliError> {
    let rpc = cli.rpc()?;
    let params = Params::new(node_network(&rpc).await?);
    let to_text = to.trim();
    let to = parse_address(to_text, params.network)?;
    let amount = parse_amount(amount)?;
    let fee = parse_fee(fee, fee_rate(&rpc).await?)?;
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
        match submit(&rpc, &payment).await {
            Ok(txid) => {
                print_payment(cli.json, &txid, to_text, amount, &payment);
                return Ok(());
            }
            Err(CliError::Rpc { code: -26, message })
                if message == "txn-mempool-conflict" && attempt < FAUCET_RETRIES =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn tx(cli: &Cli, txid: &str) -> Result<(), CliError> {
    let _: Txid = txid.trim().parse().map_err(|_| {
        CliError::Other(format!("invalid txid `{txid}`: expected 64 hex characters"))
    })?;
    let v: Value = cli
        .rpc()?
        .call("getrawtransaction", vec![json!(txid.trim()), json!(true)])
        .await?;
    if cli.json {
        print_json(&v);
        return Ok(());
    }
    kv(&[
        ("txid", plain(&v["txid"])),
        ("size", plain(&v["size"])),
        ("block", plain(&v["blockhash"])),
        ("confirmations", plain(&v["confirmations"])),
    ]);
    println!();
    let ins: Vec<Vec<String>> = v["vin"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    if i["coinbase"].as_bool() == Some(true) {
                        vec!["coinbase".into(), plain(&i["height"])]
                    } else {
                        vec![plain(&i["txid"]), plain(&i["vout"])]
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    table(&["input", "vout"], &ins);
    println!();
    let outs: Vec<Vec<String>> = v["vout"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| vec![plain(&o["n"]), plain(&o["coins"]), plain(&o["address"])])
                .collect()
        })
        .unwrap_or_default();
    table(&["n", "coins", "address"], &outs);
    Ok(())
}

async fn mempool(cli: &Cli, list: bool) -> Result<(), CliError> {
    let rpc = cli.rpc()?;
    let info: Value = rpc.call("getmempoolinfo", vec![]).await?;
    let ids: Value = if list {
        rpc.call("getrawmempool", vec![]).await?
    } else {
        Value::Null
    };
    if cli.json {
        let mut v = info;
        if list {
            v["txids"] = ids;
        }
        print_json(&v);
        return Ok(());
    }
    kv(&[
        ("transactions", plain(&info["size"])),
        ("bytes", plain(&info["bytes"])),
        ("orphans", plain(&info["orphans"])),
        ("max bytes", plain(&info["maxmempool"])),
    ]);
    if let Some(ids) = ids.as_array() {
        for id in ids {
            println!("{}", plain(id));
        }
    }
    Ok(())
}

async fn peers(cli: &Cli) -> Result<(), CliError> {
    let v: Value = cli.rpc()?.call("getpeerinfo", vec![]).await?;
    if cli.json {
        print_json(&v);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let mesh = match (p["mesh_tx"].as_bool(), p["mesh_block"].as_bool()) {
                        (Some(true), Some(true)) => "tx,block",
                        (Some(true), _) => "tx",
                        (_, Some(true)) => "block",
                        _ => "-",
                    };
                    vec![
                        plain(&p["peer_id"]),
                        plain(&p["addr"]),
                        if p["outbound"].as_bool() == Some(true) {
                            "out".into()
                        } else {
                            "in".into()
                        },
                        p["rtt_ms"]
                            .as_f64()
                            .map_or_else(|| "-".into(), |r| format!("{r:.1}")),
                        p["score"]
                            .as_f64()
                            .map_or_else(|| "-".into(), |s| format!("{s:.1}")),
                        mesh.into(),
                        plain(&p["connected_secs"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    table(
        &["peer", "address", "dir", "rtt ms", "score", "mesh", "secs"],
        &rows,
    );
    Ok(())
}

async fn info(cli: &Cli) -> Result<(), CliError> {
    let rpc = cli.rpc()?;
    let chain: Value = rpc.call("getblockchaininfo", vec![]).await?;
    let net: Value = rpc.call("getnetworkinfo", vec![]).await?;
    let pool: Value = rpc.call("getmempoolinfo", vec![]).await?;
    if cli.json {
        print_json(&json!({ "chain": chain, "network": net, "mempool": pool }));
        return Ok(());
    }
    let addrs = net["listen_addrs"]
        .as_array()
        .map(|a| a.iter().map(plain).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    kv(&[
        ("network", plain(&chain["chain"])),
        ("height", plain(&chain["blocks"])),
        ("best block", plain(&chain["bestblockhash"])),
        ("genesis", plain(&chain["genesis"])),
        ("peer id", plain(&net["peer_id"])),
        ("listening", addrs),
        ("relay", plain(&net["relay"])),
        ("connections", plain(&net["connections"])),
        ("mempool txs", plain(&pool["size"])),
        ("mempool bytes", plain(&pool["bytes"])),
        ("version", plain(&net["version"])),
    ]);
    Ok(())
}

async fn block(cli: &Cli, id: &str) -> Result<(), CliError> {
    let rpc = cli.rpc()?;
    let id = id.trim();
    let hash: String = if id.len() < 64 && id.bytes().all(|b| b.is_ascii_digit()) {
        let h: u64 = id
            .parse()
            .map_err(|_| CliError::Other(format!("invalid height `{id}`")))?;
        rpc.call("getblockhash", vec![json!(h)]).await?
    } else {
        id.to_owned()
    };
    let v: Value = rpc.call("getblock", vec![json!(hash), json!(1)]).await?;
    if cli.json {
        print_json(&v);
        return Ok(());
    }
    kv(&[
        ("hash", plain(&v["hash"])),
        ("height", plain(&v["height"])),
        ("confirmations", plain(&v["confirmations"])),
        ("time", plain(&v["time"])),
        ("previous", plain(&v["previousblockhash"])),
        ("next", plain(&v["nextblockhash"])),
        ("size", plain(&v["size"])),
        ("transactions", plain(&v["ntx"])),
    ]);
    if let Some(txs) = v["tx"].as_array() {
        println!();
        for t in txs {
            println!("{}", plain(t));
        }
    }
    Ok(())
}

async fn generate(cli: &Cli, n: u64, address: Option<&str>) -> Result<(), CliError> {
    // The node checks the address is for its network.
    let address = match address {
        Some(a) => a.trim().to_owned(),
        None => Wallet::load(&cli.wallet_path()?)?.primary_text(),
    };
    let hashes: Value = cli
        .rpc()?
        .call("generatetoaddress", vec![json!(n), json!(address)])
        .await?;
    if cli.json {
        print_json(&hashes);
    } else if let Some(list) = hashes.as_array() {
        for h in list {
            println!("{}", plain(h));
        }
    }
    Ok(())
}

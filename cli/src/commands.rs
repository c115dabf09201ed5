//! The node commands (`tx`, `mempool`, `peers`, `info`, `block`,
//! `generate`, `stop`) and the dispatcher; the wallet's are in `pay`.

use rumor_chain::Txid;
use serde_json::{Value, json};

use crate::output::{kv, plain, print_json, table};
use crate::rpc::{Endpoint, Rpc};
use crate::wallet::Wallet;
use crate::{Cli, CliError, Command};

impl Cli {
    /// Where the node is and how to authenticate (see `locate`).
    ///
    /// # Errors
    /// Only one of user and password, no data directory, or an unreadable
    /// node config.
    pub fn endpoint(&self) -> Result<Endpoint, CliError> {
        Ok(self.locate()?.endpoint)
    }

    pub(crate) fn rpc(&self) -> Result<Rpc, CliError> {
        Rpc::connect(&self.endpoint()?)
    }
}

/// Runs a command.
///
/// # Errors
/// [`CliError`], with a message fit to print ([`CliError::ClosedOutput`]
/// when standard output was closed: nothing to print).
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Wallet { cmd } => crate::pay::wallet(&cli, cmd),
        Command::Address => crate::pay::address(&cli),
        Command::Balance => crate::pay::balance(&cli).await,
        Command::Send {
            address,
            amount,
            fee,
        } => crate::pay::send(&cli, address, amount, fee).await,
        Command::Tx { txid } => tx(&cli, txid).await,
        Command::Mempool { txids } => mempool(&cli, *txids).await,
        Command::Peers => peers(&cli).await,
        Command::Info => info(&cli).await,
        Command::Block { id } => block(&cli, id).await,
        Command::Generate { n, address } => generate(&cli, *n, address.as_deref()).await,
        Command::Stop => {
            let r: Value = cli.rpc()?.call("stop", vec![]).await?;
            if cli.json {
                print_json(&json!({ "result": r }))
            } else {
                outln!("{}", plain(&r))
            }
        }
        Command::Faucet {
            address,
            amount,
            fee,
        } => crate::pay::faucet(&cli, address, amount, fee).await,
        Command::BenchSubmit(args) => crate::bench::run(&cli, args).await,
        Command::Rpc { method, args } => crate::rawrpc::call(&cli, method, args).await,
        Command::External(words) => crate::rawrpc::external(&cli, words).await,
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
        return print_json(&v);
    }
    kv(&[
        ("txid", plain(&v["txid"])),
        ("size", plain(&v["size"])),
        ("block", plain(&v["blockhash"])),
        ("confirmations", plain(&v["confirmations"])),
    ])?;
    outln!("")?;
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
    table(&["input", "vout"], &ins)?;
    outln!("")?;
    let outs: Vec<Vec<String>> = v["vout"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| vec![plain(&o["n"]), plain(&o["coins"]), plain(&o["address"])])
                .collect()
        })
        .unwrap_or_default();
    table(&["n", "coins", "address"], &outs)
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
        return print_json(&v);
    }
    kv(&[
        ("transactions", plain(&info["size"])),
        ("bytes", plain(&info["bytes"])),
        ("orphans", plain(&info["orphans"])),
        ("max bytes", plain(&info["maxmempool"])),
    ])?;
    if let Some(ids) = ids.as_array() {
        for id in ids {
            outln!("{}", plain(id))?;
        }
    }
    Ok(())
}

async fn peers(cli: &Cli) -> Result<(), CliError> {
    let v: Value = cli.rpc()?.call("getpeerinfo", vec![]).await?;
    if cli.json {
        return print_json(&v);
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
    )
}

async fn info(cli: &Cli) -> Result<(), CliError> {
    let rpc = cli.rpc()?;
    let chain: Value = rpc.call("getblockchaininfo", vec![]).await?;
    let net: Value = rpc.call("getnetworkinfo", vec![]).await?;
    let pool: Value = rpc.call("getmempoolinfo", vec![]).await?;
    if cli.json {
        return print_json(&json!({ "chain": chain, "network": net, "mempool": pool }));
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
    ])
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
        return print_json(&v);
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
    ])?;
    if let Some(txs) = v["tx"].as_array() {
        outln!("")?;
        for t in txs {
            outln!("{}", plain(t))?;
        }
    }
    Ok(())
}

async fn generate(cli: &Cli, n: u64, address: Option<&str>) -> Result<(), CliError> {
    // The node checks the address is for its network.
    let address = match address {
        Some(a) => a.trim().to_owned(),
        None => Wallet::load(&cli.locate()?.wallet)?.primary_text(),
    };
    let hashes: Value = cli
        .rpc()?
        .call("generatetoaddress", vec![json!(n), json!(address)])
        .await?;
    if cli.json {
        print_json(&hashes)?;
    } else if let Some(list) = hashes.as_array() {
        for h in list {
            outln!("{}", plain(h))?;
        }
    }
    Ok(())
}

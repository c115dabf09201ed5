//! `rumor bench-submit`: measures sustained `sendrawtransaction` throughput
//! into one node. It pre-signs N independent transactions, each spending a
//! distinct confirmed faucet (genesis) output, then submits them in
//! `sendrawtransactions` calls (many transactions, one validation batch)
//! over several connections and reports transactions per second. A call the
//! node refuses as busy (−28) counts its transactions as refused.
//! Run it against a node started with enough genesis outputs
//! (`--genesis-outputs 100000` or more).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rumor_chain::{Amount, KeyPair, Network, OutPoint, Params, Transaction, TxIn, TxOut, Txid};
use serde_json::{Value, json};

use crate::rpc::Rpc;
use crate::{Cli, CliError};

/// Options of `bench-submit`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Transactions to submit.
    #[arg(long, default_value_t = 20_000)]
    pub count: usize,
    /// Transactions per `sendrawtransactions` call.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Concurrent HTTP connections.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Fee per transaction, in base units.
    #[arg(long, default_value_t = 1_000)]
    pub fee_units: u64,
}

/// One pre-signed transaction.
struct Signed {
    hex: String,
}

/// Confirmed faucet coins: (faucet key index, outpoint, amount).
async fn faucet_coins(
    rpc: &Rpc,
    params: &Params,
    want: usize,
) -> Result<Vec<(u32, OutPoint, u64)>, CliError> {
    let calls: Vec<(&str, Vec<Value>)> = (0..params.faucet_keys)
        .map(|i| {
            (
                "listunspent",
                vec![
                    json!(params.faucet_key(i).address().encode(params.network)),
                    json!(1),
                ],
            )
        })
        .collect();
    let mut coins = Vec::new();
    for chunk in calls.chunks(20).enumerate() {
        let (c, chunk) = chunk;
        for (j, r) in rpc.batch(chunk).await?.into_iter().enumerate() {
            let key = (c * 20 + j) as u32;
            let list = r.map_err(|(code, m)| CliError::Rpc { code, message: m })?;
            for u in list.as_array().into_iter().flatten() {
                let txid: Txid = u["txid"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| CliError::Other("malformed txid from the node".into()))?;
                let vout = u["vout"].as_u64().unwrap_or(0) as u32;
                coins.push((
                    key,
                    OutPoint::new(txid, vout),
                    u["amount"].as_u64().unwrap_or(0),
                ));
            }
        }
        if coins.len() >= want {
            break;
        }
    }
    // Interleave keys so that consecutive transactions use different keys.
    coins.sort_by_key(|(k, op, _)| (op.vout / params.faucet_keys, *k));
    coins.truncate(want);
    Ok(coins)
}

fn sign_all(params: &Params, coins: &[(u32, OutPoint, u64)], fee: u64) -> Vec<Signed> {
    let keys: Vec<KeyPair> = params.faucet_keypairs();
    let sink = KeyPair::from_seed([0xbe; 32]).address();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = coins.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = coins
            .chunks(chunk)
            .map(|part| {
                let keys = &keys;
                s.spawn(move || {
                    part.iter()
                        .filter_map(|(k, op, amount)| {
                            let key = &keys[*k as usize];
                            let value = Amount::new(amount.checked_sub(fee)?).ok()?;
                            let mut tx = Transaction {
                                version: Transaction::VERSION,
                                inputs: vec![TxIn::unsigned(*op, key.public())],
                                outputs: vec![TxOut {
                                    amount: value,
                                    address: sink,
                                }],
                            };
                            tx.sign(&[key]).ok()?;
                            Some(Signed {
                                hex: hex::encode(tx.encode()),
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Runs the benchmark.
///
/// # Errors
/// Connection failures, or too few faucet outputs.
pub(crate) async fn run(cli: &Cli, args: &BenchArgs) -> Result<(), CliError> {
    if args.count == 0 || args.batch == 0 || args.connections == 0 {
        return Err(CliError::Other(
            "--count, --batch and --connections must be positive".into(),
        ));
    }
    let rpc = cli.rpc()?;
    let info: Value = rpc.call("getblockchaininfo", vec![]).await?;
    let network: Network = info["chain"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .map_err(|_| CliError::Other("unknown network".into()))?;
    let params = Params::new(network);
    let coins = faucet_coins(&rpc, &params, args.count).await?;
    if coins.len() < args.count {
        return Err(CliError::Other(format!(
            "only {} confirmed faucet outputs are unspent; start the node with more \
             --genesis-outputs or submit fewer (--count)",
            coins.len()
        )));
    }
    let t_sign = Instant::now();
    let signed = sign_all(&params, &coins, args.fee_units);
    let sign_s = t_sign.elapsed().as_secs_f64();
    let batches: Vec<Vec<String>> = signed
        .chunks(args.batch)
        .map(|c| c.iter().map(|s| s.hex.clone()).collect())
        .collect();
    let queue = Arc::new(Mutex::new(batches.into_iter()));
    let endpoint = cli.endpoint()?;
    let errors: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let accepted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.connections {
        let rpc = Rpc::connect(&endpoint)?;
        let queue = Arc::clone(&queue);
        let errors = Arc::clone(&errors);
        let accepted = Arc::clone(&accepted);
        workers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().map(|mut q| q.next()).unwrap_or(None);
                let Some(batch) = next else {
                    return Ok::<(), CliError>(());
                };
                let n = batch.len() as u64;
                let results: Vec<Value> =
                    match rpc.call("sendrawtransactions", vec![json!(batch)]).await {
                        Ok(r) => r,
                        Err(CliError::Rpc { code, message }) => {
                            if let Ok(mut e) = errors.lock() {
                                *e.entry(format!("{code} {message}")).or_default() += n;
                            }
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                for r in results {
                    match r.get("error") {
                        None | Some(Value::Null) => {
                            accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Some(e) => {
                            if let Ok(mut errs) = errors.lock() {
                                *errs
                                    .entry(format!("{} {}", e["code"], e["message"]))
                                    .or_default() += 1;
                            }
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await
            .map_err(|e| CliError::Other(format!("bench worker: {e}")))??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let accepted = accepted.load(std::sync::atomic::Ordering::Relaxed);
    let errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    let pool: Value = rpc.call("getmempoolinfo", vec![]).await?;
    let rate = accepted as f64 / elapsed.max(1e-9);
    if cli.json {
        outln!(
            "{}",
            json!({
                "count": signed.len(),
                "batch": args.batch,
                "connections": args.connections,
                "sign_s": sign_s,
                "elapsed_s": elapsed,
                "accepted": accepted,
                "tx_per_s": rate,
                "errors": errors,
                "mempool_size": pool["size"],
            })
        )?;
    } else {
        outln!(
            "submitted {} transactions in {elapsed:.2} s: {rate:.0} tx/s accepted ({accepted} ok), \
             batch {} x {} connections; signing took {sign_s:.2} s; mempool now {}",
            signed.len(),
            args.batch,
            args.connections,
            pool["size"]
        )?;
        for (e, n) in &errors {
            outln!("  {n} x {e}")?;
        }
    }
    Ok(())
}

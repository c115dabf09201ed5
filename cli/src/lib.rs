//! rumor-cli: `rumor`, the user's client. It keeps a wallet file, builds and
//! signs transactions, and talks to `rumord` over JSON-RPC, printing tables
//! for people or JSON (`--json`) for scripts.
//!
//! # Map
//! - [`Cli`] and [`run`]: the commands (`commands`).
//! - `rpc`: [`Rpc`], [`Endpoint`], credentials, and actionable transport errors.
//! - `wallet`: the [`Wallet`] file (mode 0600, never overwritten without `--force`).
//! - `txbuild`: [`build_payment`]: coin selection, change, fee and signing.
//! - `bench`: `rumor bench-submit` ([`BenchArgs`]), the `sendrawtransaction` throughput tool.
//! - `output`: tables and key-value lists.

mod bench;
mod commands;
mod output;
mod rpc;
mod txbuild;
mod wallet;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rumor_chain::{Amount, Network};

pub use bench::BenchArgs;
pub use commands::run;
pub use rpc::{Credential, Endpoint, Rpc, read_cookie};
pub use txbuild::{Fee, MAX_TX_BYTES, Payment, Spendable, build_payment};
pub use wallet::{Wallet, WalletKey, parse_seed};

/// Everything that can go wrong, each with a message a person can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The node did not answer.
    #[error("cannot reach rumord at {url}: {reason} (is it running? check --rpc)")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// Why.
        reason: String,
    },
    /// HTTP 401.
    #[error(
        "bad credential: the node refused the RPC credential (check --datadir/--cookie or --rpc-user/--rpc-password)"
    )]
    BadCredential,
    /// No credential could be read.
    #[error(
        "no RPC credential: cannot read cookie {path}: {reason} (pass --datadir, --cookie, or --rpc-user and --rpc-password)"
    )]
    NoCredential {
        /// The cookie file tried.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The node answered with an error.
    #[error("node error {code}: {message}")]
    Rpc {
        /// JSON-RPC error code.
        code: i32,
        /// Its message.
        message: String,
    },
    /// Not enough coins.
    #[error("insufficient funds: have {have}, need {need} (amount plus fee)")]
    InsufficientFunds {
        /// Spendable total.
        have: Amount,
        /// Amount plus fee.
        need: Amount,
    },
    /// An address that does not parse.
    #[error("invalid address `{text}`: {reason}")]
    InvalidAddress {
        /// The text.
        text: String,
        /// Why.
        reason: String,
    },
    /// An amount that does not parse or is out of range.
    #[error("invalid amount `{text}`: {reason}")]
    InvalidAmount {
        /// The text.
        text: String,
        /// Why.
        reason: String,
    },
    /// The wallet file exists.
    #[error("wallet {0} already exists; use --force to overwrite it")]
    WalletExists(PathBuf),
    /// No wallet file.
    #[error("no wallet at {0}; create one with `rumor wallet new`")]
    NoWallet(PathBuf),
    /// A malformed wallet or key.
    #[error("wallet: {0}")]
    Wallet(String),
    /// The wallet is for another network than the node.
    #[error("the wallet is for {wallet}, but the node runs {node}")]
    NetworkMismatch {
        /// The wallet's network.
        wallet: Network,
        /// The node's.
        node: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// `rumor`: wallet, transactions and node commands for rumord.
#[derive(Debug, Parser)]
#[command(
    name = "rumor",
    version,
    about = "rumor client: wallet, transactions, node commands"
)]
pub struct Cli {
    /// The node's RPC URL.
    #[arg(
        long,
        env = "RUMOR_RPC",
        global = true,
        default_value = "http://127.0.0.1:8332"
    )]
    pub rpc: String,
    /// The node's data directory, where `.cookie` is (default ~/.rumor).
    #[arg(long, env = "RUMOR_DATADIR", global = true, value_name = "PATH")]
    pub datadir: Option<PathBuf>,
    /// The RPC cookie file (overrides --datadir).
    #[arg(long, env = "RUMOR_COOKIE", global = true, value_name = "FILE")]
    pub cookie: Option<PathBuf>,
    /// RPC user (with --rpc-password) instead of the cookie.
    #[arg(long, env = "RUMOR_RPC_USER", global = true)]
    pub rpc_user: Option<String>,
    /// RPC password.
    #[arg(
        long,
        env = "RUMOR_RPC_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub rpc_password: Option<String>,
    /// The wallet file (default `<datadir>/wallet.json`).
    #[arg(long, env = "RUMOR_WALLET", global = true, value_name = "PATH")]
    pub wallet: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Per-request timeout in ms.
    #[arg(long, global = true, default_value_t = 60_000)]
    pub timeout_ms: u64,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, import or show the wallet.
    Wallet {
        /// What to do.
        #[command(subcommand)]
        cmd: WalletCommand,
    },
    /// Print the wallet's receiving address.
    Address,
    /// The wallet's balance (confirmed, and spendable including the mempool).
    Balance,
    /// Pay AMOUNT coins to ADDRESS from the wallet.
    Send {
        /// Recipient address.
        address: String,
        /// Amount in coins, e.g. 1.5.
        amount: String,
        /// Fee in coins (default: the minimum relay fee for the size).
        #[arg(long)]
        fee: Option<String>,
    },
    /// Show a transaction.
    Tx {
        /// Its txid.
        txid: String,
    },
    /// Mempool summary.
    Mempool {
        /// Also list the txids.
        #[arg(long)]
        txids: bool,
    },
    /// Connected peers.
    Peers,
    /// Chain, network and mempool summary.
    Info,
    /// Show a block by hash or height.
    Block {
        /// Hash or height.
        id: String,
    },
    /// Mine N blocks (regtest-like), paying the wallet or --address.
    Generate {
        /// How many blocks.
        n: u64,
        /// Who the coinbases pay (default: the wallet's address).
        #[arg(long)]
        address: Option<String>,
    },
    /// Stop the node.
    Stop,
    /// Pay AMOUNT coins to ADDRESS from the testnet faucet (genesis) keys.
    Faucet {
        /// Recipient address.
        address: String,
        /// Amount in coins.
        amount: String,
        /// Fee in coins (default: the minimum relay fee for the size).
        #[arg(long)]
        fee: Option<String>,
    },
    /// Measure sendrawtransaction throughput with pre-signed faucet transactions.
    BenchSubmit(BenchArgs),
}

/// Wallet commands.
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Create a wallet with a fresh key.
    New {
        /// Overwrite an existing wallet file.
        #[arg(long)]
        force: bool,
        /// The network the wallet is for.
        #[arg(long, env = "RUMOR_NETWORK", default_value = "testnet")]
        network: Network,
    },
    /// Add a key (64 hex characters) to the wallet, creating it if needed.
    Import {
        /// The 32-byte seed in hex.
        seed: String,
        /// Replace the wallet with one holding only this key.
        #[arg(long)]
        force: bool,
        /// The network the wallet is for.
        #[arg(long, env = "RUMOR_NETWORK", default_value = "testnet")]
        network: Network,
    },
    /// Show the wallet's network and addresses.
    Show {
        /// Also print the secret seeds.
        #[arg(long)]
        secrets: bool,
    },
}

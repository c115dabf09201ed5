//! rumor-cli: `rumor`, the user's client. It keeps a wallet file, builds and
//! signs transactions, and talks to `rumord` over JSON-RPC, printing tables
//! for people or JSON (`--json`) for scripts. Like `bitcoin-cli`, any node
//! RPC method is a command too (`rumor getblockchaininfo`, `rumor rpc …`).
//!
//! # Map
//! - [`Cli`] and [`run`]: the commands (`commands`).
//! - `locate`: where the node is ([`Located`]): network, data directory, RPC
//!   URL and credential, from the flags, the environment and the node's `rumord.toml`.
//! - `rpc`: [`Rpc`], [`Endpoint`], credentials, and actionable transport errors.
//! - `rawrpc`: `rumor rpc METHOD ARGS…`, unknown commands passed through, and `help`.
//! - `pay`: the wallet's commands: `wallet`, `address`, `balance`, `send`, `faucet`.
//! - `wallet`: the [`Wallet`] file (mode 0600, never overwritten without `--force`).
//! - `txbuild`: [`build_payment`]: coin selection, change, fee and signing; the max-fee guard.
//! - `rebroadcast`: the wallet's unconfirmed sends, resubmitted where the node lacks them.
//! - `bench`: `rumor bench-submit` ([`BenchArgs`]), the `sendrawtransaction` throughput tool.
//! - `output`: tables and key-value lists; a closed stdout ends the command quietly.

// First: its `outln!` is used by the modules below.
#[macro_use]
mod output;
mod bench;
mod commands;
mod locate;
mod pay;
mod rawrpc;
mod rebroadcast;
mod rpc;
mod txbuild;
mod wallet;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rumor_chain::{Amount, Network};

pub use bench::BenchArgs;
pub use commands::run;
pub use locate::{Located, NodeFile, read_node_file};
pub use rawrpc::parse_arg;
pub use rpc::{Credential, Endpoint, Rpc, read_cookie};
pub use txbuild::{
    DEFAULT_MAX_FEE, Fee, MAX_TX_BYTES, Payment, Spendable, build_payment, check_fee,
};
pub use wallet::{PendingSend, Wallet, WalletKey, parse_seed};

/// Everything that can go wrong, each with a message a person can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The node did not answer.
    #[error(
        "cannot reach rumord at {url}: {reason} (is it running? check --rpc, or --network for a node of another network)"
    )]
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
        "no RPC credential for rumord at {url}: cannot read cookie {path}: {reason} (is it running? pass --network for a node of another network, or --datadir, --cookie, or --rpc-user and --rpc-password)"
    )]
    NoCredential {
        /// The node's URL the credential was for.
        url: String,
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
    /// A fee above the limit (`--max-fee`).
    #[error(
        "refusing to pay a fee of {fee} ({rate} units/byte × {size} bytes): more than --max-fee {max}; pass a larger --max-fee if you mean it"
    )]
    FeeTooHigh {
        /// The fee the transaction would pay.
        fee: Amount,
        /// Its rate, base units per byte.
        rate: u64,
        /// Its size, bytes.
        size: usize,
        /// The limit.
        max: Amount,
    },
    /// The node's config file cannot be read.
    #[error("node config {path}: {reason}")]
    NodeConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Standard output was closed (`rumor … | head -1`): nothing more to say.
    #[error("standard output closed")]
    ClosedOutput,
    /// Standard output failed otherwise.
    #[error("writing to standard output: {0}")]
    Output(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// `rumor`: wallet, transactions and node commands for rumord.
#[derive(Debug, Parser)]
#[command(
    name = "rumor",
    version,
    about = "rumor client: wallet, transactions, node commands",
    long_about = "rumor client: wallet, transactions, node commands. \
        Any other command is a node RPC method with its arguments, as with bitcoin-cli \
        (`rumor getblockhash 0`; `rumor help METHOD` explains one). \
        The node is found as rumord finds itself: --datadir (default ~/.rumor/<network>), \
        its rumord.toml (network, rpc-bind, rpc-user/rpc-password) and its .cookie.",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// The node's RPC URL [default: `rpc-bind` from the node's rumord.toml
    /// or RUMOR_RPC_BIND, else the network's port: testnet
    /// http://127.0.0.1:17332, regtest http://127.0.0.1:17443].
    #[arg(long, env = "RUMOR_RPC", global = true, value_name = "URL")]
    pub rpc: Option<String>,
    /// The network [default: `network` in the node's rumord.toml, else testnet].
    #[arg(long, env = "RUMOR_NETWORK", global = true)]
    pub network: Option<Network>,
    /// The node's data directory, where `.cookie` and `rumord.toml` are
    /// (default ~/.rumor/<network>).
    #[arg(long, env = "RUMOR_DATADIR", global = true, value_name = "PATH")]
    pub datadir: Option<PathBuf>,
    /// The node's config file (default `<datadir>/rumord.toml`), read for
    /// `network`, `rpc-bind`, `rpc-user` and `rpc-password`.
    #[arg(long, env = "RUMOR_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    /// Pay AMOUNT coins to ADDRESS from the wallet. The fee is a rate per
    /// byte (like bitcoind's `fee_rate`); the absolute fee is shown.
    Send {
        /// Recipient address.
        address: String,
        /// Amount in coins, e.g. 1.5.
        amount: String,
        /// The fee rate and its limit.
        #[command(flatten)]
        fee: FeeArgs,
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
        /// The fee rate and its limit.
        #[command(flatten)]
        fee: FeeArgs,
    },
    /// Measure sendrawtransaction throughput with pre-signed faucet transactions.
    BenchSubmit(BenchArgs),
    /// Call a node RPC method: `rumor rpc getblock HASH 2`. Each argument is
    /// JSON where it parses as JSON (numbers, true, null, objects, arrays),
    /// else a string. `rumor METHOD ARGS…` does the same.
    Rpc {
        /// The method.
        method: String,
        /// Its arguments, by position.
        #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Node RPC methods (any other command): `rumor getblockchaininfo`;
    /// `rumor help [COMMAND|METHOD]`.
    #[command(external_subcommand)]
    External(Vec<String>),
}

/// How a payment's fee is set.
#[derive(Debug, Clone, clap::Args)]
pub struct FeeArgs {
    /// Fee rate in base units per encoded byte (default: the node's minimum
    /// relay fee rate).
    #[arg(long, value_name = "UNITS_PER_BYTE")]
    pub fee_rate: Option<u64>,
    /// The most this payment may pay in fees, in coins: a larger fee is
    /// refused, never paid by mistake.
    #[arg(long, value_name = "COINS", default_value = DEFAULT_MAX_FEE)]
    pub max_fee: String,
}

/// Wallet commands.
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Create a wallet with a fresh key, for `--network` (default testnet).
    New {
        /// Overwrite an existing wallet file.
        #[arg(long)]
        force: bool,
    },
    /// Add a key (64 hex characters) to the wallet, creating it if needed.
    Import {
        /// The 32-byte seed in hex.
        seed: String,
        /// Replace the wallet with one holding only this key.
        #[arg(long)]
        force: bool,
    },
    /// Show the wallet's network and addresses.
    Show {
        /// Also print the secret seeds.
        #[arg(long)]
        secrets: bool,
    },
}

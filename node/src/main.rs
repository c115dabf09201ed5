//! `rumord`: the rumor full node.
//!
//! - `rumord [FLAGS]` (or `rumord run [FLAGS]`): run the node (`rumord --help`
//!   lists every flag).
//! - `rumord health [--rpc URL] [--datadir P | --cookie F | --rpc-user U --rpc-password P]`:
//!   exit 0 iff the node answers `getblockchaininfo`.
//! - `rumord peer-id --node-key HEX`: print the PeerId of a node key.
//! - `rumord verify [FLAGS]`: replay the stored best chain of a stopped node
//!   and compare the store with it; exit 0 iff they agree.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use rumor_node::{LogFormat, Settings};

#[derive(Parser)]
#[command(
    name = "rumord",
    version,
    about = "rumor full node",
    long_about = "rumor full node. `rumord [FLAGS]` runs the node (the same as `rumord run [FLAGS]`). \
        Every flag is also a RUMOR_* environment variable and a key of <datadir>/rumord.toml; \
        precedence: file < environment < flags.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// The node's settings, when no subcommand is given.
    #[command(flatten)]
    run: Box<Settings>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the node (what `rumord [FLAGS]` does).
    Run(Box<Settings>),
    /// Exit 0 iff the node answers `getblockchaininfo`.
    Health(HealthArgs),
    /// Print the PeerId of a node key.
    PeerId(PeerIdArgs),
    /// Check a stopped node's chain database: replay its best chain with full
    /// validation and compare the UTXO set, the UTXO count and the address and
    /// transaction indexes with the replay. Takes `run`'s flags (for the
    /// network, genesis and datadir). Exit 0 iff they agree.
    Verify(Box<Settings>),
}

#[derive(Args)]
struct HealthArgs {
    /// RPC URL (default: from --rpc-bind, else the network's default port).
    #[arg(long, env = "RUMOR_RPC", value_name = "URL")]
    rpc: Option<String>,
    /// The node's RPC bind address, used to build the URL if --rpc is not given.
    #[arg(long, env = "RUMOR_RPC_BIND", value_name = "ADDR")]
    rpc_bind: Option<SocketAddr>,
    /// The node's network, for the default port and data directory.
    #[arg(long, env = "RUMOR_NETWORK", default_value = "testnet")]
    network: rumor_chain::Network,
    /// Data directory holding `.cookie` (default ~/.rumor/<network>).
    #[arg(long, env = "RUMOR_DATADIR", value_name = "PATH")]
    datadir: Option<PathBuf>,
    /// Cookie file to authenticate with.
    #[arg(long, env = "RUMOR_COOKIE", value_name = "FILE")]
    cookie: Option<PathBuf>,
    /// RPC user.
    #[arg(long, env = "RUMOR_RPC_USER", requires = "rpc_password")]
    rpc_user: Option<String>,
    /// RPC password.
    #[arg(
        long,
        env = "RUMOR_RPC_PASSWORD",
        requires = "rpc_user",
        hide_env_values = true
    )]
    rpc_password: Option<String>,
    /// How long to wait for an answer, in ms.
    #[arg(long, default_value_t = 3000)]
    timeout_ms: u64,
}

#[derive(Args)]
struct PeerIdArgs {
    /// A 32-byte ed25519 seed in hex.
    #[arg(
        long,
        env = "RUMOR_NODE_KEY",
        value_name = "HEX",
        hide_env_values = true
    )]
    node_key: Option<String>,
    /// Read `<datadir>/node_key` instead.
    #[arg(long, value_name = "PATH", conflicts_with = "node_key")]
    datadir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        None => run(*cli.run),
        Some(Cmd::Run(settings)) => run(*settings),
        Some(Cmd::Health(h)) => health(h),
        Some(Cmd::PeerId(p)) => peer_id(p),
        Some(Cmd::Verify(settings)) => verify(*settings),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rumord: error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, without repeating a cause that
/// the message already quotes.
fn describe(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// jemalloc, not glibc's malloc, on Linux (the `jemalloc` feature, on by default).
///
/// glibc keeps what a thread freed in that thread's arena and returns pages
/// to the kernel only from the top of a heap: in 30-minute 16-node soaks
/// resident memory crept up even with the arenas bounded to two, while
/// heaptrack showed the live heap level. jemalloc runs with one arena
/// (`.cargo/config.toml`) and background threads (Cargo.toml) that purge
/// pages left unused for 10 s; `getmemoryinfo` reports its counts (README,
/// "Long runs"). It also ends the re-execution that bounded glibc's arenas,
/// which doubled start-up time.
#[cfg(all(target_os = "linux", feature = "jemalloc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's byte counts, refreshed (`epoch`) at each read.
#[cfg(all(target_os = "linux", feature = "jemalloc"))]
fn jemalloc_stats() -> Result<rumor_node::AllocatorStats, String> {
    use tikv_jemalloc_ctl::{epoch, stats};
    let e = |e: tikv_jemalloc_ctl::Error| format!("jemalloc mallctl: {e}");
    epoch::advance().map_err(e)?;
    Ok(rumor_node::AllocatorStats {
        allocated: stats::allocated::read().map_err(e)? as u64,
        active: stats::active::read().map_err(e)? as u64,
        resident: stats::resident::read().map_err(e)? as u64,
        mapped: stats::mapped::read().map_err(e)? as u64,
        retained: stats::retained::read().map_err(e)? as u64,
        metadata: stats::metadata::read().map_err(e)? as u64,
    })
}

/// jemalloc's `malloc_stats_print` as JSON: merged over arenas, with the
/// per-size-class tables (where fragmentation shows), without mutex counters.
#[cfg(all(target_os = "linux", feature = "jemalloc"))]
fn jemalloc_dump() -> Result<String, String> {
    let mut options = tikv_jemalloc_ctl::stats_print::Options::default();
    options.json_format = true;
    options.skip_constants = true;
    options.skip_per_arena = true;
    options.skip_mutex_statistics = true;
    let mut out = Vec::new();
    tikv_jemalloc_ctl::stats_print::stats_print(&mut out, options)
        .map_err(|e| format!("malloc_stats_print: {e}"))?;
    String::from_utf8(out).map_err(|e| format!("malloc_stats_print: {e}"))
}

/// The most threads the runtime's blocking pool runs at once (tokio's
/// default is 512). Serving getdata, anti-entropy lookups, RPC submissions
/// and mining are short blocking jobs; past this many at once they queue.
/// Unbounded, a burst (the anti-entropy after a partition heals) started
/// dozens of threads, and steady work kept them all alive, each with its
/// stack and allocator cache: in a 30-minute soak a relay held 38 threads
/// and 7.7 MB in thread caches, and its heap stepped up at every heal.
const MAX_BLOCKING_THREADS: usize = 8;

fn run(settings: Settings) -> anyhow::Result<ExitCode> {
    #[cfg(all(target_os = "linux", feature = "jemalloc"))]
    rumor_node::set_allocator(rumor_node::Allocator {
        name: "jemalloc",
        stats: jemalloc_stats,
        dump: jemalloc_dump,
    });
    let config = settings.load()?.resolve()?;
    init_tracing(config.log_format);
    config.log_effective();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if config.threads > 0 {
        builder.worker_threads(config.threads);
    }
    let runtime = builder
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_name("rumord")
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async {
        let stop = async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot watch SIGTERM");
                        let _ = tokio::signal::ctrl_c().await;
                        return;
                    }
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        rumor_node::run(config, stop).await
    })?;
    // Do not wait for blocking tasks that outlive the node (idle pool threads).
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(ExitCode::SUCCESS)
}

fn health(h: HealthArgs) -> anyhow::Result<ExitCode> {
    let url = match (&h.rpc, h.rpc_bind) {
        (Some(u), _) => u.clone(),
        (None, Some(bind)) => {
            let ip = if bind.ip().is_unspecified() {
                "127.0.0.1".parse().expect("valid")
            } else {
                bind.ip()
            };
            format!("http://{}", SocketAddr::new(ip, bind.port()))
        }
        (None, None) => format!("http://{}", rumor_node::default_rpc_bind(h.network)),
    };
    let (user, password) = match (h.rpc_user, h.rpc_password) {
        (Some(u), Some(p)) => (u, p),
        _ => {
            let path = match h.cookie {
                Some(c) => c,
                None => {
                    rumor_node::resolve_datadir(h.datadir.as_deref(), h.network)?.join(".cookie")
                }
            };
            rumor_node::read_cookie(&path)?
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let timeout = Duration::from_millis(h.timeout_ms);
    let answer = runtime.block_on(rumor_node::call_rpc(
        &url,
        &user,
        &password,
        "getblockchaininfo",
        timeout,
    ))?;
    println!(
        "ok: {} height {}",
        answer["chain"].as_str().unwrap_or("?"),
        answer["blocks"]
    );
    Ok(ExitCode::SUCCESS)
}

fn peer_id(p: PeerIdArgs) -> anyhow::Result<ExitCode> {
    let text = match (p.node_key, p.datadir) {
        (Some(k), _) => k,
        (None, Some(d)) => std::fs::read_to_string(d.join("node_key"))
            .with_context(|| format!("reading {}", d.join("node_key").display()))?,
        (None, None) => anyhow::bail!("give --node-key HEX or --datadir PATH"),
    };
    let seed = rumor_node::parse_seed(&text)
        .context("the node key must be 64 hex characters (a 32-byte ed25519 seed)")?;
    let key = rumor_p2p::Keypair::ed25519_from_bytes(seed).context("invalid ed25519 seed")?;
    println!("{}", key.public().to_peer_id());
    Ok(ExitCode::SUCCESS)
}

fn verify(settings: Settings) -> anyhow::Result<ExitCode> {
    let config = settings.load()?.resolve()?;
    let db = config.datadir.join("chain.redb");
    anyhow::ensure!(db.exists(), "no chain database at {}", db.display());
    // The lock keeps a running node out (and this out of a running node's files).
    let _datadir = rumor_node::DataDir::open(&config.datadir)?;
    let store = rumor_node::RedbStore::open_with_cache(&db, &config.params, config.db_cache_bytes)?;
    let report = rumor_node::verify_store(&store.reader(), &config.params)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

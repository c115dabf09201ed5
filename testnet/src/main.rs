//! `rumor-testnet`: run rumor at scale.
//!
//! Subcommands:
//! - `sim`: the large-scale gossip simulator, rumor-sim's abstract models
//!   (see `docs/simulator.md`).
//! - `sim-relay`: rumor-sim's relay-driven mode: rumor's relay on every
//!   simulated node, from flags or from a testnet run's `params.json`.
//! - `run`, `report`, `compare`: testnets of real nodes, their report, and
//!   a measured run beside its simulation (see `docs/testnet.md`).
//! - `sweep`, `scale`: many runs in one table and plot (each relay mode's
//!   knee; propagation against the number of nodes).
//! - `attack`: the adversarial peer.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use rumor_sim::{self as sim, AlgoSpec, Algorithm, FanoutPolicy, MeshConfig, Schedule, SimParams};

/// rumor's testnet tools.
#[derive(Debug, Parser)]
#[command(name = "rumor-testnet", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate gossip at 10^3..10^6 sites: anti-entropy, rumor mongering, the
    /// fan-out relay and a gossipsub-like mesh, with Demers' metrics.
    Sim(SimArgs),
    /// Simulate rumor's relay itself (every node runs the node's relay state
    /// machine) over simulated links, to 10^4 nodes; `--from` a testnet run
    /// simulates that run and writes the same results files.
    SimRelay(Box<rumor_testnet::sim_relay::SimRelayArgs>),
    /// Put a measured and a simulated results folder side by side (exit 1
    /// when a judged figure is outside its tolerance).
    Compare {
        /// The testnet run's results folder.
        measured: PathBuf,
        /// Its simulation's results folder.
        simulated: PathBuf,
    },
    /// Run a testnet of real nodes (local processes or docker-compose), inject
    /// transactions, blocks and faults, and write the propagation report.
    Run(Box<rumor_testnet::testbed::RunArgs>),
    /// Find each relay mode's knee: one run per (mode, offered rate), one
    /// table and plot of latency, lost and refused against offered load.
    Sweep(Box<rumor_testnet::testbed::sweep::SweepArgs>),
    /// Measure propagation against the number of nodes on this machine:
    /// one run per node count (50 ms links), beside the simulator's
    /// prediction for the same topologies, with the fit against ln n and
    /// each run's CPU and saturation flag; one table and one plot.
    Scale(Box<rumor_testnet::testbed::scale::ScaleArgs>),
    /// Attack a real node with a misbehaving peer, class by class, and
    /// check that it survives, counts, never relays, and disconnects the
    /// attacker; write the table and `docs/reliability.md`.
    Attack(Box<rumor_testnet::attack::AttackArgs>),
    /// Render a results folder again.
    Report {
        /// The results folder (`results/<run-id>`).
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScheduleArg {
    /// Decisions in a cycle use the state at the cycle's start (Demers, Pittel).
    Sync,
    /// Contacts in a cycle happen one by one in random order.
    Sequential,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PolicyArg {
    /// Send to `--fanout` new peers every period until everyone has it.
    EveryPeriod,
    /// Send to `--fanout` peers once, in the period after first receipt.
    Once,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// An aligned text table.
    Table,
    /// The whole report as JSON.
    Json,
    /// One CSV row per algorithm.
    Csv,
}

#[derive(Debug, Args)]
struct SimArgs {
    /// Algorithms to run, comma-separated: all | anti-entropy[:push|pull|push-pull] |
    /// rumor[:DIR[:feedback|blind[:counter|coin]]] | fanout | mesh. A missing part, `all`
    /// or `*` selects every choice; `ae` and `rm` are aliases.
    #[arg(long, short = 'a', value_delimiter = ',', default_value = "all")]
    algo: Vec<String>,

    /// Number of sites n.
    #[arg(long, short = 'n', default_value_t = 1000)]
    nodes: u32,

    /// Trials per algorithm; results are averaged.
    #[arg(long, short = 't', default_value_t = 10)]
    trials: u32,

    /// Master seed: the same seed gives the same results.
    #[arg(long, short = 's', default_value_t = 1)]
    seed: u64,

    /// Rumor mongering's k (counter limit, or 1/probability of the coin); several
    /// values run each variant once per value, e.g. `--k 1,2,3,4,5`.
    #[arg(long, short = 'k', value_delimiter = ',', default_value = "1")]
    k: Vec<u32>,

    /// How contacts within a cycle see each other.
    #[arg(long, value_enum, default_value_t = ScheduleArg::Sync)]
    schedule: ScheduleArg,

    /// Probability that any message is lost, in [0, 1).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,

    /// Cut a cycle-based run off after this many cycles (reported as truncated).
    #[arg(long, default_value_t = 100_000)]
    max_cycles: u32,

    /// Fan-out relay: peers per period.
    #[arg(long, default_value_t = 3)]
    fanout: u32,

    /// Fan-out relay: send every period, or once.
    #[arg(long, value_enum, default_value_t = PolicyArg::EveryPeriod)]
    fanout_policy: PolicyArg,

    /// Fan-out relay: the period in ms (only used to print times).
    #[arg(long, default_value_t = 1000)]
    period_ms: u32,

    /// The seed document's demo: 16 nodes, fan-out 3, 1 s period, one trial, with the
    /// infected set printed per round. Overrides --algo, --nodes, --fanout, --trials.
    #[arg(long)]
    fanout_demo: bool,

    /// Mesh degree D.
    #[arg(long, default_value_t = MeshConfig::default().d)]
    mesh_d: u32,

    /// Peers outside the mesh that get IHAVE at each heartbeat (D_lazy).
    #[arg(long, default_value_t = MeshConfig::default().d_lazy)]
    mesh_d_lazy: u32,

    /// Mesh heartbeat period in ms.
    #[arg(long, default_value_t = MeshConfig::default().heartbeat_ms)]
    heartbeat_ms: u32,

    /// Heartbeats during which a received message is advertised by IHAVE.
    #[arg(long, default_value_t = MeshConfig::default().history_gossip)]
    history_gossip: u32,

    /// One-way link delay in ms: `D` or `MIN..MAX` (each link draws a fixed delay).
    #[arg(long, default_value = "20..100", value_parser = parse_delay)]
    delay_ms: (u32, u32),

    /// Resolution of the mesh's coverage curve in ms.
    #[arg(long, default_value_t = MeshConfig::default().sample_ms)]
    sample_ms: u32,

    /// Cut a mesh run off after this much simulated time in ms (reported as truncated).
    #[arg(long, default_value_t = MeshConfig::default().max_time_ms)]
    max_time_ms: u32,

    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Write summary.json, summary.csv, rounds.csv and infected.svg (and trace.txt for
    /// the fan-out demo) into this folder.
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,

    /// No progress on stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn parse_delay(s: &str) -> Result<(u32, u32), String> {
    let parse = |p: &str| {
        p.trim()
            .parse::<u32>()
            .map_err(|e| format!("`{p}` is not a whole number of ms: {e}"))
    };
    match s.split_once("..") {
        Some((lo, hi)) => Ok((parse(lo)?, parse(hi.trim_start_matches('='))?)),
        None => {
            let d = parse(s)?;
            Ok((d, d))
        }
    }
}

fn params_from(args: &SimArgs) -> anyhow::Result<SimParams> {
    let mut specs = Vec::new();
    for a in &args.algo {
        specs.push(
            a.parse::<AlgoSpec>()
                .with_context(|| format!("--algo {a}"))?,
        );
    }
    let (mut nodes, mut trials, mut fanout) = (args.nodes, args.trials, args.fanout);
    let mut policy = match args.fanout_policy {
        PolicyArg::EveryPeriod => FanoutPolicy::EveryPeriod,
        PolicyArg::Once => FanoutPolicy::Once,
    };
    if args.fanout_demo {
        specs = vec![AlgoSpec::Fanout];
        nodes = 16;
        trials = 1;
        fanout = 3;
        policy = FanoutPolicy::EveryPeriod;
    }
    let mesh = MeshConfig {
        d: args.mesh_d,
        d_lazy: args.mesh_d_lazy,
        heartbeat_ms: args.heartbeat_ms,
        history_gossip: args.history_gossip,
        delay_min_ms: args.delay_ms.0,
        delay_max_ms: args.delay_ms.1,
        sample_ms: args.sample_ms,
        max_time_ms: args.max_time_ms,
    };
    let params = SimParams::builder()
        .nodes(nodes)
        .trials(trials)
        .seed(args.seed)
        .schedule(match args.schedule {
            ScheduleArg::Sync => Schedule::Synchronous,
            ScheduleArg::Sequential => Schedule::Sequential,
        })
        .loss(args.loss)
        .max_cycles(args.max_cycles)
        .algos(specs)
        .ks(args.k.iter().copied())
        .fanout(fanout)
        .fanout_policy(policy)
        .period_ms(if args.fanout_demo {
            1000
        } else {
            args.period_ms
        })
        .mesh(mesh)
        .build()?;
    Ok(params)
}

fn run_sim(args: &SimArgs) -> anyhow::Result<()> {
    let params = params_from(args).context("invalid simulation parameters")?;
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let trials = params.trials();
    let report = sim::run(&params, |p| {
        if show_progress && (p.trials_done == trials || p.trials_done % 10 == 0) {
            let mut err = std::io::stderr();
            let _ = write!(
                err,
                "\r[{}/{}] {:<40} trial {}/{}   ",
                p.index + 1,
                p.total,
                p.algorithm.to_string(),
                p.trials_done,
                trials
            );
            if p.index + 1 == p.total && p.trials_done == trials {
                let _ = writeln!(err);
            }
        }
    })?;
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            if let Some(trace) = &report.fanout_trace {
                let period = params
                    .algorithms()
                    .iter()
                    .find_map(|a| match a {
                        Algorithm::Fanout { period_ms, .. } => Some(*period_ms),
                        _ => None,
                    })
                    .unwrap_or(1000);
                write!(stdout, "{}", sim::render_trace(trace, period))?;
                writeln!(stdout)?;
            }
            write!(stdout, "{}", sim::render_table(&report))?;
        }
        Format::Json => writeln!(stdout, "{}", sim::render_json(&report)?)?,
        Format::Csv => write!(stdout, "{}", sim::render_csv(&report))?,
    }
    if let Some(dir) = &args.out {
        let written = sim::write_outputs(&report, dir)?;
        for f in written.files {
            eprintln!("wrote {}", f.display());
        }
    }
    Ok(())
}

/// The exit code of a run stopped by Ctrl-C (128 + SIGINT), or by SIGTERM
/// (128 + 15); 0 while not interrupted.
static INTERRUPT_EXIT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
const SIGINT_EXIT: u8 = 130;
const SIGTERM_EXIT: u8 = 143;

/// `run`: exit 0 when every accepted object reached every live node, 1 when
/// something was lost, 2 for bad parameters or a run that could not happen,
/// 130 (143) when Ctrl-C (SIGTERM) stopped it.
fn run_testnet(args: &rumor_testnet::testbed::RunArgs) -> ExitCode {
    use rumor_testnet::testbed;
    if let Err(e) = args.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    with_runtime(async {
        match testbed::run(args).await {
            Ok(outcome) => {
                print!("{}", outcome.table);
                println!("results: {}", outcome.dir.display());
                exit_code(outcome.ok())
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        }
    })
}

fn sweep(args: &rumor_testnet::testbed::sweep::SweepArgs) -> ExitCode {
    use rumor_testnet::testbed;
    if let Err(e) = args.run.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    with_runtime(async {
        match testbed::sweep::sweep(args).await {
            Ok((dir, _, table)) => {
                print!("{table}");
                println!("results: {}", dir.display());
                exit_code(true)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        }
    })
}

fn scale(args: &rumor_testnet::testbed::scale::ScaleArgs) -> ExitCode {
    use rumor_testnet::testbed;
    if let Err(e) = args.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    with_runtime(async {
        match testbed::scale::scale(args).await {
            Ok((dir, s, table)) => {
                print!("{table}");
                println!("results: {}", dir.display());
                exit_code(s.rows.iter().all(|r| r.lost == 0))
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        }
    })
}

/// Interrupted: what was measured is written, but the run is not complete;
/// say so in the exit code, as a shell would.
fn exit_code(ok: bool) -> ExitCode {
    match INTERRUPT_EXIT.load(std::sync::atomic::Ordering::Relaxed) {
        0 if ok => ExitCode::SUCCESS,
        0 => ExitCode::from(1),
        code => ExitCode::from(code),
    }
}

/// Runs `work` on a multi-threaded runtime where Ctrl-C and SIGTERM stop
/// the injection, collect what was measured and clean up.
fn with_runtime(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    use rumor_testnet::testbed;
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(async {
        tokio::spawn(async {
            // SIGTERM (`kill`, `timeout`) is handled like Ctrl-C: its default
            // action would end the run at once and leave every node running.
            let terminate = async {
                use tokio::signal::unix::{SignalKind, signal};
                match signal(SignalKind::terminate()) {
                    Ok(mut t) => {
                        t.recv().await;
                    }
                    // SIGTERM cannot be watched: Ctrl-C still can.
                    Err(_) => std::future::pending().await,
                }
            };
            let code = tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok().then_some(SIGINT_EXIT),
                () = terminate => Some(SIGTERM_EXIT),
            };
            if let Some(code) = code {
                INTERRUPT_EXIT.store(code, std::sync::atomic::Ordering::Relaxed);
                eprintln!("interrupted: collecting what was measured and cleaning up (Ctrl-C again to abort)");
                testbed::INTERRUPTED.store(true, std::sync::atomic::Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        work.await
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Sim(args) => run_sim(args),
        Command::Run(args) => return run_testnet(args),
        Command::Sweep(args) => return sweep(args),
        Command::Scale(args) => return scale(args),
        Command::SimRelay(args) => rumor_testnet::sim_relay::command(args)
            .map(|t| print!("{t}"))
            .map_err(anyhow::Error::from),
        Command::Compare {
            measured,
            simulated,
        } => {
            return match rumor_testnet::sim_relay::compare(measured, simulated) {
                Ok((table, ok)) => {
                    print!("{table}");
                    if ok {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Attack(args) => {
            return match rumor_testnet::attack::command(args) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Report { dir } => rumor_testnet::testbed::report(dir)
            .map(|table| print!("{table}"))
            .map_err(anyhow::Error::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

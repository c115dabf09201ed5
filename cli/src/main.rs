//! `rumor`: the rumor client. See `rumor --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rumor_cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rumor: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rumor_cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // `rumor … | head -1`: the reader has what it wanted.
        Err(rumor_cli::CliError::ClosedOutput) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rumor: error: {e}");
            ExitCode::FAILURE
        }
    }
}

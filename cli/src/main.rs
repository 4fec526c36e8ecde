//! `erynoa`: run, sign and inspect Erynoa policies.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // clap exits with 2 on a usage error, which here means deny.
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                output::ExitStatus::Error.into()
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    output::init_logging(cli.verbose);
    match commands::execute(cli.command) {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            output::ExitStatus::Error.into()
        }
    }
}

//! `erynoa`: run, sign and inspect Erynoa policies.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    output::init_logging(cli.verbose);
    match commands::execute(cli.command) {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            output::ExitStatus::Error.into()
        }
    }
}

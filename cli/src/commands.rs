//! One module per subcommand.

mod bench;
mod ecl;
mod keys;
mod loadtest;
mod log;
mod new;
mod run;
mod serve;
mod test;
mod trust;

use crate::args::Command;
use crate::output::{ExitStatus, Format};

/// Runs `command`, printing results as `format` says.
pub fn execute(command: Command, format: Format) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Run(args) => run::execute(args, format),
        Command::Bench(args) => bench::execute(args, format),
        Command::Keygen(args) => keys::keygen(args),
        Command::Sign(args) => keys::sign(args),
        Command::Verify(args) => keys::verify(args, format),
        Command::Compile(args) => ecl::compile(args),
        Command::Test(args) => test::execute(args),
        Command::New(args) => new::execute(args),
        Command::Ecl(command) => ecl::execute(command),
        Command::Trust(args) => trust::execute(args),
        Command::Serve(args) => serve::execute(args),
        Command::Loadtest(args) => loadtest::execute(args, format),
        Command::Log(command) => log::execute(command, format),
        Command::State(command) => log::state(command),
    }
}

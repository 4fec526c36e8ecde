//! One module per subcommand.

mod bench;
mod ecl;
mod keys;
mod new;
mod run;
mod test;

use crate::args::Command;
use crate::output::ExitStatus;

/// Runs `command`.
pub fn execute(command: Command) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Run(args) => run::execute(args),
        Command::Bench(args) => bench::execute(args),
        Command::Keygen(args) => keys::keygen(args),
        Command::Sign(args) => keys::sign(args),
        Command::Verify(args) => keys::verify(args),
        Command::Compile(args) => ecl::compile(args),
        Command::Test(args) => test::execute(args),
        Command::New(args) => new::execute(args),
        Command::Ecl(command) => ecl::execute(command),
    }
}

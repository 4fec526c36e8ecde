//! One module per subcommand.

mod run;

use crate::args::Command;
use crate::output::ExitStatus;

/// Runs `command`.
pub fn execute(command: Command) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Run(args) => run::execute(args),
    }
}

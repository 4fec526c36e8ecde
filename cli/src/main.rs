//! `erynoa`: run, sign and inspect Erynoa policies.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    set_signal_dispositions();
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
    let format = cli.output_format();
    match commands::execute(cli.command, format) {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            output::ExitStatus::Error.into()
        }
    }
}

/// Rust ignores SIGPIPE, so a write to a closed pipe (`erynoa run ... | head
/// -1`) is an error that `println!` turns into a panic. Like other Unix
/// tools, stop quietly instead.
///
/// A file grown past `ulimit -f` raises SIGXFSZ, which kills by default:
/// ignored, the write fails with `EFBIG` instead, so the log refuses what it
/// cannot write (a 503, "File too large") and keeps what it has, as on a
/// full disk.
fn set_signal_dispositions() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any other thread exists;
    // setting a signal's disposition has no other effect.
    #[allow(unsafe_code, reason = "setting signal dispositions needs libc::signal")]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

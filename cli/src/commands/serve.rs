//! `erynoa serve`.

use erynoa_server::{Config, DEFAULT_CONFIG};

use crate::args::ServeArgs;
use crate::output::ExitStatus;

/// Reads the configuration, applies the flags and serves until SIGTERM.
pub fn execute(args: ServeArgs) -> anyhow::Result<ExitStatus> {
    if args.print_config {
        print!("{DEFAULT_CONFIG}");
        return Ok(ExitStatus::Success);
    }
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    // Flags are relative to where the command runs, as paths on a command line are.
    if let Some(addr) = args.listen {
        config.listen = Some(addr);
    }
    if let Some(addr) = args.admin_listen {
        config.admin_listen = Some(addr);
    }
    if let Some(dir) = args.policies {
        config.policies = dir;
    }
    if let Some(file) = args.trust_store {
        config.trust_store = file;
    }
    if let Some(file) = args.state {
        config.state = Some(file);
    }
    if let Some(file) = args.admin_token_file {
        config.admin_token_file = Some(file);
    }
    if let Some(dir) = args.data {
        config.data = Some(dir);
    }
    erynoa_server::serve_until_signalled(config, |decisions, admin, ext_authz| {
        let show = |a: Option<std::net::SocketAddr>| {
            a.map_or_else(|| "off".to_owned(), |a| format!("http://{a}"))
        };
        let grpc = ext_authz.map_or_else(|| "off".to_owned(), |a| format!("grpc://{a}"));
        println!(
            "erynoa serve: decisions on {}, admin on {}, ext_authz on {grpc}",
            show(decisions),
            show(admin)
        );
    })?;
    Ok(ExitStatus::Success)
}

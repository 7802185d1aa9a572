//! evpnd: the BGP-EVPN daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use evpnd::config::Config;

#[derive(Parser)]
#[command(
    name = "evpnd",
    version,
    about = "BGP-EVPN control-plane daemon for Linux VXLAN"
)]
struct Cli {
    /// Configuration file (TOML, or YAML with a .yaml/.yml extension).
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "/etc/evpnd/evpnd.toml"
    )]
    config: PathBuf,
    /// Validate the configuration, print the result and exit (0 valid, 1 invalid).
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("evpnd: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.check {
        if let Err(e) = evpnd::logging::check(&config.file.logging) {
            eprintln!("evpnd: {}: {e}", cli.config.display());
            return ExitCode::from(1);
        }
        println!(
            "{}: configuration valid ({} peers, {} listen ranges)",
            cli.config.display(),
            config.peers.len(),
            config.file.listen_range.len()
        );
        return ExitCode::SUCCESS;
    }
    if let Err(e) = evpnd::logging::init(&config.file.logging) {
        eprintln!("evpnd: logging: {e}");
        return ExitCode::from(1);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("evpnd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(evpnd::tasks::run(cli.config, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "evpnd cannot start");
            eprintln!("evpnd: {e}");
            ExitCode::from(1)
        }
    }
}

//! `evpnlab` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use evpnlab::{lab, node, Topology};

#[derive(Parser)]
#[command(
    name = "evpnlab",
    version,
    about = "Run containerlab topology files with network namespaces, FRR and evpnd (no docker)"
)]
struct Cli {
    /// Lab name to use instead of the file's `name` (like `containerlab deploy --name`).
    #[arg(long, global = true)]
    name: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the lab: namespaces, links, exec commands, daemons.
    Up {
        file: PathBuf,
        /// Tear down and rebuild the lab if it is already up.
        #[arg(long)]
        reconfigure: bool,
        /// Kill an `exec` command of a node that runs longer than this many seconds, and fail.
        #[arg(
            long,
            value_name = "SECONDS",
            default_value_t = lab::DEFAULT_EXEC_TIMEOUT.as_secs(),
            value_parser = clap::value_parser!(u64).range(1..)
        )]
        exec_timeout: u64,
    },
    /// Stop the lab's daemons and delete what evpnlab created for it.
    Down { file: PathBuf },
    /// Run a command in a node's namespace (vtysh is pointed at the node's FRR).
    Exec {
        file: PathBuf,
        node: String,
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// Show nodes, namespaces, daemons and links.
    Status {
        file: PathBuf,
        #[arg(long, short)]
        json: bool,
    },
    /// Stop one evpnd node's daemon, leaving the lab up (SIGTERM; --kill: SIGKILL, a crash).
    Stop {
        file: PathBuf,
        node: String,
        /// SIGKILL instead of SIGTERM: the daemon gets no chance to clean up.
        #[arg(long)]
        kill: bool,
    },
    /// Start one evpnd node's daemon again (after `stop` or a crash), as `up` did.
    Start { file: PathBuf, node: String },
    /// Wait for a condition (for tests and scripts).
    Wait {
        file: PathBuf,
        /// Wait until every FRR and evpnd node has all its BGP peers Established (and at
        /// least N peers). evpnd nodes are asked with the evpnctl next to their evpnd.
        #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "1")]
        bgp_established: Option<usize>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("evpnlab: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> evpnlab::Result<ExitCode> {
    let name = cli.name.as_deref();
    match cli.cmd {
        Cmd::Up {
            file,
            reconfigure,
            exec_timeout,
        } => {
            let topo = Topology::load(&file, name)?;
            let start = Instant::now();
            lab::up(&topo, reconfigure, Duration::from_secs(exec_timeout))?;
            eprintln!(
                "evpnlab: lab {} is up ({} nodes, {} links) in {:.1} s",
                topo.name,
                topo.nodes.len(),
                topo.links.len(),
                start.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Down { file } => {
            let topo = Topology::load(&file, name)?;
            if lab::down(&topo.name)? {
                eprintln!("evpnlab: lab {} is down", topo.name);
            } else {
                eprintln!(
                    "evpnlab: lab {} was not up (no state); nothing to do",
                    topo.name
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Exec { file, node, cmd } => {
            let topo = Topology::load(&file, name)?;
            let code = lab::exec(&topo, &node, &cmd)?;
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        Cmd::Status { file, json } => {
            let topo = Topology::load(&file, name)?;
            let s = lab::status(&topo)?;
            if json {
                let text = serde_json::to_string_pretty(&s)
                    .map_err(|e| evpnlab::Error::Other(e.to_string()))?;
                println!("{text}");
            } else {
                lab::print_status(&s);
            }
            Ok(if s.all_up {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(3)
            })
        }
        Cmd::Stop { file, node, kill } => {
            let topo = Topology::load(&file, name)?;
            let how = if kill {
                node::Stop::Kill
            } else {
                node::Stop::Term
            };
            let pid = node::stop(&topo, &node, how)?;
            eprintln!("evpnlab: stopped evpnd of {node} (pid {pid})");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Start { file, node } => {
            let topo = Topology::load(&file, name)?;
            let pid = node::start(&topo, &node)?;
            eprintln!("evpnlab: started evpnd of {node} (pid {pid})");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Wait {
            file,
            bgp_established,
            timeout,
        } => {
            let topo = Topology::load(&file, name)?;
            let Some(min) = bgp_established else {
                return Err(evpnlab::Error::Other(
                    "nothing to wait for: give --bgp-established".into(),
                ));
            };
            let took = lab::wait_bgp(&topo, min, Duration::from_secs(timeout))?;
            eprintln!(
                "evpnlab: BGP established on every FRR and evpnd node after {:.1} s",
                took.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

//! evpnctl: evpnd's command line.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bgp::packet::DecodeOptions;
use clap::{Parser, Subcommand};
use evpnd::control::{self, PeerDetail, PeerSummary};
use evpnd::ctl;
use evpnd::decode::{self, input, pcap};
use evpnd::routes::{Ipv4RouteView, RouteFilter, RouteView};

#[derive(Parser)]
#[command(name = "evpnctl", version, about = "Inspect and control evpnd")]
struct Cli {
    /// evpnd's control socket.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "/run/evpnd/evpnd.sock"
    )]
    socket: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// Exit status of the commands that talk to evpnd: 0 ok, 1 evpnd answered with an error,
/// 2 evpnd unreachable or bad usage.
#[derive(clap::Args)]
struct Output {
    /// Print the answer's JSON (schema version 1) instead of a table.
    #[arg(short, long)]
    json: bool,
}

#[derive(Subcommand)]
enum Show {
    /// Peers summary, like `show bgp summary`.
    Peers(Output),
    /// EVPN routes, like `show bgp l2vpn evpn` (filters combine); with `--family ipv4`
    /// the IPv4 unicast routes, like `show bgp ipv4 unicast`.
    Routes(RouteArgs),
    /// One peer in detail, like `show bgp neighbor ADDR`.
    Peer {
        address: IpAddr,
        #[command(flatten)]
        out: Output,
    },
    /// EVPN instances: VNI, bridge, VXLAN device, RD, route targets, MAC counts.
    Vni(Output),
    /// Local and remote MACs with their VTEP and MAC mobility sequence.
    Macs {
        #[arg(long)]
        vni: Option<u32>,
        #[command(flatten)]
        out: Output,
    },
    /// What evpnd programmed in the kernel, and whether it matches the EVPN routes.
    Fdb(Output),
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Family {
    /// L2VPN EVPN.
    Evpn,
    /// IPv4 unicast (only `--peer` filters).
    Ipv4,
}

#[derive(clap::Args)]
struct RouteArgs {
    /// Address family.
    #[arg(long, value_enum, default_value = "evpn")]
    family: Family,
    /// Route type (2 MAC/IP, 3 inclusive multicast, ...).
    #[arg(long = "type", value_name = "N")]
    route_type: Option<u8>,
    #[arg(long)]
    vni: Option<u32>,
    /// aa:bb:cc:dd:ee:ff
    #[arg(long)]
    mac: Option<String>,
    /// Route distinguisher, e.g. 10.0.0.1:100.
    #[arg(long)]
    rd: Option<String>,
    /// Only paths from this peer.
    #[arg(long)]
    peer: Option<IpAddr>,
    #[command(flatten)]
    out: Output,
}

#[derive(Subcommand)]
enum Clear {
    /// Reset a session (Cease 6/4; it comes back), or `--soft`: ask the peer to re-send
    /// its routes (route refresh).
    Peer {
        address: IpAddr,
        #[arg(long)]
        soft: bool,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Decode BGP messages (hex, marker included) from arguments, stdin, or a capture.
    ///
    /// Exit status: 0 all messages well-formed, 1 at least one malformed message (the RFC 7606
    /// verdict or NOTIFICATION is printed), 2 unreadable input.
    Decode(DecodeArgs),
    /// Show evpnd's state (exit 0 ok, 1 error answer, 2 evpnd unreachable).
    #[command(subcommand)]
    Show(Show),
    /// Reset things in evpnd (exit 0 ok, 1 error answer, 2 evpnd unreachable).
    #[command(subcommand)]
    Clear(Clear),
}

#[derive(clap::Args)]
struct DecodeArgs {
    /// Hex of one or more whole messages; read from stdin when absent and no --pcap.
    hex: Vec<String>,
    /// Read TCP port 179 payloads from a pcap or pcapng file instead.
    #[arg(long, value_name = "FILE", conflicts_with = "hex")]
    pcap: Option<PathBuf>,
    /// Print JSON (an array, one object per message) instead of a tree.
    #[arg(short, long)]
    json: bool,
    /// One line per message (type, routes announced `+` and withdrawn `-`).
    #[arg(short, long, conflicts_with = "json")]
    brief: bool,
    /// Decode AS numbers as 2 octets (a session without the 4-octet AS capability). For
    /// captures, the OPENs of each connection decide once both are seen.
    #[arg(long)]
    two_octet_as: bool,
    /// Allow messages up to 65535 octets (RFC 8654 extended messages).
    #[arg(long)]
    extended_message: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode(args) => run_decode(args),
        Command::Show(Show::Peers(out)) => {
            ask(&cli.socket, control::Command::ShowPeers, out, |v| {
                let peers: Vec<PeerSummary> =
                    serde_json::from_value(v).map_err(|e| e.to_string())?;
                Ok(ctl::render_peers(&peers))
            })
        }
        Command::Show(Show::Routes(a)) if a.family == Family::Ipv4 => {
            if a.route_type.is_some() || a.vni.is_some() || a.mac.is_some() || a.rd.is_some() {
                eprintln!(
                    "evpnctl: --type, --vni, --mac and --rd are EVPN filters; IPv4 takes --peer"
                );
                return ExitCode::from(2);
            }
            ask(
                &cli.socket,
                control::Command::ShowIpv4Routes { peer: a.peer },
                a.out,
                |v| {
                    let rows: Vec<Ipv4RouteView> =
                        serde_json::from_value(v).map_err(|e| e.to_string())?;
                    Ok(ctl::render_ipv4_routes(&rows))
                },
            )
        }
        Command::Show(Show::Routes(a)) => {
            let filter = RouteFilter {
                route_type: a.route_type,
                vni: a.vni,
                mac: a.mac,
                rd: a.rd,
                peer: a.peer,
            };
            ask(
                &cli.socket,
                control::Command::ShowRoutes { filter },
                a.out,
                |v| {
                    let rows: Vec<RouteView> =
                        serde_json::from_value(v).map_err(|e| e.to_string())?;
                    Ok(ctl::render_routes(&rows))
                },
            )
        }
        Command::Show(Show::Peer { address, out }) => ask(
            &cli.socket,
            control::Command::ShowPeer { address },
            out,
            |v| {
                let d: PeerDetail = serde_json::from_value(v).map_err(|e| e.to_string())?;
                Ok(ctl::render_peer(&d))
            },
        ),
        Command::Show(Show::Vni(out)) => ask(&cli.socket, control::Command::ShowVni, out, |v| {
            let rows: Vec<evpnd::evpnview::VniView> =
                serde_json::from_value(v).map_err(|e| e.to_string())?;
            Ok(ctl::render_vnis(&rows))
        }),
        Command::Show(Show::Macs { vni, out }) => {
            ask(&cli.socket, control::Command::ShowMacs { vni }, out, |v| {
                let rows: Vec<evpnd::evpnview::MacView> =
                    serde_json::from_value(v).map_err(|e| e.to_string())?;
                Ok(ctl::render_macs(&rows))
            })
        }
        Command::Show(Show::Fdb(out)) => ask(&cli.socket, control::Command::ShowFdb, out, |v| {
            let r: evpnd::evpnview::FdbReport =
                serde_json::from_value(v).map_err(|e| e.to_string())?;
            Ok(ctl::render_fdb(&r))
        }),
        Command::Clear(Clear::Peer { address, soft, out }) => ask(
            &cli.socket,
            control::Command::ClearPeer { address, soft },
            out,
            |_| {
                Ok(format!(
                    "{} {address}\n",
                    if soft {
                        "soft-cleared (route refresh sent to)"
                    } else {
                        "cleared"
                    }
                ))
            },
        ),
    }
}

fn ask(
    socket: &Path,
    cmd: control::Command,
    out: Output,
    table: impl FnOnce(serde_json::Value) -> Result<String, String>,
) -> ExitCode {
    let resp = match ctl::request(socket, cmd) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if !resp.ok {
        let err = resp.error.unwrap_or_else(|| "unknown error".into());
        if out.json {
            println!("{}", serde_json::json!({"ok": false, "error": err}));
        }
        eprintln!("evpnctl: {err}");
        return ExitCode::from(1);
    }
    let data = resp.data.unwrap_or(serde_json::Value::Null);
    let text = if out.json {
        match serde_json::to_string_pretty(&data) {
            Ok(s) => s + "\n",
            Err(e) => return fail(&e.to_string()),
        }
    } else {
        match table(data) {
            Ok(s) => s,
            Err(e) => return fail(&format!("unexpected answer: {e}")),
        }
    };
    print_out(&text)
}

fn print_out(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return fail(&format!("stdout: {e}"));
        }
    }
    ExitCode::SUCCESS
}

fn run_decode(args: DecodeArgs) -> ExitCode {
    let opts = DecodeOptions {
        four_octet_as: !args.two_octet_as,
        extended_message: args.extended_message,
    };
    let (decoded, notes) = if let Some(path) = &args.pcap {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => return fail(&format!("{}: {e}", path.display())),
        };
        match pcap::read_capture(std::io::BufReader::new(file)) {
            Ok(c) => (decode::decode_capture(&c.messages, &opts), c.notes),
            Err(e) => return fail(&format!("{}: {e}", path.display())),
        }
    } else {
        let text = if args.hex.is_empty() {
            let mut s = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut s) {
                return fail(&format!("stdin: {e}"));
            }
            s
        } else {
            args.hex.join(" ")
        };
        let bytes = match input::parse_hex(&text) {
            Ok(b) => b,
            Err(e) => return fail(&e.to_string()),
        };
        let msgs = input::split_messages(&bytes);
        (decode::decode_all(&msgs, &opts), Vec::new())
    };
    for n in &notes {
        eprintln!("evpnctl: note: {n}");
    }
    let text = if args.json {
        let all: Vec<_> = decoded.iter().map(decode::Decoded::to_json).collect();
        match serde_json::to_string_pretty(&all) {
            Ok(s) => s + "\n",
            Err(e) => return fail(&e.to_string()),
        }
    } else if args.brief {
        decoded.iter().map(|d| d.to_brief() + "\n").collect()
    } else {
        decoded.iter().map(|d| d.to_text() + "\n").collect()
    };
    // A closed pipe (`| head`) is not an error worth a message, and never a panic.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return fail(&format!("stdout: {e}"));
        }
    }
    if decoded.is_empty() {
        eprintln!("evpnctl: no BGP messages found");
    }
    if decoded.iter().any(decode::Decoded::is_malformed) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("evpnctl: {msg}");
    ExitCode::from(2)
}

//! evpnctl: evpnd's command line.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bgp::packet::DecodeOptions;
use clap::{Parser, Subcommand};
use evpnd::decode::{self, input, pcap};

#[derive(Parser)]
#[command(name = "evpnctl", version, about = "Inspect and control evpnd")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode BGP messages (hex, marker included) from arguments, stdin, or a capture.
    ///
    /// Exit status: 0 all messages well-formed, 1 at least one malformed message (the RFC 7606
    /// verdict or NOTIFICATION is printed), 2 unreadable input.
    Decode(DecodeArgs),
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
    }
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

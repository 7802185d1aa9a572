//! The Prometheus endpoint (`[metrics] listen`, off by default): `GET /metrics` answers
//! the text exposition format 0.0.4. A minimal HTTP/1.1 responder (request line, answer,
//! close) is all Prometheus needs, so no HTTP crate.
//!
//! ```text
//!   scraper --GET /metrics--> connection task --oneshot--> core task (gathers: peers
//!           <-- text, close --                <-Snapshot--   by PeerCmd::Show, RIB, EVPN
//!                                                            service, fib thread)
//! ```
//!
//! The snapshot is gathered by the core on each request, as for evpnctl: nothing here
//! shares state with the core.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

use bgp::session::counters::InOut;
use bgp::session::{Counters, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::control::FamilyCounts;

/// A scrape's request to the core: where to send the snapshot.
pub type MetricsRequest = oneshot::Sender<Snapshot>;

/// Everything one scrape shows, gathered by the core.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub peers: Vec<PeerMetrics>,
    /// Loc-RIB EVPN routes by route type.
    pub evpn_routes: BTreeMap<u8, u64>,
    /// Absent on a spine (`[fib] enabled = false`).
    pub evpn: Option<EvpnMetrics>,
    /// Absent without a running fib thread (or when it did not answer).
    pub fib: Option<FibMetrics>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PeerMetrics {
    pub address: IpAddr,
    pub state: State,
    pub counters: Counters,
    pub prefixes: Vec<FamilyCounts>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvpnMetrics {
    pub vnis: u64,
    pub local_macs: u64,
    pub remote_macs: u64,
}

/// The fib thread's counters and what it has programmed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FibMetrics {
    pub fdb: u64,
    pub flood: u64,
    pub neigh: u64,
    pub ops_applied: u64,
    pub op_errors: u64,
    pub batches: u64,
    pub syncs: u64,
    pub resyncs: u64,
    pub last_apply: Duration,
}

const STATES: [(State, &str); 6] = [
    (State::Idle, "idle"),
    (State::Connect, "connect"),
    (State::Active, "active"),
    (State::OpenSent, "opensent"),
    (State::OpenConfirm, "openconfirm"),
    (State::Established, "established"),
];

/// RFC 4271's state numbering (1 Idle .. 6 Established), as the BGP4-MIB's bgpPeerState.
fn state_number(s: State) -> u8 {
    match s {
        State::Idle => 1,
        State::Connect => 2,
        State::Active => 3,
        State::OpenSent => 4,
        State::OpenConfirm => 5,
        State::Established => 6,
    }
}

fn message_types(c: &Counters) -> [(&'static str, InOut); 5] {
    [
        ("open", c.opens),
        ("update", c.updates),
        ("keepalive", c.keepalives),
        ("notification", c.notifications),
        ("route_refresh", c.route_refreshes),
    ]
}

/// Label value escaping of the text format: backslash, double quote, newline.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn line(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", esc(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    /// One metric with a line per peer.
    fn per_peer(
        &mut self,
        s: &Snapshot,
        name: &str,
        kind: &str,
        help: &str,
        v: impl Fn(&PeerMetrics) -> u64,
    ) {
        self.head(name, kind, help);
        for p in &s.peers {
            self.line(name, &[("peer", &p.address.to_string())], v(p));
        }
    }
}

/// The text exposition format 0.0.4 of `s`.
pub fn render(s: &Snapshot) -> String {
    let mut o = Out(String::new());
    o.head("evpnd_bgp_peers", "gauge", "BGP peers by session state.");
    for (st, name) in STATES {
        let n = s.peers.iter().filter(|p| p.state == st).count();
        o.line("evpnd_bgp_peers", &[("state", name)], n);
    }
    o.per_peer(
        s,
        "evpnd_bgp_peer_state",
        "gauge",
        "Session state (1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, 6 established).",
        |p| u64::from(state_number(p.state)),
    );
    for (dir, name) in [
        ("received", "evpnd_bgp_messages_received_total"),
        ("sent", "evpnd_bgp_messages_sent_total"),
    ] {
        o.head(name, "counter", &format!("BGP messages {dir} by type."));
        for p in &s.peers {
            let peer = p.address.to_string();
            for (ty, io) in message_types(&p.counters) {
                let v = if dir == "sent" { io.sent } else { io.received };
                o.line(name, &[("peer", &peer), ("type", ty)], v);
            }
        }
    }
    o.per_peer(
        s,
        "evpnd_bgp_updates_received_total",
        "counter",
        "UPDATE messages received.",
        |p| p.counters.updates.received,
    );
    o.per_peer(
        s,
        "evpnd_bgp_updates_sent_total",
        "counter",
        "UPDATE messages sent.",
        |p| p.counters.updates.sent,
    );
    for (dir, name) in [
        ("received", "evpnd_bgp_prefixes_received"),
        ("sent", "evpnd_bgp_prefixes_sent"),
    ] {
        o.head(
            name,
            "gauge",
            &format!("Prefixes {dir} per address family."),
        );
        for p in &s.peers {
            let peer = p.address.to_string();
            for f in &p.prefixes {
                let v = if dir == "sent" { f.sent } else { f.received };
                o.line(name, &[("peer", &peer), ("family", &f.family)], v);
            }
        }
    }
    o.per_peer(
        s,
        "evpnd_bgp_peer_flaps_total",
        "counter",
        "Times the session dropped out of Established.",
        |p| p.counters.dropped,
    );
    o.head(
        "evpnd_evpn_routes",
        "gauge",
        "EVPN routes in the Loc-RIB by route type.",
    );
    let mut types = s.evpn_routes.clone();
    for t in 1..=5 {
        types.entry(t).or_insert(0);
    }
    for (t, n) in types {
        o.line("evpnd_evpn_routes", &[("type", &t.to_string())], n);
    }
    if let Some(e) = &s.evpn {
        o.head("evpnd_evpn_vnis", "gauge", "EVPN instances (VNIs).");
        o.line("evpnd_evpn_vnis", &[], e.vnis);
        o.head("evpnd_evpn_macs", "gauge", "MACs known to the EVPN service, local (learned on a bridge port) or remote (from routes).");
        o.line("evpnd_evpn_macs", &[("kind", "local")], e.local_macs);
        o.line("evpnd_evpn_macs", &[("kind", "remote")], e.remote_macs);
    }
    if let Some(f) = &s.fib {
        o.head("evpnd_fib_entries", "gauge", "Kernel entries programmed by evpnd (fdb: remote MACs, flood: BUM to a VTEP, neigh: ARP/ND on the SVI).");
        o.line("evpnd_fib_entries", &[("kind", "fdb")], f.fdb);
        o.line("evpnd_fib_entries", &[("kind", "flood")], f.flood);
        o.line("evpnd_fib_entries", &[("kind", "neigh")], f.neigh);
        let counters = [
            (
                "evpnd_fib_netlink_ops_applied_total",
                "Netlink operations applied.",
                f.ops_applied,
            ),
            (
                "evpnd_fib_netlink_op_errors_total",
                "Netlink operations the kernel refused.",
                f.op_errors,
            ),
            (
                "evpnd_fib_netlink_batches_total",
                "Netlink send batches carrying requests.",
                f.batches,
            ),
            (
                "evpnd_fib_syncs_total",
                "Reconciler syncs (desired against kernel).",
                f.syncs,
            ),
            (
                "evpnd_fib_resyncs_total",
                "Full kernel re-dumps after a lost event stream.",
                f.resyncs,
            ),
        ];
        for (name, help, v) in counters {
            o.head(name, "counter", help);
            o.line(name, &[], v);
        }
        o.head(
            "evpnd_fib_last_apply_seconds",
            "gauge",
            "Duration of the last netlink apply.",
        );
        o.line(
            "evpnd_fib_last_apply_seconds",
            &[],
            f.last_apply.as_secs_f64(),
        );
    }
    o.0
}

/// Longest request head read; a scraper's is a few hundred bytes.
const MAX_HEAD: usize = 8192;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts scrapers until the core is gone.
pub async fn serve(l: TcpListener, core: mpsc::Sender<MetricsRequest>) {
    loop {
        let (s, from) = match l.accept().await {
            Ok(a) => a,
            Err(e) => {
                debug!(error = %e, "metrics accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if core.is_closed() {
            return;
        }
        let core = core.clone();
        tokio::spawn(async move {
            if let Err(e) = tokio::time::timeout(IO_TIMEOUT, answer(s, core)).await {
                debug!(%from, error = %e, "metrics client timed out");
            }
        });
    }
}

/// Reads the request head, answers, closes.
async fn answer(mut s: TcpStream, core: mpsc::Sender<MetricsRequest>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
        if head.len() > MAX_HEAD {
            break;
        }
    }
    let (status, body) = route(&head, core).await;
    let ctype = if status.starts_with("200") {
        "text/plain; version=0.0.4; charset=utf-8"
    } else {
        "text/plain; charset=utf-8"
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}

async fn route(head: &[u8], core: mpsc::Sender<MetricsRequest>) -> (&'static str, String) {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next(), parts.next());
    let (Some(method), Some(target)) = (method, target) else {
        return ("400 Bad Request", "bad request\n".into());
    };
    // A query string (`?name[]=...`) is allowed and ignored.
    let path = target.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        return ("404 Not Found", "not found: try /metrics\n".into());
    }
    if method != "GET" {
        return ("405 Method Not Allowed", "only GET\n".into());
    }
    let (tx, rx) = oneshot::channel();
    if core.send(tx).await.is_err() {
        return ("503 Service Unavailable", "evpnd is stopping\n".into());
    }
    match tokio::time::timeout(Duration::from_secs(4), rx).await {
        Ok(Ok(snap)) => ("200 OK", render(&snap)),
        _ => (
            "503 Service Unavailable",
            "the core did not answer\n".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(sent: u64, received: u64) -> InOut {
        InOut { sent, received }
    }

    fn snapshot() -> Snapshot {
        let counters = Counters {
            opens: io(1, 1),
            updates: io(7, 5),
            keepalives: io(20, 19),
            notifications: io(0, 1),
            route_refreshes: io(0, 0),
            established: 2,
            dropped: 1,
            ..Counters::default()
        };
        Snapshot {
            peers: vec![
                PeerMetrics {
                    address: "10.0.0.2".parse().unwrap(),
                    state: State::Established,
                    counters,
                    prefixes: vec![FamilyCounts {
                        family: "l2vpn/evpn".into(),
                        received: 4,
                        sent: 3,
                    }],
                },
                PeerMetrics {
                    address: "2001:db8::9".parse().unwrap(),
                    state: State::Active,
                    counters: Counters::default(),
                    prefixes: vec![],
                },
            ],
            evpn_routes: BTreeMap::from([(2, 3), (3, 2)]),
            evpn: Some(EvpnMetrics {
                vnis: 2,
                local_macs: 1,
                remote_macs: 2,
            }),
            fib: Some(FibMetrics {
                fdb: 2,
                flood: 1,
                neigh: 0,
                ops_applied: 3,
                op_errors: 1,
                batches: 2,
                syncs: 4,
                resyncs: 0,
                last_apply: Duration::from_micros(1500),
            }),
        }
    }

    #[test]
    fn renders_the_text_format() {
        let want = r#"# HELP evpnd_bgp_peers BGP peers by session state.
# TYPE evpnd_bgp_peers gauge
evpnd_bgp_peers{state="idle"} 0
evpnd_bgp_peers{state="connect"} 0
evpnd_bgp_peers{state="active"} 1
evpnd_bgp_peers{state="opensent"} 0
evpnd_bgp_peers{state="openconfirm"} 0
evpnd_bgp_peers{state="established"} 1
# HELP evpnd_bgp_peer_state Session state (1 idle, 2 connect, 3 active, 4 opensent, 5 openconfirm, 6 established).
# TYPE evpnd_bgp_peer_state gauge
evpnd_bgp_peer_state{peer="10.0.0.2"} 6
evpnd_bgp_peer_state{peer="2001:db8::9"} 3
# HELP evpnd_bgp_messages_received_total BGP messages received by type.
# TYPE evpnd_bgp_messages_received_total counter
evpnd_bgp_messages_received_total{peer="10.0.0.2",type="open"} 1
evpnd_bgp_messages_received_total{peer="10.0.0.2",type="update"} 5
evpnd_bgp_messages_received_total{peer="10.0.0.2",type="keepalive"} 19
evpnd_bgp_messages_received_total{peer="10.0.0.2",type="notification"} 1
evpnd_bgp_messages_received_total{peer="10.0.0.2",type="route_refresh"} 0
evpnd_bgp_messages_received_total{peer="2001:db8::9",type="open"} 0
evpnd_bgp_messages_received_total{peer="2001:db8::9",type="update"} 0
evpnd_bgp_messages_received_total{peer="2001:db8::9",type="keepalive"} 0
evpnd_bgp_messages_received_total{peer="2001:db8::9",type="notification"} 0
evpnd_bgp_messages_received_total{peer="2001:db8::9",type="route_refresh"} 0
# HELP evpnd_bgp_messages_sent_total BGP messages sent by type.
# TYPE evpnd_bgp_messages_sent_total counter
evpnd_bgp_messages_sent_total{peer="10.0.0.2",type="open"} 1
evpnd_bgp_messages_sent_total{peer="10.0.0.2",type="update"} 7
evpnd_bgp_messages_sent_total{peer="10.0.0.2",type="keepalive"} 20
evpnd_bgp_messages_sent_total{peer="10.0.0.2",type="notification"} 0
evpnd_bgp_messages_sent_total{peer="10.0.0.2",type="route_refresh"} 0
evpnd_bgp_messages_sent_total{peer="2001:db8::9",type="open"} 0
evpnd_bgp_messages_sent_total{peer="2001:db8::9",type="update"} 0
evpnd_bgp_messages_sent_total{peer="2001:db8::9",type="keepalive"} 0
evpnd_bgp_messages_sent_total{peer="2001:db8::9",type="notification"} 0
evpnd_bgp_messages_sent_total{peer="2001:db8::9",type="route_refresh"} 0
# HELP evpnd_bgp_updates_received_total UPDATE messages received.
# TYPE evpnd_bgp_updates_received_total counter
evpnd_bgp_updates_received_total{peer="10.0.0.2"} 5
evpnd_bgp_updates_received_total{peer="2001:db8::9"} 0
# HELP evpnd_bgp_updates_sent_total UPDATE messages sent.
# TYPE evpnd_bgp_updates_sent_total counter
evpnd_bgp_updates_sent_total{peer="10.0.0.2"} 7
evpnd_bgp_updates_sent_total{peer="2001:db8::9"} 0
# HELP evpnd_bgp_prefixes_received Prefixes received per address family.
# TYPE evpnd_bgp_prefixes_received gauge
evpnd_bgp_prefixes_received{peer="10.0.0.2",family="l2vpn/evpn"} 4
# HELP evpnd_bgp_prefixes_sent Prefixes sent per address family.
# TYPE evpnd_bgp_prefixes_sent gauge
evpnd_bgp_prefixes_sent{peer="10.0.0.2",family="l2vpn/evpn"} 3
# HELP evpnd_bgp_peer_flaps_total Times the session dropped out of Established.
# TYPE evpnd_bgp_peer_flaps_total counter
evpnd_bgp_peer_flaps_total{peer="10.0.0.2"} 1
evpnd_bgp_peer_flaps_total{peer="2001:db8::9"} 0
# HELP evpnd_evpn_routes EVPN routes in the Loc-RIB by route type.
# TYPE evpnd_evpn_routes gauge
evpnd_evpn_routes{type="1"} 0
evpnd_evpn_routes{type="2"} 3
evpnd_evpn_routes{type="3"} 2
evpnd_evpn_routes{type="4"} 0
evpnd_evpn_routes{type="5"} 0
# HELP evpnd_evpn_vnis EVPN instances (VNIs).
# TYPE evpnd_evpn_vnis gauge
evpnd_evpn_vnis 2
# HELP evpnd_evpn_macs MACs known to the EVPN service, local (learned on a bridge port) or remote (from routes).
# TYPE evpnd_evpn_macs gauge
evpnd_evpn_macs{kind="local"} 1
evpnd_evpn_macs{kind="remote"} 2
# HELP evpnd_fib_entries Kernel entries programmed by evpnd (fdb: remote MACs, flood: BUM to a VTEP, neigh: ARP/ND on the SVI).
# TYPE evpnd_fib_entries gauge
evpnd_fib_entries{kind="fdb"} 2
evpnd_fib_entries{kind="flood"} 1
evpnd_fib_entries{kind="neigh"} 0
# HELP evpnd_fib_netlink_ops_applied_total Netlink operations applied.
# TYPE evpnd_fib_netlink_ops_applied_total counter
evpnd_fib_netlink_ops_applied_total 3
# HELP evpnd_fib_netlink_op_errors_total Netlink operations the kernel refused.
# TYPE evpnd_fib_netlink_op_errors_total counter
evpnd_fib_netlink_op_errors_total 1
# HELP evpnd_fib_netlink_batches_total Netlink send batches carrying requests.
# TYPE evpnd_fib_netlink_batches_total counter
evpnd_fib_netlink_batches_total 2
# HELP evpnd_fib_syncs_total Reconciler syncs (desired against kernel).
# TYPE evpnd_fib_syncs_total counter
evpnd_fib_syncs_total 4
# HELP evpnd_fib_resyncs_total Full kernel re-dumps after a lost event stream.
# TYPE evpnd_fib_resyncs_total counter
evpnd_fib_resyncs_total 0
# HELP evpnd_fib_last_apply_seconds Duration of the last netlink apply.
# TYPE evpnd_fib_last_apply_seconds gauge
evpnd_fib_last_apply_seconds 0.0015
"#;
        assert_eq!(render(&snapshot()), want);
    }

    #[test]
    fn a_spine_has_no_evpn_or_fib_lines_and_labels_are_escaped() {
        let s = Snapshot::default();
        let text = render(&s);
        assert!(text.contains("evpnd_bgp_peers{state=\"established\"} 0\n"));
        assert!(!text.contains("evpnd_evpn_macs"));
        assert!(!text.contains("evpnd_fib_"));
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[tokio::test]
    async fn http_paths_and_methods() {
        let (tx, mut rx) = mpsc::channel::<MetricsRequest>(4);
        // A stand-in core answering every scrape with the fixed snapshot.
        tokio::spawn(async move {
            while let Some(r) = rx.recv().await {
                let _ = r.send(snapshot());
            }
        });
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(serve(l, tx));
        async fn get(addr: std::net::SocketAddr, req: &str) -> String {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
        let ok = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Type: text/plain; version=0.0.4"));
        let body = ok.split("\r\n\r\n").nth(1).unwrap();
        assert_eq!(body, render(&snapshot()));
        assert!(ok.contains(&format!("Content-Length: {}\r\n", body.len())));
        let nf = get(addr, "GET / HTTP/1.1\r\n\r\n").await;
        assert!(nf.starts_with("HTTP/1.1 404 Not Found\r\n"), "{nf}");
        let post = get(addr, "POST /metrics HTTP/1.1\r\n\r\n").await;
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        let bad = get(addr, "\r\n\r\n").await;
        assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
    }
}

//! The Prometheus endpoint against two evpnd on loopback (127.0.0.91-92): scraped with a
//! plain TcpStream while the session is up; unknown paths get 404; off by default.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use common::*;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// One HTTP exchange: the raw answer (the server closes after it).
fn http(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).expect("send request");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read answer");
    out
}

fn scrape(addr: SocketAddr) -> String {
    let r = http(addr, "GET /metrics HTTP/1.1\r\nHost: evpnd\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.contains("Content-Type: text/plain; version=0.0.4"), "{r}");
    r.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap()
}

/// The value of the sample `series` (name with labels, exactly as rendered).
fn value(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// TCP ports `pid` listens on, from its socket inodes and /proc/net/tcp{,6}.
fn listening_ports(pid: u32) -> BTreeSet<u16> {
    let mut inodes = BTreeSet::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fds")
        .flatten()
    {
        if let Ok(t) = std::fs::read_link(fd.path()) {
            let t = t.to_string_lossy().to_string();
            if let Some(i) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                inodes.insert(i.to_string());
            }
        }
    }
    let mut ports = BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, st (0A = LISTEN), inode.
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                let port = f[1].rsplit(':').next().unwrap();
                ports.insert(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

#[test]
fn metrics_endpoint_counts_an_established_peer() {
    let dir = scratch("metrics");
    let (a, b) = (ip(91), ip(92));
    let (pa, pb) = (free_port(a), free_port(b));
    let pm = (0..10)
        .map(|_| free_port(a))
        .find(|p| *p != pa)
        .expect("a second free port");
    let metrics = SocketAddr::from((a, pm));
    let ea = Evpnd::start(
        &dir,
        "a",
        &config(
            65000,
            "10.0.0.91",
            SocketAddr::from((a, pa)),
            &dir.join("a/evpnd.sock"),
            &[PeerLine::new(b, pb)],
            &format!("[metrics]\nlisten = \"{metrics}\"\n"),
        ),
    );
    let eb = Evpnd::start(
        &dir,
        "b",
        &config(
            65000,
            "10.0.0.92",
            SocketAddr::from((b, pb)),
            &dir.join("b/evpnd.sock"),
            &[PeerLine::new(a, pa)],
            "",
        ),
    );
    ea.wait_established("127.0.0.92", Duration::from_secs(20));
    eb.wait_established("127.0.0.91", Duration::from_secs(20));

    // End-of-RIB follows Established: wait for it to count as an UPDATE each way.
    let upd_in = "evpnd_bgp_updates_received_total{peer=\"127.0.0.92\"}";
    let upd_out = "evpnd_bgp_updates_sent_total{peer=\"127.0.0.92\"}";
    let mut body = String::new();
    let seen = wait_until(Duration::from_secs(10), || {
        body = scrape(metrics);
        value(&body, upd_in).unwrap_or(0.0) >= 1.0 && value(&body, upd_out).unwrap_or(0.0) >= 1.0
    });
    assert!(seen, "no UPDATE counted:\n{body}");
    assert_eq!(
        value(&body, "evpnd_bgp_peers{state=\"established\"}"),
        Some(1.0),
        "{body}"
    );
    assert_eq!(value(&body, "evpnd_bgp_peers{state=\"idle\"}"), Some(0.0));
    assert_eq!(
        value(&body, "evpnd_bgp_peer_state{peer=\"127.0.0.92\"}"),
        Some(6.0)
    );
    for dir in ["received", "sent"] {
        let open = format!("evpnd_bgp_messages_{dir}_total{{peer=\"127.0.0.92\",type=\"open\"}}");
        assert_eq!(value(&body, &open), Some(1.0), "{open}\n{body}");
        let ka =
            format!("evpnd_bgp_messages_{dir}_total{{peer=\"127.0.0.92\",type=\"keepalive\"}}");
        assert!(value(&body, &ka).unwrap_or(0.0) >= 1.0, "{ka}\n{body}");
    }
    assert_eq!(
        value(&body, "evpnd_bgp_peer_flaps_total{peer=\"127.0.0.92\"}"),
        Some(0.0)
    );
    assert!(
        body.contains("# TYPE evpnd_bgp_messages_received_total counter\n"),
        "{body}"
    );
    assert!(body.contains("evpnd_evpn_routes{type=\"2\"} "), "{body}");

    let nf = http(metrics, "GET /other HTTP/1.1\r\n\r\n");
    assert!(nf.starts_with("HTTP/1.1 404 Not Found\r\n"), "{nf}");
    // Still serving after the 404.
    assert!(value(&scrape(metrics), "evpnd_bgp_peers{state=\"established\"}").is_some());

    // Off by default: b (no [metrics]) listens on its BGP port only; a on both.
    assert_eq!(
        listening_ports(eb.proc.child.id()),
        BTreeSet::from([pb]),
        "b listens on more than BGP"
    );
    assert_eq!(
        listening_ports(ea.proc.child.id()),
        BTreeSet::from([pa, pm])
    );
    assert!(!eb.log_text().contains("metrics endpoint"));
    assert!(ea.log_text().contains("metrics endpoint"));
}

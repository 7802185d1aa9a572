//! evpnctl's side of the control API: the client and the 80-column tables (close to
//! FRR's `show bgp summary` / `show bgp neighbor`).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::control::{Command, PeerDetail, PeerSummary, Request, Response, VERSION};
use crate::routes::{Ipv4RouteView, RouteView};

/// Sends one request and reads one response line.
pub fn request(socket: &Path, command: Command) -> Result<Response, String> {
    let mut s = UnixStream::connect(socket)
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut line = serde_json::to_string(&Request {
        version: VERSION,
        command,
    })
    .map_err(|e| e.to_string())?;
    line.push('\n');
    s.write_all(line.as_bytes())
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    let mut answer = String::new();
    BufReader::new(&s)
        .read_line(&mut answer)
        .map_err(|e| format!("{}: {e}", socket.display()))?;
    serde_json::from_str(&answer).map_err(|e| format!("bad answer from evpnd: {e}"))
}

/// FRR's peer up/down time: `hh:mm:ss` under a day, `1d02h03m` under a week, else
/// `02w3d04h`.
pub fn duration(secs: u64) -> String {
    let (w, d, h, m, s) = (
        secs / 604_800,
        secs / 86_400 % 7,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
    );
    if secs < 86_400 {
        format!("{h:02}:{m:02}:{s:02}")
    } else if secs < 604_800 {
        format!("{}d{h:02}h{m:02}m", secs / 86_400)
    } else {
        format!("{w:02}w{d}d{h:02}h")
    }
}

fn state_name(p: &PeerSummary) -> String {
    format!("{:?}", p.state)
}

/// `evpnctl show peers`.
pub fn render_peers(peers: &[PeerSummary]) -> String {
    let mut out = String::new();
    let est = peers
        .iter()
        .filter(|p| p.state == bgp::session::State::Established)
        .count();
    let _ = writeln!(out, "Peers {}, established {}", peers.len(), est);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<15} {:>10} {:<11} {:>8} {:>7} {:>7} {:>7} {:>7}",
        "Neighbor", "AS", "State", "Up/Down", "MsgRcvd", "MsgSent", "PfxRcd", "PfxSnt"
    );
    for p in peers {
        let mut addr = p.address.to_string();
        if p.dynamic {
            addr.insert(0, '*');
        }
        if addr.len() > 15 {
            // FRR puts a long (IPv6) address on its own line.
            let _ = writeln!(out, "{addr}");
            addr.clear();
        }
        let asn = p.remote_as.map(|a| a.to_string()).unwrap_or("-".into());
        let time = duration(p.uptime_secs.unwrap_or(p.state_age_secs));
        let rcvd: u64 = p.prefixes.iter().map(|f| f.received).sum();
        let sent: u64 = p.prefixes.iter().map(|f| f.sent).sum();
        let _ = writeln!(
            out,
            "{:<15} {:>10} {:<11} {:>8} {:>7} {:>7} {:>7} {:>7}",
            addr,
            asn,
            state_name(p),
            time,
            p.msgs_received,
            p.msgs_sent,
            rcvd,
            sent
        );
    }
    if peers.iter().any(|p| p.dynamic) {
        let _ = writeln!(out, "\n* dynamic neighbour (from a listen range)");
    }
    out
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// `evpnctl show routes`: grouped by RD like FRR's `show bgp l2vpn evpn`, each path
/// on up to three lines (prefix; next hop, peer, VNI, mobility, age; communities).
pub fn render_routes(rows: &[RouteView]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "EVPN paths: {}", rows.len());
    let _ = writeln!(o, "Status codes: * valid, > best, S stale");
    let mut rd: Option<&Option<String>> = None;
    for r in rows {
        if rd != Some(&r.rd) {
            rd = Some(&r.rd);
            let _ = writeln!(o);
            let _ = writeln!(o, "Route Distinguisher: {}", r.rd.as_deref().unwrap_or("-"));
        }
        // FRR's status codes: `*` valid, `>` best, `S` stale.
        let mark = format!(
            "*{}{}",
            if r.best { ">" } else { " " },
            if r.stale { "S" } else { " " }
        );
        wrap(&mut o, "", &format!("{mark}{}", r.prefix));
        let mut line = format!(
            "next hop {}  peer {}",
            r.next_hop.map(|n| n.to_string()).unwrap_or("-".into()),
            r.peer.map(|p| p.to_string()).unwrap_or("local".into())
        );
        if let Some(v) = r.vni {
            let _ = write!(line, "  VNI {v}");
        }
        if let Some(v) = r.l3vni {
            let _ = write!(line, "  L3VNI {v}");
        }
        if let Some(s) = r.mac_mobility_seq {
            let _ = write!(line, "  seq {s}{}", if r.sticky { " sticky" } else { "" });
        }
        if !r.as_path.is_empty() {
            let _ = write!(line, "  path {}", r.as_path);
        }
        if let Some(a) = r.age_secs {
            let _ = write!(line, "  age {}", duration(a));
        }
        wrap(&mut o, "      ", &line);
        if !r.extended_communities.is_empty() {
            wrap(&mut o, "      ", &r.extended_communities.join(" "));
        }
    }
    o
}

/// `evpnctl show routes --family ipv4`: one line per path, like FRR's `show bgp ipv4
/// unicast` (our own networks show next hop 0.0.0.0 and peer `local`, as FRR's do).
pub fn render_ipv4_routes(rows: &[Ipv4RouteView]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "IPv4 unicast paths: {}", rows.len());
    let _ = writeln!(o, "Status codes: * valid, > best, S stale");
    let _ = writeln!(o, "Origin codes: i IGP, e EGP, ? incomplete");
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "    {:<18} {:<15} {:<15} {:>6} Path",
        "Network", "Next Hop", "Peer", "LocPrf"
    );
    for r in rows {
        let mark = format!(
            "*{}{}",
            if r.best { ">" } else { " " },
            if r.stale { "S" } else { " " }
        );
        let nh = r.next_hop.map_or("0.0.0.0".into(), |n| n.to_string());
        let peer = r.peer.map_or("local".into(), |p| p.to_string());
        let lp = r.local_pref.map(|l| l.to_string()).unwrap_or_default();
        let origin = match r.origin.as_str() {
            "IGP" => "i",
            "EGP" => "e",
            _ => "?",
        };
        let path = format!("{} {origin}", r.as_path).trim_start().to_string();
        let _ = writeln!(
            o,
            "{mark} {:<18} {nh:<15} {peer:<15} {lp:>6} {path}",
            r.prefix
        );
    }
    o
}

/// `evpnctl show peer ADDR`.
pub fn render_peer(d: &PeerDetail) -> String {
    let p = &d.summary;
    let s = &d.session;
    let mut o = String::new();
    let link = match s.negotiated.as_ref().map(|n| n.ibgp) {
        Some(true) => "internal link",
        Some(false) => "external link",
        None => "link type not yet known",
    };
    let asn = p.remote_as.map(|a| a.to_string()).unwrap_or("-".into());
    let _ = writeln!(
        o,
        "BGP neighbor is {}, remote AS {asn}, local AS {}, {link}",
        p.address, d.local_as
    );
    let _ = writeln!(o, "  Port {}", d.port);
    if let Some(desc) = &p.description {
        let _ = writeln!(o, "  Description:");
        wrap(&mut o, "    ", desc);
    }
    if let Some(g) = &d.peer_group {
        let dynamic = if p.dynamic {
            " (dynamic neighbour)"
        } else {
            ""
        };
        let _ = writeln!(o, "  Peer group: {g}{dynamic}");
    }
    let _ = match p.uptime_secs {
        Some(up) => writeln!(o, "  BGP state = {:?}, up for {}", p.state, duration(up)),
        None => writeln!(
            o,
            "  BGP state = {:?}, for {}",
            p.state,
            duration(p.state_age_secs)
        ),
    };
    if let (Some(r), Some(w)) = (s.last_read_secs, s.last_write_secs) {
        let _ = writeln!(o, "  Last read {}, last write {}", duration(r), duration(w));
    }
    let _ = writeln!(o, "  TCP MD5 password: {}", yes(d.password));
    // FRR's wording.
    let _ = writeln!(
        o,
        "  Minimum time between advertisement runs is {} seconds",
        d.advertisement_interval
    );
    if let Some(n) = &s.negotiated {
        let _ = writeln!(
            o,
            "  Remote router ID {}, local router ID {}",
            n.peer_id, n.local_id
        );
        if let Some(h) = &n.peer_hostname {
            let _ = writeln!(o, "  Hostname:");
            wrap(&mut o, "    ", h);
        }
        let _ = writeln!(
            o,
            "  Hold time {} s, keepalive interval {} s",
            n.hold_time, n.keepalive
        );
        let _ = writeln!(o, "  Neighbor capabilities:");
        let _ = writeln!(o, "    4 Byte AS: {}", yes(n.four_octet_as));
        let _ = writeln!(
            o,
            "    Route refresh: {} (enhanced: {})",
            yes(n.route_refresh),
            yes(n.enhanced_route_refresh)
        );
        let _ = writeln!(o, "    Extended message: {}", yes(n.extended_message));
        match &n.graceful_restart {
            Some(gr) => {
                let _ = writeln!(
                    o,
                    "    Graceful restart: restart time {} s{}",
                    gr.restart_time,
                    if gr.notification { ", N-bit" } else { "" }
                );
            }
            None => {
                let _ = writeln!(o, "    Graceful restart: no");
            }
        }
        let fams: Vec<String> = n.families.iter().map(ToString::to_string).collect();
        let _ = writeln!(o, "    Address families: {}", fams.join(", "));
    }
    let r = &d.rib;
    let _ = writeln!(
        o,
        "  Dropped routes: loops {}, treat-as-withdraw {}, unsendable {}",
        r.loops_dropped, r.treated_as_withdraw, r.unsendable
    );
    let c = &s.counters;
    let _ = writeln!(o, "  Message statistics:");
    let _ = writeln!(o, "    {:<16} {:>10} {:>10}", "", "Sent", "Rcvd");
    let rows = [
        ("Opens:", c.opens),
        ("Updates:", c.updates),
        ("Keepalives:", c.keepalives),
        ("Notifications:", c.notifications),
        ("Route refresh:", c.route_refreshes),
    ];
    for (name, io) in rows {
        let _ = writeln!(o, "    {name:<16} {:>10} {:>10}", io.sent, io.received);
    }
    let _ = writeln!(
        o,
        "    {:<16} {:>10} {:>10}",
        "Total:", p.msgs_sent, p.msgs_received
    );
    for f in &p.prefixes {
        let _ = writeln!(
            o,
            "  {}: {} prefixes received, {} sent",
            f.family, f.received, f.sent
        );
    }
    let _ = writeln!(
        o,
        "  Connections established {}; dropped {}",
        c.established, c.dropped
    );
    if let Some(n) = &c.last_notification_sent {
        let _ = writeln!(o, "  Last notification sent ({}/{}):", n.code, n.subcode);
        wrap(&mut o, "    ", &n.text);
    }
    if let Some(n) = &c.last_notification_received {
        let _ = writeln!(
            o,
            "  Last notification received ({}/{}):",
            n.code, n.subcode
        );
        wrap(&mut o, "    ", &n.text);
    }
    if let Some(e) = &c.last_error {
        let _ = writeln!(o, "  Last reset:");
        wrap(&mut o, "    ", e);
    }
    o
}

/// Free text (peer-supplied messages, errors) folded at 80 columns on spaces; a word
/// longer than a line is cut.
fn wrap(o: &mut String, indent: &str, text: &str) {
    let width = 80 - indent.len();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: String = word.to_string();
        while word.chars().count() > width {
            let head: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            if !line.is_empty() {
                let _ = writeln!(o, "{indent}{line}");
                line.clear();
            }
            let _ = writeln!(o, "{indent}{head}");
        }
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            let _ = writeln!(o, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        let _ = writeln!(o, "{indent}{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_80_columns() {
        let mut o = String::new();
        let long = format!("{} {} end", "word ".repeat(30), "x".repeat(200));
        wrap(&mut o, "    ", &long);
        assert!(o.lines().all(|l| l.len() <= 80), "{o}");
        let words: Vec<&str> = o.split_whitespace().collect();
        assert_eq!(words.last(), Some(&"end"));
        assert_eq!(o.matches('x').count(), 200);
    }

    #[test]
    fn durations_like_frr() {
        assert_eq!(duration(0), "00:00:00");
        assert_eq!(duration(3723), "01:02:03");
        assert_eq!(duration(86_400 + 7200 + 180), "1d02h03m");
        assert_eq!(duration(2 * 604_800 + 3 * 86_400 + 4 * 3600), "02w3d04h");
    }
}

/// Without the blanks that padding leaves at line ends.
fn trim_lines(s: &str) -> String {
    s.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

/// `evpnctl show vni`: one line per VNI, route targets on the next.
pub fn render_vnis(v: &[crate::evpnview::VniView]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "VNIs: {}", v.len());
    let _ = writeln!(
        o,
        "{:<8} {:<10} {:<10} {:<15} {:<21} {:>9}",
        "VNI", "Bridge", "VXLAN", "VTEP", "RD", "MACs L/R"
    );
    for i in v {
        let _ = writeln!(
            o,
            "{:<8} {:<10} {:<10} {:<15} {:<21} {:>9}",
            i.vni,
            i.bridge.as_deref().unwrap_or("-"),
            i.vxlan.as_deref().unwrap_or("-"),
            i.vtep.to_string(),
            i.rd,
            format!("{}/{}", i.local_macs, i.remote_macs)
        );
        let _ = writeln!(
            o,
            "         import {}  export {}",
            i.import_rts.join(","),
            i.export_rts.join(",")
        );
    }
    trim_lines(&o)
}

/// `evpnctl show macs`.
pub fn render_macs(v: &[crate::evpnview::MacView]) -> String {
    let mut o = String::new();
    let local = v.iter().filter(|m| m.kind == "local").count();
    let _ = writeln!(
        o,
        "MACs: {} ({} local, {} remote)",
        v.len(),
        local,
        v.len() - local
    );
    let _ = writeln!(o, "Flags: S sticky, D duplicate (frozen)");
    let _ = writeln!(
        o,
        "{:<8} {:<17} {:<6} {:<20} {:>10} Flags",
        "VNI", "MAC", "Type", "Port/VTEP", "Seq"
    );
    for m in v {
        let at = match (&m.port, m.vtep) {
            (Some(p), _) => p.clone(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "-".into(),
        };
        let mut flags = String::new();
        if m.sticky {
            flags.push('S');
        }
        if m.duplicate {
            flags.push('D');
        }
        let _ = writeln!(
            o,
            "{:<8} {:<17} {:<6} {:<20} {:>10} {}",
            m.vni, m.mac, m.kind, at, m.sequence, flags
        );
    }
    trim_lines(&o)
}

/// `evpnctl show fdb`.
pub fn render_fdb(r: &crate::evpnview::FdbReport) -> String {
    let mut o = String::new();
    let state = if !r.known {
        "kernel view not known yet (first sync pending)"
    } else if r.in_sync {
        "in sync with the EVPN routes"
    } else {
        "NOT in sync with the EVPN routes"
    };
    let _ = writeln!(o, "Kernel FIB: {state}");
    let _ = writeln!(
        o,
        "syncs {}, dumps {}, resyncs {}, entries {}",
        r.syncs,
        r.dumps,
        r.resyncs,
        r.entries.len()
    );
    let _ = writeln!(
        o,
        "{:<5} {:<8} {:<17} {:<24} {:<10} Desired",
        "Kind", "VNI", "MAC", "VTEP/IP", "Programmed"
    );
    for e in &r.entries {
        let at = e.vtep.or(e.ip).map_or("-".into(), |a| a.to_string());
        let _ = writeln!(
            o,
            "{:<5} {:<8} {:<17} {:<24} {:<10} {}",
            e.kind,
            e.vni,
            e.mac.as_deref().unwrap_or("-"),
            at,
            yes(e.programmed),
            yes(e.desired)
        );
    }
    trim_lines(&o)
}

#[cfg(test)]
mod evpn_table_tests {
    use super::*;
    use crate::evpnview::{FdbReport, FdbRow, MacView, VniView};

    fn fits(t: &str) {
        for l in t.lines() {
            assert!(l.len() <= 80, "wider than 80: {l:?}");
            assert_eq!(l, l.trim_end(), "trailing blanks: {l:?}");
        }
    }

    #[test]
    fn evpn_tables_fit_80_columns() {
        let v = render_vnis(&[VniView {
            vni: 16_777_215,
            bridge: Some("br100".into()),
            vxlan: Some("vxlan100".into()),
            vtep: "255.255.255.255".parse().unwrap(),
            rd: "255.255.255.255:65535".into(),
            import_rts: vec!["65000:100".into()],
            export_rts: vec!["65000:100".into()],
            local_macs: 1000,
            remote_macs: 20000,
        }]);
        assert!(v.contains("16777215") && v.contains("1000/20000"), "{v}");
        fits(&v);
        let m = render_macs(&[MacView {
            vni: 100,
            mac: "00:00:5e:00:53:02".into(),
            kind: "remote".into(),
            port: None,
            vtep: Some("10.0.0.2".parse().unwrap()),
            sequence: 4_294_967_295,
            sticky: true,
            duplicate: true,
        }]);
        assert!(m.contains("10.0.0.2") && m.contains("4294967295 SD"), "{m}");
        fits(&m);
        let f = render_fdb(&FdbReport {
            in_sync: false,
            known: true,
            entries: vec![FdbRow {
                kind: "flood".into(),
                vni: 100,
                mac: Some("00:00:00:00:00:00".into()),
                ip: None,
                vtep: Some("10.0.0.2".parse().unwrap()),
                programmed: false,
                desired: true,
            }],
            syncs: 3,
            dumps: 1,
            resyncs: 0,
        });
        assert!(f.contains("NOT in sync") && f.contains("flood"), "{f}");
        fits(&f);
    }
}

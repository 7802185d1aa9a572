//! evpnd processes against each other on loopback (127.0.0.2x-4x, ports chosen free):
//! sessions, Cease on SIGTERM, SIGHUP reload, dynamic neighbours, `--check`.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use common::*;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

#[test]
fn two_evpnd_ibgp_then_sigterm_sends_cease() {
    let dir = scratch("ibgp");
    let (a, b) = (ip(21), ip(22));
    let (pa, pb) = (free_port(a), free_port(b));
    let ea = Evpnd::start(
        &dir,
        "a",
        &config(
            65000,
            "10.0.0.21",
            SocketAddr::from((a, pa)),
            &dir.join("a/evpnd.sock"),
            &[PeerLine::new(b, pb).with("ipv4_unicast = true")],
            "",
        ),
    );
    let mut eb = Evpnd::start(
        &dir,
        "b",
        &config(
            65000,
            "10.0.0.22",
            SocketAddr::from((b, pb)),
            &dir.join("b/evpnd.sock"),
            &[PeerLine::new(a, pa).with("ipv4_unicast = true")],
            "",
        ),
    );
    ea.wait_established("127.0.0.22", Duration::from_secs(20));
    eb.wait_established("127.0.0.21", Duration::from_secs(20));
    let pa_view = ea.peer("127.0.0.22");
    assert_eq!(pa_view["remote_as"], 65000);
    assert_eq!(pa_view["session"]["negotiated"]["ibgp"], true);
    // Both announced IPv4 unicast next to L2VPN EVPN: both negotiated.
    let fams: Vec<String> = pa_view["session"]["negotiated"]["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}/{}",
                f["afi"].as_str().unwrap(),
                f["safi"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(fams.len(), 2, "{fams:?}");
    assert!(
        fams.iter().any(|f| f.starts_with("l2vpn")) && fams.iter().any(|f| f.starts_with("ipv4")),
        "{fams:?}"
    );

    // The table: one Established line for the peer.
    let table = String::from_utf8(ea.ctl(&["show", "peers"]).stdout).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("127.0.0.22") && l.contains("Established")),
        "{table}"
    );
    assert!(table.lines().all(|l| l.len() <= 80), "{table}");

    // A hard clear on a: b sees Cease / Administrative Reset, the session comes back.
    let out = ea.ctl(&["clear", "peer", "127.0.0.22"]);
    assert!(out.status.success(), "{out:?}");
    let ok = wait_until(Duration::from_secs(20), || {
        let v = ea.peer("127.0.0.22");
        v["state"] == "Established" && v["session"]["counters"]["established"] == 2
    });
    assert!(ok, "not back after clear: {}", ea.peer("127.0.0.22"));
    let n = &eb.peer("127.0.0.21")["session"]["counters"]["last_notification_received"];
    assert!(
        n["text"]
            .as_str()
            .unwrap_or("")
            .contains("Administrative Reset"),
        "{n}"
    );

    // SIGTERM b: a sees Cease / Administrative Shutdown (6/2; inside a Hard Reset 6/9
    // when both announced the RFC 8538 N-bit, as here), and b exits 0.
    signal(&eb.proc.child, libc::SIGTERM);
    let status = {
        let mut st = None;
        wait_until(Duration::from_secs(10), || {
            st = eb.proc.child.try_wait().ok().flatten();
            st.is_some()
        });
        st.expect("evpnd b did not exit after SIGTERM")
    };
    assert!(status.success(), "exit {status:?}: {}", eb.log_text());
    let ok = wait_until(Duration::from_secs(10), || {
        ea.peer("127.0.0.22")["session"]["counters"]["last_notification_received"]["code"] == 6
    });
    let v = ea.peer("127.0.0.22");
    assert!(ok, "no Cease received: {v}");
    let n = &v["session"]["counters"]["last_notification_received"];
    assert!(
        n["text"]
            .as_str()
            .unwrap()
            .contains("Administrative Shutdown"),
        "{n}"
    );
    let sub = n["subcode"].as_u64().unwrap();
    // 6/2 directly, or 6/9 Hard Reset carrying 6/2 as its data.
    assert!(
        sub == 2 || (sub == 9 && n["data"].as_str().unwrap().starts_with("0602")),
        "{n}"
    );
    assert_ne!(v["state"], "Established");
    let out = ea.ctl(&["show", "peer", "127.0.0.22"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Last notification received (6/") && text.contains("Administrative Shutdown"),
        "{text}"
    );
    assert!(eb.log_text().contains("shutting down"), "{}", eb.log_text());
}

#[test]
fn sighup_adds_a_peer_without_touching_the_others() {
    let dir = scratch("hup");
    let (a, b, c) = (ip(31), ip(32), ip(33));
    let (pa, pb, pc) = (free_port(a), free_port(b), free_port(c));
    let a_cfg = |peers: &[PeerLine]| {
        config(
            65000,
            "10.0.0.31",
            SocketAddr::from((a, pa)),
            &dir.join("a/evpnd.sock"),
            peers,
            "",
        )
    };
    let ea = Evpnd::start(&dir, "a", &a_cfg(&[PeerLine::new(b, pb)]));
    let _eb = Evpnd::start(
        &dir,
        "b",
        &config(
            65000,
            "10.0.0.32",
            SocketAddr::from((b, pb)),
            &dir.join("b/evpnd.sock"),
            &[PeerLine::new(a, pa)],
            "",
        ),
    );
    let _ec = Evpnd::start(
        &dir,
        "c",
        &config(
            65000,
            "10.0.0.33",
            SocketAddr::from((c, pc)),
            &dir.join("c/evpnd.sock"),
            &[PeerLine::new(a, pa)],
            "",
        ),
    );
    ea.wait_established("127.0.0.32", Duration::from_secs(20));
    let before = ea.peer("127.0.0.32");
    assert_eq!(ea.peers().len(), 1, "c is not configured on a yet");

    // An invalid config is refused and changes nothing.
    std::fs::write(
        &ea.config,
        a_cfg(&[PeerLine::new(b, pb).with("ttl_security = 255")]),
    )
    .unwrap();
    signal(&ea.proc.child, libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(5), || ea
            .log_text()
            .contains("reload rejected")),
        "{}",
        ea.log_text()
    );
    assert!(
        ea.log_text().contains("peer[0].ttl_security"),
        "the error names the key"
    );

    // A new AS number needs a restart: refused, nothing changes.
    std::fs::write(
        &ea.config,
        a_cfg(&[PeerLine::new(b, pb)]).replace("asn = 65000", "asn = 65009"),
    )
    .unwrap();
    signal(&ea.proc.child, libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(5), || ea
            .log_text()
            .contains("change only with a restart")),
        "{}",
        ea.log_text()
    );

    // Adding c: it comes up, b's session is untouched.
    std::fs::write(
        &ea.config,
        a_cfg(&[PeerLine::new(b, pb), PeerLine::new(c, pc)]),
    )
    .unwrap();
    signal(&ea.proc.child, libc::SIGHUP);
    ea.wait_established("127.0.0.33", Duration::from_secs(20));
    let after = ea.peer("127.0.0.32");
    assert_eq!(after["state"], "Established");
    assert_eq!(after["session"]["counters"]["established"], 1, "{after}");
    assert_eq!(after["session"]["counters"]["dropped"], 0, "{after}");
    let (u0, u1) = (
        before["uptime_secs"].as_u64().unwrap(),
        after["uptime_secs"].as_u64().unwrap(),
    );
    assert!(u1 >= u0, "uptime went back: {u0} -> {u1}");

    // Changing b's settings resets b (6/6), removing c sends 6/3.
    std::fs::write(
        &ea.config,
        a_cfg(&[PeerLine::new(b, pb).with("description = \"changed\"")]),
    )
    .unwrap();
    signal(&ea.proc.child, libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || ea.peers().len() == 1),
        "c not removed: {:?}",
        ea.peers()
    );
    let ok = wait_until(Duration::from_secs(20), || {
        let v = ea.peer("127.0.0.32");
        v["state"] == "Established" && v["description"] == "changed"
    });
    assert!(
        ok,
        "b not back with its new settings: {}",
        ea.peer("127.0.0.32")
    );
    let log = ea.log_text();
    assert!(
        log.contains("configuration reloaded")
            && log.contains("removed=1")
            && log.contains("changed=1"),
        "{log}"
    );
}

#[test]
fn listen_range_creates_dynamic_neighbours() {
    let dir = scratch("dyn");
    let (spine, leaf) = (ip(41), ip(42));
    let (ps, pl) = (free_port(spine), free_port(leaf));
    let tail = "[peer_group.leaves]\nremote_as = \"internal\"\nhold_time = 9\nkeepalive = 3\n\n\
                [[listen_range]]\nprefix = \"127.0.0.40/29\"\npeer_group = \"leaves\"\n";
    let es = Evpnd::start(
        &dir,
        "s",
        &config(
            65000,
            "10.0.0.41",
            SocketAddr::from((spine, ps)),
            &dir.join("s/evpnd.sock"),
            &[],
            tail,
        ),
    );
    let el = Evpnd::start(
        &dir,
        "l",
        &config(
            65000,
            "10.0.0.42",
            SocketAddr::from((leaf, pl)),
            &dir.join("l/evpnd.sock"),
            &[PeerLine::new(spine, ps)],
            "",
        ),
    );
    el.wait_established("127.0.0.41", Duration::from_secs(20));
    es.wait_established("127.0.0.42", Duration::from_secs(5));
    let p = &es.peers()[0];
    assert_eq!(p["dynamic"], true);
    let table = String::from_utf8(es.ctl(&["show", "peers"]).stdout).unwrap();
    assert!(table.contains("*127.0.0.42"), "{table}");
    // The leaf goes away: the dynamic neighbour is removed with its session.
    drop(el);
    assert!(
        wait_until(Duration::from_secs(20), || es.peers().is_empty()),
        "dynamic peer still there: {:?}",
        es.peers()
    );
}

#[test]
fn check_validates_and_names_the_key() {
    let dir = scratch("check");
    let good = dir.join("good.toml");
    std::fs::write(&good, "[global]\nasn = 65000\nrouter_id = \"10.0.0.1\"\n").unwrap();
    let out = Command::new(bin("evpnd"))
        .args(["--check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[global]\nasn = 65000\nrouter_id = \"10.0.0.1\"\n[[peer]]\naddress = \"10.1.1.1\"\nremote_as = 65001\nhold_time = 1\n").unwrap();
    let out = Command::new(bin("evpnd"))
        .args(["--check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("peer[0].hold_time") && err.contains(":7:"),
        "{err}"
    );

    // A second evpnd on the socket of a running one refuses to start (exit 1).
    let sock_dir = dir.join("first");
    let first = Evpnd::start(
        &dir,
        "first",
        &config(
            65000,
            "10.0.0.47",
            SocketAddr::from((ip(47), free_port(ip(47)))),
            &sock_dir.join("evpnd.sock"),
            &[],
            "",
        ),
    );
    let second = dir.join("second.toml");
    std::fs::write(
        &second,
        config(
            65000,
            "10.0.0.48",
            SocketAddr::from((ip(48), free_port(ip(48)))),
            &first.socket,
            &[],
            "",
        ),
    )
    .unwrap();
    let out = Command::new(bin("evpnd"))
        .arg("--config")
        .arg(&second)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use by a running evpnd"),
        "{out:?}"
    );
    assert!(
        first.ctl(&["show", "peers"]).status.success(),
        "the first one keeps its socket"
    );
    drop(first);

    let bad_log = dir.join("badlog.toml");
    std::fs::write(
        &bad_log,
        "[global]\nasn = 65000\nrouter_id = \"10.0.0.1\"\n[logging]\nlevel = \"evpnd=bogus==\"\n",
    )
    .unwrap();
    let out = Command::new(bin("evpnd"))
        .args(["--check", "--config"])
        .arg(&bad_log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("logging.level"),
        "{out:?}"
    );

    let out = Command::new(bin("evpnctl"))
        .args(["--socket"])
        .arg(dir.join("none.sock"))
        .args(["show", "peers"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "unreachable evpnd is exit 2: {out:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A peer that refuses every connection: the failure and the Connect/Active cycle are
/// logged once above debug, not once per retry.
#[test]
fn unreachable_peer_is_logged_once() {
    let dir = scratch("once");
    let (a, b) = (ip(45), ip(46));
    let (pa, pb) = (free_port(a), free_port(b));
    // Nothing listens on b: every connect is refused at once (retry every second).
    let ea = Evpnd::start(
        &dir,
        "a",
        &config(
            65000,
            "10.0.0.45",
            SocketAddr::from((a, pa)),
            &dir.join("a/evpnd.sock"),
            &[PeerLine::new(b, pb)],
            "",
        ),
    );
    std::thread::sleep(Duration::from_secs(5));
    let log = ea.log_text();
    let retries = log
        .lines()
        .filter(|l| l.contains("TCP connection failed"))
        .count();
    assert!(retries >= 3, "expected several retries in 5 s:\n{log}");
    let loud: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains("DEBUG") && l.contains("peer=127.0.0.46"))
        .collect();
    let failed = loud
        .iter()
        .filter(|l| l.contains("TCP connection failed"))
        .count();
    let changes = loud
        .iter()
        .filter(|l| l.contains("session state change"))
        .count();
    assert_eq!(failed, 1, "{loud:#?}");
    assert!(changes <= 2, "{loud:#?}");
    // Why it fails, once: the connect error itself.
    let why = loud
        .iter()
        .filter(|l| l.contains("connect failed") && l.contains("refused"))
        .count();
    assert_eq!(why, 1, "{loud:#?}");

    // b comes up: one summary line says how many repeats went to debug.
    let _eb = Evpnd::start(
        &dir,
        "b",
        &config(
            65000,
            "10.0.0.46",
            SocketAddr::from((b, pb)),
            &dir.join("b/evpnd.sock"),
            &[PeerLine::new(a, pa)],
            "",
        ),
    );
    ea.wait_established("127.0.0.46", Duration::from_secs(20));
    let log = ea.log_text();
    let summary: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("session up after repeated failures"))
        .collect();
    assert_eq!(summary.len(), 1, "{log}");
    assert!(
        summary[0].contains("repeats=") && summary[0].contains("refused"),
        "{}",
        summary[0]
    );
}

/// Opens and drops a TCP connection to `to` from 127.0.0.1 (an unconfigured address:
/// evpnd logs it at debug only). True when something accepted it.
fn poke(to: SocketAddr) -> bool {
    std::net::TcpStream::connect_timeout(&to, Duration::from_millis(300)).is_ok()
}

fn counters(e: &Evpnd, addr: &str) -> (u64, u64) {
    let v = e.peer(addr);
    let c = &v["session"]["counters"];
    (
        c["established"].as_u64().unwrap_or(0),
        c["dropped"].as_u64().unwrap_or(0),
    )
}

/// SIGHUP applies `logging` (level, then format), `global.listen` (new sockets bound,
/// removed ones closed, a bind error rejects the whole reload) and a peer's new timers
/// (that peer renegotiates) while the other session stays up throughout.
#[test]
fn sighup_applies_logging_listen_and_timers() {
    let dir = scratch("hup2");
    let (a, b, c) = (ip(151), ip(152), ip(153));
    let (pa, pa2, pb, pc) = (free_port(a), free_port(a), free_port(b), free_port(c));
    // Built on common::config with a's own listen list, level and format, and c's
    // timers (config() writes hold_time = 9 / keepalive = 3 for every peer).
    let a_cfg = |listen: &[SocketAddr], level: &str, json: bool, c_hold: Option<(u16, u16)>| {
        let mut t = config(
            65000,
            "10.0.0.151",
            listen[0],
            &dir.join("a/evpnd.sock"),
            &[PeerLine::new(b, pb), PeerLine::new(c, pc)],
            "",
        );
        let list: Vec<String> = listen.iter().map(|l| format!("\"{l}\"")).collect();
        t = t.replace(
            &format!("listen = [\"{}\"]", listen[0]),
            &format!("listen = [{}]", list.join(", ")),
        );
        t = t.replace(
            "level = \"debug\"",
            &format!(
                "level = \"{level}\"\nformat = \"{}\"",
                if json { "json" } else { "text" }
            ),
        );
        if let Some((h, k)) = c_hold {
            t = t.replace(
                &format!("port = {pc}\nhold_time = 9\nkeepalive = 3"),
                &format!("port = {pc}\nhold_time = {h}\nkeepalive = {k}"),
            );
        }
        t
    };
    let la = SocketAddr::from((a, pa));
    let la2 = SocketAddr::from((a, pa2));
    let ea = Evpnd::start(&dir, "a", &a_cfg(&[la], "info", false, None));
    let other = |name: &str, me: Ipv4Addr, port: u16| {
        Evpnd::start(
            &dir,
            name,
            &config(
                65000,
                &format!("10.0.0.{}", me.octets()[3]),
                SocketAddr::from((me, port)),
                &dir.join(format!("{name}/evpnd.sock")),
                // Passive: a's old listen address goes away, a connects out.
                &[PeerLine::new(a, pa).with("passive = true")],
                "",
            ),
        )
    };
    let eb = other("b", b, pb);
    let ec = other("c", c, pc);
    ea.wait_established("127.0.0.152", Duration::from_secs(20));
    ea.wait_established("127.0.0.153", Duration::from_secs(20));
    let reload = |text: &str, marker: &str| {
        let seen = ea.log_text().matches(marker).count();
        std::fs::write(&ea.config, text).unwrap();
        signal(&ea.proc.child, libc::SIGHUP);
        assert!(
            wait_until(Duration::from_secs(10), || ea
                .log_text()
                .matches(marker)
                .count()
                > seen),
            "no {marker:?} after SIGHUP:\n{}",
            ea.log_text()
        );
    };
    const REFUSED: &str = "connection from an unconfigured address refused";

    // 1. Level: info hides the debug line for an unknown connection; debug shows it.
    assert!(poke(la));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!ea.log_text().contains(REFUSED), "{}", ea.log_text());
    reload(
        &a_cfg(&[la], "debug", false, None),
        "logging settings applied",
    );
    assert!(poke(la));
    assert!(
        wait_until(Duration::from_secs(5), || ea.log_text().contains(REFUSED)),
        "level debug not applied:\n{}",
        ea.log_text()
    );
    // Format: JSON lines from the reload on.
    reload(
        &a_cfg(&[la], "debug", true, None),
        "logging settings applied",
    );
    let last_json = ea
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|v| v["message"] == "logging settings applied" && v["format"] == "Json");
    assert!(last_json, "format json not applied:\n{}", ea.log_text());

    // 2. A second listen address binds; then the first one closes; sessions untouched.
    reload(
        &a_cfg(&[la, la2], "debug", true, None),
        "global.listen applied",
    );
    assert!(poke(la2), "new listen address not bound");
    reload(&a_cfg(&[la2], "debug", true, None), "global.listen applied");
    assert!(
        wait_until(Duration::from_secs(5), || !poke(la)),
        "removed listen address still accepts"
    );
    assert!(poke(la2));

    // 3. A listen address that cannot bind (b's own): the whole reload is refused, the
    // timers change in the same file is not applied, the listeners stay as they were.
    let lb = SocketAddr::from((b, pb));
    reload(
        &a_cfg(&[la2, lb], "debug", true, Some((6, 2))),
        "reload rejected: global.listen does not bind",
    );
    assert!(poke(la2), "a refused reload closed a listener");
    assert!(!poke(la), "a refused reload reopened a listener");
    assert_eq!(
        counters(&ea, "127.0.0.153"),
        (1, 0),
        "c reset by a refused reload"
    );
    for p in ["127.0.0.152", "127.0.0.153"] {
        assert_eq!(counters(&ea, p), (1, 0), "{p}: {}", ea.peer(p));
    }

    // 4. c's hold time changes: c alone is reset (6/6) and renegotiates (6 s now, at
    // both ends), b is untouched on both ends.
    reload(
        &a_cfg(&[la2], "debug", true, Some((6, 2))),
        "configuration reloaded",
    );
    let up_with_6 = |e: &Evpnd, p: &str| {
        let v = e.peer(p);
        v["state"] == "Established" && v["session"]["negotiated"]["hold_time"] == 6
    };
    let ok = wait_until(Duration::from_secs(20), || {
        up_with_6(&ea, "127.0.0.153") && up_with_6(&ec, "127.0.0.151")
    });
    assert!(
        ok,
        "c did not renegotiate: {}\n{}",
        ea.peer("127.0.0.153"),
        ec.peer("127.0.0.151")
    );
    let resets: Vec<String> = ea
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "configuration changed: resetting the session")
        .map(|v| v["peer"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(resets, ["127.0.0.153"], "{}", ea.log_text());
    let vb = ea.peer("127.0.0.152");
    assert_eq!(vb["state"], "Established");
    assert_eq!(counters(&ea, "127.0.0.152"), (1, 0), "b was reset: {vb}");
    assert_eq!(counters(&eb, "127.0.0.151"), (1, 0), "b was reset");
    assert_eq!(vb["session"]["negotiated"]["hold_time"], 9);
}

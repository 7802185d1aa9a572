//! Graceful restart (RFC 4724) of each side against FRR 8.4 bgpd, on IPv4 unicast (FRR's
//! GR covers SAFIs unicast..MPLS VPN, not L2VPN EVPN): evpnd originates
//! `[ipv4_unicast] networks`, FRR `network` lines; eBGP, AS 65000 (evpnd) and 65003.
//!
//! FRR refuses a 127.0.0.0/8 NEXT_HOP (martian: UPDATE Message Error / Invalid NEXT_HOP),
//! and evpnd sends its session address as next hop, so evpnd's routes reach FRR only off
//! loopback: that test runs both daemons in a network namespace of its own (root), on
//! 10.255.0.1/.2 on its `lo`. evpnd takes 127.0.0.x next hops, so the other runs on
//! loopback.
//!
//! - evpnd restarts, FRR is the helper: SIGKILL evpnd; FRR keeps its routes marked stale;
//!   evpnd comes back (F set for IPv4 unicast) with one network fewer; FRR never loses
//!   the others (at least that many while polling), they are fresh again, and the removed
//!   one is swept at evpnd's End-of-RIB.
//!   Then a SIGHUP swapping one network: FRR gets the difference, the session stays up.
//!   What polling cannot see: with F clear FRR would drop the stale routes when the
//!   session comes back and learn them again a millisecond later (the same end state;
//!   FRR's path lastUpdate changes either way). So FRR's own `fBit` for us is asserted:
//!   with it FRR keeps them until our End-of-RIB (bgp_fsm.c, bgp_establish).
//! - FRR restarts, evpnd is the helper: FRR (`bgp graceful-restart preserve-fw-state`:
//!   F set) is SIGKILLed; evpnd keeps its routes stale; FRR comes back with one `network`
//!   fewer (R set); evpnd never loses the others, they are fresh again, the removed one is
//!   swept at FRR's End-of-RIB.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// FRR bgpd in AS 65003, GR on, passive towards evpnd at `peer`, originating `networks`.
fn frr_conf(peer: Ipv4Addr, networks: &[&str], extra: &str) -> String {
    let nets: String = networks
        .iter()
        .map(|n| format!("  network {n}\n"))
        .collect();
    format!(
        "frr defaults datacenter\nhostname frrgr4\nrouter bgp 65003\n \
         bgp router-id 10.0.0.3\n no bgp ebgp-requires-policy\n \
         no bgp network import-check\n bgp graceful-restart\n{extra} \
         neighbor {peer} remote-as 65000\n neighbor {peer} passive\n \
         neighbor {peer} timers 3 9\n \
         address-family ipv4 unicast\n{nets}  neighbor {peer} activate\n \
         exit-address-family\n"
    )
}

/// evpnd (AS 65000) on `me`, peering with FRR over IPv4 unicast, originating `networks`.
fn evpnd_conf(dir: &Path, me: SocketAddr, frr: SocketAddr, networks: &[&str]) -> String {
    let std::net::IpAddr::V4(fip) = frr.ip() else {
        panic!("FRR runs on IPv4 loopback")
    };
    let nets: Vec<String> = networks.iter().map(|n| format!("\"{n}\"")).collect();
    config(
        65000,
        "10.0.0.99",
        me,
        &dir.join("e/evpnd.sock"),
        &[PeerLine::new(fip, frr.port())
            .remote_as(65003)
            .with("ipv4_unicast = true")],
        &format!("[ipv4_unicast]\nnetworks = [{}]\n", nets.join(", ")),
    )
}

/// FRR's IPv4 unicast paths: prefix -> (stale, next hop, AS path, origin) of each.
fn frr_routes(frr: &Frr) -> Vec<(String, bool, String, String, String)> {
    let v = frr.json("show bgp ipv4 unicast json");
    let mut out = Vec::new();
    if let Some(m) = v["routes"].as_object() {
        for (prefix, paths) in m {
            for p in paths.as_array().into_iter().flatten() {
                out.push((
                    prefix.clone(),
                    p["stale"] == true,
                    p["nexthops"][0]["ip"].as_str().unwrap_or("").to_string(),
                    p["path"].as_str().unwrap_or("").to_string(),
                    p["origin"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// evpnd's IPv4 unicast paths from `peer`: (prefix, stale).
fn evpnd_routes(e: &Evpnd, peer: &str) -> Vec<(String, bool)> {
    let out = e.ctl(&["show", "routes", "--family", "ipv4", "--peer", peer, "-j"]);
    assert!(out.status.success(), "evpnctl show routes: {out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut rows: Vec<(String, bool)> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|r| {
            (
                r["prefix"].as_str().unwrap_or("").to_string(),
                r["stale"] == true,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// Polls `f` until it returns `want`, tracking the smallest route count seen on the way.
fn settle<T: PartialEq + std::fmt::Debug>(
    within: Duration,
    mut f: impl FnMut() -> Vec<T>,
    want: &[T],
) -> (bool, usize, Vec<T>) {
    let mut min = usize::MAX;
    let mut last = Vec::new();
    let ok = wait_until(within, || {
        last = f();
        min = min.min(last.len());
        last == want
    });
    (ok, min, last)
}

#[test]
fn evpnd_restarts_frr_keeps_its_ipv4_routes_stale_until_end_of_rib() {
    let dir = scratch("gr4-evpnd");
    let ns = Netns::new(&format!("evt-gr4-{}", std::process::id()));
    ns.sh("ip link set lo up");
    ns.sh("ip addr add 10.255.0.1/32 dev lo");
    ns.sh("ip addr add 10.255.0.2/32 dev lo");
    let (f, e) = (Ipv4Addr::new(10, 255, 0, 1), Ipv4Addr::new(10, 255, 0, 2));
    let me = SocketAddr::from((e, 179));
    let frr = Frr::spawn_in_without_zebra(
        &dir,
        &ns,
        SocketAddr::from((f, 179)),
        &frr_conf(e, &[], " bgp graceful-restart restart-time 120\n"),
    );
    let nets = ["10.0.0.162/32", "192.0.2.0/24", "198.51.100.0/24"];
    let text = |nets: &[&str]| evpnd_conf(&dir, me, frr.addr, nets);
    let mut ev = Evpnd::start_in(&dir, "e", &text(&nets), Some(&ns));
    let from_e = |stale: bool| -> Vec<(String, bool, String, String, String)> {
        let mut v: Vec<_> = nets
            .iter()
            .map(|n| {
                let (nh, path) = ("10.255.0.2".into(), "65000".into());
                (n.to_string(), stale, nh, path, "IGP".into())
            })
            .collect();
        v.sort();
        v
    };
    let (ok, _, got) = settle(Duration::from_secs(30), || frr_routes(&frr), &from_e(false));
    assert!(
        ok,
        "FRR did not get evpnd's networks (next hop = evpnd's session address, origin IGP, \
         AS path 65000): {got:?}\n{}",
        ev.log_text()
    );
    // What FRR negotiated with us: our GR capability with IPv4 unicast and its F bit.
    let n = frr.json(&format!("show bgp neighbors {e} json"))[e.to_string()].clone();
    let gr = &n["gracefulRestartInfo"];
    assert_eq!(gr["remoteGrMode"], "Restart", "{gr}");
    assert_eq!(gr["ipv4Unicast"]["fBit"], true, "F(IPv4 unicast): {gr}");
    assert_eq!(
        gr["rBit"], false,
        "a first start (no kernel state): no R: {gr}"
    );
    assert_eq!(gr["timers"]["receivedRestartTimer"], 120, "{gr}");
    assert_eq!(
        gr["ipv4Unicast"]["endOfRibStatus"]["endOfRibRecv"], true,
        "our End-of-RIB: {gr}"
    );
    let summary = ev.peers();
    let v4 = summary[0]["prefixes"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["family"] == "ipv4/unicast").cloned());
    assert_eq!(v4.map(|p| p["sent"].clone()), Some(3.into()), "{summary:?}");

    // SIGKILL: no NOTIFICATION; FRR keeps every route, marked stale.
    ev.crash();
    let (ok, _, got) = settle(Duration::from_secs(15), || frr_routes(&frr), &from_e(true));
    assert!(ok, "FRR did not keep evpnd's routes as stale: {got:?}");

    // Back with one network fewer: the others never leave FRR and are fresh again; the
    // removed one goes with our End-of-RIB (the stale sweep).
    let kept = &nets[..2];
    ev.restart_in(&text(kept), Some(&ns));
    let want: Vec<_> = from_e(false)
        .into_iter()
        .filter(|r| kept.contains(&r.0.as_str()))
        .collect();
    let (ok, min, got) = settle(Duration::from_secs(30), || frr_routes(&frr), &want);
    assert!(ok, "FRR after evpnd's restart: {got:?}\n{}", ev.log_text());
    assert!(
        min >= kept.len(),
        "FRR lost evpnd's routes during the restart (min {min})"
    );
    let n = frr.json(&format!("show bgp neighbors {e} json"))[e.to_string()].clone();
    assert_eq!(n["bgpState"], "Established", "{n}");
    assert_eq!(
        n["gracefulRestartInfo"]["ipv4Unicast"]["fBit"], true,
        "{}",
        n["gracefulRestartInfo"]
    );

    // SIGHUP with 192.0.2.0/24 replaced by 203.0.113.0/24: FRR gets the difference, the
    // session stays up (no new connection on FRR's side).
    let est = n["connectionsEstablished"].clone();
    let now = ["10.0.0.162/32", "203.0.113.0/24"];
    std::fs::write(&ev.config, text(&now)).expect("config");
    signal(&ev.proc.child, libc::SIGHUP);
    let mut want: Vec<_> = now
        .iter()
        .map(|n| {
            let (nh, path) = ("10.255.0.2".into(), "65000".into());
            (n.to_string(), false, nh, path, "IGP".to_string())
        })
        .collect();
    want.sort();
    let (ok, _, got) = settle(Duration::from_secs(15), || frr_routes(&frr), &want);
    assert!(ok, "reload not applied at FRR: {got:?}\n{}", ev.log_text());
    let n = frr.json(&format!("show bgp neighbors {e} json"))[e.to_string()].clone();
    assert_eq!(
        (n["bgpState"].clone(), n["connectionsEstablished"].clone()),
        ("Established".into(), est),
        "the reload reset the session: {n}"
    );
    let log = ev.log_text();
    assert!(
        log.contains("ipv4_unicast.networks applied added=1 removed=1"),
        "{log}"
    );
}

#[test]
fn frr_restarts_evpnd_keeps_its_ipv4_routes_stale_until_end_of_rib() {
    let dir = scratch("gr4-frr");
    let (f, e) = (ip(163), ip(164));
    let me = SocketAddr::from((e, free_port(e)));
    let gr = " bgp graceful-restart restart-time 120\n bgp graceful-restart preserve-fw-state\n";
    let nets = ["10.0.0.163/32", "203.0.113.0/24", "203.0.113.128/25"];
    let mut frr = Frr::spawn(&dir, f, &frr_conf(e, &nets, gr));
    let ev = Evpnd::start(&dir, "e", &evpnd_conf(&dir, me, frr.addr, &[]));
    let peer = f.to_string();
    let want = |stale: bool, nets: &[&str]| -> Vec<(String, bool)> {
        let mut v: Vec<_> = nets.iter().map(|n| (n.to_string(), stale)).collect();
        v.sort();
        v
    };
    let (ok, _, got) = settle(
        Duration::from_secs(30),
        || evpnd_routes(&ev, &peer),
        &want(false, &nets),
    );
    assert!(
        ok,
        "evpnd did not get FRR's networks: {got:?}\n{}",
        ev.log_text()
    );
    // FRR's GR capability as evpnd negotiated it. FRR sets R on every start (while its
    // startup timer runs), not only after a restart.
    let v4 = serde_json::json!({"afi": "ipv4", "safi": "unicast"});
    let g = ev.peer(&peer)["session"]["negotiated"]["graceful_restart"].clone();
    assert_eq!(g["restart_time"], 120, "{g}");
    assert!(
        g["families"].as_array().is_some_and(|a| a.contains(&v4)),
        "{g}"
    );
    assert!(
        g["preserved"].as_array().is_some_and(|a| a.contains(&v4)),
        "F(IPv4 unicast) with preserve-fw-state: {g}"
    );

    // SIGKILL FRR: evpnd keeps its routes, marked stale.
    frr.crash();
    let (ok, _, got) = settle(
        Duration::from_secs(15),
        || evpnd_routes(&ev, &peer),
        &want(true, &nets),
    );
    assert!(
        ok,
        "evpnd did not keep FRR's routes as stale: {got:?}\n{}",
        ev.log_text()
    );
    let table = ev.ctl(&["show", "routes", "--family", "ipv4"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("*>S 10.0.0.163/32"), "{text}");

    // FRR back on the same address, one network fewer.
    let kept = &nets[..2];
    std::fs::write(frr.vty.join("bgpd.conf"), frr_conf(e, kept, gr)).expect("bgpd.conf");
    frr.restart();
    let (ok, min, got) = settle(
        Duration::from_secs(60),
        || evpnd_routes(&ev, &peer),
        &want(false, kept),
    );
    assert!(
        ok,
        "evpnd after FRR's restart: {got:?}\n{}\n{}",
        frr.vtysh("show bgp summary"),
        ev.log_text()
    );
    assert!(
        min >= kept.len(),
        "evpnd lost FRR's routes during the restart"
    );
    let g = ev.peer(&peer)["session"]["negotiated"]["graceful_restart"].clone();
    assert_eq!(
        g["restart_state"], true,
        "FRR's R bit after its restart: {g}"
    );
    assert!(
        g["preserved"].as_array().is_some_and(|a| a.contains(&v4)),
        "{g}"
    );
    // The restarted FRR's view of us: our capability with F(IPv4 unicast) (a normal
    // evpnd start: F for IPv4 unicast all the same), our End-of-RIB received.
    let n = frr.json(&format!("show bgp neighbors {e} json"))[e.to_string()].clone();
    let gr = &n["gracefulRestartInfo"];
    assert_eq!(
        (
            gr["remoteGrMode"].clone(),
            gr["ipv4Unicast"]["fBit"].clone()
        ),
        ("Restart".into(), true.into()),
        "{gr}"
    );
    assert_eq!(gr["endOfRibRecv"]["ipv4Unicast"], true, "{gr}");
    let log = ev.log_text();
    assert!(
        !log.contains("forwarding state not preserved"),
        "F was set: the stale routes waited for End-of-RIB:\n{log}"
    );
}

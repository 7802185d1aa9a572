//! evpnd (the real binary) against gobgpd 3.10 and FRR 8.4 bgpd on loopback
//! (127.0.0.5x/6x/7x, free ports; each daemon with its own sockets and scratch dir).

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::gobgp::Gobgpd;
use common::*;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

fn evpn_received(e: &Evpnd, addr: &str) -> u64 {
    e.peers()
        .iter()
        .find(|p| p["address"] == addr)
        .and_then(|p| p["prefixes"][0]["received"].as_u64())
        .unwrap_or(0)
}

#[test]
fn evpnd_with_gobgpd_receives_evpn_routes() {
    require("gobgpd");
    require("gobgp");
    let dir = scratch("gobgp");
    let (g, e) = (ip(51), ip(52));
    let pe = free_port(e);
    let gob = Gobgpd::start(&dir, "gobgpd", g, 65002, e);
    let pg = gob.port;
    // e2: an iBGP neighbour of e, to see routes pass through evpnd's RIB.
    let e2 = ip(53);
    let pe2 = free_port(e2);
    let ev = Evpnd::start(
        &dir,
        "e",
        &config(
            65000,
            "10.0.0.52",
            SocketAddr::from((e, pe)),
            &dir.join("e/evpnd.sock"),
            &[
                PeerLine::new(g, pg).remote_as(65002),
                PeerLine::new(e2, pe2),
            ],
            "",
        ),
    );
    let ev2 = Evpnd::start(
        &dir,
        "e2",
        &config(
            65000,
            "10.0.0.53",
            SocketAddr::from((e2, pe2)),
            &dir.join("e2/evpnd.sock"),
            &[PeerLine::new(e, pe)],
            "",
        ),
    );
    ev.wait_established("127.0.0.51", Duration::from_secs(20));
    ev.wait_established("127.0.0.53", Duration::from_secs(20));
    let gobgp = |args: &[&str]| gob.cli(args);
    let n = gobgp(&["neighbor", &e.to_string(), "-j"]);
    assert!(
        n.contains("\"session_state\":6"),
        "GoBGP not Established: {n}"
    );
    let v = ev.peer("127.0.0.51");
    assert_eq!(v["remote_as"], 65002);
    assert_eq!(v["session"]["negotiated"]["ibgp"], false);

    // A type-2 and a type-3 route from GoBGP are counted; a withdrawal uncounts.
    let t2 = [
        "global",
        "rib",
        "-a",
        "evpn",
        "add",
        "macadv",
        "aa:bb:cc:00:00:01",
        "10.1.1.1",
        "etag",
        "0",
        "label",
        "100",
        "rd",
        "10.0.0.51:100",
        "rt",
        "65002:100",
        "encap",
        "vxlan",
        "nexthop",
        "10.0.0.51",
    ];
    gobgp(&t2);
    gobgp(&[
        "global",
        "rib",
        "-a",
        "evpn",
        "add",
        "multicast",
        "10.0.0.51",
        "etag",
        "0",
        "rd",
        "10.0.0.51:100",
        "rt",
        "65002:100",
        "encap",
        "vxlan",
        "pmsi",
        "ingress-repl",
        "100",
        "10.0.0.51",
        "nexthop",
        "10.0.0.51",
    ]);
    assert!(
        wait_until(Duration::from_secs(10), || evpn_received(&ev, "127.0.0.51")
            == 2),
        "{:?}",
        ev.peers()
    );
    // Every field of both routes, as GoBGP sent them.
    let routes = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut a = vec!["show", "routes", "-j"];
        a.extend_from_slice(args);
        let out = ev.ctl(&a);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap()
            .as_array()
            .cloned()
            .unwrap()
    };
    let all = routes(&[]);
    assert_eq!(all.len(), 2, "{all:?}");
    let r2 = routes(&["--type", "2"]);
    assert_eq!(r2.len(), 1, "{r2:?}");
    let r = &r2[0];
    assert_eq!(r["peer"], "127.0.0.51");
    assert_eq!(r["rd"], "10.0.0.51:100");
    assert_eq!(
        r["prefix"],
        "[2]:[0]:[48]:[aa:bb:cc:00:00:01]:[32]:[10.1.1.1]"
    );
    assert_eq!(r["mac"], "aa:bb:cc:00:00:01");
    assert_eq!(r["ip"], "10.1.1.1");
    assert_eq!(r["vni"], 100);
    assert_eq!(r["ethernet_tag"], 0);
    assert_eq!(r["next_hop"], "10.0.0.51");
    // Age counts from reception: it grows while the route stands.
    let age = r["age_secs"].as_u64().expect("age_secs");
    std::thread::sleep(Duration::from_millis(1100));
    let later = routes(&["--type", "2"])[0]["age_secs"]
        .as_u64()
        .expect("age_secs");
    assert!(later > age, "age {age} -> {later}");
    assert_eq!(r["route_targets"], serde_json::json!(["65002:100"]));
    assert!(
        r["extended_communities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "ET:8"),
        "{r}"
    );
    assert_eq!(r["as_path"], "65002");
    assert_eq!(r["best"], true);
    let r3 = routes(&["--type", "3"]);
    assert_eq!(r3.len(), 1, "{r3:?}");
    let r = &r3[0];
    assert_eq!(r["prefix"], "[3]:[0]:[32]:[10.0.0.51]");
    assert_eq!(r["originator"], "10.0.0.51");
    assert_eq!(r["vni"], 100, "PMSI label: {r}");
    assert_eq!(r["next_hop"], "10.0.0.51");
    assert_eq!(r["route_targets"], serde_json::json!(["65002:100"]));
    assert_eq!(routes(&["--mac", "AA:BB:CC:00:00:01"]).len(), 1);
    assert_eq!(routes(&["--vni", "100", "--rd", "10.0.0.51:100"]).len(), 2);
    assert_eq!(routes(&["--vni", "999"]).len(), 0);
    assert_eq!(routes(&["--peer", "127.0.0.99"]).len(), 0);
    let table = String::from_utf8(ev.ctl(&["show", "routes"]).stdout).unwrap();
    assert!(
        table.contains("Route Distinguisher: 10.0.0.51:100"),
        "{table}"
    );
    assert!(
        table.contains("[2]:[0]:[48]:[aa:bb:cc:00:00:01]:[32]:[10.1.1.1]"),
        "{table}"
    );
    assert!(table.lines().all(|l| l.len() <= 80), "{table}");
    if let Some(path) = std::env::var_os("EVT_CAPTURE_ROUTES") {
        std::fs::write(path, serde_json::to_string_pretty(&all).unwrap()).unwrap();
    }

    // Through evpnd's RIB to its iBGP neighbour: same routes, VTEP next hop kept.
    let on_e2 = || -> Vec<serde_json::Value> {
        let out = ev2.ctl(&["show", "routes", "-j"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    };
    assert!(
        wait_until(Duration::from_secs(10), || on_e2().len() == 2),
        "{:?}",
        on_e2()
    );
    for r in on_e2() {
        assert_eq!(r["peer"], "127.0.0.52", "{r}");
        assert_eq!(r["next_hop"], "10.0.0.51", "{r}");
        assert_eq!(r["as_path"], "65002", "{r}");
        assert_eq!(r["local_pref"], 100, "{r}");
        assert_eq!(r["route_targets"], serde_json::json!(["65002:100"]));
    }
    let sent = ev.peers();
    let to_e2 = sent.iter().find(|p| p["address"] == "127.0.0.53").unwrap();
    assert_eq!(to_e2["prefixes"][0]["sent"], 2, "{to_e2}");

    let mut del = t2.to_vec();
    del[4] = "del";
    gobgp(&del);
    assert!(
        wait_until(Duration::from_secs(10), || evpn_received(&ev, "127.0.0.51")
            == 1),
        "{:?}",
        ev.peers()
    );
    let v = ev.peer("127.0.0.51");
    assert!(
        v["session"]["counters"]["updates"]["received"]
            .as_u64()
            .unwrap()
            >= 3,
        "{v}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || on_e2().len() == 1),
        "withdrawal not passed on: {:?}",
        on_e2()
    );
}

/// FRR bgpd (AS 65003) on `ip`, passive, expecting evpnd at `peer` (AS 65000).
impl Frr {
    fn start(dir: &Path, ip: Ipv4Addr, peer: Ipv4Addr, password: Option<&str>) -> Self {
        Self::start_with(dir, ip, peer, password, "")
    }

    fn start_with(
        dir: &Path,
        ip: Ipv4Addr,
        peer: Ipv4Addr,
        password: Option<&str>,
        extra: &str,
    ) -> Self {
        Self::start_as(dir, ip, peer, password, extra, 65003)
    }

    /// FRR in AS `asn` (65000: iBGP with evpnd).
    fn start_as(
        dir: &Path,
        ip: Ipv4Addr,
        peer: Ipv4Addr,
        password: Option<&str>,
        extra: &str,
        asn: u32,
    ) -> Self {
        let pw = password
            .map(|p| format!(" neighbor {peer} password {p}\n"))
            .unwrap_or_default()
            + extra;
        let conf = format!(
            "frr defaults datacenter\nhostname frrpeer\nrouter bgp {asn}\n \
             bgp router-id 10.0.0.3\n no bgp default ipv4-unicast\n \
             no bgp ebgp-requires-policy\n neighbor {peer} remote-as 65000\n \
             neighbor {peer} passive\n neighbor {peer} timers 3 9\n{pw} \
             address-family l2vpn evpn\n  neighbor {peer} activate\n exit-address-family\n"
        );
        Frr::spawn(dir, ip, &conf)
    }

    fn neighbor(&self, peer: Ipv4Addr) -> String {
        self.vtysh(&format!("show bgp neighbors {peer} json"))
    }
}

fn evpnd_for_frr(dir: &Path, me: Ipv4Addr, frr: &Frr, password: Option<&str>) -> Evpnd {
    evpnd_for_frr_with(dir, me, frr, password, "")
}

fn evpnd_for_frr_with(
    dir: &Path,
    me: Ipv4Addr,
    frr: &Frr,
    password: Option<&str>,
    extra: &str,
) -> Evpnd {
    let std::net::IpAddr::V4(fip) = frr.addr.ip() else {
        panic!("FRR runs on IPv4 loopback")
    };
    let mut line = PeerLine::new(fip, frr.addr.port()).remote_as(65003);
    if let Some(p) = password {
        line = line.with(&format!("password = \"{p}\""));
    }
    if !extra.is_empty() {
        line = line.with(extra);
    }
    Evpnd::start(
        dir,
        "e",
        &config(
            65000,
            "10.0.0.99",
            SocketAddr::from((me, free_port(me))),
            &dir.join("e/evpnd.sock"),
            &[line],
            "",
        ),
    )
}

#[test]
fn evpnd_with_frr_bgpd() {
    let dir = scratch("frr");
    let (f, e) = (ip(61), ip(62));
    let frr = Frr::start(&dir, f, e, None);
    let ev = evpnd_for_frr(&dir, e, &frr, None);
    ev.wait_established("127.0.0.61", Duration::from_secs(20));
    let v = ev.peer("127.0.0.61");
    assert_eq!(v["session"]["negotiated"]["peer_hostname"], "frrpeer");
    assert_eq!(v["session"]["negotiated"]["hold_time"], 9);
    let n = frr.neighbor(e);
    assert!(n.contains("\"bgpState\":\"Established\""), "{n}");
    // Our End-of-RIB (sent from the Adj-RIB-Out seam on Established) reached FRR.
    let eor = |n: &str| {
        n.replace([' ', '\n'], "")
            .contains("\"endOfRibRecv\":{\"l2VpnEvpn\":true}")
    };
    assert!(
        wait_until(Duration::from_secs(5), || eor(&frr.neighbor(e))),
        "{}",
        frr.neighbor(e)
    );
    // Soft clear: a ROUTE-REFRESH goes out and FRR counts it.
    let out = ev.ctl(&["clear", "peer", "127.0.0.61", "--soft"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        wait_until(Duration::from_secs(5), || ev.peer("127.0.0.61")["session"]
            ["counters"]["route_refreshes"]["sent"]
            == 1),
        "{}",
        ev.peer("127.0.0.61")
    );
    // Unknown peer: an error answer, exit 1.
    let out = ev.ctl(&["clear", "peer", "127.0.0.250"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn md5_with_frr_matching_password_comes_up() {
    let dir = scratch("md5ok");
    let (f, e) = (ip(71), ip(72));
    let frr = Frr::start(&dir, f, e, Some("s3cret-evpn"));
    let ev = evpnd_for_frr(&dir, e, &frr, Some("s3cret-evpn"));
    ev.wait_established("127.0.0.71", Duration::from_secs(30));
    assert_eq!(ev.peer("127.0.0.71")["password"], true);
    assert!(frr.neighbor(e).contains("\"bgpState\":\"Established\""));
}

#[test]
fn md5_with_frr_mismatched_password_never_comes_up() {
    let dir = scratch("md5bad");
    let (f, e) = (ip(73), ip(74));
    let frr = Frr::start(&dir, f, e, Some("right-key"));
    let ev = evpnd_for_frr(&dir, e, &frr, Some("wrong-key"));
    let up = wait_until(Duration::from_secs(12), || {
        ev.state_of("127.0.0.73").as_deref() == Some("Established")
    });
    assert!(!up, "Established despite a wrong MD5 key");
    let v = ev.peer("127.0.0.73");
    assert_eq!(v["session"]["counters"]["opens"]["received"], 0, "{v}");
    assert!(!frr.neighbor(e).contains("\"bgpState\":\"Established\""));
}

/// GTSM (RFC 5082): with `ttl-security hops 1` on both sides the session comes up (both
/// send with TTL 255); with it only on our side, FRR's eBGP packets (TTL 1) are dropped by
/// our IP_MINTTL 255 and the session never comes up.
#[test]
fn gtsm_with_frr() {
    let dir = scratch("gtsm");
    let (f, e) = (ip(75), ip(76));
    let frr = Frr::start_with(
        &dir,
        f,
        e,
        None,
        &format!(" neighbor {e} ttl-security hops 1\n"),
    );
    let ev = evpnd_for_frr_with(&dir, e, &frr, None, "ttl_security = 1");
    ev.wait_established("127.0.0.75", Duration::from_secs(20));
    drop(ev);
    drop(frr);

    let dir = scratch("gtsm-one-sided");
    let (f, e) = (ip(77), ip(78));
    let frr = Frr::start(&dir, f, e, None);
    let ev = evpnd_for_frr_with(&dir, e, &frr, None, "ttl_security = 1");
    let up = wait_until(Duration::from_secs(10), || {
        ev.state_of("127.0.0.77").as_deref() == Some("Established")
    });
    assert!(!up, "Established although FRR sends with TTL 1");
    assert_eq!(
        ev.peer("127.0.0.77")["session"]["counters"]["opens"]["received"],
        0
    );
}

/// Graceful restart (RFC 4724) as helper: gobgpd announces GR with a 4 s restart time
/// and dies (SIGKILL, no NOTIFICATION): evpnd keeps its route marked stale, then removes
/// it when the restart time runs out without the session coming back.
#[test]
fn graceful_restart_helper_keeps_then_sweeps_stale_routes() {
    require("gobgpd");
    require("gobgp");
    let dir = scratch("gr");
    let (g, e) = (ip(55), ip(56));
    let (pg, pe, api) = (free_port(g), free_port(e), free_port(Ipv4Addr::LOCALHOST));
    let conf = dir.join("gobgpd.toml");
    std::fs::write(
        &conf,
        format!(
            r#"[global.config]
  as = 65002
  router-id = "10.0.0.55"
  port = {pg}
  local-address-list = ["{g}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{e}"
    peer-as = 65000
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 4
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l2vpn-evpn"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
"#
        ),
    )
    .unwrap();
    let mut gobgpd = spawn_gobgpd(
        &conf,
        api,
        dir.join("gobgpd-state"),
        SocketAddr::from((g, pg)),
    );
    let ev = Evpnd::start(
        &dir,
        "e",
        &config(
            65000,
            "10.0.0.56",
            SocketAddr::from((e, pe)),
            &dir.join("e/evpnd.sock"),
            &[PeerLine::new(g, pg).remote_as(65002)],
            "",
        ),
    );
    ev.wait_established("127.0.0.55", Duration::from_secs(20));
    let v = ev.peer("127.0.0.55");
    assert_eq!(
        v["session"]["negotiated"]["graceful_restart"]["restart_time"], 4,
        "{v}"
    );
    let out = Command::new("gobgp")
        .args(["-p", &api.to_string(), "-u", "127.0.0.1"])
        .args([
            "global",
            "rib",
            "-a",
            "evpn",
            "add",
            "macadv",
            "aa:bb:cc:00:00:09",
            "10.1.1.9",
            "etag",
            "0",
            "label",
            "100",
            "rd",
            "10.0.0.55:100",
            "rt",
            "65002:100",
            "encap",
            "vxlan",
            "nexthop",
            "10.0.0.55",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let routes = || -> Vec<serde_json::Value> {
        let out = ev.ctl(&["show", "routes", "-j"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    };
    assert!(wait_until(Duration::from_secs(10), || routes().len() == 1));
    assert_eq!(routes()[0]["stale"], false);

    let _ = gobgpd.child.kill();
    let _ = gobgpd.child.wait();
    assert!(
        wait_until(Duration::from_secs(3), || routes()
            .first()
            .is_some_and(|r| r["stale"] == true)),
        "route not kept as stale: {:?}",
        routes()
    );
    assert!(
        wait_until(Duration::from_secs(10), || routes().is_empty()),
        "stale route not swept after the restart time: {:?}\n{}",
        routes(),
        ev.log_text()
    );
    assert!(ev.log_text().contains("stale routes removed"));
}

/// evpnd as route reflector (RFC 4456) between two iBGP clients: gobgpd injects a
/// type-2 route, FRR receives it reflected with ORIGINATOR_ID = gobgpd's router id and
/// CLUSTER_LIST = evpnd's cluster id, next hop (the VTEP) unchanged.
#[test]
fn route_reflector_between_gobgpd_and_frr() {
    require("gobgpd");
    require("gobgp");
    let dir = scratch("rr");
    let (g, rr, f) = (ip(81), ip(82), ip(83));
    let prr = free_port(rr);
    let gob = Gobgpd::start(&dir, "gobgpd", g, 65000, rr);
    let pg = gob.port;
    let frr = Frr::start_as(&dir, f, rr, None, "", 65000);
    let frr_port = frr.addr.port();
    let ev = Evpnd::start(
        &dir,
        "rr",
        &config(
            65000,
            "10.0.0.82",
            SocketAddr::from((rr, prr)),
            &dir.join("rr/evpnd.sock"),
            &[
                PeerLine::new(g, pg).with("route_reflector_client = true"),
                PeerLine::new(f, frr_port).with("route_reflector_client = true"),
            ],
            "",
        ),
    );
    ev.wait_established("127.0.0.81", Duration::from_secs(20));
    ev.wait_established("127.0.0.83", Duration::from_secs(20));
    gob.cli(&[
        "global",
        "rib",
        "-a",
        "evpn",
        "add",
        "macadv",
        "aa:bb:cc:00:00:81",
        "10.1.1.81",
        "etag",
        "0",
        "label",
        "100",
        "rd",
        "10.0.0.81:100",
        "rt",
        "65000:100",
        "encap",
        "vxlan",
        "nexthop",
        "10.0.0.81",
    ]);
    let show = || {
        let out = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&frr.vty)
            .args(["-c", "show bgp l2vpn evpn route detail json"])
            .output()
            .expect("vtysh");
        String::from_utf8_lossy(&out.stdout).replace([' ', '\n'], "")
    };
    let ok = wait_until(Duration::from_secs(10), || {
        show().contains("aa:bb:cc:00:00:81")
    });
    assert!(ok, "FRR did not get the reflected route: {}", show());
    let s = show();
    assert!(s.contains("\"originatorId\":\"10.0.0.81\""), "{s}");
    assert!(
        s.contains("\"clusterList\":{\"list\":[\"10.0.0.82\"]}"),
        "{s}"
    );
    assert!(s.contains("\"nexthops\":[{\"ip\":\"10.0.0.81\""), "{s}");
    assert!(s.contains("\"peerId\":\"127.0.0.82\""), "{s}");
    assert!(s.contains("RT:65000:100"), "{s}");
    let to_frr = ev
        .peers()
        .into_iter()
        .find(|p| p["address"] == "127.0.0.83")
        .unwrap();
    assert_eq!(to_frr["prefixes"][0]["sent"], 1, "{to_frr}");

    // FRR asks for everything again (soft in = ROUTE-REFRESH): the Adj-RIB-Out re-sends.
    let sent_before = ev.peer("127.0.0.83")["session"]["counters"]["updates"]["sent"]
        .as_u64()
        .unwrap();
    let out = Command::new("vtysh")
        .arg("--vty_socket")
        .arg(&frr.vty)
        .args(["-c", &format!("clear bgp l2vpn evpn {rr} soft in")])
        .output()
        .expect("vtysh");
    assert!(out.status.success(), "{out:?}");
    let ok = wait_until(Duration::from_secs(10), || {
        let c = &ev.peer("127.0.0.83")["session"]["counters"];
        c["route_refreshes"]["received"].as_u64() >= Some(1)
            && c["updates"]["sent"].as_u64() > Some(sent_before)
    });
    assert!(ok, "no re-advertisement: {}", ev.peer("127.0.0.83"));
}

/// Max-prefix with teardown: the RIB's count of routes from gobgpd passes the limit of 1,
/// the session sends Cease / Maximum Number of Prefixes Reached (6/1) and stays down.
#[test]
fn max_prefix_teardown_against_gobgpd() {
    require("gobgpd");
    require("gobgp");
    let dir = scratch("maxpfx");
    let (g, e) = (ip(85), ip(86));
    let pe = free_port(e);
    let gob = Gobgpd::start(&dir, "gobgpd", g, 65002, e);
    let pg = gob.port;
    let ev = Evpnd::start(
        &dir,
        "e",
        &config(
            65000,
            "10.0.0.86",
            SocketAddr::from((e, pe)),
            &dir.join("e/evpnd.sock"),
            &[PeerLine::new(g, pg)
                .remote_as(65002)
                .with("max_prefix = { limit = 1, action = \"teardown\" }")],
            "",
        ),
    );
    ev.wait_established("127.0.0.85", Duration::from_secs(20));
    for mac in ["aa:bb:cc:00:00:85", "aa:bb:cc:00:00:86"] {
        gob.mac_route("add", mac, "10.0.0.85", "65002:100");
    }
    let ok = wait_until(Duration::from_secs(10), || {
        let n = &ev.peer("127.0.0.85")["session"]["counters"]["last_notification_sent"];
        n["code"] == 6 && n["subcode"] == 1
    });
    assert!(ok, "no Cease 6/1: {}", ev.peer("127.0.0.85"));
    std::thread::sleep(Duration::from_secs(3));
    assert_ne!(ev.state_of("127.0.0.85").as_deref(), Some("Established"));
    assert!(
        ev.log_text().to_lowercase().contains("prefix"),
        "{}",
        ev.log_text()
    );
}

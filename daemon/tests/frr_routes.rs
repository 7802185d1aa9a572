//! evpnd and FRR 8.4 as two real VXLAN leaves (root only: `common::leaves`, two network
//! namespaces), each originating type-2 (MAC only, MAC+IPv4, MAC+IPv6; dynamic and
//! static MACs) and type-3 routes from its own kernel state. Proves, field by field, that
//! each side holds exactly what the other originated: RD, route type, ethernet tag, ESI,
//! MAC and its length, IP and its length, VNI (label), next hop (the originating VTEP),
//! origin, AS path (over eBGP the originator's AS prepended; over iBGP empty),
//! LOCAL_PREF (absent over eBGP, 100 over iBGP), MED (none), extended communities (RT,
//! encapsulation VXLAN, MAC mobility/sticky where set), and for type 3 the PMSI tunnel
//! (ingress replication, label = VNI; evpnd also shows the tunnel endpoint). Then, over
//! eBGP: withdrawals both ways, soft and hard resets from each side with the routes
//! coming back intact, and max-prefix teardown by evpnd (FRR 8.4 has no maximum-prefix
//! for L2VPN EVPN). MD5 and GTSM against FRR are in interop.rs.

mod common;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use common::leaves::*;
use common::*;
use serde_json::Value;

const E_PEER: &str = "10.99.0.0";
const F_PEER: &str = "10.99.0.1";

const E_HOSTS: [Host; 2] = [
    Host {
        mac: "aa:bb:cc:00:01:01",
        sticky: false,
        ipv4: None,
        ipv6: None,
    },
    Host {
        mac: "aa:bb:cc:00:01:02",
        sticky: true,
        ipv4: Some("10.1.1.12"),
        ipv6: Some("2001:db8::12"),
    },
];

const F_HOSTS: [Host; 2] = [
    Host {
        mac: "aa:bb:cc:00:02:01",
        sticky: true,
        ipv4: None,
        ipv6: None,
    },
    Host {
        mac: "aa:bb:cc:00:02:02",
        sticky: false,
        ipv4: Some("10.1.1.22"),
        ipv6: Some("2001:db8::22"),
    },
];

/// The prefixes (FRR's bracket notation, without RD) a leaf with `hosts` and `vtep`
/// originates: a MAC route per MAC, a MAC+IP route per address, one type 3.
pub fn expected_prefixes(hosts: &[Host], vtep: &str) -> Vec<String> {
    let mut v = vec![format!("[3]:[0]:[32]:[{vtep}]")];
    for h in hosts {
        v.push(format!("[2]:[0]:[48]:[{}]", h.mac));
        if let Some(ip) = h.ipv4 {
            v.push(format!("[2]:[0]:[48]:[{}]:[32]:[{ip}]", h.mac));
        }
        if let Some(ip) = h.ipv6 {
            v.push(format!("[2]:[0]:[48]:[{}]:[128]:[{ip}]", h.mac));
        }
    }
    v.sort();
    v
}

/// One EVPN path in FRR's `show bgp l2vpn evpn route detail json`: the route object
/// (prefix fields) and the path object (attributes).
#[derive(Clone, Debug)]
struct FrrPath {
    route: Value,
    path: Value,
}

fn frr_paths(frr: &Frr) -> Vec<FrrPath> {
    let v = frr.json("show bgp l2vpn evpn route detail json");
    let mut out = Vec::new();
    for rd in v.as_object().into_iter().flat_map(|o| o.values()) {
        for route in rd.as_object().into_iter().flat_map(|o| o.values()) {
            let Some(paths) = route.get("paths").and_then(Value::as_array) else {
                continue;
            };
            for p in paths
                .iter()
                .flat_map(|p| p.as_array().cloned().unwrap_or_default())
            {
                out.push(FrrPath {
                    route: route.clone(),
                    path: p,
                });
            }
        }
    }
    out
}

/// FRR's own routes (keyed by prefix).
fn frr_local(frr: &Frr) -> BTreeMap<String, FrrPath> {
    frr_paths(frr)
        .into_iter()
        .filter(|p| p.path["local"] == true)
        .map(|p| (p.route["prefix"].as_str().unwrap_or("").to_string(), p))
        .collect()
}

/// The paths FRR received from evpnd (keyed by prefix).
fn frr_from_evpnd(frr: &Frr) -> BTreeMap<String, FrrPath> {
    frr_paths(frr)
        .into_iter()
        .filter(|p| p.path["peer"]["peerId"] == E_PEER)
        .map(|p| (p.route["prefix"].as_str().unwrap_or("").to_string(), p))
        .collect()
}

/// evpnd's rows from `peer` (None: its own), keyed by prefix.
fn evpnd_rows(e: &Evpnd, peer: Option<&str>) -> BTreeMap<String, Value> {
    e.routes()
        .into_iter()
        .filter(|r| match peer {
            Some(p) => r["peer"] == p,
            None => r["peer"].is_null(),
        })
        .map(|r| (r["prefix"].as_str().unwrap_or("").to_string(), r))
        .collect()
}

/// Extended communities as a sorted list of FRR display tokens (FRR prints them in one
/// string; "MM:1, sticky MAC" is one community).
fn frr_ecs(path: &Value) -> Vec<String> {
    let s = path["extendedCommunity"]["string"].as_str().unwrap_or("");
    let mut v: Vec<String> = s
        .replace(", sticky MAC", ",sticky")
        .split_whitespace()
        .map(String::from)
        .collect();
    v.sort();
    v
}

fn evpnd_ecs(row: &Value) -> Vec<String> {
    let mut v: Vec<String> = row["extended_communities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str())
        .map(|e| e.replace(", sticky MAC", ",sticky"))
        .collect();
    v.sort();
    v
}

const ZERO_ESI: &str = "00:00:00:00:00:00:00:00:00:00";

/// The NLRI fields of evpnd row `r` equal FRR route `f` (both views of one route).
fn same_nlri(r: &Value, f: &FrrPath, ctx: &str) {
    let (route, path) = (&f.route, &f.path);
    assert_eq!(route["rd"], r["rd"], "RD {ctx}");
    assert_eq!(route["prefix"], r["prefix"], "prefix {ctx}");
    assert_eq!(route["routeType"], r["route_type"], "type {ctx}");
    assert_eq!(route["ethTag"], r["ethernet_tag"], "ethernet tag {ctx}");
    // FRR names a type 2's ESI only when it is not zero.
    match path.get("esi").or_else(|| route.get("esi")) {
        Some(esi) => assert_eq!(esi, &r["esi"], "ESI {ctx}"),
        None if r["route_type"] == 2 => assert_eq!(r["esi"], ZERO_ESI, "ESI {ctx}"),
        None => assert!(r["esi"].is_null(), "ESI {ctx}"),
    }
    if r["route_type"] == 2 {
        assert_eq!(route["macLen"], 48, "MAC length {ctx}");
        assert_eq!(route["mac"], r["mac"], "MAC {ctx}");
        let ip_len = match r["ip"].as_str() {
            None => 0,
            Some(ip) if ip.contains(':') => 128,
            Some(_) => 32,
        };
        if ip_len > 0 {
            assert_eq!(route["ipLen"], ip_len, "IP length {ctx}");
            assert_eq!(route["ip"], r["ip"], "IP {ctx}");
        } else {
            // FRR leaves out a zero IP length.
            assert!(route.get("ipLen").is_none_or(|l| l == 0), "IP length {ctx}");
            assert!(route.get("ip").is_none(), "IP {ctx}");
        }
        assert_eq!(path["vni"], r["vni"].to_string(), "VNI (label) {ctx}");
        assert_eq!(r["vni"], 100, "VNI {ctx}");
    } else {
        assert_eq!(r["route_type"], 3, "{ctx}");
        assert_eq!(route["ipLen"], 32, "originator length {ctx}");
        assert_eq!(route["ip"], r["originator"], "originator {ctx}");
        let pmsi = &r["pmsi_tunnel"];
        assert_eq!(pmsi["tunnel_type"], 6, "PMSI: ingress replication {ctx}");
        assert_eq!(
            path["pmsi"]["tunnelType"], "Ingress Replication",
            "PMSI {ctx}"
        );
        assert_eq!(path["pmsi"]["label"], pmsi["label"], "PMSI label {ctx}");
        assert_eq!(pmsi["label"], 100, "PMSI label = VNI {ctx}");
        // The tunnel endpoint is the originating VTEP (FRR's JSON does not show it).
        assert_eq!(
            pmsi["tunnel_id"]["ip"], r["originator"],
            "PMSI endpoint {ctx}"
        );
    }
}

/// What the two views of one route must show beyond the NLRI: next hop (the VTEP), AS
/// path (FRR's text, evpnd's), LOCAL_PREF (FRR's `locPrf`, evpnd's; None: absent).
struct Expect<'a> {
    vtep: &'a str,
    as_path: (&'a str, &'a str),
    local_pref: (Option<u64>, Option<u64>),
}

/// The path attributes of evpnd row `r` equal FRR path `f`.
fn same_attrs(r: &Value, f: &FrrPath, x: &Expect, ctx: &str) {
    let path = &f.path;
    assert_eq!(path["nexthops"][0]["ip"], x.vtep, "FRR next hop {ctx}");
    assert_eq!(r["next_hop"], x.vtep, "evpnd next hop {ctx}");
    assert_eq!(path["origin"], r["origin"], "origin {ctx}");
    assert_eq!(path["origin"], "IGP", "origin {ctx}");
    let (frr_as, evpnd_as) = x.as_path;
    assert_eq!(path["aspath"]["string"], frr_as, "FRR AS path {ctx}");
    assert_eq!(r["as_path"], evpnd_as, "evpnd AS path {ctx}");
    let (frr_lp, evpnd_lp) = x.local_pref;
    assert_eq!(
        path.get("locPrf").and_then(Value::as_u64),
        frr_lp,
        "LOCAL_PREF {ctx}"
    );
    assert_eq!(r["local_pref"].as_u64(), evpnd_lp, "LOCAL_PREF {ctx}");
    // No MED set by either side.
    assert!(
        r["med"].is_null() && path.get("metric").is_none(),
        "MED {ctx}"
    );
    assert_eq!(frr_ecs(path), evpnd_ecs(r), "extended communities {ctx}");
    let ecs = evpnd_ecs(r);
    assert!(ecs.iter().any(|e| e == "ET:8"), "VXLAN encapsulation {ctx}");
    assert!(ecs.iter().any(|e| e.starts_with("RT:")), "RT {ctx}");
    let mm = path["extendedCommunity"]["string"]
        .as_str()
        .unwrap_or("")
        .contains("MM:");
    assert_eq!(mm, !r["mac_mobility_seq"].is_null(), "MAC mobility {ctx}");
}

/// Waits until FRR holds exactly `want` from evpnd and evpnd exactly `want_f` from FRR.
fn wait_routes(frr: &Frr, e: &Evpnd, want_e: &[String], want_f: &[String]) {
    let ok = wait_until(Duration::from_secs(30), || {
        frr_from_evpnd(frr).keys().cloned().collect::<Vec<_>>() == want_e
            && evpnd_rows(e, Some(F_PEER))
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                == want_f
    });
    assert!(
        ok,
        "FRR has from evpnd {:?} (want {want_e:?}); evpnd has from FRR {:?} (want {want_f:?})\n{}",
        frr_from_evpnd(frr).keys().collect::<Vec<_>>(),
        evpnd_rows(e, Some(F_PEER)).keys().collect::<Vec<_>>(),
        e.log_text()
    );
}

/// Every field both ways, against each side's own view of its routes; `ibgp`: FRR is in
/// evpnd's AS (no AS prepended, LOCAL_PREF 100 on the wire).
fn compare_all(frr: &Frr, e: &Evpnd, ibgp: bool) {
    let own_e = evpnd_rows(e, None);
    let at_frr = frr_from_evpnd(frr);
    assert_eq!(
        own_e.keys().collect::<Vec<_>>(),
        at_frr.keys().collect::<Vec<_>>(),
        "evpnd originated vs FRR received"
    );
    let (e_vtep, f_vtep) = (E_VTEP.to_string(), F_VTEP.to_string());
    // Our own rows carry no AS and no LOCAL_PREF; FRR's own paths show "Local".
    let to_frr = Expect {
        vtep: &e_vtep,
        as_path: (if ibgp { "Local" } else { "65000" }, ""),
        local_pref: (ibgp.then_some(100), None),
    };
    for (k, r) in &own_e {
        let ctx = format!("evpnd -> FRR {k}: evpnd {r}\nFRR {:?}", at_frr[k]);
        same_nlri(r, &at_frr[k], &ctx);
        same_attrs(r, &at_frr[k], &to_frr, &ctx);
    }
    let own_f = frr_local(frr);
    let at_e = evpnd_rows(e, Some(F_PEER));
    assert_eq!(
        own_f.keys().collect::<Vec<_>>(),
        at_e.keys().collect::<Vec<_>>(),
        "FRR originated vs evpnd received"
    );
    let to_e = Expect {
        vtep: &f_vtep,
        as_path: ("Local", if ibgp { "" } else { "65003" }),
        local_pref: (None, ibgp.then_some(100)),
    };
    for (k, r) in &at_e {
        let ctx = format!("FRR -> evpnd {k}: evpnd {r}\nFRR {:?}", own_f[k]);
        same_nlri(r, &own_f[k], &ctx);
        same_attrs(r, &own_f[k], &to_e, &ctx);
        assert_eq!(r["best"], true, "{ctx}");
        assert_eq!(r["stale"], false, "{ctx}");
    }
}

fn counter(e: &Evpnd, path: &[&str]) -> u64 {
    let mut v = e.peer(F_PEER)["session"]["counters"].clone();
    for p in path {
        v = v[*p].clone();
    }
    v.as_u64().unwrap_or(0)
}

fn frr_neighbor(frr: &Frr) -> Value {
    frr.json(&format!("show bgp neighbors {E_PEER} json"))[E_PEER].clone()
}

fn add_hosts(l: &Leaves) {
    for h in &E_HOSTS {
        add_host(&l.e, h);
    }
    for h in &F_HOSTS {
        add_host(&l.f, h);
    }
}

/// iBGP (FRR in AS 65000): the same routes, no AS prepended, LOCAL_PREF 100 both ways.
#[test]
fn evpnd_and_frr_ibgp_leaves_exchange_every_field() {
    let dir = scratch("frr-routes-ibgp");
    let l = leaves("ri");
    add_hosts(&l);
    let frr = start_frr_as(&dir, &l, 65000, "");
    let e = start_evpnd(&dir, &l, &evpnd_conf_as(&dir, "", "", 65000));
    e.wait_established(F_PEER, Duration::from_secs(30));
    assert_eq!(e.peer(F_PEER)["session"]["negotiated"]["ibgp"], true);
    let want_e = expected_prefixes(&E_HOSTS, "10.0.0.1");
    let want_f = expected_prefixes(&F_HOSTS, "10.0.0.2");
    wait_routes(&frr, &e, &want_e, &want_f);
    compare_all(&frr, &e, true);
}

/// eBGP, then withdrawals, resets and max-prefix.
#[test]
fn evpnd_and_frr_leaves_exchange_every_field() {
    let dir = scratch("frr-routes");
    let l = leaves("rt");
    add_hosts(&l);
    let frr = start_frr(&dir, &l, "");
    let mut e = start_evpnd(&dir, &l, &evpnd_conf(&dir, "", ""));
    e.wait_established(F_PEER, Duration::from_secs(30));
    let want_e = expected_prefixes(&E_HOSTS, "10.0.0.1");
    let want_f = expected_prefixes(&F_HOSTS, "10.0.0.2");
    wait_routes(&frr, &e, &want_e, &want_f);
    compare_all(&frr, &e, false);
    // The sticky MAC is advertised sticky by evpnd, and FRR keeps the flag.
    let sticky = &frr_from_evpnd(&frr)["[2]:[0]:[48]:[aa:bb:cc:00:01:02]"];
    assert!(
        frr_ecs(&sticky.path).contains(&"MM:0,sticky".to_string()),
        "{sticky:?}"
    );

    // FRR's JSON does not show the PMSI tunnel endpoint; each side acting on the other's
    // type 3 (ingress replication) shows it took it: a flood entry to the other VTEP.
    let flood = |ns: &Netns, vtep: Ipv4Addr| {
        ns.out("bridge fdb show dev vxlan100")
            .lines()
            .any(|r| r.starts_with(&format!("00:00:00:00:00:00 dst {vtep} self ")))
    };
    assert!(
        wait_until(Duration::from_secs(10), || flood(&l.f, E_VTEP)
            && flood(&l.e, F_VTEP)),
        "flood entries: FRR {} evpnd {}\n{}\n{}",
        l.f.out("bridge fdb show dev vxlan100"),
        l.e.out("bridge fdb show dev vxlan100"),
        frr.vtysh("show evpn vni 100"),
        String::from_utf8_lossy(&e.ctl(&["show", "vni"]).stdout)
    );

    // The same kernel row reads the same on both: FRR's `static sticky` MAC is sticky too
    // (both follow the row's NTF_STICKY flag, not NUD_NOARP).
    let f_sticky = &frr_local(&frr)["[2]:[0]:[48]:[aa:bb:cc:00:02:01]"];
    assert!(
        frr_ecs(&f_sticky.path).contains(&"MM:0,sticky".to_string()),
        "{f_sticky:?}"
    );

    // Withdrawals both ways: a host leaves each leaf.
    del_host(&l.e, &E_HOSTS[1]);
    del_host(&l.f, &F_HOSTS[1]);
    let want_e1 = expected_prefixes(&E_HOSTS[..1], "10.0.0.1");
    let want_f1 = expected_prefixes(&F_HOSTS[..1], "10.0.0.2");
    wait_routes(&frr, &e, &want_e1, &want_f1);
    compare_all(&frr, &e, false);
    add_host(&l.e, &E_HOSTS[1]);
    add_host(&l.f, &F_HOSTS[1]);
    wait_routes(&frr, &e, &want_e, &want_f);

    // Soft reset from evpnd: ROUTE-REFRESH out, FRR re-sends its routes, nothing changes.
    let updates = counter(&e, &["updates", "received"]);
    let out = e.ctl(&["clear", "peer", F_PEER, "--soft"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        wait_until(Duration::from_secs(15), || counter(
            &e,
            &["updates", "received"]
        ) > updates),
        "FRR did not re-send after our ROUTE-REFRESH: {}",
        e.peer(F_PEER)
    );
    assert_eq!(counter(&e, &["route_refreshes", "sent"]), 1);
    // Soft reset from FRR (`soft in`): evpnd answers the ROUTE-REFRESH from its Adj-RIB-Out.
    let sent = counter(&e, &["updates", "sent"]);
    frr.vtysh(&format!("clear bgp l2vpn evpn {E_PEER} soft in"));
    assert!(
        wait_until(Duration::from_secs(15), || counter(
            &e,
            &["route_refreshes", "received"]
        ) >= 1
            && counter(&e, &["updates", "sent"]) > sent),
        "no re-advertisement on FRR's ROUTE-REFRESH: {}",
        e.peer(F_PEER)
    );
    wait_routes(&frr, &e, &want_e, &want_f);
    compare_all(&frr, &e, false);

    // Hard reset from evpnd (Cease 6/4), then from FRR: the session comes back, routes too.
    let drops = |frr: &Frr| {
        frr_neighbor(frr)["connectionsDropped"]
            .as_u64()
            .unwrap_or(0)
    };
    let d0 = drops(&frr);
    let out = e.ctl(&["clear", "peer", F_PEER]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        wait_until(Duration::from_secs(15), || drops(&frr) > d0),
        "{}",
        frr_neighbor(&frr)
    );
    let n = &e.peer(F_PEER)["session"]["counters"]["last_notification_sent"];
    // Both sides set the N bit (RFC 8538): Hard Reset (6/9) wrapping Administrative
    // Reset (6/4), so FRR keeps nothing as stale.
    assert_eq!(
        (
            n["code"].as_u64(),
            n["subcode"].as_u64(),
            n["data"].as_str()
        ),
        (Some(6), Some(9), Some("0604")),
        "{n}"
    );
    e.wait_established(F_PEER, Duration::from_secs(30));
    wait_routes(&frr, &e, &want_e, &want_f);
    compare_all(&frr, &e, false);
    let d1 = drops(&frr);
    frr.vtysh(&format!("clear bgp {E_PEER}"));
    assert!(
        wait_until(Duration::from_secs(15), || drops(&frr) > d1),
        "{}",
        frr_neighbor(&frr)
    );
    e.wait_established(F_PEER, Duration::from_secs(30));
    wait_routes(&frr, &e, &want_e, &want_f);
    compare_all(&frr, &e, false);
    let n = &e.peer(F_PEER)["session"]["counters"]["last_notification_received"];
    assert_eq!(n["code"], 6, "FRR's hard clear is a Cease: {n}");

    // Max-prefix at evpnd (teardown, limit 2): FRR's 5 routes end the session with
    // Cease 6/1, and FRR's routes go. (FRR 8.4 itself has no `maximum-prefix` for
    // L2VPN EVPN: under `address-family l2vpn evpn` vtysh applies it to IPv4 unicast.)
    e.restart_in(
        &evpnd_conf(
            &dir,
            "",
            "max_prefix = { limit = 2, action = \"teardown\" }",
        ),
        Some(&l.e),
    );
    // RFC 8538 (N bit on both sides): Hard Reset wrapping Maximum Number of Prefixes
    // Reached with RFC 4486's data (AFI 25, SAFI 70, limit 2).
    let sent_6_1 = || {
        let n = &e.peer(F_PEER)["session"]["counters"]["last_notification_sent"];
        n["code"] == 6 && n["subcode"] == 9 && n["data"] == "060100194600000002"
    };
    assert!(
        wait_until(Duration::from_secs(30), sent_6_1),
        "evpnd did not tear down at max-prefix: {}\n{}",
        e.peer(F_PEER),
        e.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(10), || frr_neighbor(&frr)
            .to_string()
            .contains("Maximum Number of Prefixes Reached")),
        "FRR did not get the 6/1: {}",
        frr_neighbor(&frr)
    );
    assert!(evpnd_rows(&e, Some(F_PEER)).is_empty());
    drop(e);
    drop(frr);
}

//! Route reflection (RFC 4456) with mixed clients: one evpnd route reflector (AS 65000;
//! cluster id = its router id, or a configured one), one evpnd client and one FRR 8.4
//! bgpd client, all iBGP on loopback (127.0.0.101..105 and 111..115, free ports, no root
//! needed).
//!
//! Where the routes come from: neither client can originate EVPN routes here without
//! kernel machinery (FRR needs zebra + a VXLAN device for `advertise-all-vni`, evpnd a
//! bridge + VXLAN in a namespace). The least machinery that still gives each client routes
//! it alone brings into AS 65000 is one gobgpd per client over eBGP (AS 65002 feeds the
//! evpnd client, AS 65004 the FRR client). Each client is then the originator of that
//! route inside the AS, so the RR must set ORIGINATOR_ID to that client's BGP identifier
//! and CLUSTER_LIST to its own cluster id, exactly as for a locally originated route; the
//! next hop (the VTEP the gobgpd announced) must pass the RR unchanged. Two separate
//! gobgpd instances, so that no route can reach the other client except through the RR.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use common::gobgp::Gobgpd;
use common::*;
use serde_json::Value;

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// FRR bgpd (AS 65000, router id `rid`) on `me`: iBGP client of the RR at `rr`
/// (passive; the RR connects), eBGP (AS 65004) to the gobgpd at `feed`:`feed_port`.
impl Frr {
    fn start(
        dir: &Path,
        me: Ipv4Addr,
        rid: &str,
        rr: Ipv4Addr,
        feed: Ipv4Addr,
        feed_port: u16,
    ) -> Self {
        let conf = format!(
            "frr defaults datacenter\nhostname frrclient\nrouter bgp 65000\n \
             bgp router-id {rid}\n no bgp default ipv4-unicast\n \
             no bgp ebgp-requires-policy\n \
             neighbor {rr} remote-as internal\n neighbor {rr} passive\n \
             neighbor {rr} timers 3 9\n \
             neighbor {feed} remote-as 65004\n neighbor {feed} port {feed_port}\n \
             neighbor {feed} update-source {me}\n neighbor {feed} timers 3 9\n \
             neighbor {feed} timers connect 1\n \
             address-family l2vpn evpn\n  neighbor {rr} activate\n  \
             neighbor {feed} activate\n exit-address-family\n"
        );
        Frr::spawn(dir, me, &conf)
    }

    fn established_with(&self, peer: Ipv4Addr) -> bool {
        self.vtysh(&format!("show bgp neighbors {peer} json"))
            .replace([' ', '\n'], "")
            .contains("\"bgpState\":\"Established\"")
    }

    /// Every path FRR holds for the route whose prefix key mentions `mac`.
    fn paths_for(&self, mac: &str) -> Vec<Value> {
        let text = self.vtysh("show bgp l2vpn evpn route detail json");
        // Unparsable output fails the test: an empty answer must not pass for a withdrawal.
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("vtysh gave no JSON ({e}): {text:?}"));
        let mut out = Vec::new();
        if let Some(rds) = v.as_object() {
            for rd in rds.values() {
                let Some(prefixes) = rd.as_object() else {
                    continue;
                };
                for (key, route) in prefixes {
                    if key.contains(mac) {
                        collect_paths(route, &mut out);
                    }
                }
            }
        }
        out
    }
}

/// FRR nests paths in arrays of arrays; a path is any object with a `peer` object.
fn collect_paths(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) if m.get("peer").is_some_and(Value::is_object) => out.push(v.clone()),
        Value::Object(m) => m.values().for_each(|x| collect_paths(x, out)),
        Value::Array(a) => a.iter().for_each(|x| collect_paths(x, out)),
        _ => {}
    }
}

#[test]
fn evpnd_rr_reflects_between_frr_and_evpnd_clients() {
    mixed_clients(101, None);
}

/// The same with `cluster_id` configured apart from the RR's router id: CLUSTER_LIST
/// carries the configured id, not the router id.
#[test]
fn evpnd_rr_with_configured_cluster_id() {
    mixed_clients(111, Some("10.9.9.9"));
}

/// Addresses 127.0.0.`base`..`base+4` (gobgpd A, RR, evpnd client, FRR client, gobgpd B),
/// router ids 10.0.0.`same last octet`.
fn mixed_clients(base: u8, cluster_id: Option<&str>) {
    let started = std::time::Instant::now();
    let dir = scratch(&format!("rr-mixed-{base}"));
    let a = |k: u8| format!("127.0.0.{}", base + k);
    let rid = |k: u8| format!("10.0.0.{}", base + k);
    let cluster = cluster_id.map(String::from).unwrap_or_else(|| rid(1));
    // ga feeds the evpnd client, gb the FRR client.
    let (ga, rr, ec, fc, gb) = (
        ip(base),
        ip(base + 1),
        ip(base + 2),
        ip(base + 3),
        ip(base + 4),
    );
    let gobgp_a = Gobgpd::start(&dir, "gobgpd-a", ga, 65002, ec);
    let gobgp_b = Gobgpd::start(&dir, "gobgpd-b", gb, 65004, fc);
    let frr = Frr::start(&dir, fc, &rid(3), rr, gb, gobgp_b.port);
    let (prr, pec) = (free_port(rr), free_port(ec));
    let rr_d = Evpnd::start(
        &dir,
        "rr",
        &with_cluster_id(
            config(
                65000,
                &rid(1),
                SocketAddr::from((rr, prr)),
                &dir.join("rr/evpnd.sock"),
                &[
                    PeerLine::new(ec, pec).with("route_reflector_client = true"),
                    PeerLine::new(fc, frr.addr.port()).with("route_reflector_client = true"),
                ],
                "",
            ),
            cluster_id,
        ),
    );
    let client = Evpnd::start(
        &dir,
        "client",
        &config(
            65000,
            &rid(2),
            SocketAddr::from((ec, pec)),
            &dir.join("client/evpnd.sock"),
            &[
                PeerLine::new(rr, prr),
                PeerLine::new(ga, gobgp_a.port).remote_as(65002),
            ],
            "",
        ),
    );
    rr_d.wait_established(&a(2), Duration::from_secs(20));
    rr_d.wait_established(&a(3), Duration::from_secs(20));
    client.wait_established(&a(0), Duration::from_secs(20));
    assert!(
        wait_until(Duration::from_secs(20), || frr.established_with(gb)),
        "FRR not Established with its gobgpd: {}",
        frr.vtysh(&format!("show bgp neighbors {gb} json"))
    );

    // Both clients bring one MAC route each into AS 65000.
    let (mac_e, vtep_e) = ("aa:bb:cc:00:01:03", "10.0.0.201");
    let (mac_f, vtep_f) = ("aa:bb:cc:00:01:04", "10.0.0.202");
    gobgp_a.mac_route("add", mac_e, vtep_e, "65000:100");
    gobgp_b.mac_route("add", mac_f, vtep_f, "65000:100");

    // evpnd client <- RR <- FRR client.
    assert!(
        wait_until(Duration::from_secs(15), || !client
            .routes_for_mac(mac_f)
            .is_empty()),
        "evpnd client did not get FRR's route: rr has {:?}\nFRR has {:?}",
        rr_d.routes_for_mac(mac_f),
        frr.paths_for(mac_f)
    );
    let got = client.routes_for_mac(mac_f);
    assert_eq!(got.len(), 1, "{got:?}");
    let r = &got[0];
    assert_eq!(r["peer"], a(1), "{r}");
    assert_eq!(r["originator_id"], rid(3), "{r}");
    assert_eq!(r["cluster_list"], serde_json::json!([cluster]), "{r}");
    assert_eq!(r["next_hop"], vtep_f, "VTEP changed: {r}");
    assert_eq!(r["as_path"], "65004", "{r}");
    assert_eq!(r["route_targets"], serde_json::json!(["65000:100"]), "{r}");
    assert_eq!(r["vni"], 100, "{r}");
    assert_eq!(r["best"], true, "{r}");

    // FRR client <- RR <- evpnd client.
    assert!(
        wait_until(Duration::from_secs(15), || !frr.paths_for(mac_e).is_empty()),
        "FRR did not get the evpnd client's route: rr has {:?}",
        rr_d.routes_for_mac(mac_e)
    );
    let paths = frr.paths_for(mac_e);
    assert_eq!(paths.len(), 1, "{paths:?}");
    let p = &paths[0];
    assert_eq!(p["peer"]["peerId"], a(1), "{p}");
    assert_eq!(p["originatorId"], rid(2), "{p}");
    assert_eq!(
        p["clusterList"]["list"],
        serde_json::json!([cluster]),
        "{p}"
    );
    assert_eq!(p["nexthops"][0]["ip"], vtep_e, "VTEP changed: {p}");
    assert_eq!(p["aspath"]["string"], "65002", "{p}");

    // The RR learned each route from the client only, once.
    for (mac, from) in [(mac_e, a(2)), (mac_f, a(3))] {
        let at_rr = rr_d.routes_for_mac(mac);
        assert_eq!(at_rr.len(), 1, "{at_rr:?}");
        assert_eq!(at_rr[0]["peer"], from, "{at_rr:?}");
        // A client's own route as learned: no RR attributes yet.
        assert!(at_rr[0]["originator_id"].is_null(), "{at_rr:?}");
        assert_eq!(at_rr[0]["cluster_list"], serde_json::json!([]), "{at_rr:?}");
    }

    // No echo: each client keeps exactly one path for its own route (the eBGP one), so it
    // neither got it back from the RR nor installed such a copy as a second path. Give
    // a reflected echo time to arrive first.
    std::thread::sleep(Duration::from_secs(2));
    let own_e = client.routes_for_mac(mac_e);
    assert_eq!(
        own_e.len(),
        1,
        "evpnd client has its own route twice: {own_e:?}"
    );
    assert_eq!(own_e[0]["peer"], a(0), "{own_e:?}");
    let own_f = frr.paths_for(mac_f);
    assert_eq!(own_f.len(), 1, "FRR has its own route twice: {own_f:?}");
    assert_eq!(own_f[0]["peer"]["peerId"], a(4), "{own_f:?}");
    // The RR's Adj-RIB-Out: one route to each client, the other client's.
    for addr in [a(2), a(3)] {
        let p = rr_d.peer(&addr);
        assert_eq!(p["prefixes"][0]["sent"], 1, "{p}");
        assert_eq!(p["prefixes"][0]["received"], 1, "{p}");
    }

    // Withdrawals, each way through the RR.
    gobgp_b.mac_route("del", mac_f, vtep_f, "65000:100");
    assert!(
        wait_until(Duration::from_secs(15), || client
            .routes_for_mac(mac_f)
            .is_empty()),
        "FRR's withdrawal did not reach the evpnd client: {:?}",
        client.routes_for_mac(mac_f)
    );
    gobgp_a.mac_route("del", mac_e, vtep_e, "65000:100");
    assert!(
        wait_until(Duration::from_secs(15), || frr.paths_for(mac_e).is_empty()),
        "the evpnd client's withdrawal did not reach FRR: {:?}",
        frr.paths_for(mac_e)
    );
    assert!(rr_d.routes_for_mac(mac_e).is_empty());
    assert!(rr_d.routes_for_mac(mac_f).is_empty());
    eprintln!("route reflection test took {:?}", started.elapsed());
}

/// Puts `cluster_id = "ID"` into the [global] table of a config made by `config`.
fn with_cluster_id(text: String, cluster_id: Option<&str>) -> String {
    assert!(text.contains("[global]\n"), "config layout changed: {text}");
    match cluster_id {
        Some(id) => text.replacen(
            "[global]\n",
            &format!("[global]\ncluster_id = \"{id}\"\n"),
            1,
        ),
        None => text,
    }
}

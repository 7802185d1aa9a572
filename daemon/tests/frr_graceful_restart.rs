//! Graceful restart (RFC 4724) between evpnd and FRR 8.4 as two real VXLAN leaves (root
//! only: `common::leaves`), each side restarting in turn (SIGKILL, no NOTIFICATION).
//!
//! What FRR 8.4.4 does, as found (tshark on a capture of FRR's OPEN, `show bgp neighbors
//! json`, and the asserts below):
//! - With `bgp graceful-restart`, FRR's OPEN carries the GR capability with R and N set
//!   and lists every activated AFI/SAFI, L2VPN EVPN included, each with F = 0 (capture:
//!   `Restart Timers: 0xc078 ... AFI: IPv4 (1) SAFI: Unicast (1) Flag: 0x00, AFI:
//!   Layer-2 VPN (25) SAFI: EVPN (70) Flag: 0x00`; evpnd's negotiated view here: EVPN
//!   listed, `preserved` empty). Without it (the datacenter default, helper mode) the
//!   capability lists no AFI/SAFI at all.
//! - As helper FRR keeps nothing of EVPN: its GR bookkeeping loops over
//!   `FOREACH_AFI_SAFI_NSF` (lib/zebra.h: SAFI_UNICAST..SAFI_MPLS_VPN, SAFI_EVPN is
//!   outside). `gracefulRestartInfo` has no `l2VpnEvpn` entry, a GR capability that lists
//!   only EVPN (evpnd's) shows as `remoteGrMode: "Helper"`, and when the session drops the
//!   peer's EVPN routes, and the kernel entries made from them, go at once. By hand
//!   against gobgpd listing IPv4 unicast and EVPN: after SIGKILL, FRR showed the IPv4
//!   route as `S>` (stale, kept) and `No prefixes displayed` for EVPN.
//! - No configuration changes that: the NSF family loop is a compile-time macro
//!   (per-neighbour `graceful-restart` only selects the GR mode), so route retention
//!   across a restart can only be proven on evpnd's side. FRR's own helper code
//!   (bgp_fsm.c, on Established) clears a restarted peer's stale routes of a family whose
//!   F bit is not set in the new OPEN, the rule evpnd follows below.
//! - zebra keeps a local MAC deleted from the kernel while bgpd is down and advertises it
//!   again when bgpd is back; only a zebra restart forgets it.
//!
//! So the RFC-correct behaviour of evpnd, which these tests prove:
//! - FRR without `bgp graceful-restart` restarting: its capability lists no family, so
//!   evpnd withdraws FRR's routes at once (never stale).
//! - FRR restarting, evpnd helper: keep FRR's EVPN routes as stale while FRR is away
//!   (FRR listed EVPN); when FRR's new OPEN lists EVPN with F = 0, remove the stale ones
//!   at once (RFC 4724 section 4.2; FRR does the same for its NSF families); then hold
//!   exactly what FRR re-advertises, nothing stale, and forget what it did not.
//! - evpnd restarting, FRR peer: FRR drops evpnd's routes (above); the restarted evpnd
//!   announces R (and F for EVPN: its kernel entries survived), re-advertises its
//!   current routes (not the departed host's), gets FRR's again, and ends the restart
//!   after End-of-RIB.

mod common;

use std::time::Duration;

use common::leaves::*;
use common::*;
use serde_json::Value;

const E_PEER: &str = "10.99.0.0";
const F_PEER: &str = "10.99.0.1";

const FRR_GR: &str = " bgp graceful-restart\n bgp graceful-restart restart-time 60\n";

const E_HOSTS: [Host; 2] = [
    Host {
        mac: "aa:bb:cc:00:03:01",
        sticky: false,
        ipv4: Some("10.1.1.31"),
        ipv6: None,
    },
    Host {
        mac: "aa:bb:cc:00:03:02",
        sticky: false,
        ipv4: None,
        ipv6: None,
    },
];

const F_HOSTS: [Host; 2] = [
    Host {
        mac: "aa:bb:cc:00:04:01",
        sticky: false,
        ipv4: Some("10.1.1.41"),
        ipv6: None,
    },
    Host {
        mac: "aa:bb:cc:00:04:02",
        sticky: false,
        ipv4: None,
        ipv6: None,
    },
];

/// Prefixes a leaf with `hosts` and `vtep` originates.
fn prefixes(hosts: &[Host], vtep: &str) -> Vec<String> {
    let mut v = vec![format!("[3]:[0]:[32]:[{vtep}]")];
    for h in hosts {
        v.push(format!("[2]:[0]:[48]:[{}]", h.mac));
        if let Some(ip) = h.ipv4 {
            v.push(format!("[2]:[0]:[48]:[{}]:[32]:[{ip}]", h.mac));
        }
    }
    v.sort();
    v
}

/// evpnd's paths from FRR: (prefix, stale), sorted.
fn evpnd_from_frr(e: &Evpnd) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = e
        .routes()
        .into_iter()
        .filter(|r| r["peer"] == F_PEER)
        .map(|r| {
            (
                r["prefix"].as_str().unwrap_or("").into(),
                r["stale"] == true,
            )
        })
        .collect();
    v.sort();
    v
}

/// FRR's paths from evpnd: (prefix, stale), sorted.
fn frr_from_evpnd(frr: &Frr) -> Vec<(String, bool)> {
    let v = frr.json("show bgp l2vpn evpn route detail json");
    let mut out = Vec::new();
    for rd in v.as_object().into_iter().flat_map(|o| o.values()) {
        for route in rd.as_object().into_iter().flat_map(|o| o.values()) {
            let paths = route["paths"].as_array().cloned().unwrap_or_default();
            for p in paths
                .iter()
                .flat_map(|p| p.as_array().cloned().unwrap_or_default())
            {
                if p["peer"]["peerId"] == E_PEER {
                    out.push((
                        route["prefix"].as_str().unwrap_or("").to_string(),
                        p["stale"] == true,
                    ));
                }
            }
        }
    }
    out.sort();
    out
}

fn fresh(p: &[String]) -> Vec<(String, bool)> {
    p.iter().map(|p| (p.clone(), false)).collect()
}

fn frr_neighbor(frr: &Frr) -> Value {
    frr.json(&format!("show bgp neighbors {E_PEER} json"))[E_PEER].clone()
}

fn fdb(ns: &Netns) -> String {
    ns.out("bridge fdb show dev vxlan100")
}

fn setup(tag: &str) -> (Scratch, Leaves) {
    let dir = scratch(tag);
    let l = leaves(tag);
    for h in &E_HOSTS {
        add_host(&l.e, h);
    }
    for h in &F_HOSTS {
        add_host(&l.f, h);
    }
    (dir, l)
}

/// FRR (GR on) crashes twice: bgpd alone, then bgpd and zebra with one host fewer when
/// it is back; evpnd is the helper.
#[test]
fn frr_restarts_evpnd_keeps_its_evpn_routes_as_stale_until_frr_is_back() {
    let (dir, l) = setup("grf");
    let mut frr = start_frr(&dir, &l, FRR_GR);
    let e = start_evpnd(&dir, &l, &evpnd_conf(&dir, "", ""));
    e.wait_established(F_PEER, Duration::from_secs(30));
    let all_f = prefixes(&F_HOSTS, "10.0.0.2");
    assert!(
        wait_until(Duration::from_secs(30), || evpnd_from_frr(&e)
            == fresh(&all_f)),
        "{:?}",
        evpnd_from_frr(&e)
    );
    // FRR's GR capability as evpnd decoded it: EVPN listed, F = 0, R and N set.
    let gr = e.peer(F_PEER)["session"]["negotiated"]["graceful_restart"].clone();
    assert_eq!(gr["restart_time"], 60, "{gr}");
    assert_eq!(
        gr["families"],
        serde_json::json!([{"afi": "l2vpn", "safi": "evpn"}]),
        "FRR did not list L2VPN EVPN: {gr}"
    );
    assert_eq!(gr["notification"], true, "{gr}");
    assert_eq!(gr["preserved"], serde_json::json!([]), "F set by FRR: {gr}");

    // bgpd crashes: evpnd keeps every EVPN route of FRR, stale, and the kernel keeps
    // forwarding to them.
    frr.crash();
    let stale_all: Vec<(String, bool)> = all_f.iter().map(|p| (p.clone(), true)).collect();
    assert!(
        wait_until(Duration::from_secs(15), || evpnd_from_frr(&e) == stale_all),
        "not kept as stale: {:?}\n{}",
        evpnd_from_frr(&e),
        e.log_text()
    );
    assert!(fdb(&l.e).contains("aa:bb:cc:00:04:02"), "{}", fdb(&l.e));

    // bgpd is back (F = 0 for EVPN): the stale routes go at once (logged), FRR's
    // routes come in again, nothing stale is left.
    frr.restart();
    e.wait_established(F_PEER, Duration::from_secs(30));
    assert!(
        wait_until(Duration::from_secs(30), || evpnd_from_frr(&e)
            == fresh(&all_f)),
        "after bgpd's restart: {:?}\n{}",
        evpnd_from_frr(&e),
        e.log_text()
    );
    assert!(
        e.log_text().contains("forwarding state not preserved"),
        "stale routes not removed on FRR's F = 0: {}",
        e.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(10), || frr_neighbor(&frr)
            ["gracefulRestartInfo"]["endOfRibSend"]["l2VpnEvpn"]
            == true),
        "FRR sent no End-of-RIB: {}",
        frr_neighbor(&frr)
    );

    // All of FRR (zebra too) crashes, and one of its hosts leaves meanwhile (zebra
    // keeps a MAC deleted while bgpd is away, so only a zebra restart forgets it): evpnd
    // keeps the old routes stale, then holds exactly FRR's new set, nothing stale left;
    // the departed host is gone from evpnd's kernel too.
    frr.crash_with_zebra();
    assert!(
        wait_until(Duration::from_secs(15), || evpnd_from_frr(&e) == stale_all),
        "not kept as stale: {:?}",
        evpnd_from_frr(&e)
    );
    del_host(&l.f, &F_HOSTS[1]);
    frr.restart();
    e.wait_established(F_PEER, Duration::from_secs(30));
    let now_f = prefixes(&F_HOSTS[..1], "10.0.0.2");
    assert!(
        wait_until(Duration::from_secs(30), || evpnd_from_frr(&e)
            == fresh(&now_f)),
        "after FRR's restart: {:?} (want {now_f:?})\n{}\n{}",
        evpnd_from_frr(&e),
        frr.vtysh("show evpn mac vni 100"),
        e.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(10), || !fdb(&l.e)
            .contains("aa:bb:cc:00:04:02")),
        "{}",
        fdb(&l.e)
    );
}

/// FRR in its default GR mode (helper: the capability lists no AFI/SAFI) crashes:
/// evpnd keeps nothing, FRR's routes and the kernel entries made from them go at once;
/// when bgpd is back they all return.
#[test]
fn frr_without_gr_families_crashes_evpnd_flushes_at_once() {
    let (dir, l) = setup("grh");
    let mut frr = start_frr(&dir, &l, "");
    let e = start_evpnd(&dir, &l, &evpnd_conf(&dir, "", ""));
    e.wait_established(F_PEER, Duration::from_secs(30));
    let all_f = prefixes(&F_HOSTS, "10.0.0.2");
    assert!(
        wait_until(Duration::from_secs(30), || evpnd_from_frr(&e)
            == fresh(&all_f)),
        "{:?}",
        evpnd_from_frr(&e)
    );
    let gr = e.peer(F_PEER)["session"]["negotiated"]["graceful_restart"].clone();
    assert_eq!(gr["families"], serde_json::json!([]), "{gr}");

    frr.crash();
    // Never stale: gone in one step.
    let mut saw_stale = false;
    let gone = wait_until(Duration::from_secs(15), || {
        let r = evpnd_from_frr(&e);
        saw_stale |= r.iter().any(|(_, s)| *s);
        r.is_empty()
    });
    assert!(gone, "FRR's routes kept: {:?}", evpnd_from_frr(&e));
    assert!(
        !saw_stale,
        "routes of a peer without EVPN in its GR capability kept stale"
    );
    assert!(
        wait_until(Duration::from_secs(10), || !fdb(&l.e)
            .contains("aa:bb:cc:00:04:02")),
        "{}",
        fdb(&l.e)
    );

    frr.restart();
    e.wait_established(F_PEER, Duration::from_secs(30));
    assert!(
        wait_until(Duration::from_secs(30), || evpnd_from_frr(&e)
            == fresh(&all_f)),
        "{:?}",
        evpnd_from_frr(&e)
    );
}

/// evpnd crashes and comes back with one host fewer; FRR (GR on) is the peer.
#[test]
fn evpnd_restarts_frr_drops_then_relearns_its_routes() {
    let (dir, l) = setup("gre");
    let frr = start_frr(&dir, &l, FRR_GR);
    let text = evpnd_conf(&dir, "restart_time = 60", "");
    let mut e = start_evpnd(&dir, &l, &text);
    e.wait_established(F_PEER, Duration::from_secs(30));
    let all_e = prefixes(&E_HOSTS, "10.0.0.1");
    let all_f = prefixes(&F_HOSTS, "10.0.0.2");
    assert!(
        wait_until(Duration::from_secs(30), || frr_from_evpnd(&frr)
            == fresh(&all_e)
            && evpnd_from_frr(&e) == fresh(&all_f)),
        "FRR {:?} evpnd {:?}",
        frr_from_evpnd(&frr),
        evpnd_from_frr(&e)
    );
    // FRR as helper: GR negotiated both ways, but evpnd's GR capability (it lists L2VPN
    // EVPN only) counts as mere "Helper" to FRR, and FRR has no per-family GR state for
    // EVPN: only its NSF families (unicast..MPLS VPN) count.
    let n = frr_neighbor(&frr);
    let gri = &n["gracefulRestartInfo"];
    assert_eq!(
        n["neighborCapabilities"]["gracefulRestart"], "advertisedAndReceived",
        "{n}"
    );
    assert_eq!(gri["remoteGrMode"], "Helper", "{n}");
    assert!(
        gri.get("l2VpnEvpn").is_none(),
        "FRR keeps EVPN GR state: {n}"
    );
    let remote_fdb = |ns: &Netns| fdb(ns).contains("aa:bb:cc:00:03:02");
    assert!(
        wait_until(Duration::from_secs(10), || remote_fdb(&l.f)),
        "{}",
        fdb(&l.f)
    );

    // Crash: FRR drops evpnd's EVPN routes at once, and its kernel entries with them.
    e.crash();
    assert!(
        wait_until(Duration::from_secs(15), || frr_from_evpnd(&frr).is_empty()),
        "FRR kept EVPN routes: {:?}",
        frr_from_evpnd(&frr)
    );
    assert!(
        wait_until(Duration::from_secs(10), || !remote_fdb(&l.f)),
        "{}",
        fdb(&l.f)
    );
    // evpnd's kernel entries from FRR survive the crash (forwarding goes on).
    assert!(fdb(&l.e).contains("aa:bb:cc:00:04:02"), "{}", fdb(&l.e));
    del_host(&l.e, &E_HOSTS[1]);

    // Restart: R to FRR, current routes both ways, nothing stale anywhere.
    e.restart_in(&text, Some(&l.e));
    e.wait_established(F_PEER, Duration::from_secs(30));
    let now_e = prefixes(&E_HOSTS[..1], "10.0.0.1");
    assert!(
        wait_until(Duration::from_secs(30), || frr_from_evpnd(&frr)
            == fresh(&now_e)
            && evpnd_from_frr(&e) == fresh(&all_f)),
        "FRR {:?} (want {now_e:?}) evpnd {:?}\n{}",
        frr_from_evpnd(&frr),
        evpnd_from_frr(&e),
        e.log_text()
    );
    let n = frr_neighbor(&frr);
    assert_eq!(n["gracefulRestartInfo"]["rBit"], true, "no R to FRR: {n}");
    assert!(
        wait_until(Duration::from_secs(15), || e
            .log_text()
            .contains("graceful restart over")),
        "{}",
        e.log_text()
    );
    // FRR's routes are in evpnd's kernel again (re-synced after End-of-RIB).
    assert!(fdb(&l.e).contains("aa:bb:cc:00:04:02"), "{}", fdb(&l.e));
    assert!(fdb(&l.f).contains("aa:bb:cc:00:03:01"), "{}", fdb(&l.f));
}

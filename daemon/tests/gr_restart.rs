//! evpnd as the graceful-restarting speaker (RFC 4724) against FRR bgpd (root only: a
//! network namespace of its own holds a bridge and a VXLAN device, and runs FRR and
//! evpnd on its loopback).
//!
//! Entries of a "previous run" are `extern_learn` rows of the VXLAN device (what evpnd
//! owns, as the lab test `two_leaf` relies on too). Proves: evpnd finding them
//! announces R in its OPEN (FRR's `show bgp neighbors json`: `rBit`) and R + F(L2VPN
//! EVPN) (a second evpnd as helper: its negotiated GR view); the stale row stays in the
//! kernel until the peers' End-of-RIB, then goes; SIGKILL -> the helper keeps evpnd's
//! routes as stale; the restarted evpnd's OPEN has R and F again and the helper never lost
//! the routes (never 0 while polling), they are refreshed (no longer stale).
//!
//! FRR 8.4 is not the helper here: its graceful restart covers only SAFIs up to MPLS VPN
//! (`FOREACH_AFI_SAFI_NSF` in lib/zebra.h), so it drops EVPN routes when the session
//! dies, and shows no per-family F for EVPN.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

const EVPND_IP: &str = "127.0.0.72";
const FRR_IP: &str = "127.0.0.71";
const STALE1: &str = "00:00:5e:00:53:71";
const STALE2: &str = "00:00:5e:00:53:72";
const HELPER_IP: &str = "127.0.0.73";

fn netns() -> Netns {
    let ns = Netns::new(&format!("evt-gr-{}", std::process::id()));
    for c in [
        "ip link set lo up",
        "ip addr add 10.0.0.72/32 dev lo",
        "ip link add br100 type bridge",
        "ip link add vxlan100 type vxlan id 100 local 10.0.0.72 dstport 4789 nolearning",
        "ip link set vxlan100 master br100",
        "ip link set br100 up",
        "ip link set vxlan100 up",
    ] {
        ns.sh(c);
    }
    ns
}

/// A row evpnd owns, as a previous run would have left it.
fn add_owned(ns: &str, mac: &str) {
    ns_run(
        ns,
        &[
            "bridge",
            "fdb",
            "add",
            mac,
            "dev",
            "vxlan100",
            "dst",
            "10.0.0.9",
            "self",
            "extern_learn",
        ],
    );
}

fn has_mac(ns: &str, mac: &str) -> bool {
    let o = ns_run(ns, &["bridge", "fdb", "show", "dev", "vxlan100"]);
    String::from_utf8_lossy(&o.stdout).contains(mac)
}

/// FRR bgpd (no zebra) in `ns` on FRR_IP:`port`, GR on, expecting evpnd at EVPND_IP.
fn start_frr(dir: &Path, ns: &Netns, port: u16) -> Frr {
    let conf = format!(
        "frr defaults datacenter\nhostname frrgr\nrouter bgp 65003\n \
         bgp router-id 10.0.0.71\n no bgp default ipv4-unicast\n \
         no bgp ebgp-requires-policy\n bgp graceful-restart\n \
         bgp graceful-restart restart-time 120\n bgp graceful-restart stalepath-time 120\n \
         neighbor {EVPND_IP} remote-as 65000\n neighbor {EVPND_IP} passive\n \
         neighbor {EVPND_IP} timers 3 9\n \
         address-family l2vpn evpn\n  neighbor {EVPND_IP} activate\n exit-address-family\n"
    );
    let addr = SocketAddr::new(FRR_IP.parse().expect("FRR_IP"), port);
    Frr::spawn_in_without_zebra(dir, ns, addr, &conf)
}

fn neighbor(frr: &Frr) -> Value {
    frr.json(&format!("show bgp neighbors {EVPND_IP} json"))[EVPND_IP].clone()
}

/// EVPN prefixes FRR accepted from evpnd (0 when the session or the routes are gone).
fn received(frr: &Frr) -> u64 {
    neighbor(frr)["addressFamilyInfo"]["l2VpnEvpn"]["acceptedPrefixCounter"]
        .as_u64()
        .unwrap_or(0)
}

fn ctl(e: &Evpnd, args: &[&str]) -> Value {
    serde_json::from_slice(&e.ctl(args).stdout).unwrap_or(Value::Null)
}

/// Routes the helper holds from the restarting evpnd: (count, any stale).
fn helper_routes(h: &Evpnd) -> (usize, bool) {
    let a = h.routes();
    let stale = a.iter().any(|r| r["stale"] == true);
    (a.len(), stale)
}

/// R and F(L2VPN EVPN) of the restarting evpnd's OPEN, as the helper negotiated them.
fn helper_sees_r_and_f(h: &Evpnd) -> (bool, bool, Value) {
    let v = ctl(h, &["show", "peer", EVPND_IP, "-j"]);
    let gr = v["session"]["negotiated"]["graceful_restart"].clone();
    let r = gr["restart_state"] == true;
    let f = gr["preserved"].as_array().is_some_and(|p| !p.is_empty());
    (r, f, gr)
}

/// R of evpnd's last OPEN as FRR decoded it (FRR 8.4 shows no per-family F for EVPN).
fn r_bit(frr: &Frr) -> bool {
    neighbor(frr)["gracefulRestartInfo"]["rBit"] == true
}

#[test]
fn evpnd_restarts_gracefully_keeping_its_routes_at_the_peers() {
    let dir = scratch("grr");
    let ns = netns();
    let port = 1790;
    let frr = start_frr(&dir, &ns, port);
    // The helper: evpnd without a FIB (a spine), GR on (the default).
    let helper = format!(
        "[global]\nasn = 65004\nrouter_id = \"10.0.0.73\"\nlisten = [\"{HELPER_IP}:{port}\"]\n\n\
         [control]\nsocket = \"{}\"\n\n[logging]\nlevel = \"debug\"\n\n\
         [[peer]]\naddress = \"{EVPND_IP}\"\nremote_as = 65000\nport = {port}\nhold_time = 9\n\
         keepalive = 3\nconnect_retry = 1\npassive = true\n\n[fib]\nenabled = false\n",
        dir.join("h/evpnd.sock").display()
    );
    let text = format!(
        "[global]\nasn = 65000\nrouter_id = \"10.0.0.72\"\nlisten = [\"{EVPND_IP}:{port}\"]\n\
         restart_time = 60\n\n[control]\nsocket = \"{}\"\n\n[logging]\nlevel = \"debug\"\n\n\
         [[peer]]\naddress = \"{FRR_IP}\"\nremote_as = 65003\nport = {port}\nhold_time = 9\n\
         keepalive = 3\nconnect_retry = 1\n\n\
         [[peer]]\naddress = \"{HELPER_IP}\"\nremote_as = 65004\nport = {port}\nhold_time = 9\n\
         keepalive = 3\nconnect_retry = 1\n\n[evpn]\nadvertise_all_vni = true\n\n\
         [fib]\non_shutdown = \"keep\"\n",
        dir.join("e/evpnd.sock").display()
    );

    // A previous run left a row: evpnd starts as a restarting speaker.
    add_owned(&ns.0, STALE1);
    let mut e = Evpnd::start_in(&dir, "e", &text, Some(&ns));
    assert!(
        wait_until(Duration::from_secs(30), || received(&frr) > 0),
        "FRR got no route from evpnd: {}\n{}",
        neighbor(&frr),
        e.log_text()
    );
    // FRR's End-of-RIB is in, the helper is not up yet: the stale row stays (the old
    // fixed hold was 2 s), and the restart is not over.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        has_mac(&ns.0, STALE1),
        "stale row removed before every End-of-RIB"
    );
    assert!(!e.log_text().contains("graceful restart over"));
    let h = Evpnd::start_in(&dir, "h", &helper, Some(&ns));
    assert!(
        wait_until(Duration::from_secs(30), || helper_routes(&h).0 > 0),
        "helper got no route from evpnd: {:?}\n{}",
        helper_routes(&h),
        e.log_text()
    );
    let n = neighbor(&frr);
    assert!(r_bit(&frr), "R not announced to FRR: {n}");
    let (r, f, gr) = helper_sees_r_and_f(&h);
    assert!(r && f, "R/F not announced to the helper: {gr}");
    assert!(
        wait_until(Duration::from_secs(10), || !has_mac(&ns.0, STALE1)),
        "stale row not removed after the peers' End-of-RIB:\n{}",
        e.log_text()
    );
    let l = e.log_text();
    assert!(l.contains("graceful restart over"), "{l}");
    assert!(
        l.contains("late=[]"),
        "ended by the timer, not End-of-RIB: {l}"
    );
    let (count, _) = helper_routes(&h);

    // Crash: the helper keeps evpnd's routes as stale.
    e.crash();
    add_owned(&ns.0, STALE2);
    assert!(
        wait_until(Duration::from_secs(15), || helper_routes(&h)
            == (count, true)),
        "helper did not keep evpnd's routes as stale: {:?}",
        h.routes()
    );

    // Restart: R and F again, routes refreshed (no longer stale), never withdrawn.
    e.restart_in(&text, Some(&ns));
    let mut min = usize::MAX;
    let ok = wait_until(Duration::from_secs(30), || {
        let (c, stale) = helper_routes(&h);
        min = min.min(c);
        c == count && !stale
    });
    assert!(
        ok,
        "routes not refreshed: {:?}\n{}",
        helper_routes(&h),
        e.log_text()
    );
    assert_eq!(
        min, count,
        "the helper lost evpnd's routes during the restart"
    );
    let (r, f, gr) = helper_sees_r_and_f(&h);
    assert!(r && f, "R/F not announced after the crash: {gr}");
    assert!(
        wait_until(Duration::from_secs(10), || !has_mac(&ns.0, STALE2)),
        "second stale row not removed"
    );
    assert!(
        wait_until(Duration::from_secs(20), || received(&frr) > 0),
        "FRR did not get the routes back"
    );
    drop(e);
}

//! topologies/mixed under change (root only): a host moved between an FRR leaf and the evpnd
//! leaf and back (MAC mobility sequence raised each time, FRR's and evpnd's kernel FDB and
//! views follow); the evpnd route reflector (spine2) killed and restarted (the fabric keeps
//! working through FRR's spine1, sessions come back, no stale FDB entry); the evpnd leaf
//! (leaf3) killed and restarted while one of its hosts went away (the graceful-restart stale
//! route is purged everywhere, the rest converges).
//!
//! Needs evpnd and evpnctl: `$EVPND_BIN` (evpnctl next to it), else the binaries next to
//! evpnlab (`cargo build --workspace --bins`).

mod common;

use std::time::{Duration, Instant};

use common::fabric::*;
use common::*;

/// h2a (on FRR leaf2) reaches h1a's address.
fn h2a_reaches_h1a(lab: &Lab) -> bool {
    ping_eventually(
        &lab.name,
        &lab.file,
        "h2a",
        "10.10.0.11",
        Duration::from_secs(15),
    )
}

#[test]
fn mixed_host_moves_between_frr_and_evpnd_leaves() {
    let lab = Lab::up("mxmove");
    let t0 = Instant::now();
    assert!(h2a_reaches_h1a(&lab), "h1a unreachable before the move");
    // Before: leaf1 (FRR) has h1a local; everyone else points at leaf1.
    let before = poll(Duration::from_secs(10), || {
        let (ty, _, seq) = lab.frr_mac("leaf1", H1A_MAC)?;
        (ty == "local").then_some(seq)
    })
    .unwrap_or_else(|| panic!("leaf1: {}", lab.frr_mac_raw("leaf1", H1A_MAC)));
    assert!(
        wait_for(Duration::from_secs(10), || lab
            .has_remote("leaf3", H1A_MAC, "10.0.0.1"))
        .is_some(),
        "leaf3 kernel: {:?}",
        lab.fdb100("leaf3")
    );

    // Move to leaf3 (evpnd): h1a goes silent on leaf1 (no address, no IPv6; leaf1's bridge
    // entry stays until aging, so its route stays too), a veth on leaf3's br100 with h1a's
    // MAC and IP speaks. leaf3 must learn it while leaf1's route exists: sequence + 1.
    let t = Instant::now();
    lab.move_h1a_to("leaf3", "10.10.0.12");
    let moved = wait_for(Duration::from_secs(15), || {
        lab.has_remote("leaf2", H1A_MAC, "10.0.0.3") && lab.has_remote("leaf1", H1A_MAC, "10.0.0.3")
    });
    assert!(
        moved.is_some(),
        "FRR leaves did not follow the move to leaf3: leaf1 {:?} leaf2 {:?}; leaf3 evpnd {:?}",
        lab.fdb100("leaf1"),
        lab.fdb100("leaf2"),
        lab.evpnd_mac("leaf3", H1A_MAC)
    );
    eprintln!(
        "move FRR -> evpnd: FRR kernels point at leaf3 in {:?}",
        t.elapsed()
    );
    let (kind, seq3, _) = lab
        .evpnd_mac("leaf3", H1A_MAC)
        .expect("leaf3 evpnd knows h1a's MAC");
    assert_eq!(kind, "local", "leaf3 evpnd kind");
    assert!(
        seq3 > before,
        "leaf3 sequence {seq3} not above leaf1's {before}"
    );
    let frr2 = lab.frr_mac("leaf2", H1A_MAC);
    assert_eq!(
        frr2,
        Some(("remote".into(), Some("10.0.0.3".into()), seq3)),
        "leaf2 zebra: {}",
        lab.frr_mac_raw("leaf2", H1A_MAC)
    );
    assert!(h2a_reaches_h1a(&lab), "h1a unreachable on leaf3");

    // Back to leaf1 (FRR): the veth on leaf3 goes silent, h1a speaks again. leaf1 learns it
    // while leaf3's route exists: sequence + 1 again; evpnd must give up its local entry.
    let t = Instant::now();
    lab.move_h1a_back("leaf3", "10.10.0.12");
    let back = wait_for(Duration::from_secs(15), || {
        lab.has_remote("leaf2", H1A_MAC, "10.0.0.1") && lab.has_remote("leaf3", H1A_MAC, "10.0.0.1")
    });
    assert!(
        back.is_some(),
        "leaves did not follow the move back to leaf1: leaf2 {:?} leaf3 {:?}; leaf1 zebra {}; \
         leaf3 evpnd {:?}",
        lab.fdb100("leaf2"),
        lab.fdb100("leaf3"),
        lab.frr_mac_raw("leaf1", H1A_MAC),
        lab.evpnd_mac("leaf3", H1A_MAC)
    );
    eprintln!(
        "move evpnd -> FRR: leaf2 and leaf3 kernels point at leaf1 in {:?}",
        t.elapsed()
    );
    let (ty, _, seq1) = lab.frr_mac("leaf1", H1A_MAC).expect("leaf1 zebra");
    assert_eq!(ty, "local");
    assert!(
        seq1 > seq3,
        "leaf1 sequence {seq1} not above leaf3's {seq3}"
    );
    assert!(
        wait_for(Duration::from_secs(10), || lab.evpnd_mac("leaf3", H1A_MAC)
            == Some(("remote".into(), seq1, Some("10.0.0.1".into()))))
        .is_some(),
        "leaf3 evpnd view: {:?} (want remote, seq {seq1}, 10.0.0.1)",
        lab.evpnd_mac("leaf3", H1A_MAC)
    );
    assert_eq!(
        lab.frr_mac("leaf2", H1A_MAC),
        Some(("remote".into(), Some("10.0.0.1".into()), seq1)),
        "leaf2 zebra: {}",
        lab.frr_mac_raw("leaf2", H1A_MAC)
    );
    assert!(h2a_reaches_h1a(&lab), "h1a unreachable back on leaf1");
    eprintln!("host move test body: {:?}", t0.elapsed());
}

/// Every listed host reaches a host of its VNI on another leaf (and none of the other VNI),
/// and every leaf holds exactly the other leaves' listed hosts with their VTEPs: a host not
/// listed (gone) must be in no leaf's FDB.
fn converged_without_stale(lab: &Lab, hosts: &[Host]) {
    let wrong = ping_matrix(&lab.name, &lab.file, hosts);
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_remote_fdb(
        &lab.name,
        &lab.file,
        hosts,
        &["leaf1", "leaf2", "leaf3"],
        vtep,
    );
}

#[test]
fn mixed_spine_and_leaf_restart_converge_without_stale_entries() {
    let lab = Lab::up("mxrst");
    converged_without_stale(&lab, &HOSTS);

    // spine2's evpnd (route reflector) dies: spine1 (FRR) carries the fabric alone. (spine1
    // must stay: the FRR leaves learn the underlay loopbacks from it in IPv4 unicast.)
    let t = Instant::now();
    lab.stop("spine2", true);
    converged_without_stale(&lab, &HOSTS);
    eprintln!("spine2 down: matrix and FDB checked in {:?}", t.elapsed());

    // spine2 back: sessions re-establish, nothing stale.
    let t = Instant::now();
    lab.start("spine2");
    lab.wait_established();
    assert!(
        wait_for(Duration::from_secs(20), || {
            lab.show("spine2", "peers")
                .as_array()
                .is_some_and(|a| a.iter().filter(|p| p["state"] == "Established").count() >= 3)
        })
        .is_some(),
        "spine2 peers: {}",
        lab.show("spine2", "peers")
    );
    eprintln!("spine2 restarted -> all sessions up in {:?}", t.elapsed());
    converged_without_stale(&lab, &HOSTS);

    // leaf3's evpnd killed. spine2 (evpnd, graceful-restart helper) keeps leaf3's routes as
    // stale, so the FRR leaves may keep them too. While it is down, h3a goes away (port
    // down flushes its bridge entry): after the restart leaf3 no longer announces it, and the
    // stale route must be purged everywhere; then h3a comes back.
    lab.stop("leaf3", true);
    lab.exec("leaf3", &["ip", "link", "set", "eth3", "down"]);
    let t = Instant::now();
    lab.start("leaf3");
    lab.wait_established();
    let without_h3a: Vec<Host> = HOSTS.iter().copied().filter(|h| h.0 != "h3a").collect();
    let purged = wait_for(Duration::from_secs(20), || {
        !lab.fdb100("leaf1").iter().any(|(m, _)| m == H3A_MAC)
            && !lab.fdb100("leaf2").iter().any(|(m, _)| m == H3A_MAC)
    });
    assert!(
        purged.is_some(),
        "stale h3a after leaf3's restart: leaf1 {:?} leaf2 {:?}; spine2 routes {}",
        lab.fdb100("leaf1"),
        lab.fdb100("leaf2"),
        lab.show("spine2", "routes")
    );
    converged_without_stale(&lab, &without_h3a);
    eprintln!(
        "leaf3 restarted without h3a -> converged, no stale entry, in {:?}",
        t.elapsed()
    );
    lab.exec("leaf3", &["ip", "link", "set", "eth3", "up"]);
    converged_without_stale(&lab, &HOSTS);
    eprintln!("h3a back -> converged in {:?}", t.elapsed());
}

//! topologies/mixed under change (root only): a host moved between an FRR leaf and the evpnd
//! leaf and back (MAC mobility sequence raised each time, FRR's and evpnd's kernel FDB and
//! views follow).
//!
//! Needs evpnd and evpnctl: `$EVPND_BIN` (evpnctl next to it), else the binaries next to
//! evpnlab (`cargo build --workspace --bins`).

mod common;

use std::time::{Duration, Instant};

use common::mixedlab::*;
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
    lab.exec("h1a", &["ip", "addr", "flush", "dev", "eth1"]);
    lab.exec(
        "h1a",
        &["sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=1"],
    );
    lab.exec(
        "leaf3",
        &[
            "sh",
            "-c",
            "ip link add mvh1 type veth peer name mvh1p && \
             ip link set mvh1 master br100 up && ip link set mvh1p address 00:00:5e:00:53:11 && \
             sysctl -qw net.ipv6.conf.mvh1p.disable_ipv6=1 && ip link set mvh1p up && \
             ip addr add 10.10.0.11/24 dev mvh1p",
        ],
    );
    let t = Instant::now();
    let _ = lab_exec(
        &lab.name,
        &lab.file,
        "leaf3",
        &["ping", "-c", "1", "-W", "1", "-I", "mvh1p", "10.10.0.12"],
    );
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
    lab.exec("leaf3", &["ip", "addr", "flush", "dev", "mvh1p"]);
    lab.exec(
        "h1a",
        &["sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=0"],
    );
    lab.exec(
        "h1a",
        &["ip", "addr", "add", "10.10.0.11/24", "dev", "eth1"],
    );
    let t = Instant::now();
    let _ = lab_exec(
        &lab.name,
        &lab.file,
        "h1a",
        &["ping", "-c", "1", "-W", "1", "10.10.0.12"],
    );
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

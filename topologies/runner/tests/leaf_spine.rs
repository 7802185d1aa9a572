//! topologies/leaf-spine end to end (root only): the all-evpnd fabric. Two evpnd route
//! reflectors, three evpnd leaves, two VNIs sharing one IP subnet, static ECMP underlay.
//!
//! - every host pings every host of its VNI and none of the other (30 pairs);
//! - each leaf's vxlan100/vxlan200 hold exactly (nothing stale, nothing missing) the MACs the
//!   other leaves' evpnd have as local in that VNI, each `self extern_learn` with the owning
//!   leaf's VTEP, plus a flood entry (00:00:00:00:00:00) per other VTEP; every host's MAC is
//!   among them with its leaf's VTEP;
//! - `evpnctl show peers/routes -j` (via `evpnlab exec NODE -- evpnctl`) on a spine and a
//!   leaf agree: the spine has every leaf's type-2/3 routes from that leaf, the leaf each of
//!   them twice, reflected by both spines (ORIGINATOR_ID = the leaf, CLUSTER_LIST = the
//!   spine), and both sides see the same routes;
//! - a host moved between two leaves (and back) converges on every leaf with the MAC
//!   mobility sequence raised each time;
//! - no ARP broadcast for a known host crosses the spines (tcpdump), an unknown one does;
//! - a spine's evpnd stopped (SIGTERM) and another's killed (SIGKILL), each started again
//!   (`evpnlab stop/start`): pings in both VNIs lose nothing meanwhile, FDBs stay exact with
//!   the spine down, both spines come back Established within 5 s of the start (the leaves
//!   take the restarted spine's connection although their own retries back off), then
//!   matrix and FDBs exact;
//! - a leaf's evpnd killed (SIGKILL) while a host on another leaf goes away, then started:
//!   no stale entry anywhere (its own kernel included), no stale route on the spines.
//!
//! Needs evpnd and evpnctl: `$EVPND_BIN` (evpnctl next to it), else the binaries next to
//! evpnlab (`cargo build -p evpnd`), and tcpdump. Timings are printed (`--nocapture`).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::arp::assert_known_hosts_arp_suppressed;
use common::fabric::*;
use common::*;
use serde_json::Value;

const LEAVES: [&str; 3] = ["leaf1", "leaf2", "leaf3"];
const ZERO: &str = "00:00:00:00:00:00";

/// A leaf's address on its link to `spine` (the spine's BGP peer), and the spine's.
fn link_addrs(spine: &str, leaf: &str) -> (String, String) {
    let s = spine.trim_start_matches("spine");
    let l = leaf.trim_start_matches("leaf");
    (format!("10.{s}.{l}.1"), format!("10.{s}.{l}.0"))
}

fn cluster_id(spine: &str) -> &'static str {
    if spine == "spine1" {
        "10.0.0.101"
    } else {
        "10.0.0.102"
    }
}

/// The `self` entries with a destination on a vxlan device: (mac, dst, extern_learn).
fn vxlan_self(lab: &Lab, leaf: &str, dev: &str) -> BTreeSet<(String, String, bool)> {
    let out = lab.exec(leaf, &["bridge", "-j", "fdb", "show", "dev", dev]);
    let v: Value = serde_json::from_str(&out).unwrap_or_default();
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let flags = e["flags"].as_array()?;
            let has = |f: &str| flags.iter().any(|x| x == f);
            has("self").then_some(())?;
            Some((
                e["mac"].as_str()?.to_string(),
                e["dst"].as_str()?.to_string(),
                has("extern_learn"),
            ))
        })
        .collect()
}

/// What `leaf`'s vxlan device of `vni` must hold: the MACs the other (listed) leaves' evpnd
/// have as local in `vni`, with that leaf's VTEP, and a flood entry per other leaf.
fn wanted(lab: &Lab, leaf: &str, vni: u32, leaves: &[&str]) -> BTreeSet<(String, String, bool)> {
    let mut want = BTreeSet::new();
    for &other in leaves.iter().filter(|&&l| l != leaf) {
        want.insert((ZERO.to_string(), vtep(other).to_string(), true));
        for m in lab.rows(other, "macs") {
            if m["kind"] == "local" && m["vni"] == vni {
                if let Some(mac) = m["mac"].as_str() {
                    want.insert((mac.to_string(), vtep(other).to_string(), true));
                }
            }
        }
    }
    want
}

/// Every leaf's vxlan100/vxlan200 hold exactly what the other leaves have as local (see
/// `wanted`), and every host of `hosts` is among them with its leaf's VTEP; a MAC of
/// `gone` is nowhere.
fn assert_exact_fdb(lab: &Lab, hosts: &[Host], gone: &[&str]) {
    for leaf in LEAVES {
        for (dev, vni) in [("vxlan100", 100), ("vxlan200", 200)] {
            let mut last = (BTreeSet::new(), BTreeSet::new());
            let exact = poll(Duration::from_secs(20), || {
                let want = wanted(lab, leaf, vni, &LEAVES);
                let got = vxlan_self(lab, leaf, dev);
                let hosts_in = hosts
                    .iter()
                    .filter(|h| h.3 == vni && h.4 != leaf)
                    .all(|h| want.contains(&(h.2.to_string(), vtep(h.4).to_string(), true)));
                let none_gone = got.iter().all(|(m, _, _)| !gone.contains(&m.as_str()));
                let done = got == want && hosts_in && none_gone;
                last = (want, got);
                done.then_some(())
            });
            assert!(
                exact.is_some(),
                "{leaf} {dev}: want {:?}\nhave {:?}\n(hosts {hosts:?}, gone {gone:?})",
                last.0,
                last.1
            );
        }
    }
}

/// Ping matrix of `hosts` (each reaches its VNI, not the other) and exact FDBs.
fn converged(lab: &Lab, hosts: &[Host], gone: &[&str]) {
    let wrong = ping_matrix(&lab.name, &lab.file, hosts);
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_exact_fdb(lab, hosts, gone);
}

/// `node`'s peers and their states, from `evpnctl show peers -j`.
fn peers(lab: &Lab, node: &str) -> Vec<(String, String)> {
    lab.rows(node, "peers")
        .iter()
        .filter_map(|p| {
            Some((
                p["address"].as_str()?.to_string(),
                p["state"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn established(lab: &Lab, node: &str, addr: &str) -> bool {
    peers(lab, node)
        .iter()
        .any(|(a, s)| a == addr && s == "Established")
}

/// Route key: (route type, RD, prefix).
type Key = (u64, String, String);

fn key(r: &Value) -> Option<Key> {
    Some((
        r["route_type"].as_u64()?,
        r["rd"].as_str()?.to_string(),
        r["prefix"].as_str()?.to_string(),
    ))
}

/// The spine and leaf1 see both spines / all leaves Established, and agree on the routes.
fn assert_control_plane_agrees(lab: &Lab) {
    for spine in ["spine1", "spine2"] {
        for leaf in LEAVES {
            let (leaf_addr, spine_addr) = link_addrs(spine, leaf);
            assert!(
                established(lab, spine, &leaf_addr),
                "{spine} -> {leaf}: {:?}",
                peers(lab, spine)
            );
            assert!(
                established(lab, leaf, &spine_addr),
                "{leaf} -> {spine}: {:?}",
                peers(lab, leaf)
            );
        }
    }

    let spine_rows = lab.rows("spine1", "routes");
    let leaf_rows = lab.rows("leaf1", "routes");
    // Spine: each leaf's type-3 per VNI and type-2 per host MAC, received from that leaf
    // (not reflected to it: no ORIGINATOR_ID/CLUSTER_LIST yet), next hop = its VTEP.
    for leaf in LEAVES {
        let (leaf_addr, _) = link_addrs("spine1", leaf);
        let from_leaf: Vec<&Value> = spine_rows
            .iter()
            .filter(|r| r["peer"] == leaf_addr.as_str())
            .collect();
        for vni in [100, 200] {
            assert!(
                from_leaf.iter().any(|r| r["route_type"] == 3
                    && r["vni"] == vni
                    && r["next_hop"] == vtep(leaf)
                    && r["best"] == true),
                "spine1: no [3] VNI {vni} of {leaf}: {from_leaf:#?}"
            );
        }
        for h in HOSTS.iter().filter(|h| h.4 == leaf) {
            assert!(
                from_leaf.iter().any(|r| r["route_type"] == 2
                    && r["mac"] == h.2
                    && r["vni"] == h.3
                    && r["next_hop"] == vtep(leaf)),
                "spine1: no [2] {} of {leaf}: {from_leaf:#?}",
                h.2
            );
        }
        for r in &from_leaf {
            assert!(
                r["originator_id"].is_null()
                    && r["cluster_list"].as_array().is_none_or(|c| c.is_empty())
                    && r["stale"] != true,
                "spine1: route from client {leaf} with reflection attributes or stale: {r}"
            );
        }
    }
    // leaf1: every other leaf's route twice, once per spine, with ORIGINATOR_ID = that
    // leaf and CLUSTER_LIST = the reflecting spine; the next hop stays the VTEP.
    for leaf in ["leaf2", "leaf3"] {
        for spine in ["spine1", "spine2"] {
            let (_, spine_addr) = link_addrs(spine, "leaf1");
            let via: Vec<&Value> = leaf_rows
                .iter()
                .filter(|r| r["peer"] == spine_addr.as_str() && r["next_hop"] == vtep(leaf))
                .collect();
            let types: BTreeSet<u64> = via
                .iter()
                .filter_map(|r| r["route_type"].as_u64())
                .collect();
            assert_eq!(
                types,
                BTreeSet::from([2, 3]),
                "leaf1: {leaf}'s routes via {spine}: {via:#?}"
            );
            for r in &via {
                assert_eq!(r["originator_id"], vtep(leaf), "leaf1 via {spine}: {r}");
                assert_eq!(
                    r["cluster_list"],
                    serde_json::json!([cluster_id(spine)]),
                    "leaf1 via {spine}: {r}"
                );
            }
        }
    }
    // Agreement: the spine holds exactly the routes leaf1 holds (leaf1's own included),
    // and leaf1 has a best path for each.
    let spine_keys: BTreeSet<Key> = spine_rows.iter().filter_map(key).collect();
    let leaf_keys: BTreeSet<Key> = leaf_rows.iter().filter_map(key).collect();
    assert_eq!(
        spine_keys, leaf_keys,
        "spine1 and leaf1 disagree on the routes"
    );
    for k in &leaf_keys {
        assert!(
            leaf_rows
                .iter()
                .any(|r| key(r).as_ref() == Some(k) && r["best"] == true),
            "leaf1: no best path for {k:?}"
        );
    }
    // 3 leaves x (2 type-3 + 2 host MACs) at least; more when a macvlan parent's MAC speaks.
    assert!(leaf_keys.len() >= 12, "{leaf_keys:#?}");
}

/// `mac` is local on `home` with a sequence above `above`, and every other leaf has it as
/// remote at `home`'s VTEP with that sequence, in evpnd and in the kernel; the sequence.
fn wait_moved(lab: &Lab, mac: &str, home: &str, above: u64) -> u64 {
    let mut seq = 0;
    let done = poll(Duration::from_secs(20), || {
        let (kind, s, _) = lab.evpnd_mac(home, mac)?;
        (kind == "local" && s > above).then_some(())?;
        seq = s;
        let others_follow = LEAVES.iter().filter(|&&l| l != home).all(|&l| {
            lab.evpnd_mac(l, mac) == Some(("remote".into(), s, Some(vtep(home).into())))
                && lab.has_remote(l, mac, vtep(home))
        });
        others_follow.then_some(())
    });
    assert!(
        done.is_some(),
        "{mac} did not converge on {home} (sequence above {above}): {:?}",
        LEAVES
            .iter()
            .map(|l| (l, lab.evpnd_mac(l, mac), lab.fdb100(l)))
            .collect::<Vec<_>>()
    );
    // The reflectors carry the new sequence too.
    let on_spine = lab.rows("spine1", "routes").into_iter().any(|r| {
        r["route_type"] == 2
            && r["mac"] == mac
            && r["next_hop"] == vtep(home)
            && r["mac_mobility_seq"].as_u64().unwrap_or(0) == seq
    });
    assert!(
        on_spine,
        "spine1 has no [2] {mac} via {home} with sequence {seq}"
    );
    seq
}

/// h1a moves from leaf1 to leaf2 and back, each time while the old leaf's route still
/// exists, so the new leaf must raise the MAC mobility sequence.
fn host_moves_and_back(lab: &Lab) {
    let before = poll(Duration::from_secs(10), || {
        let (kind, s, _) = lab.evpnd_mac("leaf1", H1A_MAC)?;
        (kind == "local").then_some(s)
    })
    .expect("leaf1 has h1a as local");

    // h1a goes silent on leaf1 (no address, no IPv6; leaf1's bridge entry stays until
    // aging, so its route stays too); a veth on leaf2's br100 with h1a's MAC and IP speaks.
    let t = Instant::now();
    lab.move_h1a_to("leaf2", "10.10.0.13");
    let s2 = wait_moved(lab, H1A_MAC, "leaf2", before);
    eprintln!(
        "h1a leaf1 -> leaf2: sequence {before} -> {s2}, converged in {:?}",
        t.elapsed()
    );
    assert!(
        ping_eventually(
            &lab.name,
            &lab.file,
            "h3a",
            "10.10.0.11",
            Duration::from_secs(10)
        ),
        "h3a cannot reach h1a on leaf2"
    );

    // Back: the veth goes silent (its bridge entry stays), h1a speaks again on leaf1.
    let t = Instant::now();
    lab.move_h1a_back("leaf2", "10.10.0.13");
    let s1 = wait_moved(lab, H1A_MAC, "leaf1", s2);
    eprintln!(
        "h1a leaf2 -> leaf1: sequence {s2} -> {s1}, converged in {:?}",
        t.elapsed()
    );
    // The stand-in goes; h1a stays on leaf1 with the raised sequence.
    lab.exec("leaf2", &["ip", "link", "del", "mvh1"]);
    assert!(
        ping_eventually(
            &lab.name,
            &lab.file,
            "h2a",
            "10.10.0.11",
            Duration::from_secs(10)
        ),
        "h2a cannot reach h1a back on leaf1"
    );
}

#[test]
fn leaf_spine_evpnd_fabric_converges_moves_and_suppresses_arp() {
    let t = Instant::now();
    let lab = Lab::up_lab("ls", "leaf-spine");
    eprintln!("up + all sessions Established in {:?}", t.elapsed());

    let t = Instant::now();
    converged(&lab, &HOSTS, &[]);
    eprintln!("30-pair ping matrix + exact FDBs in {:?}", t.elapsed());
    assert_control_plane_agrees(&lab);

    host_moves_and_back(&lab);
    assert_exact_fdb(&lab, &HOSTS, &[]);

    let t = Instant::now();
    assert_known_hosts_arp_suppressed(&lab);
    eprintln!("ARP suppression checked in {:?}", t.elapsed());
}

/// 25 pings every 0.2 s from `from` to `to` in the background; `finish` gives (sent,
/// received, ping's output).
struct Pinger(std::thread::JoinHandle<String>);

impl Pinger {
    fn start(lab: &Lab, from: &'static str, to: &'static str) -> Pinger {
        let (name, file) = (lab.name.clone(), lab.file.clone());
        Pinger(std::thread::spawn(move || {
            let o = lab_exec(
                &name,
                &file,
                from,
                &["ping", "-c", "25", "-i", "0.2", "-W", "1", to],
            );
            format!("{from} -> {to}: {}", String::from_utf8_lossy(&o.stdout))
        }))
    }

    fn finish(self) -> (u32, u32, String) {
        let out = self.0.join().expect("ping thread");
        // "25 packets transmitted, 25 received, ..."
        let line = out
            .lines()
            .find(|l| l.contains("transmitted"))
            .unwrap_or("");
        let w: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
        let num = |word: &str| {
            w.iter()
                .position(|x| *x == word)
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| w.get(i)?.parse().ok())
                .unwrap_or(0)
        };
        (num("packets"), num("received"), out)
    }
}

/// Stops a spine's evpnd while traffic flows (forwarding must not notice: the other spine
/// reflects everything), checks the fabric with it down, starts it again.
fn spine_down_and_back(lab: &Lab, spine: &str, kill: bool) {
    let other = if spine == "spine1" {
        "spine2"
    } else {
        "spine1"
    };
    // Traffic across the fabric in both VNIs (h1b and h3b's VNI 200 via h1b's macvlan).
    let pings = [
        Pinger::start(lab, "h1a", "10.10.0.12"),
        Pinger::start(lab, "h3b", "10.10.0.21"),
    ];
    std::thread::sleep(Duration::from_millis(1000));
    let t = Instant::now();
    lab.stop(spine, kill);
    // The leaves notice (NOTIFICATION on SIGTERM, the closed connection on SIGKILL).
    let down = poll(Duration::from_secs(20), || {
        LEAVES
            .iter()
            .all(|l| !established(lab, l, &link_addrs(spine, l).1))
            .then_some(())
    });
    assert!(
        down.is_some(),
        "leaves still Established with stopped {spine}"
    );
    eprintln!(
        "{spine} stopped (kill: {kill}): leaves saw it in {:?}",
        t.elapsed()
    );
    for p in pings {
        let (sent, received, out) = p.finish();
        assert!(
            sent >= 20 && received == sent,
            "traffic lost while {spine} stopped: {out}"
        );
    }
    for l in LEAVES {
        assert!(
            established(lab, l, &link_addrs(other, l).1),
            "{l} lost {other}"
        );
    }
    // Nothing withdrawn from any kernel: the other spine reflects every route.
    assert_exact_fdb(lab, &HOSTS, &[]);

    let t = Instant::now();
    lab.start(spine);
    lab.wait_established();
    let back = t.elapsed();
    eprintln!("{spine} started: every session Established in {back:?}");
    // The leaves' own connects failed while the spine was down (their restarts back off);
    // they must take the restarted spine's connection at once, not refuse it until their
    // backoff ends (that took up to idle_hold_max, 120 s). About 0.6 s here.
    assert!(
        back < Duration::from_secs(5),
        "sessions to the restarted {spine} took {back:?}"
    );
    converged(lab, &HOSTS, &[]);
    assert_control_plane_agrees(lab);
}

#[test]
fn leaf_spine_spine_and_leaf_restarts_leave_nothing_stale() {
    let lab = Lab::up_lab("lsrst", "leaf-spine");
    converged(&lab, &HOSTS, &[]);

    spine_down_and_back(&lab, "spine1", false);
    spine_down_and_back(&lab, "spine2", true);

    // leaf3's evpnd crashes (its kernel entries stay). While it is down h2a goes away
    // (leaf2's port down flushes its bridge entry, leaf2 withdraws it): leaf3 misses the
    // withdrawal, so the restarted evpnd must clean h2a out of its own kernel; the spines
    // kept leaf3's routes as stale (graceful restart helpers) and must end up with none.
    let t = Instant::now();
    lab.stop("leaf3", true);
    lab.exec("leaf2", &["ip", "link", "set", "eth3", "down"]);
    let withdrawn = poll(Duration::from_secs(20), || {
        (!lab.fdb100("leaf1").iter().any(|(m, _)| m == H2A_MAC)).then_some(())
    });
    assert!(
        withdrawn.is_some(),
        "leaf1 kept h2a: {:?}",
        lab.fdb100("leaf1")
    );
    assert!(
        lab.has_remote("leaf3", H2A_MAC, "10.0.0.2"),
        "leaf3's kernel should still hold h2a from before the crash: {:?}",
        lab.fdb100("leaf3")
    );
    lab.start("leaf3");
    lab.wait_established();
    let without_h2a: Vec<Host> = HOSTS.iter().copied().filter(|h| h.0 != "h2a").collect();
    converged(&lab, &without_h2a, &[H2A_MAC]);
    for spine in ["spine1", "spine2"] {
        let stale: Vec<Value> = lab
            .rows(spine, "routes")
            .into_iter()
            .filter(|r| r["stale"] == true || r["mac"] == H2A_MAC)
            .collect();
        assert!(
            stale.is_empty(),
            "{spine}: stale or withdrawn routes: {stale:#?}"
        );
    }
    eprintln!(
        "leaf3 killed, h2a gone meanwhile, leaf3 restarted -> converged, nothing stale, in {:?}",
        t.elapsed()
    );

    // h2a comes back.
    lab.exec("leaf2", &["ip", "link", "set", "eth3", "up"]);
    converged(&lab, &HOSTS, &[]);
}

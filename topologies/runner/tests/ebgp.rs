//! topologies/ebgp end to end (root only): an eBGP fabric, one AS per leaf, evpnd next to
//! FRR. spine1 (evpnd, AS 65000), leaf1/leaf2 (evpnd, AS 65001/65002), leaf3 (FRR, AS
//! 65003); static underlay. Proves evpnd <-> FRR over eBGP both ways, through an evpnd spine:
//!
//! - every host pings every host of its VNI and none of the other (30 pairs);
//! - every leaf's vxlan devices hold exactly the other leaves' MACs of their VNI (the
//!   hosts' fixed MACs with the VTEP of the leaf they hang off, and whatever else the spine
//!   holds type-2 routes for, e.g. a macvlan's parent) and one flood entry per other leaf;
//! - the spine's RIB (`evpnctl show routes -j`) holds every leaf's type-2 (per host MAC) and
//!   type-3 (per VNI) routes with the originating VTEP as next hop, RT <leaf AS>:<VNI> and
//!   AS path <leaf AS>; each leaf (evpnctl on evpnd, `show bgp l2vpn evpn json` on FRR)
//!   the other leaves' routes with the originating VTEP as next hop (not the spine) and AS
//!   path "65000 <leaf AS>";
//! - loop detection: no RIB holds a path with its own AS. FRR's leaf3 sends the spine's
//!   routes back to it (AS path 65000 ...): the evpnd spine must drop them. (The evpnd
//!   spine never sends a leaf's routes back to it, so on the leaves this is only checked
//!   as absent.)
//! - an evpnd leaf killed (SIGKILL) and started again, while one of its hosts and one of
//!   another leaf's hosts went away, leaves no stale FDB entry on any leaf; `down` leaves
//!   nothing.
//!
//! Needs evpnd and evpnctl: `$EVPND_BIN` (evpnctl next to it), else the binaries next to
//! evpnlab (`cargo build -p evpnd`).

mod common;

use std::time::{Duration, Instant};

use common::fabric::{vtep, wait_for, Lab, HOSTS};
use common::*;
use serde_json::Value;

const LEAVES: [&str; 3] = ["leaf1", "leaf2", "leaf3"];
const SPINE_AS: u32 = 65000;
const ZERO: &str = "00:00:00:00:00:00";

fn asn(leaf: &str) -> u32 {
    match leaf {
        "leaf1" => 65001,
        "leaf2" => 65002,
        _ => 65003,
    }
}

fn is_frr(node: &str) -> bool {
    node == "leaf3"
}

/// The lab up, with the spine's three sessions Established.
fn up(tag: &str) -> Lab {
    let lab = Lab::up_lab(tag, "ebgp");
    wait_spine_sessions(&lab);
    lab
}

fn wait_spine_sessions(lab: &Lab) {
    let up = wait_for(Duration::from_secs(45), || {
        lab.show("spine1", "peers")
            .as_array()
            .is_some_and(|a| a.iter().filter(|p| p["state"] == "Established").count() == 3)
    });
    assert!(
        up.is_some(),
        "spine1 peers: {}",
        lab.show("spine1", "peers")
    );
}

/// One EVPN path of a RIB, from evpnctl or FRR.
#[derive(Debug, Clone)]
struct Route {
    /// Our own (originated) route.
    local: bool,
    ty: u64,
    mac: Option<String>,
    /// Type 3: the originating router's IP.
    originator: Option<String>,
    next_hop: String,
    /// `65001:100`.
    rts: Vec<String>,
    as_path: String,
}

impl Route {
    fn vni(&self) -> Option<u32> {
        self.rts
            .first()
            .and_then(|rt| rt.rsplit_once(':'))
            .and_then(|(_, v)| v.parse().ok())
    }
}

/// Every EVPN path `node` holds: `evpnctl show routes -j` on evpnd, `show bgp l2vpn evpn
/// json` on FRR.
fn rib(lab: &Lab, node: &str) -> Vec<Route> {
    if !is_frr(node) {
        let v = lab.show(node, "routes");
        return v
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| Route {
                local: r["peer"].is_null(),
                ty: r["route_type"].as_u64().unwrap_or_default(),
                mac: r["mac"].as_str().map(str::to_string),
                originator: r["originator"].as_str().map(str::to_string),
                next_hop: r["next_hop"].as_str().unwrap_or_default().to_string(),
                rts: r["route_targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
                as_path: r["as_path"].as_str().unwrap_or_default().to_string(),
            })
            .collect();
    }
    // RD -> {prefix -> {paths: [...]}}; some FRR versions nest each path in a list of its
    // own, so walk rather than index.
    fn paths_of(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| paths_of(x, out)),
            Value::Object(o) if o.contains_key("nexthops") => out.push(v.clone()),
            _ => {}
        }
    }
    let out = lab.exec(node, &["vtysh", "-c", "show bgp l2vpn evpn json"]);
    let v: Value = serde_json::from_str(&out).unwrap_or_default();
    let mut routes = Vec::new();
    for rd in v.as_object().into_iter().flat_map(|o| o.values()) {
        let Some(prefixes) = rd.as_object() else {
            continue;
        };
        for (prefix, route) in prefixes.iter().filter(|(k, _)| k.starts_with('[')) {
            let mut paths = Vec::new();
            paths_of(&route["paths"], &mut paths);
            for p in paths {
                let ty = p["routeType"].as_u64().unwrap_or_default();
                let as_path = p["path"].as_str().unwrap_or_default().to_string();
                routes.push(Route {
                    // Received over eBGP means a non-empty AS path.
                    local: as_path.is_empty(),
                    ty,
                    mac: p["mac"].as_str().map(str::to_string),
                    // [3]:[0]:[32]:[10.0.0.1]
                    originator: (ty == 3)
                        .then(|| prefix.rsplit(":[").next().map(|s| s.trim_end_matches(']')))
                        .flatten()
                        .map(str::to_string),
                    next_hop: p["nexthops"][0]["ip"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    rts: p["extendedCommunity"]["string"]
                        .as_str()
                        .unwrap_or_default()
                        .split_whitespace()
                        .filter_map(|c| c.strip_prefix("RT:"))
                        .map(str::to_string)
                        .collect(),
                    as_path,
                });
            }
        }
    }
    routes
}

/// What a node with AS `own_as` must hold of the leaves `origins`: per leaf, a type-2 route
/// per host MAC and a type-3 per VNI, each with RT <leaf AS>:<VNI>, the leaf's VTEP as next
/// hop and AS path `path_of(leaf)`; and every path it received must come from one of
/// `origins` that way (next hop a VTEP, never the spine; no path with `own_as`). Returns
/// the problems (empty = all as expected).
fn rib_problems(
    routes: &[Route],
    own_as: u32,
    origins: &[&str],
    path_of: &dyn Fn(&str) -> String,
) -> Vec<String> {
    let mut problems = Vec::new();
    for &leaf in origins {
        let mut want: Vec<(u64, Option<&str>, Option<&str>, u32)> = HOSTS
            .iter()
            .filter(|h| h.4 == leaf)
            .map(|h| (2, Some(h.2), None, h.3))
            .collect();
        for vni in [100, 200] {
            want.push((3, None, Some(vtep(leaf)), vni));
        }
        for (ty, mac, originator, vni) in want {
            let rt = format!("{}:{vni}", asn(leaf));
            let what = format!(
                "{leaf}'s type-{ty} {} RT {rt}",
                mac.or(originator).unwrap_or_default()
            );
            let found: Vec<&Route> = routes
                .iter()
                .filter(|r| {
                    !r.local
                        && r.ty == ty
                        && r.mac.as_deref() == mac
                        && (ty != 3 || r.originator.as_deref() == originator)
                        && r.rts.contains(&rt)
                })
                .collect();
            if found.is_empty() {
                problems.push(format!("no {what}"));
            }
            for r in found {
                if r.next_hop != vtep(leaf) || r.as_path != path_of(leaf) {
                    problems.push(format!(
                        "{what}: next hop {} AS path {:?}, want {} {:?}",
                        r.next_hop,
                        r.as_path,
                        vtep(leaf),
                        path_of(leaf)
                    ));
                }
            }
        }
    }
    for r in routes.iter().filter(|r| !r.local) {
        if r.as_path
            .split_whitespace()
            .any(|a| a == own_as.to_string())
        {
            problems.push(format!("loop: own AS {own_as} in {r:?}"));
        }
        match origins.iter().find(|l| vtep(l) == r.next_hop) {
            None => problems.push(format!("next hop is not another leaf's VTEP: {r:?}")),
            Some(&leaf) => {
                let rts_ok = !r.rts.is_empty()
                    && r.rts
                        .iter()
                        .all(|rt| rt.starts_with(&format!("{}:", asn(leaf))));
                if r.as_path != path_of(leaf) || !rts_ok {
                    problems.push(format!(
                        "from {leaf}, want AS path {:?} and RT {}:VNI: {r:?}",
                        path_of(leaf),
                        asn(leaf)
                    ));
                }
            }
        }
    }
    problems
}

/// The RIB problems of `node` (see [`rib_problems`]).
fn node_rib_problems(lab: &Lab, node: &str) -> Vec<String> {
    let routes = rib(lab, node);
    let problems = if node == "spine1" {
        rib_problems(&routes, SPINE_AS, &LEAVES, &|l| asn(l).to_string())
    } else {
        let others: Vec<&str> = LEAVES.into_iter().filter(|l| *l != node).collect();
        rib_problems(&routes, asn(node), &others, &|l| {
            format!("{SPINE_AS} {}", asn(l))
        })
    };
    if problems.is_empty() {
        problems
    } else {
        let mut p = problems;
        p.push(format!("{node}'s RIB: {routes:#?}"));
        p
    }
}

/// Each leaf's vxlan device of each VNI holds as `self` entries exactly: the MACs of the
/// other leaves' type-2 routes of that VNI as the spine holds them, with the originating
/// VTEP, and one flood entry (00:00:00:00:00:00) per other leaf's VTEP. Returns the
/// problems (empty = all as expected).
fn fdb_problems(lab: &Lab) -> Vec<String> {
    let spine = rib(lab, "spine1");
    let mut problems = Vec::new();
    for leaf in LEAVES {
        for vni in [100, 200] {
            let mut want: Vec<(String, String)> = spine
                .iter()
                .filter(|r| r.ty == 2 && r.vni() == Some(vni) && r.next_hop != vtep(leaf))
                .filter_map(|r| Some((r.mac.clone()?, r.next_hop.clone())))
                .chain(
                    LEAVES
                        .iter()
                        .filter(|l| **l != leaf)
                        .map(|l| (ZERO.to_string(), vtep(l).to_string())),
                )
                .collect();
            want.sort();
            want.dedup();
            let dev = format!("vxlan{vni}");
            let mut got: Vec<(String, String)> = vxlan_self_fdb(&lab.name, &lab.file, leaf, &dev)
                .into_iter()
                .map(|(m, d, _)| (m, d))
                .collect();
            got.sort();
            if got != want {
                problems.push(format!("{leaf} {dev}: want {want:?}, have {got:?}"));
            }
        }
    }
    problems
}

/// `hosts` (and no other host) reachable within their VNI only; every leaf's FDB holds
/// exactly the other leaves' `hosts` of its VNI (a host not listed, gone, must be in none)
/// and is what the spine's routes say.
fn converged(lab: &Lab, hosts: &[Host]) {
    let wrong = ping_matrix(&lab.name, &lab.file, hosts);
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_remote_fdb(&lab.name, &lab.file, hosts, &LEAVES, vtep);
    let exact = wait_for(Duration::from_secs(15), || fdb_problems(lab).is_empty());
    assert!(exact.is_some(), "{:#?}", fdb_problems(lab));
}

#[test]
fn ebgp_evpnd_and_frr_leaves_through_an_evpnd_spine() {
    let t = Instant::now();
    let lab = up("ebgp");
    eprintln!("up and sessions Established in {:?}", t.elapsed());
    converged(&lab, &HOSTS);
    eprintln!("ping matrix and FDB checked at {:?}", t.elapsed());

    // The hosts pinged, so every MAC is learned and announced; the poll covers BGP's
    // update delay only.
    for node in ["spine1", "leaf1", "leaf2", "leaf3"] {
        let good = wait_for(Duration::from_secs(10), || {
            node_rib_problems(&lab, node).is_empty()
        });
        assert!(good.is_some(), "{:#?}", node_rib_problems(&lab, node));
    }

    // FRR's leaf3 sends the other leaves' routes back to the spine (AS path 65000 ...), so
    // the spine's loop check had something to drop: no path with 65000 in its RIB (above)
    // is then the loop check at work, not the absence of looping routes.
    let adv = lab.exec(
        "leaf3",
        &[
            "vtysh",
            "-c",
            "show bgp l2vpn evpn neighbors 10.1.3.0 advertised-routes json",
        ],
    );
    let adv: Value = serde_json::from_str(&adv).unwrap_or_default();
    let looped = adv["advertisedRoutes"]
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
        .filter_map(Value::as_object)
        .flat_map(|o| o.values())
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.split_whitespace().next() == Some("65000"))
        })
        .count();
    assert!(
        looped >= 6,
        "leaf3 sent the spine {looped} routes with AS 65000 (expected the other leaves' \
         routes back): {adv}"
    );
    eprintln!("leaf3 sent {looped} routes back to the spine; it kept none");
    // And the spine counted each one it dropped (`show peer`, the RIB's loop counter).
    let leaf3 = lab.exec(
        "spine1",
        &[ctl_path(&lab), "show", "peer", "10.1.3.1", "-j"],
    );
    let leaf3: Value = serde_json::from_str(&leaf3).unwrap_or_default();
    let dropped = leaf3["rib"]["loops_dropped"].as_u64().unwrap_or(0);
    assert!(
        dropped >= looped as u64,
        "spine counted {dropped} looped routes from leaf3, leaf3 sent {looped}: {leaf3}"
    );

    down_leaves_nothing(&lab.name, &lab.file);
    eprintln!("test body {:?}", t.elapsed());
}

/// MACs of h1a and h2b, the two hosts that go away while leaf1's evpnd is dead.
const H1A: &str = "00:00:5e:00:53:11";
const H2B: &str = "00:00:5e:00:53:22";

fn holds(lab: &Lab, leaf: &str, dev: &str, mac: &str) -> bool {
    vxlan_self_fdb(&lab.name, &lab.file, leaf, dev)
        .iter()
        .any(|(m, _, _)| m == mac)
}

#[test]
fn ebgp_evpnd_leaf_restart_leaves_no_stale_entries() {
    let t = Instant::now();
    let lab = up("ebgprst");
    converged(&lab, &HOSTS);

    // leaf1's evpnd dies. While it is down, h1a (on leaf1) goes away, and so does h2b (on
    // leaf2, whose withdrawal leaf1 cannot hear). The spine keeps leaf1's routes as stale
    // (graceful restart helper); leaf1's kernel keeps what the dead evpnd programmed.
    lab.stop("leaf1", true);
    lab.exec("leaf1", &["ip", "link", "set", "eth2", "down"]);
    lab.exec("leaf2", &["ip", "link", "set", "eth3", "down"]);
    let withdrawn = wait_for(Duration::from_secs(10), || {
        !holds(&lab, "leaf3", "vxlan200", H2B)
    });
    assert!(
        withdrawn.is_some(),
        "FRR leaf3 kept h2b after leaf2 withdrew it: {:?}",
        vxlan_self_fdb(&lab.name, &lab.file, "leaf3", "vxlan200")
    );
    assert!(
        holds(&lab, "leaf1", "vxlan200", H2B),
        "leaf1's kernel lost h2b with evpnd dead: nothing stale left to prove the restart"
    );

    let t_restart = Instant::now();
    lab.start("leaf1");
    wait_spine_sessions(&lab);
    let purged = wait_for(Duration::from_secs(30), || {
        !holds(&lab, "leaf1", "vxlan200", H2B)
            && !holds(&lab, "leaf2", "vxlan100", H1A)
            && !holds(&lab, "leaf3", "vxlan100", H1A)
    });
    assert!(
        purged.is_some(),
        "stale entries after leaf1's restart: leaf1 vxlan200 {:?}, leaf2 vxlan100 {:?}, \
         leaf3 vxlan100 {:?}; spine routes {}",
        vxlan_self_fdb(&lab.name, &lab.file, "leaf1", "vxlan200"),
        vxlan_self_fdb(&lab.name, &lab.file, "leaf2", "vxlan100"),
        vxlan_self_fdb(&lab.name, &lab.file, "leaf3", "vxlan100"),
        lab.show("spine1", "routes")
    );
    eprintln!(
        "leaf1 restarted -> stale h1a/h2b gone everywhere in {:?}",
        t_restart.elapsed()
    );
    let without: Vec<Host> = HOSTS
        .iter()
        .copied()
        .filter(|h| h.2 != H1A && h.2 != H2B)
        .collect();
    converged(&lab, &without);
    for node in ["spine1", "leaf1", "leaf2", "leaf3"] {
        assert!(
            rib(&lab, node)
                .iter()
                .all(|r| r.mac.as_deref() != Some(H1A) && r.mac.as_deref() != Some(H2B)),
            "{node} still has a route for a host that left: {:#?}",
            rib(&lab, node)
        );
    }

    // Both hosts back: everything converges again.
    lab.exec("leaf1", &["ip", "link", "set", "eth2", "up"]);
    lab.exec("leaf2", &["ip", "link", "set", "eth3", "up"]);
    converged(&lab, &HOSTS);
    eprintln!("hosts back -> converged at {:?}", t_restart.elapsed());

    down_leaves_nothing(&lab.name, &lab.file);
    eprintln!("test body {:?}", t.elapsed());
}

fn ctl_path(lab: &Lab) -> &str {
    lab.evpnctl.to_str().expect("utf-8 path")
}

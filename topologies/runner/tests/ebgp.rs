//! topologies/ebgp end to end (root only): one spine AS 65000, leaves AS 65001..65003, eBGP
//! for the underlay and for EVPN. Every host pings every host in its VNI and none in the
//! other VNI; each leaf's vxlan devices hold exactly the remote MACs of their own VNI with
//! the originating leaf's VTEP; the spine holds every leaf's EVPN routes with that leaf's
//! VTEP as next hop and that leaf's own auto RT (6500N:VNI).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// (host, IP, MAC, VNI, leaf)
const HOSTS: [Host; 6] = [
    ("h1a", "10.10.0.11", "00:00:5e:00:53:11", 100, "leaf1"),
    ("h2a", "10.10.0.12", "00:00:5e:00:53:21", 100, "leaf2"),
    ("h3a", "10.10.0.13", "00:00:5e:00:53:31", 100, "leaf3"),
    ("h1b", "10.10.0.21", "00:00:5e:00:53:12", 200, "leaf1"),
    ("h2b", "10.10.0.22", "00:00:5e:00:53:22", 200, "leaf2"),
    ("h3b", "10.10.0.23", "00:00:5e:00:53:32", 200, "leaf3"),
];

const LEAVES: [&str; 3] = ["leaf1", "leaf2", "leaf3"];

fn file() -> PathBuf {
    topologies_dir().join("ebgp").join("ebgp.clab.yml")
}

fn vtep(leaf: &str) -> &'static str {
    match leaf {
        "leaf1" => "10.0.0.1",
        "leaf2" => "10.0.0.2",
        _ => "10.0.0.3",
    }
}

fn asn(leaf: &str) -> &'static str {
    match leaf {
        "leaf1" => "65001",
        "leaf2" => "65002",
        _ => "65003",
    }
}

/// One EVPN path as the spine holds it.
#[derive(Debug)]
struct EvpnPath {
    prefix: String,
    next_hops: Vec<String>,
    ext_communities: String,
}

/// Every path of `show bgp l2vpn evpn json` on `node`: the top level maps RD -> {prefix ->
/// {paths: [...]}}; some FRR versions nest each path in a list of its own, so walk rather
/// than index.
fn evpn_paths(name: &str, file: &Path, node: &str) -> Vec<EvpnPath> {
    fn paths_of(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| paths_of(x, out)),
            Value::Object(o) if o.contains_key("nexthops") => out.push(v.clone()),
            _ => {}
        }
    }
    let o = lab_exec(
        name,
        file,
        node,
        &["vtysh", "-c", "show bgp l2vpn evpn json"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let mut out = Vec::new();
    for rd in v.as_object().into_iter().flat_map(|o| o.values()) {
        let Some(routes) = rd.as_object() else {
            continue;
        };
        for (prefix, route) in routes.iter().filter(|(k, _)| k.starts_with('[')) {
            let mut paths = Vec::new();
            paths_of(&route["paths"], &mut paths);
            for p in paths {
                out.push(EvpnPath {
                    prefix: prefix.clone(),
                    next_hops: p["nexthops"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|n| n["ip"].as_str().map(str::to_string))
                        .collect(),
                    ext_communities: p["extendedCommunity"]["string"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                });
            }
        }
    }
    out
}

/// What a node must hold for each leaf of `origins`: a type-2 route per host MAC of that
/// leaf and a type-3 route per VNI, each with the leaf's VTEP as next hop and RT
/// `<leaf AS>:<VNI>`; and no path whose next hop is not a VTEP. Returns the problems found
/// (empty = all there).
fn evpn_problems(paths: &[EvpnPath], origins: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    for &leaf in origins {
        let mut want: Vec<(String, u32)> = HOSTS
            .iter()
            .filter(|h| h.4 == leaf)
            .map(|h| (format!("[2]:[0]:[48]:[{}]", h.2), h.3))
            .collect();
        for vni in [100, 200] {
            want.push((format!("[3]:[0]:[32]:[{}]", vtep(leaf)), vni));
        }
        for (prefix, vni) in want {
            let rt = format!("RT:{}:{vni}", asn(leaf));
            let found = paths.iter().any(|p| {
                p.prefix == prefix
                    && p.next_hops == [vtep(leaf)]
                    && p.ext_communities.split_whitespace().any(|c| c == rt)
            });
            if !found {
                problems.push(format!("no {prefix} with next hop {} and {rt}", vtep(leaf)));
            }
        }
    }
    // And no path anywhere with a next hop that is not a VTEP (e.g. the spine's own).
    let vteps: Vec<&str> = LEAVES.iter().map(|l| vtep(l)).collect();
    for p in paths {
        if p.next_hops.iter().any(|n| !vteps.contains(&n.as_str())) {
            problems.push(format!("{} has next hops {:?}", p.prefix, p.next_hops));
        }
    }
    problems
}

#[test]
fn ebgp_isolation_reachability_and_next_hops() {
    require_root();
    let name = lab_name("ebgp");
    let file = file();
    let _guard = LabGuard::new(&name, &file);
    ok(&name, "up", &file, &[]);
    ok(
        &name,
        "wait",
        &file,
        &["--bgp-established", "1", "--timeout", "45"],
    );

    let wrong = ping_matrix(&name, &file, &HOSTS);
    assert!(wrong.is_empty(), "{wrong:#?}");

    assert_remote_fdb(&name, &file, &HOSTS, &LEAVES, vtep);

    // The hosts' MACs are all learned by now (they pinged), so their type-2 routes must be
    // there; the poll only covers BGP's update delay. The spine holds every leaf's routes as
    // the leaf sent them; each leaf holds the other leaves' routes as the spine passed them
    // on, with the next hop still the originating VTEP (not the spine's /31 address).
    let mut checks = vec![("spine1", LEAVES.to_vec())];
    for leaf in LEAVES {
        checks.push((leaf, LEAVES.into_iter().filter(|l| *l != leaf).collect()));
    }
    for (node, origins) in checks {
        let good = poll(Duration::from_secs(5), || {
            evpn_problems(&evpn_paths(&name, &file, node), &origins)
                .is_empty()
                .then_some(())
        });
        assert!(
            good.is_some(),
            "{node}'s EVPN table: {:#?}\npaths: {:#?}",
            evpn_problems(&evpn_paths(&name, &file, node), &origins),
            evpn_paths(&name, &file, node)
        );
    }

    down_leaves_nothing(&name, &file);
}

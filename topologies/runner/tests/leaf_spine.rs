//! topologies/leaf-spine end to end (root only): two route reflectors, three leaves, two
//! VNIs sharing one IP subnet. Every host pings every host in its VNI and none in the other
//! VNI; each leaf's vxlan devices hold exactly the remote MACs of their own VNI.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// (host, IP, MAC, VNI, leaf)
const HOSTS: [(&str, &str, &str, u32, &str); 6] = [
    ("h1a", "10.10.0.11", "00:00:5e:00:53:11", 100, "leaf1"),
    ("h2a", "10.10.0.12", "00:00:5e:00:53:21", 100, "leaf2"),
    ("h3a", "10.10.0.13", "00:00:5e:00:53:31", 100, "leaf3"),
    ("h1b", "10.10.0.21", "00:00:5e:00:53:12", 200, "leaf1"),
    ("h2b", "10.10.0.22", "00:00:5e:00:53:22", 200, "leaf2"),
    ("h3b", "10.10.0.23", "00:00:5e:00:53:32", 200, "leaf3"),
];

fn file() -> PathBuf {
    topologies_dir()
        .join("leaf-spine")
        .join("leaf-spine.clab.yml")
}

fn vtep(leaf: &str) -> &'static str {
    match leaf {
        "leaf1" => "10.0.0.1",
        "leaf2" => "10.0.0.2",
        _ => "10.0.0.3",
    }
}

/// MAC -> VTEP of the `self extern_learn` entries on one vxlan device.
fn remote_macs(name: &str, leaf: &str, dev: &str) -> Vec<(String, String)> {
    let o = lab_exec(
        name,
        &file(),
        leaf,
        &["bridge", "-j", "fdb", "show", "dev", dev],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let mut out: Vec<(String, String)> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            let f = e["flags"].as_array();
            f.is_some_and(|f| f.iter().any(|x| x == "extern_learn"))
                && f.is_some_and(|f| f.iter().any(|x| x == "self"))
        })
        .filter_map(|e| {
            Some((
                e["mac"].as_str()?.to_string(),
                e["dst"].as_str()?.to_string(),
            ))
        })
        // Only the hosts' fixed MACs; a macvlan's parent also shows up under its own MAC.
        .filter(|(m, _)| m.starts_with("00:00:5e:00:53:"))
        .collect();
    out.sort();
    out
}

#[test]
fn leaf_spine_isolation_and_reachability() {
    require_root();
    let name = lab_name("ls");
    let file = file();
    let _guard = LabGuard::new(&name, &file);
    ok(&name, "up", &file, &[]);
    ok(
        &name,
        "wait",
        &file,
        &["--bgp-established", "2", "--timeout", "45"],
    );

    // Warm up: each host's first ping in its VNI may race the type-3 routes.
    for (h, _, _, vni, _) in HOSTS {
        let peer = HOSTS
            .iter()
            .find(|(o, _, _, v, _)| *o != h && *v == vni)
            .map(|p| p.1)
            .unwrap_or_default();
        assert!(
            ping_eventually(&name, &file, h, peer, Duration::from_secs(15)),
            "{h} never reached {peer}"
        );
    }

    // Full matrix, one thread per source host (failed pings each cost the 1 s timeout).
    let results: Vec<(String, String, bool, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = HOSTS
            .iter()
            .map(|&(src, _, _, vni, _)| {
                let (name, file) = (&name, &file);
                s.spawn(move || {
                    HOSTS
                        .iter()
                        .filter(|d| d.0 != src)
                        .map(|&(dst, ip, _, dvni, _)| {
                            let o = lab_exec(
                                name,
                                file,
                                src,
                                &["ping", "-c", "2", "-i", "0.2", "-W", "1", ip],
                            );
                            (
                                src.to_string(),
                                dst.to_string(),
                                dvni == vni,
                                o.status.success(),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("ping thread"))
            .collect()
    });
    assert_eq!(results.len(), 30);
    let wrong: Vec<String> = results
        .iter()
        .filter(|(_, _, same, ok)| same != ok)
        .map(|(s, d, same, _)| {
            if *same {
                format!("{s} cannot reach {d} (same VNI)")
            } else {
                format!("{s} reaches {d} across VNIs")
            }
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");

    // FDB: each leaf holds the other leaves' hosts of each VNI on that VNI's device, with
    // the right VTEP, and nothing of the other VNI.
    for leaf in ["leaf1", "leaf2", "leaf3"] {
        for (dev, vni) in [("vxlan100", 100), ("vxlan200", 200)] {
            let mut want: Vec<(String, String)> = HOSTS
                .iter()
                .filter(|h| h.3 == vni && h.4 != leaf)
                .map(|h| (h.2.to_string(), vtep(h.4).to_string()))
                .collect();
            want.sort();
            let got = poll(Duration::from_secs(10), || {
                let got = remote_macs(&name, leaf, dev);
                (got == want).then_some(got)
            });
            assert!(
                got.is_some(),
                "{leaf} {dev}: want {want:?}, have {:?}",
                remote_macs(&name, leaf, dev)
            );
        }
    }

    down_leaves_nothing(&name, &file);
}

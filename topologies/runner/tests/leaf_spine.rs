//! topologies/leaf-spine end to end (root only): two route reflectors, three leaves, two
//! VNIs sharing one IP subnet. Every host pings every host in its VNI and none in the other
//! VNI; each leaf's vxlan devices hold exactly the remote MACs of their own VNI.

mod common;

use std::path::PathBuf;

use common::*;

/// (host, IP, MAC, VNI, leaf)
const HOSTS: [Host; 6] = [
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

    let wrong = ping_matrix(&name, &file, &HOSTS);
    assert!(wrong.is_empty(), "{wrong:#?}");

    // FDB: each leaf holds the other leaves' hosts of each VNI on that VNI's device, with
    // the right VTEP, and nothing of the other VNI.
    assert_remote_fdb(&name, &file, &HOSTS, &["leaf1", "leaf2", "leaf3"], vtep);

    down_leaves_nothing(&name, &file);
}

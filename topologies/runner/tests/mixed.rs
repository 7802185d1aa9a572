//! topologies/mixed end to end (root only): FRR leaves (leaf1, leaf2) and an evpnd leaf
//! (leaf3), an FRR and an evpnd route reflector. Every host pings every host in its VNI and
//! none in the other VNI; each leaf's vxlan devices hold exactly the remote MACs of their
//! own VNI with the right VTEP: FRR programmed leaf3's hosts, evpnd the FRR leaves' hosts.
//!
//! Needs evpnd: `$EVPND_BIN`, else the binary next to evpnlab (`cargo build -p evpnd`).

mod common;

use std::path::{Path, PathBuf};

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
    topologies_dir().join("mixed").join("mixed.clab.yml")
}

fn vtep(leaf: &str) -> &'static str {
    match leaf {
        "leaf1" => "10.0.0.1",
        "leaf2" => "10.0.0.2",
        _ => "10.0.0.3",
    }
}

#[test]
fn mixed_frr_and_evpnd_leaves_reach_each_other() {
    require_root();
    let evpnd = std::env::var_os("EVPND_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(BIN).with_file_name("evpnd"));
    assert!(
        evpnd.is_file(),
        "need {}: run `cargo build -p evpnd` (or set EVPND_BIN)",
        evpnd.display()
    );
    let name = lab_name("mixed");
    let file = file();
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    let o = evpnlab_env(
        &["--name", &name, "up", f],
        &[("EVPND_BIN", evpnd.to_str().expect("utf-8"))],
    );
    assert!(o.status.success(), "up: {}", text(&o));
    // spine1 (FRR) has three leaves; leaf1/leaf2 (FRR) both spines.
    ok(
        &name,
        "wait",
        &file,
        &["--bgp-established", "2", "--timeout", "45"],
    );

    let wrong = ping_matrix(&name, &file, &HOSTS);
    assert!(wrong.is_empty(), "{wrong:#?}");

    assert_remote_fdb(&name, &file, &HOSTS, &["leaf1", "leaf2", "leaf3"], vtep);

    down_leaves_nothing(&name, &file);
}

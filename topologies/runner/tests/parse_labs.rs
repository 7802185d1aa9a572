//! Every `*.clab.yml` under topologies/ parses into a topology evpnlab can build, and every
//! FRR config it binds passes FRR's own syntax check (`vtysh --dryrun`).

use std::path::{Path, PathBuf};
use std::process::Command;

use evpnlab::{Role, Topology};

fn clab_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name()
                    .is_some_and(|n| n != "target" && n != "runner")
                {
                    walk(&p, out);
                }
            } else if p.to_string_lossy().ends_with(".clab.yml") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("topologies dir")
        .to_path_buf();
    let mut out = Vec::new();
    walk(&root, &mut out);
    out.sort();
    out
}

#[test]
fn every_lab_file_parses() {
    let files = clab_files();
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("2-leaf-frr/2-leaf-frr.clab.yml")),
        "2-leaf-frr lab not found among {files:?}"
    );
    for f in &files {
        let t = Topology::load(f, None).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!t.nodes.is_empty(), "{}: no nodes", f.display());
        assert!(!t.links.is_empty(), "{}: no links", f.display());
        // Every node is wired to something; an unlinked node is almost surely a typo.
        for n in &t.nodes {
            assert!(
                t.links
                    .iter()
                    .any(|l| l.a.node == n.name || l.b.node == n.name),
                "{}: node {} has no link",
                f.display(),
                n.name
            );
        }
    }
}

#[test]
fn two_leaf_frr_shape() {
    let f = clab_files()
        .into_iter()
        .find(|f| f.ends_with("2-leaf-frr/2-leaf-frr.clab.yml"))
        .expect("2-leaf-frr lab");
    let t = Topology::load(&f, None).expect("2-leaf-frr parses");
    assert_eq!(t.name, "2-leaf-frr");
    let role = |n: &str| t.node(n).map(|n| n.role);
    assert_eq!(role("spine1"), Some(Role::Frr));
    assert_eq!(role("leaf1"), Some(Role::Frr));
    assert_eq!(role("leaf2"), Some(Role::Frr));
    assert_eq!(role("host1"), Some(Role::Host));
    assert_eq!(role("host2"), Some(Role::Host));
    assert_eq!(t.links.len(), 4);
    // Both host attachment styles are used.
    let exec2 = t
        .node("host2")
        .map(|n| n.exec.join("\n"))
        .unwrap_or_default();
    assert!(exec2.contains("type macvlan mode bridge"), "{exec2}");
    for leaf in ["leaf1", "leaf2"] {
        let exec = t.node(leaf).map(|n| n.exec.join("\n")).unwrap_or_default();
        assert!(exec.contains("nolearning"), "{leaf}");
        assert!(exec.contains("neigh_suppress on"), "{leaf}");
        let conf = std::fs::read_to_string(t.node(leaf).and_then(|n| n.frr_config()).unwrap())
            .expect("leaf frr.conf");
        assert!(conf.contains("advertise-all-vni"), "{leaf}");
    }
}

#[test]
fn frr_configs_pass_vtysh_dryrun() {
    let vtysh = std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("vtysh"))
                .find(|p| p.is_file())
        })
        .expect("vtysh not found: install FRR (apt-get install frr) to check the lab configs");
    for f in clab_files() {
        let t = Topology::load(&f, None).expect("parses");
        for n in t.nodes.iter().filter(|n| n.role == Role::Frr) {
            let conf = n.frr_config().expect("FRR node has a config");
            let o = Command::new(&vtysh)
                .arg("--dryrun")
                .arg("-f")
                .arg(&conf)
                .output()
                .expect("run vtysh");
            assert!(
                o.status.success(),
                "{}: {} fails vtysh --dryrun: {}{}",
                f.display(),
                conf.display(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

/// `leaf-spine` is the evpnd fabric, and `mixed` is leaf-spine with FRR on spine1, leaf1
/// and leaf2: same nodes, same links, same host attachments; only those nodes' kinds differ.
#[test]
fn mixed_is_leaf_spine_with_frr_on_spine1_leaf1_leaf2() {
    let find = |suffix: &str| {
        let f = clab_files()
            .into_iter()
            .find(|f| f.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix} not found"));
        Topology::load(&f, None).unwrap_or_else(|e| panic!("{suffix}: {e}"))
    };
    let ls = find("leaf-spine/leaf-spine.clab.yml");
    let mx = find("mixed/mixed.clab.yml");
    assert_eq!(mx.name, "mixed");
    let links = |t: &Topology| {
        let mut v: Vec<String> = t.links.iter().map(|l| format!("{}-{}", l.a, l.b)).collect();
        v.sort();
        v
    };
    assert_eq!(links(&mx), links(&ls));
    let nodes = |t: &Topology| t.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
    assert_eq!(nodes(&mx), nodes(&ls));
    for n in &ls.nodes {
        let want = if n.name.starts_with('h') {
            Role::Host
        } else {
            Role::Evpnd
        };
        assert_eq!(n.role, want, "leaf-spine node {}", n.name);
    }
    for n in &mx.nodes {
        let want = match n.name.as_str() {
            "spine1" | "leaf1" | "leaf2" => Role::Frr,
            other => ls
                .node(other)
                .map(|n| n.role)
                .expect("same node in leaf-spine"),
        };
        assert_eq!(n.role, want, "mixed node {}", n.name);
        if n.name.starts_with('h') {
            assert_eq!(
                Some(&n.exec),
                ls.node(&n.name).map(|n| &n.exec),
                "host {} differs from leaf-spine",
                n.name
            );
        }
    }
    // Both host attachment styles, and leaves whose VXLAN devices leave learning and
    // flooding to the control plane.
    let exec = |t: &Topology, n: &str| t.node(n).map(|n| n.exec.join("\n")).unwrap_or_default();
    assert!(exec(&ls, "h1b").contains("type macvlan mode bridge"));
    assert!(!exec(&ls, "h1a").contains("macvlan"));
    for leaf in ["leaf1", "leaf2", "leaf3"] {
        let e = exec(&ls, leaf);
        assert!(
            e.contains("nolearning") && e.contains("neigh_suppress on"),
            "{leaf}"
        );
        // Static ECMP underlay over both spines (evpnd speaks no IPv4 unicast).
        assert!(
            e.contains("nexthop via 10.1.") && e.contains("nexthop via 10.2."),
            "{leaf}"
        );
    }
}

//! Every evpnd config under topologies/ loads with evpnd's own loader
//! (`evpnd::config::Config::load`: schema, validation), and every evpnd node of every lab
//! binds one that fits the node: router id = the node's loopback, and each configured peer
//! is the far end of one of the node's /31 links.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use evpnd::config::Config;
use evpnlab::{Role, Topology};

fn topologies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("topologies dir")
        .to_path_buf()
}

/// Files under topologies/ (not the runner) whose name passes `keep`.
fn files(keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    fn walk(dir: &Path, keep: &dyn Fn(&str) -> bool, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                if name != "target" && name != "runner" {
                    walk(&p, keep, out);
                }
            } else if keep(&name) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&topologies_dir(), keep, &mut out);
    out.sort();
    out
}

#[test]
fn every_evpnd_config_loads() {
    let configs = files(&|n| {
        n.starts_with("evpnd.") && [".toml", ".yaml", ".yml"].iter().any(|e| n.ends_with(e))
    });
    for want in [
        "mixed/leaf3/evpnd.toml",
        "mixed/spine2/evpnd.toml",
        "ebgp/spine1/evpnd.toml",
        "ebgp/leaf1/evpnd.toml",
        "leaf-spine/spine1/evpnd.toml",
        "leaf-spine/leaf3/evpnd.toml",
    ] {
        assert!(
            configs.iter().any(|c| c.ends_with(want)),
            "{want} not found among {configs:?}"
        );
    }
    for c in &configs {
        if let Err(e) = Config::load(c) {
            panic!("{e}");
        }
    }
}

/// `ip addr add A/LEN dev DEV` in a node's exec list, as (A, LEN, DEV).
fn addresses(exec: &[String]) -> Vec<(Ipv4Addr, u8, String)> {
    exec.iter()
        .filter_map(|c| {
            let w: Vec<&str> = c.split_whitespace().collect();
            match w.as_slice() {
                ["ip", "addr", "add", a, "dev", dev] => {
                    let (ip, len) = a.split_once('/')?;
                    Some((ip.parse().ok()?, len.parse().ok()?, dev.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn evpnd_nodes_bind_configs_that_fit_them() {
    let labs = files(&|n| n.ends_with(".clab.yml"));
    let mut checked = 0;
    for f in &labs {
        let t = Topology::load(f, None).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for n in t.nodes.iter().filter(|n| n.role == Role::Evpnd) {
            let what = format!("{} node {}", f.display(), n.name);
            let path = n
                .evpnd_config()
                .unwrap_or_else(|| panic!("{what}: no evpnd config bound"));
            let cfg = Config::load(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
            let addrs = addresses(&n.exec);
            let lo = addrs
                .iter()
                .find(|(_, len, dev)| *len == 32 && dev == "lo")
                .map(|a| a.0);
            assert_eq!(
                Some(cfg.file.global.router_id),
                lo,
                "{what}: router_id is not the loopback"
            );
            // The far end of each /31 on a link of this node.
            let far: Vec<IpAddr> = addrs
                .iter()
                .filter(|(_, len, _)| *len == 31)
                .map(|(a, _, _)| IpAddr::V4(Ipv4Addr::from(u32::from(*a) ^ 1)))
                .collect();
            assert!(!cfg.peers.is_empty(), "{what}: no peers");
            for p in cfg.peers.keys() {
                assert!(
                    far.contains(p),
                    "{what}: peer {p} is not across any of its /31s {far:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 12,
        "only {checked} evpnd nodes found in {labs:?}"
    );
}

/// The containerlab side: every evpnd node names the image the repository's Dockerfile builds
/// (its header gives the `docker build -t` tag) and binds its config where that image's
/// entrypoint reads it, so `containerlab deploy` starts the same evpnd evpnlab starts.
#[test]
fn evpnd_nodes_match_the_dockerfile() {
    let dockerfile = topologies_dir().join("..").join("Dockerfile");
    let text = std::fs::read_to_string(&dockerfile)
        .unwrap_or_else(|e| panic!("{}: {e}", dockerfile.display()));
    let tag = text
        .lines()
        .find_map(|l| {
            l.trim_start_matches('#')
                .trim()
                .strip_prefix("docker build -t ")
        })
        .and_then(|rest| rest.split_whitespace().next())
        .expect("Dockerfile header names no `docker build -t TAG` command");
    let entry = text
        .lines()
        .find(|l| l.starts_with("ENTRYPOINT"))
        .expect("Dockerfile has no ENTRYPOINT");
    let config_path = "/etc/evpnd/evpnd.toml";
    assert!(
        entry.contains(&format!("\"--config\", \"{config_path}\"")),
        "ENTRYPOINT does not read {config_path}: {entry}"
    );
    let mut checked = 0;
    for f in files(&|n| n.ends_with(".clab.yml")) {
        let t = Topology::load(&f, None).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for n in t.nodes.iter().filter(|n| n.role == Role::Evpnd) {
            let what = format!("{} node {}", f.display(), n.name);
            assert_eq!(n.image, tag, "{what}: image is not the Dockerfile's tag");
            assert!(
                n.binds.iter().any(|b| b.container == config_path),
                "{what}: binds no file to {config_path}, where the image's evpnd reads it"
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} evpnd nodes checked");
}

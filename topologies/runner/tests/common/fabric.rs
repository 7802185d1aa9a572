//! The leaf-spine-shaped labs driven by the tests: `leaf-spine` (all evpnd) and `mixed` (FRR
//! and evpnd) share nodes, addressing and hosts. Bring one up, read FRR's and evpnd's views
//! of a MAC, stop and start a node's evpnd (`evpnlab stop/start`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::*;

/// (host, IP, MAC, VNI, leaf), as in leaf-spine.clab.yml and mixed.clab.yml.
pub const HOSTS: [Host; 6] = [
    ("h1a", "10.10.0.11", "00:00:5e:00:53:11", 100, "leaf1"),
    ("h2a", "10.10.0.12", "00:00:5e:00:53:21", 100, "leaf2"),
    ("h3a", "10.10.0.13", "00:00:5e:00:53:31", 100, "leaf3"),
    ("h1b", "10.10.0.21", "00:00:5e:00:53:12", 200, "leaf1"),
    ("h2b", "10.10.0.22", "00:00:5e:00:53:22", 200, "leaf2"),
    ("h3b", "10.10.0.23", "00:00:5e:00:53:32", 200, "leaf3"),
];

pub const H1A_MAC: &str = "00:00:5e:00:53:11";
pub const H2A_MAC: &str = "00:00:5e:00:53:21";
pub const H3A_MAC: &str = "00:00:5e:00:53:31";

pub fn vtep(leaf: &str) -> &'static str {
    match leaf {
        "leaf1" => "10.0.0.1",
        "leaf2" => "10.0.0.2",
        _ => "10.0.0.3",
    }
}

/// evpnd and evpnctl from `$EVPND_BIN`, else next to the evpnlab binary.
pub fn binaries() -> (PathBuf, PathBuf) {
    let evpnd = std::env::var_os("EVPND_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(BIN).with_file_name("evpnd"));
    let evpnctl = evpnd.with_file_name("evpnctl");
    assert!(
        evpnd.is_file() && evpnctl.is_file(),
        "need {} and {}: run `cargo build --workspace --bins` (or set EVPND_BIN)",
        evpnd.display(),
        evpnctl.display()
    );
    (evpnd, evpnctl)
}

/// A converged lab, torn down when dropped.
pub struct Lab {
    /// The lab's directory under topologies/ (`mixed`, `leaf-spine`).
    pub lab: &'static str,
    pub name: String,
    pub file: PathBuf,
    pub evpnd: PathBuf,
    pub evpnctl: PathBuf,
    _guard: LabGuard,
}

impl Lab {
    /// The mixed lab.
    pub fn up(tag: &str) -> Lab {
        Lab::up_lab(tag, "mixed")
    }

    /// `topologies/<lab>/<lab>.clab.yml`, up and every BGP session Established.
    pub fn up_lab(tag: &str, lab: &'static str) -> Lab {
        require_root();
        let (evpnd, evpnctl) = binaries();
        let name = lab_name(tag);
        let file = topologies_dir().join(lab).join(format!("{lab}.clab.yml"));
        let guard = LabGuard::new(&name, &file);
        let f = file.to_str().expect("utf-8");
        let o = evpnlab_env(
            &["--name", &name, "up", f],
            &[("EVPND_BIN", evpnd.to_str().expect("utf-8"))],
        );
        assert!(o.status.success(), "up: {}", text(&o));
        let lab = Lab {
            lab,
            name,
            file,
            evpnd,
            evpnctl,
            _guard: guard,
        };
        lab.wait_established();
        lab
    }

    /// Every node's configured sessions Established: two per leaf in the leaf-spine
    /// shaped labs, one (the spine) in ebgp.
    pub fn wait_established(&self) {
        let peers = if self.lab == "ebgp" { "1" } else { "2" };
        ok(
            &self.name,
            "wait",
            &self.file,
            &["--bgp-established", peers, "--timeout", "45"],
        );
    }

    pub fn exec(&self, node: &str, cmd: &[&str]) -> String {
        let o = lab_exec(&self.name, &self.file, node, cmd);
        assert!(o.status.success(), "exec {cmd:?} on {node}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn node_dir(&self, node: &str) -> PathBuf {
        Path::new("/run/evpnlab")
            .join(&self.name)
            .join("nodes")
            .join(node)
    }

    /// `evpnctl show WHAT -j` on an evpnd node, through `evpnlab exec NODE -- evpnctl` (which
    /// points evpnctl at the node's own control socket).
    pub fn show(&self, node: &str, what: &str) -> Value {
        let ctl = self.evpnctl.to_str().expect("utf-8");
        let o = lab_exec(&self.name, &self.file, node, &[ctl, "show", what, "-j"]);
        assert!(
            o.status.success(),
            "{node}: evpnctl show {what}: {}",
            text(&o)
        );
        serde_json::from_slice(&o.stdout).expect("evpnctl -j json")
    }

    /// `show WHAT -j` as an array (empty if it is none).
    pub fn rows(&self, node: &str, what: &str) -> Vec<Value> {
        self.show(node, what)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `evpnlab stop NODE` (`--kill`: SIGKILL) / `evpnlab start NODE`: the lab's own evpnd.
    pub fn stop(&self, node: &str, kill: bool) {
        let rest: &[&str] = if kill { &[node, "--kill"] } else { &[node] };
        ok(&self.name, "stop", &self.file, rest);
    }

    pub fn start(&self, node: &str) {
        ok(&self.name, "start", &self.file, &[node]);
    }

    /// evpnd's (kind, sequence, vtep) for `mac` in VNI 100 on `node`.
    pub fn evpnd_mac(&self, node: &str, mac: &str) -> Option<(String, u64, Option<String>)> {
        let v = self.show(node, "macs");
        let m = v
            .as_array()?
            .iter()
            .find(|m| m["mac"] == mac && m["vni"] == 100)?;
        Some((
            m["kind"].as_str()?.to_string(),
            m["sequence"].as_u64()?,
            m["vtep"].as_str().map(str::to_string),
        ))
    }

    /// FRR zebra's (type, remote VTEP, sequence) for `mac` in VNI 100 on an FRR leaf: the
    /// sequence is the local one for a local MAC, the remote one for a remote MAC.
    pub fn frr_mac(&self, node: &str, mac: &str) -> Option<(String, Option<String>, u64)> {
        let o = lab_exec(
            &self.name,
            &self.file,
            node,
            &[
                "vtysh",
                "-c",
                &format!("show evpn mac vni 100 mac {mac} json"),
            ],
        );
        let v: Value = serde_json::from_slice(&o.stdout).ok()?;
        // 8.4 answers either the entry itself or {mac: entry}.
        let e = if v.get("type").is_some() { &v } else { &v[mac] };
        let ty = e["type"].as_str()?.to_string();
        let seq = if ty == "local" {
            e["localSequence"].as_u64()?
        } else {
            e["remoteSequence"].as_u64()?
        };
        Some((ty, e["remoteVtep"].as_str().map(str::to_string), seq))
    }

    pub fn frr_mac_raw(&self, node: &str, mac: &str) -> String {
        let o = lab_exec(
            &self.name,
            &self.file,
            node,
            &[
                "vtysh",
                "-c",
                &format!("show evpn mac vni 100 mac {mac} json"),
            ],
        );
        text(&o)
    }

    /// The kernel's `self extern_learn` entries of vxlan100 on `leaf`.
    pub fn fdb100(&self, leaf: &str) -> Vec<(String, String)> {
        remote_macs(&self.name, &self.file, leaf, "vxlan100")
    }

    pub fn has_remote(&self, leaf: &str, mac: &str, vtep: &str) -> bool {
        self.fdb100(leaf).iter().any(|(m, d)| m == mac && d == vtep)
    }

    /// Moves h1a (VNI 100) to `leaf`: h1a goes silent on leaf1 (no address, no IPv6; its
    /// bridge entry there stays until aging, so leaf1's route stays too) and a veth on
    /// `leaf`'s br100 with h1a's MAC and IP speaks (pings `to`), so `leaf` learns the MAC
    /// while leaf1's route still exists: a move, not a new MAC.
    pub fn move_h1a_to(&self, leaf: &str, to: &str) {
        self.exec("h1a", &["ip", "addr", "flush", "dev", "eth1"]);
        self.exec(
            "h1a",
            &["sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=1"],
        );
        self.exec(
            leaf,
            &[
                "sh",
                "-c",
                "ip link add mvh1 type veth peer name mvh1p && \
                 ip link set mvh1 master br100 up && ip link set mvh1p address 00:00:5e:00:53:11 && \
                 sysctl -qw net.ipv6.conf.mvh1p.disable_ipv6=1 && ip link set mvh1p up && \
                 ip addr add 10.10.0.11/24 dev mvh1p",
            ],
        );
        let _ = lab_exec(
            &self.name,
            &self.file,
            leaf,
            &["ping", "-c", "1", "-W", "1", "-I", "mvh1p", to],
        );
    }

    /// Moves h1a back from `leaf` (after [`Lab::move_h1a_to`]): the stand-in goes silent
    /// (its bridge entry stays), h1a speaks again on leaf1 (pings `to`).
    pub fn move_h1a_back(&self, leaf: &str, to: &str) {
        self.exec(leaf, &["ip", "addr", "flush", "dev", "mvh1p"]);
        self.exec(
            "h1a",
            &["sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=0"],
        );
        self.exec(
            "h1a",
            &["ip", "addr", "add", "10.10.0.11/24", "dev", "eth1"],
        );
        let _ = lab_exec(
            &self.name,
            &self.file,
            "h1a",
            &["ping", "-c", "1", "-W", "1", to],
        );
    }
}

/// Polls fast; the time it took, or None after `timeout`.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

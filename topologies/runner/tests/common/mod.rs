//! Helpers for the root-only lab tests: run the evpnlab binary, unique lab names, and a guard
//! that tears a lab down even when an assertion fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod arp;
pub mod fabric;

pub const BIN: &str = env!("CARGO_BIN_EXE_evpnlab");

/// These tests build namespaces and start FRR: they need root. Fail loudly otherwise; a
/// silently skipped test would prove nothing.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the evpnlab lab tests must run as root (they create network namespaces and start FRR)"
    );
}

/// A lab name unique to this test process and call: `evt-lab-<tag>-<pid>-<n>`.
pub fn lab_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "evt-lab-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn topologies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn two_leaf_frr_file() -> PathBuf {
    topologies_dir()
        .join("2-leaf-frr")
        .join("2-leaf-frr.clab.yml")
}

pub fn evpnlab(args: &[&str]) -> Output {
    evpnlab_env(args, &[])
}

pub fn evpnlab_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run evpnlab binary")
}

pub fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `evpnlab --name NAME SUBCOMMAND FILE ARGS...`, asserting success.
pub fn ok(name: &str, sub: &str, file: &Path, rest: &[&str]) -> Output {
    let f = file.to_str().expect("utf-8 path");
    let mut args = vec!["--name", name, sub, f];
    args.extend_from_slice(rest);
    let o = evpnlab(&args);
    assert!(o.status.success(), "evpnlab {args:?} failed:\n{}", text(&o));
    o
}

/// `evpnlab --name NAME exec FILE NODE -- CMD...`, returning its output whatever the status.
pub fn lab_exec(name: &str, file: &Path, node: &str, cmd: &[&str]) -> Output {
    let f = file.to_str().expect("utf-8 path");
    let mut args = vec!["--name", name, "exec", f, node, "--"];
    args.extend_from_slice(cmd);
    evpnlab(&args)
}

pub fn namespace_exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// Namespaces whose name starts with `prefix`.
pub fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

pub fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().expect("run ip");
    assert!(o.status.success(), "ip {args:?}: {}", text(&o));
}

/// Tears the lab down on drop (also after a failed assertion), and deletes any extra
/// namespaces the test made itself.
pub struct LabGuard {
    pub name: String,
    pub file: PathBuf,
    pub own_namespaces: Vec<String>,
}

impl LabGuard {
    pub fn new(name: &str, file: &Path) -> LabGuard {
        LabGuard {
            name: name.to_string(),
            file: file.to_path_buf(),
            own_namespaces: Vec::new(),
        }
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        let f = self.file.to_string_lossy().to_string();
        let _ = evpnlab(&["--name", &self.name, "down", &f]);
        for ns in &self.own_namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        // Topologies written by the tests live in temp dirs of their own.
        if let Some(dir) = self.file.parent() {
            let tmp = dir.starts_with(std::env::temp_dir());
            let ours = dir
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("evt-lab-"));
            if tmp && ours {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// Polls `f` until it returns Some or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A small topology of plain hosts (no FRR), written next to nothing else in a temp dir.
pub fn write_hosts_lab(dir_tag: &str, extra_exec_h2: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("evt-lab-{dir_tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("hosts.clab.yml");
    let text = format!(
        r#"name: hosts
topology:
  nodes:
    h1:
      kind: linux
      image: alpine:3
      exec:
        - ip addr add 192.0.2.1/24 dev eth1
    h2:
      kind: linux
      image: alpine:3
      exec:
        - ip addr add 192.0.2.2/24 dev eth1{extra_exec_h2}
  links:
    - endpoints: ["h1:eth1", "h2:eth1"]
"#
    );
    std::fs::write(&file, text).expect("write topology");
    file
}

/// `down`, then no namespace of the lab may be left.
pub fn down_leaves_nothing(name: &str, file: &Path) {
    ok(name, "down", file, &[]);
    assert_eq!(
        namespaces_with_prefix(&format!("clab-{name}-")),
        Vec::<String>::new(),
        "namespaces left after down"
    );
}

/// Pings from `node` until one reply arrives (the first packets may race the EVPN type-3
/// routes that build the flood list); false if none within `timeout`.
pub fn ping_eventually(name: &str, file: &Path, node: &str, ip: &str, timeout: Duration) -> bool {
    poll(timeout, || {
        lab_exec(name, file, node, &["ping", "-c", "1", "-W", "1", ip])
            .status
            .success()
            .then_some(())
    })
    .is_some()
}

/// A lab host: (name, IP, MAC, VNI, leaf it hangs off).
pub type Host = (&'static str, &'static str, &'static str, u32, &'static str);

/// The `self` entries (the VXLAN device's own, with a `dst`) of one vxlan device as
/// (MAC, VTEP, extern_learn), in the kernel's order.
pub fn vxlan_self_fdb(
    name: &str,
    file: &Path,
    leaf: &str,
    dev: &str,
) -> Vec<(String, String, bool)> {
    let o = lab_exec(
        name,
        file,
        leaf,
        &["bridge", "-j", "fdb", "show", "dev", dev],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let f = e["flags"].as_array()?;
            if !f.iter().any(|x| x == "self") {
                return None;
            }
            Some((
                e["mac"].as_str()?.to_string(),
                e["dst"].as_str()?.to_string(),
                f.iter().any(|x| x == "extern_learn"),
            ))
        })
        .collect()
}

/// MAC -> VTEP of the `self extern_learn` entries on one vxlan device, sorted; only the hosts'
/// fixed MACs (`00:00:5e:00:53:*`): a macvlan's parent also shows up under its own MAC.
pub fn remote_macs(name: &str, file: &Path, leaf: &str, dev: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vxlan_self_fdb(name, file, leaf, dev)
        .into_iter()
        .filter(|(m, _, extern_learn)| *extern_learn && m.starts_with("00:00:5e:00:53:"))
        .map(|(m, d, _)| (m, d))
        .collect();
    out.sort();
    out
}

/// Every host pings every other host: those in its VNI must answer, those in the other VNI
/// must not. Returns one line per wrong pair (empty = all as expected).
pub fn ping_matrix(name: &str, file: &Path, hosts: &[Host]) -> Vec<String> {
    // Warm up: each host's first ping in its VNI may race the type-3 routes.
    std::thread::scope(|s| {
        for &(h, _, _, vni, _) in hosts {
            let peer = hosts
                .iter()
                .find(|(o, _, _, v, _)| *o != h && *v == vni)
                .map(|p| p.1)
                .unwrap_or_default();
            s.spawn(move || {
                assert!(
                    ping_eventually(name, file, h, peer, Duration::from_secs(15)),
                    "{h} never reached {peer}"
                );
            });
        }
    });
    // Full matrix, one thread per source host (failed pings each cost the 1 s timeout).
    let results: Vec<(String, String, bool, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .map(|&(src, _, _, vni, _)| {
                s.spawn(move || {
                    hosts
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
    assert_eq!(results.len(), hosts.len() * (hosts.len() - 1));
    results
        .iter()
        .filter(|(_, _, same, ok)| same != ok)
        .map(|(s, d, same, _)| {
            if *same {
                format!("{s} cannot reach {d} (same VNI)")
            } else {
                format!("{s} reaches {d} across VNIs")
            }
        })
        .collect()
}

/// Each leaf's `vxlan100`/`vxlan200` hold exactly the other leaves' hosts of that VNI, each
/// with its leaf's VTEP (`vtep(leaf)`), and nothing of the other VNI.
pub fn assert_remote_fdb(
    name: &str,
    file: &Path,
    hosts: &[Host],
    leaves: &[&str],
    vtep: impl Fn(&str) -> &'static str,
) {
    for &leaf in leaves {
        for (dev, vni) in [("vxlan100", 100), ("vxlan200", 200)] {
            let mut want: Vec<(String, String)> = hosts
                .iter()
                .filter(|h| h.3 == vni && h.4 != leaf)
                .map(|h| (h.2.to_string(), vtep(h.4).to_string()))
                .collect();
            want.sort();
            let got = poll(Duration::from_secs(10), || {
                let got = remote_macs(name, file, leaf, dev);
                (got == want).then_some(got)
            });
            assert!(
                got.is_some(),
                "{leaf} {dev}: want {want:?}, have {:?}",
                remote_macs(name, file, leaf, dev)
            );
        }
    }
}

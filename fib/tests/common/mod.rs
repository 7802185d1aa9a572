//! Namespaces for kernel tests: unique names (`evt-fib-<random>`), removed on drop, also
//! when a test fails.

#![allow(dead_code)]

use std::process::Command;

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(
        uid, 0,
        "kernel tests need root (network namespaces); run as root"
    );
    for tool in ["ip", "bridge", "ping"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            ok,
            "kernel tests need `{tool}` (apt-get install iproute2 iputils-ping)"
        );
    }
}

fn random_suffix() -> String {
    let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").expect("read uuid");
    uuid.chars()
        .filter(|c| c.is_ascii_hexdigit())
        .take(8)
        .collect()
}

/// A network namespace that exists while this value lives.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = format!("evt-fib-{}-{tag}", random_suffix());
        sh(&format!("ip netns add {name}"));
        let ns = Netns { name };
        ns.run("ip link set lo up");
        ns
    }

    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Runs a shell command inside the namespace; panics with its output on failure.
    pub fn run(&self, cmd: &str) -> String {
        sh(&format!("ip netns exec {} {cmd}", self.name))
    }

    pub fn json(&self, cmd: &str) -> serde_json::Value {
        let out = self.run(cmd);
        let out = if out.trim().is_empty() {
            "[]".to_string()
        } else {
            out
        };
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("`{cmd}` gave no JSON ({e}): {out}"))
    }

    /// Turns IPv6 off for interfaces created from now on (no DAD/RS frames, no address
    /// events). /proc/sys/net is per namespace; no sysctl binary needed.
    pub fn no_ipv6(&self) {
        self.run(
            "sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6; \
             echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6'",
        );
    }

    /// The classic EVPN leaf layout: br100 (SVI 192.168.100.1/24) + vxlan100.
    pub fn leaf(&self) {
        self.run("ip link add name br100 type bridge");
        self.run(
            "ip link add name vxlan100 type vxlan id 100 local 10.0.0.1 dstport 4789 nolearning",
        );
        self.run("ip link set vxlan100 master br100");
        self.run("bridge link set dev vxlan100 learning off");
        self.run("ip addr add 192.168.100.1/24 dev br100");
        self.run("ip link set br100 up");
        self.run("ip link set vxlan100 up");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("spawn sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

//! A passive gobgpd on loopback feeding one evpnd over eBGP, driven with the `gobgp` CLI.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;

use super::{free_port, require, spawn_gobgpd, Proc};

/// A passive gobgpd on `me`:`port` in AS `asn`, with one eBGP neighbour `peer` in AS 65000.
pub struct Gobgpd {
    _proc: Proc,
    pub api: u16,
    pub port: u16,
}

impl Gobgpd {
    pub fn start(dir: &Path, name: &str, me: Ipv4Addr, asn: u32, peer: Ipv4Addr) -> Self {
        require("gobgpd");
        require("gobgp");
        let (port, api) = (free_port(me), free_port(Ipv4Addr::LOCALHOST));
        let conf = dir.join(format!("{name}.toml"));
        std::fs::write(
            &conf,
            format!(
                r#"[global.config]
  as = {asn}
  router-id = "10.0.0.{last}"
  port = {port}
  local-address-list = ["{me}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{peer}"
    peer-as = 65000
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l2vpn-evpn"
"#,
                last = me.octets()[3]
            ),
        )
        .expect("write gobgpd config");
        Self {
            _proc: spawn_gobgpd(
                &conf,
                api,
                dir.join(format!("{name}-state")),
                SocketAddr::from((me, port)),
            ),
            api,
            port,
        }
    }

    /// Runs the `gobgp` CLI against this instance; its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("gobgp")
            .args(["-p", &self.api.to_string(), "-u", "127.0.0.1"])
            .args(args)
            .output()
            .expect("gobgp CLI");
        assert!(out.status.success(), "gobgp {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Adds (`op` = "add") or withdraws ("del") a type-2 MAC route with VTEP `vtep`
    /// (RD `vtep`:100, label 100, route target `rt`).
    pub fn mac_route(&self, op: &str, mac: &str, vtep: &str, rt: &str) {
        self.cli(&[
            "global",
            "rib",
            "-a",
            "evpn",
            op,
            "macadv",
            mac,
            "0.0.0.0",
            "etag",
            "0",
            "label",
            "100",
            "rd",
            &format!("{vtep}:100"),
            "rt",
            rt,
            "encap",
            "vxlan",
            "nexthop",
            vtep,
        ]);
    }
}

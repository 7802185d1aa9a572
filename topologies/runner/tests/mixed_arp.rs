//! topologies/mixed, ARP suppression (root only): once the leaves know a host's MAC+IP, an
//! ARP request for it is answered by the asker's own leaf (`neigh_suppress` on the vxlan
//! device, the neighbour entry on the SVI) and never crosses the underlay. Covers an FRR leaf
//! answering for a host FRR learned, the evpnd leaf answering for it, and an FRR leaf
//! answering for a host evpnd learned. tcpdump on both spines counts the broadcast ARP
//! requests inside VXLAN; one for an unknown address must cross (the capture works).
//!
//! Needs evpnd and evpnctl (see mixed_dynamics.rs) and tcpdump.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::mixedlab::*;
use common::*;
use serde_json::Value;

/// Does `leaf`'s br100 hold `ip` as a remote neighbour (extern_learn)?
fn remote_neigh(lab: &Lab, leaf: &str, ip: &str) -> bool {
    let o = lab_exec(
        &lab.name,
        &lab.file,
        leaf,
        &["ip", "-j", "neigh", "show", "dev", "br100"],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    v.as_array().into_iter().flatten().any(|n| {
        n["dst"] == ip
            && n["state"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x == "NOARP"))
            && n.get("extern_learn").is_some()
    })
}

/// tcpdump of VXLAN on all of a spine's interfaces into a pcap file; stopped on drop.
struct Capture {
    child: Child,
    pcap: PathBuf,
}

impl Capture {
    fn start(lab: &Lab, spine: &str) -> Capture {
        let pcap = std::env::temp_dir().join(format!("{}-{spine}.pcap", lab.name));
        let log = pcap.with_extension("log");
        let _ = std::fs::remove_file(&pcap);
        let err = std::fs::File::create(&log).expect("tcpdump log");
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("clab-{}-{spine}", lab.name)])
            .args(["tcpdump", "-i", "any", "-nn", "-U", "-w"])
            .arg(&pcap)
            .args(["udp", "port", "4789"])
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("start tcpdump (apt-get install tcpdump)");
        // Packets sent before tcpdump listens would be missed and prove nothing.
        let listening = poll(Duration::from_secs(10), || {
            let t = std::fs::read_to_string(&log).unwrap_or_default();
            t.contains("listening on").then_some(())
        });
        let _ = std::fs::remove_file(&log);
        assert!(
            listening.is_some(),
            "tcpdump in {spine} never started listening"
        );
        Capture { child, pcap }
    }

    /// Stops the capture; the decoded lines (`tcpdump -nn -e -r`).
    fn stop(mut self) -> Vec<String> {
        // SAFETY: kill(2) of our own child (tcpdump: `ip netns exec` execs it).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let o = Command::new("tcpdump")
            .args(["-nn", "-e", "-r"])
            .arg(&self.pcap)
            .output()
            .expect("run tcpdump -r");
        assert!(o.status.success(), "tcpdump -r: {}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.pcap);
    }
}

/// Broadcast ARP requests (inside VXLAN) asking for `ip`.
fn arp_requests_for(lines: &[String], ip: &str) -> usize {
    let who = format!("Request who-has {ip} ");
    lines
        .iter()
        .filter(|l| l.contains("ff:ff:ff:ff:ff:ff") && l.contains(&who))
        .count()
}

fn ping(lab: &Lab, from: &str, ip: &str) -> bool {
    lab_exec(
        &lab.name,
        &lab.file,
        from,
        &["ping", "-c", "2", "-i", "0.2", "-W", "1", ip],
    )
    .status
    .success()
}

#[test]
fn mixed_no_arp_broadcast_crosses_the_underlay_for_known_hosts() {
    let lab = Lab::up("mxarp");
    // The SVIs get an address in the hosts' subnet and talk to their local host: the leaf
    // (zebra on FRR, evpnd on leaf3) learns MAC+IP from the SVI's neighbour table.
    for (leaf, svi, host) in [
        ("leaf1", "10.10.0.201/24", "10.10.0.11"),
        ("leaf2", "10.10.0.202/24", "10.10.0.12"),
        ("leaf3", "10.10.0.203/24", "10.10.0.13"),
    ] {
        lab.exec(leaf, &["ip", "addr", "add", svi, "dev", "br100"]);
        assert!(
            ping_eventually(&lab.name, &lab.file, leaf, host, Duration::from_secs(10)),
            "{leaf}'s SVI cannot reach {host}"
        );
    }
    // h1a (learned by FRR leaf1) on leaf2 (FRR) and leaf3 (evpnd); h3a (learned by evpnd
    // leaf3) on leaf2.
    for (leaf, ip) in [
        ("leaf2", "10.10.0.11"),
        ("leaf3", "10.10.0.11"),
        ("leaf2", "10.10.0.13"),
    ] {
        assert!(
            poll(Duration::from_secs(10), || remote_neigh(&lab, leaf, ip)
                .then_some(()))
            .is_some(),
            "{leaf} has no remote neighbour {ip}: {}",
            String::from_utf8_lossy(
                &lab_exec(
                    &lab.name,
                    &lab.file,
                    leaf,
                    &["ip", "neigh", "show", "dev", "br100"]
                )
                .stdout
            )
        );
    }

    let caps = [
        Capture::start(&lab, "spine1"),
        Capture::start(&lab, "spine2"),
    ];
    // Control first: nobody knows 10.10.0.99, so its ARP request floods to the other VTEPs
    // and must show up (the captures are live and decode the inner frames).
    assert!(!ping(&lab, "h2a", "10.10.0.99"), "10.10.0.99 answered");
    lab.exec("h2a", &["ip", "neigh", "flush", "dev", "eth1"]);
    lab.exec("h3a", &["ip", "neigh", "flush", "dev", "mv0"]);
    assert!(ping(&lab, "h2a", "10.10.0.11"), "h2a -> h1a");
    assert!(ping(&lab, "h3a", "10.10.0.11"), "h3a -> h1a");
    assert!(ping(&lab, "h2a", "10.10.0.13"), "h2a -> h3a");
    std::thread::sleep(Duration::from_millis(300));
    let lines: Vec<String> = caps.into_iter().flat_map(Capture::stop).collect();

    assert!(
        arp_requests_for(&lines, "10.10.0.99") > 0,
        "the control ARP request for 10.10.0.99 was not seen on the spines: {lines:#?}"
    );
    for ip in ["10.10.0.11", "10.10.0.12", "10.10.0.13"] {
        assert_eq!(
            arp_requests_for(&lines, ip),
            0,
            "ARP requests for {ip} crossed the underlay: {lines:#?}"
        );
    }
}

//! ARP suppression checks shared by the fabric labs: the leaves' remote neighbours, and a
//! tcpdump of VXLAN on a spine that counts the broadcast ARP requests crossing the underlay.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::fabric::Lab;
use super::*;

/// Does `leaf`'s br100 hold `ip` as a remote neighbour (extern_learn)?
pub fn remote_neigh(lab: &Lab, leaf: &str, ip: &str) -> bool {
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
pub struct Capture {
    child: Child,
    pcap: PathBuf,
}

impl Capture {
    pub fn start(lab: &Lab, spine: &str) -> Capture {
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
    pub fn stop(mut self) -> Vec<String> {
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
pub fn arp_requests_for(lines: &[String], ip: &str) -> usize {
    let who = format!("Request who-has {ip} ");
    lines
        .iter()
        .filter(|l| l.contains("ff:ff:ff:ff:ff:ff") && l.contains(&who))
        .count()
}

pub fn ping(lab: &Lab, from: &str, ip: &str) -> bool {
    lab_exec(
        &lab.name,
        &lab.file,
        from,
        &["ping", "-c", "2", "-i", "0.2", "-W", "1", ip],
    )
    .status
    .success()
}

/// VNI 100's hosts: (host, its interface, IP, leaf, an SVI address for that leaf's br100).
const VNI100: [(&str, &str, &str, &str, &str); 3] = [
    ("h1a", "eth1", "10.10.0.11", "leaf1", "10.10.0.201/24"),
    ("h2a", "eth1", "10.10.0.12", "leaf2", "10.10.0.202/24"),
    ("h3a", "mv0", "10.10.0.13", "leaf3", "10.10.0.203/24"),
];

/// Once the leaves know every VNI 100 host's MAC+IP, an ARP request for one of them is
/// answered by the asker's own leaf (`neigh_suppress` on the vxlan device, the neighbour
/// entry on the SVI) and never crosses the underlay: tcpdump on both spines counts the
/// broadcast ARP requests inside VXLAN while every host, its ARP cache flushed, pings every
/// other. An ARP request for an unknown address must cross (the capture works).
pub fn assert_known_hosts_arp_suppressed(lab: &Lab) {
    // The SVIs get an address in the hosts' subnet and talk to their local host: the leaf
    // (zebra on FRR, evpnd) learns MAC+IP from the SVI's neighbour table.
    for (host, _, ip, leaf, svi) in VNI100 {
        lab.exec(leaf, &["ip", "addr", "add", svi, "dev", "br100"]);
        assert!(
            ping_eventually(&lab.name, &lab.file, leaf, ip, Duration::from_secs(10)),
            "{leaf}'s SVI cannot reach {host} ({ip})"
        );
    }
    // Every leaf holds every other leaf's host as a remote neighbour.
    for (_, _, ip, home, _) in VNI100 {
        for (_, _, _, leaf, _) in VNI100.iter().filter(|h| h.3 != home) {
            assert!(
                poll(Duration::from_secs(10), || remote_neigh(lab, leaf, ip)
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
    }

    let caps = [Capture::start(lab, "spine1"), Capture::start(lab, "spine2")];
    // Control first: nobody knows 10.10.0.99, so its ARP request floods to the other VTEPs
    // and must show up (the captures are live and decode the inner frames).
    assert!(!ping(lab, "h2a", "10.10.0.99"), "10.10.0.99 answered");
    for (host, dev, ..) in VNI100 {
        lab.exec(host, &["ip", "neigh", "flush", "dev", dev]);
    }
    for (from, ..) in VNI100 {
        for (to, _, ip, ..) in VNI100.iter().filter(|h| h.0 != from) {
            assert!(ping(lab, from, ip), "{from} -> {to}");
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let lines: Vec<String> = caps.into_iter().flat_map(Capture::stop).collect();

    assert!(
        arp_requests_for(&lines, "10.10.0.99") > 0,
        "the control ARP request for 10.10.0.99 was not seen on the spines: {lines:#?}"
    );
    for (host, _, ip, ..) in VNI100 {
        assert_eq!(
            arp_requests_for(&lines, ip),
            0,
            "ARP requests for {host} ({ip}) crossed the underlay: {lines:#?}"
        );
    }
}

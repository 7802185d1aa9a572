//! End to end on topologies/2-leaf-frr (root only): up, BGP Established, host1 pings host2
//! across VXLAN, status --json, each leaf holds the other leaf's host MAC as an extern_learn
//! FDB entry pointing at the right VTEP, down removes everything.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn exec_out(name: &str, node: &str, cmd: &[&str]) -> String {
    let file = two_leaf_frr_file();
    let mut args = vec![
        "--name",
        name,
        "exec",
        file.to_str().expect("utf-8"),
        node,
        "--",
    ];
    args.extend_from_slice(cmd);
    let o = evpnlab(&args);
    assert!(o.status.success(), "exec {cmd:?} on {node}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn mac_of(name: &str, node: &str, dev: &str) -> String {
    let out = exec_out(name, node, &["ip", "-j", "link", "show", "dev", dev]);
    let v: Value = serde_json::from_str(&out).expect("ip -j json");
    v[0]["address"]
        .as_str()
        .expect("address in ip -j output")
        .to_string()
}

/// Where `mac` points on the leaf's vxlan100 if FRR programmed it the way it does for a
/// remote MAC: a `self extern_learn` entry on the vxlan device with `dst VTEP`, plus an
/// `extern_learn master br100` entry in the bridge. Returns that VTEP.
fn extern_learn_dst(name: &str, leaf: &str, mac: &str) -> Option<String> {
    let out = exec_out(
        name,
        leaf,
        &["bridge", "-j", "fdb", "show", "dev", "vxlan100"],
    );
    let v: Value = serde_json::from_str(&out).ok()?;
    let entries: Vec<(&Value, Vec<&str>)> = v
        .as_array()?
        .iter()
        .filter(|e| e["mac"].as_str() == Some(mac))
        .map(|e| {
            let flags = e["flags"]
                .as_array()
                .map(|f| f.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            (e, flags)
        })
        .collect();
    let in_bridge = entries
        .iter()
        .any(|(e, f)| e["master"] == "br100" && f.contains(&"extern_learn"));
    let dst = entries.iter().find_map(|(e, f)| {
        (f.contains(&"self") && f.contains(&"extern_learn"))
            .then(|| e["dst"].as_str().map(str::to_string))
            .flatten()
    });
    dst.filter(|_| in_bridge)
}

#[test]
fn two_leaf_end_to_end() {
    require_root();
    let name = lab_name("e2e");
    let file = two_leaf_frr_file();
    let _guard = LabGuard::new(&name, &file);

    let t = Instant::now();
    ok(&name, "up", &file, &[]);
    let up_took = t.elapsed();

    let o = ok(
        &name,
        "wait",
        &file,
        &["--bgp-established", "1", "--timeout", "30"],
    );
    eprintln!("{}", String::from_utf8_lossy(&o.stderr));
    let bgp_took = t.elapsed();

    // First packets may race the type-3 routes (flood list); then it must be solid.
    assert!(
        ping_eventually(&name, &file, "host1", "10.100.0.2", Duration::from_secs(15)),
        "host1 never reached host2 across VXLAN"
    );
    let o = lab_exec(
        &name,
        &file,
        "host1",
        &["ping", "-c", "5", "-i", "0.2", "-W", "1", "10.100.0.2"],
    );
    assert!(o.status.success(), "ping host1 -> host2: {}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(" 0% packet loss"),
        "{}",
        text(&o)
    );
    // And the other way round, from the macvlan-attached host.
    let o = lab_exec(
        &name,
        &file,
        "host2",
        &["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.100.0.1"],
    );
    assert!(o.status.success(), "ping host2 -> host1: {}", text(&o));

    // status --json: every node up with its daemons, every link up.
    let o = ok(&name, "status", &file, &["--json"]);
    let st: Value = serde_json::from_slice(&o.stdout).expect("status json");
    assert_eq!(st["phase"], "up", "{st}");
    assert_eq!(st["all_up"], true, "{st}");
    let nodes = st["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 5);
    let mut daemon_pids = Vec::new();
    for n in nodes {
        assert_eq!(n["up"], true, "{n}");
        let want = if n["role"] == "frr" { 2 } else { 0 };
        let ds = n["daemons"].as_array().expect("daemons");
        assert_eq!(ds.len(), want, "{n}");
        for d in ds {
            assert_eq!(d["running"], true, "{n}");
            daemon_pids.push(d["pid"].as_i64().expect("pid") as i32);
        }
        assert_eq!(
            n["namespace"].as_str(),
            Some(format!("clab-{name}-{}", n["name"].as_str().unwrap_or("")).as_str())
        );
    }
    assert_eq!(daemon_pids.len(), 6);
    let links = st["links"].as_array().expect("links");
    assert_eq!(links.len(), 4);
    assert!(links.iter().all(|l| l["oper_up"] == true), "{st}");

    // exec returns the command's exit code.
    let o = lab_exec(&name, &file, "host1", &["sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    // vtysh through exec reaches the node's own FRR.
    let out = exec_out(&name, "leaf1", &["vtysh", "-c", "show running-config"]);
    assert!(out.contains("hostname leaf1"), "{out}");

    // Each leaf has the other leaf's host MAC from EVPN, pointing at the right VTEP.
    let mac1 = mac_of(&name, "host1", "eth1");
    let mac2 = mac_of(&name, "host2", "mv0");
    assert_eq!(mac1, "00:00:5e:00:53:01");
    assert_eq!(mac2, "00:00:5e:00:53:02");
    let dst = poll(Duration::from_secs(10), || {
        extern_learn_dst(&name, "leaf1", &mac2)
    });
    assert_eq!(dst.as_deref(), Some("10.0.0.2"), "leaf1 FDB for host2");
    let dst = poll(Duration::from_secs(10), || {
        extern_learn_dst(&name, "leaf2", &mac1)
    });
    assert_eq!(dst.as_deref(), Some("10.0.0.1"), "leaf2 FDB for host1");
    // A leaf's own host is local, never an extern_learn entry on its own vxlan device.
    assert_eq!(extern_learn_dst(&name, "leaf1", &mac1), None);

    // down removes every namespace, stops every daemon, removes the runtime directory.
    let t = Instant::now();
    ok(&name, "down", &file, &[]);
    let down_took = t.elapsed();
    assert_eq!(
        namespaces_with_prefix(&format!("clab-{name}-")),
        Vec::<String>::new()
    );
    for pid in daemon_pids {
        assert!(
            !evpnlab::sys::pid_running(pid),
            "daemon {pid} still running after down"
        );
    }
    assert!(!std::path::Path::new("/run/evpnlab").join(&name).exists());
    // A second down is a no-op.
    ok(&name, "down", &file, &[]);
    eprintln!(
        "timings: up {:.2} s, up+BGP {:.2} s, down {:.2} s",
        up_took.as_secs_f64(),
        bgp_took.as_secs_f64(),
        down_took.as_secs_f64()
    );
}

//! End to end on topologies/2-leaf (root only): both leaves run evpnd, the spine is
//! FRR (route reflector). Proves the EVPN service and the FIB are wired: host1 pings host2
//! over VXLAN devices with `nolearning` and no group/remote; each leaf's kernel holds the
//! other host's MAC (`self extern_learn`, dst = the other VTEP) and the flood entry;
//! `evpnctl show routes -j` holds both leaves' type-2/3 routes; a local MAC that goes away
//! leaves the remote kernel; a killed evpnd's MACs and flood entry leave the other leaf;
//! evpnd restarted after a crash removes stale entries of ours, keeps wanted and
//! hand-made ones; SIGTERM with `fib.on_shutdown = "remove"` removes ours only.
//! a host moved to the other leaf is reachable there with a higher MAC mobility sequence
//! (and back); `show vni/macs/fdb -j` are checked too. Timings are printed (`--nocapture`).
//!
//! Needs evpnd and evpnctl: `$EVPND_BIN` (evpnctl next to it), else the binaries next to
//! evpnlab in the target directory (`cargo build -p evpnd` first). Missing: the test fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::fabric::binaries;
use common::*;
use serde_json::Value;

const H1: &str = "00:00:5e:00:53:01";
const H2: &str = "00:00:5e:00:53:02";
const ZERO: &str = "00:00:00:00:00:00";

fn lab_file() -> PathBuf {
    topologies_dir().join("2-leaf").join("2-leaf.clab.yml")
}

fn exec(name: &str, node: &str, cmd: &[&str]) -> String {
    let o = lab_exec(name, &lab_file(), node, cmd);
    assert!(o.status.success(), "exec {cmd:?} on {node}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The `self` entries of vxlan100 on `leaf`: (mac, dst, flags).
fn vxlan_fdb(name: &str, leaf: &str) -> Vec<(String, String, Vec<String>)> {
    let out = exec(
        name,
        leaf,
        &["bridge", "-j", "fdb", "show", "dev", "vxlan100"],
    );
    let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    let flags: Vec<String> = e["flags"]
                        .as_array()
                        .map(|f| {
                            f.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    Some((
                        e["mac"].as_str()?.to_string(),
                        e["dst"].as_str()?.to_string(),
                        flags,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Does `leaf` hold `mac` -> `vtep` as ours (`self extern_learn`)?
fn has_entry(name: &str, leaf: &str, mac: &str, vtep: &str) -> bool {
    vxlan_fdb(name, leaf).iter().any(|(m, d, f)| {
        m == mac
            && d == vtep
            && f.iter().any(|x| x == "self")
            && f.iter().any(|x| x == "extern_learn")
    })
}

fn has_mac(name: &str, leaf: &str, mac: &str) -> bool {
    vxlan_fdb(name, leaf).iter().any(|(m, _, _)| m == mac)
}

/// Polls fast (timings are measured with it).
fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn node_dir(name: &str, node: &str) -> PathBuf {
    Path::new("/run/evpnlab")
        .join(name)
        .join("nodes")
        .join(node)
}

/// `evpnctl show WHAT -j` on `leaf`.
fn show(evpnctl: &Path, name: &str, leaf: &str, what: &str) -> Value {
    let sock = node_dir(name, leaf).join("evpnd.sock");
    let o = Command::new(evpnctl)
        .args(["--socket"])
        .arg(&sock)
        .args(["show", what, "-j"])
        .output()
        .expect("run evpnctl");
    assert!(o.status.success(), "evpnctl show {what}: {}", text(&o));
    serde_json::from_slice::<Value>(&o.stdout).expect("evpnctl -j json")
}

fn routes(evpnctl: &Path, name: &str, leaf: &str) -> Vec<Value> {
    show(evpnctl, name, leaf, "routes")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn has_route(rows: &[Value], ty: u64, mac: Option<&str>, next_hop: &str) -> bool {
    rows.iter().any(|r| {
        r["route_type"] == ty
            && r["best"] == true
            && r["next_hop"] == next_hop
            && mac.is_none_or(|m| r["mac"] == m)
    })
}

#[test]
fn two_evpnd_leaves_program_each_other() {
    require_root();
    let (evpnd, evpnctl) = binaries();
    let name = lab_name("evpnd2");
    let file = lab_file();
    let _guard = LabGuard::new(&name, &file);
    let f = file.to_str().expect("utf-8");
    let o = evpnlab_env(
        &["--name", &name, "up", f],
        &[("EVPND_BIN", evpnd.to_str().expect("utf-8"))],
    );
    assert!(o.status.success(), "up: {}", text(&o));

    // The VXLAN devices learn nothing and flood to nobody by themselves.
    for leaf in ["leaf1", "leaf2"] {
        let out = exec(&name, leaf, &["ip", "-j", "-d", "link", "show", "vxlan100"]);
        let v: Value = serde_json::from_str(&out).expect("ip -j");
        let d = &v[0]["linkinfo"]["info_data"];
        assert_eq!(d["learning"], false, "{leaf}: {d}");
        assert!(
            d.get("group").is_none() && d.get("remote").is_none(),
            "{leaf}: {d}"
        );
    }

    let t = Instant::now();
    assert!(
        ping_eventually(&name, &file, "host1", "10.100.0.2", Duration::from_secs(30)),
        "host1 cannot ping host2 across VXLAN"
    );
    eprintln!("first ping answered {:?} after up", t.elapsed());

    // Kernel: remote MAC and flood entry, programmed by evpnd.
    let both = [("leaf1", H2, "10.0.0.2"), ("leaf2", H1, "10.0.0.1")];
    for (leaf, mac, vtep) in both {
        assert!(
            wait_for(Duration::from_secs(10), || has_entry(
                &name, leaf, mac, vtep
            ))
            .is_some(),
            "{leaf}: no extern_learn {mac} dst {vtep}: {:?}",
            vxlan_fdb(&name, leaf)
        );
        assert!(
            has_entry(&name, leaf, ZERO, vtep),
            "{leaf}: no flood entry dst {vtep}: {:?}",
            vxlan_fdb(&name, leaf)
        );
    }

    // Control plane: both leaves' type-2 and type-3 routes on each leaf.
    for leaf in ["leaf1", "leaf2"] {
        let rows = routes(&evpnctl, &name, leaf);
        for (mac, nh) in [(H1, "10.0.0.1"), (H2, "10.0.0.2")] {
            assert!(
                has_route(&rows, 2, Some(mac), nh),
                "{leaf}: no [2] {mac} via {nh}: {rows:?}"
            );
            assert!(
                has_route(&rows, 3, None, nh),
                "{leaf}: no [3] via {nh}: {rows:?}"
            );
        }
    }

    // show vni / macs / fdb on leaf1: the instance, host1 local, host2 remote at leaf2,
    // and the kernel as programmed equal to the desired state.
    let vni = show(&evpnctl, &name, "leaf1", "vni");
    assert_eq!(vni[0]["vni"], 100, "{vni}");
    assert_eq!(vni[0]["bridge"], "br100", "{vni}");
    assert_eq!(vni[0]["vxlan"], "vxlan100", "{vni}");
    assert_eq!(vni[0]["export_rts"][0], "65000:100", "{vni}");
    let macs = show(&evpnctl, &name, "leaf1", "macs");
    let macs = macs.as_array().cloned().unwrap_or_default();
    assert!(
        macs.iter()
            .any(|m| m["mac"] == H1 && m["kind"] == "local" && m["port"] == "eth2"),
        "{macs:?}"
    );
    assert!(
        macs.iter()
            .any(|m| m["mac"] == H2 && m["kind"] == "remote" && m["vtep"] == "10.0.0.2"),
        "{macs:?}"
    );
    let in_sync = wait_for(Duration::from_secs(5), || {
        show(&evpnctl, &name, "leaf1", "fdb")["in_sync"] == true
    });
    let fdb = show(&evpnctl, &name, "leaf1", "fdb");
    assert!(in_sync.is_some(), "leaf1 FIB not in sync: {fdb}");
    let entries = fdb["entries"].as_array().cloned().unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "mac" && e["mac"] == H2 && e["programmed"] == true),
        "{fdb}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["kind"] == "flood" && e["vtep"] == "10.0.0.2" && e["programmed"] == true),
        "{fdb}"
    );

    // MAC mobility: host1 "moves" to leaf2. host1 goes silent on leaf1 (no address, no
    // IPv6; its bridge entry stays until aging), a veth on leaf2's br100 with host1's MAC
    // and IP speaks. leaf2 learns it while leaf1's route exists: sequence 1 beats 0, leaf1
    // deletes its learned entry and installs the remote one.
    exec(&name, "host1", &["ip", "addr", "flush", "dev", "eth1"]);
    exec(
        &name,
        "host1",
        &["sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=1"],
    );
    exec(
        &name,
        "leaf2",
        &[
            "sh",
            "-c",
            "ip link add mvh1 type veth peer name mvh1p && \
        ip link set mvh1 master br100 up && ip link set mvh1p address 00:00:5e:00:53:01 && \
        sysctl -qw net.ipv6.conf.mvh1p.disable_ipv6=1 && ip link set mvh1p up && \
        ip addr add 10.100.0.1/24 dev mvh1p",
        ],
    );
    let start = Instant::now();
    let _ = lab_exec(
        &name,
        &file,
        "leaf2",
        &["ping", "-c", "1", "-W", "1", "-I", "mvh1p", "10.100.0.2"],
    );
    let moved = wait_for(Duration::from_secs(10), || {
        has_entry(&name, "leaf1", H1, "10.0.0.2")
    });
    assert!(
        moved.is_some(),
        "leaf1 did not follow the move: {:?}",
        vxlan_fdb(&name, "leaf1")
    );
    eprintln!(
        "host move -> old leaf points to the new VTEP in {:?}",
        start.elapsed()
    );
    let seq = |leaf: &str, kind: &str| {
        show(&evpnctl, &name, leaf, "macs")
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|m| m["mac"] == H1 && m["kind"] == kind)
                    .and_then(|m| m["sequence"].as_u64())
            })
    };
    let (s2, s1) = (seq("leaf2", "local"), seq("leaf1", "remote"));
    assert!(s2.is_some_and(|s| s >= 1), "leaf2 local sequence {s2:?}");
    assert_eq!(s1, s2, "leaf1 sees leaf2's sequence");
    assert_eq!(seq("leaf1", "local"), None, "leaf1 still has {H1} as local");
    assert!(
        lab_exec(
            &name,
            &file,
            "host2",
            &["ping", "-c", "1", "-W", "1", "10.100.0.1"]
        )
        .status
        .success(),
        "the moved host is not reachable"
    );
    // Back to leaf1.
    exec(&name, "leaf2", &["ip", "link", "del", "mvh1"]);
    exec(
        &name,
        "host1",
        &["sysctl", "-qw", "net.ipv6.conf.eth1.disable_ipv6=0"],
    );
    exec(
        &name,
        "host1",
        &["ip", "addr", "add", "10.100.0.1/24", "dev", "eth1"],
    );
    assert!(
        ping_eventually(&name, &file, "host1", "10.100.0.2", Duration::from_secs(20)),
        "host1 unreachable after moving back"
    );
    assert!(
        wait_for(Duration::from_secs(10), || has_entry(
            &name, "leaf2", H1, "10.0.0.1"
        ))
        .is_some(),
        "leaf2 did not follow the move back: {:?}",
        vxlan_fdb(&name, "leaf2")
    );

    // host1 leaves leaf1: the type-2 route is withdrawn and leaf2's entry goes.
    exec(&name, "leaf1", &["ip", "link", "set", "eth2", "down"]);
    // Link down flushes the learned MAC already; the delete covers a kernel that does not.
    let _ = lab_exec(
        &name,
        &file,
        "leaf1",
        &["bridge", "fdb", "del", H1, "dev", "eth2", "master"],
    );
    let gone = wait_for(Duration::from_secs(10), || !has_mac(&name, "leaf2", H1));
    assert!(
        gone.is_some(),
        "leaf2 still has {H1}: {:?}",
        vxlan_fdb(&name, "leaf2")
    );
    eprintln!(
        "host port down -> remote FDB entry gone in {:?}",
        gone.unwrap_or_default()
    );
    assert!(
        has_entry(&name, "leaf2", ZERO, "10.0.0.1"),
        "the flood entry must stay (leaf1 still has VNI 100)"
    );

    // Back: one packet from host1 and the MAC is on leaf2 again.
    exec(&name, "leaf1", &["ip", "link", "set", "eth2", "up"]);
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let _ = lab_exec(
        &name,
        &file,
        "host1",
        &["ping", "-c", "1", "-W", "1", "10.100.0.2"],
    );
    let back = wait_for(Duration::from_secs(10), || {
        has_entry(&name, "leaf2", H1, "10.0.0.1")
    });
    assert!(back.is_some(), "{H1} not re-programmed on leaf2");
    eprintln!(
        "host traffic -> remote kernel entry in {:?} (incl. the ping)",
        start.elapsed()
    );

    // leaf1's evpnd dies: the spine drops the session, leaf2 removes its MACs and flood.
    let pid = std::fs::read_to_string(node_dir(&name, "leaf1").join("evpnd.pid"))
        .expect("leaf1 evpnd pid file");
    let pid: i32 = pid.trim().parse().expect("pid");
    // SAFETY: plain kill(2) of the evpnd this test's lab started.
    assert_eq!(
        unsafe { libc::kill(pid, libc::SIGKILL) },
        0,
        "kill evpnd {pid}"
    );
    let gone = wait_for(Duration::from_secs(20), || {
        let fdb = vxlan_fdb(&name, "leaf2");
        !fdb.iter()
            .any(|(m, d, _)| m == H1 || (m == ZERO && d == "10.0.0.1"))
    });
    assert!(
        gone.is_some(),
        "leaf2 still holds leaf1's entries: {:?}",
        vxlan_fdb(&name, "leaf2")
    );
    eprintln!(
        "leaf1 evpnd killed -> its entries gone from leaf2 in {:?}",
        gone.unwrap_or_default()
    );

    // Restart on leaf1 after the crash: its kernel still holds what the dead evpnd
    // programmed. Add a stale entry "of ours" and a hand-made one; the new evpnd keeps
    // what the routes want, removes the stale one, leaves the hand-made one alone.
    let stale = "00:00:5e:00:53:99";
    let manual = "00:00:5e:00:53:98";
    exec(
        &name,
        "leaf1",
        &[
            "bridge",
            "fdb",
            "add",
            stale,
            "dev",
            "vxlan100",
            "dst",
            "10.0.0.2",
            "self",
            "extern_learn",
        ],
    );
    exec(
        &name,
        "leaf1",
        &[
            "bridge", "fdb", "add", manual, "dev", "vxlan100", "dst", "10.0.0.2", "self",
        ],
    );
    assert!(
        has_entry(&name, "leaf1", H2, "10.0.0.2"),
        "the crash left leaf1's entries"
    );
    let restarted = Evpnd::start(&name, &evpnd);
    let t = Instant::now();
    let clean = wait_for(Duration::from_secs(20), || {
        !has_mac(&name, "leaf1", stale) && has_entry(&name, "leaf1", H2, "10.0.0.2")
    });
    assert!(
        clean.is_some(),
        "after restart: {:?}",
        vxlan_fdb(&name, "leaf1")
    );
    eprintln!("restart -> stale entry removed in {:?}", t.elapsed());
    assert!(has_mac(&name, "leaf1", manual), "hand-made entry removed");
    assert!(
        has_entry(&name, "leaf1", ZERO, "10.0.0.2"),
        "flood entry lost"
    );
    assert!(
        ping_eventually(&name, &file, "host1", "10.100.0.2", Duration::from_secs(20)),
        "no ping after the restart"
    );
    assert!(
        wait_for(Duration::from_secs(10), || has_entry(
            &name, "leaf2", H1, "10.0.0.1"
        ))
        .is_some(),
        "leaf2 did not get {H1} back"
    );

    // SIGTERM with fib.on_shutdown = "remove": leaf1's entries of ours go, the manual stays.
    restarted.terminate();
    let ours_left = |fdb: &[(String, String, Vec<String>)]| {
        fdb.iter()
            .filter(|(_, _, f)| {
                f.iter().any(|x| x == "extern_learn") && f.iter().any(|x| x == "self")
            })
            .count()
    };
    let fdb = vxlan_fdb(&name, "leaf1");
    assert_eq!(
        ours_left(&fdb),
        0,
        "on_shutdown = remove left entries: {fdb:?}"
    );
    assert!(
        has_mac(&name, "leaf1", manual),
        "hand-made entry removed at shutdown"
    );
}

/// An evpnd started by the test in leaf1's namespace (the lab's one was killed).
struct Evpnd {
    child: std::process::Child,
}

impl Evpnd {
    fn start(name: &str, bin: &Path) -> Evpnd {
        let dir = node_dir(name, "leaf1");
        let out = std::fs::File::create(dir.join("evpnd-restart.out")).expect("log file");
        let err = out.try_clone().expect("log file");
        let cfg = topologies_dir()
            .join("2-leaf")
            .join("leaf1")
            .join("evpnd.toml");
        // `ip netns exec` execs evpnd itself: the child's pid is evpnd's.
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("clab-{name}-leaf1")])
            .arg(bin)
            .arg("--config")
            .arg(cfg)
            .env("EVPND_CONTROL__SOCKET", dir.join("evpnd.sock"))
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start evpnd");
        Evpnd { child }
    }

    /// SIGTERM and wait for the exit (clean shutdown).
    fn terminate(mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) of our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(st)) = self.child.try_wait() {
                assert!(st.success(), "evpnd exit status {st}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("evpnd did not exit within 10 s of SIGTERM");
    }
}

impl Drop for Evpnd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! evpnd as the graceful-restarting speaker (RFC 4724) against FRR bgpd (root only: a
//! network namespace of its own holds a bridge and a VXLAN device, and runs FRR and
//! evpnd on its loopback).
//!
//! Entries of a "previous run" are `extern_learn` rows of the VXLAN device (what evpnd
//! owns, as the lab test `two_leaf` relies on too). Proves: evpnd finding them
//! announces R in its OPEN (FRR's `show bgp neighbors json`: `rBit`) and R + F(L2VPN
//! EVPN) (a second evpnd as helper: its negotiated GR view); the stale row stays in the
//! kernel until the peers' End-of-RIB, then goes; SIGKILL -> the helper keeps evpnd's
//! routes as stale; the restarted evpnd's OPEN has R and F again and the helper never lost
//! the routes (never 0 while polling), they are refreshed (no longer stale).
//!
//! FRR 8.4 is not the helper here: its graceful restart covers only SAFIs up to MPLS VPN
//! (`FOREACH_AFI_SAFI_NSF` in lib/zebra.h), so it drops EVPN routes when the session
//! dies, and shows no per-family F for EVPN.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

const EVPND_IP: &str = "127.0.0.72";
const FRR_IP: &str = "127.0.0.71";
const STALE1: &str = "00:00:5e:00:53:71";
const STALE2: &str = "00:00:5e:00:53:72";
const HELPER_IP: &str = "127.0.0.73";

fn run(ns: &str, args: &[&str]) -> Output {
    let o = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("ip netns exec");
    assert!(o.status.success(), "{args:?}: {o:?}");
    o
}

fn netns() -> Netns {
    let ns = Netns::new(&format!("evt-gr-{}", std::process::id()));
    for c in [
        "ip addr add 10.0.0.72/32 dev lo",
        "ip link add br100 type bridge",
        "ip link add vxlan100 type vxlan id 100 local 10.0.0.72 dstport 4789 nolearning",
        "ip link set vxlan100 master br100",
        "ip link set br100 up",
        "ip link set vxlan100 up",
    ] {
        run(&ns.0, &c.split(' ').collect::<Vec<_>>());
    }
    ns
}

/// A row evpnd owns, as a previous run would have left it.
fn add_owned(ns: &str, mac: &str) {
    run(
        ns,
        &[
            "bridge",
            "fdb",
            "add",
            mac,
            "dev",
            "vxlan100",
            "dst",
            "10.0.0.9",
            "self",
            "extern_learn",
        ],
    );
}

fn has_mac(ns: &str, mac: &str) -> bool {
    let o = run(ns, &["bridge", "fdb", "show", "dev", "vxlan100"]);
    String::from_utf8_lossy(&o.stdout).contains(mac)
}

struct Frr {
    _proc: Proc,
    vty: std::path::PathBuf,
}

impl Frr {
    fn start(dir: &Path, ns: &str, port: u16) -> Self {
        let bgpd = "/usr/lib/frr/bgpd";
        require(bgpd);
        require("vtysh");
        let own = dir.join("frr");
        std::fs::create_dir_all(&own).unwrap();
        let conf = own.join("bgpd.conf");
        std::fs::write(
            &conf,
            format!(
                "frr defaults datacenter\nhostname frrgr\nrouter bgp 65003\n \
                 bgp router-id 10.0.0.71\n no bgp default ipv4-unicast\n \
                 no bgp ebgp-requires-policy\n bgp graceful-restart\n \
                 bgp graceful-restart restart-time 120\n bgp graceful-restart stalepath-time 120\n \
                 neighbor {EVPND_IP} remote-as 65000\n neighbor {EVPND_IP} passive\n \
                 neighbor {EVPND_IP} timers 3 9\n \
                 address-family l2vpn evpn\n  neighbor {EVPND_IP} activate\n exit-address-family\n"
            ),
        )
        .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, bgpd])
            .args([
                "-Z",
                "-S",
                "-n",
                "-P",
                "0",
                "-p",
                &port.to_string(),
                "-l",
                FRR_IP,
            ])
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(own.join("bgpd.pid"))
            .arg("-z")
            .arg(own.join("zserv.api"))
            .arg("--vty_socket")
            .arg(&own)
            .arg("--log")
            .arg(format!("file:{}", own.join("bgpd.log").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bgpd");
        let f = Self {
            _proc: Proc {
                child,
                dir: own.clone(),
            },
            vty: own,
        };
        assert!(
            wait_until(Duration::from_secs(10), || f.vty.join("bgpd.vty").exists()),
            "FRR bgpd did not start"
        );
        f
    }

    fn json(&self, cmd: &str) -> Value {
        let out = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.vty)
            .args(["-c", cmd])
            .output()
            .expect("vtysh");
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&out.stdout).into()))
    }

    fn neighbor(&self) -> Value {
        self.json(&format!("show bgp neighbors {EVPND_IP} json"))[EVPND_IP].clone()
    }

    /// EVPN prefixes FRR accepted from evpnd (0 when the session or the routes are gone).
    fn received(&self) -> u64 {
        self.neighbor()["addressFamilyInfo"]["l2VpnEvpn"]["acceptedPrefixCounter"]
            .as_u64()
            .unwrap_or(0)
    }
}

fn start_evpnd(dir: &Path, name: &str, ns: &str, text: &str) -> Proc {
    let own = dir.join(name);
    std::fs::create_dir_all(&own).unwrap();
    let config = own.join("evpnd.toml");
    std::fs::write(&config, text).unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(own.join("evpnd.log"))
        .unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", ns, bin("evpnd"), "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start evpnd");
    Proc {
        child,
        dir: dir.join(format!("{name}-proc")),
    }
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("e/evpnd.log")).unwrap_or_default()
}

fn ctl(dir: &Path, name: &str, args: &[&str]) -> Value {
    let out = Command::new(bin("evpnctl"))
        .arg("--socket")
        .arg(dir.join(name).join("evpnd.sock"))
        .args(args)
        .output()
        .expect("run evpnctl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Routes the helper holds from the restarting evpnd: (count, any stale).
fn helper_routes(dir: &Path) -> (usize, bool) {
    let v = ctl(dir, "h", &["show", "routes", "-j"]);
    let a = v.as_array().cloned().unwrap_or_default();
    let stale = a.iter().any(|r| r["stale"] == true);
    (a.len(), stale)
}

/// R and F(L2VPN EVPN) of the restarting evpnd's OPEN, as the helper negotiated them.
fn helper_sees_r_and_f(dir: &Path) -> (bool, bool, Value) {
    let v = ctl(dir, "h", &["show", "peer", EVPND_IP, "-j"]);
    let gr = v["session"]["negotiated"]["graceful_restart"].clone();
    let r = gr["restart_state"] == true;
    let f = gr["preserved"].as_array().is_some_and(|p| !p.is_empty());
    (r, f, gr)
}

/// R of evpnd's last OPEN as FRR decoded it (FRR 8.4 shows no per-family F for EVPN).
fn r_bit(frr: &Frr) -> bool {
    frr.neighbor()["gracefulRestartInfo"]["rBit"] == true
}

#[test]
fn evpnd_restarts_gracefully_keeping_its_routes_at_the_peers() {
    let dir = scratch("grr");
    let ns = netns();
    let port = 1790;
    let frr = Frr::start(&dir, &ns.0, port);
    // The helper: evpnd without a FIB (a spine), GR on (the default).
    let helper = format!(
        "[global]\nasn = 65004\nrouter_id = \"10.0.0.73\"\nlisten = [\"{HELPER_IP}:{port}\"]\n\n\
         [control]\nsocket = \"{}\"\n\n[logging]\nlevel = \"debug\"\n\n\
         [[peer]]\naddress = \"{EVPND_IP}\"\nremote_as = 65000\nport = {port}\nhold_time = 9\n\
         keepalive = 3\nconnect_retry = 1\npassive = true\n\n[fib]\nenabled = false\n",
        dir.join("h/evpnd.sock").display()
    );
    let text = format!(
        "[global]\nasn = 65000\nrouter_id = \"10.0.0.72\"\nlisten = [\"{EVPND_IP}:{port}\"]\n\
         restart_time = 60\n\n[control]\nsocket = \"{}\"\n\n[logging]\nlevel = \"debug\"\n\n\
         [[peer]]\naddress = \"{FRR_IP}\"\nremote_as = 65003\nport = {port}\nhold_time = 9\n\
         keepalive = 3\nconnect_retry = 1\n\n\
         [[peer]]\naddress = \"{HELPER_IP}\"\nremote_as = 65004\nport = {port}\nhold_time = 9\n\
         keepalive = 3\nconnect_retry = 1\n\n[evpn]\nadvertise_all_vni = true\n\n\
         [fib]\non_shutdown = \"keep\"\n",
        dir.join("e/evpnd.sock").display()
    );

    // A previous run left a row: evpnd starts as a restarting speaker.
    add_owned(&ns.0, STALE1);
    let mut e = start_evpnd(&dir, "e", &ns.0, &text);
    assert!(
        wait_until(Duration::from_secs(30), || frr.received() > 0),
        "FRR got no route from evpnd: {}\n{}",
        frr.neighbor(),
        log(&dir)
    );
    // FRR's End-of-RIB is in, the helper is not up yet: the stale row stays (the old
    // fixed hold was 2 s), and the restart is not over.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        has_mac(&ns.0, STALE1),
        "stale row removed before every End-of-RIB"
    );
    assert!(!log(&dir).contains("graceful restart over"));
    let _h = start_evpnd(&dir, "h", &ns.0, &helper);
    assert!(
        wait_until(Duration::from_secs(30), || helper_routes(&dir).0 > 0),
        "helper got no route from evpnd: {:?}\n{}",
        helper_routes(&dir),
        log(&dir)
    );
    let n = frr.neighbor();
    assert!(r_bit(&frr), "R not announced to FRR: {n}");
    let (r, f, gr) = helper_sees_r_and_f(&dir);
    assert!(r && f, "R/F not announced to the helper: {gr}");
    assert!(
        wait_until(Duration::from_secs(10), || !has_mac(&ns.0, STALE1)),
        "stale row not removed after the peers' End-of-RIB:\n{}",
        log(&dir)
    );
    let l = log(&dir);
    assert!(l.contains("graceful restart over"), "{l}");
    assert!(
        l.contains("late=[]"),
        "ended by the timer, not End-of-RIB: {l}"
    );
    let (count, _) = helper_routes(&dir);

    // Crash: the helper keeps evpnd's routes as stale.
    let _ = e.child.kill();
    let _ = e.child.wait();
    add_owned(&ns.0, STALE2);
    assert!(
        wait_until(Duration::from_secs(15), || helper_routes(&dir)
            == (count, true)),
        "helper did not keep evpnd's routes as stale: {:?}",
        ctl(&dir, "h", &["show", "routes", "-j"])
    );

    // Restart: R and F again, routes refreshed (no longer stale), never withdrawn.
    e = start_evpnd(&dir, "e", &ns.0, &text);
    let mut min = usize::MAX;
    let ok = wait_until(Duration::from_secs(30), || {
        let (c, stale) = helper_routes(&dir);
        min = min.min(c);
        c == count && !stale
    });
    assert!(
        ok,
        "routes not refreshed: {:?}\n{}",
        helper_routes(&dir),
        log(&dir)
    );
    assert_eq!(
        min, count,
        "the helper lost evpnd's routes during the restart"
    );
    let (r, f, gr) = helper_sees_r_and_f(&dir);
    assert!(r && f, "R/F not announced after the crash: {gr}");
    assert!(
        wait_until(Duration::from_secs(10), || !has_mac(&ns.0, STALE2)),
        "second stale row not removed"
    );
    assert!(
        wait_until(Duration::from_secs(20), || frr.received() > 0),
        "FRR did not get the routes back"
    );
    drop(e);
}

//! Helpers for the daemon's process tests: evpnd instances on loopback addresses with
//! their own ports, sockets and scratch directories, killed (by PID) when a test ends.
#![allow(dead_code)]

pub mod gobgp;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A test's scratch directory, removed when the test ends (kept when it failed).
/// Declared first in a test, so it is dropped after the processes using it.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn scratch(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("evt-daemon-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    Scratch(dir)
}

pub fn free_port(ip: Ipv4Addr) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn require(bin: &str) {
    let found = Path::new(bin).is_file()
        || std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
    assert!(
        found,
        "{bin} not found: install it (apt-get install -y gobgpd frr)"
    );
}

/// Polls `f` every 200 ms until it holds or `within` passes.
pub fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A child process killed when dropped (pass or fail).
pub struct Proc {
    pub child: Child,
    pub dir: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("kept {} for inspection", self.dir.display());
        }
    }
}

pub fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: kill(2) on our own child's PID.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill failed");
}

/// One peer line of a test config.
pub struct PeerLine {
    pub address: IpAddr,
    /// TOML value: `"internal"` or a number.
    pub remote_as: String,
    pub port: u16,
    pub extra: String,
}

impl PeerLine {
    pub fn new(address: Ipv4Addr, port: u16) -> Self {
        Self {
            address: IpAddr::V4(address),
            remote_as: "\"internal\"".into(),
            port,
            extra: String::new(),
        }
    }

    pub fn remote_as(mut self, asn: u32) -> Self {
        self.remote_as = asn.to_string();
        self
    }

    pub fn with(mut self, extra: &str) -> Self {
        self.extra.push_str(extra);
        self.extra.push('\n');
        self
    }
}

pub fn config(
    asn: u32,
    router_id: &str,
    listen: SocketAddr,
    socket: &Path,
    peers: &[PeerLine],
    tail: &str,
) -> String {
    let mut s = format!(
        "[global]\nasn = {asn}\nrouter_id = \"{router_id}\"\nlisten = [\"{listen}\"]\n\n\
         [control]\nsocket = \"{}\"\n\n[logging]\nlevel = \"debug\"\n\n\
         [fib]\nenabled = false\n\n",
        socket.display()
    );
    for p in peers {
        s.push_str(&format!(
            "[[peer]]\naddress = \"{}\"\nremote_as = {}\nport = {}\nhold_time = 9\nkeepalive = 3\nconnect_retry = 1\n{}\n",
            p.address, p.remote_as, p.port, p.extra
        ));
    }
    s.push_str(tail);
    s
}

pub struct Evpnd {
    pub proc: Proc,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
}

pub fn bin(name: &str) -> &'static str {
    match name {
        "evpnd" => env!("CARGO_BIN_EXE_evpnd"),
        _ => env!("CARGO_BIN_EXE_evpnctl"),
    }
}

impl Evpnd {
    /// Starts evpnd with `text` as config in `dir` and waits for its control socket.
    pub fn start(dir: &Path, name: &str, text: &str) -> Self {
        Self::start_in(dir, name, None, text)
    }

    /// As `start`, inside network namespace `ns` when given (its control socket is a
    /// file, so `ctl` works from outside).
    pub fn start_in(dir: &Path, name: &str, ns: Option<&str>, text: &str) -> Self {
        // Everything of this instance under dir/name, removed with it.
        let own = dir.join(name);
        std::fs::create_dir_all(&own).expect("instance dir");
        let config = own.join("evpnd.toml");
        let socket = own.join("evpnd.sock");
        let log = own.join("evpnd.log");
        std::fs::write(&config, text).expect("write config");
        let child = in_netns(ns, bin("evpnd"))
            .arg("--config")
            .arg(&config)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start evpnd");
        let e = Self {
            proc: Proc { child, dir: own },
            config,
            socket,
            log,
        };
        assert!(
            wait_until(Duration::from_secs(10), || e.socket.exists()),
            "evpnd {name} did not create its socket: {}",
            e.log_text()
        );
        e
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(bin("evpnctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run evpnctl")
    }

    pub fn peers(&self) -> Vec<Value> {
        let out = self.ctl(&["show", "peers", "-j"]);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<Value>(&out.stdout)
            .expect("JSON")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn peer(&self, addr: &str) -> Value {
        let out = self.ctl(&["show", "peer", addr, "-j"]);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// `show routes -j --mac MAC`; a failed query fails the test (an empty answer must
    /// not pass for a withdrawal).
    pub fn routes(&self, mac: &str) -> Vec<Value> {
        let out = self.ctl(&["show", "routes", "-j", "--mac", mac]);
        assert!(out.status.success(), "evpnctl show routes: {out:?}");
        serde_json::from_slice::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_else(|| panic!("evpnctl gave no JSON array: {out:?}"))
    }

    pub fn state_of(&self, addr: &str) -> Option<String> {
        self.peers()
            .iter()
            .find(|p| p["address"] == addr)
            .and_then(|p| p["state"].as_str().map(String::from))
    }

    pub fn wait_established(&self, addr: &str, within: Duration) {
        let ok = wait_until(within, || {
            self.state_of(addr).as_deref() == Some("Established")
        });
        assert!(
            ok,
            "{addr} not Established: {:?}\n{}",
            self.peers(),
            self.log_text()
        );
    }
}

/// Waits until something accepts TCP on `addr`.
pub fn wait_listening(addr: SocketAddr) {
    let ok = wait_until(Duration::from_secs(10), || {
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
    });
    assert!(ok, "nothing listening on {addr}");
    // That probe was a connection too; let the daemon drop it.
    std::thread::sleep(Duration::from_millis(300));
}

/// A private FRR bgpd on a loopback address: its own config, vty socket, pid file and log
/// under `dir/frr`, no zebra (`-Z`), killed when dropped.
pub struct Frr {
    _proc: Proc,
    pub addr: SocketAddr,
    pub vty: PathBuf,
}

impl Frr {
    /// Writes `conf` (bgpd.conf text) and starts bgpd on `ip` at a free port.
    pub fn spawn(dir: &Path, ip: Ipv4Addr, conf: &str) -> Self {
        Self::spawn_at(dir, SocketAddr::from((ip, free_port(ip))), conf)
    }

    /// As `spawn`, on a given address and port: a restarted bgpd (after dropping the
    /// previous one, which SIGKILLs it) where its peers expect it.
    pub fn spawn_at(dir: &Path, addr: SocketAddr, conf: &str) -> Self {
        Self::spawn_in(dir, None, addr, conf)
    }

    /// As `spawn_at`, inside network namespace `ns` when given (vtysh reaches it through
    /// its vty socket file from outside).
    pub fn spawn_in(dir: &Path, ns: Option<&str>, addr: SocketAddr, conf: &str) -> Self {
        let bgpd = "/usr/lib/frr/bgpd";
        require(bgpd);
        require("vtysh");
        let own = dir.join("frr");
        std::fs::create_dir_all(&own).expect("frr dir");
        let (ip, port) = (addr.ip(), addr.port());
        let conf_path = own.join("bgpd.conf");
        std::fs::write(&conf_path, conf).expect("write bgpd.conf");
        let child = in_netns(ns, bgpd)
            .args(["-Z", "-S", "-n", "-P", "0", "-p", &port.to_string()])
            .args(["-l", &ip.to_string()])
            .arg("-f")
            .arg(&conf_path)
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
        let frr = Self {
            _proc: Proc {
                child,
                dir: own.clone(),
            },
            addr,
            vty: own,
        };
        match ns {
            None => wait_listening(frr.addr),
            // Its address is not reachable from here: wait for the vty socket instead.
            Some(_) => assert!(
                wait_until(Duration::from_secs(10), || frr
                    .vty
                    .join("bgpd.vty")
                    .exists()),
                "bgpd did not start in {ns:?}"
            ),
        }
        frr
    }

    /// Output of one vtysh command against this instance.
    pub fn vtysh(&self, cmd: &str) -> String {
        let out = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.vty)
            .args(["-c", cmd])
            .output()
            .expect("vtysh");
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

/// Starts gobgpd with config file `conf`, its gRPC API on 127.0.0.1:`api`, and waits until
/// it accepts BGP on `listen`; killed when the returned `Proc` drops.
pub fn spawn_gobgpd(conf: &Path, api: u16, state: PathBuf, listen: SocketAddr) -> Proc {
    require("gobgpd");
    let child = Command::new("gobgpd")
        .arg("-f")
        .arg(conf)
        .args(["-p", "--pprof-disable", "--api-hosts"])
        .arg(format!("127.0.0.1:{api}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gobgpd");
    let p = Proc { child, dir: state };
    wait_listening(listen);
    p
}

/// `program`, run inside network namespace `ns` when given (`ip netns exec` execs it, so
/// the child's PID is the program's own).
fn in_netns(ns: Option<&str>, program: &str) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, program]);
            c
        }
        None => Command::new(program),
    }
}

/// A network namespace of the test's own (root only), deleted when dropped (pass or fail).
pub struct Netns(pub String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

impl Netns {
    /// Creates `name` (removing a leftover of an earlier run of the same test first).
    pub fn new(name: &str) -> Self {
        require("ip");
        let _ = Command::new("ip").args(["netns", "del", name]).output();
        let o = Command::new("ip")
            .args(["netns", "add", name])
            .output()
            .expect("ip netns add");
        assert!(o.status.success(), "ip netns add (needs root): {o:?}");
        Self(name.to_string())
    }

    /// Runs a space-separated command line inside; fails the test if it fails.
    pub fn sh(&self, cmd: &str) -> Output {
        ns_run(&self.0, &cmd.split(' ').collect::<Vec<_>>())
    }
}

/// Runs `args` inside namespace `ns`; fails the test if the command fails.
pub fn ns_run(ns: &str, args: &[&str]) -> Output {
    let o = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .output()
        .expect("ip netns exec");
    assert!(o.status.success(), "{args:?}: {o:?}");
    o
}

/// Starts evpnd inside `ns` with `text` as config in `dir/name/evpnd.toml`; its log is
/// appended to `dir/name/evpnd.log` (a restart keeps the earlier lines).
pub fn start_evpnd_in(dir: &Path, name: &str, ns: &str, text: &str) -> Proc {
    let own = dir.join(name);
    std::fs::create_dir_all(&own).expect("instance dir");
    let config = own.join("evpnd.toml");
    std::fs::write(&config, text).expect("write config");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(own.join("evpnd.log"))
        .expect("log file");
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

/// `evpnctl --socket dir/name/evpnd.sock ARGS` as JSON (Null when it gave none).
pub fn ctl_json(dir: &Path, name: &str, args: &[&str]) -> Value {
    let out = Command::new(bin("evpnctl"))
        .arg("--socket")
        .arg(dir.join(name).join("evpnd.sock"))
        .args(args)
        .output()
        .expect("run evpnctl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

//! Helpers for the daemon's process tests: evpnd instances on loopback addresses with
//! their own ports, sockets and scratch directories, killed (by PID) when a test ends.
#![allow(dead_code)]

pub mod gobgp;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod leaves;

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

/// evpnd with `config`, stderr appended to `log`, inside namespace `ns` when given.
fn spawn_evpnd(config: &Path, log: &Path, ns: Option<&str>) -> Child {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, bin("evpnd")]);
            c
        }
        None => Command::new(bin("evpnd")),
    };
    cmd.arg("--config")
        .arg(config)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start evpnd")
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
        Self::start_in(dir, name, text, None)
    }

    /// As `start`, inside network namespace `ns` when given (the control socket is a
    /// file, so evpnctl reaches it from outside). The log is appended to, so a restarted
    /// instance keeps the earlier run's lines.
    pub fn start_in(dir: &Path, name: &str, text: &str, ns: Option<&Netns>) -> Self {
        // Everything of this instance under dir/name, removed with it.
        let own = dir.join(name);
        std::fs::create_dir_all(&own).expect("instance dir");
        let config = own.join("evpnd.toml");
        let socket = own.join("evpnd.sock");
        let log = own.join("evpnd.log");
        std::fs::write(&config, text).expect("write config");
        let _ = std::fs::remove_file(&socket);
        let child = spawn_evpnd(&config, &log, ns.map(|n| n.0.as_str()));
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

    /// Kills evpnd with SIGKILL (no NOTIFICATION, no cleanup: a crash) and waits for it.
    pub fn crash(&mut self) {
        let _ = self.proc.child.kill();
        let _ = self.proc.child.wait();
    }

    /// After `crash`: starts evpnd again with `text` as its config (same socket and log),
    /// in `ns` when given, and waits for its control socket.
    pub fn restart_in(&mut self, text: &str, ns: Option<&Netns>) {
        self.crash();
        std::fs::write(&self.config, text).expect("write config");
        let _ = std::fs::remove_file(&self.socket);
        self.proc.child = spawn_evpnd(&self.config, &self.log, ns.map(|n| n.0.as_str()));
        assert!(
            wait_until(Duration::from_secs(10), || self.socket.exists()),
            "evpnd did not come back: {}",
            self.log_text()
        );
    }

    /// Every EVPN path of `show routes -j` (empty while the socket does not answer).
    pub fn routes(&self) -> Vec<Value> {
        let out = self.ctl(&["show", "routes", "-j"]);
        serde_json::from_slice::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
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
    pub fn routes_for_mac(&self, mac: &str) -> Vec<Value> {
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
/// under `dir/frr`, no zebra (`-Z`), killed when dropped. Or, with `spawn_in`, bgpd and
/// zebra inside a test's network namespace (zebra tells bgpd the VNIs and local MACs, so
/// FRR originates EVPN routes with `advertise-all-vni`).
pub struct Frr {
    bgpd: Proc,
    zebra: Option<Proc>,
    /// The command lines, to start the daemons again after a crash.
    bgpd_cmd: Vec<std::ffi::OsString>,
    zebra_cmd: Vec<std::ffi::OsString>,
    zebra_down: bool,
    pub addr: SocketAddr,
    pub vty: PathBuf,
}

impl Frr {
    /// Writes `conf` (bgpd.conf text) and starts bgpd on `ip` at a free port.
    pub fn spawn(dir: &Path, ip: Ipv4Addr, conf: &str) -> Self {
        let frr = Self::launch(dir, None, SocketAddr::from((ip, free_port(ip))), conf);
        wait_listening(frr.addr);
        frr
    }

    /// zebra, then bgpd on `addr`, both inside `ns`; waits until bgpd answers vtysh.
    pub fn spawn_in(dir: &Path, ns: &Netns, addr: SocketAddr, conf: &str) -> Self {
        let frr = Self::launch(dir, Some((ns, true)), addr, conf);
        frr.wait_vty();
        frr
    }

    /// bgpd alone (`-Z`) on `addr` inside `ns`; waits until it answers vtysh.
    pub fn spawn_in_without_zebra(dir: &Path, ns: &Netns, addr: SocketAddr, conf: &str) -> Self {
        let frr = Self::launch(dir, Some((ns, false)), addr, conf);
        frr.wait_vty();
        frr
    }

    /// `ns`: the namespace, and whether zebra runs there too.
    fn launch(dir: &Path, ns: Option<(&Netns, bool)>, addr: SocketAddr, conf: &str) -> Self {
        let with_zebra = ns.is_some_and(|(_, z)| z);
        let ns = ns.map(|(ns, _)| ns);
        let bgpd = "/usr/lib/frr/bgpd";
        require(bgpd);
        require("vtysh");
        let own = dir.join("frr");
        std::fs::create_dir_all(&own).expect("frr dir");
        let conf_path = own.join("bgpd.conf");
        std::fs::write(&conf_path, conf).expect("write bgpd.conf");
        let common = |daemon: &str| -> Vec<std::ffi::OsString> {
            let mut a: Vec<std::ffi::OsString> = Vec::new();
            if let Some(ns) = ns {
                a.extend(["ip", "netns", "exec", ns.0.as_str()].map(Into::into));
                a.push(format!("/usr/lib/frr/{daemon}").into());
                // In a namespace as root: the Debian build needs the frrvty group.
                a.extend(["-u", "root", "-g", "frrvty"].map(Into::into));
            } else {
                a.push(format!("/usr/lib/frr/{daemon}").into());
            }
            a.extend(["-P", "0", "-i"].map(Into::into));
            a.push(own.join(format!("{daemon}.pid")).into());
            a.push("-z".into());
            a.push(own.join("zserv.api").into());
            a.push("--vty_socket".into());
            a.push(own.clone().into());
            a.push("--log".into());
            a.push(format!("file:{}", own.join(format!("{daemon}.log")).display()).into());
            a
        };
        let zconf = own.join("zebra.conf");
        let mut zebra_cmd = common("zebra");
        zebra_cmd.push("-f".into());
        zebra_cmd.push(zconf.clone().into());
        let zebra = with_zebra.then(|| {
            std::fs::write(&zconf, "hostname zebra\n").expect("write zebra.conf");
            start_zebra(&zebra_cmd, &own)
        });
        let mut a = common("bgpd");
        if zebra.is_none() {
            a.push("-Z".into());
        }
        a.extend(["-S", "-n", "-p"].map(Into::into));
        a.push(addr.port().to_string().into());
        a.push("-l".into());
        a.push(addr.ip().to_string().into());
        a.push("-f".into());
        a.push(conf_path.into());
        Self {
            bgpd: Proc {
                child: run_args(&a),
                dir: own.clone(),
            },
            zebra,
            bgpd_cmd: a,
            zebra_cmd,
            zebra_down: false,
            addr,
            vty: own,
        }
    }

    fn wait_vty(&self) {
        let ok = wait_until(Duration::from_secs(15), || {
            self.vtysh("show bgp summary json").contains('{')
        });
        assert!(
            ok,
            "FRR bgpd does not answer vtysh in {}",
            self.vty.display()
        );
    }

    /// Kills bgpd with SIGKILL (a crash: no NOTIFICATION); zebra keeps running.
    pub fn crash(&mut self) {
        let _ = self.bgpd.child.kill();
        let _ = self.bgpd.child.wait();
    }

    /// Kills zebra and bgpd with SIGKILL: all of FRR crashes.
    pub fn crash_with_zebra(&mut self) {
        self.crash();
        if let Some(z) = &mut self.zebra {
            let _ = z.child.kill();
            let _ = z.child.wait();
            self.zebra_down = true;
        }
    }

    /// Starts bgpd (after zebra, if that crashed too) again with the same command lines.
    pub fn restart(&mut self) {
        if std::mem::take(&mut self.zebra_down) {
            let z = start_zebra(&self.zebra_cmd, &self.vty);
            self.zebra = Some(z);
        }
        self.bgpd.child = run_args(&self.bgpd_cmd);
        self.wait_vty();
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

    /// Runs `lines` in configure mode (one vtysh call, one `-c` per line).
    pub fn configure(&self, lines: &[&str]) {
        let mut cmd = Command::new("vtysh");
        cmd.arg("--vty_socket").arg(&self.vty);
        for l in std::iter::once(&"configure terminal").chain(lines) {
            cmd.args(["-c", l]);
        }
        let out = cmd.output().expect("vtysh");
        assert!(out.status.success(), "vtysh {lines:?}: {out:?}");
    }

    /// A vtysh JSON answer parsed (Null when bgpd does not answer, e.g. while restarting).
    pub fn json(&self, cmd: &str) -> Value {
        serde_json::from_str(&self.vtysh(cmd)).unwrap_or(Value::Null)
    }
}

impl Drop for Frr {
    fn drop(&mut self) {
        // bgpd first, zebra after it (the Procs drop in declaration order).
        let _ = self.bgpd.child.kill();
        let _ = self.bgpd.child.wait();
    }
}

fn start_zebra(cmd: &[std::ffi::OsString], own: &Path) -> Proc {
    let api = own.join("zserv.api");
    let _ = std::fs::remove_file(&api);
    let z = Proc {
        child: run_args(cmd),
        dir: own.join("zebra-proc"),
    };
    assert!(
        wait_until(Duration::from_secs(10), || api.exists()),
        "zebra did not start"
    );
    z
}

fn run_args(a: &[std::ffi::OsString]) -> Child {
    Command::new(&a[0])
        .args(&a[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start FRR daemon")
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

/// A network namespace of the test's own (root only, name prefixed `evt-`), deleted when
/// dropped (pass or fail); processes started in it must be dropped first.
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

    /// As `sh`, its standard output as text.
    pub fn out(&self, cmd: &str) -> String {
        String::from_utf8_lossy(&self.sh(cmd).stdout).into_owned()
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
    Proc {
        child: spawn_evpnd(&config, &own.join("evpnd.log"), Some(ns)),
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

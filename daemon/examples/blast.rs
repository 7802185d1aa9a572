//! blast: evpnd end to end at scale. Starts an evpnd (release build), peers with it over
//! loopback as one iBGP speaker, sends N pre-encoded EVPN type-2 routes as fast as TCP
//! takes them, then End-of-RIB, and measures:
//! - seconds from the first UPDATE written until evpnd's RIB holds all N from us
//!   (`show peers` prefixes received, asked over the control socket every 10 ms: the
//!   core applies an UPDATE to the RIB and, on a leaf, imports its changes into the EVPN
//!   desired state in the same turn, so the count is also the import's completion);
//! - evpnd's RSS growth (VmRSS after - before, per route) and VmHWM;
//! - evpnd's CPU seconds (utime + stime), split by thread (core/tokio vs the fib thread).
//!
//! Modes: `spine` (`[fib] enabled = false`: RIB only, no EVPN service) and `leaf` (EVPN
//! import into the VNIs the kernel has: run it inside a network namespace holding one
//! VXLAN device per VNI; `scripts/bench-daemon.sh` sets that up). A leaf programs the
//! kernel too; `--wait-kernel` also waits for the fib to report every FDB entry.
//!
//! Routes (`tests/common/speaker.rs`): route i is in VNI `vni_base + i % vnis`, from VTEP `10.200.x.y` number
//! `(i / vnis) % vteps`, RD `VTEP:VNI`, RT `65000:VNI`: one attribute set per (VNI, VTEP),
//! packed into 4096-octet UPDATEs like a fabric's route reflector sends them.
//!
//! ```sh
//! cargo build --release -p evpnd --bins --example blast
//! target/release/examples/blast --evpnd target/release/evpnd --routes 1000000 --mode spine
//! ```
//!
//! `--daemon frr` measures FRR's bgpd (`/usr/lib/frr/bgpd -Z`, no zebra: RIB only, as
//! `spine`) the same way, for a side-by-side ratio: completion is its `pfxRcd` for us in
//! `show bgp l2vpn evpn summary json` (asked through vtysh every 100 ms).
//!
//! Only loopback addresses are accepted for the session.

// The raw speaker and route sets are shared with the daemon's tests.
#[path = "../tests/common/speaker.rs"]
mod speaker;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Proc, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgp::packet::AfiSafi;
use clap::{Parser, ValueEnum};
use evpnd::control::{Command, PeerSummary};
use speaker::{Received, Speaker, Type2Set};

const ASN: u32 = 65000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// `[fib] enabled = false`: RIB only (a spine / route reflector).
    Spine,
    /// EVPN import into the kernel's VNIs (run inside a namespace with the devices).
    Leaf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Target {
    Evpnd,
    /// FRR's bgpd without zebra (spine mode only).
    Frr,
}

#[derive(Parser)]
#[command(about = "evpnd end to end: N type-2 routes from one peer, timed and measured")]
struct Args {
    #[arg(long, default_value = "target/release/evpnd")]
    evpnd: PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    routes: u32,
    #[arg(long, value_enum, default_value_t = Mode::Spine)]
    mode: Mode,
    /// The daemon under test.
    #[arg(long, value_enum, default_value_t = Target::Evpnd)]
    daemon: Target,
    #[arg(long, default_value_t = 100)]
    vnis: u32,
    /// First VNI (the leaf's VXLAN devices carry vni_base .. vni_base + vnis - 1).
    #[arg(long, default_value_t = 10_000)]
    vni_base: u32,
    #[arg(long, default_value_t = 100)]
    vteps: u32,
    /// MAC-only routes (default: MAC+IPv4).
    #[arg(long)]
    mac_only: bool,
    /// evpnd's listen address (loopback only).
    #[arg(long, default_value = "127.0.0.1")]
    evpnd_addr: Ipv4Addr,
    /// Our address (loopback only).
    #[arg(long, default_value = "127.0.0.2")]
    peer_addr: Ipv4Addr,
    #[arg(long, default_value_t = 17_900)]
    port: u16,
    /// Leaf: also wait until the fib reports every FDB entry programmed.
    #[arg(long)]
    wait_kernel: bool,
    /// Seconds to wait for completion.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Record a `perf` profile (call graphs) of evpnd over the receive window into FILE.
    #[arg(long, value_name = "FILE")]
    perf: Option<PathBuf>,
}

fn main() {
    let a = Args::parse();
    if let Err(e) = run(&a) {
        eprintln!("blast: {e}");
        std::process::exit(1);
    }
}

/// Kills evpnd (our child, by PID) and removes the scratch dir whatever happens.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every UPDATE, then End-of-RIB, back to back in one buffer.
fn encode(a: &Args) -> Result<(Vec<u8>, usize), String> {
    let set = Type2Set {
        routes: a.routes,
        vnis: a.vnis,
        vni_base: a.vni_base,
        vteps: a.vteps,
        mac_only: a.mac_only,
        asn: ASN,
    };
    let (mut wire, n) = set.announce(None, |_| true)?;
    wire.extend_from_slice(&speaker::end_of_rib()?);
    Ok((wire, n))
}

/// Connects from our loopback address and exchanges OPEN and KEEPALIVE; a thread then
/// reads whatever evpnd sends, so its writer never stalls, and KEEPALIVEs go every 20 s.
fn connect(a: &Args) -> Result<Speaker, String> {
    let to = SocketAddr::new(IpAddr::V4(a.evpnd_addr), a.port);
    let mut s = Speaker::connect(a.peer_addr, to, ASN, 180, None)?;
    s.spawn_reader(Arc::new(Mutex::new(Received::default())))?;
    s.keep_alive(Duration::from_secs(20))?;
    Ok(s)
}

fn run(a: &Args) -> Result<(), String> {
    for ip in [a.evpnd_addr, a.peer_addr] {
        if !ip.is_loopback() {
            return Err(format!("{ip} is not a loopback address"));
        }
    }
    if a.vnis == 0 || a.vteps == 0 || a.vteps > 65_000 {
        return Err("--vnis and --vteps must be 1.. (vteps at most 65000)".into());
    }
    let t = Instant::now();
    let (wire, msgs) = encode(a)?;
    eprintln!(
        "encoded {} routes in {} UPDATEs ({} bytes) in {:.2} s",
        a.routes,
        msgs,
        wire.len(),
        t.elapsed().as_secs_f64()
    );

    let dir = std::env::temp_dir().join(format!("evb-scale-blast-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if a.daemon == Target::Frr {
        if a.mode != Mode::Spine {
            return Err("--daemon frr measures the spine mode only".into());
        }
        return run_frr(a, dir, wire);
    }
    let socket = dir.join("evpnd.sock");
    let metrics = SocketAddr::new(IpAddr::V4(a.evpnd_addr), a.port + 1);
    let config = config_text(a, &socket, metrics);
    let cfg_path = dir.join("evpnd.toml");
    std::fs::write(&cfg_path, config).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("evpnd.log")).map_err(|e| e.to_string())?;
    let child = Proc::new(&a.evpnd)
        .arg("--config")
        .arg(&cfg_path)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", a.evpnd.display()))?;
    let d = Daemon { child, dir };
    let pid = d.child.id();
    wait(Duration::from_secs(10), "control socket", || {
        socket.exists()
    })?;
    if a.mode == Mode::Leaf {
        wait(Duration::from_secs(20), "VNIs from the kernel", || {
            vni_count(&socket).is_some_and(|n| n >= a.vnis as usize)
        })?;
    }

    let stream = connect(a)?;
    let peer = IpAddr::V4(a.peer_addr);
    wait(Duration::from_secs(10), "Established", || {
        summary(&socket, peer).is_some_and(|s| s.state == bgp::session::State::Established)
    })?;
    // Let the daemon settle (its own UPDATEs to us: type-3 routes, End-of-RIB).
    std::thread::sleep(Duration::from_millis(500));
    let perf = match &a.perf {
        Some(out) => Some(start_perf(pid, out)?),
        None => None,
    };
    let before = Stats::read(pid)?;

    let b = Blast::start(stream, wire);
    let got = wait_count(
        || received(&socket, peer),
        a.routes,
        Duration::from_secs(a.timeout),
        Duration::from_millis(10),
    );
    let elapsed = b.t0.elapsed();
    let after = Stats::read(pid)?;
    if let Some(p) = perf {
        stop_perf(p);
    }
    let got = got?;
    println!(
        "daemon=evpnd mode={:?} routes={} vnis={} vteps={} mac_only={}",
        a.mode, a.routes, a.vnis, a.vteps, a.mac_only
    );
    b.print(got, elapsed);
    report(&before, &after, a.routes);
    let t0 = b.t0;

    if a.mode == Mode::Leaf {
        println!(
            "leaf: remote MACs in the EVPN desired state: {}",
            remote_macs(metrics).map_or("?".into(), |n| n.to_string()),
        );
        if a.wait_kernel {
            let want = u64::from(a.routes);
            let r = wait(Duration::from_secs(a.timeout), "kernel FDB entries", || {
                fib_fdb(metrics).is_some_and(|n| n >= want)
            });
            let k = t0.elapsed();
            let steady = Stats::read(pid)?;
            match r {
                Ok(()) => println!(
                    "kernel: {} FDB entries programmed after {:.3} s",
                    want,
                    k.as_secs_f64()
                ),
                Err(e) => println!("kernel: {e} (fdb {:?})", fib_fdb(metrics)),
            }
            println!("after the kernel sync:");
            report(&before, &steady, a.routes);
        }
    }
    b.finish();
    drop(d);
    Ok(())
}

/// The wire being written by a thread, from `t0`.
struct Blast {
    t0: Instant,
    done_writing: Arc<Mutex<Option<Duration>>>,
    send: std::thread::JoinHandle<()>,
    stream: Arc<Speaker>,
}

impl Blast {
    fn start(stream: Speaker, wire: Vec<u8>) -> Self {
        let stream = Arc::new(stream);
        let done_writing = Arc::new(Mutex::new(None::<Duration>));
        let t0 = Instant::now();
        let send = {
            let done = done_writing.clone();
            let s = stream.clone();
            std::thread::spawn(move || blast(&s, wire, t0, &done))
        };
        Self {
            t0,
            done_writing,
            send,
            stream,
        }
    }

    fn print(&self, got: u64, elapsed: Duration) {
        let sent = self
            .done_writing
            .lock()
            .ok()
            .and_then(|d| *d)
            .unwrap_or(elapsed);
        println!(
            "written in {:.3} s; all {} in the RIB after {:.3} s",
            sent.as_secs_f64(),
            got,
            elapsed.as_secs_f64()
        );
    }

    fn finish(self) {
        let _ = self.send.join();
        drop(self.stream);
    }
}

/// FRR's bgpd without zebra (`-Z`: RIB only, like evpnd's spine mode), fed and measured
/// the same way; completion is its `pfxRcd` for us.
fn run_frr(a: &Args, dir: PathBuf, wire: Vec<u8>) -> Result<(), String> {
    let bgpd = "/usr/lib/frr/bgpd";
    let conf = dir.join("bgpd.conf");
    std::fs::write(&conf, frr_config(a)).map_err(|e| e.to_string())?;
    let child = Proc::new(bgpd)
        .args(["-P", "0", "-Z", "-S", "-n", "-i"])
        .arg(dir.join("bgpd.pid"))
        .arg("-z")
        .arg(dir.join("zserv.api"))
        .arg("--vty_socket")
        .arg(&dir)
        .arg("--log")
        .arg(format!("file:{}", dir.join("bgpd.log").display()))
        .args([
            "-p",
            &a.port.to_string(),
            "-l",
            &a.evpnd_addr.to_string(),
            "-f",
        ])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {bgpd} (apt-get install frr): {e}"))?;
    let d = Daemon {
        child,
        dir: dir.clone(),
    };
    let pid = d.child.id();
    let peer = a.peer_addr.to_string();
    wait(Duration::from_secs(15), "bgpd's vty", || {
        frr_peer(&dir, &peer).is_some()
    })?;
    let stream = connect(a)?;
    wait(Duration::from_secs(15), "Established", || {
        frr_peer(&dir, &peer).is_some_and(|p| p["state"] == "Established")
    })?;
    std::thread::sleep(Duration::from_millis(500));
    let before = Stats::read(pid)?;
    let b = Blast::start(stream, wire);
    // vtysh is a process per question: ask less often than evpnd's socket is asked.
    let got = wait_count(
        || frr_peer(&dir, &peer).and_then(|p| p["pfxRcd"].as_u64()),
        a.routes,
        Duration::from_secs(a.timeout),
        Duration::from_millis(100),
    );
    let elapsed = b.t0.elapsed();
    let after = Stats::read(pid)?;
    let got = got?;
    println!(
        "daemon=frr-bgpd mode=Spine routes={} vnis={} vteps={} mac_only={}",
        a.routes, a.vnis, a.vteps, a.mac_only
    );
    b.print(got, elapsed);
    report(&before, &after, a.routes);
    b.finish();
    drop(d);
    Ok(())
}

fn frr_config(a: &Args) -> String {
    format!(
        "frr defaults datacenter\nhostname blast-frr\n!\nrouter bgp {ASN}\n \
         bgp router-id 10.255.0.1\n no bgp default ipv4-unicast\n \
         neighbor {p} remote-as internal\n neighbor {p} passive\n \
         neighbor {p} timers 60 180\n !\n address-family l2vpn evpn\n  \
         neighbor {p} activate\n exit-address-family\n!\n",
        p = a.peer_addr
    )
}

/// Our neighbour in bgpd's `show bgp l2vpn evpn summary json`.
fn frr_peer(vty: &Path, peer: &str) -> Option<serde_json::Value> {
    let out = Proc::new("vtysh")
        .arg("--vty_socket")
        .arg(vty)
        .args(["-c", "show bgp l2vpn evpn summary json"])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let peers = v
        .get("peers")
        .or_else(|| v.get("l2VpnEvpn")?.get("peers"))?;
    peers.get(peer).cloned()
}

fn config_text(a: &Args, socket: &Path, metrics: SocketAddr) -> String {
    let fib = match a.mode {
        Mode::Spine => "[fib]\nenabled = false\n",
        Mode::Leaf => {
            "[fib]\nenabled = true\non_shutdown = \"remove\"\n\n[evpn]\nadvertise_all_vni = true\n"
        }
    };
    format!(
        "[global]\nasn = {ASN}\nrouter_id = \"10.255.0.1\"\nlisten = [\"{}:{}\"]\n\n\
         [control]\nsocket = \"{}\"\n\n[logging]\nlevel = \"warn\"\n\n\
         [metrics]\nlisten = \"{metrics}\"\n\n{fib}\n\
         [[peer]]\naddress = \"{}\"\nremote_as = \"internal\"\npassive = true\n",
        a.evpnd_addr,
        a.port,
        socket.display(),
        a.peer_addr
    )
}

/// Writes the whole buffer and notes when that was done.
fn blast(s: &Speaker, wire: Vec<u8>, t0: Instant, done: &Mutex<Option<Duration>>) {
    if s.send(&wire).is_err() {
        return;
    }
    if let Ok(mut d) = done.lock() {
        *d = Some(t0.elapsed());
    }
}

fn summary(socket: &Path, peer: IpAddr) -> Option<PeerSummary> {
    let r = evpnd::ctl::request(socket, Command::ShowPeers).ok()?;
    let v: Vec<PeerSummary> = serde_json::from_value(r.data?).ok()?;
    v.into_iter().find(|p| p.address == peer)
}

fn received(socket: &Path, peer: IpAddr) -> Option<u64> {
    let s = summary(socket, peer)?;
    Some(
        s.prefixes
            .iter()
            .filter(|f| f.family == AfiSafi::L2VPN_EVPN.to_string())
            .map(|f| f.received)
            .sum(),
    )
}

fn wait_count(
    mut count: impl FnMut() -> Option<u64>,
    want: u32,
    within: Duration,
    poll: Duration,
) -> Result<u64, String> {
    let end = Instant::now() + within;
    let mut last = 0;
    loop {
        if let Some(n) = count() {
            last = n;
            if n >= u64::from(want) {
                return Ok(n);
            }
        }
        if Instant::now() > end {
            return Err(format!("only {last} of {want} routes after {within:?}"));
        }
        std::thread::sleep(poll);
    }
}

fn vni_count(socket: &Path) -> Option<usize> {
    let r = evpnd::ctl::request(socket, Command::ShowVni).ok()?;
    r.data?.as_array().map(Vec::len)
}

/// A gauge from the metrics endpoint: the value on the line starting with `series`.
fn gauge(metrics: SocketAddr, series: &str) -> Option<u64> {
    let mut s = TcpStream::connect_timeout(&metrics, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: evpnd\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.trim().parse().ok())
}

/// Remote MACs in the EVPN service's desired state.
fn remote_macs(metrics: SocketAddr) -> Option<u64> {
    gauge(metrics, "evpnd_evpn_macs{kind=\"remote\"}")
}

/// FDB entries the fib reports programmed.
fn fib_fdb(metrics: SocketAddr) -> Option<u64> {
    gauge(metrics, "evpnd_fib_entries{kind=\"fdb\"}")
}

fn start_perf(pid: u32, out: &Path) -> Result<Child, String> {
    let c = Proc::new("perf")
        .args(["record", "-F", "999", "-g", "-p", &pid.to_string(), "-o"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("perf (apt-get install linux-perf): {e}"))?;
    // perf needs a moment to attach.
    std::thread::sleep(Duration::from_millis(500));
    Ok(c)
}

fn stop_perf(mut c: Child) {
    // SAFETY: kill(2) on our own child's PID.
    unsafe {
        libc::kill(c.id() as libc::pid_t, libc::SIGINT);
    }
    let _ = c.wait();
}

fn wait(within: Duration, what: &str, mut f: impl FnMut() -> bool) -> Result<(), String> {
    let end = Instant::now() + within;
    while !f() {
        if Instant::now() > end {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// evpnd's memory and CPU from /proc.
struct Stats {
    rss_kb: u64,
    hwm_kb: u64,
    /// Clock ticks per thread name (utime + stime).
    threads: Vec<(String, u64)>,
}

impl Stats {
    fn read(pid: u32) -> Result<Self, String> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let mut threads: Vec<(String, u64)> = Vec::new();
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| e.to_string())?;
        for t in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
                continue;
            };
            // "tid (comm) state ..." — comm may hold spaces; fields after the ')'.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let name = stat[open + 1..close].to_string();
            let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
            // Fields 14 and 15 (utime, stime) are the 12th and 13th after the comm.
            let ticks: u64 = [11, 12]
                .iter()
                .filter_map(|&i| f.get(i).and_then(|x| x.parse::<u64>().ok()))
                .sum();
            match threads.iter_mut().find(|(n, _)| *n == name) {
                Some(e) => e.1 += ticks,
                None => threads.push((name, ticks)),
            }
        }
        Ok(Self {
            rss_kb: kb("VmRSS:"),
            hwm_kb: kb("VmHWM:"),
            threads,
        })
    }

    fn ticks(&self, name: &str) -> u64 {
        self.threads
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, t)| *t)
    }
}

fn report(before: &Stats, after: &Stats, routes: u32) {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let grow = after.rss_kb.saturating_sub(before.rss_kb) * 1024;
    println!(
        "RSS {} -> {} KiB (+{:.1} MiB), {:.1} bytes/route; VmHWM {} KiB",
        before.rss_kb,
        after.rss_kb,
        grow as f64 / 1048576.0,
        grow as f64 / f64::from(routes.max(1)),
        after.hwm_kb
    );
    let mut total = 0u64;
    let mut parts = Vec::new();
    for (name, t) in &after.threads {
        let d = t.saturating_sub(before.ticks(name));
        total += d;
        if d > 0 {
            parts.push(format!("{name} {:.2}", d as f64 / hz));
        }
    }
    println!("CPU {:.2} s ({})", total as f64 / hz, parts.join(", "));
}

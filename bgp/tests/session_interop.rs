//! The sans-IO session against real peers on loopback: a small blocking driver (std TCP,
//! timers as deadlines) runs `bgp::session::Session` against gobgpd 3.10 and FRR 8.4
//! bgpd, each started here as a child process on 127.0.0.x with a free port. Proves OPEN
//! negotiation, keepalives and the Cease with a shutdown message interoperate.
//!
//! Needs `gobgpd`/`gobgp` and FRR (`/usr/lib/frr/bgpd`, `vtysh`) installed (CI installs
//! them); a missing binary fails the test with a message. No root needed.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bgp::packet::{frame, AfiSafi, DecodeOptions, Message};
use bgp::session::{
    Initiator, Input, Output, PeerConfig, RemoteAs, Session, State, StopReason, TimerKind,
};
use bytes::BytesMut;

/// Runs a session over one blocking TCP connection.
struct Driver {
    s: Session,
    peer: SocketAddr,
    stream: Option<TcpStream>,
    timers: HashMap<TimerKind, Instant>,
    buf: BytesMut,
    opts: DecodeOptions,
    seen: Vec<Output>,
}

impl Driver {
    fn new(cfg: PeerConfig, peer: SocketAddr) -> Self {
        Self {
            s: Session::new(cfg, 1, Instant::now()).expect("config"),
            peer,
            stream: None,
            timers: HashMap::new(),
            buf: BytesMut::new(),
            opts: DecodeOptions::default(),
            seen: Vec::new(),
        }
    }

    fn feed(&mut self, input: Input) {
        let mut queue: VecDeque<Output> = self.s.process(Instant::now(), input).into();
        while let Some(o) = queue.pop_front() {
            let next = match &o {
                Output::Connect => {
                    match TcpStream::connect_timeout(&self.peer, Duration::from_secs(2)) {
                        Ok(st) => {
                            self.stream = Some(st);
                            Some(Input::TcpConnected(Initiator::Local))
                        }
                        Err(_) => Some(Input::TcpConnectionFails),
                    }
                }
                Output::Disconnect => {
                    if let Some(st) = self.stream.take() {
                        close_gracefully(st);
                    }
                    self.buf.clear();
                    self.opts = DecodeOptions::default();
                    None
                }
                Output::Send(m) => {
                    let bytes = m.to_bytes(&self.opts).expect("encodes");
                    match self.stream.as_mut().map(|st| st.write_all(&bytes)) {
                        Some(Ok(())) => None,
                        _ => Some(Input::TcpConnectionFails),
                    }
                }
                Output::StartTimer(k, d) => {
                    self.timers.insert(*k, Instant::now() + *d);
                    None
                }
                Output::StopTimer(k) => {
                    self.timers.remove(k);
                    None
                }
                Output::SetCodec(o) => {
                    self.opts = *o;
                    None
                }
                _ => None,
            };
            self.seen.push(o);
            if let Some(input) = next {
                queue.extend(self.s.process(Instant::now(), input));
            }
        }
    }

    /// Poll timers and the socket until `done` holds or `within` passes.
    fn run_until(&mut self, within: Duration, done: impl Fn(&Session) -> bool) -> bool {
        let deadline = Instant::now() + within;
        while !done(&self.s) {
            if Instant::now() > deadline {
                return false;
            }
            let now = Instant::now();
            let due: Vec<TimerKind> = self
                .timers
                .iter()
                .filter(|(_, t)| **t <= now)
                .map(|(k, _)| *k)
                .collect();
            for k in due {
                self.timers.remove(&k);
                self.feed(Input::TimerExpired(k));
            }
            let Some(st) = self.stream.as_mut() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            let _ = st.set_read_timeout(Some(Duration::from_millis(20)));
            let mut tmp = [0u8; 4096];
            let inputs = match st.read(&mut tmp) {
                Ok(0) => vec![Input::TcpConnectionFails],
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    let mut inputs = Vec::new();
                    loop {
                        match frame(&mut self.buf, self.opts.max_len()) {
                            Ok(Some(msg)) => match Message::decode(&msg, &self.opts) {
                                Ok(m) => inputs.push(Input::Received(m)),
                                Err(e) => inputs.push(Input::DecodeError(e)),
                            },
                            Ok(None) => break,
                            Err(e) => {
                                inputs.push(Input::DecodeError(e));
                                break;
                            }
                        }
                    }
                    inputs
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => vec![],
                Err(_) => vec![Input::TcpConnectionFails],
            };
            // Messages are fed one at a time: SetCodec from one applies to the next. They
            // were decoded with the options of the moment, which is right here because a
            // peer sends nothing codec-dependent before our KEEPALIVE.
            for i in inputs {
                self.feed(i);
            }
        }
        true
    }
}

/// Close as a speaker should: FIN after our last message, then drain until the peer
/// closes (bounded). Closing with unread input would send an RST, which can make the
/// peer's kernel discard a NOTIFICATION it has not read yet.
fn close_gracefully(mut st: TcpStream) {
    let _ = st.shutdown(Shutdown::Write);
    let _ = st.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut sink = [0u8; 4096];
    while Instant::now() < deadline {
        match st.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// A child process killed (by its own PID) when the test ends, pass or fail.
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

fn require(bin: &str) {
    let found = Path::new(bin).is_file()
        || std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()));
    assert!(
        found,
        "{bin} not found: install it (apt-get install -y gobgpd frr)"
    );
}

fn free_port(ip: Ipv4Addr) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("evt-session-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn wait_listening(addr: SocketAddr) {
    for _ in 0..100 {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            // That probe was a connection too; give the daemon a moment to drop it.
            std::thread::sleep(Duration::from_millis(300));
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listening on {addr}");
}

fn our_config(remote_as: u32) -> PeerConfig {
    let mut cfg = PeerConfig::new(
        65001,
        RemoteAs::Asn(remote_as),
        Ipv4Addr::new(10, 0, 0, 1),
        vec![AfiSafi::L2VPN_EVPN],
    );
    cfg.timers.hold_time = 9;
    cfg.hostname = Some("evpnd-test".into());
    cfg
}

/// Established, keepalives both ways for a few seconds, then a shutdown with a message.
fn exercise(d: &mut Driver) {
    d.feed(Input::ManualStart);
    assert!(
        d.run_until(Duration::from_secs(15), |s| s.state() == State::Established),
        "not Established: {:?}, last error {:?}",
        d.s.state(),
        d.s.counters().last_error
    );
    let n = d.s.negotiated().expect("negotiated").clone();
    assert_eq!(n.families, vec![AfiSafi::L2VPN_EVPN]);
    assert!(n.four_octet_as && n.route_refresh);
    assert!(!n.ibgp);
    // Keepalives every 3 s (hold 9): after 7 s both sides sent a couple.
    let up = Instant::now();
    assert!(d.run_until(Duration::from_secs(10), |_| up.elapsed()
        > Duration::from_secs(7)));
    assert_eq!(
        d.s.state(),
        State::Established,
        "{:?}",
        d.s.counters().last_error
    );
    let c = d.s.counters();
    assert!(c.keepalives.received >= 2, "{c:?}");
    assert!(c.keepalives.sent >= 2, "{c:?}");
}

#[test]
fn session_with_gobgpd() {
    require("gobgpd");
    require("gobgp");
    let dir = scratch("gobgp");
    let (peer_ip, port, api) = (
        Ipv4Addr::new(127, 0, 0, 2),
        free_port(Ipv4Addr::new(127, 0, 0, 2)),
        free_port(Ipv4Addr::LOCALHOST),
    );
    let conf = dir.join("gobgpd.toml");
    std::fs::write(
        &conf,
        format!(
            r#"[global.config]
  as = 65002
  router-id = "10.0.0.2"
  port = {port}
  local-address-list = ["{peer_ip}"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "127.0.0.1"
    peer-as = 65001
  [neighbors.transport.config]
    passive-mode = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "l2vpn-evpn"
"#
        ),
    )
    .expect("write config");
    let child = Command::new("gobgpd")
        .arg("-f")
        .arg(&conf)
        .args([
            "-p",
            "--pprof-disable",
            "--api-hosts",
            &format!("127.0.0.1:{api}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gobgpd");
    let _daemon = Daemon { child, dir };
    let addr = SocketAddr::from((peer_ip, port));
    wait_listening(addr);

    let mut d = Driver::new(our_config(65002), addr);
    exercise(&mut d);
    // GoBGP sees the session Established (apipb PeerState 6).
    let state = || {
        let out = Command::new("gobgp")
            .args([
                "-p",
                &api.to_string(),
                "-u",
                "127.0.0.1",
                "neighbor",
                "127.0.0.1",
                "-j",
            ])
            .output()
            .expect("gobgp CLI");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(state().contains("\"session_state\":6"), "{}", state());

    d.feed(Input::ManualStop(StopReason::AdminShutdown {
        message: Some("evpnd test done".into()),
    }));
    assert_eq!(d.s.state(), State::Idle);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !state().contains("\"session_state\":6"),
        "GoBGP still Established"
    );
}

/// FRR bgpd (AS 65003) on `ip`, expecting us (127.0.0.1) as `remote_as`, passive.
struct Frr {
    _daemon: Daemon,
    addr: SocketAddr,
    vty: PathBuf,
}

impl Frr {
    fn start(name: &str, ip: Ipv4Addr, remote_as: u32) -> Self {
        let bgpd = "/usr/lib/frr/bgpd";
        require(bgpd);
        require("vtysh");
        let dir = scratch(name);
        let port = free_port(ip);
        let conf = dir.join("bgpd.conf");
        std::fs::write(
            &conf,
            format!(
                "frr defaults datacenter\n\
                 hostname frrpeer\n\
                 router bgp 65003\n \
                 bgp router-id 10.0.0.3\n \
                 no bgp default ipv4-unicast\n \
                 no bgp ebgp-requires-policy\n \
                 neighbor 127.0.0.1 remote-as {remote_as}\n \
                 neighbor 127.0.0.1 passive\n \
                 address-family l2vpn evpn\n  \
                 neighbor 127.0.0.1 activate\n \
                 exit-address-family\n"
            ),
        )
        .expect("write config");
        let child = Command::new(bgpd)
            .args([
                "-Z",
                "-S",
                "-n",
                "-P",
                "0",
                "-p",
                &port.to_string(),
                "-l",
                &ip.to_string(),
            ])
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("bgpd.pid"))
            .arg("-z")
            .arg(dir.join("zserv.api"))
            .arg("--vty_socket")
            .arg(&dir)
            .arg("--log")
            .arg(format!("file:{}", dir.join("bgpd.log").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start bgpd");
        let vty = dir.clone();
        let addr = SocketAddr::from((ip, port));
        let frr = Self {
            _daemon: Daemon { child, dir },
            addr,
            vty,
        };
        wait_listening(addr);
        frr
    }

    /// bgpd's log (NOTIFICATIONs on connections that never got Established only show
    /// here: FRR keeps their counters on a temporary peer).
    fn log(&self) -> String {
        std::fs::read_to_string(self.vty.join("bgpd.log")).unwrap_or_default()
    }

    /// `show bgp neighbors 127.0.0.1 json`, as text.
    fn neighbor(&self) -> String {
        let out = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.vty)
            .args(["-c", "show bgp neighbors 127.0.0.1 json"])
            .output()
            .expect("vtysh");
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

#[test]
fn session_with_frr_bgpd() {
    let frr = Frr::start("frr", Ipv4Addr::new(127, 0, 0, 3), 65001);
    let addr = frr.addr;
    let mut d = Driver::new(our_config(65003), addr);
    exercise(&mut d);
    let n = d.s.negotiated().expect("negotiated");
    assert_eq!(n.peer_hostname.as_deref(), Some("frrpeer"));
    assert!(n.enhanced_route_refresh);
    let show = || frr.neighbor();
    let s = show();
    assert!(s.contains("\"bgpState\":\"Established\""), "{s}");
    assert!(
        s.contains("\"hostname\":\"evpnd-test\""),
        "FRR did not read our FQDN capability: {s}"
    );

    d.feed(Input::ManualStop(StopReason::AdminShutdown {
        message: Some("evpnd test done".into()),
    }));
    std::thread::sleep(Duration::from_millis(500));
    let s = show();
    assert!(!s.contains("\"bgpState\":\"Established\""), "{s}");
    assert!(
        s.contains("evpnd test done"),
        "FRR did not read the shutdown message: {s}"
    );
}

/// OPEN errors against FRR, both directions: we refuse FRR's AS (2/2 sent), and FRR
/// refuses ours (2/2 received); both end Idle with the NOTIFICATION recorded.
#[test]
fn open_errors_with_frr_bgpd() {
    // We expect AS 65099 but FRR is 65003: we send Bad Peer AS.
    let frr = Frr::start("frr-badas-ours", Ipv4Addr::new(127, 0, 0, 4), 65001);
    let mut d = Driver::new(our_config(65099), frr.addr);
    d.feed(Input::ManualStart);
    assert!(
        d.run_until(Duration::from_secs(10), |s| s.counters().notifications.sent
            > 0)
    );
    assert_eq!(d.s.state(), State::Idle);

    let sent = d.s.counters().last_notification_sent.clone().expect("sent");
    assert_eq!((sent.code, sent.subcode), (2, 2));
    std::thread::sleep(Duration::from_millis(300));
    let log = frr.log();
    assert!(
        log.contains("NOTIFICATION: received from neighbor 127.0.0.1 2/2"),
        "{log}"
    );

    // FRR expects AS 65099 but we are 65001: FRR sends Bad Peer AS.
    let frr = Frr::start("frr-badas-theirs", Ipv4Addr::new(127, 0, 0, 5), 65099);
    let mut d = Driver::new(our_config(65003), frr.addr);
    d.feed(Input::ManualStart);
    assert!(d.run_until(Duration::from_secs(10), |s| s
        .counters()
        .notifications
        .received
        > 0));
    assert_eq!(d.s.state(), State::Idle);
    let got =
        d.s.counters()
            .last_notification_received
            .clone()
            .expect("received");
    assert_eq!((got.code, got.subcode), (2, 2), "{}", got.text);
    assert!(d
        .s
        .counters()
        .last_error
        .clone()
        .unwrap_or_default()
        .contains("Bad Peer AS"));
}

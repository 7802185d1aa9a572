//! One tokio task per peer drives `bgp::session::Session` (sans-IO): it owns the
//! connection(s), the timers (one deadline per `TimerKind`), and carries out the
//! session's `Output`s. A second, inbound connection during OpenSent/OpenConfirm gets its
//! own `Session` until `collision::resolve` picks one (RFC 4271 section 6.8).

pub mod conn;
mod link;
pub mod settings;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use bgp::packet::{frame, Message, RouteRefresh, RouteRefreshSubtype, Update, Verdict};
use bgp::session::collision::{self, Connection};
use bgp::session::config::ConfigError;
use bgp::session::{
    Initiator, Input, LogLevel, Negotiated, Output, Resolution, Session, SessionStatus,
    StaleRoutes, State, StopReason, TimerKind,
};
use bytes::{Bytes, BytesMut};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::sockopt;
use conn::Conn;
use link::{room, slot, Link};
pub use settings::PeerSettings;

/// What a peer task tells the core (the RIB side).
#[derive(Debug)]
pub enum PeerEvent {
    Established {
        peer: IpAddr,
        negotiated: Box<Negotiated>,
        /// Our end of the session's TCP connection: the address we advertise as next hop
        /// where we set one (next-hop-self, IPv4 unicast to eBGP).
        local: Option<IpAddr>,
    },
    Down {
        peer: IpAddr,
        reason: String,
        stale: Option<StaleRoutes>,
    },
    Update {
        peer: IpAddr,
        update: Box<Update>,
        verdict: Verdict,
    },
    RouteRefresh {
        peer: IpAddr,
        refresh: RouteRefresh,
    },
    /// A batch from `SendEncoded`/`SendUpdates` is queued for writing: send the next.
    BatchDone {
        peer: IpAddr,
    },
    /// The task ended (removed from the config, or a dynamic peer whose session ended).
    Gone {
        peer: IpAddr,
        instance: u64,
    },
}

/// What the core asks of a peer task.
#[derive(Debug)]
pub enum PeerCmd {
    /// A connection the listener accepted from this peer's address.
    Accepted(TcpStream),
    Show(oneshot::Sender<PeerView>),
    Clear {
        soft: bool,
    },
    /// UPDATEs from the Adj-RIB-Out for the Established session (dropped when the session
    /// is not Established: the RIB re-sends everything on the next Established).
    SendUpdates(Vec<Update>),
    /// Packed UPDATEs from the Adj-RIB-Out; answered with `PeerEvent::BatchDone`.
    SendEncoded(Vec<bytes::Bytes>),
    /// From the RIB: routes held from the peer in a family (max-prefix).
    PrefixCount {
        family: bgp::packet::AfiSafi,
        count: u64,
    },
    /// The config changed: Cease 6/6 and start again with the new settings.
    Replace(Box<PeerSettings>),
    /// Our graceful restart is over: later OPENs carry neither R nor F (RFC 4724 4.1);
    /// the running session is left alone.
    RestartOver,
    /// Send the Cease for `reason`; with `exit`, flush and end the task.
    Stop {
        reason: StopReason,
        exit: bool,
        done: Option<oneshot::Sender<()>>,
    },
}

/// A snapshot for `show peer(s)`.
#[derive(Debug, Clone)]
pub struct PeerView {
    pub settings: PeerSettings,
    pub status: SessionStatus,
}

pub struct PeerHandle {
    pub cmd: mpsc::UnboundedSender<PeerCmd>,
    pub settings: PeerSettings,
    pub instance: u64,
}

/// Starts the task for one peer.
pub fn spawn(
    settings: PeerSettings,
    events: mpsc::Sender<PeerEvent>,
    instance: u64,
) -> Result<PeerHandle, ConfigError> {
    let session = new_session(&settings, 0)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let task = PeerTask::new(settings.clone(), session, events, instance);
    tokio::spawn(task.run(rx));
    Ok(PeerHandle {
        cmd: tx,
        settings,
        instance,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Main,
    Other,
}

struct ConnectResult {
    gen: u64,
    result: io::Result<TcpStream>,
}

enum Ev {
    Cmd(Option<PeerCmd>),
    Connected(ConnectResult),
    Read(Which, io::Result<usize>),
    Timer(Which),
    /// Room in the write queue for the messages waiting.
    Room(Which, mpsc::OwnedPermit<Bytes>),
    /// Messages waited for room longer than the send hold time.
    SendHold(Which),
}

struct PeerTask {
    settings: PeerSettings,
    events: mpsc::Sender<PeerEvent>,
    instance: u64,
    main: Link,
    other: Option<Link>,
    connect_tx: mpsc::Sender<ConnectResult>,
    connect_rx: mpsc::Receiver<ConnectResult>,
    gen: u64,
    closing: Vec<JoinHandle<()>>,
    /// Stopped by the operator or the config: do not restart promoted sessions.
    stopped: bool,
    /// A Connect/Active cycle was logged since the session was last beyond Active.
    cycle_logged: bool,
    /// Inputs produced while carrying out outputs (a stuck writer), fed next.
    pending: Vec<(Which, Input)>,
    /// Set by SetCodec: a collision may now be decidable.
    check_collision: bool,
    /// While an OPEN is processed with a second connection open: its replies (the
    /// KEEPALIVE), held until the collision is decided, so a connection about to be
    /// dumped never tells the peer it is accepted (RFC 4271 6.8 decides on the OPEN).
    held: Option<Vec<(Which, Message)>>,
    /// The last message logged above debug (repeats go to debug).
    last_log: Option<String>,
    /// The last connect error logged above debug (repeats go to debug).
    last_connect_error: Option<String>,
    /// Messages sent to debug as repeats since the last Established (for its summary).
    repeats: u64,
    /// UPDATEs of the core's batch not yet all in the write queue: the core hears
    /// `BatchDone` when they are (one batch in flight per peer).
    batch: Option<u64>,
}

fn seed_of(addr: IpAddr) -> u64 {
    let mut h = DefaultHasher::new();
    addr.hash(&mut h);
    h.finish()
}

fn std_now() -> std::time::Instant {
    std::time::Instant::now()
}

async fn read_some(conn: Option<&mut Conn>) -> io::Result<usize> {
    use tokio::io::AsyncReadExt;
    match conn {
        Some(c) => {
            c.buf.reserve(4096);
            c.read.read_buf(&mut c.buf).await
        }
        None => std::future::pending().await,
    }
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// A session for this peer. `settings::build` only produces configs the session accepts
/// (the daemon's config is validated on load), so an error here is reported, never
/// papered over.
fn new_session(settings: &PeerSettings, salt: u64) -> Result<Session, ConfigError> {
    Session::new(
        settings.session.clone(),
        seed_of(settings.address) ^ salt,
        std_now(),
    )
}

async fn connect(s: &PeerSettings) -> io::Result<TcpStream> {
    let sock = if s.remote.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(local) = s.local {
        sock.bind(SocketAddr::new(local, 0))?;
    }
    let fd = sock.as_raw_fd();
    if let Some(pw) = &s.password {
        sockopt::set_md5(fd, s.remote.ip(), None, Some(pw))?;
    }
    s.ttl.apply(fd, s.remote)?;
    sock.connect(s.remote).await
}

fn is_down_state(s: State) -> bool {
    matches!(s, State::Idle | State::Connect | State::Active)
}

impl PeerTask {
    fn new(
        settings: PeerSettings,
        session: Session,
        events: mpsc::Sender<PeerEvent>,
        instance: u64,
    ) -> Self {
        let (connect_tx, connect_rx) = mpsc::channel(4);
        let main = Link::new(session);
        Self {
            settings,
            events,
            instance,
            main,
            other: None,
            connect_tx,
            connect_rx,
            gen: 0,
            closing: Vec::new(),
            stopped: false,
            cycle_logged: false,
            pending: Vec::new(),
            check_collision: false,
            held: None,
            last_log: None,
            last_connect_error: None,
            repeats: 0,
            batch: None,
        }
    }

    fn start_input(&self) -> Input {
        if self.settings.session.passive {
            Input::ManualStartPassive
        } else {
            Input::ManualStart
        }
    }

    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<PeerCmd>) {
        info!(peer = %self.settings.address, dynamic = self.settings.dynamic, "peer configured");
        let start = self.start_input();
        self.feed(Which::Main, start).await;
        loop {
            let main_at = self.main.next_deadline();
            let other_at = self.other.as_ref().and_then(Link::next_deadline);
            // Waiting for room in a write queue is one more event among reads and
            // timers: a peer that does not read never blocks this loop.
            let main_room = self.main.conn.as_ref().and_then(Conn::room);
            let other_room = self.other.as_ref().and_then(|l| l.conn.as_ref()?.room());
            let main_hold = self.main.send_hold_deadline();
            let other_hold = self.other.as_ref().and_then(Link::send_hold_deadline);
            let ev = {
                let other_conn = self.other.as_mut().and_then(|l| l.conn.as_mut());
                tokio::select! {
                    c = cmds.recv() => Ev::Cmd(c),
                    Some(r) = self.connect_rx.recv() => Ev::Connected(r),
                    r = read_some(self.main.conn.as_mut()) => Ev::Read(Which::Main, r),
                    r = read_some(other_conn) => Ev::Read(Which::Other, r),
                    _ = sleep_opt(main_at) => Ev::Timer(Which::Main),
                    _ = sleep_opt(other_at) => Ev::Timer(Which::Other),
                    Some(p) = room(main_room) => Ev::Room(Which::Main, p),
                    Some(p) = room(other_room) => Ev::Room(Which::Other, p),
                    _ = sleep_opt(main_hold) => Ev::SendHold(Which::Main),
                    _ = sleep_opt(other_hold) => Ev::SendHold(Which::Other),
                }
            };
            match ev {
                Ev::Cmd(None) => {
                    // The core is gone: the daemon is exiting.
                    self.stop(StopReason::AdminShutdown { message: None }).await;
                    self.flush().await;
                    return;
                }
                Ev::Cmd(Some(cmd)) => {
                    if self.command(cmd).await {
                        return;
                    }
                }
                Ev::Connected(r) => self.connected(r).await,
                Ev::Read(w, r) => self.read(w, r).await,
                Ev::Timer(w) => self.timers(w).await,
                Ev::Room(w, permit) => {
                    if let Some(c) = self.link(w).and_then(|l| l.conn.as_mut()) {
                        c.fill(permit);
                    }
                }
                Ev::SendHold(w) => self.send_hold_expired(w).await,
            }
            self.after_event().await;
            if self.settings.dynamic && self.main.idle() && self.other.is_none() {
                info!(peer = %self.settings.address, "dynamic peer removed (session ended)");
                self.flush().await;
                let _ = self
                    .events
                    .send(PeerEvent::Gone {
                        peer: self.settings.address,
                        instance: self.instance,
                    })
                    .await;
                return;
            }
        }
    }

    fn link(&mut self, w: Which) -> Option<&mut Link> {
        match w {
            Which::Main => Some(&mut self.main),
            Which::Other => self.other.as_mut(),
        }
    }

    /// Returns true when the task must end.
    async fn command(&mut self, cmd: PeerCmd) -> bool {
        match cmd {
            PeerCmd::Accepted(stream) => self.accepted(stream).await,
            PeerCmd::Show(reply) => {
                let _ = reply.send(PeerView {
                    settings: self.settings.clone(),
                    status: self.main.session.status(std_now()),
                });
            }
            PeerCmd::SendUpdates(updates) => {
                let codec = self.main.codec;
                let msgs = updates
                    .into_iter()
                    .filter_map(|u| {
                        let mut buf = BytesMut::new();
                        match Message::Update(u).encode(&codec, &mut buf) {
                            Ok(()) => Some(buf.freeze()),
                            Err(e) => {
                                error!(peer = %self.settings.address, error = %e, "cannot encode an UPDATE");
                                None
                            }
                        }
                    })
                    .collect();
                self.send_encoded(msgs).await;
            }
            PeerCmd::SendEncoded(msgs) => self.send_encoded(msgs).await,
            PeerCmd::PrefixCount { family, count } => {
                self.feed(Which::Main, Input::PrefixCount { family, count })
                    .await;
            }
            PeerCmd::Clear { soft: false } => {
                self.stopped = false;
                let reason = StopReason::AdminReset { message: None };
                self.feed(Which::Main, Input::ManualStop(reason.clone()))
                    .await;
                if self.other.is_some() {
                    self.feed(Which::Other, Input::ManualStop(reason)).await;
                }
                if self.main.idle() && self.main.promoted {
                    self.restart_main().await;
                }
            }
            PeerCmd::Clear { soft: true } => {
                let families = self
                    .main
                    .session
                    .negotiated()
                    .map(|n| n.families.clone())
                    .unwrap_or_default();
                for f in families {
                    let rr = RouteRefresh::new(f, RouteRefreshSubtype::Normal);
                    self.feed(Which::Main, Input::SendRouteRefresh(rr)).await;
                }
            }
            PeerCmd::RestartOver => {
                if let Some(gr) = self.settings.session.graceful_restart.as_mut() {
                    gr.restarting = false;
                    gr.preserved = crate::restart::preserved(false);
                }
            }
            PeerCmd::Replace(settings) => {
                info!(peer = %self.settings.address, "configuration changed: resetting the session");
                self.stop(StopReason::OtherConfigChange).await;
                match new_session(&settings, self.gen) {
                    Ok(session) => {
                        self.settings = *settings;
                        self.stopped = false;
                        self.main = Link::new(session);
                        let start = self.start_input();
                        self.feed(Which::Main, start).await;
                    }
                    // The core validated the settings; stay stopped rather than guess.
                    Err(e) => {
                        error!(peer = %self.settings.address, error = %e, "new settings refused; peer stays down")
                    }
                }
            }
            PeerCmd::Stop { reason, exit, done } => {
                self.stop(reason).await;
                if exit {
                    self.flush().await;
                }
                if let Some(d) = done {
                    let _ = d.send(());
                }
                if exit {
                    let _ = self
                        .events
                        .send(PeerEvent::Gone {
                            peer: self.settings.address,
                            instance: self.instance,
                        })
                        .await;
                    return true;
                }
            }
        }
        false
    }

    /// Queues a batch behind what waits for the write queue; the core hears `BatchDone`
    /// when all of it is in the write queue (`finish_batch`): the pacing of the
    /// Adj-RIB-Out by what the peer reads, without ever blocking this task.
    async fn send_encoded(&mut self, msgs: Vec<bytes::Bytes>) {
        let n = msgs.len() as u64;
        let conn = match self.main.session.state() {
            State::Established => self.main.conn.as_mut(),
            _ => None,
        };
        match conn {
            Some(c) => {
                for m in msgs {
                    c.send(m);
                }
                self.batch = Some(self.batch.unwrap_or(0) + n);
            }
            // Not Established: the RIB sends everything again on the next Established.
            None => {
                self.send_core(PeerEvent::BatchDone {
                    peer: self.settings.address,
                })
                .await
            }
        }
    }

    /// The batch in flight left for the write queue (or its connection is gone): the
    /// session hears of the UPDATEs sent, the core may send the next batch.
    async fn finish_batch(&mut self) {
        let Some(n) = self.batch else { return };
        let written = match self.main.conn.as_ref() {
            Some(c) if c.is_waiting() => return,
            Some(_) => true,
            None => false,
        };
        self.batch = None;
        if written && n > 0 {
            self.feed(Which::Main, Input::UpdatesSent { count: n })
                .await;
        }
        self.send_core(PeerEvent::BatchDone {
            peer: self.settings.address,
        })
        .await;
    }

    /// Nothing left for the writer within the send hold time: the peer does not read.
    async fn send_hold_expired(&mut self, w: Which) {
        let addr = self.settings.address;
        let Some(link) = self.link(w) else { return };
        let hold = link.send_hold();
        if link.conn.is_none() {
            return;
        }
        warn!(peer = %addr, seconds = hold.as_secs(), "peer does not read: write queue full for the send hold time, closing");
        if matches!(
            link.session.state(),
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            // RFC 9687: NOTIFICATION Send Hold Timer Expired, queued last (it reaches the
            // peer only if it starts reading within the close's grace), then the close.
            self.feed(w, Input::SendHoldTimerExpired).await;
        } else if let Some(c) = self.link(w).and_then(|l| l.conn.take()) {
            self.closing.push(c.close());
            self.feed(w, Input::TcpConnectionFails).await;
        }
    }

    async fn stop(&mut self, reason: StopReason) {
        self.stopped = true;
        if self.other.is_some() {
            self.feed(Which::Other, Input::ManualStop(reason.clone()))
                .await;
            self.other = None;
        }
        self.feed(Which::Main, Input::ManualStop(reason)).await;
    }

    /// Waits (bounded) until queued NOTIFICATIONs have been written.
    async fn flush(&mut self) {
        let all = std::mem::take(&mut self.closing);
        let _ = tokio::time::timeout(Duration::from_secs(3), async {
            for h in all {
                let _ = h.await;
            }
        })
        .await;
    }

    async fn accepted(&mut self, stream: TcpStream) {
        let addr = self.settings.address;
        if let Ok(remote) = stream.peer_addr() {
            if let Err(e) = self.settings.ttl.apply(stream.as_raw_fd(), remote) {
                warn!(peer = %addr, error = %e, "cannot set TTL options on accepted connection");
                return;
            }
        }
        let conn = match Conn::new(stream) {
            Ok(c) => c,
            Err(e) => {
                debug!(peer = %addr, error = %e, "accepted connection unusable");
                return;
            }
        };
        if self.main.conn.is_none() {
            match self.main.session.state() {
                // Idle too: the session takes the connection while an automatic restart
                // is pending (damping) and refuses it (Disconnect) when stopped.
                State::Idle | State::Connect | State::Active => {
                    // Our own attempt, if any, is abandoned (RFC 4271 8.2.2, Connect state).
                    if let Some(h) = self.main.connecting.take() {
                        h.abort();
                    }
                    self.gen += 1;
                    self.main.conn = Some(conn);
                    self.feed(Which::Main, Input::TcpConnected(Initiator::Remote))
                        .await;
                }
                s => {
                    debug!(peer = %addr, state = ?s, "connection refused: session not accepting");
                    self.closing.push(conn.close());
                }
            }
        } else if self.other.is_none() {
            debug!(peer = %addr, "second connection: collision detection");
            let session = match new_session(&self.settings, 1 + self.gen) {
                Ok(s) => s,
                Err(e) => {
                    error!(peer = %addr, error = %e, "cannot start a session for the connection");
                    self.closing.push(conn.close());
                    return;
                }
            };
            let mut link = Link::new(session);
            link.conn = Some(conn);
            link.promoted = true;
            self.other = Some(link);
            self.feed(Which::Other, Input::ManualStartPassive).await;
            self.feed(Which::Other, Input::TcpConnected(Initiator::Remote))
                .await;
        } else {
            debug!(peer = %addr, "third connection refused");
            self.closing.push(conn.close());
        }
    }

    async fn connected(&mut self, r: ConnectResult) {
        if r.gen != self.gen || self.main.connecting.is_none() {
            return;
        }
        self.main.connecting = None;
        match r.result.and_then(Conn::new) {
            Ok(c) => {
                debug!(peer = %self.settings.address, local = ?c.local, "connected");
                self.main.conn = Some(c);
                self.feed(Which::Main, Input::TcpConnected(Initiator::Local))
                    .await;
            }
            Err(e) => {
                // Why it failed, once per distinct error; the retries go to debug.
                let text = e.to_string();
                if self.last_connect_error.as_deref() == Some(text.as_str()) {
                    debug!(peer = %self.settings.address, error = %e, "connect failed (again)");
                    self.repeats += 1;
                } else {
                    warn!(peer = %self.settings.address, error = %e, "connect failed; retrying (repeats logged at debug)");
                    self.last_connect_error = Some(text);
                }
                self.feed(Which::Main, Input::TcpConnectionFails).await;
            }
        }
    }

    async fn read(&mut self, w: Which, r: io::Result<usize>) {
        let addr = self.settings.address;
        match r {
            Ok(0) | Err(_) => {
                if let Err(e) = &r {
                    debug!(peer = %addr, error = %e, "read failed");
                } else {
                    debug!(peer = %addr, "connection closed by peer");
                }
                // The connection is finished whatever the session says next.
                let Some(link) = self.link(w) else { return };
                let conn = link.conn.take();
                let idle = link.session.state() == State::Idle;
                if let Some(c) = conn {
                    self.closing.push(c.close());
                }
                // After a NOTIFICATION the session is Idle already and the peer's FIN is
                // expected: not a failure worth recording over the NOTIFICATION.
                if !idle {
                    self.feed(w, Input::TcpConnectionFails).await;
                }
            }
            Ok(_) => loop {
                let Some(link) = self.link(w) else { return };
                let codec = link.codec;
                let Some(conn) = link.conn.as_mut() else {
                    return;
                };
                match frame(&mut conn.buf, codec.max_len()) {
                    Ok(None) => return,
                    Ok(Some(bytes)) => {
                        let input = match Message::decode(&bytes, &codec) {
                            Ok(m) => Input::Received(m),
                            Err(e) => Input::DecodeError(e),
                        };
                        let hold = self.other.is_some()
                            && matches!(input, Input::Received(Message::Open(_)));
                        if hold {
                            self.held = Some(Vec::new());
                        }
                        self.feed(w, input).await;
                        let held = self.held.take();
                        // Decide a collision as soon as an OPEN told us the peer's
                        // identifier, before the next message on either connection.
                        let res = if std::mem::take(&mut self.check_collision) {
                            self.resolve_collision().await
                        } else {
                            Resolution::None
                        };
                        if let Some(held) = held {
                            self.release_held(held, res).await;
                        }
                    }
                    Err(e) => {
                        self.feed(w, Input::DecodeError(e)).await;
                        return;
                    }
                }
            },
        }
    }

    async fn timers(&mut self, w: Which) {
        let now = Instant::now();
        let Some(link) = self.link(w) else { return };
        let mut due = Vec::new();
        for k in TimerKind::ALL {
            let i = slot(k);
            if link.timers[i].is_some_and(|t| t <= now) {
                link.timers[i] = None;
                due.push(k);
            }
        }
        for k in due {
            self.feed(w, Input::TimerExpired(k)).await;
        }
    }

    /// Collision resolution, clean-up of a finished second connection, and the restart
    /// of a promoted session that ended.
    async fn after_event(&mut self) {
        self.finish_batch().await;
        if std::mem::take(&mut self.check_collision) {
            self.resolve_collision().await;
        }
        if self.other.as_ref().is_some_and(Link::idle) {
            self.other = None;
        }
        if self.main.idle() && self.main.promoted && !self.stopped && !self.settings.dynamic {
            self.restart_main().await;
        }
        self.closing.retain(|h| !h.is_finished());
    }

    async fn restart_main(&mut self) {
        self.gen += 1;
        match new_session(&self.settings, self.gen) {
            Ok(s) => {
                self.main = Link::new(s);
                let start = self.start_input();
                self.feed(Which::Main, start).await;
            }
            Err(e) => {
                error!(peer = %self.settings.address, error = %e, "cannot restart the session");
                self.stopped = true;
            }
        }
    }

    /// Sends the replies held while an OPEN was processed, except those of a connection
    /// the collision closed; the surviving connection may have moved to `main`.
    async fn release_held(&mut self, held: Vec<(Which, Message)>, res: Resolution) {
        for (w, msg) in held {
            let w = match (res, w) {
                (Resolution::CloseNew, Which::Other) | (Resolution::CloseExisting, Which::Main) => {
                    continue
                }
                (Resolution::CloseExisting, Which::Other) => Which::Main,
                (_, w) => w,
            };
            self.execute(w, Output::Send(msg)).await;
        }
        if !self.pending.is_empty() {
            let (w, input) = self.pending.remove(0);
            self.feed(w, input).await;
        }
    }

    async fn resolve_collision(&mut self) -> Resolution {
        let Some(other) = &self.other else {
            return Resolution::None;
        };
        let cfg = &self.settings.session;
        let m = &self.main.session;
        let o = &other.session;
        let remote_id = o.remote_id().or(m.remote_id());
        let remote_as = o
            .negotiated()
            .or(m.negotiated())
            .map(|n| n.peer_as)
            .unwrap_or(0);
        let res = collision::resolve(
            Connection {
                initiator: m.initiator().unwrap_or(Initiator::Local),
                state: m.state(),
            },
            Connection {
                initiator: Initiator::Remote,
                state: o.state(),
            },
            cfg.router_id,
            cfg.local_as,
            remote_id,
            remote_as,
        );
        match res {
            Resolution::None => {}
            Resolution::CloseNew => {
                info!(peer = %self.settings.address, "collision: closing the new connection");
                self.feed(Which::Other, Input::OpenCollisionDump).await;
            }
            Resolution::CloseExisting => {
                info!(peer = %self.settings.address, "collision: closing the existing connection");
                self.feed(Which::Main, Input::OpenCollisionDump).await;
                if let Some(o) = self.other.take() {
                    let old = std::mem::replace(&mut self.main, o);
                    if let Some(h) = old.connecting {
                        h.abort();
                    }
                    if let Some(c) = old.conn {
                        self.closing.push(c.close());
                    }
                }
            }
        }
        res
    }

    /// Feeds one input and carries out the outputs, then any inputs that produced.
    async fn feed(&mut self, w: Which, input: Input) {
        self.pending.push((w, input));
        while !self.pending.is_empty() {
            let (w, input) = self.pending.remove(0);
            let Some(link) = self.link(w) else { continue };
            let outs = link.session.process(std_now(), input);
            for out in outs {
                self.execute(w, out).await;
            }
        }
    }

    async fn execute(&mut self, w: Which, out: Output) {
        let addr = self.settings.address;
        let now = Instant::now();
        match out {
            Output::Connect => {
                self.gen += 1;
                let gen = self.gen;
                let settings = self.settings.clone();
                let tx = self.connect_tx.clone();
                let h = tokio::spawn(async move {
                    let result = connect(&settings).await;
                    let _ = tx.send(ConnectResult { gen, result }).await;
                });
                if let Some(link) = self.link(w) {
                    if let Some(old) = link.connecting.replace(h) {
                        old.abort();
                    }
                }
            }
            Output::Disconnect => {
                let Some(link) = self.link(w) else { return };
                let conn = link.conn.take();
                let connecting = link.connecting.take();
                if let Some(h) = connecting {
                    h.abort();
                    self.gen += 1;
                }
                if let Some(c) = conn {
                    let h = c.close();
                    self.closing.push(h);
                }
            }
            Output::Send(msg) => {
                // Only the KEEPALIVE that accepts an OPEN waits; a NOTIFICATION goes now,
                // before the Disconnect that follows it.
                if let (Some(held), Message::Keepalive) = (self.held.as_mut(), &msg) {
                    held.push((w, msg));
                    return;
                }
                let Some(link) = self.link(w) else { return };
                let mut buf = BytesMut::new();
                if let Err(e) = msg.encode(&link.codec, &mut buf) {
                    error!(peer = %addr, error = %e, "cannot encode a message to send");
                    return;
                }
                let Some(conn) = link.conn.as_mut() else {
                    return;
                };
                // Behind messages that wait for room a KEEPALIVE adds nothing: they
                // reach the peer first (UPDATEs restart its hold timer too), and a slow
                // peer's backlog must not grow by one KEEPALIVE per interval.
                if conn.is_waiting() && matches!(msg, Message::Keepalive) {
                    debug!(peer = %addr, "KEEPALIVE skipped: messages wait for the write queue");
                    return;
                }
                conn.send(buf.freeze());
            }
            Output::StartTimer(k, d) => {
                if let Some(link) = self.link(w) {
                    link.timers[slot(k)] = Some(now + d);
                }
            }
            Output::StopTimer(k) => {
                if let Some(link) = self.link(w) {
                    link.timers[slot(k)] = None;
                }
            }
            Output::StateChange { from, to } => self.log_state(w, from, to),
            Output::SetCodec(o) => {
                if let Some(link) = self.link(w) {
                    link.codec = o;
                }
                self.check_collision = true;
            }
            Output::Established(negotiated) => {
                if self.repeats > 0 {
                    info!(
                        peer = %addr,
                        repeats = self.repeats,
                        last_error = self.last_connect_error.as_deref().or(self.last_log.as_deref()),
                        "session up after repeated failures"
                    );
                }
                self.last_log = None;
                self.last_connect_error = None;
                self.repeats = 0;
                let local = self
                    .link(w)
                    .and_then(|l| l.conn.as_ref())
                    .and_then(|c| c.local)
                    .map(|a| crate::listener::canonical(a.ip()));
                self.send_core(PeerEvent::Established {
                    peer: addr,
                    negotiated,
                    local,
                })
                .await
            }
            Output::Down { reason, stale } => {
                self.send_core(PeerEvent::Down {
                    peer: addr,
                    reason,
                    stale,
                })
                .await
            }
            Output::DeliverUpdate { update, verdict } => {
                self.send_core(PeerEvent::Update {
                    peer: addr,
                    update: Box::new(update),
                    verdict,
                })
                .await
            }
            Output::DeliverRouteRefresh(refresh) => {
                self.send_core(PeerEvent::RouteRefresh {
                    peer: addr,
                    refresh,
                })
                .await
            }
            // The same message again (a peer refusing every connect retry) goes to debug:
            // each error is logged once, not in a loop.
            Output::Log { text, .. } if self.last_log.as_deref() == Some(text.as_str()) => {
                debug!(peer = %addr, "{text} (again)");
                self.repeats += 1;
            }
            Output::Log { level, text } => {
                match level {
                    LogLevel::Debug => debug!(peer = %addr, "{text}"),
                    LogLevel::Info => info!(peer = %addr, "{text}"),
                    LogLevel::Warn => warn!(peer = %addr, "{text}"),
                    LogLevel::Error => error!(peer = %addr, "{text}"),
                }
                if level != LogLevel::Debug {
                    self.last_log = Some(text);
                }
            }
        }
    }

    /// Every state change is logged once; a session cycling through Connect/Active while
    /// the peer is unreachable logs the first cycle at info and the rest at debug.
    fn log_state(&mut self, w: Which, from: State, to: State) {
        let addr = self.settings.address;
        let conn = if w == Which::Main {
            "main"
        } else {
            "collision"
        };
        if is_down_state(from) && is_down_state(to) {
            if self.cycle_logged {
                debug!(peer = %addr, ?from, ?to, conn, "session state change");
                return;
            }
            self.cycle_logged = true;
        } else {
            self.cycle_logged = false;
        }
        info!(peer = %addr, ?from, ?to, conn, "session state change");
    }

    async fn send_core(&mut self, ev: PeerEvent) {
        // Bounded: a core that falls behind slows the peers that feed it (TCP then
        // pushes back on them), instead of queueing without limit.
        let _ = self.events.send(ev).await;
    }
}

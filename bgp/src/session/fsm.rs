//! The RFC 4271 section 8 finite state machine of one BGP connection, sans-IO.
//!
//! `Session::process(now, Input) -> Vec<Output>`: the caller owns the socket and the
//! timers, feeds every event in, and carries out every action that comes back, in order.
//! Time only enters through `now`; randomness only through the seed given to `new`.
//!
//! Deviations from the RFC text, on purpose:
//! - DelayOpen (Events 12, 20) is implemented; SendNOTIFICATIONwithoutOPEN is not: an
//!   error before our OPEN went out closes without NOTIFICATION.
//! - TcpConnection_Valid / Tcp_CR_Invalid (Events 14, 15) are the daemon's check (is the
//!   source a configured peer or inside a listen range) before it calls `TcpConnected`.
//! - A second connection for the same peer is a second `Session`; see `collision.rs`.
//! - Hold and keepalive timers are lazy: receiving or sending a message only stamps a
//!   time, and the expiry re-arms for the remainder when the peer was heard from (or we
//!   sent) meanwhile. Same behaviour on the wire, no timer churn per UPDATE.
//! - A configured passive peer never leaves Active by itself (no ConnectRetryTimer).
//! - A NOTIFICATION is never answered with a NOTIFICATION (OpenSent, Event 25).

use std::time::{Duration, Instant};

use super::backoff::{Backoff, Rng};
use super::collision::Initiator;
use super::config::{ConfigError, MaxPrefixAction, PeerConfig, TimerConfig};
use super::counters::{Counters, SessionStatus};
use super::event::{Input, LogLevel, Output, StaleRoutes, State, StopReason, TimerKind};
use super::negotiate::{build_open, negotiate, Negotiated};
use crate::packet::notification::{CeaseSubcode, ErrorCode, FsmSubcode, OpenSubcode};
use crate::packet::{
    AfiSafi, Message, Notification, Open, RouteRefresh, RouteRefreshSubtype, Update, Verdict,
};
#[cfg(test)]
use crate::packet::{DecodeOptions, MessageError};

impl TimerKind {
    pub const ALL: [TimerKind; 5] = [
        Self::ConnectRetry,
        Self::Hold,
        Self::Keepalive,
        Self::IdleHold,
        Self::DelayOpen,
    ];

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl StopReason {
    fn notification(&self) -> Notification {
        let text = |m: &Option<String>| m.clone().unwrap_or_default();
        match self {
            // RFC 9003 shutdown communication (empty data when there is no text).
            Self::AdminShutdown { message } => {
                Notification::cease_with_communication(false, &text(message))
            }
            Self::AdminReset { message } => {
                Notification::cease_with_communication(true, &text(message))
            }
            Self::PeerDeconfigured => Notification::cease(CeaseSubcode::PeerDeconfigured, vec![]),
            Self::OtherConfigChange => {
                Notification::cease(CeaseSubcode::OtherConfigurationChange, vec![])
            }
            Self::OutOfResources => Notification::cease(CeaseSubcode::OutOfResources, vec![]),
        }
    }

    fn restart(&self, timers: &TimerConfig) -> Restart {
        match self {
            Self::AdminShutdown { .. } | Self::PeerDeconfigured => Restart::Never,
            Self::AdminReset { .. } | Self::OtherConfigChange => {
                Restart::After(TimerConfig::secs(timers.idle_hold_min))
            }
            Self::OutOfResources => Restart::Damped,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::AdminShutdown { message: Some(m) } => format!("administratively shut down: {m}"),
            Self::AdminShutdown { message: None } => "administratively shut down".into(),
            Self::AdminReset { .. } => "administratively reset".into(),
            Self::PeerDeconfigured => "peer de-configured".into(),
            Self::OtherConfigChange => "configuration changed".into(),
            Self::OutOfResources => "out of resources".into(),
        }
    }
}

/// Whether the session restarts by itself after going Idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// After the damped idle hold time (grows on consecutive failures).
    Damped,
    After(Duration),
    Never,
}

/// What going Idle does to the ConnectRetryCounter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    Reset,
    Increment,
    Keep,
}

#[derive(Debug, Clone, Copy, Default)]
struct MaxPrefixState {
    warned: bool,
    exceeded: bool,
}

/// One BGP connection's state machine. See the module docs.
#[derive(Debug, Clone)]
pub struct Session {
    cfg: PeerConfig,
    our_open: Open,
    state: State,
    state_since: Instant,
    established_since: Option<Instant>,
    last_rx: Option<Instant>,
    last_tx: Option<Instant>,
    rng: Rng,
    connect_retry: Backoff,
    idle_hold: Backoff,
    /// Bit set of armed timers; expiries of timers not armed are stale and ignored.
    armed: u8,
    /// A connection (or an attempt) exists that `Disconnect` must close.
    tcp: bool,
    initiator: Option<Initiator>,
    passive_start: bool,
    peer_open: Option<Open>,
    negotiated: Option<Negotiated>,
    hold: Duration,
    keepalive: Duration,
    /// The NOTIFICATION sent or received on this connection, if any (GR retention).
    notification: Option<Notification>,
    max_prefix: Vec<MaxPrefixState>,
    counters: Counters,
    out: Vec<Output>,
}

impl Session {
    /// A session in Idle. `seed` drives the timer jitter (derive it from, e.g., the peer
    /// address so peers differ but runs replay).
    pub fn new(cfg: PeerConfig, seed: u64, now: Instant) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let t = &cfg.timers;
        Ok(Self {
            our_open: build_open(&cfg),
            state: State::Idle,
            state_since: now,
            established_since: None,
            last_rx: None,
            last_tx: None,
            rng: Rng::new(seed),
            connect_retry: Backoff::new(
                TimerConfig::secs(t.connect_retry_min),
                TimerConfig::secs(t.connect_retry_max),
            ),
            idle_hold: Backoff::new(
                TimerConfig::secs(t.idle_hold_min),
                TimerConfig::secs(t.idle_hold_max),
            ),
            armed: 0,
            tcp: false,
            initiator: None,
            passive_start: false,
            peer_open: None,
            negotiated: None,
            hold: Duration::ZERO,
            keepalive: Duration::ZERO,
            notification: None,
            max_prefix: vec![MaxPrefixState::default(); cfg.max_prefix.len()],
            counters: Counters::default(),
            out: Vec::new(),
            cfg,
        })
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &PeerConfig {
        &self.cfg
    }

    /// Our OPEN, as sent on every connection.
    pub fn our_open(&self) -> &Open {
        &self.our_open
    }

    /// Set once the peer's OPEN was accepted (OpenConfirm and Established).
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The peer's BGP identifier, once its OPEN was accepted (collision detection).
    pub fn remote_id(&self) -> Option<std::net::Ipv4Addr> {
        self.peer_open.as_ref().map(|o| o.bgp_id)
    }

    /// Who opened the current connection.
    pub fn initiator(&self) -> Option<Initiator> {
        self.initiator
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn status(&self, now: Instant) -> SessionStatus {
        let age = |t: Instant| now.saturating_duration_since(t).as_secs();
        let connected = self.tcp
            && matches!(
                self.state,
                State::OpenSent | State::OpenConfirm | State::Established
            );
        SessionStatus {
            state: self.state,
            state_age_secs: age(self.state_since),
            uptime_secs: self.established_since.map(age),
            last_read_secs: self.last_rx.filter(|_| connected).map(age),
            last_write_secs: self.last_tx.filter(|_| connected).map(age),
            counters: self.counters.clone(),
            negotiated: self.negotiated.clone(),
        }
    }

    /// Feed one input; returns the actions to carry out, in order.
    pub fn process(&mut self, now: Instant, input: Input) -> Vec<Output> {
        match input {
            Input::TimerExpired(kind) if self.armed & kind.bit() == 0 => {
                // Stopped or re-armed meanwhile: a stale expiry, not an event.
            }
            Input::PrefixCount { family, count } => self.on_prefix_count(now, family, count),
            Input::UpdatesSent { count } => {
                self.counters.updates.sent += count;
                self.last_tx = Some(now);
            }
            Input::SendRouteRefresh(rr) => self.send_route_refresh(now, rr),
            input => {
                if let Input::TimerExpired(kind) = input {
                    self.armed &= !kind.bit();
                }
                if let Input::Received(m) = &input {
                    self.last_rx = Some(now);
                    self.counters.received(m);
                    if let Message::Notification(n) = m {
                        self.notification = Some(n.clone());
                    }
                }
                match self.state {
                    State::Idle => self.idle(now, input),
                    State::Connect => self.connect(now, input),
                    State::Active => self.active(now, input),
                    State::OpenSent => self.open_sent(now, input),
                    State::OpenConfirm => self.open_confirm(now, input),
                    State::Established => self.established(now, input),
                }
            }
        }
        std::mem::take(&mut self.out)
    }

    // ---- per-state handlers (RFC 4271 section 8.2.2) ----

    fn idle(&mut self, now: Instant, input: Input) {
        match input {
            Input::ManualStart => {
                self.counters.connect_retries = 0;
                self.start(now, false);
            }
            Input::ManualStartPassive => {
                self.counters.connect_retries = 0;
                self.start(now, true);
            }
            Input::AutomaticStart => self.start(now, false),
            Input::AutomaticStartPassive => self.start(now, true),
            Input::TimerExpired(TimerKind::IdleHold) => self.start(now, self.passive_start),
            Input::ManualStop(reason) => {
                // Ignored by the RFC. Here, while an automatic restart is pending, a
                // shutdown cancels it and a reset makes it happen after the short delay.
                if self.armed & TimerKind::IdleHold.bit() != 0 {
                    match reason.restart(&self.cfg.timers) {
                        Restart::Never => self.stop_timer(TimerKind::IdleHold),
                        Restart::After(d) => self.start_timer(TimerKind::IdleHold, d),
                        Restart::Damped => {}
                    }
                }
                self.counters.connect_retries = 0;
                self.log(
                    LogLevel::Info,
                    format!("stopped in Idle: {}", reason.describe()),
                );
            }
            Input::TcpConnected(by) if self.armed & TimerKind::IdleHold.bit() != 0 => {
                // Damped, not stopped: the backoff holds back our own attempts, but a peer
                // that connects is back (a restarted route reflector). Refusing it until the
                // backoff ends (up to idle_hold_max) keeps the session down long after both
                // sides can talk; FRR and GoBGP take it (Active after a failed connect).
                self.stop_timer(TimerKind::IdleHold);
                self.set_state(now, State::Active);
                self.tcp_up(now, by);
            }
            Input::TcpConnected(_) => {
                // Not started: refuse the connection.
                self.out.push(Output::Disconnect);
                self.log(LogLevel::Info, "connection refused: session is Idle".into());
            }
            _ => {}
        }
    }

    fn connect(&mut self, now: Instant, input: Input) {
        match input {
            Input::ManualStart
            | Input::ManualStartPassive
            | Input::AutomaticStart
            | Input::AutomaticStartPassive => {}
            Input::ManualStop(reason) => self.stop_without_open(now, reason),
            Input::TimerExpired(TimerKind::ConnectRetry) => {
                // Abandon the attempt and try again, backing off.
                self.out.push(Output::Disconnect);
                self.counters.connect_retries += 1;
                self.arm_connect_retry();
                self.initiate_tcp();
            }
            Input::TcpConnected(by) => self.tcp_up(now, by),
            Input::TimerExpired(TimerKind::DelayOpen) => self.send_open(now),
            Input::Received(Message::Open(open)) if self.delay_open_running() => {
                self.open_during_delay(now, open)
            }
            Input::TcpConnectionFails if self.delay_open_running() => {
                // RFC: restart ConnectRetryTimer, stop DelayOpenTimer, keep listening.
                self.tcp = false;
                self.out.push(Output::Disconnect);
                self.stop_timer(TimerKind::DelayOpen);
                self.initiator = None;
                if !self.cfg.passive {
                    self.arm_connect_retry();
                }
                self.set_state(now, State::Active);
            }
            Input::TcpConnectionFails => {
                self.tcp = false;
                self.go_idle(
                    now,
                    Counter::Keep,
                    Restart::Damped,
                    "TCP connection failed".into(),
                );
            }
            _ => self.go_idle(
                now,
                Counter::Increment,
                Restart::Damped,
                "unexpected event in Connect".into(),
            ),
        }
    }

    fn active(&mut self, now: Instant, input: Input) {
        match input {
            Input::ManualStart
            | Input::ManualStartPassive
            | Input::AutomaticStart
            | Input::AutomaticStartPassive => {}
            Input::ManualStop(reason) => self.stop_without_open(now, reason),
            Input::TimerExpired(TimerKind::ConnectRetry) => {
                self.arm_connect_retry();
                self.initiate_tcp();
                self.set_state(now, State::Connect);
            }
            Input::TcpConnected(by) => self.tcp_up(now, by),
            Input::TimerExpired(TimerKind::DelayOpen) => self.send_open(now),
            Input::Received(Message::Open(open)) if self.delay_open_running() => {
                self.open_during_delay(now, open)
            }
            Input::TcpConnectionFails => {
                self.tcp = false;
                self.go_idle(
                    now,
                    Counter::Increment,
                    Restart::Damped,
                    "TCP connection failed".into(),
                );
            }
            _ => self.go_idle(
                now,
                Counter::Increment,
                Restart::Damped,
                "unexpected event in Active".into(),
            ),
        }
    }

    fn open_sent(&mut self, now: Instant, input: Input) {
        match input {
            Input::TcpConnectionFails => {
                // RFC: close, restart ConnectRetryTimer, keep listening, go Active.
                self.tcp = false;
                self.out.push(Output::Disconnect);
                self.stop_timer(TimerKind::Hold);
                self.initiator = None;
                if !self.cfg.passive {
                    self.arm_connect_retry();
                }
                self.set_state(now, State::Active);
            }
            Input::Received(Message::Open(open)) => self.on_open(now, open),
            input => self.common_connected(now, input, FsmSubcode::UnexpectedInOpenSent),
        }
    }

    fn open_confirm(&mut self, now: Instant, input: Input) {
        match input {
            Input::Received(Message::Keepalive) => {
                self.set_state(now, State::Established);
                if let Some(n) = &self.negotiated {
                    self.out.push(Output::Established(Box::new(n.clone())));
                }
            }
            input => self.common_connected(now, input, FsmSubcode::UnexpectedInOpenConfirm),
        }
    }

    fn established(&mut self, now: Instant, input: Input) {
        match input {
            Input::Received(Message::Keepalive) => {}
            Input::Received(Message::Update(u)) => self.on_update(now, u),
            Input::Received(Message::RouteRefresh(rr)) => self.on_route_refresh(rr),
            input => self.common_connected(now, input, FsmSubcode::UnexpectedInEstablished),
        }
    }

    /// Events handled alike in OpenSent, OpenConfirm and Established; anything not
    /// listed is an FSM error with the state's RFC 6608 subcode.
    fn common_connected(&mut self, now: Instant, input: Input, fsm_subcode: FsmSubcode) {
        match input {
            Input::ManualStart
            | Input::ManualStartPassive
            | Input::AutomaticStart
            | Input::AutomaticStartPassive => {}
            Input::ManualStop(reason) => {
                let n = reason.notification();
                self.send_notification(now, n);
                let counter = if reason == StopReason::OutOfResources {
                    Counter::Increment
                } else {
                    Counter::Reset
                };
                let restart = reason.restart(&self.cfg.timers);
                self.go_idle(now, counter, restart, reason.describe());
            }
            Input::TimerExpired(TimerKind::Hold) => {
                if self.hold_expired(now) {
                    self.send_notification(now, Notification::hold_timer_expired());
                    self.go_idle(
                        now,
                        Counter::Increment,
                        Restart::Damped,
                        "hold timer expired".into(),
                    );
                }
            }
            Input::TimerExpired(TimerKind::Keepalive) if self.state != State::OpenSent => {
                self.keepalive_tick(now)
            }
            Input::TcpConnected(by) => {
                // A second connection: the daemon tracks it as its own Session and
                // resolves the collision (collision.rs); this one is unaffected.
                self.log(
                    LogLevel::Warn,
                    format!("second connection ({by:?}) ignored in {:?}", self.state),
                );
            }
            Input::TcpConnectionFails => {
                self.tcp = false;
                self.go_idle(
                    now,
                    Counter::Increment,
                    Restart::Damped,
                    "TCP connection closed by peer".into(),
                );
            }
            Input::Received(Message::Notification(n)) => {
                // RFC 4271 8.2.2: a version error (NotifMsgVerErr) leaves the counter alone.
                let counter = if n.code == u8::from(ErrorCode::OpenMessage)
                    && n.subcode == u8::from(OpenSubcode::UnsupportedVersionNumber)
                {
                    Counter::Keep
                } else {
                    Counter::Increment
                };
                let text = format!("NOTIFICATION received: {n}");
                self.go_idle(now, counter, Restart::Damped, text);
            }
            Input::DecodeError(e) => {
                let n = e.notification();
                let text = format!("{e}; sent {n}");
                self.send_notification(now, n);
                self.go_idle(now, Counter::Increment, Restart::Damped, text);
            }
            Input::SendHoldTimerExpired => {
                // Queued behind what the peer does not read: it goes if it still can.
                let n = Notification::send_hold_timer_expired();
                let text = format!("the peer does not read; sent {n}");
                self.send_notification(now, n);
                self.go_idle(now, Counter::Increment, Restart::Damped, text);
            }
            Input::OpenCollisionDump => {
                self.send_notification(
                    now,
                    Notification::cease(CeaseSubcode::ConnectionCollisionResolution, vec![]),
                );
                // The other connection carries on; this one is finished.
                self.go_idle(
                    now,
                    Counter::Increment,
                    Restart::Never,
                    "connection collision resolution".into(),
                );
            }
            other => {
                let what = match &other {
                    Input::Received(m) => format!("{} message", message_name(m)),
                    other => format!("{other:?}"),
                };
                self.send_notification(now, Notification::fsm(fsm_subcode));
                let text = format!("unexpected {what} in {:?}", self.state);
                self.go_idle(now, Counter::Increment, Restart::Damped, text);
            }
        }
    }

    // ---- actions shared by several transitions ----

    fn start(&mut self, now: Instant, passive: bool) {
        self.passive_start = passive;
        self.stop_timer(TimerKind::IdleHold);
        if self.cfg.passive {
            self.set_state(now, State::Active);
        } else if passive {
            self.arm_connect_retry();
            self.set_state(now, State::Active);
        } else {
            self.arm_connect_retry();
            self.initiate_tcp();
            self.set_state(now, State::Connect);
        }
    }

    fn initiate_tcp(&mut self) {
        self.tcp = true;
        self.out.push(Output::Connect);
    }

    fn arm_connect_retry(&mut self) {
        let d = self.connect_retry.next(&mut self.rng);
        self.start_timer(TimerKind::ConnectRetry, d);
    }

    /// TCP is up (either direction): send our OPEN now, or after the DelayOpen time.
    fn tcp_up(&mut self, now: Instant, by: Initiator) {
        self.stop_timer(TimerKind::ConnectRetry);
        self.tcp = true;
        self.initiator = Some(by);
        self.last_rx = Some(now);
        // A new connection: nothing exchanged on it yet (a late NOTIFICATION from the
        // previous one must not decide this one's GR outcome).
        self.notification = None;
        match self.cfg.timers.delay_open.filter(|d| *d > 0) {
            Some(d) => self.start_timer(TimerKind::DelayOpen, TimerConfig::secs(u32::from(d))),
            None => self.send_open(now),
        }
    }

    fn delay_open_running(&self) -> bool {
        self.armed & TimerKind::DelayOpen.bit() != 0
    }

    /// The peer's OPEN came while we were delaying ours: send ours, then handle theirs
    /// as in OpenSent (KEEPALIVE and OpenConfirm, or the OPEN error).
    fn open_during_delay(&mut self, now: Instant, open: Open) {
        self.stop_timer(TimerKind::DelayOpen);
        self.send(now, Message::Open(self.our_open.clone()));
        self.on_open(now, open);
    }

    /// Send our OPEN and wait for theirs under the large initial hold time.
    fn send_open(&mut self, now: Instant) {
        self.send(now, Message::Open(self.our_open.clone()));
        let open_hold = Duration::from_secs(u64::from(self.cfg.timers.open_hold_time));
        self.hold = open_hold;
        self.start_timer(TimerKind::Hold, open_hold);
        self.set_state(now, State::OpenSent);
    }

    fn on_open(&mut self, now: Instant, open: Open) {
        match negotiate(&self.cfg, &self.our_open, &open) {
            Ok(n) => {
                self.send(now, Message::Keepalive);
                self.out.push(Output::SetCodec(n.codec));
                self.hold = Duration::from_secs(u64::from(n.hold_time));
                self.keepalive = Duration::from_secs(u64::from(n.keepalive));
                if self.hold.is_zero() {
                    self.stop_timer(TimerKind::Hold);
                } else {
                    self.start_timer(TimerKind::Hold, self.hold);
                }
                if !self.keepalive.is_zero() {
                    self.start_timer(TimerKind::Keepalive, self.keepalive);
                }
                self.peer_open = Some(open);
                self.negotiated = Some(n);
                self.set_state(now, State::OpenConfirm);
            }
            Err(e) => {
                self.send_notification(now, e.notification());
                self.go_idle(
                    now,
                    Counter::Increment,
                    Restart::Damped,
                    format!("OPEN refused: {e}"),
                );
            }
        }
    }

    /// Hold timer fired: true if the peer was really silent for the hold time; else
    /// re-arm for the rest.
    fn hold_expired(&mut self, now: Instant) -> bool {
        let since = now.saturating_duration_since(self.last_rx.unwrap_or(self.state_since));
        if since >= self.hold {
            true
        } else {
            self.start_timer(TimerKind::Hold, self.hold - since);
            false
        }
    }

    fn keepalive_tick(&mut self, now: Instant) {
        if self.keepalive.is_zero() {
            return;
        }
        let since = now.saturating_duration_since(self.last_tx.unwrap_or(self.state_since));
        if since >= self.keepalive {
            self.send(now, Message::Keepalive);
            self.start_timer(TimerKind::Keepalive, self.keepalive);
        } else {
            // An UPDATE went out meanwhile; it counts as a sign of life.
            self.start_timer(TimerKind::Keepalive, self.keepalive - since);
        }
    }

    /// ManualStop before our OPEN went out: nothing to notify, just drop.
    fn stop_without_open(&mut self, now: Instant, reason: StopReason) {
        let restart = reason.restart(&self.cfg.timers);
        self.go_idle(now, Counter::Reset, restart, reason.describe());
    }

    fn go_idle(&mut self, now: Instant, counter: Counter, restart: Restart, reason: String) {
        for k in TimerKind::ALL {
            self.stop_timer(k);
        }
        if self.tcp {
            self.tcp = false;
            self.out.push(Output::Disconnect);
        }
        if self.state == State::Established {
            self.counters.dropped += 1;
            let stale = self.stale_routes();
            self.out.push(Output::Down {
                reason: reason.clone(),
                stale,
            });
            let stable = Duration::from_secs(u64::from(self.cfg.timers.stable_after));
            if self
                .established_since
                .is_some_and(|t| now.saturating_duration_since(t) >= stable)
            {
                self.idle_hold.reset();
            }
        }
        match counter {
            Counter::Reset => self.counters.connect_retries = 0,
            Counter::Increment => self.counters.connect_retries += 1,
            Counter::Keep => {}
        }
        self.log(LogLevel::Warn, format!("session down: {reason}"));
        self.counters.last_error = Some(reason);
        self.negotiated = None;
        self.peer_open = None;
        self.initiator = None;
        self.notification = None;
        self.established_since = None;
        self.last_rx = None;
        self.last_tx = None;
        self.max_prefix
            .iter_mut()
            .for_each(|m| *m = MaxPrefixState::default());
        self.set_state(now, State::Idle);
        match restart {
            Restart::Damped => {
                let d = self.idle_hold.next(&mut self.rng);
                self.start_timer(TimerKind::IdleHold, d);
            }
            Restart::After(d) => self.start_timer(TimerKind::IdleHold, d),
            Restart::Never => {}
        }
    }

    /// RFC 4724 section 4.2 / RFC 8538 section 4: keep the peer's routes as stale when
    /// it announced GR and the session ended without a NOTIFICATION, or with one other
    /// than Hard Reset when both sides set the N-bit.
    fn stale_routes(&self) -> Option<StaleRoutes> {
        let gr = self.negotiated.as_ref()?.graceful_restart.as_ref()?;
        let graceful = match &self.notification {
            None => true,
            Some(n) => gr.notification && n.cease_subcode() != Some(CeaseSubcode::HardReset),
        };
        (graceful && !gr.families.is_empty()).then(|| StaleRoutes {
            restart_time: Duration::from_secs(u64::from(gr.restart_time)),
            families: gr.families.clone(),
        })
    }

    fn set_state(&mut self, now: Instant, to: State) {
        if to == self.state {
            return;
        }
        let from = self.state;
        self.state = to;
        self.state_since = now;
        if to == State::Established {
            self.established_since = Some(now);
            self.counters.established += 1;
            self.connect_retry.reset();
        }
        self.out.push(Output::StateChange { from, to });
    }

    fn start_timer(&mut self, kind: TimerKind, d: Duration) {
        self.armed |= kind.bit();
        self.out.push(Output::StartTimer(kind, d));
    }

    fn stop_timer(&mut self, kind: TimerKind) {
        if self.armed & kind.bit() != 0 {
            self.armed &= !kind.bit();
            self.out.push(Output::StopTimer(kind));
        }
    }

    fn send(&mut self, now: Instant, m: Message) {
        self.counters.sent(&m);
        self.last_tx = Some(now);
        self.out.push(Output::Send(m));
    }

    /// Send a NOTIFICATION; with the RFC 8538 N-bit negotiated, the Cease subcodes that
    /// must flush the peer's copy of our routes go inside a Hard Reset.
    fn send_notification(&mut self, now: Instant, n: Notification) {
        let n_bit = self
            .negotiated
            .as_ref()
            .and_then(|x| x.graceful_restart.as_ref())
            .is_some_and(|g| g.notification);
        let n = if n_bit && n.cease_subcode().is_some_and(wants_hard_reset) {
            Notification::hard_reset(&n)
        } else {
            n
        };
        self.notification = Some(n.clone());
        self.send(now, Message::Notification(n));
    }

    fn log(&mut self, level: LogLevel, text: String) {
        self.out.push(Output::Log { level, text });
    }

    // ---- inputs outside the RFC event list ----

    /// RFC 7606: only a session-reset verdict tears the session down (Event 28,
    /// UpdateMsgErr); treat-as-withdraw and attribute-discard go to the RIB with the
    /// verdict.
    fn on_update(&mut self, now: Instant, update: Update) {
        match update.verdict() {
            Verdict::SessionReset(n) => {
                let text = format!("malformed UPDATE; sent {n}");
                self.send_notification(now, n);
                self.go_idle(now, Counter::Increment, Restart::Damped, text);
            }
            verdict => {
                if verdict != Verdict::Accept {
                    self.log(
                        LogLevel::Warn,
                        format!("malformed UPDATE handled as {verdict:?}"),
                    );
                }
                self.out.push(Output::DeliverUpdate { update, verdict });
            }
        }
    }

    fn on_route_refresh(&mut self, rr: RouteRefresh) {
        let family_ok = self
            .negotiated
            .as_ref()
            .is_some_and(|n| n.has_family(rr.family));
        // RFC 2918 section 4 / RFC 7313 section 5: ignore refreshes we did not offer,
        // for families not negotiated, or with unknown subtypes.
        if !self.cfg.route_refresh
            || !family_ok
            || matches!(rr.subtype, RouteRefreshSubtype::Other(_))
        {
            self.log(LogLevel::Info, format!("ignored ROUTE-REFRESH {rr:?}"));
        } else {
            self.out.push(Output::DeliverRouteRefresh(rr));
        }
    }

    fn send_route_refresh(&mut self, now: Instant, rr: RouteRefresh) {
        let ok = self.state == State::Established
            && self.negotiated.as_ref().is_some_and(|n| {
                n.route_refresh
                    && n.has_family(rr.family)
                    && (rr.subtype == RouteRefreshSubtype::Normal || n.enhanced_route_refresh)
            });
        if ok {
            self.send(now, Message::RouteRefresh(rr));
        } else {
            self.log(
                LogLevel::Warn,
                format!("cannot send ROUTE-REFRESH {rr:?}: not negotiated"),
            );
        }
    }

    fn on_prefix_count(&mut self, now: Instant, family: AfiSafi, count: u64) {
        let Some(idx) = self.cfg.max_prefix.iter().position(|m| m.family == family) else {
            return;
        };
        let Some(mp) = self.cfg.max_prefix.get(idx).copied() else {
            return;
        };
        let Some(st) = self.max_prefix.get_mut(idx) else {
            return;
        };
        let limit = u64::from(mp.limit);
        let threshold = limit * u64::from(mp.warning_threshold_pct.min(100)) / 100;
        if count > limit {
            match mp.action {
                MaxPrefixAction::WarningOnly => {
                    if !st.exceeded {
                        st.exceeded = true;
                        self.log(LogLevel::Warn, format!("max-prefix: {count} prefixes for {family:?} exceed the limit {limit} (warning only)"));
                    }
                }
                MaxPrefixAction::Teardown { restart_secs } => {
                    if self.state == State::Established {
                        self.send_notification(
                            now,
                            Notification::cease_max_prefixes(family, mp.limit),
                        );
                        let restart = restart_secs
                            .map_or(Restart::Never, |s| Restart::After(TimerConfig::secs(s)));
                        let text = format!(
                            "max-prefix: {count} prefixes for {family:?} exceed the limit {limit}"
                        );
                        self.go_idle(now, Counter::Increment, restart, text);
                    }
                }
            }
        } else if count > threshold {
            st.exceeded = false;
            if !st.warned {
                st.warned = true;
                self.log(LogLevel::Warn, format!("max-prefix: {count} prefixes for {family:?} reach {}% of the limit {limit}", mp.warning_threshold_pct));
            }
        } else {
            *st = MaxPrefixState::default();
        }
    }
}

/// RFC 8538 section 5: with the N-bit negotiated these Cease subcodes go inside a Hard
/// Reset, so the peer flushes our routes instead of keeping them as stale.
fn wants_hard_reset(sub: CeaseSubcode) -> bool {
    matches!(
        sub,
        CeaseSubcode::MaximumPrefixesReached
            | CeaseSubcode::AdministrativeShutdown
            | CeaseSubcode::PeerDeconfigured
            | CeaseSubcode::AdministrativeReset
    )
}

fn message_name(m: &Message) -> &'static str {
    match m {
        Message::Open(_) => "OPEN",
        Message::Update(_) => "UPDATE",
        Message::Notification(_) => "NOTIFICATION",
        Message::Keepalive => "KEEPALIVE",
        Message::RouteRefresh(_) => "ROUTE-REFRESH",
    }
}

#[cfg(test)]
mod tests;

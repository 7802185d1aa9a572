//! Sans-IO tests of the FSM: a table of state x event cases (RFC 4271 section 8.2.2),
//! then timers, backoff, passive peers, max-prefix, GR retention, collisions, counters.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::*;
use crate::packet::capability::{GracefulRestart, GracefulRestartFamily};
use crate::packet::message::MARKER;
use crate::packet::notification::ErrorCode;
use crate::packet::open::OptionalParameter;
use crate::packet::Capability;
use crate::session::collision::{self, Connection, Resolution};
use crate::session::config::{GracefulRestartConfig, MaxPrefix, RemoteAs};
use crate::session::negotiate::{GR_FORWARDING_PRESERVED, GR_NOTIFICATION};

const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const THEM: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const EVPN: AfiSafi = AfiSafi::L2VPN_EVPN;

fn cfg() -> PeerConfig {
    PeerConfig::new(65001, RemoteAs::Asn(65002), US, vec![EVPN])
}

fn peer_open_with(asn: u32, hold: u16, id: Ipv4Addr, extra: Vec<Capability>) -> Open {
    let mut capabilities = vec![
        Capability::Multiprotocol(EVPN),
        Capability::RouteRefresh,
        Capability::EnhancedRouteRefresh,
        Capability::FourOctetAs(asn),
    ];
    capabilities.extend(extra);
    Open::new(asn, hold, id, capabilities)
}

fn peer_open(hold: u16) -> Open {
    peer_open_with(65002, hold, THEM, vec![])
}

fn caps_mut(o: &mut Open) -> &mut Vec<Capability> {
    match o.params.first_mut() {
        Some(OptionalParameter::Capabilities(c)) => c,
        None => panic!("OPEN without capabilities parameter"),
    }
}

fn notif(code: u8, subcode: u8) -> Notification {
    Notification {
        code,
        subcode,
        data: vec![],
    }
}

/// A whole message: marker (all `marker`), length, type, body.
fn raw(marker: u8, len: u16, msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![marker; 16];
    v.extend_from_slice(&len.to_be_bytes());
    v.push(msg_type);
    v.extend_from_slice(body);
    v
}

fn decode(bytes: &[u8]) -> Result<Message, MessageError> {
    Message::decode(bytes, &DecodeOptions::default())
}

/// The codec's verdict on broken bytes, for the header/OPEN errors the table uses.
fn decode_error(code: u8, subcode: u8) -> MessageError {
    let bytes = match (code, subcode) {
        (1, 1) => raw(0, 19, 4, &[]),
        (1, 2) => raw(0xff, 18, 4, &[]),
        (1, 3) => raw(0xff, 19, 9, &[]),
        // OPEN with optional parameter type 9 (only 2, capabilities, exists).
        (2, 4) => raw(0xff, 31, 1, &[4, 0xfd, 0xea, 0, 90, 10, 0, 0, 2, 2, 9, 0]),
        _ => panic!("no bytes for {code}/{subcode}"),
    };
    let e = decode(&bytes).expect_err("malformed");
    let n = e.notification();
    assert_eq!((n.code, n.subcode), (code, subcode), "{e}");
    e
}

/// An empty UPDATE (the IPv4 End-of-RIB), decoded from bytes.
fn update() -> Update {
    match decode(&raw(0xff, 23, 2, &[0, 0, 0, 0])) {
        Ok(Message::Update(u)) => u,
        other => panic!("{other:?}"),
    }
}

/// An UPDATE whose Withdrawn Routes Length overruns the message: RFC 7606 session reset.
fn malformed_update() -> Update {
    match decode(&raw(0xff, 23, 2, &[0, 0x10, 0, 0])) {
        Ok(Message::Update(u)) => u,
        other => panic!("{other:?}"),
    }
}

/// An UPDATE with an invalid ORIGIN value (5) and one NLRI: RFC 7606 treat-as-withdraw.
fn withdraw_update() -> Update {
    #[rustfmt::skip]
    let body = [
        0, 0, // no withdrawn routes
        0, 14, // path attribute length
        0x40, 1, 1, 5, // ORIGIN = 5 (invalid)
        0x40, 2, 0, // AS_PATH empty
        0x40, 3, 4, 192, 0, 2, 1, // NEXT_HOP
        8, 10, // 10.0.0.0/8
    ];
    let len = u16::try_from(19 + body.len()).unwrap_or(0);
    match decode(&raw(0xff, len, 2, &body)) {
        Ok(Message::Update(u)) => u,
        other => panic!("{other:?}"),
    }
}

fn rr(subtype: u8) -> RouteRefresh {
    RouteRefresh::new(EVPN, RouteRefreshSubtype::from_u8(subtype))
}

/// A session plus a fake clock.
struct H {
    s: Session,
    now: Instant,
}

impl H {
    fn new(cfg: PeerConfig) -> Self {
        let now = Instant::now();
        Self {
            s: Session::new(cfg, 7, now).expect("valid config"),
            now,
        }
    }

    fn feed(&mut self, input: Input) -> Vec<Output> {
        self.s.process(self.now, input)
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
    }

    /// Drive a fresh session (active, default config) into `state`.
    fn at(state: State) -> Self {
        Self::at_with(cfg(), peer_open(90), state)
    }

    fn at_with(cfg: PeerConfig, theirs: Open, state: State) -> Self {
        let mut h = Self::new(cfg);
        let path: &[Input] = match state {
            State::Idle => &[],
            State::Connect => &[Input::ManualStart],
            State::Active => &[Input::ManualStartPassive],
            State::OpenSent => &[Input::ManualStart, Input::TcpConnected(Initiator::Local)],
            State::OpenConfirm | State::Established => &[
                Input::ManualStart,
                Input::TcpConnected(Initiator::Local),
                Input::Received(Message::Open(theirs)),
            ],
        };
        for i in path.iter().cloned() {
            h.feed(i);
        }
        if state == State::Established {
            h.feed(Input::Received(Message::Keepalive));
        }
        assert_eq!(h.s.state(), state, "setup");
        h
    }
}

/// The observable effect of one step, compact enough for a table.
#[derive(Debug, PartialEq, Eq)]
struct Effect {
    to: State,
    /// Messages sent, by name; a NOTIFICATION as "N code/subcode".
    sent: Vec<String>,
    connect: bool,
    disconnect: bool,
    delivered: bool,
}

fn effect(h: &H, outs: &[Output]) -> Effect {
    Effect {
        to: h.s.state(),
        sent: outs
            .iter()
            .filter_map(|o| match o {
                Output::Send(Message::Notification(n)) => {
                    Some(format!("N {}/{}", n.code, n.subcode))
                }
                Output::Send(m) => Some(message_name(m).to_string()),
                _ => None,
            })
            .collect(),
        connect: outs.contains(&Output::Connect),
        disconnect: outs.contains(&Output::Disconnect),
        delivered: outs.iter().any(|o| {
            matches!(
                o,
                Output::DeliverUpdate { .. } | Output::DeliverRouteRefresh(_)
            )
        }),
    }
}

fn sent_notification(outs: &[Output]) -> Option<&Notification> {
    outs.iter().find_map(|o| match o {
        Output::Send(Message::Notification(n)) => Some(n),
        _ => None,
    })
}

fn timer_started(outs: &[Output], kind: TimerKind) -> Option<Duration> {
    outs.iter().find_map(|o| match o {
        Output::StartTimer(k, d) if *k == kind => Some(*d),
        _ => None,
    })
}

/// One row: in `from`, `secs` seconds later, `input` gives this effect.
struct Case {
    from: State,
    secs: u64,
    input: Input,
    to: State,
    sent: &'static [&'static str],
    connect: bool,
    disconnect: bool,
    delivered: bool,
}

#[allow(clippy::too_many_arguments)]
fn case(
    from: State,
    secs: u64,
    input: Input,
    to: State,
    sent: &'static [&'static str],
    connect: bool,
    disconnect: bool,
    delivered: bool,
) -> Case {
    Case {
        from,
        secs,
        input,
        to,
        sent,
        connect,
        disconnect,
        delivered,
    }
}

/// The table: one row per (state, event) of RFC 4271 section 8.2.2 that the FSM handles.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Initiator::{Local, Remote};
    use State::*;
    let shutdown = || StopReason::AdminShutdown { message: None };
    let bad_as = peer_open_with(65009, 90, THEM, vec![]);
    let (t, f) = (true, false);
    vec![
        // ---- Idle: starts; everything else ignored, incoming TCP refused.
        case(Idle, 0, Input::ManualStart, Connect, &[], t, f, f),
        case(Idle, 0, Input::AutomaticStart, Connect, &[], t, f, f),
        case(Idle, 0, Input::ManualStartPassive, Active, &[], f, f, f),
        case(Idle, 0, Input::AutomaticStartPassive, Active, &[], f, f, f),
        case(Idle, 0, Input::ManualStop(shutdown()), Idle, &[], f, f, f),
        case(Idle, 0, Input::TcpConnected(Remote), Idle, &[], f, t, f),
        case(Idle, 0, Input::TcpConnectionFails, Idle, &[], f, f, f),
        case(Idle, 0, Input::Received(Message::Keepalive), Idle, &[], f, f, f),
        case(Idle, 0, Input::OpenCollisionDump, Idle, &[], f, f, f),
        case(Idle, 0, Input::TimerExpired(TimerKind::ConnectRetry), Idle, &[], f, f, f),
        // ---- Connect
        case(Connect, 0, Input::ManualStart, Connect, &[], f, f, f),
        case(Connect, 0, Input::AutomaticStartPassive, Connect, &[], f, f, f),
        case(Connect, 0, Input::ManualStop(shutdown()), Idle, &[], f, t, f),
        case(Connect, 2, Input::TimerExpired(TimerKind::ConnectRetry), Connect, &[], t, t, f),
        case(Connect, 0, Input::TcpConnected(Local), OpenSent, &["OPEN"], f, f, f),
        case(Connect, 0, Input::TcpConnected(Remote), OpenSent, &["OPEN"], f, f, f),
        case(Connect, 0, Input::TcpConnectionFails, Idle, &[], f, f, f),
        case(Connect, 0, Input::Received(Message::Keepalive), Idle, &[], f, t, f),
        case(Connect, 0, Input::DecodeError(decode_error(1, 2)), Idle, &[], f, t, f),
        case(Connect, 0, Input::OpenCollisionDump, Idle, &[], f, t, f),
        // ---- Active
        case(Active, 0, Input::ManualStart, Active, &[], f, f, f),
        case(Active, 0, Input::ManualStop(shutdown()), Idle, &[], f, f, f),
        case(Active, 2, Input::TimerExpired(TimerKind::ConnectRetry), Connect, &[], t, f, f),
        case(Active, 0, Input::TcpConnected(Remote), OpenSent, &["OPEN"], f, f, f),
        case(Active, 0, Input::TcpConnectionFails, Idle, &[], f, f, f),
        case(Active, 0, Input::Received(Message::Open(peer_open(90))), Idle, &[], f, f, f),
        case(Active, 0, Input::OpenCollisionDump, Idle, &[], f, f, f),
        // ---- OpenSent
        case(OpenSent, 0, Input::ManualStart, OpenSent, &[], f, f, f),
        case(OpenSent, 0, Input::ManualStop(shutdown()), Idle, &["N 6/2"], f, t, f),
        case(OpenSent, 0, Input::ManualStop(StopReason::PeerDeconfigured), Idle, &["N 6/3"], f, t, f),
        case(OpenSent, 0, Input::ManualStop(StopReason::OutOfResources), Idle, &["N 6/8"], f, t, f),
        case(OpenSent, 240, Input::TimerExpired(TimerKind::Hold), Idle, &["N 4/0"], f, t, f),
        case(OpenSent, 100, Input::TimerExpired(TimerKind::Hold), OpenSent, &[], f, f, f),
        case(OpenSent, 0, Input::TimerExpired(TimerKind::Keepalive), OpenSent, &[], f, f, f),
        case(OpenSent, 0, Input::TcpConnected(Remote), OpenSent, &[], f, f, f),
        case(OpenSent, 0, Input::TcpConnectionFails, Active, &[], f, t, f),
        case(OpenSent, 0, Input::Received(Message::Open(peer_open(90))), OpenConfirm, &["KEEPALIVE"], f, f, f),
        case(OpenSent, 0, Input::Received(Message::Open(bad_as)), Idle, &["N 2/2"], f, t, f),
        case(OpenSent, 0, Input::Received(Message::Notification(notif(6, 2))), Idle, &[], f, t, f),
        case(OpenSent, 0, Input::Received(Message::Keepalive), Idle, &["N 5/1"], f, t, f),
        case(OpenSent, 0, Input::Received(Message::Update(update())), Idle, &["N 5/1"], f, t, f),
        case(OpenSent, 0, Input::Received(Message::RouteRefresh(rr(0))), Idle, &["N 5/1"], f, t, f),
        case(OpenSent, 0, Input::DecodeError(decode_error(1, 2)), Idle, &["N 1/2"], f, t, f),
        case(OpenSent, 0, Input::DecodeError(decode_error(2, 4)), Idle, &["N 2/4"], f, t, f),
        case(OpenSent, 0, Input::OpenCollisionDump, Idle, &["N 6/7"], f, t, f),
        // ---- OpenConfirm
        case(OpenConfirm, 0, Input::AutomaticStart, OpenConfirm, &[], f, f, f),
        case(OpenConfirm, 0, Input::ManualStop(StopReason::AdminReset { message: None }), Idle, &["N 6/4"], f, t, f),
        case(OpenConfirm, 90, Input::TimerExpired(TimerKind::Hold), Idle, &["N 4/0"], f, t, f),
        case(OpenConfirm, 30, Input::TimerExpired(TimerKind::Keepalive), OpenConfirm, &["KEEPALIVE"], f, f, f),
        case(OpenConfirm, 0, Input::TimerExpired(TimerKind::ConnectRetry), OpenConfirm, &[], f, f, f),
        case(OpenConfirm, 0, Input::TcpConnected(Remote), OpenConfirm, &[], f, f, f),
        case(OpenConfirm, 0, Input::TcpConnectionFails, Idle, &[], f, f, f),
        case(OpenConfirm, 0, Input::Received(Message::Notification(notif(2, 1))), Idle, &[], f, t, f),
        case(OpenConfirm, 0, Input::Received(Message::Keepalive), Established, &[], f, f, f),
        case(OpenConfirm, 0, Input::Received(Message::Open(peer_open(90))), Idle, &["N 5/2"], f, t, f),
        case(OpenConfirm, 0, Input::Received(Message::Update(update())), Idle, &["N 5/2"], f, t, f),
        case(OpenConfirm, 0, Input::Received(Message::RouteRefresh(rr(0))), Idle, &["N 5/2"], f, t, f),
        case(OpenConfirm, 0, Input::DecodeError(decode_error(1, 1)), Idle, &["N 1/1"], f, t, f),
        case(OpenConfirm, 0, Input::OpenCollisionDump, Idle, &["N 6/7"], f, t, f),
        // ---- Established
        case(Established, 0, Input::ManualStart, Established, &[], f, f, f),
        case(Established, 0, Input::ManualStop(shutdown()), Idle, &["N 6/2"], f, t, f),
        case(Established, 0, Input::ManualStop(StopReason::OtherConfigChange), Idle, &["N 6/6"], f, t, f),
        case(Established, 90, Input::TimerExpired(TimerKind::Hold), Idle, &["N 4/0"], f, t, f),
        case(Established, 30, Input::TimerExpired(TimerKind::Keepalive), Established, &["KEEPALIVE"], f, f, f),
        case(Established, 0, Input::TimerExpired(TimerKind::IdleHold), Established, &[], f, f, f),
        case(Established, 0, Input::TcpConnected(Remote), Established, &[], f, f, f),
        case(Established, 0, Input::TcpConnectionFails, Idle, &[], f, f, f),
        case(Established, 0, Input::Received(Message::Notification(notif(6, 4))), Idle, &[], f, t, f),
        case(Established, 0, Input::Received(Message::Keepalive), Established, &[], f, f, f),
        case(Established, 0, Input::Received(Message::Update(update())), Established, &[], f, f, t),
        case(Established, 0, Input::Received(Message::RouteRefresh(rr(0))), Established, &[], f, f, t),
        case(Established, 0, Input::Received(Message::RouteRefresh(rr(1))), Established, &[], f, f, t),
        case(Established, 0, Input::Received(Message::RouteRefresh(rr(7))), Established, &[], f, f, f),
        case(Established, 0, Input::Received(Message::Open(peer_open(90))), Idle, &["N 5/3"], f, t, f),
        case(Established, 0, Input::Received(Message::Update(malformed_update())), Idle, &["N 3/1"], f, t, f),
        case(Established, 0, Input::Received(Message::Update(withdraw_update())), Established, &[], f, f, t),
        case(Established, 0, Input::DecodeError(decode_error(1, 3)), Idle, &["N 1/3"], f, t, f),
        case(Established, 0, Input::OpenCollisionDump, Idle, &["N 6/7"], f, t, f),
    ]
}

#[test]
fn transition_table() {
    let cases = cases();
    let mut failures = Vec::new();
    for c in cases {
        let mut h = H::at(c.from);
        h.advance(c.secs);
        let desc = format!("{:?} +{}s {:?}", c.from, c.secs, c.input);
        let outs = h.feed(c.input);
        let got = effect(&h, &outs);
        let want = Effect {
            to: c.to,
            sent: c.sent.iter().map(|s| s.to_string()).collect(),
            connect: c.connect,
            disconnect: c.disconnect,
            delivered: c.delivered,
        };
        if got != want {
            failures.push(format!(
                "{desc}\n  want {want:?}\n  got  {got:?}\n  outs {outs:?}"
            ));
        }
        // Invariants of every step: a state change is reported exactly when it happened,
        // and entering Idle stops every timer except a pending restart.
        let changes: Vec<_> = outs
            .iter()
            .filter(|o| matches!(o, Output::StateChange { .. }))
            .collect();
        assert_eq!(
            changes.len(),
            usize::from(c.from != c.to),
            "{desc}: {outs:?}"
        );
        if c.to == State::Idle && c.from != State::Idle {
            for k in [
                TimerKind::ConnectRetry,
                TimerKind::Hold,
                TimerKind::Keepalive,
            ] {
                assert!(
                    timer_started(&outs, k).is_none(),
                    "{desc}: {k:?} left running"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn manual_start_exact_actions() {
    let mut h = H::new(cfg());
    let outs = h.feed(Input::ManualStart);
    assert_eq!(outs.len(), 3, "{outs:?}");
    assert!(
        matches!(outs[0], Output::StartTimer(TimerKind::ConnectRetry, d) if d >= Duration::from_millis(750) && d <= Duration::from_millis(1250))
    );
    assert_eq!(outs[1], Output::Connect);
    assert_eq!(
        outs[2],
        Output::StateChange {
            from: State::Idle,
            to: State::Connect
        }
    );
}

#[test]
fn tcp_up_sends_our_open_under_the_large_hold_timer() {
    let mut h = H::at(State::Connect);
    let outs = h.feed(Input::TcpConnected(Initiator::Local));
    assert_eq!(outs[0], Output::StopTimer(TimerKind::ConnectRetry));
    assert_eq!(outs[1], Output::Send(Message::Open(build_open(&cfg()))));
    assert_eq!(
        outs[2],
        Output::StartTimer(TimerKind::Hold, Duration::from_secs(240))
    );
    assert_eq!(h.s.initiator(), Some(Initiator::Local));
}

#[test]
fn open_accepted_sets_negotiated_timers_and_codec() {
    let mut h = H::at(State::OpenSent);
    let outs = h.feed(Input::Received(Message::Open(peer_open_with(
        65002,
        30,
        THEM,
        vec![Capability::ExtendedMessage],
    ))));
    assert_eq!(outs[0], Output::Send(Message::Keepalive));
    assert_eq!(
        outs[1],
        Output::SetCodec(DecodeOptions {
            four_octet_as: true,
            extended_message: true
        })
    );
    assert_eq!(
        timer_started(&outs, TimerKind::Hold),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        timer_started(&outs, TimerKind::Keepalive),
        Some(Duration::from_secs(10))
    );
    assert_eq!(h.s.remote_id(), Some(THEM));
    let outs = h.feed(Input::Received(Message::Keepalive));
    let est = outs.iter().find_map(|o| match o {
        Output::Established(n) => Some(n),
        _ => None,
    });
    let n = est.expect("Established output");
    assert_eq!((n.peer_as, n.hold_time, n.keepalive), (65002, 30, 10));
    assert_eq!(n.families, vec![EVPN]);
}

#[test]
fn hold_time_zero_means_no_hold_timer_and_no_keepalives() {
    let mut h = H::at(State::OpenSent);
    let outs = h.feed(Input::Received(Message::Open(peer_open(0))));
    assert!(
        outs.contains(&Output::StopTimer(TimerKind::Hold)),
        "{outs:?}"
    );
    assert_eq!(timer_started(&outs, TimerKind::Hold), None);
    assert_eq!(timer_started(&outs, TimerKind::Keepalive), None);
    h.feed(Input::Received(Message::Keepalive));
    assert_eq!(h.s.state(), State::Established);
    // Hours of silence: the timers were never armed, so expiries are stale and ignored.
    h.advance(3600 * 5);
    assert!(h.feed(Input::TimerExpired(TimerKind::Hold)).is_empty());
    assert!(h.feed(Input::TimerExpired(TimerKind::Keepalive)).is_empty());
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn hold_timer_is_restarted_by_every_message() {
    let mut h = H::at(State::Established); // hold 90, last heard at t0
    h.advance(60);
    h.feed(Input::Received(Message::Keepalive));
    h.advance(30); // t0+90: only 30 s since the peer spoke
    let outs = h.feed(Input::TimerExpired(TimerKind::Hold));
    assert_eq!(
        outs,
        vec![Output::StartTimer(TimerKind::Hold, Duration::from_secs(60))]
    );
    h.advance(50);
    h.feed(Input::Received(Message::Update(update())));
    h.advance(10); // the re-armed timer fires: 10 s since the UPDATE
    let outs = h.feed(Input::TimerExpired(TimerKind::Hold));
    assert_eq!(
        outs,
        vec![Output::StartTimer(TimerKind::Hold, Duration::from_secs(80))]
    );
    h.advance(80);
    let outs = h.feed(Input::TimerExpired(TimerKind::Hold));
    assert_eq!(
        sent_notification(&outs),
        Some(&Notification::hold_timer_expired())
    );
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn keepalive_every_third_of_hold_unless_updates_went_out() {
    let mut h = H::at(State::Established); // keepalive 30 s
    h.advance(30);
    let outs = h.feed(Input::TimerExpired(TimerKind::Keepalive));
    assert_eq!(
        outs,
        vec![
            Output::Send(Message::Keepalive),
            Output::StartTimer(TimerKind::Keepalive, Duration::from_secs(30))
        ]
    );
    h.advance(20);
    h.feed(Input::UpdatesSent { count: 3 });
    h.advance(10);
    // An UPDATE left 10 s ago: no KEEPALIVE, fire again 20 s later.
    let outs = h.feed(Input::TimerExpired(TimerKind::Keepalive));
    assert_eq!(
        outs,
        vec![Output::StartTimer(
            TimerKind::Keepalive,
            Duration::from_secs(20)
        )]
    );
    assert_eq!(h.s.counters().updates.sent, 3);
    // The reply to their OPEN, then one tick; the suppressed tick sent nothing.
    assert_eq!(h.s.counters().keepalives.sent, 2);
}

#[test]
fn stale_timer_expiries_are_ignored() {
    let mut h = H::at(State::Connect);
    h.feed(Input::TcpConnected(Initiator::Local)); // stops ConnectRetry
    assert!(h
        .feed(Input::TimerExpired(TimerKind::ConnectRetry))
        .is_empty());
    assert_eq!(h.s.state(), State::OpenSent);
}

#[test]
fn connect_retry_backs_off_with_bounded_jitter_and_replays_per_seed() {
    let run = |seed: u64| {
        let mut s = Session::new(cfg(), seed, Instant::now()).unwrap();
        let mut now = Instant::now();
        let mut ds =
            vec![
                timer_started(&s.process(now, Input::ManualStart), TimerKind::ConnectRetry)
                    .unwrap(),
            ];
        for _ in 0..9 {
            now += *ds.last().unwrap();
            let outs = s.process(now, Input::TimerExpired(TimerKind::ConnectRetry));
            assert!(outs.contains(&Output::Connect));
            assert!(outs.contains(&Output::Disconnect));
            ds.push(timer_started(&outs, TimerKind::ConnectRetry).unwrap());
        }
        assert_eq!(s.counters().connect_retries, 9);
        ds
    };
    let a = run(1);
    for (d, base) in a.iter().zip([1u64, 2, 4, 8, 16, 32, 64, 120, 120, 120]) {
        assert!(
            *d >= Duration::from_millis(base * 750) && *d <= Duration::from_millis(base * 1250),
            "{d:?} for base {base}"
        );
    }
    assert_eq!(a, run(1), "same seed, same timers");
    assert_ne!(a, run(2), "different seed, different jitter");
}

#[test]
fn idle_hold_damping_grows_on_repeated_failures_and_resets_after_stability() {
    let mut h = H::new(cfg());
    h.feed(Input::ManualStart);
    let mut bases = Vec::new();
    for _ in 0..5 {
        let outs = h.feed(Input::TcpConnectionFails);
        assert_eq!(h.s.state(), State::Idle);
        let d = timer_started(&outs, TimerKind::IdleHold).expect("automatic restart scheduled");
        bases.push(d);
        h.advance(d.as_secs() + 1);
        let outs = h.feed(Input::TimerExpired(TimerKind::IdleHold));
        assert!(
            outs.contains(&Output::Connect),
            "restart connects: {outs:?}"
        );
    }
    for (d, base) in bases.iter().zip([1u64, 2, 4, 8, 16]) {
        assert!(
            *d >= Duration::from_millis(base * 750) && *d <= Duration::from_millis(base * 1250)
        );
    }
    // Up for 2 minutes (> stable_after 60 s), then a drop: back to the minimum.
    h.feed(Input::TcpConnected(Initiator::Local));
    h.feed(Input::Received(Message::Open(peer_open(90))));
    h.feed(Input::Received(Message::Keepalive));
    h.advance(120);
    h.feed(Input::Received(Message::Keepalive));
    let outs = h.feed(Input::TcpConnectionFails);
    let d = timer_started(&outs, TimerKind::IdleHold).unwrap();
    assert!(d <= Duration::from_millis(1250), "{d:?}");
}

#[test]
fn passive_peer_never_connects() {
    let mut c = cfg();
    c.passive = true;
    let mut h = H::new(c);
    let mut all = Vec::new();
    all.extend(h.feed(Input::ManualStart));
    assert_eq!(h.s.state(), State::Active);
    for _ in 0..4 {
        // Whatever happens, it waits: failures, restarts, every timer the FSM armed.
        all.extend(h.feed(Input::TcpConnected(Initiator::Remote)));
        all.extend(h.feed(Input::TcpConnectionFails));
        h.advance(300);
        for k in TimerKind::ALL {
            all.extend(h.feed(Input::TimerExpired(k)));
        }
        all.extend(h.feed(Input::AutomaticStart));
    }
    assert!(!all.contains(&Output::Connect), "{all:?}");
    assert!(timer_started(&all, TimerKind::ConnectRetry).is_none());
    assert!(h.s.counters().opens.sent >= 4, "it did accept connections");
}

#[test]
fn passive_start_of_an_active_peer_connects_after_connect_retry() {
    let mut h = H::new(cfg());
    let outs = h.feed(Input::ManualStartPassive);
    assert!(!outs.contains(&Output::Connect));
    let d = timer_started(&outs, TimerKind::ConnectRetry).unwrap();
    h.now += d;
    let outs = h.feed(Input::TimerExpired(TimerKind::ConnectRetry));
    assert!(outs.contains(&Output::Connect));
    assert_eq!(h.s.state(), State::Connect);
}

#[test]
fn admin_shutdown_carries_message_and_stays_down() {
    let mut h = H::at(State::Established);
    let outs = h.feed(Input::ManualStop(StopReason::AdminShutdown {
        message: Some("maintenance".into()),
    }));
    let n = sent_notification(&outs).unwrap();
    assert_eq!((n.code, n.subcode), (6, 2));
    assert_eq!(n.data, b"\x0bmaintenance".to_vec());
    assert!(timer_started(&outs, TimerKind::IdleHold).is_none());
    assert!(outs.iter().any(|o| matches!(
        o,
        Output::Down {
            retain_routes: false,
            ..
        }
    )));
    let rec = h.s.counters().last_notification_sent.clone().unwrap();
    assert_eq!(rec.text, "Cease / Administrative Shutdown: \"maintenance\"");
}

#[test]
fn admin_reset_restarts_by_itself() {
    let mut h = H::at(State::Established);
    let outs = h.feed(Input::ManualStop(StopReason::AdminReset { message: None }));
    assert_eq!(
        timer_started(&outs, TimerKind::IdleHold),
        Some(Duration::from_secs(1))
    );
    h.advance(1);
    let outs = h.feed(Input::TimerExpired(TimerKind::IdleHold));
    assert!(outs.contains(&Output::Connect));
}

#[test]
fn manual_stop_in_idle_cancels_pending_restart() {
    let mut h = H::at(State::Connect);
    h.feed(Input::TcpConnectionFails);
    let outs = h.feed(Input::ManualStop(StopReason::AdminShutdown {
        message: None,
    }));
    assert!(outs.contains(&Output::StopTimer(TimerKind::IdleHold)));
    assert!(h.feed(Input::TimerExpired(TimerKind::IdleHold)).is_empty());
    assert_eq!(h.s.state(), State::Idle);
}

fn max_prefix_cfg(action: MaxPrefixAction) -> PeerConfig {
    let mut c = cfg();
    c.max_prefix = vec![MaxPrefix {
        family: EVPN,
        limit: 100,
        warning_threshold_pct: 75,
        action,
    }];
    c
}

fn warnings(outs: &[Output]) -> usize {
    outs.iter()
        .filter(|o| {
            matches!(
                o,
                Output::Log {
                    level: LogLevel::Warn,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn max_prefix_warning_only() {
    let mut h = H::at_with(
        max_prefix_cfg(MaxPrefixAction::WarningOnly),
        peer_open(90),
        State::Established,
    );
    let pc = |count| Input::PrefixCount {
        family: EVPN,
        count,
    };
    assert_eq!(warnings(&h.feed(pc(70))), 0);
    assert_eq!(warnings(&h.feed(pc(80))), 1, "threshold crossed");
    assert_eq!(warnings(&h.feed(pc(90))), 0, "warned once");
    assert_eq!(warnings(&h.feed(pc(101))), 1, "limit exceeded");
    let outs = h.feed(pc(150));
    assert_eq!(warnings(&outs), 0);
    assert!(sent_notification(&outs).is_none());
    assert_eq!(h.s.state(), State::Established);
    // Another family is not limited.
    assert!(h
        .feed(Input::PrefixCount {
            family: AfiSafi::IPV4_UNICAST,
            count: 1_000_000
        })
        .is_empty());
}

#[test]
fn max_prefix_teardown_with_and_without_restart() {
    let mut h = H::at_with(
        max_prefix_cfg(MaxPrefixAction::Teardown {
            restart_secs: Some(30),
        }),
        peer_open(90),
        State::Established,
    );
    assert!(h
        .feed(Input::PrefixCount {
            family: EVPN,
            count: 100
        })
        .iter()
        .all(|o| !matches!(o, Output::Send(_))));
    let outs = h.feed(Input::PrefixCount {
        family: EVPN,
        count: 101,
    });
    let n = sent_notification(&outs).unwrap();
    assert_eq!(
        (n.code, n.subcode, n.data.clone()),
        (6, 1, vec![0, 25, 70, 0, 0, 0, 100])
    );
    assert_eq!(h.s.state(), State::Idle);
    assert_eq!(
        timer_started(&outs, TimerKind::IdleHold),
        Some(Duration::from_secs(30))
    );
    h.advance(30);
    assert!(h
        .feed(Input::TimerExpired(TimerKind::IdleHold))
        .contains(&Output::Connect));

    let mut h = H::at_with(
        max_prefix_cfg(MaxPrefixAction::Teardown { restart_secs: None }),
        peer_open(90),
        State::Established,
    );
    let outs = h.feed(Input::PrefixCount {
        family: EVPN,
        count: 500,
    });
    assert!(sent_notification(&outs).is_some());
    assert!(
        timer_started(&outs, TimerKind::IdleHold).is_none(),
        "stays down until a manual start"
    );
}

fn gr_cfg(n_bit: bool) -> PeerConfig {
    let mut c = cfg();
    c.graceful_restart = Some(GracefulRestartConfig {
        restart_time: 120,
        restarting: false,
        notification: n_bit,
        preserved: vec![EVPN],
    });
    c
}

fn gr_peer(n_bit: bool) -> Open {
    peer_open_with(
        65002,
        90,
        THEM,
        vec![Capability::GracefulRestart(GracefulRestart {
            restart_flags: if n_bit { GR_NOTIFICATION } else { 0 },
            restart_time: 120,
            families: vec![GracefulRestartFamily {
                family: EVPN,
                flags: GR_FORWARDING_PRESERVED,
            }],
        })],
    )
}

fn retained(outs: &[Output]) -> Option<bool> {
    outs.iter().find_map(|o| match o {
        Output::Down { retain_routes, .. } => Some(*retain_routes),
        _ => None,
    })
}

#[test]
fn graceful_restart_route_retention() {
    let est = |n_bit| H::at_with(gr_cfg(n_bit), gr_peer(n_bit), State::Established);
    // TCP reset: routes kept as stale.
    assert_eq!(
        retained(&est(false).feed(Input::TcpConnectionFails)),
        Some(true)
    );
    // Hold timer expiry without N-bit: a NOTIFICATION was sent, GR ends.
    let mut h = est(false);
    h.advance(90);
    assert_eq!(
        retained(&h.feed(Input::TimerExpired(TimerKind::Hold))),
        Some(false)
    );
    // With the N-bit (RFC 8538) a hold expiry or a received Cease keeps routes ...
    let mut h = est(true);
    h.advance(90);
    assert_eq!(
        retained(&h.feed(Input::TimerExpired(TimerKind::Hold))),
        Some(true)
    );
    let outs = est(true).feed(Input::Received(Message::Notification(notif(6, 6))));
    assert_eq!(retained(&outs), Some(true));
    // ... but not a Hard Reset.
    let outs = est(true).feed(Input::Received(Message::Notification(Notification {
        code: 6,
        subcode: 9,
        data: vec![6, 4],
    })));
    assert_eq!(retained(&outs), Some(false));
    // Without GR from the peer nothing is retained.
    assert_eq!(
        retained(&H::at(State::Established).feed(Input::TcpConnectionFails)),
        Some(false)
    );
}

#[test]
fn n_bit_wraps_admin_cease_in_hard_reset() {
    let mut h = H::at_with(gr_cfg(true), gr_peer(true), State::Established);
    let outs = h.feed(Input::ManualStop(StopReason::AdminReset { message: None }));
    let n = sent_notification(&outs).unwrap();
    assert_eq!((n.code, n.subcode, n.data.clone()), (6, 9, vec![6, 4]));
    assert_eq!(retained(&outs), Some(false));
    // Out of resources is not wrapped (RFC 8538 section 5: graceful).
    let mut h = H::at_with(gr_cfg(true), gr_peer(true), State::Established);
    let outs = h.feed(Input::ManualStop(StopReason::OutOfResources));
    let n = sent_notification(&outs).unwrap();
    assert_eq!((n.code, n.subcode), (6, 8));
    assert_eq!(retained(&outs), Some(true));
}

#[test]
fn route_refresh_out_only_when_negotiated() {
    let mut h = H::at(State::Established);
    let outs = h.feed(Input::SendRouteRefresh(rr(0)));
    assert_eq!(outs, vec![Output::Send(Message::RouteRefresh(rr(0)))]);
    assert_eq!(h.s.counters().route_refreshes.sent, 1);
    // AfiSafi not negotiated.
    let outs = h.feed(Input::SendRouteRefresh(RouteRefresh {
        family: AfiSafi::IPV6_UNICAST,
        subtype: RouteRefreshSubtype::Normal,
    }));
    assert!(!outs.iter().any(|o| matches!(o, Output::Send(_))));
    // Peer without route refresh: refused.
    let mut plain = peer_open(90);
    caps_mut(&mut plain).retain(|c| {
        !matches!(
            c,
            Capability::RouteRefresh | Capability::EnhancedRouteRefresh
        )
    });
    let mut h = H::at_with(cfg(), plain, State::Established);
    assert!(!h
        .feed(Input::SendRouteRefresh(rr(0)))
        .iter()
        .any(|o| matches!(o, Output::Send(_))));
    // Not established: refused.
    let mut h = H::at(State::OpenConfirm);
    assert!(!h
        .feed(Input::SendRouteRefresh(rr(0)))
        .iter()
        .any(|o| matches!(o, Output::Send(_))));
}

/// Both speakers connect at once: the daemon holds two sessions for the peer; once both
/// have the peer's OPEN it resolves, and the loser sends Cease 6/7 and stays down.
fn collision_case(local_id: Ipv4Addr, remote_id: Ipv4Addr) -> (Initiator, Notification) {
    let mut c = cfg();
    c.router_id = local_id;
    let mut out_conn = H::at_with(
        c.clone(),
        peer_open_with(65002, 90, remote_id, vec![]),
        State::OpenConfirm,
    );
    let mut in_conn = H::new(c);
    in_conn.feed(Input::ManualStartPassive);
    in_conn.feed(Input::TcpConnected(Initiator::Remote));
    in_conn.feed(Input::Received(Message::Open(peer_open_with(
        65002,
        90,
        remote_id,
        vec![],
    ))));
    assert_eq!(in_conn.s.state(), State::OpenConfirm);
    let existing = Connection {
        initiator: out_conn.s.initiator().unwrap(),
        state: out_conn.s.state(),
    };
    let new = Connection {
        initiator: in_conn.s.initiator().unwrap(),
        state: in_conn.s.state(),
    };
    let res = collision::resolve(existing, new, local_id, 65001, in_conn.s.remote_id(), 65002);
    let (loser, winner) = match res {
        Resolution::CloseExisting => (&mut out_conn, &mut in_conn),
        Resolution::CloseNew => (&mut in_conn, &mut out_conn),
        Resolution::None => panic!("collision not detected"),
    };
    let outs = loser.feed(Input::OpenCollisionDump);
    assert_eq!(loser.s.state(), State::Idle);
    assert!(outs.contains(&Output::Disconnect));
    assert!(
        timer_started(&outs, TimerKind::IdleHold).is_none(),
        "loser does not restart"
    );
    winner.feed(Input::Received(Message::Keepalive));
    assert_eq!(winner.s.state(), State::Established);
    (
        winner.s.initiator().unwrap(),
        sent_notification(&outs).unwrap().clone(),
    )
}

#[test]
fn collision_resolution_both_ways() {
    let (kept, n) = collision_case(THEM, US); // we have the higher id (10.0.0.2 > 10.0.0.1)
    assert_eq!(kept, Initiator::Local);
    assert_eq!((n.code, n.subcode), (6, 7));
    let (kept, n) = collision_case(US, THEM); // we have the lower id
    assert_eq!(kept, Initiator::Remote);
    assert_eq!((n.code, n.subcode), (6, 7));
}

#[test]
fn counters_and_status_serialize_like_show_neighbor() {
    let mut h = H::at(State::Established);
    h.advance(5);
    h.feed(Input::Received(Message::Update(update())));
    h.feed(Input::Received(Message::Update(update())));
    h.advance(10);
    let st = h.s.status(h.now);
    assert_eq!(st.state, State::Established);
    assert_eq!(st.uptime_secs, Some(15));
    assert_eq!(st.last_read_secs, Some(10));
    assert_eq!(st.counters.updates.received, 2);
    assert_eq!(st.counters.opens.sent, 1);
    assert_eq!(st.counters.opens.received, 1);
    assert_eq!(st.counters.established, 1);
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["state"], "Established");
    assert_eq!(json["counters"]["updates"]["received"], 2);
    assert_eq!(json["negotiated"]["peer_as"], 65002);

    h.feed(Input::Received(Message::Notification(Notification {
        code: 6,
        subcode: 2,
        data: b"\x03bye".to_vec(),
    })));
    let st = h.s.status(h.now);
    assert_eq!(st.state, State::Idle);
    assert_eq!(st.uptime_secs, None);
    assert_eq!(st.counters.dropped, 1);
    let rec = st.counters.last_notification_received.unwrap();
    assert_eq!(
        (rec.code, rec.subcode, rec.data.as_str()),
        (6, 2, "03627965")
    );
    assert_eq!(rec.text, "Cease / Administrative Shutdown: \"bye\"");
    assert!(st
        .counters
        .last_error
        .unwrap()
        .contains("NOTIFICATION received"));
}

#[test]
fn invalid_config_is_refused() {
    let mut c = cfg();
    c.timers.hold_time = 2;
    assert!(Session::new(c, 0, Instant::now()).is_err());
    let mut c = cfg();
    c.router_id = Ipv4Addr::UNSPECIFIED;
    assert!(Session::new(c, 0, Instant::now()).is_err());
}

/// The NOTIFICATIONs the FSM originates, as bytes on the wire (codec encode), and read
/// back by the codec the way the peer would.
#[test]
fn notifications_on_the_wire() {
    let wire = |outs: &[Output]| -> Vec<u8> {
        let n = sent_notification(outs).expect("a NOTIFICATION").clone();
        let bytes = Message::Notification(n.clone())
            .to_bytes(&DecodeOptions::default())
            .expect("encodes")
            .to_vec();
        assert_eq!(decode(&bytes), Ok(Message::Notification(n)));
        assert_eq!(bytes[..16], MARKER);
        assert_eq!(
            usize::from(u16::from_be_bytes([bytes[16], bytes[17]])),
            bytes.len()
        );
        assert_eq!(bytes[18], 3, "type NOTIFICATION");
        bytes[19..].to_vec()
    };
    // Hold timer expired in Established: 4/0, no data.
    let mut h = H::at(State::Established);
    h.advance(90);
    assert_eq!(wire(&h.feed(Input::TimerExpired(TimerKind::Hold))), [4, 0]);
    // Unexpected KEEPALIVE in OpenSent: 5/1.
    assert_eq!(
        wire(&H::at(State::OpenSent).feed(Input::Received(Message::Keepalive))),
        [5, 1]
    );
    // Admin shutdown with an RFC 9003 message.
    let outs = H::at(State::Established).feed(Input::ManualStop(StopReason::AdminShutdown {
        message: Some("bye".into()),
    }));
    assert_eq!(wire(&outs), [6, 2, 3, b'b', b'y', b'e']);
    // Max prefix: AFI 25, SAFI 70, limit 100.
    let mut h = H::at_with(
        max_prefix_cfg(MaxPrefixAction::Teardown { restart_secs: None }),
        peer_open(90),
        State::Established,
    );
    let outs = h.feed(Input::PrefixCount {
        family: EVPN,
        count: 101,
    });
    assert_eq!(wire(&outs), [6, 1, 0, 25, 0x46, 0, 0, 0, 100]);
    let n = sent_notification(&outs).unwrap();
    assert_eq!(n.max_prefixes(), Some((EVPN, 100)));
    assert_eq!(ErrorCode::from_u8(n.code), Some(ErrorCode::Cease));
    // Bad peer AS: 2/2 with the My AS field received.
    let outs = H::at(State::OpenSent).feed(Input::Received(Message::Open(peer_open_with(
        65003,
        90,
        THEM,
        vec![],
    ))));
    assert_eq!(wire(&outs), [2, 2, 0xfd, 0xeb]);
}

/// Two sessions wired back to back through the codec: every message one sends is encoded,
/// decoded with the options the other asked for, and fed to the other, until both are
/// Established; then a KEEPALIVE tick and a shutdown travel the same way.
#[test]
fn two_sessions_reach_established_over_encoded_bytes() {
    let mut a_cfg = cfg();
    a_cfg.hostname = Some("leaf1".into());
    let mut b_cfg = PeerConfig::new(
        65002,
        RemoteAs::Asn(65001),
        THEM,
        vec![EVPN, AfiSafi::IPV4_UNICAST],
    );
    b_cfg.timers.hold_time = 30;
    b_cfg.extended_message = false;
    let mut a = H::new(a_cfg);
    let mut b = H::new(b_cfg);
    let mut opts = [DecodeOptions::default(); 2];

    /// Deliver `outs` of side `from` to the other side; return what that produced.
    fn carry(
        outs: Vec<Output>,
        to: &mut H,
        to_opts: &mut DecodeOptions,
        from_opts: &mut DecodeOptions,
    ) -> Vec<Output> {
        let mut produced = Vec::new();
        for o in outs {
            match o {
                Output::Send(m) => {
                    let bytes = m.to_bytes(from_opts).expect("encodes");
                    let m2 = Message::decode(&bytes, to_opts).expect("decodes");
                    assert_eq!(m2, m);
                    produced.extend(to.feed(Input::Received(m2)));
                }
                Output::SetCodec(o) => *from_opts = o,
                _ => {}
            }
        }
        produced
    }

    let a_out = a.feed(Input::ManualStart);
    assert!(a_out.contains(&Output::Connect));
    b.feed(Input::ManualStartPassive);
    // The daemon's TCP connect succeeds on both ends.
    let mut a_out = a.feed(Input::TcpConnected(Initiator::Local));
    let mut b_out = b.feed(Input::TcpConnected(Initiator::Remote));
    for _ in 0..4 {
        let (oa, ob) = opts.split_at_mut(1);
        let to_b = carry(std::mem::take(&mut a_out), &mut b, &mut ob[0], &mut oa[0]);
        let to_a = carry(std::mem::take(&mut b_out), &mut a, &mut oa[0], &mut ob[0]);
        b_out = to_b;
        a_out = to_a;
    }
    assert_eq!(
        (a.s.state(), b.s.state()),
        (State::Established, State::Established)
    );
    let na = a.s.negotiated().unwrap().clone();
    let nb = b.s.negotiated().unwrap().clone();
    assert_eq!((na.peer_as, nb.peer_as), (65002, 65001));
    assert_eq!((na.hold_time, nb.hold_time), (30, 30));
    assert_eq!(na.families, vec![EVPN]);
    assert!(!na.extended_message && !nb.extended_message);
    assert_eq!(nb.peer_hostname.as_deref(), Some("leaf1"));
    assert_eq!(
        opts[0],
        DecodeOptions {
            four_octet_as: true,
            extended_message: false
        }
    );

    // A shuts the session down; B reads the Cease and goes Idle too.
    let outs = a.feed(Input::ManualStop(StopReason::AdminShutdown {
        message: Some("maint".into()),
    }));
    let (oa, ob) = opts.split_at_mut(1);
    carry(outs, &mut b, &mut ob[0], &mut oa[0]);
    assert_eq!((a.s.state(), b.s.state()), (State::Idle, State::Idle));
    let rec = b.s.counters().last_notification_received.clone().unwrap();
    assert_eq!(rec.text, "Cease / Administrative Shutdown: \"maint\"");
}

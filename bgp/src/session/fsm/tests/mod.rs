//! Sans-IO tests of the FSM: shared fixtures here; `table` holds the state x event cases
//! of RFC 4271 section 8.2.2, `timers` the timer/backoff/passive cases, `features` stop
//! reasons, max-prefix, GR, route refresh and counters, `wire` the byte-level and
//! two-session cases (collision included).

mod features;
mod prop;
mod table;
mod timers;
mod wire;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::*;
use crate::packet::capability::{GracefulRestart, GracefulRestartFamily};
use crate::packet::message::MARKER;
use crate::packet::notification::ErrorCode;
use crate::packet::open::OptionalParameter;
use crate::packet::Capability;
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
        Output::Down { stale, .. } => {
            if let Some(st) = stale {
                assert_eq!(st.restart_time, Duration::from_secs(120));
                assert_eq!(st.families, vec![EVPN]);
            }
            Some(stale.is_some())
        }
        _ => None,
    })
}

//! Exact actions of the main transitions, timers, backoff and passive peers.

use std::time::{Duration, Instant};

use super::*;

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

fn delay_open_cfg() -> PeerConfig {
    let mut c = cfg();
    c.timers.delay_open = Some(5);
    c
}

fn sends(outs: &[Output]) -> Vec<&'static str> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(m) => Some(message_name(m)),
            _ => None,
        })
        .collect()
}

#[test]
fn delay_open_sends_our_open_when_the_timer_expires() {
    let mut h = H::at_with(delay_open_cfg(), peer_open(90), State::Connect);
    let outs = h.feed(Input::TcpConnected(Initiator::Local));
    assert!(sends(&outs).is_empty(), "{outs:?}");
    assert_eq!(
        timer_started(&outs, TimerKind::DelayOpen),
        Some(Duration::from_secs(5))
    );
    assert_eq!(h.s.state(), State::Connect);
    h.advance(5);
    let outs = h.feed(Input::TimerExpired(TimerKind::DelayOpen));
    assert_eq!(sends(&outs), ["OPEN"]);
    assert_eq!(
        timer_started(&outs, TimerKind::Hold),
        Some(Duration::from_secs(240))
    );
    assert_eq!(h.s.state(), State::OpenSent);
}

#[test]
fn delay_open_peer_open_first_goes_straight_to_openconfirm() {
    let mut h = H::at_with(delay_open_cfg(), peer_open(90), State::Active);
    h.feed(Input::TcpConnected(Initiator::Remote));
    assert_eq!(h.s.state(), State::Active);
    let outs = h.feed(Input::Received(Message::Open(peer_open(30))));
    assert_eq!(sends(&outs), ["OPEN", "KEEPALIVE"]);
    assert!(outs.contains(&Output::StopTimer(TimerKind::DelayOpen)));
    assert_eq!(
        timer_started(&outs, TimerKind::Hold),
        Some(Duration::from_secs(30))
    );
    assert_eq!(h.s.state(), State::OpenConfirm);
    h.feed(Input::Received(Message::Keepalive));
    assert_eq!(h.s.state(), State::Established);
    // A bad OPEN during the delay: our OPEN, then the NOTIFICATION, then Idle.
    let mut h = H::at_with(delay_open_cfg(), peer_open(90), State::Connect);
    h.feed(Input::TcpConnected(Initiator::Local));
    let outs = h.feed(Input::Received(Message::Open(peer_open_with(
        65009,
        90,
        THEM,
        vec![],
    ))));
    assert_eq!(sends(&outs), ["OPEN", "NOTIFICATION"]);
    assert_eq!(
        sent_notification(&outs).map(|n| (n.code, n.subcode)),
        Some((2, 2))
    );
    assert_eq!(h.s.state(), State::Idle);
}

#[test]
fn delay_open_tcp_failure_and_unexpected_messages() {
    // Connect: the connection drops during the delay -> Active, retry timer restarted.
    let mut h = H::at_with(delay_open_cfg(), peer_open(90), State::Connect);
    h.feed(Input::TcpConnected(Initiator::Local));
    let outs = h.feed(Input::TcpConnectionFails);
    assert!(outs.contains(&Output::StopTimer(TimerKind::DelayOpen)));
    assert!(timer_started(&outs, TimerKind::ConnectRetry).is_some());
    assert_eq!(h.s.state(), State::Active);
    // Active: a KEEPALIVE before any OPEN -> Idle, closed without NOTIFICATION.
    let mut h = H::at_with(delay_open_cfg(), peer_open(90), State::Active);
    h.feed(Input::TcpConnected(Initiator::Remote));
    let outs = h.feed(Input::Received(Message::Keepalive));
    assert!(sends(&outs).is_empty());
    assert!(outs.contains(&Output::Disconnect));
    assert!(outs.contains(&Output::StopTimer(TimerKind::DelayOpen)));
    assert_eq!(h.s.state(), State::Idle);
    // Without delay-open the DelayOpen timer never runs, so its expiry is stale.
    let mut h = H::at(State::Connect);
    assert!(h.feed(Input::TimerExpired(TimerKind::DelayOpen)).is_empty());
}

#[test]
fn peer_connecting_during_damping_is_accepted_not_refused_until_backoff_ends() {
    let mut h = H::new(cfg());
    h.feed(Input::ManualStart);
    // The peer is down: our connects fail and the automatic restart backs off.
    let mut hold = Duration::ZERO;
    for _ in 0..4 {
        let outs = h.feed(Input::TcpConnectionFails);
        hold = timer_started(&outs, TimerKind::IdleHold).expect("restart scheduled");
        h.advance(hold.as_secs() + 1);
        h.feed(Input::TimerExpired(TimerKind::IdleHold));
    }
    h.feed(Input::TcpConnectionFails);
    assert_eq!(h.s.state(), State::Idle);
    assert!(hold >= Duration::from_secs(6), "backed off: {hold:?}");
    // The peer comes back and connects while our restart is seconds away: take it.
    let outs = h.feed(Input::TcpConnected(Initiator::Remote));
    assert!(
        outs.contains(&Output::StopTimer(TimerKind::IdleHold)),
        "{outs:?}"
    );
    assert!(!outs.contains(&Output::Disconnect), "{outs:?}");
    assert_eq!(outs.iter().filter(|o| **o == Output::Connect).count(), 0);
    assert!(
        outs.contains(&Output::Send(Message::Open(build_open(&cfg())))),
        "{outs:?}"
    );
    assert_eq!(h.s.state(), State::OpenSent);
    assert_eq!(h.s.initiator(), Some(Initiator::Remote));
    h.feed(Input::Received(Message::Open(peer_open(90))));
    h.feed(Input::Received(Message::Keepalive));
    assert_eq!(h.s.state(), State::Established);
}

#[test]
fn stopped_session_still_refuses_connections() {
    let mut h = H::at(State::Connect);
    h.feed(Input::TcpConnectionFails);
    h.feed(Input::ManualStop(StopReason::AdminShutdown {
        message: None,
    }));
    let outs = h.feed(Input::TcpConnected(Initiator::Remote));
    assert!(outs.contains(&Output::Disconnect), "{outs:?}");
    assert_eq!(h.s.state(), State::Idle);
}

/// RFC 9687: the IO layer saw no write progress for the send hold time. In every state with
/// a connection: NOTIFICATION 8 (Send Hold Timer Expired), the connection closed, Idle.
#[test]
fn send_hold_timer_expiry_notifies_and_closes() {
    for state in [State::OpenSent, State::OpenConfirm, State::Established] {
        let mut h = H::at(state);
        let outs = h.feed(Input::SendHoldTimerExpired);
        assert_eq!(
            sent_notification(&outs),
            Some(&Notification::send_hold_timer_expired()),
            "{state:?}"
        );
        assert!(outs.contains(&Output::Disconnect), "{state:?}: {outs:?}");
        assert_eq!(h.s.state(), State::Idle, "{state:?}");
    }
    assert_eq!(
        Notification::send_hold_timer_expired().to_string(),
        "Send Hold Timer Expired / Unspecific"
    );
}

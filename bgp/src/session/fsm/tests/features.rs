//! Stop reasons, max-prefix, graceful restart, route refresh, counters, config.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::*;

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
    assert!(outs
        .iter()
        .any(|o| matches!(o, Output::Down { stale: None, .. })));
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

#[test]
fn admin_reset_in_idle_shortens_a_pending_restart_but_never_starts_a_stopped_peer() {
    // Damped restart pending (after several failures), then `clear bgp`: restart in 1 s.
    let mut h = H::at(State::Connect);
    for _ in 0..4 {
        h.feed(Input::TcpConnectionFails);
        h.advance(60);
        h.feed(Input::TimerExpired(TimerKind::IdleHold));
    }
    let outs = h.feed(Input::TcpConnectionFails);
    assert!(timer_started(&outs, TimerKind::IdleHold).unwrap() > Duration::from_secs(8));
    let outs = h.feed(Input::ManualStop(StopReason::AdminReset { message: None }));
    assert_eq!(
        timer_started(&outs, TimerKind::IdleHold),
        Some(Duration::from_secs(1))
    );
    // A peer that was never started (or was shut down) stays down on a reset.
    let mut h = H::new(cfg());
    assert!(!h
        .feed(Input::ManualStop(StopReason::AdminReset { message: None }))
        .iter()
        .any(|o| matches!(o, Output::StartTimer(..) | Output::Connect)));
}

#[test]
fn outputs_serialize_for_tracing() {
    let mut h = H::at(State::OpenSent);
    let outs = h.feed(Input::Received(Message::Open(peer_open(90))));
    let json = serde_json::to_string(&outs).expect("serializes");
    assert!(json.contains(r#"{"send":{"type":"keepalive"}}"#), "{json}");
    assert!(
        json.contains(r#""state_change":{"from":"OpenSent","to":"OpenConfirm"}"#),
        "{json}"
    );
}

#[test]
fn late_notification_from_an_old_connection_does_not_end_gr_of_the_next() {
    let mut h = H::at_with(gr_cfg(false), gr_peer(false), State::Established);
    h.feed(Input::TcpConnectionFails);
    // The old connection's NOTIFICATION shows up after we went Idle.
    h.feed(Input::Received(Message::Notification(notif(6, 2))));
    h.advance(5);
    h.feed(Input::TimerExpired(TimerKind::IdleHold));
    h.feed(Input::TcpConnected(Initiator::Local));
    h.feed(Input::Received(Message::Open(gr_peer(false))));
    h.feed(Input::Received(Message::Keepalive));
    assert_eq!(h.s.state(), State::Established);
    assert_eq!(retained(&h.feed(Input::TcpConnectionFails)), Some(true));
}

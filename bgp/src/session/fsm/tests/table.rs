//! RFC 4271 section 8.2.2, one row per (state, event).

use super::*;

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

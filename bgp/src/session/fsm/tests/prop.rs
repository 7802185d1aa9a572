//! Random event sequences (proptest): whatever order events arrive in, the FSM never
//! panics, and its outputs stay consistent with its state.

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn any_input() -> impl Strategy<Value = Input> {
    let timer = prop_oneof![
        Just(TimerKind::ConnectRetry),
        Just(TimerKind::Hold),
        Just(TimerKind::Keepalive),
        Just(TimerKind::IdleHold),
        Just(TimerKind::DelayOpen),
    ];
    prop_oneof![
        Just(Input::ManualStart),
        Just(Input::ManualStartPassive),
        Just(Input::AutomaticStart),
        Just(Input::AutomaticStartPassive),
        Just(Input::ManualStop(StopReason::AdminShutdown {
            message: None
        })),
        Just(Input::ManualStop(StopReason::AdminReset { message: None })),
        Just(Input::ManualStop(StopReason::OutOfResources)),
        timer.clone().prop_map(Input::TimerExpired),
        timer.prop_map(Input::TimerExpired),
        Just(Input::TcpConnected(Initiator::Local)),
        Just(Input::TcpConnected(Initiator::Remote)),
        Just(Input::TcpConnectionFails),
        Just(Input::Received(Message::Open(peer_open(90)))),
        Just(Input::Received(Message::Open(peer_open(0)))),
        Just(Input::Received(Message::Open(peer_open_with(
            65009,
            90,
            THEM,
            vec![]
        )))),
        Just(Input::Received(Message::Keepalive)),
        Just(Input::Received(Message::Keepalive)),
        Just(Input::Received(Message::Update(update()))),
        Just(Input::Received(Message::Update(malformed_update()))),
        Just(Input::Received(Message::Notification(notif(6, 2)))),
        Just(Input::Received(Message::RouteRefresh(rr(0)))),
        Just(Input::DecodeError(decode_error(1, 2))),
        Just(Input::OpenCollisionDump),
        (0u64..200).prop_map(|count| Input::PrefixCount {
            family: EVPN,
            count
        }),
        (1u64..10).prop_map(|count| Input::UpdatesSent { count }),
        Just(Input::SendRouteRefresh(rr(0))),
    ]
}

fn run(passive: bool, delay_open: bool, steps: Vec<(u64, Input)>) -> Result<(), TestCaseError> {
    let mut c = max_prefix_cfg(MaxPrefixAction::Teardown {
        restart_secs: Some(5),
    });
    c.passive = passive;
    c.timers.delay_open = delay_open.then_some(3);
    let mut h = H::new(c);
    // The daemon's view of the armed timers, built only from the outputs.
    let mut armed: HashSet<TimerKind> = HashSet::new();
    for (secs, input) in steps {
        h.now += Duration::from_millis(secs);
        let before = h.s.state();
        let stale = matches!(input, Input::TimerExpired(k) if !armed.contains(&k));
        if let Input::TimerExpired(k) = input {
            armed.remove(&k);
        }
        let outs = h.feed(input.clone());
        let after = h.s.state();
        if stale {
            prop_assert!(outs.is_empty(), "stale {input:?} produced {outs:?}");
        }
        let mut state = before;
        for o in &outs {
            match o {
                Output::Connect => prop_assert!(!passive, "passive peer connected"),
                Output::Send(m) => {
                    prop_assert!(state != State::Idle, "sent {m:?} in Idle");
                    prop_assert!(!matches!(m, Message::Update(_)), "FSM never sends UPDATEs");
                }
                Output::StartTimer(k, d) => {
                    prop_assert!(!d.is_zero() || *k == TimerKind::Hold, "{k:?} armed for 0");
                    armed.insert(*k);
                }
                Output::StopTimer(k) => {
                    prop_assert!(armed.remove(k), "stopped {k:?} that was not running");
                }
                Output::StateChange { from, to } => {
                    prop_assert_eq!(*from, state);
                    prop_assert_ne!(from, to);
                    state = *to;
                }
                _ => {}
            }
        }
        prop_assert_eq!(state, after, "state changes add up");
        // The daemon's timer view and the FSM's agree.
        for k in TimerKind::ALL {
            prop_assert_eq!(armed.contains(&k), h.s.armed & k.bit() != 0, "{:?}", k);
        }
        if after == State::Idle {
            prop_assert!(
                armed.iter().all(|k| *k == TimerKind::IdleHold),
                "{armed:?} in Idle"
            );
        }
        let opened = matches!(after, State::OpenConfirm | State::Established);
        prop_assert_eq!(h.s.negotiated().is_some(), opened);
        let c = h.s.counters();
        prop_assert!(c.dropped <= c.established);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_event_sequences_keep_invariants(
        delay_open in any::<bool>(),
        steps in proptest::collection::vec((0u64..100_000, any_input()), 1..60)
    ) {
        run(false, delay_open, steps)?;
    }

    #[test]
    fn passive_peer_never_connects_whatever_happens(
        steps in proptest::collection::vec((0u64..100_000, any_input()), 1..60)
    ) {
        run(true, false, steps)?;
    }
}

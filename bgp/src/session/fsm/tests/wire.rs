//! Bytes on the wire (codec encode/decode), two sessions back to back, collisions.

use std::net::Ipv4Addr;

use super::*;
use crate::session::collision::{self, Connection, Resolution};

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

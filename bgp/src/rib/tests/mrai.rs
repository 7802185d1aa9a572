//! The minimum advertisement interval (RFC 4271 9.2.1.1) end to end: UPDATEs in, what the
//! peer is sent and when, on the test's clock.

use super::*;

/// One step (operation) of a scripted case (times in ms on the RIB's clock).
#[derive(Clone, Copy, Debug)]
enum Op {
    /// The clock reads this.
    At(u64),
    /// The source announces route `i` with MED `med` (a new route, or a change).
    Announce(u32, u32),
    /// The source withdraws route `i`.
    Withdraw(u32),
    /// Drain everything `pending` allows: the peer gets these withdrawals and these
    /// (route, MED) announcements, in this many messages.
    Sent(&'static [u32], &'static [(u32, u32)], usize),
}

use Op::*;

struct Case {
    name: &'static str,
    /// The receiving peer's interval in seconds.
    interval: u32,
    steps: &'static [Op],
    /// Routes the peer has at the end, and keys still held.
    advertised: usize,
    held: usize,
}

const CASES: &[Case] = &[
    Case {
        name: "interval 0: every change goes at once (behaviour without MRAI)",
        interval: 0,
        steps: &[
            At(0),
            Announce(1, 1),
            Sent(&[], &[(1, 1)], 1),
            At(100),
            Announce(1, 2),
            Sent(&[], &[(1, 2)], 1),
            At(200),
            Withdraw(1),
            Sent(&[1], &[], 1),
            Announce(2, 1),
            Sent(&[], &[(2, 1)], 1),
        ],
        advertised: 1,
        held: 0,
    },
    Case {
        name: "churn in the interval collapses: sent once, with the last attributes",
        interval: 30,
        steps: &[
            At(0),
            Announce(1, 1),
            // The first run opens nothing: no run yet, the gate is open.
            Sent(&[], &[(1, 1)], 1),
            At(1_000),
            Announce(1, 2),
            Sent(&[], &[], 0),
            At(2_000),
            Announce(1, 3),
            Announce(1, 4),
            Sent(&[], &[], 0),
            At(5_000),
            Announce(1, 5),
            Announce(1, 6),
            Announce(1, 7),
            Announce(1, 8),
            Announce(1, 9),
            Announce(1, 10),
            Sent(&[], &[], 0),
            At(29_999),
            Sent(&[], &[], 0),
            At(30_000),
            Sent(&[], &[(1, 10)], 1),
            // That run closed the gate again.
            At(30_001),
            Announce(1, 11),
            Sent(&[], &[], 0),
            At(60_000),
            Sent(&[], &[(1, 11)], 1),
        ],
        advertised: 1,
        held: 0,
    },
    Case {
        name: "added and withdrawn within the interval: never sent, nothing left held",
        interval: 30,
        steps: &[
            At(0),
            Announce(1, 1),
            Sent(&[], &[(1, 1)], 1),
            At(1_000),
            Announce(2, 1),
            Sent(&[], &[], 0),
            At(2_000),
            Withdraw(2),
            Sent(&[], &[], 0),
            At(31_000),
            Sent(&[], &[], 0),
        ],
        advertised: 1,
        held: 0,
    },
    Case {
        name: "withdrawal of a sent route is not held",
        interval: 30,
        steps: &[
            At(0),
            Announce(1, 1),
            Announce(2, 1),
            Sent(&[], &[(1, 1), (2, 1)], 1),
            At(1_000),
            Withdraw(1),
            Sent(&[1], &[], 1),
            // Alongside a held advertisement: the withdrawal goes, the other waits.
            At(2_000),
            Announce(3, 1),
            Withdraw(2),
            Sent(&[2], &[], 1),
            At(30_000),
            Sent(&[], &[(3, 1)], 1),
        ],
        advertised: 1,
        held: 0,
    },
    Case {
        name: "withdrawal of a sent route whose change was held: the change is dropped",
        interval: 30,
        steps: &[
            At(0),
            Announce(1, 1),
            Sent(&[], &[(1, 1)], 1),
            At(1_000),
            Announce(1, 2),
            Sent(&[], &[], 0),
            At(2_000),
            Withdraw(1),
            Sent(&[1], &[], 1),
            At(31_000),
            Sent(&[], &[], 0),
            // Re-announced later: a fresh advertisement after the interval.
            Announce(1, 3),
            Sent(&[], &[(1, 3)], 1),
        ],
        advertised: 1,
        held: 0,
    },
    Case {
        name: "withdrawal-only runs do not restart the interval",
        interval: 30,
        steps: &[
            At(0),
            Announce(1, 1),
            Announce(2, 1),
            Sent(&[], &[(1, 1), (2, 1)], 1),
            At(20_000),
            Withdraw(1),
            Sent(&[1], &[], 1),
            At(25_000),
            Announce(3, 1),
            Sent(&[], &[], 0),
            // 30 s after the last advertising run, not after the withdrawal.
            At(30_000),
            Sent(&[], &[(3, 1)], 1),
        ],
        advertised: 2,
        held: 0,
    },
    Case {
        name: "a change back to what the peer has sends nothing",
        interval: 10,
        steps: &[
            At(0),
            Announce(1, 1),
            Sent(&[], &[(1, 1)], 1),
            At(1_000),
            Announce(1, 2),
            Announce(1, 1),
            Sent(&[], &[], 0),
            At(10_000),
            Sent(&[], &[], 0),
        ],
        advertised: 1,
        held: 0,
    },
];

/// Source `a` (eBGP) and receiver `b` (iBGP, up, with `interval`).
fn setup(interval: u32) -> (Rib, PeerId, PeerId) {
    let mut r = rib();
    let a = r.add_peer(peer(65100, 1));
    let b = r.add_peer(PeerConfig {
        advertisement_interval: interval,
        ..peer(LOCAL_AS, 2)
    });
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    (r, a, b)
}

fn with_med(med: u32) -> PathAttrs {
    PathAttrs {
        med: Some(med),
        ..attrs(&[65100])
    }
}

/// Drains as the daemon does: while `pending` says so.
fn drain_pending(r: &mut Rib, p: PeerId) -> Vec<BytesMut> {
    let mut msgs = Vec::new();
    while r.pending(p, AfiSafi::L2VPN_EVPN) > 0 {
        msgs.extend(r.drain(p, AfiSafi::L2VPN_EVPN, 64).unwrap());
    }
    msgs
}

#[test]
fn scripted_cases() {
    for c in CASES {
        let (mut r, a, b) = setup(c.interval);
        for (i, step) in c.steps.iter().enumerate() {
            let at = format!("{}: step {i} {step:?}", c.name);
            match *step {
                At(ms) => r.set_clock_ms(ms),
                Announce(n, med) => {
                    r.apply_update(a, &reach(&with_med(med), vtep(1), vec![mac(n)]))
                        .unwrap();
                }
                Withdraw(n) => {
                    r.apply_update(a, &Update::evpn_unreach(vec![key(n).to_nlri()]))
                        .unwrap();
                }
                Sent(withdrawn, announced, messages) => {
                    let msgs = drain_pending(&mut r, b);
                    assert_eq!(msgs.len(), messages, "{at}");
                    let seen = decode_all(&msgs);
                    let mut w: Vec<_> = seen.iter().flat_map(|(w, _)| w.clone()).collect();
                    let mut want_w: Vec<_> = withdrawn.iter().map(|&n| key(n)).collect();
                    w.sort();
                    want_w.sort();
                    assert_eq!(w, want_w, "{at}");
                    let mut got: Vec<_> = seen
                        .iter()
                        .flat_map(|(_, r)| r.iter().map(|(n, a)| (n.key(), a.med)))
                        .collect();
                    let mut want: Vec<_> = announced
                        .iter()
                        .map(|&(n, med)| (key(n), Some(med)))
                        .collect();
                    got.sort();
                    want.sort();
                    assert_eq!(got, want, "{at}");
                    // Nothing left that the daemon would have to drain now.
                    assert_eq!(r.pending(b, AfiSafi::L2VPN_EVPN), 0, "{at}");
                }
            }
        }
        let out = r.adj_out::<EvpnRouteKey>(b).unwrap();
        assert_eq!(out.advertised(), c.advertised, "{}", c.name);
        assert_eq!(out.held(), c.held, "{}", c.name);
    }
}

#[test]
fn due_time_is_reported_and_pending_counts_held_keys_only_then() {
    let (mut r, a, b) = setup(30);
    let f = AfiSafi::L2VPN_EVPN;
    assert_eq!(r.advertisement_due(b, f), None, "nothing held");
    r.set_clock_ms(1_000);
    r.apply_update(a, &reach(&with_med(1), vtep(1), vec![mac(1)]))
        .unwrap();
    assert_eq!(drain_pending(&mut r, b).len(), 1);
    r.set_clock_ms(2_000);
    r.apply_update(a, &reach(&with_med(2), vtep(1), vec![mac(1), mac(2)]))
        .unwrap();
    assert_eq!(r.pending(b, f), 2, "dirty: looked at by the next drain");
    assert!(drain_pending(&mut r, b).is_empty());
    assert_eq!(
        r.pending(b, f),
        0,
        "held: nothing to drain before the interval ends"
    );
    assert_eq!(r.adj_out::<EvpnRouteKey>(b).unwrap().held(), 2);
    assert_eq!(r.advertisement_due(b, f), Some(31_000));
    r.set_clock_ms(31_000);
    assert_eq!(r.pending(b, f), 2);
    assert_eq!(announced(&drain_pending(&mut r, b)).len(), 2);
    assert_eq!(r.advertisement_due(b, f), None);
    // Another family and an unknown peer: nothing.
    assert_eq!(r.advertisement_due(b, AfiSafi::IPV4_UNICAST), None);
    assert_eq!(r.advertisement_due(99, f), None);
}

#[test]
fn initial_advertisement_is_not_held_and_end_of_rib_follows_at_once() {
    let mut r = rib();
    let a = r.add_peer(peer(65100, 1));
    r.set_clock_ms(5_000);
    let routes: Vec<_> = (0..300).map(mac).collect();
    r.apply_update(a, &reach(&with_med(1), vtep(1), routes))
        .unwrap();
    let b = r.add_peer(PeerConfig {
        advertisement_interval: 600,
        ..peer(LOCAL_AS, 2)
    });
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    // Several drain calls (the test budget is 256 keys): one run, never held.
    let msgs = drain_pending(&mut r, b);
    assert_eq!(announced(&msgs).len(), 300);
    // pending is 0: the daemon sends End-of-RIB now. A change right after the table
    // dump waits for the interval and does not make pending non-zero either.
    r.apply_update(a, &reach(&with_med(2), vtep(1), vec![mac(7)]))
        .unwrap();
    assert!(drain_pending(&mut r, b).is_empty());
    assert_eq!(r.pending(b, AfiSafi::L2VPN_EVPN), 0);
    assert_eq!(r.advertisement_due(b, AfiSafi::L2VPN_EVPN), Some(605_000));
    // A route refresh (or session reset) starts a new initial advertisement: not held.
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    let again = announced(&drain_pending(&mut r, b));
    assert_eq!(again.len(), 300);
    assert!(again
        .iter()
        .any(|(n, at)| n.key() == key(7) && at.med == Some(2)));
}

#[test]
fn release_at_expiry_is_packed() {
    let (mut r, a, b) = setup(30);
    let f = AfiSafi::L2VPN_EVPN;
    r.apply_update(a, &reach(&with_med(1), vtep(1), vec![mac(100_000)]))
        .unwrap();
    assert_eq!(drain_pending(&mut r, b).len(), 1);
    // 1000 routes arrive one UPDATE each during the interval (one attribute set).
    let n = 1000u32;
    for i in 0..n {
        r.set_clock_ms(u64::from(i) * 10);
        r.apply_update(a, &reach(&with_med(1), vtep(1), vec![mac(i)]))
            .unwrap();
        assert!(r.drain(b, f, 64).unwrap().is_empty());
    }
    r.set_clock_ms(30_000);
    let msgs = drain_pending(&mut r, b);
    // As packed as a fresh table dump of the same routes would be.
    let mut fresh = rib();
    let src = fresh.add_peer(peer(65100, 1));
    let q = fresh.add_peer(peer(LOCAL_AS, 2));
    fresh.peer_up(q, f).unwrap();
    let routes: Vec<_> = (0..n).map(mac).collect();
    fresh
        .apply_update(src, &reach(&with_med(1), vtep(1), routes))
        .unwrap();
    let packed = drain_pending(&mut fresh, q).len();
    assert_eq!(msgs.len(), packed, "{} UPDATEs for {n} routes", msgs.len());
    assert!(packed <= (n as usize).div_ceil(100), "{packed}");
    assert_eq!(announced(&msgs).len(), n as usize);
    assert_eq!(
        r.adj_out::<EvpnRouteKey>(b).unwrap().advertised(),
        n as usize + 1
    );
}

#[test]
fn interval_changes_apply_to_what_is_held() {
    let (mut r, a, b) = setup(600);
    let f = AfiSafi::L2VPN_EVPN;
    r.apply_update(a, &reach(&with_med(1), vtep(1), vec![mac(1)]))
        .unwrap();
    drain_pending(&mut r, b);
    r.set_clock_ms(1_000);
    r.apply_update(a, &reach(&with_med(2), vtep(1), vec![mac(1)]))
        .unwrap();
    assert!(drain_pending(&mut r, b).is_empty());
    // Shorter interval (a reload): due earlier, measured from the same last run.
    let mut cfg = r.peer_config(b).unwrap().clone();
    cfg.advertisement_interval = 5;
    r.set_peer(b, cfg.clone()).unwrap();
    assert_eq!(r.advertisement_due(b, f), Some(5_000));
    // Interval off: released now.
    cfg.advertisement_interval = 0;
    r.set_peer(b, cfg).unwrap();
    assert_eq!(r.pending(b, f), 1);
    let got = announced(&drain_pending(&mut r, b));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.med, Some(2));
}

#[test]
fn session_down_forgets_held_keys() {
    let (mut r, a, b) = setup(30);
    r.apply_update(a, &reach(&with_med(1), vtep(1), vec![mac(1)]))
        .unwrap();
    drain_pending(&mut r, b);
    r.apply_update(a, &reach(&with_med(1), vtep(1), vec![mac(2)]))
        .unwrap();
    drain_pending(&mut r, b);
    assert_eq!(r.adj_out::<EvpnRouteKey>(b).unwrap().held(), 1);
    r.out_down(b);
    let out = r.adj_out::<EvpnRouteKey>(b).unwrap();
    assert_eq!((out.held(), out.advertised(), out.pending()), (0, 0, 0));
    assert_eq!(r.advertisement_due(b, AfiSafi::L2VPN_EVPN), None);
}

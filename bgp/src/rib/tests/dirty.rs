//! Which Adj-RIB-Outs a Loc-RIB change marks dirty: none that can never be sent the route
//! by role (its source, a non-client's route to another non-client), and what a best-path
//! switch between such peers must still send each of them; and with the changes not
//! collected (a spine), the same without the change lists.

use super::*;

const F: AfiSafi = AfiSafi::L2VPN_EVPN;

fn up(r: &mut Rib, cfg: PeerConfig) -> PeerId {
    let p = r.add_peer(cfg);
    r.peer_up(p, F).unwrap();
    p
}

fn routes(n: u32) -> Vec<EvpnNlri> {
    (0..n).map(mac).collect()
}

/// Withdrawn keys and announced (key, originator id) of everything `p` is sent now.
fn sent(r: &mut Rib, p: PeerId) -> (Vec<EvpnRouteKey>, Vec<(EvpnRouteKey, Option<Ipv4Addr>)>) {
    let mut w = Vec::new();
    let mut a = Vec::new();
    for (wd, ann) in decode_all(&drain_all(r, p)) {
        w.extend(wd);
        a.extend(ann.into_iter().map(|(n, at)| (n.key(), at.originator_id)));
    }
    (w, a)
}

#[test]
fn the_source_is_not_marked_dirty_by_its_own_routes() {
    let mut r = rib();
    let a = up(&mut r, client(1));
    let b = up(&mut r, client(2));
    r.apply_update(a, &reach(&attrs(&[]), vtep(1), routes(10)))
        .unwrap();
    assert_eq!(
        r.pending(a, F),
        0,
        "split horizon: nothing to look at for the source"
    );
    assert_eq!(r.pending(b, F), 10);
    // Changed and withdrawn by the source: still nothing for it.
    let x = PathAttrs {
        med: Some(5),
        ..attrs(&[])
    };
    r.apply_update(a, &reach(&x, vtep(1), routes(5))).unwrap();
    r.apply_update(a, &Update::evpn_unreach(vec![key(9).to_nlri()]))
        .unwrap();
    assert_eq!(r.pending(a, F), 0);
    assert!(drain_all(&mut r, a).is_empty());
    // The other client gets the 9 routes left, with the latest attributes.
    let (w, ann) = sent(&mut r, b);
    assert!(w.is_empty());
    assert_eq!(ann.len(), 9);
}

#[test]
fn a_non_clients_route_marks_clients_and_ebgp_but_not_other_non_clients() {
    let mut r = rib();
    let n1 = up(&mut r, peer(LOCAL_AS, 1));
    let n2 = up(&mut r, peer(LOCAL_AS, 2));
    let c = up(&mut r, client(3));
    let e = up(&mut r, peer(65009, 4));
    r.apply_update(n1, &reach(&attrs(&[]), vtep(1), routes(4)))
        .unwrap();
    assert_eq!(r.pending(n1, F), 0);
    assert_eq!(
        r.pending(n2, F),
        0,
        "non-client to non-client: never reflected"
    );
    assert_eq!(r.pending(c, F), 4);
    assert_eq!(r.pending(e, F), 4);
    assert!(drain_all(&mut r, n2).is_empty());
    assert_eq!(sent(&mut r, c).1.len(), 4);
    assert_eq!(sent(&mut r, e).1.len(), 4);
}

#[test]
fn client_and_ebgp_routes_mark_every_other_peer() {
    for src in [client(1), peer(65001 + 8, 1)] {
        let mut r = rib();
        let s = up(&mut r, src);
        let others = [
            up(&mut r, peer(LOCAL_AS, 2)),
            up(&mut r, client(3)),
            up(&mut r, peer(65010, 4)),
        ];
        let a = attrs(if r.peer_config(s).unwrap().asn == LOCAL_AS {
            &[]
        } else {
            &[65009]
        });
        r.apply_update(s, &reach(&a, vtep(1), routes(3))).unwrap();
        assert_eq!(r.pending(s, F), 0);
        for o in others {
            assert_eq!(r.pending(o, F), 3, "peer {o}");
            assert_eq!(sent(&mut r, o).1.len(), 3, "peer {o}");
        }
    }
}

/// The best path moves from client A's route to client B's and back: each of them gets
/// the other's route, then a withdrawal of it.
#[test]
fn best_switch_between_clients_updates_and_withdraws_both() {
    let mut r = rib();
    let a = up(&mut r, client(1));
    let b = up(&mut r, client(2));
    let k = key(1);
    r.apply_update(a, &reach(&attrs(&[]), vtep(1), vec![mac(1)]))
        .unwrap();
    assert_eq!(sent(&mut r, a), (vec![], vec![]));
    assert_eq!(
        sent(&mut r, b),
        (vec![], vec![(k, Some(Ipv4Addr::new(10, 0, 0, 1)))])
    );
    // B's route wins (higher LOCAL_PREF).
    let better = PathAttrs {
        local_pref: Some(200),
        ..attrs(&[])
    };
    r.apply_update(b, &reach(&better, vtep(2), vec![mac(1)]))
        .unwrap();
    assert_eq!(r.best(&k).unwrap().peer, b);
    assert_eq!(
        sent(&mut r, a),
        (vec![], vec![(k, Some(Ipv4Addr::new(10, 0, 0, 2)))])
    );
    assert_eq!(sent(&mut r, b), (vec![k], vec![]), "B must drop A's route");
    // B withdraws: A's is best again.
    r.apply_update(b, &Update::evpn_unreach(vec![k.to_nlri()]))
        .unwrap();
    assert_eq!(r.best(&k).unwrap().peer, a);
    assert_eq!(sent(&mut r, a), (vec![k], vec![]), "A must drop B's route");
    assert_eq!(
        sent(&mut r, b),
        (vec![], vec![(k, Some(Ipv4Addr::new(10, 0, 0, 1)))])
    );
    // A withdraws too: B drops it, A has nothing to drop.
    r.apply_update(a, &Update::evpn_unreach(vec![k.to_nlri()]))
        .unwrap();
    assert_eq!(r.pending(a, F), 0);
    assert_eq!(sent(&mut r, b), (vec![k], vec![]));
}

/// Between two non-clients neither ever gets the other's route, whichever is best; an
/// eBGP peer's route that wins over them goes to both, and its withdrawal is withdrawn
/// from both.
#[test]
fn best_switch_between_non_clients_and_to_ebgp() {
    let mut r = rib();
    let n1 = up(&mut r, peer(LOCAL_AS, 1));
    let n2 = up(&mut r, peer(LOCAL_AS, 2));
    let e = up(&mut r, peer(65009, 3));
    let k = key(1);
    // Longer AS paths than the eBGP route's below, so that it can win.
    let far = attrs(&[65100, 65200]);
    r.apply_update(n1, &reach(&far, vtep(1), vec![mac(1)]))
        .unwrap();
    let better = PathAttrs {
        local_pref: Some(200),
        ..far.clone()
    };
    r.apply_update(n2, &reach(&better, vtep(2), vec![mac(1)]))
        .unwrap();
    assert_eq!(r.best(&k).unwrap().peer, n2);
    assert_eq!(r.pending(n1, F), 0);
    assert_eq!(r.pending(n2, F), 0);
    assert_eq!(sent(&mut r, e).1.len(), 1);
    // eBGP wins over n1's (equal LOCAL_PREF, shorter AS path), not over n2's: drop n2's.
    r.apply_update(n2, &Update::evpn_unreach(vec![k.to_nlri()]))
        .unwrap();
    r.apply_update(e, &reach(&attrs(&[65009]), vtep(3), vec![mac(1)]))
        .unwrap();
    assert_eq!(r.best(&k).unwrap().peer, e);
    assert_eq!(sent(&mut r, n1), (vec![], vec![(k, None)]));
    assert_eq!(sent(&mut r, n2), (vec![], vec![(k, None)]));
    assert_eq!(sent(&mut r, e), (vec![k], vec![]), "e drops n2's route");
    assert_eq!(r.adj_out::<EvpnRouteKey>(e).unwrap().advertised(), 0);
    // The eBGP route goes away: both non-clients drop it; n1's own is best again.
    r.apply_update(e, &Update::evpn_unreach(vec![k.to_nlri()]))
        .unwrap();
    assert_eq!(sent(&mut r, n1), (vec![k], vec![]));
    assert_eq!(sent(&mut r, n2), (vec![k], vec![]));
    assert_eq!(sent(&mut r, e).1.len(), 1, "n1's route again");
}

/// A peer up only for IPv4 unicast is not marked for EVPN changes.
#[test]
fn a_peer_without_the_family_is_not_marked() {
    let mut r = rib();
    let a = up(&mut r, client(1));
    let v4 = r.add_peer(client(2));
    r.peer_up(v4, AfiSafi::IPV4_UNICAST).unwrap();
    r.apply_update(a, &reach(&attrs(&[]), vtep(1), routes(3)))
        .unwrap();
    assert_eq!(r.pending(v4, F), 0);
    assert!(drain_all(&mut r, v4).is_empty());
}

/// With the changes not collected (a spine), the lists come back empty but the
/// Adj-RIB-Outs, the Loc-RIB and max-prefix work as before.
#[test]
fn changes_not_collected_still_mark_and_count() {
    let mut r = rib();
    r.set_collect_changes(false);
    let mut cfg = client(1);
    cfg.max_prefix = Some(2);
    let a = up(&mut r, cfg);
    let b = up(&mut r, client(2));
    let ch = r
        .apply_update(a, &reach(&attrs(&[]), vtep(1), routes(3)))
        .unwrap();
    assert!(ch.is_empty());
    assert_eq!(ch.max_prefix_exceeded, vec![F]);
    assert_eq!(r.table::<EvpnRouteKey>().len(), 3);
    assert_eq!(sent(&mut r, b).1.len(), 3);
    assert!(r.peer_down(a).unwrap().is_empty());
    assert_eq!(sent(&mut r, b).0.len(), 3, "withdrawn from b");
    // Back on: changes are handed out again.
    r.set_collect_changes(true);
    let ch = r
        .apply_update(b, &reach(&attrs(&[]), vtep(2), routes(1)))
        .unwrap();
    assert_eq!(ch.evpn.len(), 1);
    assert_eq!(ch.evpn[0].kind, ChangeKind::New);
}

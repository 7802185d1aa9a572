//! RIB behaviour end to end: UPDATEs in, Loc-RIB changes and packed UPDATEs out.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::packet::attribute::code;
use crate::packet::error::{Fault, Malformation};
use crate::packet::evpn::{Esi, EvpnNlri, Label, MacIpAdvertisement};
use crate::packet::extcomm::{ExtendedCommunity, RouteTarget};
use crate::packet::types::{MacAddress, RouteDistinguisher};
use crate::packet::{AsPath, Community, DecodeOptions, Message, Origin};

const LOCAL_AS: u32 = 65001;
const RID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 0, last))
}

fn vtep(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, 1, last))
}

fn rib() -> Rib {
    Rib::new(RibConfig::new(LOCAL_AS, RID))
}

/// A peer at 192.168.0.`last` with router id 10.0.0.`last`.
fn peer(asn: u32, last: u8) -> PeerConfig {
    let mut p = PeerConfig::new(ip(last), asn, Ipv4Addr::new(10, 0, 0, last));
    p.local_address = Some(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 254)));
    p
}

fn client(last: u8) -> PeerConfig {
    PeerConfig {
        rr_client: true,
        ..peer(LOCAL_AS, last)
    }
}

fn mac(i: u32) -> EvpnNlri {
    let [_, a, b, c] = i.to_be_bytes();
    EvpnNlri::MacIp(MacIpAdvertisement {
        rd: RouteDistinguisher::Ipv4 {
            addr: Ipv4Addr::new(10, 0, 0, 1),
            number: 2,
        },
        esi: Esi::ZERO,
        ethernet_tag: 0,
        mac_len: 48,
        mac: MacAddress([2, 0, 0, a, b, c]),
        ip: None,
        label1: Label::from_vni(100),
        label2: None,
    })
}

fn key(i: u32) -> EvpnRouteKey {
    mac(i).key()
}

fn attrs(path: &[u32]) -> PathAttrs {
    PathAttrs {
        origin: Origin::Igp,
        as_path: AsPath::sequence(path.to_vec()),
        ext_communities: vec![ExtendedCommunity::route_target(RouteTarget::As2 {
            asn: 65001,
            value: 100,
        })],
        ..Default::default()
    }
}

fn reach(a: &PathAttrs, nh: IpAddr, routes: Vec<EvpnNlri>) -> Update {
    Update::evpn_reach(a.to_attributes(), nh, routes)
}

/// Withdrawn keys and announced routes of one UPDATE.
type Seen = (Vec<EvpnRouteKey>, Vec<(EvpnNlri, PathAttrs)>);

/// What a peer would see, per message.
fn decode_all(msgs: &[BytesMut]) -> Vec<Seen> {
    msgs.iter()
        .map(|m| {
            assert!(m.len() <= 4096);
            let Ok(Message::Update(u)) = Message::decode(m, &DecodeOptions::default()) else {
                panic!("not an UPDATE")
            };
            assert!(u.malformations.is_empty(), "{:?}", u.malformations);
            let w = EvpnRouteKey::unreach(&u)
                .into_iter()
                .flatten()
                .map(EvpnNlri::key)
                .collect();
            let r = match EvpnRouteKey::reach(&u) {
                Some((nh, list)) => {
                    let a = PathAttrs::from_update(&u, nh);
                    list.iter().map(|n| (n.clone(), a.clone())).collect()
                }
                None => vec![],
            };
            (w, r)
        })
        .collect()
}

fn announced(msgs: &[BytesMut]) -> Vec<(EvpnNlri, PathAttrs)> {
    decode_all(msgs).into_iter().flat_map(|(_, r)| r).collect()
}

fn drain_all(r: &mut Rib, p: PeerId) -> Vec<BytesMut> {
    r.drain(p, AfiSafi::L2VPN_EVPN, usize::MAX).unwrap()
}

#[test]
fn changes_new_replaced_withdrawn_and_ebgp_beats_ibgp() {
    let mut r = rib();
    let i = r.add_peer(peer(LOCAL_AS, 1));
    let e = r.add_peer(peer(65100, 2));
    // iBGP-learned with the same AS path length as the eBGP one below.
    let ch = r
        .apply_update(i, &reach(&attrs(&[65100]), vtep(1), vec![mac(1)]))
        .unwrap();
    assert_eq!(ch.evpn.len(), 1);
    assert_eq!(ch.evpn[0].kind, ChangeKind::New);
    assert_eq!(ch.evpn[0].best.as_ref().unwrap().nlri, mac(1));
    // Same length path from eBGP: eBGP over iBGP.
    let ch = r
        .apply_update(e, &reach(&attrs(&[65100]), vtep(2), vec![mac(1)]))
        .unwrap();
    assert_eq!(ch.evpn[0].kind, ChangeKind::Replaced);
    let best = ch.evpn[0].best.as_ref().unwrap();
    assert_eq!((best.peer, best.attrs.next_hop), (e, Some(vtep(2))));
    // Withdrawn by the eBGP peer: the iBGP path is best again.
    let ch = r
        .apply_update(e, &Update::evpn_unreach(vec![key(1).to_nlri()]))
        .unwrap();
    assert_eq!(ch.evpn[0].best.as_ref().unwrap().peer, i);
    let ch = r
        .apply_update(i, &Update::evpn_unreach(vec![key(1).to_nlri()]))
        .unwrap();
    assert_eq!(
        (ch.evpn[0].kind, ch.evpn[0].best.is_none()),
        (ChangeKind::Withdrawn, true)
    );
    assert!(r.table::<EvpnRouteKey>().is_empty());
    assert_eq!(
        r.attr_sets(),
        0,
        "the last route let go of its attribute set"
    );
}

#[test]
fn local_pref_from_ebgp_is_ignored() {
    let mut r = rib();
    let e = r.add_peer(peer(65100, 2));
    let a = PathAttrs {
        local_pref: Some(500),
        ..attrs(&[65100])
    };
    r.apply_update(e, &reach(&a, vtep(2), vec![mac(1)]))
        .unwrap();
    assert_eq!(r.best(&key(1)).unwrap().attrs.local_pref, None);
}

#[test]
fn treat_as_withdraw_removes_the_routes() {
    let mut r = rib();
    let p = r.add_peer(peer(LOCAL_AS, 1));
    let a = attrs(&[]);
    r.apply_update(p, &reach(&a, vtep(1), vec![mac(1), mac(2)]))
        .unwrap();
    // On the wire: ORIGIN value 5 (RFC 7606 section 7.1: treat-as-withdraw).
    let mut m = BytesMut::new();
    Message::Update(reach(&a, vtep(1), vec![mac(1)]))
        .encode(&DecodeOptions::default(), &mut m)
        .unwrap();
    let at = m
        .windows(4)
        .position(|w| w == [0x40, code::ORIGIN, 1, 0])
        .unwrap();
    m[at + 3] = 5;
    let Ok(Message::Update(bad)) = Message::decode(&m, &DecodeOptions::default()) else {
        panic!()
    };
    assert_eq!(bad.verdict(), Verdict::TreatAsWithdraw);
    let ch = r.apply_update(p, &bad).unwrap();
    assert_eq!(ch.evpn.len(), 1);
    assert_eq!(ch.evpn[0].kind, ChangeKind::Withdrawn);
    assert!(r.best(&key(1)).is_none() && r.best(&key(2)).is_some());
    assert_eq!(r.stats(p).unwrap().treated_as_withdraw, 1);
}

#[test]
fn session_reset_verdict_applies_nothing() {
    let mut r = rib();
    let p = r.add_peer(peer(LOCAL_AS, 1));
    let mut u = reach(&attrs(&[]), vtep(1), vec![mac(1)]);
    u.malformations.push(Malformation::new(
        Some(code::MP_UNREACH_NLRI),
        Fault::InvalidMpAttribute,
        "",
        vec![],
    ));
    assert!(matches!(
        r.apply_update(p, &u),
        Err(RibError::SessionReset(_))
    ));
    assert!(r.table::<EvpnRouteKey>().is_empty());
    assert_eq!(r.apply_update(9, &u), Err(RibError::UnknownPeer(9)));
}

#[test]
fn loops_are_dropped_counted_and_withdraw_the_previous_route() {
    let cases: Vec<(&str, u32, PathAttrs)> = vec![
        (
            "own AS from an eBGP spine",
            65100,
            attrs(&[65100, LOCAL_AS]),
        ),
        (
            "ORIGINATOR_ID is us, from an FRR RR",
            LOCAL_AS,
            PathAttrs {
                originator_id: Some(RID),
                ..attrs(&[])
            },
        ),
        (
            "our cluster id in CLUSTER_LIST",
            LOCAL_AS,
            PathAttrs {
                originator_id: Some(Ipv4Addr::new(10, 0, 0, 7)),
                cluster_list: vec![Ipv4Addr::new(9, 9, 9, 9), RID],
                ..attrs(&[])
            },
        ),
    ];
    for (name, asn, looped) in cases {
        let mut r = rib();
        let p = r.add_peer(peer(asn, 1));
        let first = if asn == LOCAL_AS {
            attrs(&[])
        } else {
            attrs(&[asn])
        };
        r.apply_update(p, &reach(&first, vtep(1), vec![mac(1)]))
            .unwrap();
        let ch = r
            .apply_update(p, &reach(&looped, vtep(1), vec![mac(1), mac(2)]))
            .unwrap();
        assert_eq!(ch.evpn.len(), 1, "{name}");
        assert_eq!(ch.evpn[0].kind, ChangeKind::Withdrawn, "{name}");
        assert!(r.table::<EvpnRouteKey>().is_empty(), "{name}");
        assert_eq!(r.stats(p).unwrap().loops_dropped, 2, "{name}");
    }
}

#[test]
fn peer_down_withdraws_its_routes_only() {
    let mut r = rib();
    let a = r.add_peer(peer(LOCAL_AS, 1));
    let b = r.add_peer(peer(LOCAL_AS, 2));
    r.apply_update(a, &reach(&attrs(&[]), vtep(1), vec![mac(1), mac(2)]))
        .unwrap();
    r.apply_update(b, &reach(&attrs(&[]), vtep(2), vec![mac(2), mac(3)]))
        .unwrap();
    assert_eq!(r.best(&key(2)).unwrap().peer, a, "lower router id");
    let ch = r.peer_down(a).unwrap();
    let mut kinds: Vec<_> = ch.evpn.iter().map(|c| (c.key, c.kind)).collect();
    kinds.sort();
    let mut want = vec![
        (key(1), ChangeKind::Withdrawn),
        (key(2), ChangeKind::Replaced),
    ];
    want.sort();
    assert_eq!(kinds, want);
    assert_eq!(r.best(&key(2)).unwrap().peer, b);
    assert_eq!(r.prefix_count(a, AfiSafi::L2VPN_EVPN), 0);
    assert_eq!(r.prefix_count(b, AfiSafi::L2VPN_EVPN), 2);
}

#[test]
fn graceful_restart_stale_mark_readvertise_and_sweep() {
    let mut r = rib();
    let p = r.add_peer(peer(LOCAL_AS, 1));
    let a = attrs(&[]);
    r.apply_update(p, &reach(&a, vtep(1), vec![mac(1), mac(2), mac(3)]))
        .unwrap();
    assert_eq!(r.mark_stale(p, AfiSafi::L2VPN_EVPN).unwrap(), 3);
    assert!(r.best(&key(1)).unwrap().stale, "kept, marked stale");
    // The peer comes back and re-advertises two of them, one unchanged.
    let b = PathAttrs {
        med: Some(7),
        ..a.clone()
    };
    let ch = r
        .apply_update(p, &reach(&a, vtep(1), vec![mac(1)]))
        .unwrap();
    assert!(ch.evpn.is_empty(), "same route again: no Loc-RIB change");
    r.apply_update(p, &reach(&b, vtep(1), vec![mac(2)]))
        .unwrap();
    assert!(!r.best(&key(1)).unwrap().stale);
    assert!(!r.best(&key(2)).unwrap().stale);
    assert!(r.best(&key(3)).unwrap().stale);
    // End-of-RIB: the one not re-advertised goes.
    let ch = r.sweep_stale(p, AfiSafi::L2VPN_EVPN).unwrap();
    assert_eq!(ch.evpn.len(), 1);
    assert_eq!(
        (ch.evpn[0].key, ch.evpn[0].kind),
        (key(3), ChangeKind::Withdrawn)
    );
    assert_eq!(r.table::<EvpnRouteKey>().len(), 2);
    assert!(r.sweep_stale(p, AfiSafi::L2VPN_EVPN).unwrap().is_empty());
}

#[test]
fn max_prefix_is_reported() {
    let mut r = rib();
    let p = r.add_peer(PeerConfig {
        max_prefix: Some(2),
        ..peer(LOCAL_AS, 1)
    });
    let ch = r
        .apply_update(p, &reach(&attrs(&[]), vtep(1), vec![mac(1), mac(2)]))
        .unwrap();
    assert!(ch.max_prefix_exceeded.is_empty());
    let ch = r
        .apply_update(p, &reach(&attrs(&[]), vtep(1), vec![mac(3)]))
        .unwrap();
    assert_eq!(ch.max_prefix_exceeded, vec![AfiSafi::L2VPN_EVPN]);
    assert_eq!(r.prefix_count(p, AfiSafi::L2VPN_EVPN), 3);
}

/// Route reflection: which peer gets a route from which, and with what.
#[test]
fn route_reflection_matrix() {
    // (source kind, destination kind, reflected?)
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum K {
        Client,
        NonClient,
        Ebgp,
        Local,
    }
    let cases = [
        (K::Client, K::Client, true),
        (K::Client, K::NonClient, true),
        (K::Client, K::Ebgp, true),
        (K::NonClient, K::Client, true),
        (K::NonClient, K::NonClient, false),
        (K::NonClient, K::Ebgp, true),
        (K::Ebgp, K::Client, true),
        (K::Ebgp, K::NonClient, true),
        (K::Ebgp, K::Ebgp, true),
        (K::Local, K::NonClient, true),
        (K::Local, K::Ebgp, true),
    ];
    for (src, dst, sent) in cases {
        let mut r = rib();
        let mk = |k: K, last: u8| match k {
            K::Client => client(last),
            K::NonClient => peer(LOCAL_AS, last),
            K::Ebgp => peer(65000 + u32::from(last), last),
            K::Local => unreachable!(),
        };
        let d = r.add_peer(mk(dst, 2));
        r.peer_up(d, AfiSafi::L2VPN_EVPN).unwrap();
        let a = attrs(if src == K::Ebgp { &[65003] } else { &[] });
        let s = if src == K::Local {
            r.originate::<EvpnRouteKey>(
                &[mac(1)],
                PathAttrs {
                    next_hop: Some(vtep(9)),
                    ..a
                },
            );
            LOCAL
        } else {
            let s = r.add_peer(mk(src, 3));
            r.apply_update(s, &reach(&a, vtep(3), vec![mac(1)]))
                .unwrap();
            s
        };
        let got = announced(&drain_all(&mut r, d));
        assert_eq!(!got.is_empty(), sent, "{src:?} -> {dst:?}");
        if !sent {
            continue;
        }
        let (nlri, out) = &got[0];
        assert_eq!(nlri, &mac(1));
        let reflected = matches!(src, K::Client | K::NonClient) && dst != K::Ebgp;
        if reflected {
            assert_eq!(
                out.originator_id,
                Some(Ipv4Addr::new(10, 0, 0, 3)),
                "{src:?} -> {dst:?}"
            );
            assert_eq!(out.cluster_list, vec![RID], "{src:?} -> {dst:?}");
        } else {
            assert_eq!(out.originator_id, None, "{src:?} -> {dst:?}");
            assert!(out.cluster_list.is_empty(), "{src:?} -> {dst:?}");
        }
        if dst == K::Ebgp {
            assert_eq!(out.as_path.first_as(), Some(LOCAL_AS));
            assert_eq!(out.local_pref, None);
        } else {
            assert_eq!(out.local_pref, Some(100));
        }
        // The EVPN next hop (the VTEP) is kept, on eBGP too.
        let nh = if src == K::Local { vtep(9) } else { vtep(3) };
        assert_eq!(out.next_hop, Some(nh), "{src:?} -> {dst:?}");
        // Split horizon: the source never gets its own route back.
        if src != K::Local {
            r.peer_up(s, AfiSafi::L2VPN_EVPN).unwrap();
            assert!(drain_all(&mut r, s).is_empty(), "{src:?} got its own route");
        }
    }
}

#[test]
fn reflection_keeps_existing_originator_and_prepends_cluster() {
    let mut r = rib();
    let a = r.add_peer(client(1));
    let b = r.add_peer(client(2));
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    let inbound = PathAttrs {
        originator_id: Some(Ipv4Addr::new(10, 0, 0, 50)),
        cluster_list: vec![Ipv4Addr::new(10, 0, 0, 200)],
        ..attrs(&[])
    };
    r.apply_update(a, &reach(&inbound, vtep(1), vec![mac(1)]))
        .unwrap();
    let got = announced(&drain_all(&mut r, b));
    assert_eq!(got[0].1.originator_id, Some(Ipv4Addr::new(10, 0, 0, 50)));
    assert_eq!(
        got[0].1.cluster_list,
        vec![RID, Ipv4Addr::new(10, 0, 0, 200)]
    );
    // Not reflected to the client whose router id is the ORIGINATOR_ID.
    let o = r.add_peer(client(50));
    r.peer_up(o, AfiSafi::L2VPN_EVPN).unwrap();
    assert!(drain_all(&mut r, o).is_empty());
}

#[test]
fn ebgp_export_strips_med_and_honours_next_hop_self_and_communities() {
    let mut r = rib();
    let src = r.add_peer(peer(LOCAL_AS, 1));
    let e = r.add_peer(peer(65100, 2));
    let nhs = r.add_peer(PeerConfig {
        next_hop_self: true,
        ..peer(65200, 3)
    });
    for p in [e, nhs] {
        r.peer_up(p, AfiSafi::L2VPN_EVPN).unwrap();
    }
    let a = PathAttrs {
        med: Some(50),
        local_pref: Some(300),
        ..attrs(&[])
    };
    let no_export = PathAttrs {
        communities: vec![Community::NO_EXPORT],
        ..a.clone()
    };
    r.apply_update(src, &reach(&a, vtep(1), vec![mac(1)]))
        .unwrap();
    r.apply_update(src, &reach(&no_export, vtep(1), vec![mac(2)]))
        .unwrap();
    let got = announced(&drain_all(&mut r, e));
    assert_eq!(got.len(), 1, "NO_EXPORT stays in the AS");
    let out = &got[0].1;
    assert_eq!((out.med, out.local_pref), (None, None));
    assert_eq!(out.as_path, AsPath::sequence(vec![LOCAL_AS]));
    assert_eq!(out.next_hop, Some(vtep(1)));
    let got = announced(&drain_all(&mut r, nhs));
    assert_eq!(
        got[0].1.next_hop,
        Some(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 254)))
    );
}

#[test]
fn adj_out_sends_nothing_for_the_same_best_twice() {
    let mut r = rib();
    let a = r.add_peer(peer(65100, 1));
    let b = r.add_peer(peer(LOCAL_AS, 2));
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    let x = attrs(&[65100]);
    r.apply_update(a, &reach(&x, vtep(1), vec![mac(1)]))
        .unwrap();
    assert_eq!(drain_all(&mut r, b).len(), 1);
    // Same route again: no change, nothing pending, nothing sent.
    r.apply_update(a, &reach(&x, vtep(1), vec![mac(1)]))
        .unwrap();
    assert_eq!(r.pending(b, AfiSafi::L2VPN_EVPN), 0);
    assert!(drain_all(&mut r, b).is_empty());
    // Churn that ends where it started before the peer drains: one dirty key, no UPDATE.
    let y = PathAttrs {
        med: Some(1),
        ..x.clone()
    };
    for _ in 0..50 {
        r.apply_update(a, &reach(&y, vtep(1), vec![mac(1)]))
            .unwrap();
        r.apply_update(a, &reach(&x, vtep(1), vec![mac(1)]))
            .unwrap();
    }
    assert_eq!(
        r.pending(b, AfiSafi::L2VPN_EVPN),
        1,
        "a slow peer only has dirty keys"
    );
    assert!(drain_all(&mut r, b).is_empty());
    // A real change is sent once.
    r.apply_update(a, &reach(&y, vtep(1), vec![mac(1)]))
        .unwrap();
    assert_eq!(announced(&drain_all(&mut r, b)).len(), 1);
}

#[test]
fn withdrawals_go_first() {
    let mut r = rib();
    let a = r.add_peer(peer(65100, 1));
    let b = r.add_peer(peer(LOCAL_AS, 2));
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    let x = attrs(&[65100]);
    r.apply_update(a, &reach(&x, vtep(1), vec![mac(1), mac(2)]))
        .unwrap();
    drain_all(&mut r, b);
    r.apply_update(a, &reach(&attrs(&[65100, 7]), vtep(1), vec![mac(2)]))
        .unwrap();
    r.apply_update(a, &Update::evpn_unreach(vec![key(1).to_nlri()]))
        .unwrap();
    let msgs = decode_all(&drain_all(&mut r, b));
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0].0, vec![key(1)]);
    assert_eq!(msgs[1].1.len(), 1);
    assert_eq!(r.adj_out::<EvpnRouteKey>(b).unwrap().advertised(), 1);
    // Peer down forgets the Adj-RIB-Out; peer up resends everything.
    r.out_down(b);
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    assert_eq!(announced(&drain_all(&mut r, b)).len(), 1);
}

#[test]
fn packing_n_routes_one_attribute_set() {
    let mut r = rib();
    let b = r.add_peer(peer(LOCAL_AS, 2));
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    let a = PathAttrs {
        next_hop: Some(vtep(9)),
        ..attrs(&[])
    };
    // Size of one UPDATE with a single route: the fixed part plus one 35-octet NLRI.
    r.originate::<EvpnRouteKey>(&[mac(0)], a.clone());
    let one = drain_all(&mut r, b);
    assert_eq!(one.len(), 1);
    let fixed = one[0].len() - 35;
    let k = (4096 - fixed) / 35;
    let n: u32 = 1000;
    let routes: Vec<_> = (1..=n).map(mac).collect();
    r.originate::<EvpnRouteKey>(&routes, a);
    // A small budget: only full messages (256 keys looked at, the part-filled tail
    // waits), the rest stays pending...
    let first = r.drain(b, AfiSafi::L2VPN_EVPN, 1).unwrap();
    assert_eq!(first.len(), 256 / k);
    assert!(first.iter().all(|m| m.len() + 35 > 4096), "full");
    assert_eq!(r.pending(b, AfiSafi::L2VPN_EVPN), n as usize - 256 / k * k);
    // ...and comes with the next calls, still packed: ceil(n / k) messages in all.
    let mut msgs = first;
    while r.pending(b, AfiSafi::L2VPN_EVPN) > 0 {
        msgs.extend(r.drain(b, AfiSafi::L2VPN_EVPN, 1).unwrap());
    }
    assert_eq!(msgs.len(), (n as usize).div_ceil(k));
    let got = announced(&msgs);
    assert_eq!(got.len(), n as usize);
    let mut keys: Vec<_> = got.iter().map(|(n, _)| n.key()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n as usize);
    let single = {
        let mut r2 = rib();
        let p = r2.add_peer(peer(LOCAL_AS, 2));
        r2.peer_up(p, AfiSafi::L2VPN_EVPN).unwrap();
        r2.originate::<EvpnRouteKey>(
            &routes,
            PathAttrs {
                next_hop: Some(vtep(9)),
                ..attrs(&[])
            },
        );
        drain_all(&mut r2, p)
    };
    assert_eq!(single.len(), (n as usize).div_ceil(k));
}

#[test]
fn ipv4_unicast_underlay_loopbacks() {
    let mut r = rib();
    let e = r.add_peer(peer(65100, 1));
    let i = r.add_peer(peer(LOCAL_AS, 2));
    let e2 = r.add_peer(peer(65200, 3));
    for p in [i, e2] {
        r.peer_up(p, AfiSafi::IPV4_UNICAST).unwrap();
    }
    let lo = crate::packet::Ipv4Prefix::new(Ipv4Addr::new(10, 0, 0, 9), 32).unwrap();
    let a = PathAttrs {
        next_hop: Some(IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1))),
        ..attrs(&[65100])
    };
    let u = Update {
        attributes: a.to_attributes_with_next_hop(),
        nlri: vec![lo],
        ..Default::default()
    };
    let ch = r.apply_update(e, &u).unwrap();
    assert_eq!(ch.ipv4.len(), 1);
    assert!(ch.evpn.is_empty());
    let to_ibgp = r.drain(i, AfiSafi::IPV4_UNICAST, 10).unwrap();
    let to_ebgp = r.drain(e2, AfiSafi::IPV4_UNICAST, 10).unwrap();
    let dec = |m: &BytesMut| match Message::decode(m, &DecodeOptions::default()) {
        Ok(Message::Update(u)) => u,
        _ => panic!(),
    };
    let ui = dec(&to_ibgp[0]);
    assert_eq!(ui.nlri, vec![lo]);
    assert_eq!(
        ui.next_hop(),
        Some(Ipv4Addr::new(192, 168, 0, 1)),
        "iBGP: unchanged"
    );
    let ue = dec(&to_ebgp[0]);
    assert_eq!(
        ue.next_hop(),
        Some(Ipv4Addr::new(192, 168, 0, 254)),
        "eBGP: ours"
    );
    let ch = r
        .apply_update(
            e,
            &Update {
                withdrawn: vec![lo],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ch.ipv4[0].kind, ChangeKind::Withdrawn);
    let w = dec(&r.drain(i, AfiSafi::IPV4_UNICAST, 10).unwrap()[0]);
    assert_eq!(w.withdrawn, vec![lo]);
}

/// A locally originated IPv4 network (FRR's `network`: origin IGP, no next hop of its
/// own) goes to iBGP and eBGP with the session's own address as NEXT_HOP, LOCAL_PREF 100
/// to iBGP, our AS alone to eBGP; to a peer whose session address is unknown it is not
/// sent (an UPDATE without NEXT_HOP would be malformed); withdrawn, it is withdrawn.
#[test]
fn locally_originated_ipv4_gets_the_sessions_address() {
    let mut r = rib();
    let i = r.add_peer(peer(LOCAL_AS, 2));
    let e = r.add_peer(peer(65200, 3));
    let mut unknown = peer(LOCAL_AS, 4);
    unknown.local_address = None;
    let u = r.add_peer(unknown);
    for p in [i, e, u] {
        r.peer_up(p, AfiSafi::IPV4_UNICAST).unwrap();
    }
    let lo = crate::packet::Ipv4Prefix::new(Ipv4Addr::new(10, 0, 0, 1), 32).unwrap();
    let ch = r.originate::<crate::packet::Ipv4Prefix>(&[lo], PathAttrs::default());
    assert_eq!(ch.len(), 1);
    let dec = |m: &BytesMut| match Message::decode(m, &DecodeOptions::default()) {
        Ok(Message::Update(u)) => u,
        other => panic!("not an UPDATE: {other:?}"),
    };
    let ours = Some(Ipv4Addr::new(192, 168, 0, 254));
    let ui = dec(&r.drain(i, AfiSafi::IPV4_UNICAST, 10).unwrap()[0]);
    assert!(ui.malformations.is_empty(), "{:?}", ui.malformations);
    assert_eq!((ui.nlri.clone(), ui.next_hop()), (vec![lo], ours), "iBGP");
    let a = PathAttrs::from_update(&ui, None);
    assert_eq!((a.origin, a.local_pref), (Origin::Igp, Some(100)));
    assert!(a.as_path.segments.is_empty(), "iBGP: empty AS_PATH");
    let ue = dec(&r.drain(e, AfiSafi::IPV4_UNICAST, 10).unwrap()[0]);
    assert_eq!(ue.next_hop(), ours, "eBGP");
    let a = PathAttrs::from_update(&ue, None);
    assert_eq!(
        (a.as_path, a.local_pref),
        (AsPath::sequence(vec![LOCAL_AS]), None)
    );
    assert!(r.drain(u, AfiSafi::IPV4_UNICAST, 10).unwrap().is_empty());
    assert_eq!(
        r.adj_out::<crate::packet::Ipv4Prefix>(u)
            .unwrap()
            .advertised(),
        0
    );

    r.withdraw_local::<crate::packet::Ipv4Prefix>(&[lo]);
    for p in [i, e] {
        let w = dec(&r.drain(p, AfiSafi::IPV4_UNICAST, 10).unwrap()[0]);
        assert_eq!(w.withdrawn, vec![lo]);
    }
    assert!(r.drain(u, AfiSafi::IPV4_UNICAST, 10).unwrap().is_empty());
}

#[test]
fn attribute_sets_are_shared_and_freed() {
    let mut r = rib();
    let p = r.add_peer(peer(65100, 1));
    let q = r.add_peer(peer(LOCAL_AS, 2));
    r.peer_up(q, AfiSafi::L2VPN_EVPN).unwrap();
    let routes: Vec<_> = (0..500).map(mac).collect();
    for vni in 0..4u32 {
        let a = PathAttrs {
            ext_communities: vec![ExtendedCommunity::route_target(RouteTarget::As2 {
                asn: 65001,
                value: vni,
            })],
            ..attrs(&[65100])
        };
        r.apply_update(
            p,
            &reach(&a, vtep(1), routes[vni as usize * 100..][..100].to_vec()),
        )
        .unwrap();
    }
    assert_eq!(r.attr_sets(), 4);
    drain_all(&mut r, q);
    // Exported sets (with LOCAL_PREF 100) are interned too: one per received set.
    assert_eq!(r.attr_sets(), 8);
    r.peer_down(p).unwrap();
    drain_all(&mut r, q);
    assert_eq!(r.attr_sets(), 0);
    assert_eq!(r.table::<EvpnRouteKey>().extras_len(), 0);
}

#[test]
fn non_key_nlri_fields_are_kept_shared_and_sent() {
    let mut r = rib();
    let p = r.add_peer(peer(65100, 1));
    let q = r.add_peer(peer(LOCAL_AS, 2));
    r.peer_up(q, AfiSafi::L2VPN_EVPN).unwrap();
    let irb = |i: u32, esi: u8| match mac(i) {
        EvpnNlri::MacIp(m) => EvpnNlri::MacIp(MacIpAdvertisement {
            ip: Some(IpAddr::V4(Ipv4Addr::new(10, 2, 0, i as u8))),
            esi: Esi([esi, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            label1: Label::from_vni(100 + i),
            label2: Some(Label::from_vni(5000)),
            ..m
        }),
        _ => unreachable!(),
    };
    let routes: Vec<_> = (0..10).map(|i| irb(i, (i % 2) as u8)).collect();
    r.apply_update(p, &reach(&attrs(&[65100]), vtep(1), routes.clone()))
        .unwrap();
    assert_eq!(
        r.table::<EvpnRouteKey>().extras_len(),
        2,
        "two ESIs, one L3VNI"
    );
    for n in &routes {
        assert_eq!(&r.best(&n.key()).unwrap().nlri, n);
    }
    let mut sent: Vec<_> = announced(&drain_all(&mut r, q))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    sent.sort_by_key(EvpnNlri::key);
    let mut want = routes.clone();
    want.sort_by_key(EvpnNlri::key);
    assert_eq!(sent, want, "labels, ESI and L3VNI go out as received");
    r.peer_down(p).unwrap();
    drain_all(&mut r, q);
    assert_eq!(r.table::<EvpnRouteKey>().extras_len(), 0);
}

#[test]
fn attributes_too_large_to_send_withdraw_the_older_version() {
    let mut r = rib();
    let a = r.add_peer(peer(65100, 1));
    let b = r.add_peer(peer(LOCAL_AS, 2));
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    r.apply_update(a, &reach(&attrs(&[65100]), vtep(1), vec![mac(1)]))
        .unwrap();
    assert_eq!(announced(&drain_all(&mut r, b)).len(), 1);
    // 400 large communities: 4800 octets, more than a 4096-octet message holds.
    let huge = PathAttrs {
        large_communities: (0..400)
            .map(|i| crate::packet::LargeCommunity {
                global_admin: 65100,
                local_data1: i,
                local_data2: 0,
            })
            .collect(),
        ..attrs(&[65100])
    };
    // Received over an extended-message session, say; decoded form is all the RIB sees.
    r.apply_update(a, &reach(&huge, vtep(1), vec![mac(1)]))
        .unwrap();
    let msgs = decode_all(&drain_all(&mut r, b));
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0].0,
        vec![key(1)],
        "withdrawn, not left stale at the peer"
    );
    assert_eq!(r.stats(b).unwrap().unsendable, 1);
    assert_eq!(r.adj_out::<EvpnRouteKey>(b).unwrap().advertised(), 0);
}

#[test]
fn deferred_tail_keys_that_change_again_are_sent_once_and_last_version_wins() {
    let mut r = rib();
    let a = r.add_peer(peer(65100, 1));
    let b = r.add_peer(peer(LOCAL_AS, 2));
    r.peer_up(b, AfiSafi::L2VPN_EVPN).unwrap();
    let x = attrs(&[65100]);
    let routes: Vec<_> = (0..600).map(mac).collect();
    r.apply_update(a, &reach(&x, vtep(1), routes.clone()))
        .unwrap();
    // 256 keys looked at (test setting): full messages out, the tail deferred.
    let mut msgs = r.drain(b, AfiSafi::L2VPN_EVPN, 1).unwrap();
    let deferred = r.adj_out::<EvpnRouteKey>(b).unwrap().deferred.clone();
    assert!(!deferred.is_empty());
    // Those keys change again (new next hop) while deferred.
    let moved: Vec<_> = deferred.iter().map(|k| k.to_nlri()).collect();
    let moved: Vec<_> = routes
        .iter()
        .filter(|n| moved.iter().any(|m| m.key() == n.key()))
        .cloned()
        .collect();
    r.apply_update(a, &reach(&x, vtep(7), moved.clone()))
        .unwrap();
    while r.pending(b, AfiSafi::L2VPN_EVPN) > 0 {
        msgs.extend(r.drain(b, AfiSafi::L2VPN_EVPN, 1).unwrap());
    }
    let got = announced(&msgs);
    assert_eq!(got.len(), 600, "each route announced exactly once");
    for (n, at) in &got {
        let want = if moved.contains(n) { vtep(7) } else { vtep(1) };
        assert_eq!(at.next_hop, Some(want));
    }
}

mod dirty;
mod mrai;

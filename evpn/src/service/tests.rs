use super::*;
use crate::mobility::Event;
use crate::testutil::*;
use bgp::packet::evpn::EvpnNlri;
use bgp::packet::extcomm::ExtendedCommunity;
use fib::RemoteFdb;

mod random;

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn svc(vnis: &[u32]) -> (EvpnService, Output) {
    let mut sv = EvpnService::new(EvpnConfig::new(65000, rid("10.0.0.1")));
    let out = sv.set_topology(&topology(vnis), s(0));
    (sv, out)
}

fn lm(sticky: bool) -> LocalMac {
    LocalMac { port: 7, sticky }
}

fn texts(routes: &[EvpnRoute]) -> Vec<String> {
    routes
        .iter()
        .map(|r| format!("{} {}", r.nlri.rd().unwrap(), r.nlri))
        .collect()
}

fn keys(keys: &[EvpnRouteKey]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

fn mm(r: &EvpnRoute) -> Option<ExtendedCommunity> {
    r.attrs
        .ext_communities
        .iter()
        .find(|c| matches!(c, ExtendedCommunity::MacMobility { .. }))
        .copied()
}

/// The output's deltas applied to a copy agree with the service, and the service agrees
/// with its own recomputation.
fn check(sv: &EvpnService) {
    let (orig, fib) = sv.recompute();
    assert_eq!(&orig, sv.originated());
    assert_eq!(fib, sv.fib());
}

#[test]
fn type3_per_vni_then_macs_and_neighbours() {
    let (mut sv, out) = svc(&[100, 200]);
    assert_eq!(
        texts(&out.advertise),
        vec![
            "10.0.0.1:2 [3]:[0]:[32]:[10.0.0.1]",
            "10.0.0.1:3 [3]:[0]:[32]:[10.0.0.1]"
        ]
    );
    let out = sv.local_mac_added(fk(100, "02:00:00:01:01:01"), lm(false), s(1));
    assert_eq!(
        texts(&out.advertise),
        vec!["10.0.0.1:2 [2]:[0]:[48]:[02:00:00:01:01:01]"]
    );
    assert_eq!(
        mm(&out.advertise[0]),
        None,
        "sequence 0, not sticky: no MAC mobility"
    );
    let out = sv.local_neigh_added(nk(100, "10.1.1.1"), mac("02:00:00:01:01:01"));
    assert_eq!(
        texts(&out.advertise),
        vec!["10.0.0.1:2 [2]:[0]:[48]:[02:00:00:01:01:01]:[32]:[10.1.1.1]"]
    );
    // A static MAC is advertised sticky.
    let out = sv.local_mac_added(fk(200, "02:00:00:01:02:01"), lm(true), s(1));
    assert_eq!(
        mm(&out.advertise[0]),
        Some(ExtendedCommunity::mac_mobility(0, true))
    );
    check(&sv);
    // Ageing out withdraws the MAC and its MAC+IP route, in one output.
    let out = sv.local_mac_removed(fk(100, "02:00:00:01:01:01"), s(300));
    assert_eq!(
        keys(&out.withdraw),
        vec![
            "10.0.0.1:2 [2]:[0]:[48]:[02:00:00:01:01:01]",
            "10.0.0.1:2 [2]:[0]:[48]:[02:00:00:01:01:01]:[32]:[10.1.1.1]"
        ]
    );
    // The neighbour entry alone no longer advertises anything; deleting it is silent.
    assert!(sv.local_neigh_removed(nk(100, "10.1.1.1")).is_empty());
    check(&sv);
}

#[test]
fn neighbour_changing_mac_moves_its_route() {
    let (mut sv, _) = svc(&[100]);
    sv.local_mac_added(fk(100, "02:00:00:00:00:01"), lm(false), s(1));
    sv.local_mac_added(fk(100, "02:00:00:00:00:02"), lm(false), s(1));
    sv.local_neigh_added(nk(100, "10.1.1.1"), mac("02:00:00:00:00:01"));
    let out = sv.local_neigh_added(nk(100, "10.1.1.1"), mac("02:00:00:00:00:02"));
    assert_eq!(
        keys(&out.withdraw),
        vec!["10.0.0.1:2 [2]:[0]:[48]:[02:00:00:00:00:01]:[32]:[10.1.1.1]"]
    );
    assert_eq!(
        texts(&out.advertise),
        vec!["10.0.0.1:2 [2]:[0]:[48]:[02:00:00:00:00:02]:[32]:[10.1.1.1]"]
    );
    check(&sv);
}

#[test]
fn host_moves_away_then_back() {
    let (mut sv, _) = svc(&[100]);
    let h = fk(100, "02:00:00:00:00:01");
    sv.local_mac_added(h, lm(false), s(1));
    sv.local_neigh_added(nk(100, "10.1.1.1"), h.mac);
    // Leaf 2 learned it with sequence 1 (host moved there).
    let (_, out) = sv.route_received(
        &t2(
            "10.0.0.2",
            100,
            "02:00:00:00:00:01",
            Some("10.1.1.1"),
            1,
            false,
        ),
        s(10),
    );
    assert_eq!(out.withdraw.len(), 2, "MAC and MAC+IP withdrawn");
    assert_eq!(
        out.events,
        vec![Event::MacMovedAway {
            key: h,
            vtep: ip("10.0.0.2"),
            sequence: 1,
            sticky: false
        }]
    );
    // The remote entry is now wanted in the kernel (the local one is superseded).
    assert_eq!(
        out.fib.fdb,
        vec![(
            h,
            Some(RemoteFdb {
                vtep: ip("10.0.0.2"),
                sticky: false
            })
        )]
    );
    // (Possibly after a repeated removal: the local MAC won until the route came.)
    assert_eq!(
        out.fib.neigh.last(),
        Some(&(nk(100, "10.1.1.1"), Some(h.mac)))
    );
    // ... marked as superseding the local row, which the kernel still lists on port 7:
    // fib::diff programs it (replacing the local row) instead of skipping it.
    assert_eq!(out.fib.supersede, vec![(h, true)]);
    assert!(sv.fib().supersede_local.contains(&h));
    let snap = fib::Snapshot {
        topology: topology(&[100]),
        local: sv.local().clone(),
        ..Default::default()
    };
    assert!(snap.local.macs.contains_key(&h));
    let plan = fib::diff(&sv.fib(), &snap);
    assert_eq!(
        plan.ops,
        vec![
            fib::Op::FdbReplace {
                key: h,
                dest: RemoteFdb {
                    vtep: ip("10.0.0.2"),
                    sticky: false
                }
            },
            fib::Op::NeighReplace {
                key: nk(100, "10.1.1.1"),
                mac: h.mac
            },
        ]
    );
    assert_eq!(plan.skipped, fib::Skipped::default());
    check(&sv);
    // The daemon deleted the local entry; later the host comes back.
    assert!(sv.local_mac_removed(h, s(11)).withdraw.is_empty());
    let out = sv.local_mac_added(h, lm(false), s(20));
    // Advertised with sequence 2, MAC+IP too (the neighbour entry is still there), and
    // the remote entries leave the desired state.
    assert_eq!(out.advertise.len(), 2);
    for r in &out.advertise {
        assert_eq!(mm(r), Some(ExtendedCommunity::mac_mobility(2, false)));
    }
    assert_eq!(out.fib.fdb, vec![(h, None)]);
    assert_eq!(out.fib.neigh, vec![(nk(100, "10.1.1.1"), None)]);
    assert!(sv.fib().supersede_local.is_empty());
    check(&sv);
    // Leaf 2 withdraws (it lost): nothing changes for us.
    let key = t2(
        "10.0.0.2",
        100,
        "02:00:00:00:00:01",
        Some("10.1.1.1"),
        1,
        false,
    )
    .route
    .key();
    let out = sv.route_withdrawn(&key, s(21));
    assert!(out.advertise.is_empty() && out.withdraw.is_empty());
    // At most a repeated removal of the neighbour (not desired before either).
    assert!(out.fib.fdb.is_empty() && out.fib.flood.is_empty() && out.fib.supersede.is_empty());
    assert!(
        out.fib.neigh.iter().all(|(_, v)| v.is_none()),
        "{:?}",
        out.fib
    );
    check(&sv);
}

#[test]
fn remote_first_then_local_learn_outbids() {
    let (mut sv, _) = svc(&[100]);
    let h = fk(100, "02:00:00:00:00:01");
    let (_, out) = sv.route_received(
        &t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 3, false),
        s(1),
    );
    assert_eq!(
        out.fib.fdb,
        vec![(
            h,
            Some(RemoteFdb {
                vtep: ip("10.0.0.2"),
                sticky: false
            })
        )]
    );
    let out = sv.local_mac_added(h, lm(false), s(2));
    assert_eq!(
        mm(&out.advertise[0]),
        Some(ExtendedCommunity::mac_mobility(4, false))
    );
    assert_eq!(out.fib.fdb, vec![(h, None)], "local wins");
    check(&sv);
}

#[test]
fn own_routes_echoed_back_change_nothing() {
    let (mut sv, _) = svc(&[100]);
    sv.local_mac_added(fk(100, "02:00:00:00:00:01"), lm(false), s(1));
    let ours: Vec<EvpnRoute> = sv.originated().values().cloned().collect();
    for r in ours {
        // As an FRR route reflector sends them back: ORIGINATOR_ID = us.
        let rr = ReceivedRoute {
            route: r.clone(),
            source: crate::route::RouteSource {
                peer: ip("10.255.1.0"),
                originator_id: Some(rid("10.0.0.1")),
            },
        };
        let (v, out) = sv.route_received(&rr, s(2));
        assert_eq!(v, Verdict::OwnRoute);
        assert!(out.is_empty());
        // As an eBGP spine sends them back: no ORIGINATOR_ID, same RD and next hop.
        let (v, out) = sv.route_received(&received(r), s(2));
        assert_eq!(v, Verdict::OwnRoute);
        assert!(out.is_empty());
    }
    assert!(sv.fib().is_empty());
    assert_eq!(sv.importer().counters.own_dropped, 4);
}

#[test]
fn vni_going_away_withdraws_and_unprograms() {
    let (mut sv, _) = svc(&[100, 200]);
    sv.local_mac_added(fk(200, "02:00:00:00:00:01"), lm(false), s(1));
    sv.route_received(
        &t2("10.0.0.2", 200, "02:00:00:00:00:02", None, 0, false),
        s(1),
    );
    sv.route_received(&t3("10.0.0.2", 200), s(1));
    let out = sv.set_topology(&topology(&[100]), s(2));
    assert_eq!(
        keys(&out.withdraw),
        vec![
            "10.0.0.1:3 [2]:[0]:[48]:[02:00:00:00:00:01]",
            "10.0.0.1:3 [3]:[0]:[32]:[10.0.0.1]"
        ]
    );
    assert_eq!(out.fib.fdb, vec![(fk(200, "02:00:00:00:00:02"), None)]);
    assert_eq!(out.fib.flood, vec![(Vni(200), ip("10.0.0.2"), false)]);
    assert!(sv.fib().is_empty());
    check(&sv);
    // It comes back: same RD index (3 was freed, and is the lowest free one again).
    let out = sv.set_topology(&topology(&[100, 200]), s(3));
    assert_eq!(out.advertise.len(), 2);
    assert_eq!(out.fib.fdb.len(), 1);
    assert_eq!(out.fib.flood.len(), 1);
    check(&sv);
}

#[test]
fn duplicate_detection_end_to_end() {
    let (mut sv, _) = svc(&[100]);
    let h = fk(100, "02:00:00:00:00:01");
    sv.local_mac_added(h, lm(false), s(0));
    let mut dup = vec![];
    let mut t = 1;
    // Bounce the host between us and leaf 2 every 10 s.
    for round in 0..3u32 {
        let seq = sv.mobility().get(&h).unwrap().sequence + 1;
        let (_, out) = sv.route_received(
            &t2("10.0.0.2", 100, "02:00:00:00:00:01", None, seq, false),
            s(t),
        );
        dup.extend(
            out.events
                .iter()
                .filter(|e| matches!(e, Event::DuplicateMac { .. }))
                .copied(),
        );
        t += 10;
        sv.local_mac_removed(h, s(t));
        let out = sv.local_mac_added(h, lm(false), s(t));
        dup.extend(
            out.events
                .iter()
                .filter(|e| matches!(e, Event::DuplicateMac { .. }))
                .copied(),
        );
        t += 10;
        check(&sv);
        if round == 1 {
            assert!(dup.is_empty(), "4 moves: not yet");
        }
    }
    assert_eq!(dup, vec![Event::DuplicateMac { key: h, moves: 5 }]);
    assert!(sv.mobility().get(&h).unwrap().frozen());
    let frozen_adv = sv.originated().clone();
    // Frozen: a higher remote sequence changes nothing we advertise.
    let (_, out) = sv.route_received(
        &t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 99, false),
        s(t),
    );
    assert!(out.advertise.is_empty() && out.withdraw.is_empty() && out.events.is_empty());
    assert_eq!(sv.originated(), &frozen_adv);
    check(&sv);
    // Clear: decided afresh (remote 99 wins), one event, counts reset.
    let out = sv.clear_duplicate(h, s(t + 1)).unwrap();
    assert!(matches!(
        out.events.as_slice(),
        [Event::MacMovedAway { sequence: 99, .. }]
    ));
    assert!(!sv.mobility().get(&h).unwrap().frozen());
    assert!(sv.clear_duplicate(h, s(t + 2)).is_none());
    check(&sv);
}

#[test]
fn auto_rt_of_other_as_imports_in_service() {
    let (mut sv, _) = svc(&[100]);
    let mut r = t2("10.0.0.2", 100, "02:00:00:00:00:09", None, 0, false);
    r.route.attrs = attrs("10.0.0.2", 65002, 100, 0, false);
    let (v, out) = sv.route_received(&r, s(1));
    assert_eq!(v, Verdict::Imported);
    assert_eq!(out.fib.fdb.len(), 1);
    // The originated type-2s carry the MAC as label VNI 100.
    sv.local_mac_added(fk(100, "02:00:00:00:00:01"), lm(false), s(1));
    let t2s = sv
        .originated()
        .values()
        .filter(|r| matches!(r.nlri, EvpnNlri::MacIp(_)))
        .count();
    assert_eq!(t2s, 1);
}

#[test]
fn config_change_of_import_rt_reimports_and_redecides_mobility() {
    let (mut sv, _) = svc(&[100]);
    let h = fk(100, "02:00:00:00:00:01");
    sv.local_mac_added(h, lm(false), s(0));
    // Leaf 2 tags its routes 65000:555: not imported with the auto RT.
    let mut r = t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 5, false);
    let mut a = (*r.route.attrs).clone();
    a.ext_communities[0] = ExtendedCommunity::route_target("65000:555".parse().unwrap());
    r.route.attrs = Arc::new(a);
    let mut other = r.clone();
    if let EvpnNlri::MacIp(m) = &mut other.route.nlri {
        m.mac = bgp::packet::types::MacAddress(mac("02:00:00:00:00:02").0);
    }
    assert_eq!(sv.route_received(&r, s(1)).0, Verdict::NotImported);
    assert_eq!(sv.route_received(&other, s(1)).0, Verdict::NotImported);
    // Now VNI 100 imports 65000:555: the other MAC is programmed, ours moved away.
    let mut c = sv.config().clone();
    c.vni.insert(
        Vni(100),
        crate::config::VniConfig {
            import_rt: vec!["65000:555".parse().unwrap()],
            ..Default::default()
        },
    );
    let out = sv.set_config(c, &topology(&[100]), s(2));
    assert!(out.advertise.is_empty(), "RD and export RT unchanged");
    assert_eq!(
        keys(&out.withdraw),
        vec!["10.0.0.1:2 [2]:[0]:[48]:[02:00:00:00:00:01]"]
    );
    assert!(matches!(
        out.events.as_slice(),
        [Event::MacMovedAway { sequence: 5, .. }]
    ));
    let mut fib = FibState::default();
    out.fib.apply(&mut fib);
    assert_eq!(fib.fdb.len(), 2);
    assert_eq!(fib, sv.fib());
    check(&sv);
}

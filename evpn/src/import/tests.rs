use super::*;
use crate::testutil::*;
use fib::RemoteFdb;

fn fdb(vtep: &str, sticky: bool) -> RemoteFdb {
    RemoteFdb {
        vtep: ip(vtep),
        sticky,
    }
}

fn no_local(_: &FdbKey) -> LocalRole {
    LocalRole::NotLocal
}

/// Feeds `routes` one by one and checks the incremental state against `full` after each.
fn import_all(inst: &Instances, routes: &[ReceivedRoute]) -> (Importer, FibState) {
    let mut imp = Importer::new();
    let mut mirror = FibState::default();
    for (n, r) in routes.iter().enumerate() {
        let mut d = FibDelta::default();
        imp.upsert(inst, r, &mut d);
        d.apply(&mut mirror);
        assert_eq!(mirror, imp.fib(), "deltas reproduce the state");
        assert_eq!(imp.remote_macs(), mirror.fdb.len(), "remote MAC count");
        assert_eq!(
            imp.fib(),
            full(inst, &routes[..=n], &no_local),
            "incremental == full after {n}"
        );
    }
    (imp, mirror)
}

#[test]
fn mac_mac_ip_and_type3_into_fib() {
    let inst = our_instances(&[100, 200]);
    let routes = [
        t2("10.0.0.2", 100, "02:00:00:02:01:01", None, 0, false),
        t2(
            "10.0.0.2",
            100,
            "02:00:00:02:01:01",
            Some("10.1.1.2"),
            0,
            false,
        ),
        t2(
            "10.0.0.2",
            100,
            "02:00:00:02:01:01",
            Some("fd00:1::2"),
            0,
            false,
        ),
        t2(
            "10.0.0.3",
            200,
            "02:00:00:03:01:01",
            Some("10.2.2.3"),
            0,
            true,
        ),
        t3("10.0.0.2", 100),
        t3("10.0.0.3", 100),
        t3("10.0.0.3", 200),
        // VNI 300 is not local: kept, not imported.
        t2("10.0.0.2", 300, "02:00:00:02:03:01", None, 0, false),
        t3("10.0.0.2", 300),
    ];
    let (imp, _) = import_all(&inst, &routes);
    let f = imp.fib();
    assert_eq!(
        f.fdb,
        [
            (fk(100, "02:00:00:02:01:01"), fdb("10.0.0.2", false)),
            (fk(200, "02:00:00:03:01:01"), fdb("10.0.0.3", true)),
        ]
        .into()
    );
    assert_eq!(
        f.neigh,
        [
            (nk(100, "10.1.1.2"), mac("02:00:00:02:01:01")),
            (nk(100, "fd00:1::2"), mac("02:00:00:02:01:01")),
            (nk(200, "10.2.2.3"), mac("02:00:00:03:01:01")),
        ]
        .into()
    );
    assert_eq!(
        f.flood,
        [
            (Vni(100), ip("10.0.0.2")),
            (Vni(100), ip("10.0.0.3")),
            (Vni(200), ip("10.0.0.3")),
        ]
        .into()
    );
    assert_eq!(imp.len(), 9);
}

#[test]
fn verdicts_and_route_forms() {
    let inst = our_instances(&[100]);
    let mut imp = Importer::new();
    let mut d = FibDelta::default();
    let cases = [
        (
            t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 0, false),
            Verdict::Imported,
        ),
        (
            t2("10.0.0.2", 999, "02:00:00:00:00:01", None, 0, false),
            Verdict::NotImported,
        ),
        (t3("10.0.0.2", 100), Verdict::Imported),
    ];
    for (r, v) in &cases {
        assert_eq!(imp.upsert(&inst, r, &mut d), *v, "{}", r.route.nlri);
    }
    // A type-5 route is not used by the L2 service.
    let mut t5 = t3("10.0.0.2", 100);
    t5.route.nlri = EvpnNlri::IpPrefix(bgp::packet::evpn::IpPrefix {
        rd: rd_of("10.0.0.2", 100),
        esi: bgp::packet::evpn::Esi::ZERO,
        ethernet_tag: 0,
        prefix_len: 24,
        prefix: ip("10.9.9.0"),
        gateway: ip("0.0.0.0"),
        label: bgp::packet::evpn::Label(100),
    });
    assert_eq!(imp.upsert(&inst, &t5, &mut d), Verdict::Ignored);
    assert_eq!(imp.counters.ignored, 1);
}

#[test]
fn flood_vtep_from_pmsi_then_originator_then_next_hop() {
    let inst = our_instances(&[100]);
    // PMSI endpoint differs from the originator: the endpoint wins.
    let mut a = t3("10.0.0.2", 100);
    let mut attrs = (*a.route.attrs).clone();
    attrs.pmsi = Some(bgp::packet::pmsi::PmsiTunnel::ingress_replication(
        100,
        ip("10.0.0.22"),
    ));
    a.route.attrs = Arc::new(attrs.clone());
    // No PMSI: the originator address.
    let mut b = t3("10.0.0.3", 100);
    let mut battrs = (*b.route.attrs).clone();
    battrs.pmsi = None;
    battrs.next_hop = ip("10.0.0.33");
    b.route.attrs = Arc::new(battrs);
    // No PMSI and originator 0.0.0.0: the next hop.
    let mut c = t3("10.0.0.4", 100);
    let mut cattrs = (*c.route.attrs).clone();
    cattrs.pmsi = None;
    c.route.attrs = Arc::new(cattrs);
    if let EvpnNlri::InclusiveMulticast(t) = &mut c.route.nlri {
        t.originator = ip("0.0.0.0");
    }
    let (imp, _) = import_all(&inst, &[a, b, c]);
    assert_eq!(
        imp.fib().flood,
        [
            (Vni(100), ip("10.0.0.22")),
            (Vni(100), ip("10.0.0.3")),
            (Vni(100), ip("10.0.0.4")),
        ]
        .into()
    );
}

#[test]
fn ebgp_rt_of_another_as_is_imported() {
    let inst = our_instances(&[100]);
    let mut r = t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 0, false);
    // Leaf 2 in AS 65002 exports 65002:100.
    r.route.attrs = attrs("10.0.0.2", 65002, 100, 0, false);
    let mut imp = Importer::new();
    let mut d = FibDelta::default();
    assert_eq!(imp.upsert(&inst, &r, &mut d), Verdict::Imported);
    assert_eq!(
        d.fdb,
        vec![(fk(100, "02:00:00:00:00:01"), Some(fdb("10.0.0.2", false)))]
    );
}

#[test]
fn own_routes_are_dropped() {
    let inst = our_instances(&[100]);
    // Reflected by an RR: ORIGINATOR_ID = us (RD and next hop of another leaf, to isolate
    // the check).
    let mut rr = t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 0, false);
    rr.source.originator_id = Some(rid("10.0.0.1"));
    // Sent back by an eBGP spine: our auto RD.
    let mut rd = t2("10.0.0.2", 100, "02:00:00:00:00:02", None, 0, false);
    if let EvpnNlri::MacIp(m) = &mut rd.route.nlri {
        m.rd = "10.0.0.1:2".parse().unwrap();
    }
    // Our VTEP as next hop (explicit RD that does not name us).
    let mut nh = t2("10.0.0.1", 100, "02:00:00:00:00:03", None, 0, false);
    if let EvpnNlri::MacIp(m) = &mut nh.route.nlri {
        m.rd = "65000:100".parse().unwrap();
    }
    // Type 3 with our VTEP as originator.
    let mut t3own = t3("10.0.0.2", 100);
    if let EvpnNlri::InclusiveMulticast(t) = &mut t3own.route.nlri {
        t.originator = ip("10.0.0.1");
    }
    let mut imp = Importer::new();
    let mut d = FibDelta::default();
    for r in [&rr, &rd, &nh, &t3own] {
        assert_eq!(
            imp.upsert(&inst, r, &mut d),
            Verdict::OwnRoute,
            "{}",
            r.route.nlri
        );
    }
    assert!(d.is_empty());
    assert!(imp.is_empty());
    assert_eq!(imp.counters.own_dropped, 4);
    assert_eq!(
        full(&inst, [&rr, &rd, &nh, &t3own], &no_local),
        FibState::default()
    );
    // Another leaf's explicit RD 65000:100 (same on every leaf) is not taken for ours.
    let mut other = t2("10.0.0.2", 100, "02:00:00:00:00:04", None, 0, false);
    if let EvpnNlri::MacIp(m) = &mut other.route.nlri {
        m.rd = "65000:100".parse().unwrap();
    }
    assert_eq!(imp.upsert(&inst, &other, &mut d), Verdict::Imported);
}

#[test]
fn local_mac_wins_over_remote() {
    let inst = our_instances(&[100]);
    let mut imp = Importer::new();
    let mut d = FibDelta::default();
    let m = fk(100, "02:00:00:00:00:01");
    imp.set_local(m, LocalRole::Wins, &mut d);
    assert!(d.is_empty());
    imp.upsert(
        &inst,
        &t2(
            "10.0.0.2",
            100,
            "02:00:00:00:00:01",
            Some("10.1.1.1"),
            0,
            false,
        ),
        &mut d,
    );
    // Neither the MAC nor a neighbour pointing at it is programmed (fib::diff agrees):
    // at most a repeated removal of the absent neighbour (the importer keeps no copy of
    // the neighbours to leave it out).
    assert!(
        d.fdb.is_empty() && d.flood.is_empty() && d.supersede.is_empty(),
        "{d:?}"
    );
    assert_eq!(d.neigh, vec![(nk(100, "10.1.1.1"), None)]);
    d = FibDelta::default();
    assert!(imp.fib().is_empty());
    // The local entry goes away: the remote one is programmed.
    imp.set_local(m, LocalRole::NotLocal, &mut d);
    assert_eq!(
        d,
        FibDelta {
            fdb: vec![(m, Some(fdb("10.0.0.2", false)))],
            flood: vec![],
            neigh: vec![(nk(100, "10.1.1.1"), Some(m.mac))],
            supersede: vec![],
        }
    );
    // And back.
    let mut d = FibDelta::default();
    imp.set_local(m, LocalRole::Wins, &mut d);
    assert_eq!(d.fdb, vec![(m, None)]);
    assert_eq!(d.neigh, vec![(nk(100, "10.1.1.1"), None)]);
    assert_eq!(imp.recompute(), imp.fib());
    // Superseded (moved away): programmed and marked; the mark goes with the entry.
    let mut d = FibDelta::default();
    imp.set_local(m, LocalRole::Superseded, &mut d);
    assert_eq!(d.fdb, vec![(m, Some(fdb("10.0.0.2", false)))]);
    assert_eq!(d.supersede, vec![(m, true)]);
    assert!(imp.fib().supersede_local.contains(&m));
    assert_eq!(imp.recompute(), imp.fib());
    let key = t2(
        "10.0.0.2",
        100,
        "02:00:00:00:00:01",
        Some("10.1.1.1"),
        0,
        false,
    )
    .route
    .key();
    let mut d = FibDelta::default();
    imp.withdraw(&key, &mut d);
    assert_eq!(d.fdb, vec![(m, None)]);
    assert_eq!(d.supersede, vec![(m, false)]);
    assert!(imp.fib().is_empty());
}

#[test]
fn best_remote_per_mac_sticky_then_seq_then_lowest_vtep() {
    let inst = our_instances(&[100]);
    let m = "02:00:00:00:00:01";
    // (routes for one MAC from several leaves, expected winner)
    let cases: Vec<(Vec<ReceivedRoute>, RemoteFdb)> = vec![
        // Higher sequence wins.
        (
            vec![
                t2("10.0.0.2", 100, m, None, 1, false),
                t2("10.0.0.3", 100, m, None, 2, false),
            ],
            fdb("10.0.0.3", false),
        ),
        // Equal sequence: lowest VTEP.
        (
            vec![
                t2("10.0.0.3", 100, m, None, 4, false),
                t2("10.0.0.2", 100, m, None, 4, false),
            ],
            fdb("10.0.0.2", false),
        ),
        // Sticky beats a higher sequence.
        (
            vec![
                t2("10.0.0.2", 100, m, None, 9, false),
                t2("10.0.0.3", 100, m, None, 0, true),
            ],
            fdb("10.0.0.3", true),
        ),
    ];
    for (routes, want) in cases {
        let (imp, _) = import_all(&inst, &routes);
        assert_eq!(imp.fib().fdb.get(&fk(100, m)), Some(&want));
        // Withdrawing the winner leaves the other one.
        let mut imp = imp;
        let winner = routes
            .iter()
            .find(|r| r.route.attrs.next_hop == want.vtep)
            .unwrap();
        let mut d = FibDelta::default();
        imp.withdraw(&winner.route.key(), &mut d);
        let other = routes
            .iter()
            .find(|r| r.route.attrs.next_hop != want.vtep)
            .unwrap();
        assert_eq!(
            d.fdb,
            vec![(
                fk(100, m),
                Some(fdb(
                    &other.route.attrs.next_hop.to_string(),
                    other.route.attrs.mobility().sticky
                ))
            )]
        );
    }
}

#[test]
fn replace_and_withdraw_give_exact_deltas() {
    let inst = our_instances(&[100]);
    let mut imp = Importer::new();
    let m = fk(100, "02:00:00:00:00:01");
    let mut d = FibDelta::default();
    imp.upsert(
        &inst,
        &t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 0, false),
        &mut d,
    );
    imp.upsert(&inst, &t3("10.0.0.2", 100), &mut d);
    // The same route again: nothing changes.
    let mut d = FibDelta::default();
    imp.upsert(
        &inst,
        &t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 0, false),
        &mut d,
    );
    assert!(d.is_empty());
    // Same key, now sticky: the entry is replaced in place.
    imp.upsert(
        &inst,
        &t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 0, true),
        &mut d,
    );
    assert_eq!(d.fdb, vec![(m, Some(fdb("10.0.0.2", true)))]);
    // Withdrawal by key only (FRR sends label 0): found and removed.
    let mut d = FibDelta::default();
    let mut w = t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 0, false)
        .route
        .nlri;
    if let EvpnNlri::MacIp(m) = &mut w {
        m.label1 = bgp::packet::evpn::Label(0);
    }
    let key = w.key();
    imp.withdraw(&key, &mut d);
    assert_eq!(d.fdb, vec![(m, None)]);
    imp.withdraw(&t3("10.0.0.2", 100).route.key(), &mut d);
    assert_eq!(d.flood, vec![(Vni(100), ip("10.0.0.2"), false)]);
    assert!(imp.fib().is_empty());
    assert!(imp.is_empty());
    // Withdrawing something unknown is harmless.
    let mut d = FibDelta::default();
    imp.withdraw(&key, &mut d);
    assert!(d.is_empty());
}

#[test]
fn rebuild_on_new_instances() {
    let routes = [
        t2("10.0.0.2", 100, "02:00:00:00:00:01", None, 0, false),
        t2("10.0.0.2", 200, "02:00:00:00:00:02", None, 0, false),
        t3("10.0.0.2", 200),
    ];
    let one = our_instances(&[100]);
    let (mut imp, mut mirror) = import_all(&one, &routes);
    assert_eq!(imp.fib().fdb.len(), 1);
    // VNI 200 appears, VNI 100 goes away.
    let two = our_instances(&[200]);
    let mut d = FibDelta::default();
    imp.rebuild(&two, &mut d);
    d.apply(&mut mirror);
    assert_eq!(mirror, imp.fib());
    assert_eq!(imp.fib(), full(&two, &routes, &no_local));
    assert_eq!(
        imp.fib().fdb.keys().next(),
        Some(&fk(200, "02:00:00:00:00:02"))
    );
    assert_eq!(imp.fib().flood.len(), 1);
}

#[test]
fn compact_sizes() {
    // What the per-route memory budget is built on (see the bench).
    assert_eq!(std::mem::size_of::<Cand>(), 8);
    assert_eq!(std::mem::size_of::<Slot>(), 44);
}

use super::*;
use crate::config::{AdvertiseVnis, VniConfig};
use fib::{Bridge, VxlanDevice};

fn cfg(asn: u32, rid: &str) -> EvpnConfig {
    EvpnConfig::new(asn, rid.parse().unwrap())
}

fn vteps(vnis: &[u32], vtep: &str) -> BTreeMap<Vni, IpAddr> {
    vnis.iter()
        .map(|v| (Vni(*v), vtep.parse().unwrap()))
        .collect()
}

fn rt(s: &str) -> RouteTarget {
    s.parse().unwrap()
}

fn ext_rt(s: &str) -> ExtendedCommunity {
    ExtendedCommunity::route_target(rt(s))
}

#[test]
fn auto_rd_and_rt_for_several_vnis_and_asns() {
    // (asn, router id, vnis) -> expected (vni, rd text, rt text) as FRR derives them.
    type Case<'a> = (u32, &'a str, &'a [u32], &'a [(u32, &'a str, &'a str)]);
    let cases: &[Case] = &[
        // One VNI: exactly what FRR 8.4 sent in tests/golden (10.0.0.1:2, 65000:100).
        (
            65000,
            "10.0.0.1",
            &[100],
            &[(100, "10.0.0.1:2", "65000:100")],
        ),
        // eBGP leaves: own AS in the RT.
        (
            65001,
            "10.0.0.1",
            &[100],
            &[(100, "10.0.0.1:2", "65001:100")],
        ),
        // Several VNIs: indexes 2, 3, 4 in VNI order; RT value = VNI (24-bit VNIs fit).
        (
            65000,
            "192.0.2.7",
            &[10, 200, 16777215],
            &[
                (10, "192.0.2.7:2", "65000:10"),
                (200, "192.0.2.7:3", "65000:200"),
                (16777215, "192.0.2.7:4", "65000:16777215"),
            ],
        ),
        // 4-octet AS: FRR keeps the low 16 bits (4200000001 = 0xfa56_ea01, so 0xea01 = 59905).
        (
            4200000001,
            "10.9.9.9",
            &[5000],
            &[(5000, "10.9.9.9:2", "59905:5000")],
        ),
    ];
    for (asn, rid, vnis, want) in cases {
        let c = cfg(*asn, rid);
        let inst = Instances::from_vteps(&c, &vteps(vnis, "10.0.0.1"), &Instances::default());
        assert_eq!(inst.len(), want.len());
        for (vni, rd, rtext) in *want {
            let i = inst.get(Vni(*vni)).unwrap();
            assert_eq!(i.rd.to_string(), *rd, "asn {asn} vni {vni}");
            assert_eq!(i.export_rts, vec![rt(rtext)], "asn {asn} vni {vni}");
            assert_eq!(i.import_rts, vec![ImportRt::Auto(rt(rtext))]);
        }
    }
}

#[test]
fn auto_rt_wire_bytes_match_frr() {
    // wire-notes / tests/golden: RT 00 02 <AS:2> <VNI:4>.
    let c = ExtendedCommunity::route_target(auto_route_target(65000, Vni(100)));
    assert_eq!(c.to_bytes(), [0x00, 0x02, 0xfd, 0xe8, 0, 0, 0, 0x64]);
    let c = ExtendedCommunity::route_target(auto_route_target(65001, Vni(100)));
    assert_eq!(hex::encode(c.to_bytes()), "0002fde900000064");
}

#[test]
fn rd_indexes_are_stable_and_never_collide() {
    let c = cfg(65000, "10.0.0.1");
    let a = Instances::from_vteps(&c, &vteps(&[100, 300], "10.0.0.1"), &Instances::default());
    let idx = |i: &Instances, v: u32| i.get(Vni(v)).unwrap().rd_index.unwrap();
    assert_eq!((idx(&a, 100), idx(&a, 300)), (2, 3));
    // A lower VNI appears: existing VNIs keep their RD, the new one takes the next index.
    let b = Instances::from_vteps(&c, &vteps(&[50, 100, 300], "10.0.0.1"), &a);
    assert_eq!((idx(&b, 50), idx(&b, 100), idx(&b, 300)), (4, 2, 3));
    // VNI 100 goes away: its index is free and reused by the next new VNI.
    let d = Instances::from_vteps(&c, &vteps(&[50, 300], "10.0.0.1"), &b);
    let e = Instances::from_vteps(&c, &vteps(&[50, 300, 400], "10.0.0.1"), &d);
    assert_eq!((idx(&e, 50), idx(&e, 300), idx(&e, 400)), (4, 3, 2));
    // 1000 VNIs: all RDs distinct.
    let many: Vec<u32> = (1..=1000).map(|v| v * 37).collect();
    let m = Instances::from_vteps(&c, &vteps(&many, "10.0.0.1"), &Instances::default());
    let rds: HashSet<_> = m.iter().map(|i| i.rd).collect();
    assert_eq!(rds.len(), 1000);
}

#[test]
fn lowest_free_index() {
    assert_eq!(lowest_free(&[]), Some(2));
    assert_eq!(lowest_free(&[2, 3, 5]), Some(4));
    assert_eq!(lowest_free(&[3]), Some(2));
    let all: Vec<u16> = (2..=u16::MAX).collect();
    assert_eq!(lowest_free(&all), None);
}

#[test]
fn explicit_rd_and_rts_override() {
    let mut c = cfg(65000, "10.0.0.1");
    c.vni.insert(
        Vni(100),
        VniConfig {
            rd: Some("65000:100".parse().unwrap()),
            import_rt: vec![rt("65000:1"), rt("65099:100")],
            export_rt: vec![rt("65000:2")],
        },
    );
    let inst = Instances::from_vteps(&c, &vteps(&[100, 200], "10.0.0.1"), &Instances::default());
    let i = inst.get(Vni(100)).unwrap();
    assert_eq!(i.rd.to_string(), "65000:100");
    assert_eq!(i.rd_index, None);
    assert_eq!(i.export_rts, vec![rt("65000:2")]);
    // VNI 200 still takes the first auto index.
    assert_eq!(inst.get(Vni(200)).unwrap().rd.to_string(), "10.0.0.1:2");
}

#[test]
fn import_matching_auto_any_as_explicit_exact() {
    let mut c = cfg(65001, "10.0.0.1");
    c.vni.insert(
        Vni(300),
        VniConfig {
            import_rt: vec![rt("65000:777"), rt("10.1.1.1:5")],
            ..Default::default()
        },
    );
    // Two VNIs share an explicit RT.
    c.vni.insert(
        Vni(400),
        VniConfig {
            import_rt: vec![rt("65000:777")],
            ..Default::default()
        },
    );
    let inst = Instances::from_vteps(
        &c,
        &vteps(&[100, 200, 300, 400], "10.0.0.1"),
        &Instances::default(),
    );
    let v = |list: &[&str]| -> Vec<u32> {
        let ext: Vec<ExtendedCommunity> = list.iter().map(|s| ext_rt(s)).collect();
        inst.importing(&ext)
            .as_slice()
            .iter()
            .map(|v| v.0)
            .collect()
    };
    let cases: &[(&[&str], &[u32])] = &[
        // Auto RT: our own AS, another leaf's AS (eBGP), any 2-octet AS.
        (&["65001:100"], &[100]),
        (&["65002:100"], &[100]),
        (&["1:200"], &[200]),
        // No local VNI 999.
        (&["65001:999"], &[]),
        // VNI 300 has explicit RTs: its auto RT no longer matches ...
        (&["65001:300"], &[]),
        // ... only its explicit ones, exactly.
        (&["65000:777"], &[300, 400]),
        (&["65001:777"], &[]),
        (&["10.1.1.1:5"], &[300]),
        (&["10.1.1.2:5"], &[]),
        // An IPv4-form RT whose value is a VNI is not an auto RT.
        (&["10.0.0.9:100"], &[]),
        // Several RTs: union, each VNI once.
        (&["65002:100", "65003:100", "65000:200"], &[100, 200]),
    ];
    for (rts, want) in cases {
        assert_eq!(v(rts), want.to_vec(), "{rts:?}");
    }
    // Non-RT communities are ignored.
    assert!(inst
        .importing(&[ExtendedCommunity::vxlan_encapsulation()])
        .is_empty());
}

#[test]
fn own_rd_and_vtep() {
    let c = cfg(65000, "10.0.0.1");
    let inst = Instances::from_vteps(&c, &vteps(&[100], "10.0.0.11"), &Instances::default());
    assert!(inst.is_own_rd(&"10.0.0.1:77".parse().unwrap()));
    assert!(!inst.is_own_rd(&"10.0.0.2:2".parse().unwrap()));
    assert!(!inst.is_own_rd(&"65000:100".parse().unwrap()));
    assert!(inst.is_own_vtep(&"10.0.0.11".parse().unwrap()));
    assert!(!inst.is_own_vtep(&"10.0.0.1".parse().unwrap()));
}

fn topo(devs: &[(u32, u32, bool, Option<&str>, bool)]) -> Topology {
    // (ifindex, vni, up, local, enslaved)
    let mut t = Topology::default();
    for &(ifindex, vni, up, local, enslaved) in devs {
        let br = ifindex + 1000;
        t.bridges.insert(
            br,
            Bridge {
                name: format!("br{vni}"),
                ifindex: br,
                mac: None,
                up: true,
                addrs: vec![],
            },
        );
        t.vxlans.insert(
            ifindex,
            VxlanDevice {
                name: format!("vxlan{vni}"),
                ifindex,
                vni: Some(Vni(vni)),
                local: local.map(|l| l.parse().unwrap()),
                dstport: 4789,
                learning: false,
                external: false,
                vnifilter: false,
                master: enslaved.then_some(br),
                up,
            },
        );
    }
    t
}

#[test]
fn build_from_topology_and_vni_selection() {
    let t = topo(&[
        (1, 100, true, Some("10.0.0.1"), true),
        (2, 200, false, Some("10.0.0.1"), true), // down
        (3, 300, true, None, true),              // no VTEP address
        (4, 400, true, Some("10.0.0.1"), false), // not in a bridge
        (5, 500, true, Some("10.0.0.1"), true),
    ]);
    let mut c = cfg(65000, "10.0.0.1");
    let all = Instances::build(&c, &t, &Instances::default());
    let vnis: Vec<u32> = all.iter().map(|i| i.vni.0).collect();
    assert_eq!(vnis, vec![100, 500]);
    // A configured VTEP fills in for the device without `local`.
    c.vtep = Some("10.0.0.9".parse().unwrap());
    let all = Instances::build(&c, &t, &Instances::default());
    let vnis: Vec<(u32, String)> = all.iter().map(|i| (i.vni.0, i.vtep.to_string())).collect();
    assert_eq!(
        vnis,
        vec![
            (100, "10.0.0.9".into()),
            (300, "10.0.0.9".into()),
            (500, "10.0.0.9".into())
        ]
    );
    c.advertise = AdvertiseVnis::Only([Vni(500), Vni(600)].into());
    let only = Instances::build(&c, &t, &Instances::default());
    let vnis: Vec<u32> = only.iter().map(|i| i.vni.0).collect();
    assert_eq!(vnis, vec![500]);
}

#[test]
fn config_from_json() {
    // The shape an operator writes (the daemon reads it through the `config` crate).
    let c: EvpnConfig = serde_json::from_str(
        r#"{
            "asn": 65001,
            "router_id": "10.0.0.1",
            "advertise": {"only": [100, 200]},
            "vni": {"100": {"rd": "65001:100", "import_rt": ["65000:100"]}},
            "dad": {"max_moves": 3}
        }"#,
    )
    .unwrap();
    assert_eq!(
        c.advertise,
        AdvertiseVnis::Only([Vni(100), Vni(200)].into())
    );
    assert_eq!(c.dad.max_moves, 3);
    assert_eq!(c.dad.window_secs, 180);
    assert!(c.dad.enabled);
    let v = &c.vni[&Vni(100)];
    assert_eq!(v.rd, Some("65001:100".parse().unwrap()));
    assert_eq!(v.import_rt, vec![rt("65000:100")]);
    assert!(v.export_rt.is_empty());
    let d: EvpnConfig = serde_json::from_str(r#"{"asn": 65000, "router_id": "10.0.0.2"}"#).unwrap();
    assert_eq!(d, cfg(65000, "10.0.0.2"));
}

//! UPDATE tests: FRR and GoBGP attribute orders byte-identical, builders and packer, and one
//! test per RFC 7606 rule with the expected verdict and NOTIFICATION bytes.

use std::net::{IpAddr, Ipv4Addr};

use bytes::BytesMut;

use super::*;
use crate::packet::error::Approach;
use crate::packet::evpn::{Esi, Label, MacIpAdvertisement};
use crate::packet::message::Message;
use crate::packet::notification::{Notification, UpdateSubcode};
use crate::packet::types::{MacAddress, RouteDistinguisher};

const OPTS: DecodeOptions = DecodeOptions {
    four_octet_as: true,
    extended_message: false,
};

/// UPDATE body from its three parts.
fn body(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = (withdrawn.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    b
}

fn decode(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Update {
    Update::decode(&body(withdrawn, attrs, nlri), &OPTS)
}

fn reencode(u: &Update) -> Vec<u8> {
    let mut out = BytesMut::new();
    u.encode(&mut out, &OPTS).unwrap();
    out.to_vec()
}

/// Type-2 NLRI (MAC only) of wire-notes.md: RD 10.0.0.1:2, ESI 0, tag 0, MAC, VNI 100.
fn type2_wire(last_mac_octet: u8) -> Vec<u8> {
    let mut n = vec![2, 33, 0, 1, 10, 0, 0, 1, 0, 2];
    n.extend_from_slice(&[0; 10]);
    n.extend_from_slice(&[0, 0, 0, 0, 48, 0xaa, 0xbb, 0xcc, 0, 0, last_mac_octet, 0]);
    n.extend_from_slice(&[0, 0, 100]);
    n
}

fn type2(i: u32) -> EvpnNlri {
    let m = i.to_be_bytes();
    EvpnNlri::MacIp(MacIpAdvertisement {
        rd: RouteDistinguisher::Ipv4 {
            addr: Ipv4Addr::new(10, 0, 0, 1),
            number: 2,
        },
        esi: Esi::default(),
        ethernet_tag: 0,
        mac_len: 48,
        mac: MacAddress([0xaa, 0xbb, m[0], m[1], m[2], m[3]]),
        ip: Some(IpAddr::V4(Ipv4Addr::from(i))),
        label1: Label(100),
        label2: None,
    })
}

fn mp_reach_evpn_value(nlri: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 25, 70, 4, 10, 0, 0, 1, 0];
    v.extend_from_slice(nlri);
    v
}

const ORIGIN_IGP: [u8; 4] = [0x40, 1, 1, 0];
const EXT_COMMS: [u8; 19] = [
    0xc0, 16, 16, 0x03, 0x0c, 0, 0, 0, 0, 0, 8, 0x00, 0x02, 0xfd, 0xe8, 0, 0, 0, 100,
];

fn as_path_65001(flags: u8) -> Vec<u8> {
    if flags & 0x10 != 0 {
        vec![flags, 2, 0, 6, 2, 1, 0, 0, 0xfd, 0xe9]
    } else {
        vec![flags, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9]
    }
}

#[test]
fn frr_order_mp_reach_first_extended_length() {
    let nlri = type2_wire(1);
    let mp = mp_reach_evpn_value(&nlri);
    let mut attrs = vec![0x90, 14, 0, mp.len() as u8];
    attrs.extend_from_slice(&mp);
    attrs.extend_from_slice(&ORIGIN_IGP);
    attrs.extend(as_path_65001(0x50));
    attrs.extend_from_slice(&[0x40, 5, 4, 0, 0, 0, 100]);
    attrs.extend_from_slice(&EXT_COMMS);
    let wire = body(&[], &attrs, &[]);
    let u = Update::decode(&wire, &OPTS);
    assert_eq!(u.verdict(), Verdict::Accept);
    assert_eq!(u.attributes[0].flags, 0x90);
    assert_eq!(u.attributes[0].type_code(), code::MP_REACH_NLRI);
    let mp = u.mp_reach().unwrap();
    assert_eq!(mp.family, AfiSafi::L2VPN_EVPN);
    assert_eq!(
        mp.next_hop.ip(),
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
    );
    let MpNlri::Evpn(routes) = &mp.nlri else {
        panic!("not EVPN")
    };
    assert_eq!(routes.len(), 1);
    let EvpnNlri::MacIp(r) = &routes[0] else {
        panic!("not type 2")
    };
    assert_eq!(r.mac.to_string(), "aa:bb:cc:00:00:01");
    assert_eq!(r.label1.vni(), 100);
    assert_eq!(u.origin(), Some(Origin::Igp));
    assert_eq!(u.as_path().unwrap().to_string(), "65001");
    assert_eq!(u.local_pref(), Some(100));
    assert_eq!(u.extended_communities().len(), 2);
    assert_eq!(reencode(&u), wire, "byte-identical");
}

#[test]
fn gobgp_order_mp_reach_last_one_octet_length() {
    let nlri = type2_wire(2);
    let mp = mp_reach_evpn_value(&nlri);
    let mut attrs = ORIGIN_IGP.to_vec();
    attrs.extend(as_path_65001(0x40));
    attrs.extend_from_slice(&[0x40, 5, 4, 0, 0, 0, 100]);
    attrs.extend_from_slice(&EXT_COMMS);
    attrs.extend_from_slice(&[0x80, 14, mp.len() as u8]);
    attrs.extend_from_slice(&mp);
    let wire = body(&[], &attrs, &[]);
    let u = Update::decode(&wire, &OPTS);
    assert_eq!(u.verdict(), Verdict::Accept);
    assert_eq!(u.attributes.last().unwrap().flags, 0x80);
    assert_eq!(u.mp_reach().unwrap().nlri.len(), 1);
    assert_eq!(reencode(&u), wire, "byte-identical");
}

#[test]
fn reflected_route_with_med_originator_cluster_and_pmsi() {
    // Type 3 with PMSI (ingress replication, VNI 100, VTEP 10.0.0.1), reflected by FRR.
    let mut nlri = vec![3, 17, 0, 1, 10, 0, 0, 1, 0, 2, 0, 0, 0, 0, 32, 10, 0, 0, 1];
    let mp = mp_reach_evpn_value(&nlri);
    let mut attrs = vec![0x90, 14, 0, mp.len() as u8];
    attrs.extend_from_slice(&mp);
    attrs.extend_from_slice(&ORIGIN_IGP);
    attrs.extend(as_path_65001(0x50));
    attrs.extend_from_slice(&[0x80, 4, 4, 0, 0, 0, 0]);
    attrs.extend_from_slice(&[0x40, 5, 4, 0, 0, 0, 100]);
    attrs.extend_from_slice(&[0x80, 9, 4, 10, 0, 0, 1]);
    attrs.extend_from_slice(&[0x80, 10, 4, 10, 0, 0, 254]);
    attrs.extend_from_slice(&EXT_COMMS);
    attrs.extend_from_slice(&[0xc0, 22, 9, 0, 6, 0, 0, 100, 10, 0, 0, 1]);
    let wire = body(&[], &attrs, &[]);
    let u = Update::decode(&wire, &OPTS);
    assert_eq!(u.verdict(), Verdict::Accept);
    assert_eq!(u.med(), Some(0));
    assert_eq!(u.originator_id(), Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(u.cluster_list(), &[Ipv4Addr::new(10, 0, 0, 254)]);
    let pmsi = u.pmsi_tunnel().unwrap();
    assert_eq!((pmsi.tunnel_type, pmsi.label), (6, 100));
    assert_eq!(reencode(&u), wire);
    nlri.clear();
}

#[test]
fn ipv4_update_with_withdrawn_and_nlri() {
    let mut attrs = ORIGIN_IGP.to_vec();
    attrs.extend(as_path_65001(0x40));
    attrs.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
    attrs.extend_from_slice(&[0xc0, 8, 4, 0xff, 0xff, 0xff, 0x01]);
    attrs.extend_from_slice(&[0xc0, 32, 12, 0, 0, 0xfd, 0xe9, 0, 0, 0, 1, 0, 0, 0, 2]);
    let wire = body(&[16, 10, 9], &attrs, &[24, 10, 1, 2, 32, 10, 0, 0, 9]);
    let u = Update::decode(&wire, &OPTS);
    assert_eq!(u.verdict(), Verdict::Accept);
    assert_eq!(u.withdrawn, vec!["10.9.0.0/16".parse().unwrap()]);
    assert_eq!(u.nlri.len(), 2);
    assert_eq!(u.next_hop(), Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(u.communities(), &[Community::NO_EXPORT]);
    assert_eq!(u.large_communities()[0].to_string(), "65001:1:2");
    assert_eq!(reencode(&u), wire);
    // Same with a 2-octet-AS session: the AS_PATH is read with 2-octet ASNs.
    let two = DecodeOptions {
        four_octet_as: false,
        ..OPTS
    };
    let mut attrs = ORIGIN_IGP.to_vec();
    attrs.extend_from_slice(&[0x40, 2, 4, 2, 1, 0xfd, 0xe9]);
    attrs.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
    attrs.extend_from_slice(&[0xc0, 17, 6, 2, 1, 0xfa, 0x56, 0xea, 0]);
    let u = Update::decode(&body(&[], &attrs, &[8, 10]), &two);
    assert_eq!(u.verdict(), Verdict::Accept);
    assert_eq!(u.as_path().unwrap().first_as(), Some(65001));
    assert!(matches!(
        u.attribute(code::AS4_PATH),
        Some(Attribute::As4Path(_))
    ));
}

#[test]
fn evpn_end_of_rib_both_flag_forms() {
    for attrs in [
        vec![0x80, 15, 3, 0, 25, 70],
        vec![0x90, 15, 0, 3, 0, 25, 70],
    ] {
        let u = decode(&[], &attrs, &[]);
        assert_eq!(u.verdict(), Verdict::Accept);
        assert_eq!(u.is_end_of_rib(), Some(AfiSafi::L2VPN_EVPN));
        assert_eq!(reencode(&u), body(&[], &attrs, &[]));
    }
    let eor = Update::end_of_rib(AfiSafi::L2VPN_EVPN);
    assert_eq!(reencode(&eor), body(&[], &[0x80, 15, 3, 0, 25, 70], &[]));
    // A withdrawal is not an End-of-RIB.
    let mut attrs = vec![0x90, 15, 0, 38, 0, 25, 70];
    attrs.extend(type2_wire(1));
    assert_eq!(decode(&[], &attrs, &[]).is_end_of_rib(), None);
}

#[test]
fn builders_and_message_round_trip() {
    let attrs = vec![
        PathAttribute::new(Attribute::Origin(Origin::Igp)),
        PathAttribute::new(Attribute::AsPath(AsPath::sequence(vec![65001]))),
    ];
    let u = Update::evpn_reach(
        attrs,
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        vec![type2(1)],
    );
    assert_eq!(u.attributes[0].flags, 0x90);
    let m = Message::Update(u.clone());
    let bytes = m.to_bytes(&OPTS).unwrap();
    assert_eq!(Message::decode(&bytes, &OPTS).unwrap(), m);
    let w = Update::evpn_unreach(vec![type2(1)]);
    let wm = Message::Update(w);
    let bytes = wm.to_bytes(&OPTS).unwrap();
    let Message::Update(back) = Message::decode(&bytes, &OPTS).unwrap() else {
        panic!()
    };
    assert_eq!(
        back.verdict(),
        Verdict::Accept,
        "MP_UNREACH alone needs no ORIGIN/AS_PATH"
    );
    assert_eq!(back.mp_unreach().unwrap().nlri.len(), 1);
}

fn common_attrs() -> Vec<PathAttribute> {
    vec![
        PathAttribute::new(Attribute::Origin(Origin::Igp)),
        PathAttribute::new(Attribute::AsPath(AsPath::sequence(vec![65001]))),
        PathAttribute::new(Attribute::ExtendedCommunities(vec![
            ExtendedCommunity::from_bytes([3, 0x0c, 0, 0, 0, 0, 0, 8]),
        ])),
    ]
}

fn pack_and_check(routes: &[EvpnNlri], opts: &DecodeOptions) -> usize {
    let msgs = pack_evpn_updates(
        &common_attrs(),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        routes,
        opts,
    )
    .unwrap();
    let mut got = Vec::new();
    for m in &msgs {
        assert!(m.len() <= opts.max_len());
        let Message::Update(u) = Message::decode(m, opts).unwrap() else {
            panic!("not an UPDATE")
        };
        assert_eq!(u.verdict(), Verdict::Accept);
        assert_eq!(u.origin(), Some(Origin::Igp));
        // RFC 7606 section 5.1: MP_REACH_NLRI is the first attribute.
        assert_eq!(u.attributes[0].type_code(), code::MP_REACH_NLRI);
        assert_eq!(u.attributes[0].flags, 0x90);
        assert_eq!(u.attributes.len(), 4);
        let Some(MpReach {
            nlri: MpNlri::Evpn(n),
            ..
        }) = u.mp_reach()
        else {
            panic!("no EVPN MP_REACH")
        };
        got.extend(n.iter().cloned());
        // Packed full: one more route would not have fit (all but the last message).
        if !std::ptr::eq(m, msgs.last().unwrap()) {
            assert!(m.len() + routes[0].encoded_len() > opts.max_len());
        }
    }
    assert_eq!(got, routes);
    msgs.len()
}

#[test]
fn packer_fills_each_update() {
    let routes: Vec<EvpnNlri> = (0..1000).map(type2).collect();
    // Each type-2 with IPv4 is 39 octets; the template is 19+4 + 4+4+11 + 4+9 = 55 octets.
    let n = pack_and_check(&routes, &OPTS);
    assert_eq!(n, 1000usize.div_ceil((4096 - 55) / 39));
    let ext = DecodeOptions {
        extended_message: true,
        ..OPTS
    };
    assert_eq!(pack_and_check(&routes, &ext), 1);
    assert!(
        pack_evpn_updates(&common_attrs(), IpAddr::V4(Ipv4Addr::LOCALHOST), &[], &OPTS)
            .unwrap()
            .is_empty()
    );
    let w = pack_evpn_withdrawals(&routes, &OPTS).unwrap();
    let mut total = 0;
    for m in &w {
        let Message::Update(u) = Message::decode(m, &OPTS).unwrap() else {
            panic!()
        };
        assert_eq!(u.verdict(), Verdict::Accept);
        total += u.mp_unreach().unwrap().nlri.len();
    }
    assert_eq!(total, 1000);
    assert_eq!(w.len(), 1000usize.div_ceil((4096 - 19 - 4 - 4 - 3) / 39));
}

// ---------------------------------------------------------------------------------------
// RFC 7606, one test per rule.

/// Mandatory attributes for an IPv4 UPDATE.
fn ipv4_mandatory() -> Vec<u8> {
    let mut a = ORIGIN_IGP.to_vec();
    a.extend(as_path_65001(0x40));
    a.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
    a
}

const NLRI: [u8; 4] = [24, 10, 1, 2];

fn reset(u: &Update) -> Notification {
    match u.verdict() {
        Verdict::SessionReset(n) => n,
        v => panic!(
            "expected a session reset, got {v:?} ({:?})",
            u.malformations
        ),
    }
}

fn notif_bytes(n: &Notification) -> Vec<u8> {
    let mut out = BytesMut::new();
    Message::Notification(n.clone())
        .encode(&OPTS, &mut out)
        .unwrap();
    out[19..].to_vec()
}

#[test]
fn withdrawn_length_overrun_is_reset_3_1() {
    let u = Update::decode(&[0, 10, 0, 0], &OPTS);
    assert_eq!(notif_bytes(&reset(&u)), [3, 1]);
}

#[test]
fn total_attribute_length_overrun_is_reset_3_1() {
    let u = Update::decode(&[0, 0, 0, 9, 0x40, 1, 1, 0], &OPTS);
    assert_eq!(notif_bytes(&reset(&u)), [3, 1]);
}

#[test]
fn bad_withdrawn_routes_is_reset_3_10() {
    let u = decode(&[33, 1, 2, 3, 4, 5], &[], &[]);
    assert_eq!(notif_bytes(&reset(&u)), [3, 10]);
    let u = decode(&[24, 10], &[], &[]);
    assert_eq!(notif_bytes(&reset(&u)), [3, 10]);
}

#[test]
fn truncated_nlri_and_trailing_garbage_are_reset_3_10() {
    let u = decode(&[], &ipv4_mandatory(), &[24, 10, 1]);
    assert_eq!(notif_bytes(&reset(&u)), [3, 10]);
    let mut nlri = NLRI.to_vec();
    nlri.push(0x21); // a 33-bit "prefix": garbage after the last NLRI
    let u = decode(&[], &ipv4_mandatory(), &nlri);
    assert_eq!(notif_bytes(&reset(&u)), [3, 10]);
    let mut nlri = NLRI.to_vec();
    nlri.push(0x18); // length octet with no prefix after it
    let u = decode(&[], &ipv4_mandatory(), &nlri);
    assert_eq!(notif_bytes(&reset(&u)), [3, 10]);
}

#[test]
fn duplicate_attribute_keeps_the_first() {
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x40, 1, 1, 2]); // second ORIGIN (INCOMPLETE)
    a.extend_from_slice(&[0x40, 1, 1, 9]); // a third, malformed: discarded unread
    let u = decode(&[], &a, &NLRI);
    assert_eq!(u.origin(), Some(Origin::Igp));
    assert_eq!(
        u.verdict(),
        Verdict::AttributeDiscard { discarded: vec![1] }
    );
    assert_eq!(u.nlri.len(), 1);
}

#[test]
fn duplicate_mp_reach_or_unreach_is_reset_3_1() {
    let mp = mp_reach_evpn_value(&type2_wire(1));
    let mut a = ORIGIN_IGP.to_vec();
    a.extend(as_path_65001(0x40));
    for _ in 0..2 {
        a.extend_from_slice(&[0x80, 14, mp.len() as u8]);
        a.extend_from_slice(&mp);
    }
    assert_eq!(notif_bytes(&reset(&decode(&[], &a, &[]))), [3, 1]);
    let a = [0x80, 15, 3, 0, 25, 70, 0x80, 15, 3, 0, 25, 70];
    assert_eq!(notif_bytes(&reset(&decode(&[], &a, &[]))), [3, 1]);
}

#[test]
fn flags_conflict_is_treat_as_withdraw() {
    // ORIGIN marked optional transitive.
    let mut a = vec![0xc0, 1, 1, 0];
    a.extend(as_path_65001(0x40));
    a.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
    let u = decode(&[], &a, &NLRI);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    assert_eq!(u.nlri.len(), 1, "the NLRI to withdraw are available");
    // MED marked well-known.
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x40, 4, 4, 0, 0, 0, 0]);
    assert_eq!(decode(&[], &a, &NLRI).verdict(), Verdict::TreatAsWithdraw);
    // Partial and extended-length bits do not count as conflicts.
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0xf0, 8, 0, 4, 0, 0, 0, 1]);
    assert_eq!(decode(&[], &a, &NLRI).verdict(), Verdict::Accept);
    // Without NLRI (only a withdrawal) it becomes a reset with 3/4 and the attribute.
    let u = decode(&NLRI, &[0xc0, 1, 1, 0], &[]);
    assert_eq!(notif_bytes(&reset(&u)), [3, 4, 0xc0, 1, 1, 0]);
}

#[test]
fn mp_reach_flags_conflict_is_reset_3_9() {
    let mp = mp_reach_evpn_value(&type2_wire(1));
    let mut a = ORIGIN_IGP.to_vec();
    a.extend(as_path_65001(0x40));
    let mut attr = vec![0xc0, 14, mp.len() as u8];
    attr.extend_from_slice(&mp);
    a.extend_from_slice(&attr);
    let n = reset(&decode(&[], &a, &[]));
    let mut want = vec![3, 9];
    want.extend_from_slice(&attr);
    assert_eq!(notif_bytes(&n), want);
}

/// Builds an IPv4 UPDATE whose `extra` attribute is malformed and returns its verdict.
fn verdict_with(extra: &[u8]) -> (Verdict, Update) {
    let mut a = ipv4_mandatory();
    a.extend_from_slice(extra);
    let u = decode(&[], &a, &NLRI);
    (u.verdict(), u)
}

#[test]
fn attribute_length_rules_of_section_7() {
    use Approach::*;
    let cases: [(&str, &[u8], Approach); 14] = [
        ("MED", &[0x80, 4, 3, 0, 0, 0], TreatAsWithdraw),
        ("LOCAL_PREF", &[0x40, 5, 5, 0, 0, 0, 0, 0], TreatAsWithdraw),
        ("ATOMIC_AGGREGATE", &[0x40, 6, 1, 0], AttributeDiscard),
        (
            "AGGREGATOR",
            &[0xc0, 7, 6, 0xfd, 0xe9, 1, 2, 3, 4],
            AttributeDiscard,
        ),
        ("COMMUNITIES", &[0xc0, 8, 5, 0, 0, 0, 0, 0], TreatAsWithdraw),
        ("COMMUNITIES empty", &[0xc0, 8, 0], TreatAsWithdraw),
        ("ORIGINATOR_ID", &[0x80, 9, 3, 1, 2, 3], TreatAsWithdraw),
        (
            "CLUSTER_LIST",
            &[0x80, 10, 5, 1, 2, 3, 4, 5],
            TreatAsWithdraw,
        ),
        (
            "EXTENDED_COMMUNITIES",
            &[0xc0, 16, 7, 0, 0, 0, 0, 0, 0, 0],
            TreatAsWithdraw,
        ),
        (
            "LARGE_COMMUNITIES",
            &[0xc0, 32, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            TreatAsWithdraw,
        ),
        ("PMSI_TUNNEL", &[0xc0, 22, 3, 0, 6, 0], TreatAsWithdraw),
        (
            "AS4_AGGREGATOR",
            &[0xc0, 18, 6, 0, 0, 1, 2, 3, 4],
            AttributeDiscard,
        ),
        ("AS_PATH zero-length segment", &[], TreatAsWithdraw),
        ("NEXT_HOP", &[], TreatAsWithdraw),
    ];
    for (name, extra, want) in cases {
        let v = match name {
            "AS_PATH zero-length segment" => {
                let mut a = ORIGIN_IGP.to_vec();
                a.extend_from_slice(&[0x40, 2, 2, 2, 0]);
                a.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
                let u = decode(&[], &a, &NLRI);
                assert_eq!(u.malformations[0].fault, Fault::MalformedAsPath);
                u.verdict()
            }
            "NEXT_HOP" => {
                let mut a = ORIGIN_IGP.to_vec();
                a.extend(as_path_65001(0x40));
                a.extend_from_slice(&[0x40, 3, 5, 192, 0, 2, 1, 0]);
                decode(&[], &a, &NLRI).verdict()
            }
            _ => verdict_with(extra).0,
        };
        let got = match v {
            Verdict::AttributeDiscard { .. } => AttributeDiscard,
            Verdict::TreatAsWithdraw => TreatAsWithdraw,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(got, want, "{name}");
    }
    // The discarded attribute is gone, the others are kept.
    let (v, u) = verdict_with(&[0xc0, 7, 6, 0xfd, 0xe9, 1, 2, 3, 4]);
    assert_eq!(v, Verdict::AttributeDiscard { discarded: vec![7] });
    assert!(u.attribute(code::AGGREGATOR).is_none());
    assert_eq!(u.attributes.len(), 3);
}

#[test]
fn escalated_notifications_carry_rfc4271_data() {
    // With no reachable NLRI, treat-as-withdraw errors become resets with their data.
    let withdraw_only = |attr: &[u8]| reset(&decode(&NLRI, attr, &[]));
    assert_eq!(
        notif_bytes(&withdraw_only(&[0x40, 1, 1, 3])),
        [3, 6, 0x40, 1, 1, 3]
    );
    assert_eq!(
        notif_bytes(&withdraw_only(&[0x40, 1, 2, 0, 0])),
        [3, 5, 0x40, 1, 2, 0, 0]
    );
    assert_eq!(notif_bytes(&withdraw_only(&[0x40, 2, 2, 2, 0])), [3, 11]);
    assert_eq!(
        notif_bytes(&withdraw_only(&[0x40, 3, 3, 1, 2, 3])),
        [3, 5, 0x40, 3, 3, 1, 2, 3]
    );
    // Attribute discard alone stays a discard.
    let u = decode(&NLRI, &[0x40, 6, 1, 0], &[]);
    assert_eq!(
        u.verdict(),
        Verdict::AttributeDiscard { discarded: vec![6] }
    );
}

#[test]
fn invalid_origin_value_is_treat_as_withdraw() {
    let mut a = vec![0x40, 1, 1, 3];
    a.extend(as_path_65001(0x40));
    a.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
    let u = decode(&[], &a, &NLRI);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    assert_eq!(
        u.malformations.len(),
        1,
        "present-but-malformed is not also 'missing'"
    );
}

#[test]
fn as4_path_malformed_or_from_new_speaker_is_discarded() {
    let two = DecodeOptions {
        four_octet_as: false,
        ..OPTS
    };
    let mut a = ORIGIN_IGP.to_vec();
    a.extend_from_slice(&[0x40, 2, 4, 2, 1, 0xfd, 0xe9]);
    a.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
    let mut bad = a.clone();
    bad.extend_from_slice(&[0xc0, 17, 6, 3, 1, 0, 0, 0, 1]); // confed segment in AS4_PATH
    let u = Update::decode(&body(&[], &bad, &NLRI), &two);
    assert_eq!(
        u.verdict(),
        Verdict::AttributeDiscard {
            discarded: vec![17]
        }
    );
    // From a 4-octet-AS speaker, AS4_PATH is discarded (RFC 6793 section 6).
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0xc0, 17, 6, 2, 1, 0, 0, 0, 1]);
    let u = decode(&[], &a, &NLRI);
    assert_eq!(
        u.verdict(),
        Verdict::AttributeDiscard {
            discarded: vec![17]
        }
    );
    assert!(u.attribute(code::AS4_PATH).is_none());
    // ... whatever its flags.
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x40, 17, 6, 2, 1, 0, 0, 0, 1]);
    let u = decode(&[], &a, &NLRI);
    assert_eq!(
        u.verdict(),
        Verdict::AttributeDiscard {
            discarded: vec![17]
        }
    );
}

#[test]
fn attribute_overrunning_the_area_is_treat_as_withdraw() {
    // MED claims 8 octets, 4 are there; the NLRI is still found via the total length.
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x80, 4, 8, 0, 0, 0, 0]);
    let u = decode(&[], &a, &NLRI);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    assert_eq!(u.nlri, vec!["10.1.2.0/24".parse().unwrap()]);
    // Fewer octets left than an attribute header.
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x80, 4]);
    let u = decode(&[], &a, &NLRI);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x90, 4, 0]);
    assert_eq!(decode(&[], &a, &NLRI).verdict(), Verdict::TreatAsWithdraw);
    // With no NLRI it is a reset: 3/5 with what was left.
    let u = decode(&NLRI, &[0x80, 4, 8, 0, 0], &[]);
    assert_eq!(notif_bytes(&reset(&u)), [3, 5, 0x80, 4, 8, 0, 0]);
    // A truncated header that names MP_REACH: its NLRI are lost, reset 3/9.
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x90, 14, 0]);
    assert_eq!(
        notif_bytes(&reset(&decode(&[], &a, &NLRI))),
        [3, 9, 0x90, 14, 0]
    );
    // An overrunning MP_REACH cannot be parsed at all: reset 3/9.
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x80, 14, 60, 0, 25, 70, 4]);
    assert_eq!(
        notif_bytes(&reset(&decode(&[], &a, &[]))),
        [3, 9, 0x80, 14, 60, 0, 25, 70, 4]
    );
}

#[test]
fn mp_reach_bad_next_hop_length_is_reset_3_9() {
    let mut mp = vec![0, 25, 70, 5, 10, 0, 0, 1, 9, 0];
    mp.extend(type2_wire(1));
    let mut attr = vec![0x90, 14, 0, mp.len() as u8];
    attr.extend_from_slice(&mp);
    let mut a = ORIGIN_IGP.to_vec();
    a.extend(as_path_65001(0x40));
    a.extend_from_slice(&attr);
    let u = decode(&[], &a, &[]);
    let mut want = vec![3, 9];
    want.extend_from_slice(&attr);
    assert_eq!(notif_bytes(&reset(&u)), want);
    assert_eq!(u.malformations[0].fault, Fault::InvalidMpAttribute);
}

#[test]
fn mp_attribute_too_short_or_truncated_nlri_is_reset_3_9() {
    let mut a = ORIGIN_IGP.to_vec();
    a.extend(as_path_65001(0x40));
    a.extend_from_slice(&[0x80, 14, 4, 0, 25, 70, 0]);
    assert_eq!(notif_bytes(&reset(&decode(&[], &a, &[])))[..2], [3, 9]);
    assert_eq!(
        notif_bytes(&reset(&decode(&[], &[0x80, 15, 2, 0, 25], &[])))[..2],
        [3, 9]
    );
    // EVPN NLRI cut short inside MP_REACH and MP_UNREACH.
    let mut nlri = type2_wire(1);
    nlri.truncate(20);
    let mp = mp_reach_evpn_value(&nlri);
    let mut a2 = a[..a.len() - 7].to_vec();
    a2.extend_from_slice(&[0x80, 14, mp.len() as u8]);
    a2.extend_from_slice(&mp);
    assert_eq!(notif_bytes(&reset(&decode(&[], &a2, &[])))[..2], [3, 9]);
    let mut un = vec![0x80, 15, 3 + nlri.len() as u8, 0, 25, 70];
    un.extend_from_slice(&nlri);
    assert_eq!(notif_bytes(&reset(&decode(&[], &un, &[])))[..2], [3, 9]);
}

#[test]
fn missing_well_known_is_treat_as_withdraw_with_type_code() {
    // IPv4 NLRI without NEXT_HOP.
    let mut a = ORIGIN_IGP.to_vec();
    a.extend(as_path_65001(0x40));
    let u = decode(&[], &a, &NLRI);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    assert_eq!(
        u.malformations[0].notification(),
        Notification::update(UpdateSubcode::MissingWellKnownAttribute, vec![3])
    );
    // MP-only UPDATE: NEXT_HOP not needed.
    let mp = mp_reach_evpn_value(&type2_wire(1));
    let mut mp_attr = vec![0x80, 14, mp.len() as u8];
    mp_attr.extend_from_slice(&mp);
    let mut a2 = a.clone();
    a2.extend_from_slice(&mp_attr);
    assert_eq!(decode(&[], &a2, &[]).verdict(), Verdict::Accept);
    // MP_REACH without ORIGIN.
    let mut a3 = as_path_65001(0x40);
    a3.extend_from_slice(&mp_attr);
    let u = decode(&[], &a3, &[]);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    assert_eq!(u.malformations[0].data, [1]);
    assert_eq!(
        u.mp_reach().unwrap().nlri.len(),
        1,
        "parsed NLRI available for withdrawal"
    );
    // Withdraw-only UPDATEs need nothing.
    assert_eq!(decode(&NLRI, &[], &[]).verdict(), Verdict::Accept);
}

#[test]
fn unrecognized_well_known_is_reset_3_2_with_attribute() {
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x40, 99, 2, 0xde, 0xad]);
    let u = decode(&[], &a, &NLRI);
    assert_eq!(notif_bytes(&reset(&u)), [3, 2, 0x40, 99, 2, 0xde, 0xad]);
}

#[test]
fn unknown_optional_attributes_are_kept_and_reencoded() {
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0xe0, 99, 2, 0xde, 0xad]); // optional transitive partial
    a.extend_from_slice(&[0x80, 98, 1, 7]); // optional non-transitive
    let wire = body(&[], &a, &NLRI);
    let u = Update::decode(&wire, &OPTS);
    assert_eq!(u.verdict(), Verdict::Accept);
    assert_eq!(
        u.attribute(99),
        Some(&Attribute::Unknown {
            type_code: 99,
            value: vec![0xde, 0xad]
        })
    );
    assert_eq!(reencode(&u), wire);
    let kept: Vec<_> = u
        .attributes
        .iter()
        .filter_map(PathAttribute::to_readvertise)
        .collect();
    assert_eq!(
        kept.len(),
        4,
        "the non-transitive unknown one is not passed on"
    );
}

#[test]
fn multiple_errors_strongest_wins() {
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x40, 6, 1, 0]); // discard
    a.extend_from_slice(&[0xc0, 8, 3, 0, 0, 0]); // treat-as-withdraw
    let u = decode(&[], &a, &NLRI);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    a.extend_from_slice(&[0x40, 99, 0]); // reset
    assert_eq!(
        notif_bytes(&reset(&decode(&[], &a, &NLRI))),
        [3, 2, 0x40, 99, 0]
    );
}

#[test]
fn json_of_malformed_update_shows_the_malformations() {
    let u = decode(&NLRI, &[0x40, 1, 1, 3], &[]);
    let j = serde_json::to_value(&u).unwrap();
    assert_eq!(j["malformations"][0]["fault"], "invalid_origin");
    assert_eq!(j["malformations"][0]["data"], "40010103");
    assert_eq!(
        u.malformations[0].to_string(),
        "ORIGIN: InvalidOrigin (value 3)"
    );
    let v = serde_json::to_value(u.verdict()).unwrap();
    assert_eq!(v["session_reset"]["code"], 3);
    assert_eq!(v["session_reset"]["subcode"], 6);
}

// ---------------------------------------------------------------------------------------
// Real bytes: the UPDATEs recorded from GoBGP 3.10 and FRR 8.4.4 in `evpn/golden.rs` (see
// there how they were made), copied here to check the whole-message codec on them.

const GOBGP: [&str; 8] = [
    // type 2 MAC+IPv4
    "ffffffffffffffffffffffffffffffff006a02000000534001010240020602010000fde8800e30001946047f00000100022500010a0000010002000000000000000000000000000030aabbccddeeff200a010101000064c010100002fde800000064030c000000000008",
    // type 2 MAC only
    "ffffffffffffffffffffffffffffffff0066020000004f4001010240020602010000fde8800e2c001946047f00000100022100010a0000010002000000000000000000000000000030aabbccddee0300000064c010100002fde800000064030c000000000008",
    // type 4 ES (LACP ESI)
    "ffffffffffffffffffffffffffffffff0064020000004d4001010240020602010000fde8800e22001946047f00000100041700010a000001000201aabbccddeeff000100200a000001c010180002fde800000064030c0000000000080602aabbccddeeff",
    // type 5 IPv6
    "ffffffffffffffffffffffffffffffff007f02000000684001010240020602010000fde8800e45001946047f00000100053a0000fde80000006400000000000000000000000000004020010db800010000000000000000000020010db8000000000000000000000001001388c010100002fde800000064030c000000000008",
    // type 3 IPv6 + PMSI
    "ffffffffffffffffffffffffffffffff007a02000000634001010240020602010000fde8800e28001946047f00000100031d00010a0000010002000000008020010db8000000000000000000000001c010100002fde800000064030c000000000008c01615000600006420010db8000000000000000000000001",
    // withdraw of the first route
    "ffffffffffffffffffffffffffffffff0044020000002d800f2a001946022500010a0000010002000000000000000000000000000030aabbccddeeff200a010101000064",
    // type 2 MAC+IPv4+L3VNI, ESI type 5, router MAC
    "ffffffffffffffffffffffffffffffff0075020000005e4001010240020602010000fde8800e33001946047f00000100022800010a0000010002050000fde800000007000000000030aabbccddee04200a010104000064001388c010180002fde800000064030c0000000000080603020000000001",
    // type 1 EAD per ES with ESI label
    "ffffffffffffffffffffffffffffffff005e02000000474001010240020602010000fde8800e24001946047f00000100011900010a000001000203aabbccddeeff000001ffffffff000000c010100002fde80000006406010000000000c8",
];

const FRR: [&str; 7] = [
    // type 2 MAC+IPv4 and MAC only, packed in one UPDATE
    "ffffffffffffffffffffffffffffffff00a5020000008e900e0053001946040a00000200022500010a0000020002000000000000000000000000000030aabbccddeeff200a010101000064022100010a0000020002000000000000000000000000000030aabbccddee0300000064400101025002000080040400000000400504000000648009040a000002800a040a000009c010100002fde800000064030c000000000008",
    // type 2 with ESI and L3VNI, router MAC
    "ffffffffffffffffffffffffffffffff008d0200000076900e0033001946040a00000200022800010a0000020002050000fde800000007000000000030aabbccddee04200a010104000064001388400101025002000080040400000000400504000000648009040a000002800a040a000009c010180002fde800000064030c0000000000080603020000000001",
    // type 3 with PMSI
    "ffffffffffffffffffffffffffffffff007a0200000063900e001c001946040a00000200031100010a000002000200000000200a000002400101025002000080040400000000400504000000648009040a000002800a040a000009c010100002fde800000064030c000000000008c0160900060000640a000002",
    // type 5 (RT 65000:5000, router MAC)
    "ffffffffffffffffffffffffffffffff00870200000070900e002d001946040a00000200052200010a00000200030000000000000000000000000000180a01010000000000001388400101025002000080040400000000400504000000648009040a000002800a040a000009c010180002fde800001388030c0000000000080603aabbccddeeff",
    // type 1 with ESI label
    "ffffffffffffffffffffffffffffffff0076020000005f900e0024001946040a00000200011900010a000002000203aabbccddeeff000001ffffffff000000400101025002000080040400000000400504000000648009040a000002800a040a000009c010100002fde80000006406010000000000c8",
    // type 4 with ES-Import RT
    "ffffffffffffffffffffffffffffffff007c0200000065900e0022001946040a00000200041700010a000002000201aabbccddeeff000100200a000002400101025002000080040400000000400504000000648009040a000002800a040a000009c010180002fde800000064030c0000000000080602aabbccddeeff",
    // withdrawal of type 2, 5 and 3 in one MP_UNREACH
    "ffffffffffffffffffffffffffffffff007c0200000065900f0061001946022500010a0000020002000000000000000000000000000030aabbccddeeff200a010101000000052200010a00000200030000000000000000000000000000180a01010000000000000000031100010a000002000200000000200a000002",
];

fn golden(hexes: &[&str]) -> Vec<(Vec<u8>, Update)> {
    hexes
        .iter()
        .map(|h| {
            let bytes = hex::decode(h).unwrap();
            let Message::Update(u) = Message::decode(&bytes, &OPTS).unwrap() else {
                panic!("not an UPDATE: {h}")
            };
            assert_eq!(u.verdict(), Verdict::Accept, "{h}: {:?}", u.malformations);
            let again = Message::Update(u.clone()).to_bytes(&OPTS).unwrap();
            assert_eq!(hex::encode(&again), *h, "re-encode is byte-identical");
            (bytes, u)
        })
        .collect()
}

#[test]
fn golden_gobgp_updates() {
    let all = golden(&GOBGP);
    for (_, u) in &all[..5] {
        // ORIGIN, AS_PATH, MP_REACH (0x80, 1-octet length), EXTENDED_COMMUNITIES.
        let codes: Vec<u8> = u.attributes.iter().map(PathAttribute::type_code).collect();
        assert_eq!(&codes[..3], &[1, 2, 14]);
        assert_eq!(u.attributes[2].flags, 0x80);
        assert_eq!(u.as_path().unwrap().to_string(), "65000");
        assert_eq!(
            u.mp_reach().unwrap().next_hop.ip(),
            Some(IpAddr::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(u.mp_reach().unwrap().nlri.len(), 1);
    }
    assert!(all[4].1.pmsi_tunnel().is_some());
    let w = &all[5].1;
    assert_eq!(w.attributes.len(), 1);
    assert_eq!(w.mp_unreach().unwrap().nlri.len(), 1);
    assert_eq!(w.is_end_of_rib(), None);
}

#[test]
fn golden_frr_reflected_updates() {
    let all = golden(&FRR);
    for (_, u) in &all[..6] {
        // MP_REACH first with 0x90; reflected: MED 0, ORIGINATOR_ID, CLUSTER_LIST.
        assert_eq!(u.attributes[0].type_code(), code::MP_REACH_NLRI);
        assert_eq!(u.attributes[0].flags, 0x90);
        assert_eq!(u.med(), Some(0));
        assert_eq!(u.local_pref(), Some(100));
        assert_eq!(u.originator_id(), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(u.cluster_list(), &[Ipv4Addr::new(10, 0, 0, 9)]);
        assert_eq!(u.origin(), Some(Origin::Incomplete));
        assert!(u.as_path().unwrap().segments.is_empty());
    }
    assert_eq!(all[0].1.mp_reach().unwrap().nlri.len(), 2);
    assert_eq!(all[2].1.pmsi_tunnel().unwrap().label, 100);
    let w = &all[6].1;
    assert_eq!(w.attributes[0].flags, 0x90);
    assert_eq!(w.mp_unreach().unwrap().nlri.len(), 3);
}

#[test]
fn ebgp_rules_discard_ibgp_only_attributes() {
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x40, 5, 4, 0, 0, 0, 100]); // LOCAL_PREF
    a.extend_from_slice(&[0x80, 9, 4, 10, 0, 0, 1]); // ORIGINATOR_ID
    let mut u = decode(&[], &a, &NLRI);
    assert_eq!(u.verdict(), Verdict::Accept, "fine from an iBGP peer");
    u.apply_ebgp_rules();
    assert_eq!(
        u.verdict(),
        Verdict::AttributeDiscard {
            discarded: vec![5, 9]
        }
    );
    assert_eq!(u.local_pref(), None);
    assert_eq!(u.originator_id(), None);
    // A malformed LOCAL_PREF: treat-as-withdraw from iBGP, discard from eBGP.
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0x40, 5, 3, 0, 0, 100]);
    let mut u = decode(&[], &a, &NLRI);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    u.apply_ebgp_rules();
    assert_eq!(
        u.verdict(),
        Verdict::AttributeDiscard { discarded: vec![5] }
    );
    // CLUSTER_LIST with bad flags from eBGP: discarded too.
    let mut a = ipv4_mandatory();
    a.extend_from_slice(&[0xc0, 10, 4, 1, 2, 3, 4]);
    let mut u = decode(&[], &a, &NLRI);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    u.apply_ebgp_rules();
    assert_eq!(
        u.verdict(),
        Verdict::AttributeDiscard {
            discarded: vec![10]
        }
    );
}

#[test]
fn first_as_check_is_treat_as_withdraw() {
    let mut u = decode(&[], &ipv4_mandatory(), &NLRI);
    u.check_first_as(65001);
    assert_eq!(u.verdict(), Verdict::Accept);
    u.check_first_as(65002);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    assert_eq!(
        u.malformations[0].to_string(),
        "AS_PATH: MalformedAsPath (leftmost AS 65001 is not the peer AS 65002)"
    );
    // An empty AS_PATH from an external peer fails too; a confederation one is not checked.
    let mut a = ORIGIN_IGP.to_vec();
    a.extend_from_slice(&[0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1]);
    let mut u = decode(&[], &a, &NLRI);
    u.check_first_as(65001);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    let mut a = ORIGIN_IGP.to_vec();
    a.extend_from_slice(&[0x40, 2, 6, 3, 1, 0, 0, 0, 9, 0x40, 3, 4, 192, 0, 2, 1]);
    let mut u = decode(&[], &a, &NLRI);
    u.check_first_as(65001);
    assert_eq!(u.verdict(), Verdict::Accept);
}

#[test]
fn zero_length_attributes_are_malformed_except_as_path_and_atomic_aggregate() {
    let mut a = ORIGIN_IGP.to_vec();
    a.extend_from_slice(&[0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1, 0x40, 6, 0]);
    assert_eq!(decode(&[], &a, &NLRI).verdict(), Verdict::Accept);
    for (t, fl, want) in [
        (4u8, 0x80u8, Approach::TreatAsWithdraw),
        (5, 0x40, Approach::TreatAsWithdraw),
        (7, 0xc0, Approach::AttributeDiscard),
        (8, 0xc0, Approach::TreatAsWithdraw),
        (9, 0x80, Approach::TreatAsWithdraw),
        (10, 0x80, Approach::TreatAsWithdraw),
        (16, 0xc0, Approach::TreatAsWithdraw),
        (22, 0xc0, Approach::TreatAsWithdraw),
        (32, 0xc0, Approach::TreatAsWithdraw),
        (14, 0x80, Approach::SessionReset),
        (15, 0x80, Approach::SessionReset),
    ] {
        let mut a = ipv4_mandatory();
        a.extend_from_slice(&[fl, t, 0]);
        let u = decode(&[], &a, &NLRI);
        let got = u
            .malformations
            .iter()
            .find(|m| m.attr_type == Some(t))
            .map(Malformation::approach);
        assert_eq!(got, Some(want), "type {t}");
    }
    // ORIGIN and NEXT_HOP of length zero.
    let mut a = vec![0x40, 1, 0];
    a.extend(as_path_65001(0x40));
    a.extend_from_slice(&[0x40, 3, 0]);
    let u = decode(&[], &a, &NLRI);
    assert_eq!(u.malformations.len(), 2);
    assert_eq!(u.verdict(), Verdict::TreatAsWithdraw);
    // AS4_PATH of length zero from a 2-octet-AS peer: discarded.
    let two = DecodeOptions {
        four_octet_as: false,
        ..OPTS
    };
    let mut a = ORIGIN_IGP.to_vec();
    a.extend_from_slice(&[0x40, 2, 4, 2, 1, 0xfd, 0xe9, 0x40, 3, 4, 192, 0, 2, 1]);
    a.extend_from_slice(&[0xc0, 17, 0]);
    let u = Update::decode(&body(&[], &a, &NLRI), &two);
    assert_eq!(
        u.verdict(),
        Verdict::AttributeDiscard {
            discarded: vec![17]
        }
    );
}

//! Golden bytes: UPDATEs that GoBGP 3.10.0 and FRR 8.4.4 really sent.
//!
//! GoBGP: `gobgpd` (AS 65000, router-id 10.0.0.1, neighbor 127.0.0.1 with l2vpn-evpn)
//! against a throw-away Python BGP listener on loopback that recorded every UPDATE in
//! hex, after `gobgp global rib -a evpn add ...` for each route below (and one `del`).
//!
//! FRR: in a network namespace with 10.0.0.1-3 on lo, `bgpd -Z` (AS 65000, route
//! reflector) between that GoBGP (10.0.0.2, injecting the same kinds of routes with RD
//! 10.0.0.2:x) and the recording listener (10.0.0.3); FRR re-encoded what it reflected.
//! `show bgp l2vpn evpn` on that bgpd printed the prefixes asserted below.
//!
//! The attribute walk here is test-only; the real UPDATE parser lives elsewhere.

use super::*;
use crate::packet::extcomm::ExtendedCommunity;
use crate::packet::pmsi::{PmsiTunnel, TunnelIdentifier};

const UPDATES: [&str; 8] = [
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

const FRR_UPDATES: [&str; 7] = [
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

/// (MP_REACH or MP_UNREACH NLRI, extended communities, PMSI value) of one UPDATE.
struct Parsed {
    reach: bool,
    nlri: Vec<u8>,
    ext: Vec<[u8; 8]>,
    pmsi: Option<Vec<u8>>,
}

fn parse(hex_msg: &str) -> Parsed {
    let m = ::hex::decode(hex_msg).unwrap();
    assert_eq!(m[18], 2, "UPDATE");
    let body = &m[19..];
    let wlen = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let at = 2 + wlen;
    let alen = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
    let mut attrs = &body[at + 2..at + 2 + alen];
    let mut p = Parsed {
        reach: false,
        nlri: vec![],
        ext: vec![],
        pmsi: None,
    };
    while !attrs.is_empty() {
        let (flags, code) = (attrs[0], attrs[1]);
        let (len, hdr) = if flags & 0x10 != 0 {
            (usize::from(u16::from_be_bytes([attrs[2], attrs[3]])), 4)
        } else {
            (usize::from(attrs[2]), 3)
        };
        let v = &attrs[hdr..hdr + len];
        match code {
            14 => {
                assert_eq!(&v[..3], &[0, 25, 70], "AFI 25 SAFI 70");
                let nh_len = usize::from(v[3]);
                p.reach = true;
                p.nlri = v[4 + nh_len + 1..].to_vec();
            }
            15 => {
                assert_eq!(&v[..3], &[0, 25, 70]);
                p.nlri = v[3..].to_vec();
            }
            16 => p.ext = v.chunks(8).map(|c| c.try_into().unwrap()).collect(),
            22 => p.pmsi = Some(v.to_vec()),
            _ => {}
        }
        attrs = &attrs[hdr + len..];
    }
    p
}

fn one_nlri(p: &Parsed) -> EvpnNlri {
    let list = decode_nlri_list(&p.nlri).unwrap();
    assert_eq!(list.len(), 1);
    let mut again = BytesMut::new();
    list[0].encode(&mut again);
    assert_eq!(again.to_vec(), p.nlri, "re-encodes to GoBGP's bytes");
    list.into_iter().next().unwrap()
}

fn ext_text(p: &Parsed) -> Vec<String> {
    p.ext
        .iter()
        .map(|b| {
            let c = ExtendedCommunity::from_bytes(*b);
            assert_eq!(c.to_bytes(), *b);
            c.to_string()
        })
        .collect()
}

#[test]
fn gobgp_updates_decode_and_reencode_exactly() {
    let want: [(&str, &[&str]); 8] = [
        (
            "[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[32]:[10.1.1.1]",
            &["RT:65000:100", "ET:8"],
        ),
        (
            "[2]:[0]:[48]:[aa:bb:cc:dd:ee:03]",
            &["RT:65000:100", "ET:8"],
        ),
        (
            "[4]:[01:aa:bb:cc:dd:ee:ff:00:01:00]:[32]:[10.0.0.1]",
            // ES-Import route target (06 02): raw, printed as FRR does.
            &["RT:65000:100", "ET:8", "ES-Import-Rt:aa:bb:cc:dd:ee:ff"],
        ),
        ("[5]:[0]:[64]:[2001:db8:1::]", &["RT:65000:100", "ET:8"]),
        ("[3]:[0]:[128]:[2001:db8::1]", &["RT:65000:100", "ET:8"]),
        ("[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[32]:[10.1.1.1]", &[]),
        (
            "[2]:[0]:[48]:[aa:bb:cc:dd:ee:04]:[32]:[10.1.1.4]",
            &["RT:65000:100", "ET:8", "Rmac:02:00:00:00:00:01"],
        ),
        (
            "[1]:[4294967295]:[03:aa:bb:cc:dd:ee:ff:00:00:01]:[32]:[0.0.0.0]:[0]",
            &["RT:65000:100", "ESI-label-Rt:AA"],
        ),
    ];
    for (i, (text, ext)) in want.iter().enumerate() {
        let p = parse(UPDATES[i]);
        let n = one_nlri(&p);
        assert_eq!(n.to_string(), *text, "update {i}");
        assert_eq!(ext_text(&p), *ext, "update {i}");
        assert_eq!(p.reach, i != 5, "update {i}");
    }
}

#[test]
fn gobgp_field_values() {
    // VNI 100 in all 24 bits of label1; L3VNI 5000 in label2.
    let EvpnNlri::MacIp(r) = one_nlri(&parse(UPDATES[6])) else {
        panic!("type 2")
    };
    assert_eq!(r.label1.vni(), 100);
    assert_eq!(r.label2.map(Label::vni), Some(5000));
    assert_eq!(
        r.esi.kind(),
        EsiKind::As {
            asn: 65000,
            local_discriminator: 7
        }
    );
    // Type 5 over IPv6: gateway and label.
    let EvpnNlri::IpPrefix(r) = one_nlri(&parse(UPDATES[3])) else {
        panic!("type 5")
    };
    assert_eq!(r.gateway, "2001:db8::1".parse::<IpAddr>().unwrap());
    assert_eq!(r.label.vni(), 5000);
    // ESI label community: label 200, all-active.
    let p = parse(UPDATES[7]);
    assert_eq!(
        ExtendedCommunity::from_bytes(p.ext[1]),
        ExtendedCommunity::EsiLabel {
            flags: 0,
            label: 200
        }
    );
}

#[test]
fn gobgp_pmsi_is_ingress_replication_with_unshifted_vni() {
    let p = parse(UPDATES[4]);
    let raw = p.pmsi.expect("type 3 carries PMSI_TUNNEL");
    assert_eq!(raw.len(), 21, "IPv6 VTEP");
    let pmsi = PmsiTunnel::decode(&raw).unwrap();
    let vtep: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(pmsi, PmsiTunnel::ingress_replication(100, vtep));
    assert_eq!(pmsi.tunnel_id, TunnelIdentifier::Ip(vtep));
    let mut again = BytesMut::new();
    pmsi.encode(&mut again);
    assert_eq!(again.to_vec(), raw);
}

#[test]
fn gobgp_withdrawal_carries_the_vni_and_matches_the_route_key() {
    let adv = one_nlri(&parse(UPDATES[0]));
    let wd = one_nlri(&parse(UPDATES[5]));
    assert_eq!(
        adv, wd,
        "GoBGP withdraws with the full NLRI, label included"
    );
    assert_eq!(adv.key(), wd.key());
    // An FRR-style withdrawal (label 0) of the same route has the same key.
    let mut frr = wd.clone();
    if let EvpnNlri::MacIp(r) = &mut frr {
        r.label1 = Label(0);
    }
    assert_ne!(frr, adv);
    assert_eq!(frr.key(), adv.key());
}

fn all_nlri(p: &Parsed) -> Vec<EvpnNlri> {
    let list = decode_nlri_list(&p.nlri).unwrap();
    let mut again = BytesMut::new();
    for n in &list {
        n.encode(&mut again);
    }
    assert_eq!(again.to_vec(), p.nlri, "re-encodes to FRR's bytes");
    list
}

/// `show bgp l2vpn evpn` of FRR 8.4.4 for these routes: prefix line, then communities.
#[test]
fn frr_updates_match_frr_show_output() {
    let want: [(&[&str], &[&str]); 6] = [
        (
            &[
                "[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[32]:[10.1.1.1]",
                "[2]:[0]:[48]:[aa:bb:cc:dd:ee:03]",
            ],
            &["RT:65000:100", "ET:8"],
        ),
        (
            &["[2]:[0]:[48]:[aa:bb:cc:dd:ee:04]:[32]:[10.1.1.4]"],
            &["RT:65000:100", "ET:8", "Rmac:02:00:00:00:00:01"],
        ),
        (&["[3]:[0]:[32]:[10.0.0.2]"], &["RT:65000:100", "ET:8"]),
        (
            &["[5]:[0]:[24]:[10.1.1.0]"],
            &["RT:65000:5000", "ET:8", "Rmac:aa:bb:cc:dd:ee:ff"],
        ),
        (
            &["[1]:[4294967295]:[03:aa:bb:cc:dd:ee:ff:00:00:01]:[32]:[0.0.0.0]:[0]"],
            &["RT:65000:100", "ESI-label-Rt:AA"],
        ),
        (
            &["[4]:[01:aa:bb:cc:dd:ee:ff:00:01:00]:[32]:[10.0.0.2]"],
            &["RT:65000:100", "ET:8", "ES-Import-Rt:aa:bb:cc:dd:ee:ff"],
        ),
    ];
    for (i, (prefixes, ext)) in want.iter().enumerate() {
        let p = parse(FRR_UPDATES[i]);
        assert!(p.reach, "update {i}");
        let text: Vec<String> = all_nlri(&p).iter().map(|n| n.to_string()).collect();
        assert_eq!(text, *prefixes, "update {i}");
        assert_eq!(ext_text(&p), *ext, "update {i}");
    }
    // The ESI FRR shows for the type-2 route with one.
    let EvpnNlri::MacIp(r) = &all_nlri(&parse(FRR_UPDATES[1]))[0] else {
        panic!("type 2")
    };
    assert_eq!(r.esi.to_string(), "05:00:00:fd:e8:00:00:00:07:00");
    assert_eq!(r.rd.to_string(), "10.0.0.2:2");
}

#[test]
fn frr_withdrawal_has_label_0_and_matches_by_route_key() {
    let p = parse(FRR_UPDATES[6]);
    assert!(!p.reach);
    let withdrawn = all_nlri(&p);
    assert_eq!(withdrawn.len(), 3);
    let advertised = [
        all_nlri(&parse(FRR_UPDATES[0]))[0].clone(),
        all_nlri(&parse(FRR_UPDATES[3]))[0].clone(),
        all_nlri(&parse(FRR_UPDATES[2]))[0].clone(),
    ];
    for (i, (w, a)) in withdrawn.iter().zip(&advertised).enumerate() {
        // Types 2 and 5 carry a label, which FRR zeroes; type 3 has none.
        if i < 2 {
            assert_ne!(w, a, "FRR withdraws with label 0, so the NLRI differ");
        }
        assert_eq!(w.key(), a.key(), "{a}");
    }
    let EvpnNlri::MacIp(r) = &withdrawn[0] else {
        panic!("type 2")
    };
    assert_eq!(r.label1, Label(0));
    let EvpnNlri::MacIp(r) = &advertised[0] else {
        panic!("type 2")
    };
    assert_eq!(r.label1.vni(), 100);
}

#[test]
fn frr_pmsi_is_ingress_replication_with_unshifted_vni() {
    let raw = parse(FRR_UPDATES[2])
        .pmsi
        .expect("type 3 carries PMSI_TUNNEL");
    assert_eq!(raw, [0, 6, 0, 0, 0x64, 10, 0, 0, 2]);
    let pmsi = PmsiTunnel::decode(&raw).unwrap();
    assert_eq!(
        pmsi,
        PmsiTunnel::ingress_replication(100, "10.0.0.2".parse().unwrap())
    );
}

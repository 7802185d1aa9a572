use super::*;
use crate::config::EvpnConfig;
use bytes::BytesMut;
use fib::{LocalMac, NeighKey, Vni};

/// UPDATEs FRR 8.4.4 leaf1 (router id and VTEP 10.0.0.1, auto RD/RT) really sent, from
/// tests/golden/frr-leaf-ibgp.hex (AS 65000) and frr-ebgp.hex (AS 65001).
const FRR_IBGP_MAC: &str = "ffffffffffffffffffffffffffffffff00690200000052900e002c001946040a00000100022100010a000001000200000000000000000000000000003002000001010100000064400101005002000040050400000064c01010030c0000000000080002fde800000064";
const FRR_IBGP_IMET: &str = "ffffffffffffffffffffffffffffffff0065020000004e900e001c001946040a00000100031100010a000001000200000000200a000001400101005002000040050400000064c01010030c0000000000080002fde800000064c0160900060000640a000001";
const FRR_IBGP_MAC_IPV6: &str = "ffffffffffffffffffffffffffffffff00790200000062900e003c001946040a00000100023100010a000001000200000000000000000000000000003002000001010180fd000001000000000000000000000001000064400101005002000040050400000064c01010030c0000000000080002fde800000064";
const FRR_EBGP_MAC_IPV4: &str = "ffffffffffffffffffffffffffffffff006c0200000055900e0030001946040a00000100022500010a0000010002000000000000000000000000000030020000010101200a010101000064400101005002000602010000fde9c01010030c0000000000080002fde900000064";
const FRR_EBGP_IMET: &str = "ffffffffffffffffffffffffffffffff0064020000004d900e001c001946040a00000100031100010a000001000200000000200a000001400101005002000602010000fde9c01010030c0000000000080002fde900000064c0160900060000640a000001";

/// (next hop, NLRI field, extended communities value, PMSI value) of an FRR UPDATE.
/// Test-only attribute walk; the real UPDATE codec lives in the bgp crate.
fn frr_parts(hex_msg: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>, Option<Vec<u8>>) {
    let m = hex::decode(hex_msg).unwrap();
    assert_eq!(m[18], 2, "UPDATE");
    let body = &m[19..];
    let wlen = usize::from(u16::from_be_bytes([body[0], body[1]]));
    let at = 2 + wlen;
    let alen = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
    let mut attrs = &body[at + 2..at + 2 + alen];
    let (mut nh, mut nlri, mut ext, mut pmsi) = (vec![], vec![], vec![], None);
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
                let nhl = usize::from(v[3]);
                nh = v[4..4 + nhl].to_vec();
                nlri = v[4 + nhl + 1..].to_vec();
            }
            16 => ext = v.to_vec(),
            22 => pmsi = Some(v.to_vec()),
            _ => {}
        }
        attrs = &attrs[hdr + len..];
    }
    (nh, nlri, ext, pmsi)
}

fn wire(r: &EvpnRoute) -> (Vec<u8>, Vec<u8>, Vec<u8>, Option<Vec<u8>>) {
    let nh = match r.attrs.next_hop {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let mut nlri = BytesMut::new();
    r.nlri.encode(&mut nlri);
    let ext: Vec<u8> = r
        .attrs
        .ext_communities
        .iter()
        .flat_map(|c| c.to_bytes())
        .collect();
    let pmsi = r.attrs.pmsi.as_ref().map(|p| {
        let mut b = BytesMut::new();
        p.encode(&mut b);
        b.to_vec()
    });
    (nh, nlri.to_vec(), ext, pmsi)
}

fn leaf1(asn: u32) -> Instances {
    let c = EvpnConfig::new(asn, "10.0.0.1".parse().unwrap());
    let vteps = [(Vni(100), "10.0.0.1".parse().unwrap())].into();
    Instances::from_vteps(&c, &vteps, &Instances::default())
}

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

#[test]
fn routes_are_byte_identical_to_frr_leaf() {
    let ib = leaf1(65000);
    let eb = leaf1(65001);
    let i = |x: &Instances| x.get(Vni(100)).unwrap().clone();
    let h1 = mac("02:00:00:01:01:01");
    let none = Mobility::default();
    let cases: Vec<(&str, EvpnRoute)> = vec![
        (FRR_IBGP_MAC, mac_ip_route(&i(&ib), h1, None, none)),
        (FRR_IBGP_IMET, imet_route(&i(&ib))),
        (
            FRR_IBGP_MAC_IPV6,
            mac_ip_route(&i(&ib), h1, Some("fd00:1::1".parse().unwrap()), none),
        ),
        (
            FRR_EBGP_MAC_IPV4,
            mac_ip_route(&i(&eb), h1, Some("10.1.1.1".parse().unwrap()), none),
        ),
        (FRR_EBGP_IMET, imet_route(&i(&eb))),
    ];
    for (frr, ours) in cases {
        assert_eq!(wire(&ours), frr_parts(frr), "{}", ours.nlri);
    }
}

#[test]
fn exact_ext_communities_and_mobility() {
    let inst = leaf1(65000);
    let i = inst.get(Vni(100)).unwrap();
    let hexes = |m: Option<Mobility>| -> Vec<String> {
        ext_communities(i, m)
            .iter()
            .map(|c| hex::encode(c.to_bytes()))
            .collect()
    };
    let base = ["030c000000000008", "0002fde800000064"];
    let cases: &[(Option<Mobility>, &[&str])] = &[
        (None, &base),
        (Some(Mobility::default()), &base),
        // Sequence 3: MAC mobility 06 00 <flags> 00 <seq:4>.
        (
            Some(Mobility {
                sequence: 3,
                sticky: false,
            }),
            &[base[0], base[1], "0600000000000003"],
        ),
        // Static MAC: sticky flag even at sequence 0 (as FRR).
        (
            Some(Mobility {
                sequence: 0,
                sticky: true,
            }),
            &[base[0], base[1], "0600010000000000"],
        ),
        (
            Some(Mobility {
                sequence: 0x0102_0304,
                sticky: true,
            }),
            &[base[0], base[1], "0600010001020304"],
        ),
    ];
    for (m, want) in cases {
        assert_eq!(hexes(*m), want.to_vec(), "{m:?}");
    }
}

#[test]
fn full_set_from_local_state() {
    let c = EvpnConfig::new(65000, "10.0.0.1".parse().unwrap());
    let vteps = [
        (Vni(100), "10.0.0.1".parse().unwrap()),
        (Vni(200), "10.0.0.1".parse().unwrap()),
    ]
    .into();
    let inst = Instances::from_vteps(&c, &vteps, &Instances::default());
    let mut local = LocalState::default();
    let k = |vni, m: &str| FdbKey {
        vni: Vni(vni),
        mac: mac(m),
    };
    let lm = LocalMac {
        port: 3,
        sticky: false,
    };
    local.macs.insert(k(100, "02:00:00:00:00:01"), lm);
    local.macs.insert(k(100, "02:00:00:00:00:02"), lm);
    // VNI 300 has no instance: nothing for it.
    local.macs.insert(k(300, "02:00:00:00:00:03"), lm);
    let n = |vni, ip: &str| NeighKey {
        vni: Vni(vni),
        ip: ip.parse().unwrap(),
    };
    local
        .neigh
        .insert(n(100, "10.1.1.1"), mac("02:00:00:00:00:01"));
    local
        .neigh
        .insert(n(100, "fd00::1"), mac("02:00:00:00:00:01"));
    // Neighbour whose MAC is not local (a remote host the SVI talked to): no route.
    local
        .neigh
        .insert(n(100, "10.1.1.9"), mac("02:00:00:00:00:09"));
    // MAC 2 is not advertised (e.g. it moved away).
    let adv = |key: &FdbKey| {
        (key.mac != mac("02:00:00:00:00:02")).then_some(Mobility {
            sequence: 2,
            sticky: false,
        })
    };
    let routes = full(&inst, &local, &adv);
    let text: Vec<String> = routes.keys().map(|k| k.to_string()).collect();
    assert_eq!(
        text,
        vec![
            "10.0.0.1:2 [2]:[0]:[48]:[02:00:00:00:00:01]",
            "10.0.0.1:2 [2]:[0]:[48]:[02:00:00:00:00:01]:[32]:[10.1.1.1]",
            "10.0.0.1:2 [2]:[0]:[48]:[02:00:00:00:00:01]:[128]:[fd00::1]",
            "10.0.0.1:2 [3]:[0]:[32]:[10.0.0.1]",
            "10.0.0.1:3 [3]:[0]:[32]:[10.0.0.1]",
        ]
    );
    for r in routes.values() {
        assert_eq!(r.attrs.next_hop, "10.0.0.1".parse::<IpAddr>().unwrap());
        if let EvpnNlri::MacIp(m) = &r.nlri {
            assert_eq!(m.label1, Label(100));
            assert!(r
                .attrs
                .ext_communities
                .contains(&ExtendedCommunity::mac_mobility(2, false)));
        }
    }
}

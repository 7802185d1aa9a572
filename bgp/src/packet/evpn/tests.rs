//! Exact-byte tests of the EVPN NLRI codec, its errors, display and route key.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    ::hex::decode(s).expect("test vector is hex")
}

fn enc(n: &EvpnNlri) -> Vec<u8> {
    let mut b = BytesMut::new();
    n.encode(&mut b);
    b.to_vec()
}

fn rd(s: &str) -> RouteDistinguisher {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

// RD 10.0.0.1:2 (type 1), as FRR builds it from router-id and VNI index.
const RD_HEX: &str = "0001 0a000001 0002";
const ESI_HEX: &str = "03 443839ffff01 000001";

fn esi() -> Esi {
    "03:44:38:39:ff:ff:01:00:00:01".parse().unwrap()
}

fn mac() -> MacAddress {
    "aa:bb:cc:dd:ee:ff".parse().unwrap()
}

fn mac_ip(ip_addr: Option<IpAddr>, label2: Option<u32>) -> EvpnNlri {
    EvpnNlri::MacIp(MacIpAdvertisement {
        rd: rd("10.0.0.1:2"),
        esi: Esi::ZERO,
        ethernet_tag: 0,
        mac_len: 48,
        mac: mac(),
        ip: ip_addr,
        label1: Label(100),
        label2: label2.map(Label),
    })
}

/// (name, wire octets, decoded NLRI, FRR display)
fn vectors() -> Vec<(&'static str, Vec<u8>, EvpnNlri, &'static str)> {
    let zero_esi = "00000000000000000000";
    vec![
        (
            "type 1 EAD",
            hex(&format!("01 19 {RD_HEX} {ESI_HEX} 00000000 000064")),
            EvpnNlri::EthernetAutoDiscovery(EthernetAutoDiscovery {
                rd: rd("10.0.0.1:2"),
                esi: esi(),
                ethernet_tag: 0,
                label: Label(100),
            }),
            "[1]:[0]:[03:44:38:39:ff:ff:01:00:00:01]:[32]:[0.0.0.0]:[0]",
        ),
        (
            "type 1 EAD per ES (max tag)",
            hex(&format!("01 19 {RD_HEX} {ESI_HEX} ffffffff 000000")),
            EvpnNlri::EthernetAutoDiscovery(EthernetAutoDiscovery {
                rd: rd("10.0.0.1:2"),
                esi: esi(),
                ethernet_tag: u32::MAX,
                label: Label(0),
            }),
            "[1]:[4294967295]:[03:44:38:39:ff:ff:01:00:00:01]:[32]:[0.0.0.0]:[0]",
        ),
        (
            "type 2 MAC only (33)",
            hex(&format!(
                "02 21 {RD_HEX} {zero_esi} 00000000 30 aabbccddeeff 00 000064"
            )),
            mac_ip(None, None),
            "[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]",
        ),
        (
            "type 2 MAC only + label2 (36)",
            hex(&format!(
                "02 24 {RD_HEX} {zero_esi} 00000000 30 aabbccddeeff 00 000064 001388"
            )),
            mac_ip(None, Some(5000)),
            "[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]",
        ),
        (
            "type 2 MAC+IPv4 (37)",
            hex(&format!(
                "02 25 {RD_HEX} {zero_esi} 00000000 30 aabbccddeeff 20 0a010101 000064"
            )),
            mac_ip(Some(ip("10.1.1.1")), None),
            "[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[32]:[10.1.1.1]",
        ),
        (
            "type 2 MAC+IPv4 + L3VNI (40)",
            hex(&format!(
                "02 28 {RD_HEX} {zero_esi} 00000000 30 aabbccddeeff 20 0a010101 000064 001388"
            )),
            mac_ip(Some(ip("10.1.1.1")), Some(5000)),
            "[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[32]:[10.1.1.1]",
        ),
        (
            "type 2 MAC+IPv6 (49)",
            hex(&format!(
                "02 31 {RD_HEX} {zero_esi} 00000000 30 aabbccddeeff 80 \
                 20010db8000000000000000000000001 000064"
            )),
            mac_ip(Some(ip("2001:db8::1")), None),
            "[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[128]:[2001:db8::1]",
        ),
        (
            "type 2 MAC+IPv6 + L3VNI (52)",
            hex(&format!(
                "02 34 {RD_HEX} {zero_esi} 00000000 30 aabbccddeeff 80 \
                 20010db8000000000000000000000001 000064 001388"
            )),
            mac_ip(Some(ip("2001:db8::1")), Some(5000)),
            "[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[128]:[2001:db8::1]",
        ),
        (
            "type 3 IMET IPv4 (17)",
            hex(&format!("03 11 {RD_HEX} 00000000 20 0a000001")),
            EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
                rd: rd("10.0.0.1:2"),
                ethernet_tag: 0,
                originator: ip("10.0.0.1"),
            }),
            "[3]:[0]:[32]:[10.0.0.1]",
        ),
        (
            "type 3 IMET IPv6 (29)",
            hex(&format!(
                "03 1d {RD_HEX} 0000000a 80 fd000000000000000000000000000001"
            )),
            EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
                rd: rd("10.0.0.1:2"),
                ethernet_tag: 10,
                originator: ip("fd00::1"),
            }),
            "[3]:[10]:[128]:[fd00::1]",
        ),
        (
            "type 4 ES IPv4 (23)",
            hex(&format!("04 17 {RD_HEX} {ESI_HEX} 20 0a000001")),
            EvpnNlri::EthernetSegment(EthernetSegment {
                rd: rd("10.0.0.1:2"),
                esi: esi(),
                originator: ip("10.0.0.1"),
            }),
            "[4]:[03:44:38:39:ff:ff:01:00:00:01]:[32]:[10.0.0.1]",
        ),
        (
            "type 4 ES IPv6 (35)",
            hex(&format!(
                "04 23 {RD_HEX} {ESI_HEX} 80 fd000000000000000000000000000001"
            )),
            EvpnNlri::EthernetSegment(EthernetSegment {
                rd: rd("10.0.0.1:2"),
                esi: esi(),
                originator: ip("fd00::1"),
            }),
            "[4]:[03:44:38:39:ff:ff:01:00:00:01]:[128]:[fd00::1]",
        ),
        (
            "type 5 IPv4 (34)",
            hex(&format!(
                "05 22 0000fde800000064 {zero_esi} 00000000 18 0a010100 00000000 001388"
            )),
            EvpnNlri::IpPrefix(IpPrefix {
                rd: rd("65000:100"),
                esi: Esi::ZERO,
                ethernet_tag: 0,
                prefix_len: 24,
                prefix: ip("10.1.1.0"),
                gateway: ip("0.0.0.0"),
                label: Label(5000),
            }),
            "[5]:[0]:[24]:[10.1.1.0]",
        ),
        (
            "type 5 IPv6 (58)",
            hex(&format!(
                "05 3a 0000fde800000064 {zero_esi} 00000000 40 \
                 20010db8000100000000000000000000 \
                 fe800000000000000000000000000001 001388"
            )),
            EvpnNlri::IpPrefix(IpPrefix {
                rd: rd("65000:100"),
                esi: Esi::ZERO,
                ethernet_tag: 0,
                prefix_len: 64,
                prefix: ip("2001:db8:1::"),
                gateway: ip("fe80::1"),
                label: Label(5000),
            }),
            "[5]:[0]:[64]:[2001:db8:1::]",
        ),
        (
            "type 6 (SMET, unknown here) kept raw",
            hex("06 03 010203"),
            EvpnNlri::Unknown {
                route_type: 6,
                value: vec![1, 2, 3],
            },
            "[6]:[010203]",
        ),
        (
            "type 0 (reserved) with empty value kept raw",
            hex("00 00"),
            EvpnNlri::Unknown {
                route_type: 0,
                value: vec![],
            },
            "[0]:[]",
        ),
    ]
}

#[test]
fn every_route_type_both_ways() {
    for (name, wire, nlri, _) in vectors() {
        assert_eq!(
            decode_nlri_list(&wire),
            Ok(vec![nlri.clone()]),
            "decode {name}"
        );
        assert_eq!(enc(&nlri), wire, "encode {name}");
        assert_eq!(nlri.encoded_len(), wire.len(), "encoded_len {name}");
        assert_eq!(nlri.route_type(), wire[0], "route_type {name}");
    }
}

#[test]
fn display_is_frr_bracket_notation() {
    for (name, _, nlri, text) in vectors() {
        assert_eq!(nlri.to_string(), text, "{name}");
    }
}

#[test]
fn frr_prints_type_2_3_5_tags_signed() {
    let mut n = mac_ip(None, None);
    if let EvpnNlri::MacIp(r) = &mut n {
        r.ethernet_tag = u32::MAX;
    }
    assert_eq!(n.to_string(), "[2]:[-1]:[48]:[aa:bb:cc:dd:ee:ff]");
}

#[test]
fn a_list_of_all_types_decodes_in_order() {
    let all = vectors();
    let wire: Vec<u8> = all.iter().flat_map(|v| v.1.clone()).collect();
    let want: Vec<EvpnNlri> = all.iter().map(|v| v.2.clone()).collect();
    let got = decode_nlri_list(&wire).unwrap();
    assert_eq!(got, want);
    assert_eq!(got.capacity(), want.len(), "output is pre-sized exactly");
    let mut again = BytesMut::new();
    for n in &got {
        n.encode(&mut again);
    }
    assert_eq!(again.to_vec(), wire);
    assert_eq!(decode_nlri_list(&[]), Ok(vec![]));
}

#[test]
fn vni_uses_all_24_bits() {
    // VNI 100 is 00 00 64 (RFC 8365), not 100 << 4.
    let wire = &vectors()[4].1;
    let Ok(list) = decode_nlri_list(wire) else {
        panic!("decodes")
    };
    let EvpnNlri::MacIp(r) = &list[0] else {
        panic!("type 2")
    };
    assert_eq!(r.label1.vni(), 100);
    assert_eq!(&wire[wire.len() - 3..], &[0x00, 0x00, 0x64]);
    assert_eq!(Label::from_vni(0x00ff_ffff).vni(), 0x00ff_ffff);
    assert_eq!(Label::from_vni(0x0100_0001).vni(), 1);
    assert_eq!(Label(0x0100_0001).vni(), 1);
}

#[test]
fn truncated_at_every_octet() {
    for (name, wire, _, _) in vectors() {
        for cut in 1..wire.len() {
            let err = decode_nlri_list(&wire[..cut]).unwrap_err();
            let want = if cut == 1 {
                NlriError::Truncated {
                    needed: 2,
                    available: 1,
                }
            } else {
                NlriError::Truncated {
                    needed: usize::from(wire[1]),
                    available: cut - 2,
                }
            };
            assert_eq!(err, want, "{name} cut at {cut}");
        }
    }
}

#[test]
fn trailing_partial_nlri_after_good_ones() {
    let all = vectors();
    let mut wire = all[0].1.clone();
    wire.extend_from_slice(&all[4].1[..10]);
    assert_eq!(
        decode_nlri_list(&wire),
        Err(NlriError::Truncated {
            needed: 37,
            available: 8
        })
    );
    // A lone route type octet at the end.
    let mut wire = all[0].1.clone();
    wire.push(2);
    assert_eq!(
        decode_nlri_list(&wire),
        Err(NlriError::Truncated {
            needed: 2,
            available: 1
        })
    );
}

#[test]
fn length_octet_overrunning_the_buffer() {
    // Says 255 octets, has 3.
    assert_eq!(
        decode_nlri_list(&[2, 0xff, 1, 2, 3]),
        Err(NlriError::Truncated {
            needed: 255,
            available: 3
        })
    );
    // Unknown types are framed by the same length octet.
    assert_eq!(
        decode_nlri_list(&[9, 4, 1, 2, 3]),
        Err(NlriError::Truncated {
            needed: 4,
            available: 3
        })
    );
}

/// Every length a known route type does not allow is BadLength (with the buffer long enough
/// that it is not truncation), whatever the bytes inside.
#[test]
fn bad_length_for_every_known_type() {
    let allowed: [(u8, &[u8]); 5] = [
        (1, &[25]),
        (2, &[33, 36, 37, 40, 49, 52]),
        (3, &[17, 29]),
        (4, &[23, 35]),
        (5, &[34, 58]),
    ];
    for (route_type, lens) in allowed {
        for length in 0..=255u8 {
            if lens.contains(&length) {
                continue;
            }
            let mut wire = vec![route_type, length];
            wire.resize(2 + usize::from(length), 0);
            assert_eq!(
                decode_nlri_list(&wire),
                Err(NlriError::BadLength { route_type, length }),
                "type {route_type} length {length}"
            );
        }
    }
}

/// Type 2 with a length that is legal for another IP length.
#[test]
fn type2_length_inconsistent_with_ip_length() {
    let base = |length: u8, ip_len: u8| {
        let mut v = vec![2, length];
        v.resize(2 + usize::from(length), 0);
        v[2 + 29] = ip_len; // IP length octet: RD 8 + ESI 10 + tag 4 + MAC len 1 + MAC 6
        v
    };
    for (length, ip_len) in [
        (33, 32),
        (33, 128),
        (36, 128), // would underflow if subtracted naively
        (37, 0),
        (37, 128),
        (40, 128),
        (49, 0),
        (49, 32),
        (52, 32),
    ] {
        assert_eq!(
            decode_nlri_list(&base(length, ip_len)),
            Err(NlriError::BadLength {
                route_type: 2,
                length
            }),
            "length {length} ip_len {ip_len}"
        );
    }
    // And a consistent pair decodes.
    assert!(decode_nlri_list(&base(36, 0)).is_ok());
    assert!(decode_nlri_list(&base(52, 128)).is_ok());
}

#[test]
fn bad_ip_length() {
    // Type 2: IP length octet at value offset 29.
    for ip_len in [1u8, 24, 31, 33, 64, 127, 129, 255] {
        let mut v = vec![2, 37];
        v.resize(39, 0);
        v[31] = ip_len;
        assert_eq!(
            decode_nlri_list(&v),
            Err(NlriError::BadIpLength {
                route_type: 2,
                ip_len
            })
        );
    }
    // Type 3: offset 12; zero is not allowed (an originator is required).
    for ip_len in [0u8, 24, 64, 255] {
        let mut v = vec![3, 17];
        v.resize(19, 0);
        v[14] = ip_len;
        assert_eq!(
            decode_nlri_list(&v),
            Err(NlriError::BadIpLength {
                route_type: 3,
                ip_len
            })
        );
    }
    // Type 4: offset 18.
    for ip_len in [0u8, 24, 64, 255] {
        let mut v = vec![4, 23];
        v.resize(25, 0);
        v[20] = ip_len;
        assert_eq!(
            decode_nlri_list(&v),
            Err(NlriError::BadIpLength {
                route_type: 4,
                ip_len
            })
        );
    }
}

#[test]
fn originator_length_inconsistent_with_ip_length() {
    for (route_type, length, at, ip_len) in [
        (3u8, 17u8, 12usize, 128u8),
        (3, 29, 12, 32),
        (4, 23, 18, 128),
        (4, 35, 18, 32),
    ] {
        let mut v = vec![route_type, length];
        v.resize(2 + usize::from(length), 0);
        v[2 + at] = ip_len;
        assert_eq!(
            decode_nlri_list(&v),
            Err(NlriError::BadLength { route_type, length }),
            "type {route_type} length {length} ip_len {ip_len}"
        );
    }
}

#[test]
fn bad_prefix_length() {
    // Prefix length at value offset 22.
    for (length, prefix_len, ok) in [
        (34u8, 32u8, true),
        (34, 33, false),
        (34, 255, false),
        (58, 128, true),
        (58, 129, false),
    ] {
        let mut v = vec![5, length];
        v.resize(2 + usize::from(length), 0);
        v[24] = prefix_len;
        let got = decode_nlri_list(&v);
        if ok {
            assert!(got.is_ok(), "{length}/{prefix_len}");
        } else {
            assert_eq!(got, Err(NlriError::BadPrefixLength { prefix_len }));
        }
    }
}

#[test]
fn error_in_the_middle_fails_the_list() {
    let all = vectors();
    let mut wire = all[0].1.clone();
    wire.extend_from_slice(&[3, 17]);
    wire.extend_from_slice(&[0; 17]); // IP length 0: bad
    wire.extend_from_slice(&all[8].1);
    assert_eq!(
        decode_nlri_list(&wire),
        Err(NlriError::BadIpLength {
            route_type: 3,
            ip_len: 0
        })
    );
}

#[test]
fn mac_len_kept_as_received() {
    let mut wire = vectors()[2].1.clone();
    wire[2 + 22] = 47;
    let list = decode_nlri_list(&wire).unwrap();
    let EvpnNlri::MacIp(r) = &list[0] else {
        panic!("type 2")
    };
    assert_eq!(r.mac_len, 47);
    assert_eq!(enc(&list[0]), wire);
}

#[test]
fn rd_accessor() {
    for (name, _, nlri, _) in vectors() {
        match nlri {
            EvpnNlri::Unknown { .. } => assert_eq!(nlri.rd(), None, "{name}"),
            EvpnNlri::IpPrefix(_) => assert_eq!(nlri.rd(), Some(rd("65000:100")), "{name}"),
            _ => assert_eq!(nlri.rd(), Some(rd("10.0.0.1:2")), "{name}"),
        }
    }
}

#[test]
fn encode_clamps_what_the_wire_cannot_carry() {
    let mut n = mac_ip(None, Some(0x0100_0005));
    if let EvpnNlri::MacIp(r) = &mut n {
        r.label1 = Label(0xff00_0064);
    }
    let wire = enc(&n);
    assert_eq!(&wire[wire.len() - 6..], &[0, 0, 0x64, 0, 0, 5]);
    // Type 5 with a gateway of the other family: written as the unspecified address.
    let n = EvpnNlri::IpPrefix(IpPrefix {
        rd: rd("65000:1"),
        esi: Esi::ZERO,
        ethernet_tag: 0,
        prefix_len: 8,
        prefix: ip("10.0.0.0"),
        gateway: ip("::1"),
        label: Label(1),
    });
    let wire = enc(&n);
    assert_eq!(wire.len(), 36);
    assert_eq!(&wire[29..33], &[0; 4]);
    let n = EvpnNlri::Unknown {
        route_type: 9,
        value: vec![7; 300],
    };
    assert_eq!(enc(&n).len(), 257);
    assert_eq!(enc(&n)[1], 255);
}

#[test]
fn serde_json_shape() {
    let n = mac_ip(Some(ip("10.1.1.1")), None);
    let v = serde_json::to_value(&n).unwrap();
    assert_eq!(v["type"], "mac_ip");
    assert_eq!(v["mac"], "aa:bb:cc:dd:ee:ff");
    assert_eq!(v["rd"], "10.0.0.1:2");
    assert_eq!(v["label1"], 100);
    let back: EvpnNlri = serde_json::from_value(v).unwrap();
    assert_eq!(back, n);
}

mod route_key {
    use super::*;

    fn with<F: FnOnce(&mut MacIpAdvertisement)>(f: F) -> EvpnNlri {
        let mut n = mac_ip(Some(ip("10.1.1.1")), Some(5000));
        if let EvpnNlri::MacIp(r) = &mut n {
            f(r);
        }
        n
    }

    #[test]
    fn frr_withdrawal_with_label_0_matches_the_advertisement() {
        let adv = mac_ip(Some(ip("10.1.1.1")), Some(5000));
        let withdraw = with(|r| {
            r.label1 = Label(0);
            r.label2 = None;
        });
        assert_eq!(adv.key(), withdraw.key());
        // GoBGP withdraws with the VNI: same key too.
        assert_eq!(adv.key(), adv.clone().key());
    }

    #[test]
    fn type2_esi_is_not_part_of_the_key() {
        assert_eq!(with(|r| r.esi = esi()).key(), with(|_| {}).key());
    }

    #[test]
    fn type2_key_fields_all_count() {
        let base = with(|_| {}).key();
        assert_ne!(with(|r| r.rd = rd("10.0.0.2:2")).key(), base);
        assert_ne!(with(|r| r.ethernet_tag = 1).key(), base);
        assert_ne!(with(|r| r.mac.0[5] = 0).key(), base);
        assert_ne!(with(|r| r.mac_len = 47).key(), base);
        assert_ne!(with(|r| r.ip = None).key(), base);
        assert_ne!(with(|r| r.ip = Some(ip("10.1.1.2"))).key(), base);
        assert_ne!(with(|r| r.ip = Some(ip("::ffff:10.1.1.1"))).key(), base);
    }

    #[test]
    fn other_types_ignore_non_key_fields() {
        let all = vectors();
        // Type 1: label is not key.
        let mut a = all[0].2.clone();
        if let EvpnNlri::EthernetAutoDiscovery(r) = &mut a {
            r.label = Label(0);
        }
        assert_eq!(a.key(), all[0].2.key());
        // Type 5: ESI, gateway and label are not key; prefix length is.
        let mut p = all[12].2.clone();
        if let EvpnNlri::IpPrefix(r) = &mut p {
            r.esi = esi();
            r.gateway = ip("10.9.9.9");
            r.label = Label(0);
        }
        assert_eq!(p.key(), all[12].2.key());
        if let EvpnNlri::IpPrefix(r) = &mut p {
            r.prefix_len = 25;
        }
        assert_ne!(p.key(), all[12].2.key());
    }

    #[test]
    fn every_type_keys_differently_and_rebuilds() {
        let all = vectors();
        let keys: Vec<EvpnRouteKey> = all.iter().map(|v| v.2.key()).collect();
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate() {
                // Vectors 2/3 and 4/5 and 6/7 differ only in label2: same route.
                let same_route =
                    i == j || (2..8).contains(&i) && (2..8).contains(&j) && i / 2 == j / 2;
                assert_eq!(a == b, same_route, "{} vs {}", all[i].0, all[j].0);
            }
            // The withdrawal form has the same key and prints the same prefix.
            let rebuilt = a.to_nlri();
            assert_eq!(rebuilt.key(), *a, "{}", all[i].0);
            assert_eq!(rebuilt.to_string(), all[i].3, "{}", all[i].0);
            assert_eq!(a.route_type(), all[i].1[0]);
            assert_eq!(a.rd(), all[i].2.rd());
        }
    }

    #[test]
    fn display_and_size() {
        let k = mac_ip(Some(ip("10.1.1.1")), None).key();
        assert_eq!(
            k.to_string(),
            "10.0.0.1:2 [2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[32]:[10.1.1.1]"
        );
        assert_eq!(std::mem::size_of::<EvpnRouteKey>(), 37);
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            "\"10.0.0.1:2 [2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[32]:[10.1.1.1]\""
        );
    }

    #[test]
    fn order_is_type_then_rd() {
        let t3 = vectors()[8].2.key();
        let t2 = mac_ip(None, None).key();
        assert!(t2 < t3);
        let a = with(|r| r.rd = rd("10.0.0.1:1")).key();
        let b = with(|r| r.rd = rd("10.0.0.1:2")).key();
        assert!(a < b);
    }
}

#[test]
fn sizes_stay_small() {
    // Printed for the record (cargo test -- --nocapture); bounds keep regressions visible.
    let nlri = std::mem::size_of::<EvpnNlri>();
    let key = std::mem::size_of::<EvpnRouteKey>();
    println!("size_of EvpnNlri = {nlri}, EvpnRouteKey = {key}");
    assert!(nlri <= 80, "EvpnNlri grew to {nlri} bytes");
    assert_eq!(key, 37);
}

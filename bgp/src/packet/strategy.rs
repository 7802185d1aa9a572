//! proptest strategies for the EVPN codec types: only values with a valid, exact wire
//! encoding, so `decode(encode(v)) == v` must hold for every one of them.
//!
//! Built for tests, and for other crates, benches and fuzz targets with the `proptest`
//! feature of `bgp`.

use std::net::IpAddr;

use proptest::collection::vec;
use proptest::prelude::*;

use super::evpn::{
    Esi, EsiKind, EthernetAutoDiscovery, EthernetSegment, EvpnNlri, InclusiveMulticastEthernetTag,
    IpPrefix, Label, MacIpAdvertisement,
};
use super::extcomm::{ExtendedCommunity, RouteTarget};
use super::pmsi::{PmsiTunnel, TunnelIdentifier, TUNNEL_INGRESS_REPLICATION};
use super::types::{MacAddress, RouteDistinguisher};

pub fn any_mac() -> impl Strategy<Value = MacAddress> {
    any::<[u8; 6]>().prop_map(MacAddress)
}

/// The three RFC 4364 forms, plus any 8 octets (mostly unknown types).
pub fn any_rd() -> impl Strategy<Value = RouteDistinguisher> {
    prop_oneof![
        (any::<u16>(), any::<u32>())
            .prop_map(|(asn, number)| RouteDistinguisher::As2 { asn, number }),
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, number)| RouteDistinguisher::Ipv4 {
            addr: a.into(),
            number
        }),
        (any::<u32>(), any::<u16>())
            .prop_map(|(asn, number)| RouteDistinguisher::As4 { asn, number }),
        any::<[u8; 8]>().prop_map(RouteDistinguisher::from_bytes),
    ]
}

/// ESI values as the RFC 7432 section 5 types build them, the zero ESI, and any 10 octets.
pub fn any_esi() -> impl Strategy<Value = Esi> {
    prop_oneof![
        Just(Esi::ZERO),
        any_esi_kind().prop_map(Esi::from),
        any::<[u8; 10]>().prop_map(Esi),
    ]
}

pub fn any_esi_kind() -> impl Strategy<Value = EsiKind> {
    prop_oneof![
        any::<[u8; 9]>().prop_map(|value| EsiKind::Arbitrary { value }),
        (any_mac(), any::<u16>()).prop_map(|(system_mac, port_key)| EsiKind::Lacp {
            system_mac,
            port_key
        }),
        (any_mac(), any::<u16>())
            .prop_map(|(root_mac, priority)| EsiKind::Bridge { root_mac, priority }),
        (any_mac(), 0..=0x00ff_ffffu32).prop_map(|(system_mac, local_discriminator)| {
            EsiKind::Mac {
                system_mac,
                local_discriminator,
            }
        }),
        (any::<[u8; 4]>(), any::<u32>()).prop_map(|(a, local_discriminator)| {
            EsiKind::RouterId {
                router_id: a.into(),
                local_discriminator,
            }
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(asn, local_discriminator)| EsiKind::As {
            asn,
            local_discriminator
        }),
        (6..=255u8, any::<[u8; 9]>())
            .prop_map(|(esi_type, value)| EsiKind::Other { esi_type, value }),
    ]
}

/// A 24-bit label (VNI).
pub fn any_label() -> impl Strategy<Value = Label> {
    (0..=Label::MAX).prop_map(Label)
}

pub fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
}

/// Every route type, including unknown ones (types 0 and 6..=255 with any value up to
/// 255 octets), each with a valid encoding.
pub fn any_evpn_nlri() -> impl Strategy<Value = EvpnNlri> {
    let ead = (any_rd(), any_esi(), any::<u32>(), any_label()).prop_map(
        |(rd, esi, ethernet_tag, label)| {
            EvpnNlri::EthernetAutoDiscovery(EthernetAutoDiscovery {
                rd,
                esi,
                ethernet_tag,
                label,
            })
        },
    );
    let mac_ip = (
        (any_rd(), any_esi(), any::<u32>()),
        // MAC length is kept as received, so any octet is a valid encoding.
        prop_oneof![Just(48u8), any::<u8>()],
        any_mac(),
        proptest::option::of(any_ip()),
        any_label(),
        proptest::option::of(any_label()),
    )
        .prop_map(
            |((rd, esi, ethernet_tag), mac_len, mac, ip, label1, label2)| {
                EvpnNlri::MacIp(MacIpAdvertisement {
                    rd,
                    esi,
                    ethernet_tag,
                    mac_len,
                    mac,
                    ip,
                    label1,
                    label2,
                })
            },
        );
    let imet = (any_rd(), any::<u32>(), any_ip()).prop_map(|(rd, ethernet_tag, originator)| {
        EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
            rd,
            ethernet_tag,
            originator,
        })
    });
    let es = (any_rd(), any_esi(), any_ip()).prop_map(|(rd, esi, originator)| {
        EvpnNlri::EthernetSegment(EthernetSegment {
            rd,
            esi,
            originator,
        })
    });
    let prefix_v4 = (0..=32u8, any::<[u8; 4]>(), any::<[u8; 4]>())
        .prop_map(|(len, p, g)| (len, IpAddr::from(p), IpAddr::from(g)));
    let prefix_v6 = (0..=128u8, any::<[u8; 16]>(), any::<[u8; 16]>())
        .prop_map(|(len, p, g)| (len, IpAddr::from(p), IpAddr::from(g)));
    let ip_prefix = (
        any_rd(),
        any_esi(),
        any::<u32>(),
        prop_oneof![prefix_v4, prefix_v6],
        any_label(),
    )
        .prop_map(
            |(rd, esi, ethernet_tag, (prefix_len, prefix, gateway), label)| {
                EvpnNlri::IpPrefix(IpPrefix {
                    rd,
                    esi,
                    ethernet_tag,
                    prefix_len,
                    prefix,
                    gateway,
                    label,
                })
            },
        );
    let unknown = (prop_oneof![Just(0u8), 6..=255u8], vec(any::<u8>(), 0..=255))
        .prop_map(|(route_type, value)| EvpnNlri::Unknown { route_type, value });
    prop_oneof![ead, mac_ip, imet, es, ip_prefix, unknown]
}

pub fn any_route_target() -> impl Strategy<Value = RouteTarget> {
    prop_oneof![
        (any::<u16>(), any::<u32>()).prop_map(|(asn, value)| RouteTarget::As2 { asn, value }),
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, value)| RouteTarget::Ipv4 {
            addr: a.into(),
            value
        }),
        (any::<u32>(), any::<u16>()).prop_map(|(asn, value)| RouteTarget::As4 { asn, value }),
    ]
}

/// Typed communities with in-range values, and whatever any 8 octets decode to (so `Raw`
/// only ever holds what `from_bytes` would leave raw).
pub fn any_ext_community() -> impl Strategy<Value = ExtendedCommunity> {
    prop_oneof![
        any_route_target().prop_map(ExtendedCommunity::route_target),
        any::<u16>().prop_map(|tunnel_type| ExtendedCommunity::Encapsulation { tunnel_type }),
        (any::<u8>(), any::<u32>())
            .prop_map(|(flags, sequence)| ExtendedCommunity::MacMobility { flags, sequence }),
        (any::<u8>(), 0..=0x00ff_ffffu32)
            .prop_map(|(flags, label)| ExtendedCommunity::EsiLabel { flags, label }),
        Just(ExtendedCommunity::DefaultGateway),
        any_mac().prop_map(|mac| ExtendedCommunity::RouterMac { mac }),
        any::<[u8; 8]>().prop_map(ExtendedCommunity::from_bytes),
    ]
}

/// Ingress replication to a VTEP, and raw identifiers that are not address-sized
/// ingress replication (which would decode as `Ip`).
pub fn any_pmsi() -> impl Strategy<Value = PmsiTunnel> {
    let ir =
        (any::<u8>(), 0..=0x00ff_ffffu32, any_ip()).prop_map(|(flags, label, vtep)| PmsiTunnel {
            flags,
            tunnel_type: TUNNEL_INGRESS_REPLICATION,
            label,
            tunnel_id: TunnelIdentifier::Ip(vtep),
        });
    let raw = (
        any::<u8>(),
        any::<u8>(),
        0..=0x00ff_ffffu32,
        vec(any::<u8>(), 0..40),
    )
        .prop_filter_map(
            "address-sized ingress replication decodes as Ip",
            |(flags, tunnel_type, label, id)| {
                let ip_sized = matches!(id.len(), 4 | 16);
                (tunnel_type != TUNNEL_INGRESS_REPLICATION || !ip_sized).then_some(PmsiTunnel {
                    flags,
                    tunnel_type,
                    label,
                    tunnel_id: TunnelIdentifier::Raw(id),
                })
            },
        );
    prop_oneof![ir, raw]
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::packet::evpn::decode_nlri_list;

    fn enc_all(list: &[EvpnNlri]) -> Vec<u8> {
        let mut b = BytesMut::new();
        for n in list {
            n.encode(&mut b);
        }
        b.to_vec()
    }

    /// Bytes that look like EVPN NLRI: a route type near the known ones and a length
    /// near the legal ones, so decoding reaches the per-type checks, not only framing.
    fn nlri_like_bytes() -> impl Strategy<Value = Vec<u8>> {
        let one = (
            0..=7u8,
            prop_oneof![
                Just(17u8),
                Just(23),
                Just(25),
                Just(29),
                Just(33),
                Just(34),
                Just(35),
                Just(36),
                Just(37),
                Just(40),
                Just(49),
                Just(52),
                Just(58),
                any::<u8>()
            ],
            vec(
                prop_oneof![Just(0u8), Just(32), Just(128), any::<u8>()],
                0..70,
            ),
        )
            .prop_map(|(t, len, mut body)| {
                body.resize(usize::from(len), 0);
                let mut v = vec![t, len];
                v.extend(body);
                v
            });
        (vec(one, 0..4), any::<u8>(), any::<bool>()).prop_map(|(parts, cut, truncate)| {
            let mut v: Vec<u8> = parts.concat();
            if truncate && !v.is_empty() {
                v.truncate(usize::from(cut) % v.len());
            }
            v
        })
    }

    proptest! {
        #[test]
        fn nlri_round_trip(n in any_evpn_nlri()) {
            let wire = enc_all(std::slice::from_ref(&n));
            prop_assert_eq!(wire.len(), n.encoded_len());
            prop_assert_eq!(decode_nlri_list(&wire), Ok(vec![n]));
        }

        #[test]
        fn nlri_list_round_trip(list in vec(any_evpn_nlri(), 0..8)) {
            let wire = enc_all(&list);
            prop_assert_eq!(decode_nlri_list(&wire), Ok(list));
        }

        #[test]
        fn route_key_ignores_labels_and_rebuilds(n in any_evpn_nlri(), l in any_label()) {
            let k = n.key();
            // An unknown type's key keeps only 35 value octets; longer ones cannot rebuild.
            let long_unknown = matches!(&n, EvpnNlri::Unknown { value, .. } if value.len() > 35);
            if !long_unknown {
                prop_assert_eq!(k.to_nlri().key(), k);
            }
            prop_assert_eq!(k.route_type(), n.route_type());
            prop_assert_eq!(k.rd(), n.rd());
            let (mac, ip) = match &n {
                EvpnNlri::MacIp(r) => (Some(r.mac), r.ip),
                _ => (None, None),
            };
            prop_assert_eq!(k.mac(), mac);
            prop_assert_eq!(k.mac_ip(), ip);
            let mut relabelled = n.clone();
            match &mut relabelled {
                EvpnNlri::EthernetAutoDiscovery(r) => r.label = l,
                EvpnNlri::MacIp(r) => { r.label1 = l; r.label2 = None; }
                EvpnNlri::IpPrefix(r) => r.label = l,
                _ => {}
            }
            prop_assert_eq!(relabelled.key(), k);
        }

        #[test]
        fn arbitrary_bytes_never_panic_and_reencode_exactly(b in vec(any::<u8>(), 0..300)) {
            if let Ok(list) = decode_nlri_list(&b) {
                prop_assert_eq!(enc_all(&list), b);
            }
        }

        #[test]
        fn nlri_like_bytes_never_panic_and_reencode_exactly(b in nlri_like_bytes()) {
            if let Ok(list) = decode_nlri_list(&b) {
                prop_assert_eq!(enc_all(&list), b);
            }
        }

        #[test]
        fn esi_kind_round_trip(k in any_esi_kind()) {
            prop_assert_eq!(Esi::from(k).kind(), k);
        }

        #[test]
        fn esi_text_round_trip(e in any_esi()) {
            prop_assert_eq!(e.to_string().parse::<Esi>(), Ok(e));
        }

        #[test]
        fn ext_community_round_trip(c in any_ext_community()) {
            prop_assert_eq!(ExtendedCommunity::from_bytes(c.to_bytes()), c);
        }

        #[test]
        fn ext_community_bytes_lossless(b in any::<[u8; 8]>()) {
            prop_assert_eq!(ExtendedCommunity::from_bytes(b).to_bytes(), b);
        }

        #[test]
        fn pmsi_round_trip(p in any_pmsi()) {
            let mut b = BytesMut::new();
            p.encode(&mut b);
            prop_assert_eq!(b.len(), p.encoded_len());
            prop_assert_eq!(PmsiTunnel::decode(&b), Ok(p));
        }

        #[test]
        fn pmsi_bytes_never_panic_and_reencode_exactly(v in vec(any::<u8>(), 0..40)) {
            if let Ok(p) = PmsiTunnel::decode(&v) {
                let mut b = BytesMut::new();
                p.encode(&mut b);
                prop_assert_eq!(b.to_vec(), v);
            } else {
                prop_assert!(v.len() < 5);
            }
        }

        #[test]
        fn rd_text_round_trip_for_typed_forms(rd in any_rd()) {
            prop_assert_eq!(RouteDistinguisher::from_bytes(rd.to_bytes()), rd);
        }
    }
}

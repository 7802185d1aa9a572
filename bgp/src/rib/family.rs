//! What differs between address families, behind one trait so the tables, the import and
//! the Adj-RIB-Out are written once: the route key, the NLRI fields that are not part of the
//! key (kept per path), where the NLRI sit in an UPDATE, and how UPDATEs are packed.

use std::fmt::Debug;
use std::hash::Hash;
use std::net::IpAddr;

use bytes::BytesMut;

use super::attrs::PathAttrs;
use crate::packet::evpn::{Esi, EvpnNlri, EvpnRouteKey, Label};
use crate::packet::message::HEADER_LEN;
use crate::packet::{
    pack_evpn_updates, pack_evpn_withdrawals, AfiSafi, DecodeOptions, EncodeError, Ipv4Prefix,
    Message, MpNlri, Update,
};

/// One address family's routes.
pub trait RouteKey: Copy + Eq + Hash + Ord + Debug {
    /// The NLRI as on the wire.
    type Nlri: Clone + Debug + PartialEq;
    /// NLRI fields outside the key other than the 24-bit label, interned per table (most
    /// routes have none: `Default`).
    type Extra: Clone + Eq + Hash + Default + Debug;
    const FAMILY: AfiSafi;

    /// Key, 24-bit label and the other non-key fields of an NLRI.
    fn split(nlri: &Self::Nlri) -> (Self, u32, Self::Extra);
    /// The NLRI back from its parts.
    fn join(&self, label: u32, extra: &Self::Extra) -> Self::Nlri;
    /// Octets the NLRI takes on the wire.
    fn nlri_len(n: &Self::Nlri) -> usize;

    /// Reachable NLRI of this family in `u` with their next hop.
    fn reach(u: &Update) -> Option<(Option<IpAddr>, &[Self::Nlri])>;
    /// Withdrawn NLRI of this family in `u`.
    fn unreach(u: &Update) -> Vec<&[Self::Nlri]>;

    /// Whole UPDATE messages announcing `routes` with `attrs`.
    fn pack_updates(
        attrs: &PathAttrs,
        routes: &[Self::Nlri],
        opts: &DecodeOptions,
    ) -> Result<Vec<BytesMut>, EncodeError>;
    /// Whole UPDATE messages withdrawing `routes`.
    fn pack_withdrawals(
        routes: &[Self::Nlri],
        opts: &DecodeOptions,
    ) -> Result<Vec<BytesMut>, EncodeError>;
}

/// EVPN NLRI fields outside the route key and the label: the type-2 ESI and L3VNI (label 2),
/// the type-5 ESI and gateway. Zero/none on most routes, so usually not stored at all.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
pub struct EvpnExtra {
    pub esi: Esi,
    pub label2: Option<Label>,
    pub gateway: Option<IpAddr>,
}

impl RouteKey for EvpnRouteKey {
    type Nlri = EvpnNlri;
    type Extra = EvpnExtra;
    const FAMILY: AfiSafi = AfiSafi::L2VPN_EVPN;

    fn split(nlri: &EvpnNlri) -> (Self, u32, EvpnExtra) {
        let key = nlri.key();
        let mut extra = EvpnExtra::default();
        let label = match nlri {
            EvpnNlri::EthernetAutoDiscovery(r) => r.label.vni(),
            EvpnNlri::MacIp(r) => {
                extra.esi = r.esi;
                extra.label2 = r.label2;
                r.label1.vni()
            }
            EvpnNlri::IpPrefix(r) => {
                extra.esi = r.esi;
                extra.gateway = Some(r.gateway);
                r.label.vni()
            }
            EvpnNlri::InclusiveMulticast(_)
            | EvpnNlri::EthernetSegment(_)
            | EvpnNlri::Unknown { .. } => 0,
        };
        (key, label, extra)
    }

    fn join(&self, label: u32, extra: &EvpnExtra) -> EvpnNlri {
        let mut n = self.to_nlri();
        match &mut n {
            EvpnNlri::EthernetAutoDiscovery(r) => r.label = Label::from_vni(label),
            EvpnNlri::MacIp(r) => {
                r.esi = extra.esi;
                r.label1 = Label::from_vni(label);
                r.label2 = extra.label2;
            }
            EvpnNlri::IpPrefix(r) => {
                r.esi = extra.esi;
                r.label = Label::from_vni(label);
                if let Some(g) = extra.gateway {
                    r.gateway = g;
                }
            }
            _ => {}
        }
        n
    }

    fn nlri_len(n: &EvpnNlri) -> usize {
        n.encoded_len()
    }

    fn reach(u: &Update) -> Option<(Option<IpAddr>, &[EvpnNlri])> {
        let m = u.mp_reach()?;
        match &m.nlri {
            MpNlri::Evpn(v) if m.family == Self::FAMILY => Some((m.next_hop.ip(), v)),
            _ => None,
        }
    }

    fn unreach(u: &Update) -> Vec<&[EvpnNlri]> {
        match u.mp_unreach() {
            Some(m) if m.family == Self::FAMILY => match &m.nlri {
                MpNlri::Evpn(v) => vec![v.as_slice()],
                _ => vec![],
            },
            _ => vec![],
        }
    }

    fn pack_updates(
        attrs: &PathAttrs,
        routes: &[EvpnNlri],
        opts: &DecodeOptions,
    ) -> Result<Vec<BytesMut>, EncodeError> {
        let nh = attrs
            .next_hop
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        pack_evpn_updates(&attrs.to_attributes(), nh, routes, opts)
    }

    fn pack_withdrawals(
        routes: &[EvpnNlri],
        opts: &DecodeOptions,
    ) -> Result<Vec<BytesMut>, EncodeError> {
        pack_evpn_withdrawals(routes, opts)
    }
}

impl RouteKey for Ipv4Prefix {
    type Nlri = Ipv4Prefix;
    type Extra = ();
    const FAMILY: AfiSafi = AfiSafi::IPV4_UNICAST;

    fn split(nlri: &Ipv4Prefix) -> (Self, u32, ()) {
        (*nlri, 0, ())
    }

    fn join(&self, _: u32, _: &()) -> Ipv4Prefix {
        *self
    }

    fn nlri_len(n: &Ipv4Prefix) -> usize {
        n.encoded_len()
    }

    /// The NLRI field (RFC 4271); IPv4 unicast in MP_REACH is not used by FRR or GoBGP
    /// for IPv4 next hops, so it is not read.
    fn reach(u: &Update) -> Option<(Option<IpAddr>, &[Ipv4Prefix])> {
        (!u.nlri.is_empty()).then(|| (u.next_hop().map(IpAddr::V4), u.nlri.as_slice()))
    }

    fn unreach(u: &Update) -> Vec<&[Ipv4Prefix]> {
        let mut v = vec![u.withdrawn.as_slice()];
        if let Some(m) = u.mp_unreach() {
            if let MpNlri::Ipv4(p) = &m.nlri {
                v.push(p.as_slice());
            }
        }
        v
    }

    fn pack_updates(
        attrs: &PathAttrs,
        routes: &[Ipv4Prefix],
        opts: &DecodeOptions,
    ) -> Result<Vec<BytesMut>, EncodeError> {
        let attributes = attrs.to_attributes_with_next_hop();
        let mut probe = BytesMut::new();
        for a in &attributes {
            a.encode(&mut probe, opts)?;
        }
        // Header, two length fields, the attributes; the prefixes fill the rest.
        let room = opts.max_len().saturating_sub(HEADER_LEN + 4 + probe.len());
        pack_ipv4(routes, room, opts, |chunk| Update {
            attributes: attributes.clone(),
            nlri: chunk.to_vec(),
            ..Default::default()
        })
    }

    fn pack_withdrawals(
        routes: &[Ipv4Prefix],
        opts: &DecodeOptions,
    ) -> Result<Vec<BytesMut>, EncodeError> {
        let room = opts.max_len().saturating_sub(HEADER_LEN + 4);
        pack_ipv4(routes, room, opts, |chunk| Update {
            withdrawn: chunk.to_vec(),
            ..Default::default()
        })
    }
}

/// Splits `routes` into runs whose encoding fits `room` octets, one UPDATE per run.
fn pack_ipv4(
    routes: &[Ipv4Prefix],
    room: usize,
    opts: &DecodeOptions,
    build: impl Fn(&[Ipv4Prefix]) -> Update,
) -> Result<Vec<BytesMut>, EncodeError> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < routes.len() {
        let mut used = 0;
        let mut end = start;
        while let Some(p) = routes.get(end) {
            if used + p.encoded_len() > room {
                break;
            }
            used += p.encoded_len();
            end += 1;
        }
        if end == start {
            return Err(EncodeError::TooLong {
                len: HEADER_LEN + 4 + used,
                max: opts.max_len(),
            });
        }
        let mut m = BytesMut::new();
        Message::Update(build(&routes[start..end])).encode(opts, &mut m)?;
        out.push(m);
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::types::{MacAddress, RouteDistinguisher};
    use std::net::Ipv4Addr;

    #[test]
    fn evpn_split_join_round_trips_every_non_key_field() {
        let rd = RouteDistinguisher::Ipv4 {
            addr: Ipv4Addr::new(10, 0, 0, 1),
            number: 2,
        };
        let n = EvpnNlri::MacIp(crate::packet::evpn::MacIpAdvertisement {
            rd,
            esi: Esi([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            ethernet_tag: 0,
            mac_len: 48,
            mac: MacAddress([2, 0, 0, 0, 0, 1]),
            ip: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1))),
            label1: Label(100),
            label2: Some(Label(5000)),
        });
        let (k, l, e) = EvpnRouteKey::split(&n);
        assert_eq!(l, 100);
        assert_eq!(k.join(l, &e), n);
        let p = EvpnNlri::IpPrefix(crate::packet::evpn::IpPrefix {
            rd,
            esi: Esi::ZERO,
            ethernet_tag: 0,
            prefix_len: 24,
            prefix: IpAddr::V4(Ipv4Addr::new(10, 2, 0, 0)),
            gateway: IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1)),
            label: Label(5000),
        });
        let (k, l, e) = EvpnRouteKey::split(&p);
        assert_eq!(k.join(l, &e), p);
    }

    #[test]
    fn ipv4_packing_fills_messages_and_decodes_back() {
        let routes: Vec<Ipv4Prefix> = (0..2000u32)
            .map(|i| Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 | i << 8), 24).unwrap())
            .collect();
        let attrs = PathAttrs {
            next_hop: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            ..Default::default()
        };
        let opts = DecodeOptions::default();
        let msgs = Ipv4Prefix::pack_updates(&attrs, &routes, &opts).unwrap();
        let mut back = Vec::new();
        for m in &msgs {
            assert!(m.len() <= 4096);
            let Ok(Message::Update(u)) = Message::decode(m, &opts) else {
                panic!("not an UPDATE")
            };
            assert!(u.malformations.is_empty());
            back.extend(u.nlri);
        }
        assert_eq!(back, routes);
        // 4 octets per /24: (4096 - 19 - 4 - 14 attribute octets) / 4 = 1014 per message.
        assert_eq!(msgs.len(), 2);
        let w = Ipv4Prefix::pack_withdrawals(&routes, &opts).unwrap();
        assert_eq!(w.len(), 2);
    }
}

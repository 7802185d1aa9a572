//! The attribute set a route carries, normalized so that equal sets hash equal and can be
//! interned (one `Arc` per distinct set; 1M routes from one peer share a few hundred).
//!
//! Normalized means: typed fields instead of the received list, so attribute order and
//! flag octets do not split sets; the MP_REACH next hop folded in (for EVPN it is the VTEP
//! and part of what the route says); MP_REACH/MP_UNREACH and AS4_* left out (the NLRI are
//! the route keys; AS4_* only matter on 2-octet sessions, which evpnd's peers never use).

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::packet::attribute::{code, flags};
use crate::packet::extcomm::ExtendedCommunity;
use crate::packet::pmsi::PmsiTunnel;
use crate::packet::{
    Aggregator, AsPath, Attribute, Community, LargeCommunity, Origin, PathAttribute, Update,
};

/// A route's path attributes (RFC 4271 section 5), one field per attribute.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PathAttrs {
    pub origin: Origin,
    pub as_path: AsPath,
    /// NEXT_HOP for IPv4 unicast, the MP_REACH next hop (the VTEP) for EVPN.
    pub next_hop: Option<IpAddr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Vec<Community>,
    pub ext_communities: Vec<ExtendedCommunity>,
    pub large_communities: Vec<LargeCommunity>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub pmsi_tunnel: Option<PmsiTunnel>,
    /// Unrecognized optional transitive attributes, PARTIAL bit set (RFC 4271 section 5:
    /// passed on marked partial; unrecognized non-transitive ones are dropped).
    pub unknown: Vec<PathAttribute>,
}

impl Default for PathAttrs {
    fn default() -> Self {
        Self {
            origin: Origin::Igp,
            as_path: AsPath::default(),
            next_hop: None,
            med: None,
            local_pref: None,
            atomic_aggregate: false,
            aggregator: None,
            communities: Vec::new(),
            ext_communities: Vec::new(),
            large_communities: Vec::new(),
            originator_id: None,
            cluster_list: Vec::new(),
            pmsi_tunnel: None,
            unknown: Vec::new(),
        }
    }
}

/// LOCAL_PREF assumed when a route has none (FRR's and RFC practice default).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

impl PathAttrs {
    /// The attributes of `u` with `next_hop` (the caller picks NEXT_HOP or the MP_REACH
    /// next hop, depending on which NLRI the set is for).
    pub fn from_update(u: &Update, next_hop: Option<IpAddr>) -> Self {
        let mut a = PathAttrs {
            next_hop,
            ..Default::default()
        };
        for pa in &u.attributes {
            match &pa.value {
                Attribute::Origin(o) => a.origin = *o,
                Attribute::AsPath(p) => a.as_path = p.clone(),
                Attribute::MultiExitDisc(v) => a.med = Some(*v),
                Attribute::LocalPref(v) => a.local_pref = Some(*v),
                Attribute::AtomicAggregate => a.atomic_aggregate = true,
                Attribute::Aggregator(g) => a.aggregator = Some(*g),
                Attribute::Communities(c) => a.communities = c.clone(),
                Attribute::OriginatorId(o) => a.originator_id = Some(*o),
                Attribute::ClusterList(c) => a.cluster_list = c.clone(),
                Attribute::ExtendedCommunities(c) => a.ext_communities = c.clone(),
                Attribute::PmsiTunnel(p) => a.pmsi_tunnel = Some(p.clone()),
                Attribute::LargeCommunities(c) => a.large_communities = c.clone(),
                Attribute::Unknown { .. } => {
                    if let Some(p) = pa.to_readvertise() {
                        a.unknown.push(p);
                    }
                }
                Attribute::NextHop(_)
                | Attribute::MpReachNlri(_)
                | Attribute::MpUnreachNlri(_)
                | Attribute::As4Path(_)
                | Attribute::As4Aggregator(_) => {}
            }
        }
        a
    }

    /// LOCAL_PREF for the decision process (absent: [`DEFAULT_LOCAL_PREF`]).
    pub fn effective_local_pref(&self) -> u32 {
        self.local_pref.unwrap_or(DEFAULT_LOCAL_PREF)
    }

    /// The attributes to send, in type-code order (FRR's order), without NEXT_HOP and MP
    /// attributes: the packer adds MP_REACH with [`PathAttrs::next_hop`]; for IPv4 unicast
    /// use [`PathAttrs::to_attributes_with_next_hop`].
    pub fn to_attributes(&self) -> Vec<PathAttribute> {
        self.build(false)
    }

    /// Like [`PathAttrs::to_attributes`] with NEXT_HOP (IPv4 unicast in the NLRI field).
    pub fn to_attributes_with_next_hop(&self) -> Vec<PathAttribute> {
        self.build(true)
    }

    fn build(&self, with_next_hop: bool) -> Vec<PathAttribute> {
        let mut v = Vec::with_capacity(8 + self.unknown.len());
        v.push(PathAttribute::new(Attribute::Origin(self.origin)));
        v.push(PathAttribute::new(Attribute::AsPath(self.as_path.clone())));
        if let (true, Some(IpAddr::V4(nh))) = (with_next_hop, self.next_hop) {
            v.push(PathAttribute::new(Attribute::NextHop(nh)));
        }
        if let Some(m) = self.med {
            v.push(PathAttribute::new(Attribute::MultiExitDisc(m)));
        }
        if let Some(l) = self.local_pref {
            v.push(PathAttribute::new(Attribute::LocalPref(l)));
        }
        if self.atomic_aggregate {
            v.push(PathAttribute::new(Attribute::AtomicAggregate));
        }
        if let Some(g) = self.aggregator {
            v.push(PathAttribute::new(Attribute::Aggregator(g)));
        }
        if !self.communities.is_empty() {
            v.push(PathAttribute::new(Attribute::Communities(
                self.communities.clone(),
            )));
        }
        if let Some(o) = self.originator_id {
            v.push(PathAttribute::new(Attribute::OriginatorId(o)));
        }
        if !self.cluster_list.is_empty() {
            v.push(PathAttribute::new(Attribute::ClusterList(
                self.cluster_list.clone(),
            )));
        }
        if !self.ext_communities.is_empty() {
            v.push(PathAttribute::new(Attribute::ExtendedCommunities(
                self.ext_communities.clone(),
            )));
        }
        if let Some(p) = &self.pmsi_tunnel {
            v.push(PathAttribute::new(Attribute::PmsiTunnel(p.clone())));
        }
        if !self.large_communities.is_empty() {
            v.push(PathAttribute::new(Attribute::LargeCommunities(
                self.large_communities.clone(),
            )));
        }
        for u in &self.unknown {
            let mut u = u.clone();
            u.flags |= flags::OPTIONAL | flags::TRANSITIVE;
            v.push(u);
        }
        debug_assert!(v.iter().all(|a| a.type_code() != code::MP_REACH_NLRI));
        v
    }

    /// MAC mobility sequence number and sticky flag (RFC 7432 section 7.7), for the EVPN
    /// layer's MAC mobility rule.
    pub fn mac_mobility(&self) -> Option<(u32, bool)> {
        self.ext_communities
            .iter()
            .find_map(|c| Some((c.mac_mobility_sequence()?, c.sticky().unwrap_or(false))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::extcomm::RouteTarget;
    use crate::packet::message::DecodeOptions;
    use bytes::BytesMut;

    fn sample() -> PathAttrs {
        PathAttrs {
            origin: Origin::Incomplete,
            as_path: AsPath::sequence(vec![65001, 65000]),
            next_hop: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
            med: Some(5),
            local_pref: Some(200),
            atomic_aggregate: true,
            aggregator: Some(Aggregator {
                asn: 65001,
                address: Ipv4Addr::new(10, 0, 0, 1),
            }),
            communities: vec![Community(65000 << 16 | 1)],
            ext_communities: vec![
                ExtendedCommunity::route_target(RouteTarget::As2 {
                    asn: 65001,
                    value: 100,
                }),
                ExtendedCommunity::mac_mobility(7, true),
            ],
            large_communities: vec![LargeCommunity {
                global_admin: 1,
                local_data1: 2,
                local_data2: 3,
            }],
            originator_id: Some(Ipv4Addr::new(1, 1, 1, 1)),
            cluster_list: vec![Ipv4Addr::new(2, 2, 2, 2)],
            pmsi_tunnel: Some(PmsiTunnel::ingress_replication(
                100,
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            )),
            unknown: vec![PathAttribute {
                flags: flags::OPTIONAL | flags::TRANSITIVE | flags::PARTIAL,
                value: Attribute::Unknown {
                    type_code: 99,
                    value: vec![1, 2, 3],
                },
            }],
        }
    }

    #[test]
    fn round_trips_through_update_attributes() {
        let a = sample();
        let u = Update::evpn_reach(
            a.to_attributes(),
            a.next_hop.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            vec![],
        );
        // Through the wire, too: encode and decode the UPDATE.
        let mut b = BytesMut::new();
        u.encode(&mut b, &DecodeOptions::default()).unwrap();
        let back = Update::decode(&b, &DecodeOptions::default());
        assert!(back.malformations.is_empty(), "{:?}", back.malformations);
        let nh = back.mp_reach().and_then(|m| m.next_hop.ip());
        assert_eq!(PathAttrs::from_update(&back, nh), a);
        assert_eq!(a.mac_mobility(), Some((7, true)));
    }

    #[test]
    fn order_and_flags_do_not_split_sets_and_non_transitive_unknown_is_dropped() {
        let a = sample();
        let mut attrs = a.to_attributes();
        attrs.reverse();
        attrs.push(PathAttribute {
            flags: flags::OPTIONAL,
            value: Attribute::Unknown {
                type_code: 98,
                value: vec![9],
            },
        });
        let u = Update {
            attributes: attrs,
            ..Default::default()
        };
        assert_eq!(PathAttrs::from_update(&u, a.next_hop), a);
    }

    #[test]
    fn next_hop_attribute_only_when_asked() {
        let a = sample();
        let has_nh = |v: &[PathAttribute]| v.iter().any(|p| p.type_code() == code::NEXT_HOP);
        assert!(!has_nh(&a.to_attributes()));
        assert!(has_nh(&a.to_attributes_with_next_hop()));
        assert_eq!(PathAttrs::default().effective_local_pref(), 100);
    }
}

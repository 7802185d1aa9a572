//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 sections 3 and 4): address family, next hop
//! and NLRI, typed for IPv4/IPv6 unicast and L2VPN EVPN, raw for other families.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::sequence::terminated;
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::afi::{Afi, AfiSafi, Safi};
use super::evpn::{self, EvpnNlri};
use super::notification::hex_bytes;
use super::parse::{be_u16, be_u8, exact, ipv4, ipv6, ok_or, PResult};
use super::prefix::{Ipv4Prefix, Ipv6Prefix};

/// Network Address of Next Hop.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MpNextHop {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// 32 octets: global then link-local (RFC 2545 section 3).
    Ipv6LinkLocal {
        global: Ipv6Addr,
        link_local: Ipv6Addr,
    },
    /// A family we do not type: kept as received.
    Raw(#[serde(with = "hex_bytes")] Vec<u8>),
}

impl MpNextHop {
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self::Ipv4(a),
            IpAddr::V6(a) => Self::Ipv6(a),
        }
    }

    /// The (global) next-hop address, when typed.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Ipv4(a) => Some(IpAddr::V4(*a)),
            Self::Ipv6(a) | Self::Ipv6LinkLocal { global: a, .. } => Some(IpAddr::V6(*a)),
            Self::Raw(_) => None,
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Ipv4(_) => 4,
            Self::Ipv6(_) => 16,
            Self::Ipv6LinkLocal { .. } => 32,
            Self::Raw(v) => v.len(),
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::Ipv4(a) => out.put_slice(&a.octets()),
            Self::Ipv6(a) => out.put_slice(&a.octets()),
            Self::Ipv6LinkLocal { global, link_local } => {
                out.put_slice(&global.octets());
                out.put_slice(&link_local.octets());
            }
            Self::Raw(v) => out.put_slice(v),
        }
    }

    /// Next hop for `family`; `None` when the length is not one the family allows.
    fn decode(family: AfiSafi, nh: &[u8]) -> Option<Self> {
        match (family.afi, family.safi, nh.len()) {
            (Afi::Ipv4, Safi::Unicast, 4) => exact(ipv4, nh).map(Self::Ipv4),
            (Afi::Ipv6, Safi::Unicast, 16) => exact(ipv6, nh).map(Self::Ipv6),
            (Afi::Ipv6, Safi::Unicast, 32) => exact((ipv6, ipv6), nh)
                .map(|(global, link_local)| Self::Ipv6LinkLocal { global, link_local }),
            // RFC 7432 section 7: the VTEP/PE address, IPv4 or IPv6.
            (Afi::L2vpn, Safi::Evpn, 4) => exact(ipv4, nh).map(Self::Ipv4),
            (Afi::L2vpn, Safi::Evpn, 16) => exact(ipv6, nh).map(Self::Ipv6),
            (Afi::Ipv4, Safi::Unicast, _)
            | (Afi::Ipv6, Safi::Unicast, _)
            | (Afi::L2vpn, Safi::Evpn, _) => None,
            _ => Some(Self::Raw(nh.to_vec())),
        }
    }
}

impl std::fmt::Display for MpNextHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ipv4(a) => write!(f, "{a}"),
            Self::Ipv6(a) => write!(f, "{a}"),
            Self::Ipv6LinkLocal { global, link_local } => write!(f, "{global} ({link_local})"),
            Self::Raw(v) => f.write_str(&hex_bytes::to_hex(v)),
        }
    }
}

/// The NLRI of an MP attribute.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MpNlri {
    Ipv4(Vec<Ipv4Prefix>),
    Ipv6(Vec<Ipv6Prefix>),
    Evpn(Vec<EvpnNlri>),
    /// A family we do not type: kept as received.
    Raw(#[serde(with = "hex_bytes")] Vec<u8>),
}

impl MpNlri {
    /// An empty list of the right kind for `family`.
    pub fn empty(family: AfiSafi) -> Self {
        match (family.afi, family.safi) {
            (Afi::Ipv4, Safi::Unicast) => Self::Ipv4(Vec::new()),
            (Afi::Ipv6, Safi::Unicast) => Self::Ipv6(Vec::new()),
            (Afi::L2vpn, Safi::Evpn) => Self::Evpn(Vec::new()),
            _ => Self::Raw(Vec::new()),
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Self::Ipv4(v) => v.is_empty(),
            Self::Ipv6(v) => v.is_empty(),
            Self::Evpn(v) => v.is_empty(),
            Self::Raw(v) => v.is_empty(),
        }
    }

    /// Number of routes (for raw NLRI: 1 when non-empty, as their count is unknown).
    pub fn len(&self) -> usize {
        match self {
            Self::Ipv4(v) => v.len(),
            Self::Ipv6(v) => v.len(),
            Self::Evpn(v) => v.len(),
            Self::Raw(v) => usize::from(!v.is_empty()),
        }
    }

    fn decode(family: AfiSafi, data: &[u8]) -> Result<Self, String> {
        Ok(match (family.afi, family.safi) {
            (Afi::Ipv4, Safi::Unicast) => {
                Self::Ipv4(Ipv4Prefix::decode_list(data).map_err(|e| e.to_string())?)
            }
            (Afi::Ipv6, Safi::Unicast) => {
                Self::Ipv6(Ipv6Prefix::decode_list(data).map_err(|e| e.to_string())?)
            }
            (Afi::L2vpn, Safi::Evpn) => {
                Self::Evpn(evpn::decode_nlri_list(data).map_err(|e| e.to_string())?)
            }
            _ => Self::Raw(data.to_vec()),
        })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::Ipv4(v) => v.iter().for_each(|p| p.encode(out)),
            Self::Ipv6(v) => v.iter().for_each(|p| p.encode(out)),
            Self::Evpn(v) => v.iter().for_each(|n| n.encode(out)),
            Self::Raw(v) => out.put_slice(v),
        }
    }
}

/// Why an MP attribute is incorrect (RFC 4760 section 7, RFC 7606 sections 5.3 and 7.11).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MpError {
    #[error("attribute length {0} is below the minimum")]
    TooShort(usize),
    #[error("next hop length {len} is not valid for {family}")]
    BadNextHopLength { family: AfiSafi, len: u8 },
    #[error("NLRI of {family} cannot be parsed: {reason}")]
    Nlri { family: AfiSafi, reason: String },
}

/// MP_REACH_NLRI (type code 14).
///
/// ```text
/// +---------------------------------------------------------+
/// | Address Family Identifier (2 octets)                    |
/// +---------------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet)          |
/// +---------------------------------------------------------+
/// | Length of Next Hop Network Address (1 octet)            |
/// +---------------------------------------------------------+
/// | Network Address of Next Hop (variable)                  |
/// +---------------------------------------------------------+
/// | Reserved (1 octet)                                      |
/// +---------------------------------------------------------+
/// | Network Layer Reachability Information (variable)       |
/// +---------------------------------------------------------+
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct MpReach {
    pub family: AfiSafi,
    pub next_hop: MpNextHop,
    pub nlri: MpNlri,
}

/// AFI (2 octets) and SAFI (1 octet), the head of both MP attributes.
fn afi_safi(i: &[u8]) -> PResult<'_, AfiSafi> {
    (be_u16, be_u8)
        .map(|(afi, safi)| AfiSafi::new(Afi::from_u16(afi), Safi::from_u8(safi)))
        .parse(i)
}

impl MpReach {
    pub fn decode(v: &[u8]) -> Result<Self, MpError> {
        if v.len() < 5 {
            return Err(MpError::TooShort(v.len()));
        }
        let (r, (family, nh_len)) =
            ok_or((afi_safi, be_u8).parse(v), || MpError::TooShort(v.len()))?;
        let bad_nh = || MpError::BadNextHopLength {
            family,
            len: nh_len,
        };
        // The next hop plus the reserved octet (whatever its value) must fit.
        let (nlri, nh) = ok_or(terminated(take(nh_len), be_u8).parse(r), bad_nh)?;
        let next_hop = MpNextHop::decode(family, nh).ok_or_else(bad_nh)?;
        let nlri =
            MpNlri::decode(family, nlri).map_err(|reason| MpError::Nlri { family, reason })?;
        Ok(Self {
            family,
            next_hop,
            nlri,
        })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u16(self.family.afi.to_u16());
        out.put_u8(self.family.safi.to_u8());
        out.put_u8(self.next_hop.len() as u8);
        self.next_hop.encode(out);
        out.put_u8(0);
        self.nlri.encode(out);
    }
}

/// MP_UNREACH_NLRI (type code 15).
///
/// ```text
/// +---------------------------------------------------------+
/// | Address Family Identifier (2 octets)                    |
/// +---------------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet)          |
/// +---------------------------------------------------------+
/// | Withdrawn Routes (variable)                             |
/// +---------------------------------------------------------+
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct MpUnreach {
    pub family: AfiSafi,
    pub nlri: MpNlri,
}

impl MpUnreach {
    pub fn decode(v: &[u8]) -> Result<Self, MpError> {
        let (nlri, family) = ok_or(afi_safi(v), || MpError::TooShort(v.len()))?;
        let nlri =
            MpNlri::decode(family, nlri).map_err(|reason| MpError::Nlri { family, reason })?;
        Ok(Self { family, nlri })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u16(self.family.afi.to_u16());
        out.put_u8(self.family.safi.to_u8());
        self.nlri.encode(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_reach_with_link_local() {
        let mut wire = vec![0, 2, 1, 32];
        wire.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        wire.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        wire.push(0);
        wire.extend_from_slice(&[64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1]);
        let r = MpReach::decode(&wire).unwrap();
        assert_eq!(r.family, AfiSafi::IPV6_UNICAST);
        assert!(matches!(r.next_hop, MpNextHop::Ipv6LinkLocal { .. }));
        assert_eq!(r.next_hop.ip(), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(r.nlri.len(), 1);
        let mut out = BytesMut::new();
        r.encode(&mut out);
        assert_eq!(&out[..], &wire[..]);
    }

    #[test]
    fn ipv4_reach_and_unreach() {
        let wire = [0, 1, 1, 4, 10, 0, 0, 1, 0, 24, 10, 1, 2];
        let r = MpReach::decode(&wire).unwrap();
        assert_eq!(r.nlri, MpNlri::Ipv4(vec!["10.1.2.0/24".parse().unwrap()]));
        let u = MpUnreach::decode(&[0, 1, 1, 24, 10, 1, 2]).unwrap();
        let mut out = BytesMut::new();
        u.encode(&mut out);
        assert_eq!(&out[..], &[0, 1, 1, 24, 10, 1, 2]);
    }

    #[test]
    fn unknown_family_is_raw() {
        let wire = [
            0, 1, 128, 12, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1, 0, 0xaa, 0xbb,
        ];
        let r = MpReach::decode(&wire).unwrap();
        assert_eq!(r.next_hop, MpNextHop::Raw(wire[4..16].to_vec()));
        assert_eq!(r.nlri, MpNlri::Raw(vec![0xaa, 0xbb]));
        let mut out = BytesMut::new();
        r.encode(&mut out);
        assert_eq!(&out[..], &wire[..]);
    }

    #[test]
    fn errors() {
        assert_eq!(MpReach::decode(&[0, 1, 1, 0]), Err(MpError::TooShort(4)));
        assert_eq!(MpUnreach::decode(&[0, 1]), Err(MpError::TooShort(2)));
        // EVPN with a 5-octet next hop.
        assert!(matches!(
            MpReach::decode(&[0, 25, 70, 5, 1, 2, 3, 4, 5, 0]),
            Err(MpError::BadNextHopLength { len: 5, .. })
        ));
        // IPv6 with a 4-octet next hop.
        assert!(matches!(
            MpReach::decode(&[0, 2, 1, 4, 1, 2, 3, 4, 0]),
            Err(MpError::BadNextHopLength { len: 4, .. })
        ));
        // Next hop length running past the attribute.
        assert!(matches!(
            MpReach::decode(&[0, 1, 1, 4, 1, 2, 3, 4]),
            Err(MpError::BadNextHopLength { len: 4, .. })
        ));
        // Truncated NLRI.
        assert!(matches!(
            MpReach::decode(&[0, 1, 1, 4, 1, 2, 3, 4, 0, 24, 10]),
            Err(MpError::Nlri { .. })
        ));
        assert!(matches!(
            MpUnreach::decode(&[0, 2, 1, 129]),
            Err(MpError::Nlri { .. })
        ));
    }
}

//! EVPN NLRI (RFC 7432 section 7, RFC 8365, RFC 9136): route types 1 to 5.
//!
//!
//! ```text
//! +-----------------------------------+
//! |    Route Type (1 octet)           |
//! +-----------------------------------+
//! |     Length (1 octet)              |
//! +-----------------------------------+
//! | Route Type specific (variable)    |
//! +-----------------------------------+
//! ```
//!
//! Labels carry a VNI in all 24 bits (RFC 8365 section 5.1.3), never shifted like an MPLS
//! label. Decoding uses nom: the type/length framing, then one tuple of field parsers per
//! route type, after the value's length has been checked against the type's layout.

use std::net::IpAddr;

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::combinator::{all_consuming, cond};
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::parse::{array, be_u24, be_u32, be_u8, ip, ok_or, PResult};
use super::types::{serde_via_str, MacAddress, ParseValueError, RouteDistinguisher};

/// Ethernet Segment Identifier (RFC 7432 section 5): type octet + 9 value octets.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Esi(pub [u8; 10]);

impl std::fmt::Display for Esi {
    /// FRR's form: ten colon-separated hex octets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Esi {
    type Err = ParseValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 10];
        let mut parts = s.split(':');
        for b in out.iter_mut() {
            let p = parts
                .next()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| ParseValueError::new("ESI", s))?;
            *b = u8::from_str_radix(p, 16).map_err(|_| ParseValueError::new("ESI", s))?;
        }
        if parts.next().is_some() {
            return Err(ParseValueError::new("ESI", s));
        }
        Ok(Esi(out))
    }
}
serde_via_str!(Esi);

/// A 24-bit label field. Under RFC 8365 (VXLAN) all 24 bits are the VNI.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Label(pub u32);

/// Route type 1: Ethernet Auto-Discovery.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct EthernetAutoDiscovery {
    pub rd: RouteDistinguisher,
    pub esi: Esi,
    pub ethernet_tag: u32,
    pub label: Label,
}

/// Route type 2: MAC/IP Advertisement.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct MacIpAdvertisement {
    pub rd: RouteDistinguisher,
    pub esi: Esi,
    pub ethernet_tag: u32,
    /// MAC address length in bits as received (48 on every legal route).
    pub mac_len: u8,
    pub mac: MacAddress,
    /// IP address, absent when IP length is 0.
    pub ip: Option<IpAddr>,
    /// L2VNI.
    pub label1: Label,
    /// L3VNI, only on MAC+IP routes of symmetric IRB.
    pub label2: Option<Label>,
}

/// Route type 3: Inclusive Multicast Ethernet Tag.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct InclusiveMulticastEthernetTag {
    pub rd: RouteDistinguisher,
    pub ethernet_tag: u32,
    pub originator: IpAddr,
}

/// Route type 4: Ethernet Segment.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct EthernetSegment {
    pub rd: RouteDistinguisher,
    pub esi: Esi,
    pub originator: IpAddr,
}

/// Route type 5: IP Prefix (RFC 9136). IPv4 and IPv6 sizes are fixed (34 / 58 octets).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct IpPrefix {
    pub rd: RouteDistinguisher,
    pub esi: Esi,
    pub ethernet_tag: u32,
    pub prefix_len: u8,
    pub prefix: IpAddr,
    pub gateway: IpAddr,
    pub label: Label,
}

/// One EVPN NLRI.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EvpnNlri {
    EthernetAutoDiscovery(EthernetAutoDiscovery),
    MacIp(MacIpAdvertisement),
    InclusiveMulticast(InclusiveMulticastEthernetTag),
    EthernetSegment(EthernetSegment),
    IpPrefix(IpPrefix),
    /// A route type we do not know: kept raw so it can be skipped (never a session reset).
    Unknown {
        route_type: u8,
        value: Vec<u8>,
    },
}

/// Why an EVPN NLRI could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NlriError {
    #[error("EVPN NLRI truncated: need {needed} octets, {available} left")]
    Truncated { needed: usize, available: usize },
    #[error("EVPN route type {route_type}: length {length} is not valid")]
    BadLength { route_type: u8, length: u8 },
    #[error("EVPN route type {route_type}: IP length {ip_len} is not 0, 32 or 128")]
    BadIpLength { route_type: u8, ip_len: u8 },
    /// Type 5 prefix length longer than its address (RFC 9136 section 3.1).
    #[error("EVPN route type 5: prefix length {prefix_len} is longer than the address")]
    BadPrefixLength { prefix_len: u8 },
}

mod esi;
#[cfg(test)]
mod golden;
mod key;
#[cfg(test)]
mod tests;

pub use esi::EsiKind;
pub use key::EvpnRouteKey;

/// Route type codes (RFC 7432 section 7, RFC 9136 section 3).
pub const ROUTE_TYPE_ETHERNET_AD: u8 = 1;
pub const ROUTE_TYPE_MAC_IP: u8 = 2;
pub const ROUTE_TYPE_INCLUSIVE_MULTICAST: u8 = 3;
pub const ROUTE_TYPE_ETHERNET_SEGMENT: u8 = 4;
pub const ROUTE_TYPE_IP_PREFIX: u8 = 5;

impl Label {
    /// Largest value a 24-bit label field holds.
    pub const MAX: u32 = 0x00ff_ffff;

    /// A label carrying `vni` (RFC 8365: all 24 bits). Bits above 24 are dropped.
    pub const fn from_vni(vni: u32) -> Self {
        Label(vni & Self::MAX)
    }

    /// The VNI: all 24 bits of the field (RFC 8365 section 5.1.3), not shifted by 4.
    pub const fn vni(self) -> u32 {
        self.0 & Self::MAX
    }

    fn to_be_bytes(self) -> [u8; 3] {
        let [_, a, b, c] = self.vni().to_be_bytes();
        [a, b, c]
    }
}

impl EvpnNlri {
    /// Route type code (1..=5, or the unknown one).
    pub fn route_type(&self) -> u8 {
        match self {
            Self::EthernetAutoDiscovery(_) => ROUTE_TYPE_ETHERNET_AD,
            Self::MacIp(_) => ROUTE_TYPE_MAC_IP,
            Self::InclusiveMulticast(_) => ROUTE_TYPE_INCLUSIVE_MULTICAST,
            Self::EthernetSegment(_) => ROUTE_TYPE_ETHERNET_SEGMENT,
            Self::IpPrefix(_) => ROUTE_TYPE_IP_PREFIX,
            Self::Unknown { route_type, .. } => *route_type,
        }
    }

    /// The route distinguisher; `None` for an unknown route type (its layout is unknown).
    pub fn rd(&self) -> Option<RouteDistinguisher> {
        match self {
            Self::EthernetAutoDiscovery(r) => Some(r.rd),
            Self::MacIp(r) => Some(r.rd),
            Self::InclusiveMulticast(r) => Some(r.rd),
            Self::EthernetSegment(r) => Some(r.rd),
            Self::IpPrefix(r) => Some(r.rd),
            Self::Unknown { .. } => None,
        }
    }

    /// Length of the value (what the length octet says), at most 255.
    pub fn value_len(&self) -> usize {
        match self {
            Self::EthernetAutoDiscovery(_) => 25,
            Self::MacIp(r) => {
                33 + r.ip.map_or(0, |ip| ip_octets(&ip)) + if r.label2.is_some() { 3 } else { 0 }
            }
            Self::InclusiveMulticast(r) => 13 + ip_octets(&r.originator),
            Self::EthernetSegment(r) => 19 + ip_octets(&r.originator),
            Self::IpPrefix(r) => 26 + 2 * ip_octets(&r.prefix),
            Self::Unknown { value, .. } => value.len().min(255),
        }
    }

    /// Octets `encode` appends: type, length and value.
    pub fn encoded_len(&self) -> usize {
        2 + self.value_len()
    }

    /// Appends the NLRI (type, length, value) to `out`.
    ///
    /// Values that the wire cannot carry are clamped rather than panicking: labels keep their
    /// low 24 bits, a type-5 gateway of the other address family than the prefix is written
    /// as the unspecified address, and an `Unknown` value longer than 255 octets is cut.
    /// None of these can come out of `decode_nlri_list`.
    pub fn encode(&self, out: &mut BytesMut) {
        let len = self.value_len();
        out.reserve(2 + len);
        out.put_u8(self.route_type());
        // value_len() is at most 255 by construction.
        out.put_u8(len as u8);
        match self {
            Self::EthernetAutoDiscovery(r) => {
                out.put_slice(&r.rd.to_bytes());
                out.put_slice(&r.esi.0);
                out.put_u32(r.ethernet_tag);
                out.put_slice(&r.label.to_be_bytes());
            }
            Self::MacIp(r) => {
                out.put_slice(&r.rd.to_bytes());
                out.put_slice(&r.esi.0);
                out.put_u32(r.ethernet_tag);
                out.put_u8(r.mac_len);
                out.put_slice(&r.mac.0);
                match r.ip {
                    None => out.put_u8(0),
                    Some(ip) => put_ip_with_len(out, &ip),
                }
                out.put_slice(&r.label1.to_be_bytes());
                if let Some(l2) = r.label2 {
                    out.put_slice(&l2.to_be_bytes());
                }
            }
            Self::InclusiveMulticast(r) => {
                out.put_slice(&r.rd.to_bytes());
                out.put_u32(r.ethernet_tag);
                put_ip_with_len(out, &r.originator);
            }
            Self::EthernetSegment(r) => {
                out.put_slice(&r.rd.to_bytes());
                out.put_slice(&r.esi.0);
                put_ip_with_len(out, &r.originator);
            }
            Self::IpPrefix(r) => {
                out.put_slice(&r.rd.to_bytes());
                out.put_slice(&r.esi.0);
                out.put_u32(r.ethernet_tag);
                out.put_u8(r.prefix_len);
                match (r.prefix, r.gateway) {
                    (IpAddr::V4(p), IpAddr::V4(g)) => {
                        out.put_slice(&p.octets());
                        out.put_slice(&g.octets());
                    }
                    (IpAddr::V4(p), IpAddr::V6(_)) => {
                        out.put_slice(&p.octets());
                        out.put_slice(&[0; 4]);
                    }
                    (IpAddr::V6(p), IpAddr::V6(g)) => {
                        out.put_slice(&p.octets());
                        out.put_slice(&g.octets());
                    }
                    (IpAddr::V6(p), IpAddr::V4(_)) => {
                        out.put_slice(&p.octets());
                        out.put_slice(&[0; 16]);
                    }
                }
                out.put_slice(&r.label.to_be_bytes());
            }
            Self::Unknown { value, .. } => out.put_slice(&value[..len]),
        }
    }

    /// The BGP route key: only the fields RFC 7432 / RFC 9136 compare routes on (RD plus
    /// the per-type key fields; never labels, never the type-2 ESI or the type-5 gateway).
    pub fn key(&self) -> EvpnRouteKey {
        EvpnRouteKey::of(self)
    }
}

fn ip_octets(ip: &IpAddr) -> usize {
    match ip {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 16,
    }
}

/// IP length in bits (one octet), then the address.
fn put_ip_with_len(out: &mut BytesMut, ip: &IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            out.put_u8(32);
            out.put_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.put_u8(128);
            out.put_slice(&a.octets());
        }
    }
}

/// Decodes the NLRI field of an EVPN MP_REACH/MP_UNREACH (a sequence of NLRI).
///
/// Unknown route types are kept as `EvpnNlri::Unknown` (RFC 7432 section 7: they are to be
/// ignored, not treated as errors). A known type with a length that does not fit its layout
/// is an error, as is a length octet that runs past `data`.
pub fn decode_nlri_list(data: &[u8]) -> Result<Vec<EvpnNlri>, NlriError> {
    // A first pass over the length octets only: it checks the framing and gives the exact
    // count, so the output is allocated once (no `many0` growing a Vec).
    let mut count = 0usize;
    let mut rest = data;
    while !rest.is_empty() {
        let (_, _, tail) = split_nlri(rest)?;
        count += 1;
        rest = tail;
    }
    let mut out = Vec::with_capacity(count);
    let mut rest = data;
    while !rest.is_empty() {
        let (route_type, value, tail) = split_nlri(rest)?;
        out.push(decode_value(route_type, value)?);
        rest = tail;
    }
    Ok(out)
}

/// Splits one NLRI off the front: (route type, value, remainder).
#[inline]
fn split_nlri(data: &[u8]) -> Result<(u8, &[u8], &[u8]), NlriError> {
    let (tail, (route_type, len)) = ok_or((be_u8, be_u8).parse(data), || NlriError::Truncated {
        needed: 2,
        available: data.len(),
    })?;
    let (rest, value) = ok_or(take(len).parse(tail), || NlriError::Truncated {
        needed: usize::from(len),
        available: tail.len(),
    })?;
    Ok((route_type, value, rest))
}

fn rd(i: &[u8]) -> PResult<'_, RouteDistinguisher> {
    array::<8>.map(RouteDistinguisher::from_bytes).parse(i)
}

fn esi(i: &[u8]) -> PResult<'_, Esi> {
    array::<10>.map(Esi).parse(i)
}

fn label(i: &[u8]) -> PResult<'_, Label> {
    be_u24.map(Label).parse(i)
}

/// Decodes one route-type-specific value whose length octet said `value.len()`.
///
/// Each arm checks the value's length against the type's layout first, so the field
/// parsers that follow cannot run short; if one did (a layout below being wrong), it is
/// reported as the bad length it would be, never a panic.
fn decode_value(route_type: u8, value: &[u8]) -> Result<EvpnNlri, NlriError> {
    // The length octet fits in u8, so this conversion never saturates.
    let length = u8::try_from(value.len()).unwrap_or(u8::MAX);
    let bad_length = || NlriError::BadLength { route_type, length };
    let nlri = match route_type {
        ROUTE_TYPE_ETHERNET_AD => {
            // RD(8) ESI(10) Ethernet Tag(4) MPLS Label(3)
            if value.len() != 25 {
                return Err(bad_length());
            }
            let (_, (rd, esi, ethernet_tag, label)) =
                ok_or((rd, esi, be_u32, label).parse(value), bad_length)?;
            EvpnNlri::EthernetAutoDiscovery(EthernetAutoDiscovery {
                rd,
                esi,
                ethernet_tag,
                label,
            })
        }
        ROUTE_TYPE_MAC_IP => {
            // RD(8) ESI(10) Ethernet Tag(4) MAC Len(1) MAC(6) IP Len(1) IP(0/4/16)
            // Label1(3) [Label2(3)]
            if !matches!(value.len(), 33 | 36 | 37 | 40 | 49 | 52) {
                return Err(bad_length());
            }
            let (r, (rd, esi, ethernet_tag, mac_len, mac, ip_len)) = ok_or(
                (rd, esi, be_u32, be_u8, array::<6>.map(MacAddress), be_u8).parse(value),
                bad_length,
            )?;
            let ip_octets = match ip_len {
                0 => 0,
                32 => 4,
                128 => 16,
                _ => return Err(NlriError::BadIpLength { route_type, ip_len }),
            };
            let label2 = match value.len().checked_sub(33 + ip_octets) {
                Some(0) => false,
                Some(3) => true,
                _ => return Err(bad_length()),
            };
            let (_, (ip, label1, label2)) = ok_or(
                (
                    cond(ip_octets != 0, ip(ip_octets)),
                    label,
                    cond(label2, label),
                )
                    .parse(r),
                bad_length,
            )?;
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
        }
        ROUTE_TYPE_INCLUSIVE_MULTICAST => {
            // RD(8) Ethernet Tag(4) IP Len(1) Originating Router's IP(4/16)
            if !matches!(value.len(), 17 | 29) {
                return Err(bad_length());
            }
            let (r, (rd, ethernet_tag)) = ok_or((rd, be_u32).parse(value), bad_length)?;
            let originator = originator_ip(route_type, r, bad_length)?;
            EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
                rd,
                ethernet_tag,
                originator,
            })
        }
        ROUTE_TYPE_ETHERNET_SEGMENT => {
            // RD(8) ESI(10) IP Len(1) Originating Router's IP(4/16)
            if !matches!(value.len(), 23 | 35) {
                return Err(bad_length());
            }
            let (r, (rd, esi)) = ok_or((rd, esi).parse(value), bad_length)?;
            let originator = originator_ip(route_type, r, bad_length)?;
            EvpnNlri::EthernetSegment(EthernetSegment {
                rd,
                esi,
                originator,
            })
        }
        ROUTE_TYPE_IP_PREFIX => {
            // RD(8) ESI(10) Ethernet Tag(4) IP Prefix Len(1) IP Prefix(4/16)
            // GW IP(4/16) MPLS Label(3)
            let ip_octets = match value.len() {
                34 => 4,
                58 => 16,
                _ => return Err(bad_length()),
            };
            let (r, (rd, esi, ethernet_tag, prefix_len)) =
                ok_or((rd, esi, be_u32, be_u8).parse(value), bad_length)?;
            if usize::from(prefix_len) > ip_octets * 8 {
                return Err(NlriError::BadPrefixLength { prefix_len });
            }
            let (_, (prefix, gateway, label)) =
                ok_or((ip(ip_octets), ip(ip_octets), label).parse(r), bad_length)?;
            EvpnNlri::IpPrefix(IpPrefix {
                rd,
                esi,
                ethernet_tag,
                prefix_len,
                prefix,
                gateway,
                label,
            })
        }
        _ => EvpnNlri::Unknown {
            route_type,
            value: value.to_vec(),
        },
    };
    Ok(nlri)
}

/// An IP length octet (32 or 128) then the address, which must end the value.
fn originator_ip(
    route_type: u8,
    i: &[u8],
    bad_length: impl Fn() -> NlriError,
) -> Result<IpAddr, NlriError> {
    let (r, ip_len) = ok_or(be_u8(i), &bad_length)?;
    let octets = match ip_len {
        32 => 4,
        128 => 16,
        _ => return Err(NlriError::BadIpLength { route_type, ip_len }),
    };
    let (_, addr) = ok_or(all_consuming(ip(octets)).parse(r), bad_length)?;
    Ok(addr)
}

/// `[bits]:[address]` as FRR prints an IP inside an EVPN prefix.
struct BracketIp<'a>(&'a IpAddr);

impl std::fmt::Display for BracketIp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bits = ip_octets(self.0) * 8;
        write!(f, "[{bits}]:[{}]", self.0)
    }
}

impl std::fmt::Display for EvpnNlri {
    /// The prefix as FRR 8.4's `show bgp l2vpn evpn` prints it (lib/prefix.c), without the
    /// RD, which FRR shows on its own line. Two FRR quirks are kept so outputs compare equal:
    /// the Ethernet tag of types 2, 3 and 5 prints as a signed number (`%d`), and a received
    /// type 1 shows FRR's internal originator/fragment fields as `[32]:[0.0.0.0]:[0]` (they
    /// are not in the NLRI). The MAC length prints as received (FRR always prints 48, which
    /// every legal route carries). An unknown type prints `[type]:[hex value]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // FRR formats these tags with %d.
        let signed = |tag: u32| tag as i32;
        match self {
            Self::EthernetAutoDiscovery(r) => {
                write!(f, "[1]:[{}]:[{}]:[32]:[0.0.0.0]:[0]", r.ethernet_tag, r.esi)
            }
            Self::MacIp(r) => {
                write!(
                    f,
                    "[2]:[{}]:[{}]:[{}]",
                    signed(r.ethernet_tag),
                    r.mac_len,
                    r.mac
                )?;
                match &r.ip {
                    Some(ip) => write!(f, ":{}", BracketIp(ip)),
                    None => Ok(()),
                }
            }
            Self::InclusiveMulticast(r) => write!(
                f,
                "[3]:[{}]:{}",
                signed(r.ethernet_tag),
                BracketIp(&r.originator)
            ),
            Self::EthernetSegment(r) => write!(f, "[4]:[{}]:{}", r.esi, BracketIp(&r.originator)),
            Self::IpPrefix(r) => write!(
                f,
                "[5]:[{}]:[{}]:[{}]",
                signed(r.ethernet_tag),
                r.prefix_len,
                r.prefix
            ),
            Self::Unknown { route_type, value } => {
                write!(f, "[{route_type}]:[")?;
                for b in value {
                    write!(f, "{b:02x}")?;
                }
                f.write_str("]")
            }
        }
    }
}

//! Path attributes (RFC 4271 sections 4.3 and 5, RFC 1997, RFC 4360, RFC 4456, RFC 4760,
//! RFC 6514, RFC 6793, RFC 8092). Received flags are kept so a received attribute is
//! re-encoded byte-identically; `PathAttribute::new` picks the standard flags for ours.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};
use nom::multi::count;
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::aspath::{AsPath, SegmentType};
use super::error::Fault;
use super::extcomm::ExtendedCommunity;
use super::message::{DecodeOptions, EncodeError};
use super::mp::{MpReach, MpUnreach};
use super::notification::hex_bytes;
use super::open::AS_TRANS;
use super::parse::{array, be_u16, be_u32, be_u8, exact, ipv4};
use super::pmsi::PmsiTunnel;
use super::types::{serde_via_str, ParseValueError};

/// Attribute flag bits (RFC 4271 section 4.3).
pub mod flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod code {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const PMSI_TUNNEL: u8 = 22;
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// The Optional and Transitive bits each attribute we know must carry (the other bits are
/// not compared). `None`: an attribute we do not recognize.
pub fn expected_flags(type_code: u8) -> Option<u8> {
    use flags::{OPTIONAL, TRANSITIVE};
    Some(match type_code {
        code::ORIGIN
        | code::AS_PATH
        | code::NEXT_HOP
        | code::LOCAL_PREF
        | code::ATOMIC_AGGREGATE => TRANSITIVE,
        code::MULTI_EXIT_DISC
        | code::ORIGINATOR_ID
        | code::CLUSTER_LIST
        | code::MP_REACH_NLRI
        | code::MP_UNREACH_NLRI => OPTIONAL,
        code::AGGREGATOR
        | code::COMMUNITIES
        | code::EXTENDED_COMMUNITIES
        | code::AS4_PATH
        | code::AS4_AGGREGATOR
        | code::PMSI_TUNNEL
        | code::LARGE_COMMUNITIES => OPTIONAL | TRANSITIVE,
        _ => return None,
    })
}

/// Human name of an attribute type code.
pub fn type_name(type_code: u8) -> Option<&'static str> {
    Some(match type_code {
        code::ORIGIN => "ORIGIN",
        code::AS_PATH => "AS_PATH",
        code::NEXT_HOP => "NEXT_HOP",
        code::MULTI_EXIT_DISC => "MULTI_EXIT_DISC",
        code::LOCAL_PREF => "LOCAL_PREF",
        code::ATOMIC_AGGREGATE => "ATOMIC_AGGREGATE",
        code::AGGREGATOR => "AGGREGATOR",
        code::COMMUNITIES => "COMMUNITIES",
        code::ORIGINATOR_ID => "ORIGINATOR_ID",
        code::CLUSTER_LIST => "CLUSTER_LIST",
        code::MP_REACH_NLRI => "MP_REACH_NLRI",
        code::MP_UNREACH_NLRI => "MP_UNREACH_NLRI",
        code::EXTENDED_COMMUNITIES => "EXTENDED_COMMUNITIES",
        code::AS4_PATH => "AS4_PATH",
        code::AS4_AGGREGATOR => "AS4_AGGREGATOR",
        code::PMSI_TUNNEL => "PMSI_TUNNEL",
        code::LARGE_COMMUNITIES => "LARGE_COMMUNITIES",
        _ => return None,
    })
}

/// ORIGIN value (RFC 4271 section 4.3 a).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// AGGREGATOR / AS4_AGGREGATOR value: the aggregating AS and router.
///
/// ```text
/// +-----------------------------+---------------------------+
/// | AS (2 octets, 4 on RFC 6793 | IP address (4 octets)     |
/// |  sessions and AS4_AGGREGATOR)|                          |
/// +-----------------------------+---------------------------+
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// A community (RFC 1997): printed `65000:100` or by its well-known name.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Community(pub u32);

impl Community {
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    pub const ACCEPT_OWN: Community = Community(0xFFFF_0001);
    pub const LLGR_STALE: Community = Community(0xFFFF_0006);
    pub const NO_LLGR: Community = Community(0xFFFF_0007);
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    pub const NO_PEER: Community = Community(0xFFFF_FF04);

    const NAMES: [(Community, &'static str); 9] = [
        (Self::GRACEFUL_SHUTDOWN, "graceful-shutdown"),
        (Self::ACCEPT_OWN, "accept-own"),
        (Self::LLGR_STALE, "llgr-stale"),
        (Self::NO_LLGR, "no-llgr"),
        (Self::BLACKHOLE, "blackhole"),
        (Self::NO_EXPORT, "no-export"),
        (Self::NO_ADVERTISE, "no-advertise"),
        (Self::NO_EXPORT_SUBCONFED, "local-AS"),
        (Self::NO_PEER, "no-peer"),
    ];
}

impl fmt::Display for Community {
    /// FRR's names for the well-known ones, `AS:value` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((_, n)) = Self::NAMES.iter().find(|(c, _)| c == self) {
            return f.write_str(n);
        }
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff)
    }
}

impl FromStr for Community {
    type Err = ParseValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((c, _)) = Self::NAMES.iter().find(|(_, n)| *n == s) {
            return Ok(*c);
        }
        let err = || ParseValueError::new("community", s);
        let (a, v) = s.split_once(':').ok_or_else(err)?;
        let a: u16 = a.parse().map_err(|_| err())?;
        let v: u16 = v.parse().map_err(|_| err())?;
        Ok(Self(u32::from(a) << 16 | u32::from(v)))
    }
}
serde_via_str!(Community);

/// A large community (RFC 8092): printed `global:local1:local2`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local_data1: u32,
    pub local_data2: u32,
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.global_admin, self.local_data1, self.local_data2
        )
    }
}

impl FromStr for LargeCommunity {
    type Err = ParseValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseValueError::new("large community", s);
        let mut it = s.split(':').map(|p| p.parse::<u32>().map_err(|_| err()));
        let c = LargeCommunity {
            global_admin: it.next().ok_or_else(err)??,
            local_data1: it.next().ok_or_else(err)??,
            local_data2: it.next().ok_or_else(err)??,
        };
        if it.next().is_some() {
            return Err(err());
        }
        Ok(c)
    }
}
serde_via_str!(LargeCommunity);

/// A path attribute's value, typed.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    Origin(Origin),
    AsPath(AsPath),
    NextHop(Ipv4Addr),
    MultiExitDisc(u32),
    LocalPref(u32),
    AtomicAggregate,
    Aggregator(Aggregator),
    Communities(Vec<Community>),
    OriginatorId(Ipv4Addr),
    ClusterList(Vec<Ipv4Addr>),
    MpReachNlri(MpReach),
    MpUnreachNlri(MpUnreach),
    ExtendedCommunities(Vec<ExtendedCommunity>),
    /// Always 4-octet ASNs (RFC 6793).
    As4Path(AsPath),
    As4Aggregator(Aggregator),
    PmsiTunnel(PmsiTunnel),
    LargeCommunities(Vec<LargeCommunity>),
    /// An optional attribute we do not recognize, kept as received.
    Unknown {
        type_code: u8,
        #[serde(with = "hex_bytes")]
        value: Vec<u8>,
    },
}

/// One path attribute as it sits in an UPDATE: received flags plus typed value.
///
/// ```text
///  0                   1
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Attr. Flags  |Attr. Type Code|  then Attribute Length (1 octet, or 2 with the
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  Extended Length flag) and the value
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PathAttribute {
    pub flags: u8,
    pub value: Attribute,
}

/// A list of `N`-octet items read by `item`: the length must be a non-zero multiple
/// (RFC 7606 7.8, 7.10, 7.14, RFC 8092 section 6). The count is known, so `count`
/// allocates once.
fn fixed_list<'a, const N: usize, T>(
    v: &'a [u8],
    item: impl Parser<&'a [u8], Output = T, Error = ()>,
) -> Result<Vec<T>, Fault> {
    if v.is_empty() || !v.len().is_multiple_of(N) {
        return Err(Fault::BadLength);
    }
    exact(count(item, v.len() / N), v).ok_or(Fault::BadLength)
}

/// An AGGREGATOR / AS4_AGGREGATOR value: the ASN (4 or 2 octets) then an IPv4 address.
fn aggregator(v: &[u8], four_octet: bool) -> Option<Aggregator> {
    let (asn, address) = if four_octet {
        exact((be_u32, ipv4), v)?
    } else {
        exact((be_u16.map(u32::from), ipv4), v)?
    };
    Some(Aggregator { asn, address })
}

impl Attribute {
    pub fn type_code(&self) -> u8 {
        match self {
            Self::Origin(_) => code::ORIGIN,
            Self::AsPath(_) => code::AS_PATH,
            Self::NextHop(_) => code::NEXT_HOP,
            Self::MultiExitDisc(_) => code::MULTI_EXIT_DISC,
            Self::LocalPref(_) => code::LOCAL_PREF,
            Self::AtomicAggregate => code::ATOMIC_AGGREGATE,
            Self::Aggregator(_) => code::AGGREGATOR,
            Self::Communities(_) => code::COMMUNITIES,
            Self::OriginatorId(_) => code::ORIGINATOR_ID,
            Self::ClusterList(_) => code::CLUSTER_LIST,
            Self::MpReachNlri(_) => code::MP_REACH_NLRI,
            Self::MpUnreachNlri(_) => code::MP_UNREACH_NLRI,
            Self::ExtendedCommunities(_) => code::EXTENDED_COMMUNITIES,
            Self::As4Path(_) => code::AS4_PATH,
            Self::As4Aggregator(_) => code::AS4_AGGREGATOR,
            Self::PmsiTunnel(_) => code::PMSI_TUNNEL,
            Self::LargeCommunities(_) => code::LARGE_COMMUNITIES,
            Self::Unknown { type_code, .. } => *type_code,
        }
    }

    /// Decodes the value of a recognized attribute, or keeps an unrecognized one raw. The
    /// error says what is wrong, for the RFC 7606 verdict (`error::Fault`) plus a detail.
    pub fn decode(type_code: u8, v: &[u8], opts: &DecodeOptions) -> Result<Self, (Fault, String)> {
        let len_err = || (Fault::BadLength, format!("length {}", v.len()));
        Ok(match type_code {
            code::ORIGIN => match exact(be_u8, v) {
                Some(0) => Self::Origin(Origin::Igp),
                Some(1) => Self::Origin(Origin::Egp),
                Some(2) => Self::Origin(Origin::Incomplete),
                Some(x) => return Err((Fault::InvalidOrigin, format!("value {x}"))),
                None => return Err(len_err()),
            },
            code::AS_PATH => Self::AsPath(
                AsPath::decode(v, opts.four_octet_as)
                    .map_err(|e| (Fault::MalformedAsPath, e.to_string()))?,
            ),
            code::NEXT_HOP => Self::NextHop(exact(ipv4, v).ok_or_else(len_err)?),
            code::MULTI_EXIT_DISC => Self::MultiExitDisc(exact(be_u32, v).ok_or_else(len_err)?),
            code::LOCAL_PREF => Self::LocalPref(exact(be_u32, v).ok_or_else(len_err)?),
            code::ATOMIC_AGGREGATE => {
                if !v.is_empty() {
                    return Err(len_err());
                }
                Self::AtomicAggregate
            }
            code::AGGREGATOR => {
                Self::Aggregator(aggregator(v, opts.four_octet_as).ok_or_else(len_err)?)
            }
            code::COMMUNITIES => Self::Communities(
                fixed_list::<4, _>(v, be_u32.map(Community))
                    .map_err(|f| (f, format!("length {}", v.len())))?,
            ),
            code::ORIGINATOR_ID => Self::OriginatorId(exact(ipv4, v).ok_or_else(len_err)?),
            code::CLUSTER_LIST => Self::ClusterList(
                fixed_list::<4, _>(v, ipv4).map_err(|f| (f, format!("length {}", v.len())))?,
            ),
            code::MP_REACH_NLRI => Self::MpReachNlri(
                MpReach::decode(v).map_err(|e| (Fault::InvalidMpAttribute, e.to_string()))?,
            ),
            code::MP_UNREACH_NLRI => Self::MpUnreachNlri(
                MpUnreach::decode(v).map_err(|e| (Fault::InvalidMpAttribute, e.to_string()))?,
            ),
            code::EXTENDED_COMMUNITIES => Self::ExtendedCommunities(
                fixed_list::<8, _>(v, array::<8>.map(ExtendedCommunity::from_bytes))
                    .map_err(|f| (f, format!("length {}", v.len())))?,
            ),
            code::AS4_PATH => {
                // RFC 7606 section 4: only AS_PATH and ATOMIC_AGGREGATE may be empty.
                if v.is_empty() {
                    return Err(len_err());
                }
                let p =
                    AsPath::decode(v, true).map_err(|e| (Fault::MalformedAsPath, e.to_string()))?;
                // RFC 6793 section 6: confederation segments in AS4_PATH are malformed.
                if p.segments.iter().any(|s| {
                    matches!(
                        s.kind,
                        SegmentType::AsConfedSequence | SegmentType::AsConfedSet
                    )
                }) {
                    return Err((Fault::MalformedAsPath, "confederation segment".into()));
                }
                Self::As4Path(p)
            }
            code::AS4_AGGREGATOR => Self::As4Aggregator(aggregator(v, true).ok_or_else(len_err)?),
            code::PMSI_TUNNEL => Self::PmsiTunnel(
                PmsiTunnel::decode(v).map_err(|e| (Fault::BadLength, e.to_string()))?,
            ),
            code::LARGE_COMMUNITIES => Self::LargeCommunities(
                fixed_list::<12, _>(
                    v,
                    (be_u32, be_u32, be_u32).map(|(global_admin, local_data1, local_data2)| {
                        LargeCommunity {
                            global_admin,
                            local_data1,
                            local_data2,
                        }
                    }),
                )
                .map_err(|f| (f, format!("length {}", v.len())))?,
            ),
            _ => Self::Unknown {
                type_code,
                value: v.to_vec(),
            },
        })
    }

    /// Appends the value (no header).
    pub fn encode_value(&self, out: &mut BytesMut, opts: &DecodeOptions) {
        match self {
            Self::Origin(o) => out.put_u8(*o as u8),
            Self::AsPath(p) => p.encode(out, opts.four_octet_as),
            Self::NextHop(a) | Self::OriginatorId(a) => out.put_slice(&a.octets()),
            Self::MultiExitDisc(v) | Self::LocalPref(v) => out.put_u32(*v),
            Self::AtomicAggregate => {}
            Self::Aggregator(a) => {
                if opts.four_octet_as {
                    out.put_u32(a.asn);
                } else {
                    out.put_u16(u16::try_from(a.asn).unwrap_or(AS_TRANS));
                }
                out.put_slice(&a.address.octets());
            }
            Self::Communities(list) => list.iter().for_each(|c| out.put_u32(c.0)),
            Self::ClusterList(list) => list.iter().for_each(|a| out.put_slice(&a.octets())),
            Self::MpReachNlri(m) => m.encode(out),
            Self::MpUnreachNlri(m) => m.encode(out),
            Self::ExtendedCommunities(list) => {
                list.iter().for_each(|c| out.put_slice(&c.to_bytes()))
            }
            Self::As4Path(p) => p.encode(out, true),
            Self::As4Aggregator(a) => {
                out.put_u32(a.asn);
                out.put_slice(&a.address.octets());
            }
            Self::PmsiTunnel(p) => p.encode(out),
            Self::LargeCommunities(list) => {
                for c in list {
                    out.put_u32(c.global_admin);
                    out.put_u32(c.local_data1);
                    out.put_u32(c.local_data2);
                }
            }
            Self::Unknown { value, .. } => out.put_slice(value),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Igp => "IGP",
            Self::Egp => "EGP",
            Self::Incomplete => "incomplete",
        })
    }
}

/// Writes `items` separated by spaces.
fn join<T: fmt::Display>(f: &mut fmt::Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{x}")?;
    }
    Ok(())
}

impl fmt::Display for Attribute {
    /// One line: the RFC name of the attribute, then its value as operators read it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = type_name(self.type_code()) {
            write!(f, "{n}")?;
        }
        match self {
            Self::Origin(o) => write!(f, " {o}"),
            Self::AsPath(p) | Self::As4Path(p) if p.segments.is_empty() => f.write_str(" (empty)"),
            Self::AsPath(p) | Self::As4Path(p) => write!(f, " {p}"),
            Self::NextHop(a) | Self::OriginatorId(a) => write!(f, " {a}"),
            Self::MultiExitDisc(v) | Self::LocalPref(v) => write!(f, " {v}"),
            Self::AtomicAggregate => Ok(()),
            Self::Aggregator(a) | Self::As4Aggregator(a) => {
                write!(f, " AS {} {}", a.asn, a.address)
            }
            Self::Communities(c) => {
                f.write_str(" ")?;
                join(f, c)
            }
            Self::ClusterList(c) => {
                f.write_str(" ")?;
                join(f, c)
            }
            Self::ExtendedCommunities(c) => {
                f.write_str(" ")?;
                join(f, c)
            }
            Self::LargeCommunities(c) => {
                f.write_str(" ")?;
                join(f, c)
            }
            Self::MpReachNlri(m) => write!(
                f,
                " {} next-hop {}, {} NLRI",
                m.family,
                m.next_hop,
                m.nlri.len()
            ),
            Self::MpUnreachNlri(m) => write!(f, " {}, {} NLRI", m.family, m.nlri.len()),
            Self::PmsiTunnel(p) => {
                write!(
                    f,
                    " flags {:#04x} type {} label {}",
                    p.flags, p.tunnel_type, p.label
                )?;
                match &p.tunnel_id {
                    super::pmsi::TunnelIdentifier::Ip(ip) => write!(f, " endpoint {ip}"),
                    super::pmsi::TunnelIdentifier::Raw(v) => {
                        write!(f, " id {}", hex_bytes::to_hex(v))
                    }
                }
            }
            Self::Unknown { type_code, value } => {
                write!(
                    f,
                    "attribute {type_code} ({} octets) {}",
                    value.len(),
                    hex_bytes::to_hex(value)
                )
            }
        }
    }
}

impl PathAttribute {
    /// An attribute we originate: standard Optional/Transitive flags for its type (optional
    /// transitive for an unknown one), Extended Length only when the value exceeds 255
    /// octets (measured with 4-octet ASNs, the larger form).
    pub fn new(value: Attribute) -> Self {
        let mut flags =
            expected_flags(value.type_code()).unwrap_or(flags::OPTIONAL | flags::TRANSITIVE);
        let mut scratch = BytesMut::new();
        value.encode_value(&mut scratch, &DecodeOptions::default());
        if scratch.len() > 255 {
            flags |= flags::EXTENDED_LENGTH;
        }
        Self { flags, value }
    }

    pub fn type_code(&self) -> u8 {
        self.value.type_code()
    }

    pub fn is_optional(&self) -> bool {
        self.flags & flags::OPTIONAL != 0
    }

    pub fn is_transitive(&self) -> bool {
        self.flags & flags::TRANSITIVE != 0
    }

    pub fn is_partial(&self) -> bool {
        self.flags & flags::PARTIAL != 0
    }

    /// What we pass on when re-advertising a received attribute (RFC 4271 section 5): an
    /// unrecognized optional transitive attribute gets the Partial bit, an unrecognized
    /// optional non-transitive one is dropped (`None`); a recognized one is unchanged (its
    /// own rules, e.g. MED or LOCAL_PREF scope, are the session's).
    pub fn to_readvertise(&self) -> Option<PathAttribute> {
        match self.value {
            Attribute::Unknown { .. } if self.is_optional() => {
                self.is_transitive().then(|| PathAttribute {
                    flags: self.flags | flags::PARTIAL,
                    value: self.value.clone(),
                })
            }
            _ => Some(self.clone()),
        }
    }

    /// Appends flags, type, length and value. The received flags are written as they are,
    /// except that Extended Length is set when the value does not fit one octet.
    pub fn encode(&self, out: &mut BytesMut, opts: &DecodeOptions) -> Result<(), EncodeError> {
        let start = out.len();
        let ext = self.flags & flags::EXTENDED_LENGTH != 0;
        out.put_u8(self.flags);
        out.put_u8(self.type_code());
        if ext {
            out.put_u16(0);
        } else {
            out.put_u8(0);
        }
        let value_start = out.len();
        self.value.encode_value(out, opts);
        let len = out.len() - value_start;
        if len > usize::from(u16::MAX) {
            out.truncate(start);
            return Err(EncodeError::FieldTooLong {
                what: "path attribute",
            });
        }
        if ext {
            out[start + 2..start + 4].copy_from_slice(&(len as u16).to_be_bytes());
        } else if len <= 255 {
            out[start + 2] = len as u8;
        } else {
            // Widen the length field in place: one more octet, value shifted right.
            out.put_u8(0);
            out.copy_within(value_start..value_start + len, value_start + 1);
            out[start] |= flags::EXTENDED_LENGTH;
            out[start + 2..start + 4].copy_from_slice(&(len as u16).to_be_bytes());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts4() -> DecodeOptions {
        DecodeOptions {
            four_octet_as: true,
            extended_message: false,
        }
    }

    fn enc(a: &PathAttribute, opts: &DecodeOptions) -> Vec<u8> {
        let mut out = BytesMut::new();
        a.encode(&mut out, opts).unwrap();
        out.to_vec()
    }

    #[test]
    fn standard_flags_and_bytes() {
        let o = opts4();
        let cases: Vec<(Attribute, Vec<u8>)> = vec![
            (Attribute::Origin(Origin::Incomplete), vec![0x40, 1, 1, 2]),
            (
                Attribute::AsPath(AsPath::sequence(vec![65001])),
                vec![0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9],
            ),
            (
                Attribute::NextHop(Ipv4Addr::new(10, 0, 0, 1)),
                vec![0x40, 3, 4, 10, 0, 0, 1],
            ),
            (Attribute::MultiExitDisc(0), vec![0x80, 4, 4, 0, 0, 0, 0]),
            (Attribute::LocalPref(100), vec![0x40, 5, 4, 0, 0, 0, 100]),
            (Attribute::AtomicAggregate, vec![0x40, 6, 0]),
            (
                Attribute::Aggregator(Aggregator {
                    asn: 65001,
                    address: Ipv4Addr::new(1, 2, 3, 4),
                }),
                vec![0xc0, 7, 8, 0, 0, 0xfd, 0xe9, 1, 2, 3, 4],
            ),
            (
                Attribute::Communities(vec![Community::NO_EXPORT, Community(65000 << 16 | 1)]),
                vec![0xc0, 8, 8, 0xff, 0xff, 0xff, 0x01, 0xfd, 0xe8, 0, 1],
            ),
            (
                Attribute::OriginatorId(Ipv4Addr::new(10, 0, 0, 9)),
                vec![0x80, 9, 4, 10, 0, 0, 9],
            ),
            (
                Attribute::ClusterList(vec![Ipv4Addr::new(10, 0, 0, 254)]),
                vec![0x80, 10, 4, 10, 0, 0, 254],
            ),
            (
                Attribute::As4Path(AsPath::sequence(vec![4_200_000_000])),
                vec![0xc0, 17, 6, 2, 1, 0xfa, 0x56, 0xea, 0],
            ),
            (
                Attribute::As4Aggregator(Aggregator {
                    asn: 4_200_000_000,
                    address: Ipv4Addr::new(1, 2, 3, 4),
                }),
                vec![0xc0, 18, 8, 0xfa, 0x56, 0xea, 0, 1, 2, 3, 4],
            ),
            (
                Attribute::LargeCommunities(vec![LargeCommunity {
                    global_admin: 65000,
                    local_data1: 1,
                    local_data2: 2,
                }]),
                vec![0xc0, 32, 12, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 0, 0, 0, 2],
            ),
            (
                Attribute::Unknown {
                    type_code: 99,
                    value: vec![1, 2],
                },
                vec![0xc0, 99, 2, 1, 2],
            ),
        ];
        for (attr, wire) in cases {
            let pa = PathAttribute::new(attr.clone());
            assert_eq!(enc(&pa, &o), wire, "{attr:?}");
            let hdr = 3;
            assert_eq!(Attribute::decode(wire[1], &wire[hdr..], &o).unwrap(), attr);
        }
    }

    #[test]
    fn two_octet_session_forms() {
        let o = DecodeOptions {
            four_octet_as: false,
            extended_message: false,
        };
        let agg = PathAttribute::new(Attribute::Aggregator(Aggregator {
            asn: 4_200_000_000,
            address: Ipv4Addr::new(1, 2, 3, 4),
        }));
        assert_eq!(enc(&agg, &o), vec![0xc0, 7, 6, 0x5b, 0xa0, 1, 2, 3, 4]);
        assert_eq!(
            Attribute::decode(7, &[0xfd, 0xe9, 1, 2, 3, 4], &o).unwrap(),
            Attribute::Aggregator(Aggregator {
                asn: 65001,
                address: Ipv4Addr::new(1, 2, 3, 4)
            })
        );
        assert_eq!(
            Attribute::decode(7, &[0, 0, 0xfd, 0xe9, 1, 2, 3, 4], &o)
                .unwrap_err()
                .0,
            Fault::BadLength
        );
        assert_eq!(
            Attribute::decode(2, &[2, 1, 0xfd, 0xe9], &o).unwrap(),
            Attribute::AsPath(AsPath::sequence(vec![65001]))
        );
    }

    #[test]
    fn extended_length_kept_or_added() {
        let o = opts4();
        // Received with extended length although short (FRR's MP_REACH style): kept.
        let pa = PathAttribute {
            flags: 0x50,
            value: Attribute::Origin(Origin::Igp),
        };
        assert_eq!(enc(&pa, &o), vec![0x50, 1, 0, 1, 0]);
        // A long value: new() sets it.
        let comms: Vec<Community> = (0..70).map(Community).collect();
        let pa = PathAttribute::new(Attribute::Communities(comms.clone()));
        assert_eq!(pa.flags, 0xd0);
        let wire = enc(&pa, &o);
        assert_eq!(&wire[..4], &[0xd0, 8, 1, 24]);
        // Flags without the bit but a long value: widened in place.
        let pa = PathAttribute {
            flags: 0xc0,
            value: Attribute::Communities(comms),
        };
        let wire2 = enc(&pa, &o);
        assert_eq!(wire2, wire);
    }

    #[test]
    fn partial_bit_on_readvertise() {
        let ot = PathAttribute {
            flags: 0xc0,
            value: Attribute::Unknown {
                type_code: 99,
                value: vec![],
            },
        };
        assert_eq!(ot.to_readvertise().unwrap().flags, 0xe0);
        let ont = PathAttribute {
            flags: 0x80,
            value: Attribute::Unknown {
                type_code: 99,
                value: vec![],
            },
        };
        assert_eq!(ont.to_readvertise(), None);
        let known = PathAttribute::new(Attribute::Communities(vec![Community(1)]));
        assert_eq!(known.to_readvertise().unwrap().flags, 0xc0);
    }

    #[test]
    fn display_lines() {
        let show = |a: Attribute| a.to_string();
        assert_eq!(show(Attribute::Origin(Origin::Igp)), "ORIGIN IGP");
        assert_eq!(
            show(Attribute::AsPath(AsPath::default())),
            "AS_PATH (empty)"
        );
        assert_eq!(
            show(Attribute::AsPath(AsPath::sequence(vec![1, 2]))),
            "AS_PATH 1 2"
        );
        assert_eq!(show(Attribute::LocalPref(100)), "LOCAL_PREF 100");
        assert_eq!(
            show(Attribute::Communities(vec![
                Community::NO_EXPORT,
                Community(1 << 16 | 2)
            ])),
            "COMMUNITIES no-export 1:2"
        );
        assert_eq!(
            show(Attribute::Unknown {
                type_code: 99,
                value: vec![1, 2]
            }),
            "attribute 99 (2 octets) 0102"
        );
    }

    #[test]
    fn community_text() {
        assert_eq!(Community::NO_EXPORT.to_string(), "no-export");
        assert_eq!(Community::BLACKHOLE.to_string(), "blackhole");
        assert_eq!(Community(65000 << 16 | 100).to_string(), "65000:100");
        assert_eq!(
            "no-advertise".parse::<Community>().unwrap(),
            Community::NO_ADVERTISE
        );
        assert_eq!("1:2".parse::<Community>().unwrap(), Community(0x0001_0002));
        assert!("70000:1".parse::<Community>().is_err());
        let lc: LargeCommunity = "4200000000:1:2".parse().unwrap();
        assert_eq!(lc.to_string(), "4200000000:1:2");
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert_eq!(
            serde_json::to_string(&Attribute::Communities(vec![Community::NO_EXPORT])).unwrap(),
            r#"{"communities":["no-export"]}"#
        );
    }

    #[test]
    fn value_faults() {
        let o = opts4();
        let f = |c: u8, v: &[u8]| Attribute::decode(c, v, &o).unwrap_err().0;
        assert_eq!(f(code::ORIGIN, &[3]), Fault::InvalidOrigin);
        assert_eq!(f(code::ORIGIN, &[0, 0]), Fault::BadLength);
        assert_eq!(f(code::NEXT_HOP, &[1, 2, 3]), Fault::BadLength);
        assert_eq!(f(code::MULTI_EXIT_DISC, &[0; 5]), Fault::BadLength);
        assert_eq!(f(code::LOCAL_PREF, &[]), Fault::BadLength);
        assert_eq!(f(code::ATOMIC_AGGREGATE, &[0]), Fault::BadLength);
        assert_eq!(f(code::AGGREGATOR, &[0; 6]), Fault::BadLength);
        assert_eq!(f(code::COMMUNITIES, &[0; 5]), Fault::BadLength);
        assert_eq!(f(code::COMMUNITIES, &[]), Fault::BadLength);
        assert_eq!(f(code::ORIGINATOR_ID, &[0; 8]), Fault::BadLength);
        assert_eq!(f(code::CLUSTER_LIST, &[0; 6]), Fault::BadLength);
        assert_eq!(f(code::EXTENDED_COMMUNITIES, &[0; 12]), Fault::BadLength);
        assert_eq!(f(code::LARGE_COMMUNITIES, &[0; 8]), Fault::BadLength);
        assert_eq!(f(code::AS4_AGGREGATOR, &[0; 6]), Fault::BadLength);
        assert_eq!(f(code::AS_PATH, &[2, 0]), Fault::MalformedAsPath);
        assert_eq!(f(code::AS4_PATH, &[]), Fault::BadLength);
        assert_eq!(
            f(code::AS4_PATH, &[3, 1, 0, 0, 0, 1]),
            Fault::MalformedAsPath
        );
        assert_eq!(
            f(code::MP_REACH_NLRI, &[0, 1, 1]),
            Fault::InvalidMpAttribute
        );
        assert_eq!(f(code::MP_UNREACH_NLRI, &[0]), Fault::InvalidMpAttribute);
    }
}

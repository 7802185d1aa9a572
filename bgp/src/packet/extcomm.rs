//! Extended communities (RFC 4360, RFC 5668, RFC 7153, RFC 7432 section 7, RFC 9012).
//!
//!
//! ```text
//! +------+---------+---------------------------------------+
//! | Type | Subtype |          Value (6 octets)             |
//! +------+---------+---------------------------------------+
//! ```
//!
//! Decoding is lossless: `to_bytes(from_bytes(b)) == b` for every 8 octets. A known
//! type/subtype whose reserved octets are not zero is kept as `Raw` for that reason.

use serde::{Deserialize, Serialize};

use super::types::{serde_via_str, MacAddress, ParseValueError};

/// A route target value (the three RFC 4360/5668 forms). Printed `65000:100`, `10.0.0.1:5`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RouteTarget {
    As2 {
        asn: u16,
        value: u32,
    },
    Ipv4 {
        addr: std::net::Ipv4Addr,
        value: u16,
    },
    As4 {
        asn: u32,
        value: u16,
    },
}

impl std::fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::As2 { asn, value } => write!(f, "{asn}:{value}"),
            Self::Ipv4 { addr, value } => write!(f, "{addr}:{value}"),
            Self::As4 { asn, value } => write!(f, "{asn}:{value}"),
        }
    }
}

impl std::str::FromStr for RouteTarget {
    type Err = ParseValueError;
    /// `ASN:N` (2-octet form when ASN fits 16 bits, else 4-octet), or `A.B.C.D:N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseValueError::new("route target", s);
        let (admin, num) = s.rsplit_once(':').ok_or_else(err)?;
        if let Ok(addr) = admin.parse::<std::net::Ipv4Addr>() {
            return Ok(Self::Ipv4 {
                addr,
                value: num.parse().map_err(|_| err())?,
            });
        }
        let asn: u32 = admin.parse().map_err(|_| err())?;
        match u16::try_from(asn) {
            Ok(asn) => Ok(Self::As2 {
                asn,
                value: num.parse().map_err(|_| err())?,
            }),
            Err(_) => Ok(Self::As4 {
                asn,
                value: num.parse().map_err(|_| err())?,
            }),
        }
    }
}
serde_via_str!(RouteTarget);

/// One extended community, typed where evpnd cares, raw otherwise.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExtendedCommunity {
    RouteTarget {
        rt: RouteTarget,
    },
    /// Type 0x03 subtype 0x0c (RFC 9012); tunnel type 8 = VXLAN.
    Encapsulation {
        tunnel_type: u16,
    },
    /// Type 0x06 subtype 0x00 (RFC 7432 section 7.7); flag 0x01 = sticky.
    MacMobility {
        flags: u8,
        sequence: u32,
    },
    /// Type 0x06 subtype 0x01 (RFC 7432 section 7.5).
    EsiLabel {
        flags: u8,
        label: u32,
    },
    /// Type 0x03 subtype 0x0d (RFC 7432 section 7.8).
    DefaultGateway,
    /// Type 0x06 subtype 0x03 (RFC 9135).
    RouterMac {
        mac: MacAddress,
    },
    /// Anything else, or a known type with reserved bits set: kept as received.
    Raw {
        value: [u8; 8],
    },
}

/// Type octets (RFC 4360, RFC 5668, RFC 7153).
pub const TYPE_TRANSITIVE_AS2: u8 = 0x00;
pub const TYPE_TRANSITIVE_IPV4: u8 = 0x01;
pub const TYPE_TRANSITIVE_AS4: u8 = 0x02;
pub const TYPE_TRANSITIVE_OPAQUE: u8 = 0x03;
pub const TYPE_EVPN: u8 = 0x06;
/// Bit of the type octet set on non-transitive communities (RFC 4360 section 2).
pub const TYPE_NON_TRANSITIVE_BIT: u8 = 0x40;

/// Subtypes.
pub const SUBTYPE_ROUTE_TARGET: u8 = 0x02;
pub const SUBTYPE_ENCAPSULATION: u8 = 0x0c;
pub const SUBTYPE_DEFAULT_GATEWAY: u8 = 0x0d;
pub const SUBTYPE_MAC_MOBILITY: u8 = 0x00;
pub const SUBTYPE_ESI_LABEL: u8 = 0x01;
pub const SUBTYPE_ROUTER_MAC: u8 = 0x03;
pub const SUBTYPE_ES_IMPORT_RT: u8 = 0x02;

/// Encapsulation tunnel type for VXLAN (RFC 9012 / IANA BGP Tunnel Encapsulation Types).
pub const TUNNEL_TYPE_VXLAN: u16 = 8;
/// MAC mobility flag: the MAC is sticky/static (RFC 7432 section 7.7).
pub const MAC_MOBILITY_STICKY: u8 = 0x01;
/// ESI label flag: single-active redundancy mode (RFC 7432 section 7.5).
pub const ESI_LABEL_SINGLE_ACTIVE: u8 = 0x01;

impl ExtendedCommunity {
    pub fn from_bytes(b: [u8; 8]) -> Self {
        let [t, st, v @ ..] = b;
        let raw = Self::Raw { value: b };
        match (t, st) {
            (TYPE_TRANSITIVE_AS2, SUBTYPE_ROUTE_TARGET) => Self::RouteTarget {
                rt: RouteTarget::As2 {
                    asn: u16::from_be_bytes([v[0], v[1]]),
                    value: u32::from_be_bytes([v[2], v[3], v[4], v[5]]),
                },
            },
            (TYPE_TRANSITIVE_IPV4, SUBTYPE_ROUTE_TARGET) => Self::RouteTarget {
                rt: RouteTarget::Ipv4 {
                    addr: std::net::Ipv4Addr::new(v[0], v[1], v[2], v[3]),
                    value: u16::from_be_bytes([v[4], v[5]]),
                },
            },
            (TYPE_TRANSITIVE_AS4, SUBTYPE_ROUTE_TARGET) => Self::RouteTarget {
                rt: RouteTarget::As4 {
                    asn: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                    value: u16::from_be_bytes([v[4], v[5]]),
                },
            },
            // RFC 9012 section 4.1: four reserved octets, then the tunnel type.
            (TYPE_TRANSITIVE_OPAQUE, SUBTYPE_ENCAPSULATION) if v[..4] == [0; 4] => {
                Self::Encapsulation {
                    tunnel_type: u16::from_be_bytes([v[4], v[5]]),
                }
            }
            (TYPE_TRANSITIVE_OPAQUE, SUBTYPE_DEFAULT_GATEWAY) if v == [0; 6] => {
                Self::DefaultGateway
            }
            // RFC 7432 section 7.7: flags, reserved, sequence number.
            (TYPE_EVPN, SUBTYPE_MAC_MOBILITY) if v[1] == 0 => Self::MacMobility {
                flags: v[0],
                sequence: u32::from_be_bytes([v[2], v[3], v[4], v[5]]),
            },
            // RFC 7432 section 7.5: flags, two reserved, label.
            (TYPE_EVPN, SUBTYPE_ESI_LABEL) if v[1..3] == [0; 2] => Self::EsiLabel {
                flags: v[0],
                label: u32::from_be_bytes([0, v[3], v[4], v[5]]),
            },
            (TYPE_EVPN, SUBTYPE_ROUTER_MAC) => Self::RouterMac { mac: MacAddress(v) },
            _ => raw,
        }
    }

    /// The 8 wire octets. Values wider than their field (an ESI label above 24 bits) keep
    /// their low bits.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        match *self {
            Self::RouteTarget { rt } => {
                b[1] = SUBTYPE_ROUTE_TARGET;
                match rt {
                    RouteTarget::As2 { asn, value } => {
                        b[0] = TYPE_TRANSITIVE_AS2;
                        b[2..4].copy_from_slice(&asn.to_be_bytes());
                        b[4..8].copy_from_slice(&value.to_be_bytes());
                    }
                    RouteTarget::Ipv4 { addr, value } => {
                        b[0] = TYPE_TRANSITIVE_IPV4;
                        b[2..6].copy_from_slice(&addr.octets());
                        b[6..8].copy_from_slice(&value.to_be_bytes());
                    }
                    RouteTarget::As4 { asn, value } => {
                        b[0] = TYPE_TRANSITIVE_AS4;
                        b[2..6].copy_from_slice(&asn.to_be_bytes());
                        b[6..8].copy_from_slice(&value.to_be_bytes());
                    }
                }
            }
            Self::Encapsulation { tunnel_type } => {
                b[0] = TYPE_TRANSITIVE_OPAQUE;
                b[1] = SUBTYPE_ENCAPSULATION;
                b[6..8].copy_from_slice(&tunnel_type.to_be_bytes());
            }
            Self::MacMobility { flags, sequence } => {
                b[0] = TYPE_EVPN;
                b[1] = SUBTYPE_MAC_MOBILITY;
                b[2] = flags;
                b[4..8].copy_from_slice(&sequence.to_be_bytes());
            }
            Self::EsiLabel { flags, label } => {
                b[0] = TYPE_EVPN;
                b[1] = SUBTYPE_ESI_LABEL;
                b[2] = flags;
                b[5..8].copy_from_slice(&label.to_be_bytes()[1..]);
            }
            Self::DefaultGateway => {
                b[0] = TYPE_TRANSITIVE_OPAQUE;
                b[1] = SUBTYPE_DEFAULT_GATEWAY;
            }
            Self::RouterMac { mac } => {
                b[0] = TYPE_EVPN;
                b[1] = SUBTYPE_ROUTER_MAC;
                b[2..8].copy_from_slice(&mac.0);
            }
            Self::Raw { value } => b = value,
        }
        b
    }

    /// A route target in its transitive form.
    pub const fn route_target(rt: RouteTarget) -> Self {
        Self::RouteTarget { rt }
    }

    /// The encapsulation community FRR and GoBGP put on EVPN routes: `03 0c 00.. 00 08`.
    pub const fn vxlan_encapsulation() -> Self {
        Self::Encapsulation {
            tunnel_type: TUNNEL_TYPE_VXLAN,
        }
    }

    /// MAC mobility with sequence `seq`, sticky (static MAC) when `sticky`.
    pub const fn mac_mobility(seq: u32, sticky: bool) -> Self {
        Self::MacMobility {
            flags: if sticky { MAC_MOBILITY_STICKY } else { 0 },
            sequence: seq,
        }
    }

    /// For MAC mobility: whether the sticky flag is set. `None` for other communities.
    pub fn sticky(&self) -> Option<bool> {
        match self {
            Self::MacMobility { flags, .. } => Some(flags & MAC_MOBILITY_STICKY != 0),
            _ => None,
        }
    }

    /// For MAC mobility: the sequence number. `None` for other communities.
    pub fn mac_mobility_sequence(&self) -> Option<u32> {
        match self {
            Self::MacMobility { sequence, .. } => Some(*sequence),
            _ => None,
        }
    }

    /// The route target, if this is one.
    pub fn as_route_target(&self) -> Option<RouteTarget> {
        match self {
            Self::RouteTarget { rt } => Some(*rt),
            _ => None,
        }
    }

    /// The type octet.
    pub fn type_octet(&self) -> u8 {
        self.to_bytes()[0]
    }

    /// Whether BGP speakers pass it on across ASes (RFC 4360 section 2: the T bit is 0).
    pub fn is_transitive(&self) -> bool {
        match self {
            Self::Raw { value } => value[0] & TYPE_NON_TRANSITIVE_BIT == 0,
            // Every typed variant is one of the transitive forms.
            _ => true,
        }
    }
}

impl std::fmt::Display for ExtendedCommunity {
    /// FRR's `show bgp` text (bgpd/bgp_ecommunity.c, ECOMMUNITY_FORMAT_DISPLAY); communities
    /// evpnd does not type print as `UNK:0x` and the 8 octets in hex.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RouteTarget { rt } => write!(f, "RT:{rt}"),
            Self::Encapsulation { tunnel_type } => write!(f, "ET:{tunnel_type}"),
            Self::MacMobility { flags, sequence } => {
                write!(f, "MM:{sequence}")?;
                if flags & MAC_MOBILITY_STICKY != 0 {
                    f.write_str(", sticky MAC")?;
                }
                Ok(())
            }
            Self::EsiLabel { flags, .. } => {
                let mode = if flags & ESI_LABEL_SINGLE_ACTIVE != 0 {
                    "SA"
                } else {
                    "AA"
                };
                write!(f, "ESI-label-Rt:{mode}")
            }
            Self::DefaultGateway => f.write_str("Default Gateway"),
            Self::RouterMac { mac } => write!(f, "Rmac:{mac}"),
            // ES-Import route target (RFC 7432 section 7.6): untyped, but FRR names it.
            Self::Raw {
                value: [TYPE_EVPN, SUBTYPE_ES_IMPORT_RT, m @ ..],
            } => write!(f, "ES-Import-Rt:{}", MacAddress(*m)),
            Self::Raw { value } => {
                f.write_str("UNK:0x")?;
                for b in value {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests;

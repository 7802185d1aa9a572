//! Extended communities (RFC 4360, RFC 5668, RFC 7153, RFC 7432 section 7, RFC 9012).
//!
//! OWNER NOTE (skeleton): types and signatures are fixed; bodies are being filled in.

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

impl ExtendedCommunity {
    pub fn from_bytes(b: [u8; 8]) -> Self {
        let _ = b;
        todo!()
    }

    pub fn to_bytes(&self) -> [u8; 8] {
        todo!()
    }
}

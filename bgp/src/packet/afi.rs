//! Address family identifiers (IANA "Address Family Numbers") and subsequent address family
//! identifiers (IANA "SAFI Values"), as used by RFC 4760 and every capability and message that
//! names an address family.

use std::fmt;

use serde::{Deserialize, Serialize};

/// AFI: the ones evpnd speaks are named, any other is kept as its number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Afi {
    Ipv4,
    Ipv6,
    /// AFI 25, carrying L2VPN SAFIs such as EVPN (SAFI 70).
    L2vpn,
    Other(u16),
}

impl Afi {
    pub const fn from_u16(v: u16) -> Self {
        match v {
            1 => Self::Ipv4,
            2 => Self::Ipv6,
            25 => Self::L2vpn,
            _ => Self::Other(v),
        }
    }

    pub const fn to_u16(self) -> u16 {
        match self {
            Self::Ipv4 => 1,
            Self::Ipv6 => 2,
            Self::L2vpn => 25,
            Self::Other(v) => v,
        }
    }
}

impl From<u16> for Afi {
    fn from(v: u16) -> Self {
        Self::from_u16(v)
    }
}

impl fmt::Display for Afi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4 => f.write_str("ipv4"),
            Self::Ipv6 => f.write_str("ipv6"),
            Self::L2vpn => f.write_str("l2vpn"),
            Self::Other(v) => write!(f, "afi-{v}"),
        }
    }
}

/// SAFI: the ones evpnd speaks are named, any other is kept as its number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Safi {
    Unicast,
    Multicast,
    /// SAFI 70 (RFC 7432).
    Evpn,
    Other(u8),
}

impl Safi {
    pub const fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Unicast,
            2 => Self::Multicast,
            70 => Self::Evpn,
            _ => Self::Other(v),
        }
    }

    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Unicast => 1,
            Self::Multicast => 2,
            Self::Evpn => 70,
            Self::Other(v) => v,
        }
    }
}

impl From<u8> for Safi {
    fn from(v: u8) -> Self {
        Self::from_u8(v)
    }
}

impl fmt::Display for Safi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unicast => f.write_str("unicast"),
            Self::Multicast => f.write_str("multicast"),
            Self::Evpn => f.write_str("evpn"),
            Self::Other(v) => write!(f, "safi-{v}"),
        }
    }
}

/// An (AFI, SAFI) pair: one address family as negotiated and carried in MP attributes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct AfiSafi {
    pub afi: Afi,
    pub safi: Safi,
}

impl AfiSafi {
    pub const IPV4_UNICAST: AfiSafi = AfiSafi::new(Afi::Ipv4, Safi::Unicast);
    pub const IPV6_UNICAST: AfiSafi = AfiSafi::new(Afi::Ipv6, Safi::Unicast);
    pub const L2VPN_EVPN: AfiSafi = AfiSafi::new(Afi::L2vpn, Safi::Evpn);

    pub const fn new(afi: Afi, safi: Safi) -> Self {
        Self { afi, safi }
    }
}

impl fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.afi, self.safi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_names() {
        for v in [0u16, 1, 2, 25, 3, 65535] {
            assert_eq!(Afi::from_u16(v).to_u16(), v);
        }
        for v in 0..=255u8 {
            assert_eq!(Safi::from_u8(v).to_u8(), v);
        }
        assert_eq!(AfiSafi::L2VPN_EVPN.to_string(), "l2vpn/evpn");
        assert_eq!(
            AfiSafi::new(Afi::from_u16(16388), Safi::from_u8(71)).to_string(),
            "afi-16388/safi-71"
        );
        assert_eq!(Afi::from_u16(25), Afi::L2vpn);
        assert_eq!(Safi::from_u8(70), Safi::Evpn);
    }
}

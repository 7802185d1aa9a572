//! EVPN NLRI (RFC 7432 section 7, RFC 8365, RFC 9136): route types 1 to 5.
//!
//! OWNER NOTE (skeleton): types and signatures are fixed; bodies are being filled in.

use std::net::IpAddr;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};

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
}

impl EvpnNlri {
    /// Route type code (1..=5, or the unknown one).
    pub fn route_type(&self) -> u8 {
        todo!()
    }

    /// Appends the NLRI (type, length, value) to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let _ = out;
        todo!()
    }
}

/// Decodes the NLRI field of an EVPN MP_REACH/MP_UNREACH (a sequence of NLRI).
pub fn decode_nlri_list(data: &[u8]) -> Result<Vec<EvpnNlri>, NlriError> {
    let _ = data;
    todo!()
}

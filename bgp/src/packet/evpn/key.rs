//! The BGP route key of an EVPN route: what two NLRI must share to be the same route.
//!
//! RFC 7432 section 7 and RFC 9136 section 3.1 name the fields "considered to be part of
//! the prefix"; labels, the type-2 ESI and the type-5 ESI/gateway are not among them, so a
//! withdrawal from FRR (label 0) finds the route advertised with the VNI.
//!
//! The key is packed into 37 bytes (route type, RD, then the type's fields at fixed
//! offsets): `Copy`, no heap, cheap to hash and compare, which matters when it keys a RIB
//! of a million routes. Ordering follows the packed bytes: by route type, then RD, then the
//! fields in wire order.

use std::fmt;
use std::net::IpAddr;

use super::{
    Esi, EthernetAutoDiscovery, EthernetSegment, EvpnNlri, InclusiveMulticastEthernetTag, IpPrefix,
    Label, MacIpAdvertisement,
};
use crate::packet::types::{MacAddress, RouteDistinguisher};

const KEY_LEN: usize = 37;
/// Octets of an unknown route type's value kept in its key.
const UNKNOWN_KEPT: usize = KEY_LEN - 2;

/// Route key of an EVPN NLRI; build it with [`EvpnNlri::key`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EvpnRouteKey([u8; KEY_LEN]);

impl EvpnRouteKey {
    pub(super) fn of(nlri: &EvpnNlri) -> Self {
        // Fixed ranges so the copies compile to plain moves (no bounds checks at runtime).
        let mut b = [0u8; KEY_LEN];
        b[0] = nlri.route_type();
        match nlri {
            EvpnNlri::EthernetAutoDiscovery(r) => {
                b[1..9].copy_from_slice(&r.rd.to_bytes());
                b[9..19].copy_from_slice(&r.esi.0);
                b[19..23].copy_from_slice(&r.ethernet_tag.to_be_bytes());
            }
            EvpnNlri::MacIp(r) => {
                b[1..9].copy_from_slice(&r.rd.to_bytes());
                b[9..13].copy_from_slice(&r.ethernet_tag.to_be_bytes());
                b[13] = r.mac_len;
                b[14..20].copy_from_slice(&r.mac.0);
                b[20..37].copy_from_slice(&ip_field(r.ip.as_ref()));
            }
            EvpnNlri::InclusiveMulticast(r) => {
                b[1..9].copy_from_slice(&r.rd.to_bytes());
                b[9..13].copy_from_slice(&r.ethernet_tag.to_be_bytes());
                b[13..30].copy_from_slice(&ip_field(Some(&r.originator)));
            }
            EvpnNlri::EthernetSegment(r) => {
                b[1..9].copy_from_slice(&r.rd.to_bytes());
                b[9..19].copy_from_slice(&r.esi.0);
                b[19..36].copy_from_slice(&ip_field(Some(&r.originator)));
            }
            EvpnNlri::IpPrefix(r) => {
                b[1..9].copy_from_slice(&r.rd.to_bytes());
                b[9..13].copy_from_slice(&r.ethernet_tag.to_be_bytes());
                b[13] = r.prefix_len;
                b[14..31].copy_from_slice(&ip_field(Some(&r.prefix)));
            }
            EvpnNlri::Unknown { value, .. } => {
                // Unknown types are never installed (RFC 7432 section 7 says ignore them),
                // so their key only needs to be deterministic: length and leading octets.
                b[1] = u8::try_from(value.len()).unwrap_or(u8::MAX);
                let kept = &value[..value.len().min(UNKNOWN_KEPT)];
                b[2..2 + kept.len()].copy_from_slice(kept);
            }
        }
        EvpnRouteKey(b)
    }

    /// The route type code.
    pub fn route_type(&self) -> u8 {
        self.0[0]
    }

    /// The route distinguisher (`None` for an unknown route type).
    pub fn rd(&self) -> Option<RouteDistinguisher> {
        (1..=5)
            .contains(&self.route_type())
            .then(|| RouteDistinguisher::from_bytes(self.array(1)))
    }

    /// A type-2 route's MAC address (`None` for other route types): read in place, for
    /// indexes that keep only the key and look the MAC up often.
    pub fn mac(&self) -> Option<MacAddress> {
        (self.route_type() == 2).then(|| MacAddress(self.array(14)))
    }

    /// A type-2 route's IP address, if it has one (`None` for other route types).
    pub fn mac_ip(&self) -> Option<IpAddr> {
        if self.route_type() == 2 {
            self.ip(20)
        } else {
            None
        }
    }

    /// The packed bytes (for hashing into other structures or debugging).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// An NLRI with exactly this key, the other fields zero (ESI, labels, gateway): the
    /// form FRR sends in a withdrawal. For an unknown route type the value is the part the
    /// key kept (all of it when it was at most 35 octets).
    pub fn to_nlri(&self) -> EvpnNlri {
        let rd = || RouteDistinguisher::from_bytes(self.array(1));
        let tag = |at| u32::from_be_bytes(self.array(at));
        match self.route_type() {
            1 => EvpnNlri::EthernetAutoDiscovery(EthernetAutoDiscovery {
                rd: rd(),
                esi: Esi(self.array(9)),
                ethernet_tag: tag(19),
                label: Label(0),
            }),
            2 => EvpnNlri::MacIp(MacIpAdvertisement {
                rd: rd(),
                esi: Esi::ZERO,
                ethernet_tag: tag(9),
                mac_len: self.0[13],
                mac: MacAddress(self.array(14)),
                ip: self.ip(20),
                label1: Label(0),
                label2: None,
            }),
            3 => EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
                rd: rd(),
                ethernet_tag: tag(9),
                originator: self.ip(13).unwrap_or(IpAddr::from([0u8; 4])),
            }),
            4 => EvpnNlri::EthernetSegment(EthernetSegment {
                rd: rd(),
                esi: Esi(self.array(9)),
                originator: self.ip(19).unwrap_or(IpAddr::from([0u8; 4])),
            }),
            5 => {
                let prefix = self.ip(14).unwrap_or(IpAddr::from([0u8; 4]));
                let gateway = match prefix {
                    IpAddr::V4(_) => IpAddr::from([0u8; 4]),
                    IpAddr::V6(_) => IpAddr::from([0u8; 16]),
                };
                EvpnNlri::IpPrefix(IpPrefix {
                    rd: rd(),
                    esi: Esi::ZERO,
                    ethernet_tag: tag(9),
                    prefix_len: self.0[13],
                    prefix,
                    gateway,
                    label: Label(0),
                })
            }
            route_type => {
                let len = usize::from(self.0[1]).min(UNKNOWN_KEPT);
                EvpnNlri::Unknown {
                    route_type,
                    value: self.0[2..2 + len].to_vec(),
                }
            }
        }
    }

    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        // Offsets are constants of this file, all inside the 37-byte key.
        out.copy_from_slice(&self.0[at..at + N]);
        out
    }

    /// IP length octet at `at`, address after it.
    fn ip(&self, at: usize) -> Option<IpAddr> {
        match self.0[at] {
            32 => Some(IpAddr::from(self.array::<4>(at + 1))),
            128 => Some(IpAddr::from(self.array::<16>(at + 1))),
            _ => None,
        }
    }
}

/// IP length in bits then 16 octets (IPv4 left-aligned, rest zero; all zero for none).
fn ip_field(ip: Option<&IpAddr>) -> [u8; 17] {
    let mut f = [0u8; 17];
    match ip {
        None => {}
        Some(IpAddr::V4(a)) => {
            f[0] = 32;
            f[1..5].copy_from_slice(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            f[0] = 128;
            f[1..17].copy_from_slice(&a.octets());
        }
    }
    f
}

impl fmt::Display for EvpnRouteKey {
    /// `RD prefix`, e.g. `65000:100 [2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rd() {
            Some(rd) => write!(f, "{rd} {}", self.to_nlri()),
            None => write!(f, "{}", self.to_nlri()),
        }
    }
}

impl fmt::Debug for EvpnRouteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EvpnRouteKey({self})")
    }
}

impl serde::Serialize for EvpnRouteKey {
    /// As its `Display` text, for JSON output of RIB contents.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

//! BGP capabilities (RFC 5492) carried in the OPEN's optional parameter type 2.
//!
//! ```text
//! +------------------------------+
//! | Capability Code (1 octet)    |
//! +------------------------------+
//! | Capability Length (1 octet)  |
//! +------------------------------+
//! | Capability Value (variable)  |
//! +------------------------------+
//! ```

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::combinator::consumed;
use nom::multi::{count, length_data};
use nom::sequence::preceded;
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::afi::{Afi, AfiSafi, Safi};
use super::message::EncodeError;
use super::notification::{hex_bytes, Notification, OpenSubcode};
use super::parse::{be_u16, be_u24, be_u32, be_u8, exact, ok_or, PResult};

pub const CAP_MULTIPROTOCOL: u8 = 1;
pub const CAP_ROUTE_REFRESH: u8 = 2;
pub const CAP_EXTENDED_MESSAGE: u8 = 6;
pub const CAP_GRACEFUL_RESTART: u8 = 64;
pub const CAP_FOUR_OCTET_AS: u8 = 65;
pub const CAP_ADD_PATH: u8 = 69;
pub const CAP_ENHANCED_ROUTE_REFRESH: u8 = 70;
pub const CAP_LONG_LIVED_GRACEFUL_RESTART: u8 = 71;
pub const CAP_FQDN: u8 = 73;
/// Pre-standard route refresh code that Cisco, and FRR for compatibility, still send.
pub const CAP_ROUTE_REFRESH_CISCO: u8 = 128;

/// One family of a graceful restart capability (RFC 4724 section 3).
///
/// ```text
/// +--------------------------------------------------+
/// | Address Family Identifier (16 bits)              |
/// +--------------------------------------------------+
/// | Subsequent Address Family Identifier (8 bits)    |
/// +--------------------------------------------------+
/// | Flags for Address Family (8 bits)                |
/// +--------------------------------------------------+
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct GracefulRestartFamily {
    pub family: AfiSafi,
    /// Bit 0x80: forwarding state preserved.
    pub flags: u8,
}

/// Graceful restart capability (RFC 4724 section 3, RFC 8538 N bit).
///
/// ```text
/// +--------------------------------------------------+
/// | Restart Flags (4 bits)                           |
/// +--------------------------------------------------+
/// | Restart Time in seconds (12 bits)                |
/// +--------------------------------------------------+
/// | per-family entries (4 octets each)               |
/// +--------------------------------------------------+
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct GracefulRestart {
    /// The four restart flag bits (0x8 = R restart state, 0x4 = N notification).
    pub restart_flags: u8,
    /// 12 bits.
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

/// One family of an ADD-PATH capability (RFC 7911 section 4).
///
/// ```text
/// +------------------------------------------------+
/// | Address Family Identifier (2 octets)           |
/// +------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet) |
/// +------------------------------------------------+
/// | Send/Receive (1 octet)                         |
/// +------------------------------------------------+
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct AddPathFamily {
    pub family: AfiSafi,
    /// 1 = receive, 2 = send, 3 = both.
    pub send_receive: u8,
}

/// One family of a long-lived graceful restart capability (RFC 9494 section 3).
///
/// ```text
/// +--------------------------------------------------+
/// | AFI (16 bits) | SAFI (8 bits) | Flags (8 bits)   |
/// +--------------------------------------------------+
/// | Long-lived Stale Time (24 bits)                  |
/// +--------------------------------------------------+
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct LlgrFamily {
    pub family: AfiSafi,
    /// Bit 0x80: forwarding state preserved.
    pub flags: u8,
    /// 24 bits, seconds.
    pub stale_time: u32,
}

/// A capability, typed for the ones FRR and GoBGP send, raw otherwise.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Code 1 (RFC 4760 section 8): AFI, reserved octet, SAFI.
    Multiprotocol(AfiSafi),
    /// Code 2 (RFC 2918).
    RouteRefresh,
    /// Code 6 (RFC 8654).
    ExtendedMessage,
    /// Code 64 (RFC 4724).
    GracefulRestart(GracefulRestart),
    /// Code 65 (RFC 6793): the speaker's 4-octet AS number.
    FourOctetAs(u32),
    /// Code 69 (RFC 7911). Decoded; evpnd does not negotiate it.
    AddPath(Vec<AddPathFamily>),
    /// Code 70 (RFC 7313).
    EnhancedRouteRefresh,
    /// Code 71 (RFC 9494).
    LongLivedGracefulRestart(Vec<LlgrFamily>),
    /// Code 73 (draft-walton-bgp-hostname-capability): as FRR sends it.
    Fqdn { hostname: String, domain: String },
    /// Code 128: the pre-standard route refresh.
    RouteRefreshCisco,
    /// Any other code, or an FQDN whose names are not UTF-8: kept as received.
    Unknown {
        code: u8,
        #[serde(with = "hex_bytes")]
        value: Vec<u8>,
    },
}

impl std::fmt::Display for Capability {
    /// One line, e.g. `multiprotocol l2vpn/evpn`, `4-octet-as 65001`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Multiprotocol(fam) => write!(f, "multiprotocol {fam}"),
            Self::RouteRefresh => f.write_str("route-refresh"),
            Self::RouteRefreshCisco => f.write_str("route-refresh (old, 128)"),
            Self::EnhancedRouteRefresh => f.write_str("enhanced-route-refresh"),
            Self::ExtendedMessage => f.write_str("extended-message"),
            Self::FourOctetAs(a) => write!(f, "4-octet-as {a}"),
            Self::GracefulRestart(gr) => {
                write!(
                    f,
                    "graceful-restart flags {:#x} time {}",
                    gr.restart_flags, gr.restart_time
                )?;
                for fam in &gr.families {
                    write!(f, " {}({:#04x})", fam.family, fam.flags)?;
                }
                Ok(())
            }
            Self::AddPath(list) => {
                f.write_str("add-path")?;
                for e in list {
                    write!(f, " {}(send-receive {})", e.family, e.send_receive)?;
                }
                Ok(())
            }
            Self::LongLivedGracefulRestart(list) => {
                f.write_str("long-lived-graceful-restart")?;
                for e in list {
                    write!(
                        f,
                        " {}(flags {:#04x} stale {})",
                        e.family, e.flags, e.stale_time
                    )?;
                }
                Ok(())
            }
            Self::Fqdn { hostname, domain } => write!(f, "fqdn {hostname:?} domain {domain:?}"),
            Self::Unknown { code, value } => {
                write!(f, "capability {code} {}", hex_bytes::to_hex(value))
            }
        }
    }
}

/// A capability whose length does not fit its code. RFC 5492 names no subcode; like FRR we
/// send OPEN Message Error / 0 with the capability (code, length, value) as data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("capability {code}: length {len} is invalid")]
pub struct CapabilityError {
    pub code: u8,
    pub len: usize,
    /// The capability TLV as received (what NOTIFICATION data carries).
    pub data: Vec<u8>,
}

/// OPEN Message Error / Unsupported Capability (RFC 5492 section 3) for capabilities the
/// session requires but the peer did not announce (or refuses): data is the list of
/// capabilities as TLVs. Which ones is the session's decision.
pub fn unsupported_capability_notification(caps: &[Capability]) -> Notification {
    let mut data = BytesMut::new();
    for c in caps {
        // A capability that does not encode (value over 255 octets) is left out.
        let _ = c.encode(&mut data);
    }
    Notification::open(OpenSubcode::UnsupportedCapability, data.to_vec())
}

impl CapabilityError {
    pub fn notification(&self) -> Notification {
        Notification::open(OpenSubcode::Unspecific, self.data.clone())
    }
}

/// AFI (2 octets), then one octet that is not the SAFI, then the SAFI (the layout of
/// the multiprotocol capability).
fn afi_x_safi(i: &[u8]) -> PResult<'_, (AfiSafi, u8)> {
    (be_u16, be_u8, be_u8)
        .map(|(afi, x, safi)| (AfiSafi::new(Afi::from_u16(afi), Safi::from_u8(safi)), x))
        .parse(i)
}

/// AFI (2 octets), SAFI (1 octet), then a per-family octet (graceful restart flags,
/// add-path send/receive, LLGR flags).
fn afi_safi_octet(i: &[u8]) -> PResult<'_, (AfiSafi, u8)> {
    (be_u16, be_u8, be_u8)
        .map(|(afi, safi, x)| (AfiSafi::new(Afi::from_u16(afi), Safi::from_u8(safi)), x))
        .parse(i)
}

impl Capability {
    pub fn code(&self) -> u8 {
        match self {
            Self::Multiprotocol(_) => CAP_MULTIPROTOCOL,
            Self::RouteRefresh => CAP_ROUTE_REFRESH,
            Self::ExtendedMessage => CAP_EXTENDED_MESSAGE,
            Self::GracefulRestart(_) => CAP_GRACEFUL_RESTART,
            Self::FourOctetAs(_) => CAP_FOUR_OCTET_AS,
            Self::AddPath(_) => CAP_ADD_PATH,
            Self::EnhancedRouteRefresh => CAP_ENHANCED_ROUTE_REFRESH,
            Self::LongLivedGracefulRestart(_) => CAP_LONG_LIVED_GRACEFUL_RESTART,
            Self::Fqdn { .. } => CAP_FQDN,
            Self::RouteRefreshCisco => CAP_ROUTE_REFRESH_CISCO,
            Self::Unknown { code, .. } => *code,
        }
    }

    /// Decodes one capability value. `tlv` is the whole capability (for error data).
    pub fn decode_value(code: u8, v: &[u8], tlv: &[u8]) -> Result<Self, CapabilityError> {
        let bad = || CapabilityError {
            code,
            len: v.len(),
            data: tlv.to_vec(),
        };
        let cap = match code {
            CAP_MULTIPROTOCOL => {
                // The middle octet is reserved.
                let (family, _reserved) = exact(afi_x_safi, v).ok_or_else(bad)?;
                Self::Multiprotocol(family)
            }
            CAP_ROUTE_REFRESH
            | CAP_EXTENDED_MESSAGE
            | CAP_ENHANCED_ROUTE_REFRESH
            | CAP_ROUTE_REFRESH_CISCO => {
                if !v.is_empty() {
                    return Err(bad());
                }
                match code {
                    CAP_ROUTE_REFRESH => Self::RouteRefresh,
                    CAP_EXTENDED_MESSAGE => Self::ExtendedMessage,
                    CAP_ENHANCED_ROUTE_REFRESH => Self::EnhancedRouteRefresh,
                    _ => Self::RouteRefreshCisco,
                }
            }
            CAP_FOUR_OCTET_AS => Self::FourOctetAs(exact(be_u32, v).ok_or_else(bad)?),
            CAP_GRACEFUL_RESTART => {
                // Restart Flags(4 bits) Restart Time(12 bits), then AFI(2) SAFI(1) Flags(1)
                // per family.
                let (rest, head) = ok_or(be_u16(v), bad)?;
                if !rest.len().is_multiple_of(4) {
                    return Err(bad());
                }
                let family =
                    afi_safi_octet.map(|(family, flags)| GracefulRestartFamily { family, flags });
                Self::GracefulRestart(GracefulRestart {
                    restart_flags: (head >> 12) as u8,
                    restart_time: head & 0x0fff,
                    families: exact(count(family, rest.len() / 4), rest).ok_or_else(bad)?,
                })
            }
            CAP_ADD_PATH => {
                if v.is_empty() || !v.len().is_multiple_of(4) {
                    return Err(bad());
                }
                let family = afi_safi_octet.map(|(family, send_receive)| AddPathFamily {
                    family,
                    send_receive,
                });
                Self::AddPath(exact(count(family, v.len() / 4), v).ok_or_else(bad)?)
            }
            CAP_LONG_LIVED_GRACEFUL_RESTART => {
                if !v.len().is_multiple_of(7) {
                    return Err(bad());
                }
                // AFI(2) SAFI(1) Flags(1) Long-lived Stale Time(3)
                let family =
                    (afi_safi_octet, be_u24).map(|((family, flags), stale_time)| LlgrFamily {
                        family,
                        flags,
                        stale_time,
                    });
                Self::LongLivedGracefulRestart(
                    exact(count(family, v.len() / 7), v).ok_or_else(bad)?,
                )
            }
            CAP_FQDN => {
                // Hostname Length(1) Hostname, Domain Name Length(1) Domain Name.
                let (host, rest) =
                    exact((length_data(be_u8), length_data(be_u8)), v).ok_or_else(bad)?;
                match (std::str::from_utf8(host), std::str::from_utf8(rest)) {
                    (Ok(h), Ok(d)) => Self::Fqdn {
                        hostname: h.to_string(),
                        domain: d.to_string(),
                    },
                    _ => Self::Unknown {
                        code,
                        value: v.to_vec(),
                    },
                }
            }
            _ => Self::Unknown {
                code,
                value: v.to_vec(),
            },
        };
        Ok(cap)
    }

    /// Decodes the value of an optional parameter of type 2: a sequence of capabilities.
    pub fn decode_list(mut data: &[u8]) -> Result<Vec<Self>, CapabilityError> {
        let mut caps = Vec::with_capacity(data.len() / 4);
        while !data.is_empty() {
            // Code(1) Length(1) Value; `data` is not empty, so a failed header is one octet.
            let (_, (code, len)) = ok_or((be_u8, be_u8).parse(data), || CapabilityError {
                code: data.first().copied().unwrap_or_default(),
                len: 0,
                data: data.to_vec(),
            })?;
            let len = usize::from(len);
            let (rest, (tlv, value)) = ok_or(
                consumed(preceded(take(2usize), take(len))).parse(data),
                || CapabilityError {
                    code,
                    len,
                    data: data.to_vec(),
                },
            )?;
            caps.push(Self::decode_value(code, value, tlv)?);
            data = rest;
        }
        Ok(caps)
    }

    fn encode_value(&self, out: &mut BytesMut) {
        match self {
            Self::Multiprotocol(f) => {
                out.put_u16(f.afi.to_u16());
                out.put_u8(0);
                out.put_u8(f.safi.to_u8());
            }
            Self::RouteRefresh
            | Self::ExtendedMessage
            | Self::EnhancedRouteRefresh
            | Self::RouteRefreshCisco => {}
            Self::GracefulRestart(gr) => {
                out.put_u16(u16::from(gr.restart_flags & 0x0f) << 12 | (gr.restart_time & 0x0fff));
                for f in &gr.families {
                    out.put_u16(f.family.afi.to_u16());
                    out.put_u8(f.family.safi.to_u8());
                    out.put_u8(f.flags);
                }
            }
            Self::FourOctetAs(asn) => out.put_u32(*asn),
            Self::AddPath(list) => {
                for f in list {
                    out.put_u16(f.family.afi.to_u16());
                    out.put_u8(f.family.safi.to_u8());
                    out.put_u8(f.send_receive);
                }
            }
            Self::LongLivedGracefulRestart(list) => {
                for f in list {
                    out.put_u16(f.family.afi.to_u16());
                    out.put_u8(f.family.safi.to_u8());
                    out.put_u8(f.flags);
                    out.put_slice(&f.stale_time.to_be_bytes()[1..]);
                }
            }
            Self::Fqdn { hostname, domain } => {
                out.put_u8(hostname.len() as u8);
                out.put_slice(hostname.as_bytes());
                out.put_u8(domain.len() as u8);
                out.put_slice(domain.as_bytes());
            }
            Self::Unknown { value, .. } => out.put_slice(value),
        }
    }

    /// Appends code, length, value. Fails when the value exceeds 255 octets (or an FQDN name
    /// exceeds 255).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        if let Self::Fqdn { hostname, domain } = self {
            if hostname.len() > 255 || domain.len() > 255 {
                return Err(EncodeError::FieldTooLong { what: "FQDN name" });
            }
        }
        let start = out.len();
        out.put_u8(self.code());
        out.put_u8(0);
        self.encode_value(out);
        let len = out.len() - start - 2;
        let Ok(len) = u8::try_from(len) else {
            out.truncate(start);
            return Err(EncodeError::FieldTooLong { what: "capability" });
        };
        out[start + 1] = len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(wire: &[u8], expect: Capability) {
        let caps = Capability::decode_list(wire).unwrap();
        assert_eq!(caps, vec![expect.clone()], "{wire:02x?}");
        let mut out = BytesMut::new();
        expect.encode(&mut out).unwrap();
        assert_eq!(&out[..], wire);
    }

    #[test]
    fn each_capability_both_ways() {
        round_trip(
            &[1, 4, 0, 25, 0, 70],
            Capability::Multiprotocol(AfiSafi::L2VPN_EVPN),
        );
        round_trip(
            &[1, 4, 0, 1, 0, 1],
            Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        );
        round_trip(
            &[1, 4, 0, 2, 0, 1],
            Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        );
        round_trip(&[2, 0], Capability::RouteRefresh);
        round_trip(&[128, 0], Capability::RouteRefreshCisco);
        round_trip(&[70, 0], Capability::EnhancedRouteRefresh);
        round_trip(&[6, 0], Capability::ExtendedMessage);
        round_trip(
            &[65, 4, 0xfa, 0x56, 0xea, 0],
            Capability::FourOctetAs(4_200_000_000),
        );
        round_trip(
            &[64, 6, 0x80, 0x78, 0, 25, 70, 0x80],
            Capability::GracefulRestart(GracefulRestart {
                restart_flags: 8,
                restart_time: 120,
                families: vec![GracefulRestartFamily {
                    family: AfiSafi::L2VPN_EVPN,
                    flags: 0x80,
                }],
            }),
        );
        round_trip(
            &[69, 4, 0, 25, 70, 3],
            Capability::AddPath(vec![AddPathFamily {
                family: AfiSafi::L2VPN_EVPN,
                send_receive: 3,
            }]),
        );
        round_trip(
            &[71, 7, 0, 25, 70, 0x80, 0, 0x0e, 0x10],
            Capability::LongLivedGracefulRestart(vec![LlgrFamily {
                family: AfiSafi::L2VPN_EVPN,
                flags: 0x80,
                stale_time: 3600,
            }]),
        );
        round_trip(&[71, 0], Capability::LongLivedGracefulRestart(vec![]));
        round_trip(
            &[73, 9, 5, b'l', b'e', b'a', b'f', b'1', 2, b'l', b'b'],
            Capability::Fqdn {
                hostname: "leaf1".into(),
                domain: "lb".into(),
            },
        );
        round_trip(
            &[200, 2, 0xde, 0xad],
            Capability::Unknown {
                code: 200,
                value: vec![0xde, 0xad],
            },
        );
        // FQDN with non-UTF-8 name: kept raw, still lossless.
        round_trip(
            &[73, 3, 1, 0xff, 0],
            Capability::Unknown {
                code: 73,
                value: vec![1, 0xff, 0],
            },
        );
    }

    #[test]
    fn wrong_lengths_are_errors_with_the_tlv_as_data() {
        for wire in [
            &[1u8, 3, 0, 25, 0][..],
            &[2, 1, 0],
            &[65, 2, 0, 1],
            &[64, 1, 0],
            &[64, 4, 0, 0, 0, 1],
            &[69, 3, 0, 25, 70],
            &[69, 0],
            &[71, 3, 0, 0, 0],
            &[73, 2, 5, b'a'],
            &[73, 3, 0, 5, b'a'],
            &[6, 1, 0],
        ] {
            let err = Capability::decode_list(wire).unwrap_err();
            assert_eq!(err.data, wire, "{wire:02x?}");
            let n = err.notification();
            assert_eq!((n.code, n.subcode, n.data.as_slice()), (2, 0, wire));
        }
        // Length running past the parameter.
        let err = Capability::decode_list(&[65, 4, 0, 0]).unwrap_err();
        assert_eq!(err.data, [65, 4, 0, 0]);
        assert!(Capability::decode_list(&[65]).is_err());
    }

    #[test]
    fn unsupported_capability_data_is_the_tlvs() {
        let n = unsupported_capability_notification(&[
            Capability::Multiprotocol(AfiSafi::L2VPN_EVPN),
            Capability::FourOctetAs(1),
        ]);
        assert_eq!((n.code, n.subcode), (2, 7));
        assert_eq!(n.data, [1, 4, 0, 25, 0, 70, 65, 4, 0, 0, 0, 1]);
    }

    #[test]
    fn display_lines() {
        assert_eq!(
            Capability::Multiprotocol(AfiSafi::L2VPN_EVPN).to_string(),
            "multiprotocol l2vpn/evpn"
        );
        assert_eq!(
            Capability::FourOctetAs(65001).to_string(),
            "4-octet-as 65001"
        );
        assert_eq!(
            Capability::Fqdn {
                hostname: "leaf1".into(),
                domain: "".into()
            }
            .to_string(),
            "fqdn \"leaf1\" domain \"\""
        );
    }

    #[test]
    fn too_long_value_is_an_encode_error() {
        let c = Capability::Unknown {
            code: 9,
            value: vec![0; 256],
        };
        let mut out = BytesMut::new();
        assert!(c.encode(&mut out).is_err());
        assert!(out.is_empty());
    }
}

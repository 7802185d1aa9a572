//! OPEN message (RFC 4271 section 4.2) with the checks of section 6.2, capabilities in
//! optional parameter type 2 (RFC 5492), and extended optional parameters (RFC 9072).

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::sequence::preceded;
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::afi::AfiSafi;
use super::capability::{Capability, CapabilityError};
use super::message::EncodeError;
use super::notification::{Notification, OpenSubcode};
use super::parse::{be_u16, be_u8, ipv4, ok_or};

/// The BGP version we speak.
pub const BGP_VERSION: u8 = 4;
/// RFC 6793: put in My Autonomous System when the real ASN does not fit 16 bits.
pub const AS_TRANS: u16 = 23456;
/// Optional parameter type of capabilities (RFC 5492).
pub const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072: a Non-Ext OP Type of 255 marks the extended parameter encoding.
const PARAM_EXTENDED_LENGTH: u8 = 255;

/// An optional parameter. Only capabilities are defined; any other type is refused with
/// Unsupported Optional Parameter (RFC 4271 section 6.2).
///
/// ```text
///  0                   1
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Parm. Type   | Parm. Length  |  Parameter Value (variable)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// (RFC 9072 extended form: Parm. Length is 2 octets)
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionalParameter {
    Capabilities(Vec<Capability>),
}

/// OPEN message body.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+
/// |    Version    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     My Autonomous System      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Hold Time           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         BGP Identifier                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Opt Parm Len  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |             Optional Parameters (variable)                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Open {
    pub version: u8,
    /// 16-bit field; AS_TRANS when the real ASN (see `asn()`) needs 4 octets.
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    pub params: Vec<OptionalParameter>,
    /// Received (or to be sent) in the RFC 9072 extended encoding.
    #[serde(default)]
    pub extended_params: bool,
}

/// OPEN errors of RFC 4271 section 6.2 (2/7 Unsupported Capability is the session's call).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported BGP version {0}")]
    UnsupportedVersion(u8),
    #[error("bad peer AS {0}")]
    BadPeerAs(u32),
    #[error("bad BGP identifier {0}")]
    BadBgpIdentifier(Ipv4Addr),
    #[error("unacceptable hold time {0}")]
    UnacceptableHoldTime(u16),
    #[error("unsupported optional parameter type {0}")]
    UnsupportedOptionalParameter(u8),
    #[error("malformed optional parameters: {0}")]
    MalformedParameters(&'static str),
    #[error(transparent)]
    Capability(#[from] CapabilityError),
}

impl OpenError {
    /// The NOTIFICATION to send (code 2, RFC 4271 section 6.2).
    pub fn notification(&self) -> Notification {
        match self {
            // Data: the largest version we support, as 2 octets.
            Self::UnsupportedVersion(_) => {
                Notification::open(OpenSubcode::UnsupportedVersionNumber, vec![0, BGP_VERSION])
            }
            Self::BadPeerAs(_) => Notification::open(OpenSubcode::BadPeerAs, vec![]),
            Self::BadBgpIdentifier(_) => Notification::open(OpenSubcode::BadBgpIdentifier, vec![]),
            Self::UnacceptableHoldTime(_) => {
                Notification::open(OpenSubcode::UnacceptableHoldTime, vec![])
            }
            Self::UnsupportedOptionalParameter(_) => {
                Notification::open(OpenSubcode::UnsupportedOptionalParameter, vec![])
            }
            Self::MalformedParameters(_) => Notification::open(OpenSubcode::Unspecific, vec![]),
            Self::Capability(e) => e.notification(),
        }
    }
}

impl Open {
    /// An OPEN for `asn` (AS_TRANS goes in My AS when it needs 4 octets; the caller includes
    /// `Capability::FourOctetAs` in `capabilities`).
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, capabilities: Vec<Capability>) -> Self {
        Self {
            version: BGP_VERSION,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            params: vec![OptionalParameter::Capabilities(capabilities)],
            extended_params: false,
        }
    }

    /// Every capability, across all optional parameters, in received order.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.params.iter().flat_map(|p| match p {
            OptionalParameter::Capabilities(c) => c.iter(),
        })
    }

    /// The speaker's ASN: the 4-octet AS capability when present, else My AS.
    pub fn asn(&self) -> u32 {
        self.capabilities()
            .find_map(|c| match c {
                Capability::FourOctetAs(a) => Some(*a),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    /// Address families announced with the multiprotocol capability.
    pub fn families(&self) -> Vec<AfiSafi> {
        self.capabilities()
            .filter_map(|c| match c {
                Capability::Multiprotocol(f) => Some(*f),
                _ => None,
            })
            .collect()
    }

    pub fn has(&self, code: u8) -> bool {
        self.capabilities().any(|c| c.code() == code)
    }

    /// Decodes the OPEN body (after the header), applying RFC 4271 section 6.2 checks.
    pub fn decode(body: &[u8]) -> Result<Self, OpenError> {
        // Version(1) My AS(2) Hold Time(2) BGP Identifier(4) Opt Parm Len(1)
        let (rest, (version, my_as, hold_time, bgp_id, opt_len)) =
            ok_or((be_u8, be_u16, be_u16, ipv4, be_u8).parse(body), || {
                OpenError::MalformedParameters("OPEN shorter than 10 octets")
            })?;
        if version != BGP_VERSION {
            return Err(OpenError::UnsupportedVersion(version));
        }

        let mut params = Vec::new();
        let mut extended_params = false;
        if opt_len == 255 && rest.first() == Some(&PARAM_EXTENDED_LENGTH) {
            // RFC 9072: 255, 255, then a 2-octet length and 2-octet parameter lengths.
            extended_params = true;
            let (area, len) = ok_or(preceded(be_u8, be_u16).parse(rest), || {
                OpenError::MalformedParameters("extended length truncated")
            })?;
            if usize::from(len) != area.len() {
                return Err(OpenError::MalformedParameters("parameter length mismatch"));
            }
            Self::decode_params(area, be_u16, &mut params)?;
        } else {
            if usize::from(opt_len) != rest.len() {
                return Err(OpenError::MalformedParameters("parameter length mismatch"));
            }
            Self::decode_params(rest, be_u8.map(u16::from), &mut params)?;
        }

        let open = Self {
            version,
            my_as,
            hold_time,
            bgp_id,
            params,
            extended_params,
        };
        // RFC 7607: AS 0 is never a valid peer AS.
        if open.my_as == 0 || open.asn() == 0 {
            return Err(OpenError::BadPeerAs(open.asn()));
        }
        // RFC 4271 6.2: hold time 1 or 2 is illegal, 0 disables keepalives.
        if matches!(hold_time, 1 | 2) {
            return Err(OpenError::UnacceptableHoldTime(hold_time));
        }
        // RFC 6286 relaxed the identifier to any non-zero 4-octet value.
        if bgp_id.is_unspecified() {
            return Err(OpenError::BadBgpIdentifier(bgp_id));
        }
        Ok(open)
    }

    /// Walks the parameter area: type (1 octet), length (`len`: 1 octet, or 2 under
    /// RFC 9072), value.
    fn decode_params<'a>(
        mut area: &'a [u8],
        mut len: impl Parser<&'a [u8], Output = u16, Error = ()>,
        params: &mut Vec<OptionalParameter>,
    ) -> Result<(), OpenError> {
        while !area.is_empty() {
            let (tail, (t, len)) = ok_or((be_u8, |i: &'a [u8]| len.parse(i)).parse(area), || {
                OpenError::MalformedParameters("parameter header truncated")
            })?;
            let (tail, value) = ok_or(take(len).parse(tail), || {
                OpenError::MalformedParameters("parameter overruns")
            })?;
            params.push(Self::decode_param(t, value)?);
            area = tail;
        }
        Ok(())
    }

    fn decode_param(t: u8, value: &[u8]) -> Result<OptionalParameter, OpenError> {
        match t {
            PARAM_CAPABILITIES => Ok(OptionalParameter::Capabilities(Capability::decode_list(
                value,
            )?)),
            _ => Err(OpenError::UnsupportedOptionalParameter(t)),
        }
    }

    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        out.put_u8(self.version);
        out.put_u16(self.my_as);
        out.put_u16(self.hold_time);
        out.put_slice(&self.bgp_id.octets());
        let mut area = BytesMut::new();
        let mut values = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let mut v = BytesMut::new();
            match p {
                OptionalParameter::Capabilities(caps) => {
                    for c in caps {
                        c.encode(&mut v)?;
                    }
                }
            }
            values.push(v);
        }
        let short_fits = values.iter().all(|v| v.len() <= 255)
            && values.iter().map(|v| 2 + v.len()).sum::<usize>() <= 255;
        if self.extended_params || !short_fits {
            for v in &values {
                area.put_u8(PARAM_CAPABILITIES);
                let len = u16::try_from(v.len()).map_err(|_| EncodeError::FieldTooLong {
                    what: "optional parameter",
                })?;
                area.put_u16(len);
                area.put_slice(v);
            }
            let len = u16::try_from(area.len()).map_err(|_| EncodeError::FieldTooLong {
                what: "optional parameters",
            })?;
            out.put_u8(255);
            out.put_u8(PARAM_EXTENDED_LENGTH);
            out.put_u16(len);
        } else {
            for v in &values {
                area.put_u8(PARAM_CAPABILITIES);
                area.put_u8(v.len() as u8);
                area.put_slice(v);
            }
            out.put_u8(area.len() as u8);
        }
        out.put_slice(&area);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::capability::{GracefulRestart, GracefulRestartFamily};

    /// FRR-like OPEN body: AS 65001, hold 9, id 10.0.0.1, caps in separate parameters.
    fn frr_body() -> Vec<u8> {
        let mut b = vec![4, 0xfd, 0xe9, 0, 9, 10, 0, 0, 1];
        let params: Vec<&[u8]> = vec![
            &[1, 4, 0, 25, 0, 70],
            &[2, 0],
            &[128, 0],
            &[70, 0],
            &[65, 4, 0, 0, 0xfd, 0xe9],
            &[69, 4, 0, 25, 70, 1],
            &[73, 9, 5, b'l', b'e', b'a', b'f', b'1', 2, b'l', b'b'],
            &[64, 2, 0x40, 0x78],
            &[71, 0],
        ];
        let mut area = vec![];
        for p in params {
            area.push(2);
            area.push(p.len() as u8);
            area.extend_from_slice(p);
        }
        b.push(area.len() as u8);
        b.extend(area);
        b
    }

    #[test]
    fn frr_open_decodes_and_reencodes() {
        let body = frr_body();
        let open = Open::decode(&body).unwrap();
        assert_eq!(open.asn(), 65001);
        assert_eq!(open.hold_time, 9);
        assert_eq!(open.bgp_id, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(open.families(), vec![AfiSafi::L2VPN_EVPN]);
        assert_eq!(open.params.len(), 9);
        assert!(open.capabilities().any(|c| *c
            == Capability::GracefulRestart(GracefulRestart {
                restart_flags: 4,
                restart_time: 120,
                families: Vec::<GracefulRestartFamily>::new(),
            })));
        let mut out = BytesMut::new();
        open.encode(&mut out).unwrap();
        assert_eq!(&out[..], &body[..]);
    }

    #[test]
    fn four_octet_asn_uses_as_trans() {
        let open = Open::new(
            4_200_000_000,
            90,
            Ipv4Addr::new(1, 1, 1, 1),
            vec![Capability::FourOctetAs(4_200_000_000)],
        );
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_000);
        let mut out = BytesMut::new();
        open.encode(&mut out).unwrap();
        assert_eq!(
            &out[..],
            &[4, 0x5b, 0xa0, 0, 90, 1, 1, 1, 1, 8, 2, 6, 65, 4, 0xfa, 0x56, 0xea, 0]
        );
        assert_eq!(Open::decode(&out).unwrap(), open);
    }

    #[test]
    fn rfc9072_extended_parameters() {
        let mut open = Open::new(
            65000,
            90,
            Ipv4Addr::new(1, 1, 1, 1),
            vec![Capability::RouteRefresh],
        );
        open.extended_params = true;
        let mut out = BytesMut::new();
        open.encode(&mut out).unwrap();
        assert_eq!(
            &out[..],
            &[4, 0xfd, 0xe8, 0, 90, 1, 1, 1, 1, 255, 255, 0, 5, 2, 0, 2, 2, 0]
        );
        assert_eq!(Open::decode(&out).unwrap(), open);
        // Too many capabilities for one octet: the extended form is chosen by itself.
        let caps = (0..150).map(|_| Capability::RouteRefresh).collect();
        let big = Open::new(65000, 90, Ipv4Addr::new(1, 1, 1, 1), caps);
        let mut out = BytesMut::new();
        big.encode(&mut out).unwrap();
        let back = Open::decode(&out).unwrap();
        assert!(back.extended_params);
        assert_eq!(back.capabilities().count(), 150);
    }

    fn err(body: &[u8]) -> Notification {
        Open::decode(body).unwrap_err().notification()
    }

    #[test]
    fn section_6_2_errors() {
        let mut b = frr_body();
        b[0] = 3;
        assert_eq!(
            err(&b),
            Notification::open(OpenSubcode::UnsupportedVersionNumber, vec![0, 4])
        );
        let n = err(&b);
        assert_eq!((n.code, n.subcode, n.data), (2, 1, vec![0, 4]));

        let mut b = frr_body();
        b[3..5].copy_from_slice(&[0, 1]);
        assert_eq!(
            err(&b),
            Notification::open(OpenSubcode::UnacceptableHoldTime, vec![])
        );
        b[3..5].copy_from_slice(&[0, 2]);
        assert_eq!(err(&b).subcode, 6);
        b[3..5].copy_from_slice(&[0, 0]);
        assert_eq!(
            Open::decode(&b).unwrap().hold_time,
            0,
            "hold time 0 is allowed"
        );

        let mut b = frr_body();
        b[5..9].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(err(&b).subcode, 3);

        let mut b = frr_body();
        b[1..3].copy_from_slice(&[0, 0]);
        assert_eq!(err(&b).subcode, 2);

        // Unknown optional parameter type 1 (authentication, deprecated).
        let b = [4, 0xfd, 0xe9, 0, 9, 10, 0, 0, 1, 3, 1, 1, 0];
        assert_eq!(
            err(&b),
            Notification::open(OpenSubcode::UnsupportedOptionalParameter, vec![])
        );

        // Optional parameter length larger than what is there.
        let b = [4, 0xfd, 0xe9, 0, 9, 10, 0, 0, 1, 5, 2, 2, 2, 0];
        assert_eq!(err(&b).subcode, 0);
        // Parameter length overrunning the area.
        let b = [4, 0xfd, 0xe9, 0, 9, 10, 0, 0, 1, 3, 2, 5, 2];
        assert_eq!(err(&b).subcode, 0);

        // A capability with a wrong length: 2/0 with the capability as data.
        let b = [4, 0xfd, 0xe9, 0, 9, 10, 0, 0, 1, 5, 2, 3, 65, 1, 0];
        assert_eq!(
            err(&b),
            Notification::open(OpenSubcode::Unspecific, vec![65, 1, 0])
        );
        // 4-octet AS capability carrying AS 0.
        let b = [4, 0x5b, 0xa0, 0, 9, 10, 0, 0, 1, 8, 2, 6, 65, 4, 0, 0, 0, 0];
        assert_eq!(err(&b).subcode, 2);
    }
}

//! BGP message header and framing (RFC 4271 section 4.1, error checks of section 6.1), the
//! `Message` enum tying the message types together, and the session's codec options.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                                                               |
//! +                                                               +
//! |                           Marker                              |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::tag;
use nom::sequence::preceded;
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::notification::{ErrorCode, HeaderSubcode, Notification, RouteRefreshSubcode};
use super::open::{Open, OpenError};
use super::parse::{be_u16, be_u8, ok_or};
use super::route_refresh::RouteRefresh;
use super::update::Update;

pub const MARKER: [u8; 16] = [0xff; 16];
pub const HEADER_LEN: usize = 19;
/// RFC 4271 maximum, and always the maximum for OPEN and KEEPALIVE (RFC 8654).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// RFC 8654 maximum once the extended message capability is negotiated.
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// Message type codes.
pub mod msg_type {
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;
}

/// What was negotiated for the session; decided once after the OPEN exchange. ADD-PATH is
/// refused by evpnd, so there is no path identifier to parse.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct DecodeOptions {
    /// Both sides announced the 4-octet AS capability (RFC 6793).
    pub four_octet_as: bool,
    /// Both sides announced the extended message capability (RFC 8654).
    pub extended_message: bool,
}

/// Encoding uses the same negotiated options.
pub type EncodeOptions = DecodeOptions;

impl Default for DecodeOptions {
    /// What FRR and GoBGP always negotiate: 4-octet AS, no extended messages.
    fn default() -> Self {
        Self {
            four_octet_as: true,
            extended_message: false,
        }
    }
}

impl DecodeOptions {
    /// Largest UPDATE/NOTIFICATION/ROUTE-REFRESH allowed on this session.
    pub fn max_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }
}

/// A whole BGP message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
pub enum Message {
    Open(Open),
    /// Check `Update::verdict()` before using it: malformed UPDATEs decode too (RFC 7606).
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// A message that must be answered with a NOTIFICATION (header, OPEN, ROUTE-REFRESH
/// errors). UPDATE errors are not here: they are RFC 7606 verdicts on the `Update`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("connection not synchronized: marker is not all ones")]
    ConnectionNotSynchronized,
    #[error("bad message length {0}")]
    BadLength(u16),
    #[error("bad message type {0}")]
    BadType(u8),
    #[error("OPEN: {0}")]
    Open(#[from] OpenError),
    /// RFC 7313 section 5: a ROUTE-REFRESH whose length is not 23; data is the message.
    #[error("ROUTE-REFRESH of invalid length {}", .0.len())]
    RouteRefreshLength(Vec<u8>),
}

impl MessageError {
    /// The NOTIFICATION to send, with the data RFC 4271 section 6.1 asks for.
    pub fn notification(&self) -> Notification {
        match self {
            Self::ConnectionNotSynchronized => {
                Notification::header(HeaderSubcode::ConnectionNotSynchronized, vec![])
            }
            Self::BadLength(len) => {
                Notification::header(HeaderSubcode::BadMessageLength, len.to_be_bytes().to_vec())
            }
            Self::BadType(t) => Notification::header(HeaderSubcode::BadMessageType, vec![*t]),
            Self::Open(e) => e.notification(),
            Self::RouteRefreshLength(msg) => Notification::new(
                ErrorCode::RouteRefreshMessage,
                RouteRefreshSubcode::InvalidMessageLength.into(),
                msg.clone(),
            ),
        }
    }
}

/// Encoding failures (never caused by peer input).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {len} octets exceeds the maximum {max}")]
    TooLong { len: usize, max: usize },
    #[error("{what} too long for its length field")]
    FieldTooLong { what: &'static str },
}

/// Checks a header and returns (length, type). `max_len` is the session's maximum.
pub fn parse_header(h: &[u8; HEADER_LEN], max_len: usize) -> Result<(usize, u8), MessageError> {
    // Marker(16) Length(2) Type(1). `h` is a whole header, so only the marker can fail.
    let (_, (len, t)) = ok_or(
        preceded(tag(&MARKER[..]), (be_u16, be_u8)).parse(&h[..]),
        || MessageError::ConnectionNotSynchronized,
    )?;
    if usize::from(len) < HEADER_LEN || usize::from(len) > max_len {
        return Err(MessageError::BadLength(len));
    }
    Ok((usize::from(len), t))
}

/// Splits one whole message off the front of `buf` without copying; `None` until the whole
/// message has arrived. Errors on a bad marker or length (the session then sends the
/// NOTIFICATION and closes).
pub fn frame(buf: &mut BytesMut, max_len: usize) -> Result<Option<Bytes>, MessageError> {
    let Some(h) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let (len, _) = parse_header(h, max_len)?;
    if buf.len() < len {
        buf.reserve(len - buf.len());
        return Ok(None);
    }
    Ok(Some(buf.split_to(len).freeze()))
}

fn min_len(t: u8) -> usize {
    match t {
        msg_type::OPEN => 29,
        msg_type::UPDATE => 23,
        msg_type::NOTIFICATION => 21,
        _ => HEADER_LEN,
    }
}

impl Message {
    pub fn type_code(&self) -> u8 {
        match self {
            Self::Open(_) => msg_type::OPEN,
            Self::Update(_) => msg_type::UPDATE,
            Self::Notification(_) => msg_type::NOTIFICATION,
            Self::Keepalive => msg_type::KEEPALIVE,
            Self::RouteRefresh(_) => msg_type::ROUTE_REFRESH,
        }
    }

    /// Decodes one whole message, marker included.
    pub fn decode(msg: &[u8], opts: &DecodeOptions) -> Result<Message, MessageError> {
        let Some(h) = msg.first_chunk::<HEADER_LEN>() else {
            // Not even a header: the length we were given is the one that is wrong.
            return Err(MessageError::BadLength(
                msg.len().min(usize::from(u16::MAX)) as u16,
            ));
        };
        let (len, t) = parse_header(h, opts.max_len())?;
        let bad_len = || MessageError::BadLength(len as u16);
        if len != msg.len() || len < min_len(t) {
            return Err(bad_len());
        }
        let body = &msg[HEADER_LEN..];
        match t {
            msg_type::OPEN => {
                if len > MAX_MESSAGE_LEN {
                    return Err(bad_len());
                }
                Ok(Message::Open(Open::decode(body)?))
            }
            msg_type::UPDATE => Ok(Message::Update(Update::decode(body, opts))),
            msg_type::NOTIFICATION => Notification::decode(body)
                .map(Message::Notification)
                .ok_or_else(bad_len),
            msg_type::KEEPALIVE => {
                if len != HEADER_LEN {
                    return Err(bad_len());
                }
                Ok(Message::Keepalive)
            }
            msg_type::ROUTE_REFRESH => RouteRefresh::decode(body)
                .map(Message::RouteRefresh)
                .ok_or_else(|| MessageError::RouteRefreshLength(msg.to_vec())),
            _ => Err(MessageError::BadType(t)),
        }
    }

    /// Appends the whole message (header included). Fails, leaving `out` as it was, when the
    /// message exceeds the session maximum (4096 for OPEN and KEEPALIVE regardless).
    pub fn encode(&self, opts: &EncodeOptions, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        out.put_slice(&MARKER);
        out.put_u16(0);
        out.put_u8(self.type_code());
        let res = match self {
            Self::Open(o) => o.encode(out),
            Self::Update(u) => u.encode(out, opts),
            Self::Notification(n) => {
                n.encode(out);
                Ok(())
            }
            Self::Keepalive => Ok(()),
            Self::RouteRefresh(r) => {
                r.encode(out);
                Ok(())
            }
        };
        if let Err(e) = res {
            out.truncate(start);
            return Err(e);
        }
        let len = out.len() - start;
        let max = match self {
            Self::Open(_) | Self::Keepalive => MAX_MESSAGE_LEN,
            _ => opts.max_len(),
        };
        if len > max {
            out.truncate(start);
            return Err(EncodeError::TooLong { len, max });
        }
        out[start + 16..start + 18].copy_from_slice(&(len as u16).to_be_bytes());
        Ok(())
    }

    /// `encode` into a fresh buffer.
    pub fn to_bytes(&self, opts: &EncodeOptions) -> Result<BytesMut, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(opts, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::afi::AfiSafi;
    use crate::packet::capability::Capability;
    use crate::packet::route_refresh::RouteRefreshSubtype;
    use std::net::Ipv4Addr;

    fn hdr(len: u16, t: u8) -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&len.to_be_bytes());
        v.push(t);
        v
    }

    fn both_ways(m: Message, wire: &[u8]) {
        let opts = DecodeOptions::default();
        assert_eq!(&m.to_bytes(&opts).unwrap()[..], wire, "{m:?}");
        assert_eq!(Message::decode(wire, &opts).unwrap(), m);
    }

    #[test]
    fn keepalive() {
        both_ways(Message::Keepalive, &hdr(19, 4));
    }

    #[test]
    fn notification() {
        let mut wire = hdr(23, 3);
        wire.extend_from_slice(&[6, 2, 1, b'x']);
        both_ways(
            Message::Notification(Notification::cease_with_communication(false, "x")),
            &wire,
        );
        let mut wire = hdr(21, 3);
        wire.extend_from_slice(&[4, 0]);
        both_ways(
            Message::Notification(Notification::hold_timer_expired()),
            &wire,
        );
    }

    #[test]
    fn route_refresh_normal_borr_eorr() {
        for (st, b) in [
            (RouteRefreshSubtype::Normal, 0),
            (RouteRefreshSubtype::BeginningOfRouteRefresh, 1),
            (RouteRefreshSubtype::EndOfRouteRefresh, 2),
        ] {
            let mut wire = hdr(23, 5);
            wire.extend_from_slice(&[0, 25, b, 70]);
            both_ways(
                Message::RouteRefresh(RouteRefresh::new(AfiSafi::L2VPN_EVPN, st)),
                &wire,
            );
        }
        // RFC 7313 section 5: wrong length -> 7/1 with the whole message as data.
        let mut wire = hdr(24, 5);
        wire.extend_from_slice(&[0, 25, 0, 70, 0]);
        let e = Message::decode(&wire, &DecodeOptions::default()).unwrap_err();
        let n = e.notification();
        assert_eq!((n.code, n.subcode), (7, 1));
        assert_eq!(n.data, wire);
    }

    #[test]
    fn open() {
        let open = Open::new(
            65001,
            180,
            Ipv4Addr::new(10, 0, 0, 1),
            vec![
                Capability::Multiprotocol(AfiSafi::L2VPN_EVPN),
                Capability::FourOctetAs(65001),
            ],
        );
        let mut wire = hdr(43, 1);
        wire.extend_from_slice(&[4, 0xfd, 0xe9, 0, 180, 10, 0, 0, 1, 14, 2, 12]);
        wire.extend_from_slice(&[1, 4, 0, 25, 0, 70, 65, 4, 0, 0, 0xfd, 0xe9]);
        both_ways(Message::Open(open), &wire);
    }

    #[test]
    fn empty_update_is_ipv4_end_of_rib() {
        let mut wire = hdr(23, 2);
        wire.extend_from_slice(&[0, 0, 0, 0]);
        both_ways(
            Message::Update(Update::end_of_rib(AfiSafi::IPV4_UNICAST)),
            &wire,
        );
        let Message::Update(u) = Message::decode(&wire, &DecodeOptions::default()).unwrap() else {
            panic!("not an update")
        };
        assert_eq!(u.is_end_of_rib(), Some(AfiSafi::IPV4_UNICAST));
    }

    #[test]
    fn header_errors_give_rfc4271_6_1_notifications() {
        let opts = DecodeOptions::default();
        let n = |w: &[u8]| Message::decode(w, &opts).unwrap_err().notification();
        let mut w = hdr(19, 4);
        w[3] = 0;
        assert_eq!(
            n(&w),
            Notification::header(HeaderSubcode::ConnectionNotSynchronized, vec![])
        );
        assert_eq!((n(&w).code, n(&w).subcode), (1, 1));
        // Length below 19, above 4096, not the size of the message.
        for len in [18u16, 4097] {
            let w = hdr(len, 4);
            assert_eq!(
                n(&w),
                Notification::header(HeaderSubcode::BadMessageLength, len.to_be_bytes().to_vec())
            );
        }
        // KEEPALIVE must be 19, OPEN at least 29, UPDATE 23, NOTIFICATION 21.
        for (t, len) in [(4u8, 20u16), (1, 28), (2, 22), (3, 20)] {
            let mut w = hdr(len, t);
            w.resize(usize::from(len), 0);
            let got = n(&w);
            assert_eq!(
                (got.code, got.subcode, got.data),
                (1, 2, len.to_be_bytes().to_vec()),
                "type {t}"
            );
        }
        // Bad type: data is the type octet.
        assert_eq!(
            n(&hdr(19, 9)),
            Notification::header(HeaderSubcode::BadMessageType, vec![9])
        );
        assert_eq!(n(&hdr(19, 0)).data, vec![0]);
    }

    #[test]
    fn extended_message_limits() {
        let big = {
            let mut w = hdr(5000, 2);
            w.extend_from_slice(&[0, 0, 0, 0]);
            w.resize(5000, 0);
            // NLRI of /0 prefixes fills the rest.
            w
        };
        let plain = DecodeOptions::default();
        let ext = DecodeOptions {
            extended_message: true,
            ..plain
        };
        assert!(matches!(
            Message::decode(&big, &plain),
            Err(MessageError::BadLength(5000))
        ));
        let Ok(Message::Update(u)) = Message::decode(&big, &ext) else {
            panic!("extended UPDATE refused")
        };
        assert_eq!(u.nlri.len(), 5000 - 23);
        // OPEN stays at 4096 even with extended messages.
        let mut open = hdr(5000, 1);
        open.resize(5000, 0);
        assert!(matches!(
            Message::decode(&open, &ext),
            Err(MessageError::BadLength(5000))
        ));
        // Encoding: 4096 max unless negotiated.
        let m = Message::Update(u);
        assert_eq!(
            m.to_bytes(&plain).unwrap_err(),
            EncodeError::TooLong {
                len: 5000,
                max: 4096
            }
        );
        assert_eq!(&m.to_bytes(&ext).unwrap()[..], &big[..]);
    }

    #[test]
    fn framing_splits_whole_messages() {
        let mut buf = BytesMut::new();
        let ka = hdr(19, 4);
        buf.extend_from_slice(&ka);
        buf.extend_from_slice(&ka[..10]);
        let first = frame(&mut buf, MAX_MESSAGE_LEN).unwrap().unwrap();
        assert_eq!(&first[..], &ka[..]);
        assert_eq!(frame(&mut buf, MAX_MESSAGE_LEN).unwrap(), None);
        buf.extend_from_slice(&ka[10..]);
        assert_eq!(
            &frame(&mut buf, MAX_MESSAGE_LEN).unwrap().unwrap()[..],
            &ka[..]
        );
        assert!(buf.is_empty());
        assert_eq!(frame(&mut buf, MAX_MESSAGE_LEN).unwrap(), None);
        let mut bad = BytesMut::from(&hdr(4097, 2)[..]);
        assert_eq!(
            frame(&mut bad, MAX_MESSAGE_LEN),
            Err(MessageError::BadLength(4097))
        );
        let mut bad = BytesMut::from(&[0u8; 19][..]);
        assert_eq!(
            frame(&mut bad, MAX_MESSAGE_LEN),
            Err(MessageError::ConnectionNotSynchronized)
        );
    }

    #[test]
    fn json_shape() {
        let j = serde_json::to_string(&Message::Keepalive).unwrap();
        assert_eq!(j, r#"{"type":"keepalive"}"#);
        let m = Message::RouteRefresh(RouteRefresh::new(
            AfiSafi::L2VPN_EVPN,
            RouteRefreshSubtype::Normal,
        ));
        let j = serde_json::to_string(&m).unwrap();
        assert_eq!(
            j,
            r#"{"type":"route_refresh","body":{"family":{"afi":"l2vpn","safi":"evpn"},"subtype":"normal"}}"#
        );
        assert_eq!(serde_json::from_str::<Message>(&j).unwrap(), m);
    }
}

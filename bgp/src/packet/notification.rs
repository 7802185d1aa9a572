//! NOTIFICATION message (RFC 4271 section 4.5) with the error codes and subcodes of RFC 4271
//! section 6, RFC 4486 / RFC 8538 (Cease), RFC 6608 (FSM), RFC 7313 (ROUTE-REFRESH) and the
//! shutdown communication of RFC 9003.

use std::fmt;

use bytes::{BufMut, BytesMut};
use nom::combinator::rest;
use nom::Parser;
use serde::{Deserialize, Serialize};

use super::afi::{Afi, AfiSafi, Safi};
use super::parse::{be_u8, PResult};

/// Serializes raw octets as a lowercase hex string (readable in `evpnctl decode --json`).
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn to_hex(bytes: &[u8]) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    pub fn from_hex(s: &str) -> Option<Vec<u8>> {
        if !s.len().is_multiple_of(2) {
            return None;
        }
        (0..s.len())
            .step_by(2)
            .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect()
    }

    pub fn serialize<S: Serializer, T: AsRef<[u8]>>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_hex(v.as_ref()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        from_hex(&s).ok_or_else(|| serde::de::Error::custom("invalid hex string"))
    }
}

/// Declares a `u8`-coded enum with the RFC names, `from_u8` and `name`.
macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $n:literal => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $v = $n),+ }

        impl $name {
            pub fn from_u8(v: u8) -> Option<Self> {
                match v { $($n => Some(Self::$v),)+ _ => None }
            }
            /// The name the RFC gives it.
            pub fn name(self) -> &'static str {
                match self { $(Self::$v => $text),+ }
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 { v as u8 }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.name()) }
        }
    };
}

code_enum!(
    /// Error codes (RFC 4271 section 4.5, RFC 7313, RFC 9687).
    ErrorCode {
        MessageHeader = 1 => "Message Header Error",
        OpenMessage = 2 => "OPEN Message Error",
        UpdateMessage = 3 => "UPDATE Message Error",
        HoldTimerExpired = 4 => "Hold Timer Expired",
        FiniteStateMachine = 5 => "Finite State Machine Error",
        Cease = 6 => "Cease",
        RouteRefreshMessage = 7 => "ROUTE-REFRESH Message Error",
        SendHoldTimerExpired = 8 => "Send Hold Timer Expired",
    }
);

code_enum!(
    /// Message Header Error subcodes (RFC 4271 section 6.1).
    HeaderSubcode {
        ConnectionNotSynchronized = 1 => "Connection Not Synchronized",
        BadMessageLength = 2 => "Bad Message Length",
        BadMessageType = 3 => "Bad Message Type",
    }
);

code_enum!(
    /// OPEN Message Error subcodes (RFC 4271 section 6.2, RFC 5492, RFC 9234).
    OpenSubcode {
        /// Subcode 0: no specific subcode (used for a malformed optional parameter area or
        /// capability, as FRR does).
        Unspecific = 0 => "Unspecific",
        UnsupportedVersionNumber = 1 => "Unsupported Version Number",
        BadPeerAs = 2 => "Bad Peer AS",
        BadBgpIdentifier = 3 => "Bad BGP Identifier",
        UnsupportedOptionalParameter = 4 => "Unsupported Optional Parameter",
        UnacceptableHoldTime = 6 => "Unacceptable Hold Time",
        UnsupportedCapability = 7 => "Unsupported Capability",
        RoleMismatch = 11 => "Role Mismatch",
    }
);

code_enum!(
    /// UPDATE Message Error subcodes (RFC 4271 section 6.3).
    UpdateSubcode {
        MalformedAttributeList = 1 => "Malformed Attribute List",
        UnrecognizedWellKnownAttribute = 2 => "Unrecognized Well-known Attribute",
        MissingWellKnownAttribute = 3 => "Missing Well-known Attribute",
        AttributeFlagsError = 4 => "Attribute Flags Error",
        AttributeLengthError = 5 => "Attribute Length Error",
        InvalidOriginAttribute = 6 => "Invalid ORIGIN Attribute",
        InvalidNextHopAttribute = 8 => "Invalid NEXT_HOP Attribute",
        OptionalAttributeError = 9 => "Optional Attribute Error",
        InvalidNetworkField = 10 => "Invalid Network Field",
        MalformedAsPath = 11 => "Malformed AS_PATH",
    }
);

code_enum!(
    /// Finite State Machine Error subcodes (RFC 6608).
    FsmSubcode {
        Unspecified = 0 => "Unspecified Error",
        UnexpectedInOpenSent = 1 => "Receive Unexpected Message in OpenSent State",
        UnexpectedInOpenConfirm = 2 => "Receive Unexpected Message in OpenConfirm State",
        UnexpectedInEstablished = 3 => "Receive Unexpected Message in Established State",
    }
);

code_enum!(
    /// Cease subcodes (RFC 4486, RFC 8538, RFC 9384).
    CeaseSubcode {
        MaximumPrefixesReached = 1 => "Maximum Number of Prefixes Reached",
        AdministrativeShutdown = 2 => "Administrative Shutdown",
        PeerDeconfigured = 3 => "Peer De-configured",
        AdministrativeReset = 4 => "Administrative Reset",
        ConnectionRejected = 5 => "Connection Rejected",
        OtherConfigurationChange = 6 => "Other Configuration Change",
        ConnectionCollisionResolution = 7 => "Connection Collision Resolution",
        OutOfResources = 8 => "Out of Resources",
        HardReset = 9 => "Hard Reset",
        BfdDown = 10 => "BFD Down",
    }
);

code_enum!(
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313 section 5).
    RouteRefreshSubcode {
        InvalidMessageLength = 1 => "Invalid Message Length",
    }
);

/// A NOTIFICATION. Code and subcode are kept as numbers so that any received value
/// round-trips; the typed views are `error_code()` and `subcode_name()`.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Error code    | Error subcode |   Data (variable)             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
}

/// Longest RFC 9003 shutdown communication, in octets.
pub const MAX_SHUTDOWN_COMMUNICATION: usize = 255;

impl Notification {
    pub fn new(code: ErrorCode, subcode: u8, data: Vec<u8>) -> Self {
        Self {
            code: code.into(),
            subcode,
            data,
        }
    }

    pub fn header(sub: HeaderSubcode, data: Vec<u8>) -> Self {
        Self::new(ErrorCode::MessageHeader, sub.into(), data)
    }

    pub fn open(sub: OpenSubcode, data: Vec<u8>) -> Self {
        Self::new(ErrorCode::OpenMessage, sub.into(), data)
    }

    pub fn update(sub: UpdateSubcode, data: Vec<u8>) -> Self {
        Self::new(ErrorCode::UpdateMessage, sub.into(), data)
    }

    pub fn fsm(sub: FsmSubcode) -> Self {
        Self::new(ErrorCode::FiniteStateMachine, sub.into(), Vec::new())
    }

    pub fn hold_timer_expired() -> Self {
        Self::new(ErrorCode::HoldTimerExpired, 0, Vec::new())
    }

    /// RFC 9687: the peer did not read what we sent for the send hold time.
    pub fn send_hold_timer_expired() -> Self {
        Self::new(ErrorCode::SendHoldTimerExpired, 0, Vec::new())
    }

    pub fn cease(sub: CeaseSubcode, data: Vec<u8>) -> Self {
        Self::new(ErrorCode::Cease, sub.into(), data)
    }

    /// Cease / Maximum Number of Prefixes Reached with the RFC 4486 data: AFI, SAFI, limit.
    pub fn cease_max_prefixes(family: AfiSafi, limit: u32) -> Self {
        let mut data = Vec::with_capacity(7);
        data.extend_from_slice(&family.afi.to_u16().to_be_bytes());
        data.push(family.safi.to_u8());
        data.extend_from_slice(&limit.to_be_bytes());
        Self::cease(CeaseSubcode::MaximumPrefixesReached, data)
    }

    /// Cease / Administrative Shutdown (or Reset when `reset`), with an RFC 9003 shutdown
    /// communication. Text longer than 255 octets is cut at a character boundary.
    pub fn cease_with_communication(reset: bool, text: &str) -> Self {
        let mut end = text.len().min(MAX_SHUTDOWN_COMMUNICATION);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let text = text.get(..end).unwrap_or_default();
        let mut data = Vec::with_capacity(1 + text.len());
        if !text.is_empty() {
            data.push(text.len() as u8);
            data.extend_from_slice(text.as_bytes());
        }
        let sub = if reset {
            CeaseSubcode::AdministrativeReset
        } else {
            CeaseSubcode::AdministrativeShutdown
        };
        Self::cease(sub, data)
    }

    /// Cease / Hard Reset (RFC 8538): the data carries the code, subcode and data of the
    /// reason.
    pub fn hard_reset(reason: &Notification) -> Self {
        let mut data = Vec::with_capacity(2 + reason.data.len());
        data.push(reason.code);
        data.push(reason.subcode);
        data.extend_from_slice(&reason.data);
        Self::cease(CeaseSubcode::HardReset, data)
    }

    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_u8(self.code)
    }

    pub fn cease_subcode(&self) -> Option<CeaseSubcode> {
        (self.code == ErrorCode::Cease as u8)
            .then(|| CeaseSubcode::from_u8(self.subcode))
            .flatten()
    }

    /// The RFC name of the subcode, when code and subcode are known.
    pub fn subcode_name(&self) -> Option<&'static str> {
        let s = self.subcode;
        match self.error_code()? {
            ErrorCode::MessageHeader => HeaderSubcode::from_u8(s).map(HeaderSubcode::name),
            ErrorCode::OpenMessage => OpenSubcode::from_u8(s).map(OpenSubcode::name),
            ErrorCode::UpdateMessage => UpdateSubcode::from_u8(s).map(UpdateSubcode::name),
            ErrorCode::FiniteStateMachine => FsmSubcode::from_u8(s).map(FsmSubcode::name),
            ErrorCode::Cease => CeaseSubcode::from_u8(s).map(CeaseSubcode::name),
            ErrorCode::RouteRefreshMessage => {
                RouteRefreshSubcode::from_u8(s).map(RouteRefreshSubcode::name)
            }
            ErrorCode::HoldTimerExpired | ErrorCode::SendHoldTimerExpired => {
                (s == 0).then_some("Unspecific")
            }
        }
    }

    /// RFC 4486 data of Maximum Number of Prefixes Reached: (AFI/SAFI, limit).
    pub fn max_prefixes(&self) -> Option<(AfiSafi, u32)> {
        if self.cease_subcode()? != CeaseSubcode::MaximumPrefixesReached {
            return None;
        }
        let d: &[u8; 7] = self.data.as_slice().try_into().ok()?;
        Some((
            AfiSafi::new(
                Afi::from_u16(u16::from_be_bytes([d[0], d[1]])),
                Safi::from_u8(d[2]),
            ),
            u32::from_be_bytes([d[3], d[4], d[5], d[6]]),
        ))
    }

    /// RFC 9003 shutdown communication of an Administrative Shutdown/Reset, when present
    /// and well-formed UTF-8.
    pub fn shutdown_communication(&self) -> Option<&str> {
        match self.cease_subcode()? {
            CeaseSubcode::AdministrativeShutdown | CeaseSubcode::AdministrativeReset => {}
            _ => return None,
        }
        let (&len, rest) = self.data.split_first()?;
        std::str::from_utf8(rest.get(..usize::from(len))?).ok()
    }

    /// The reason carried by a Hard Reset (RFC 8538).
    pub fn hard_reset_reason(&self) -> Option<Notification> {
        if self.cease_subcode()? != CeaseSubcode::HardReset {
            return None;
        }
        match self.data.as_slice() {
            [code, subcode, data @ ..] => Some(Notification {
                code: *code,
                subcode: *subcode,
                data: data.to_vec(),
            }),
            _ => None,
        }
    }

    /// Decodes the message body (after the 19-octet header); the caller has checked that
    /// it holds at least the two code octets.
    pub fn decode(body: &[u8]) -> Option<Self> {
        let r: PResult<'_, _> = (be_u8, be_u8, rest).parse(body);
        let (_, (code, subcode, data)) = r.ok()?;
        Some(Self {
            code,
            subcode,
            data: data.to_vec(),
        })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(2 + self.data.len());
        out.put_u8(self.code);
        out.put_u8(self.subcode);
        out.put_slice(&self.data);
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error_code() {
            Some(c) => write!(f, "{c}")?,
            None => write!(f, "error code {}", self.code)?,
        }
        match self.subcode_name() {
            Some(n) => write!(f, " / {n}")?,
            None => write!(f, " / subcode {}", self.subcode)?,
        }
        if let Some(text) = self.shutdown_communication() {
            write!(f, ": \"{}\"", text.escape_debug())?;
        } else if let Some((family, limit)) = self.max_prefixes() {
            write!(f, ": {family} limit {limit}")?;
        } else if let Some(reason) = self.hard_reset_reason() {
            write!(f, ": ({reason})")?;
        } else if !self.data.is_empty() {
            write!(f, " (data {})", hex_bytes::to_hex(&self.data))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trip() {
        let n = Notification::update(UpdateSubcode::MissingWellKnownAttribute, vec![1]);
        let mut out = BytesMut::new();
        n.encode(&mut out);
        assert_eq!(&out[..], &[3, 3, 1]);
        assert_eq!(Notification::decode(&out), Some(n.clone()));
        assert_eq!(
            n.to_string(),
            "UPDATE Message Error / Missing Well-known Attribute (data 01)"
        );
        assert_eq!(Notification::decode(&[6]), None);
    }

    #[test]
    fn cease_forms() {
        let n = Notification::cease_max_prefixes(AfiSafi::L2VPN_EVPN, 1000);
        assert_eq!((n.code, n.subcode), (6, 1));
        assert_eq!(n.data, [0, 25, 70, 0, 0, 0x03, 0xe8]);
        assert_eq!(n.max_prefixes(), Some((AfiSafi::L2VPN_EVPN, 1000)));
        assert_eq!(
            n.to_string(),
            "Cease / Maximum Number of Prefixes Reached: l2vpn/evpn limit 1000"
        );

        let s = Notification::cease_with_communication(false, "maintenance");
        assert_eq!((s.code, s.subcode), (6, 2));
        assert_eq!(s.data[0], 11);
        assert_eq!(s.shutdown_communication(), Some("maintenance"));
        let r = Notification::cease_with_communication(true, &"é".repeat(200));
        assert_eq!(r.subcode, 4);
        assert_eq!(r.data[0], 254, "cut at a char boundary under 255");
        assert_eq!(r.shutdown_communication().map(str::len), Some(254));
        assert_eq!(Notification::cease_with_communication(false, "").data, b"");

        let h = Notification::hard_reset(&Notification::hold_timer_expired());
        assert_eq!(h.data, [4, 0]);
        assert_eq!(
            h.hard_reset_reason(),
            Some(Notification::hold_timer_expired())
        );
        assert_eq!(
            h.to_string(),
            "Cease / Hard Reset: (Hold Timer Expired / Unspecific)"
        );
        for (sub, name) in [
            (3, "Peer De-configured"),
            (5, "Connection Rejected"),
            (6, "Other Configuration Change"),
            (7, "Connection Collision Resolution"),
            (8, "Out of Resources"),
        ] {
            let n = Notification {
                code: 6,
                subcode: sub,
                data: vec![],
            };
            assert_eq!(n.subcode_name(), Some(name));
        }
    }

    #[test]
    fn unknown_codes_and_json() {
        let n = Notification {
            code: 99,
            subcode: 7,
            data: vec![0xab],
        };
        assert_eq!(n.to_string(), "error code 99 / subcode 7 (data ab)");
        let j = serde_json::to_string(&n).unwrap();
        assert_eq!(j, r#"{"code":99,"subcode":7,"data":"ab"}"#);
        assert_eq!(serde_json::from_str::<Notification>(&j).unwrap(), n);
    }
}

//! Small value types shared by several attributes and NLRI: MAC addresses, route
//! distinguishers. Each prints the way operators read it (FRR's notation) and
//! serializes to that same string.

use std::fmt;
use std::str::FromStr;

/// Implements `Serialize`/`Deserialize` through `Display`/`FromStr`, so JSON shows the
/// operator's notation (`aa:bb:cc:dd:ee:ff`, `65000:100`).
macro_rules! serde_via_str {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_via_str;

/// A 48-bit IEEE MAC address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    pub const ZERO: MacAddress = MacAddress([0; 6]);
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error parsing a value type from its text form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {input:?}")]
pub struct ParseValueError {
    pub what: &'static str,
    pub input: String,
}

impl ParseValueError {
    pub(crate) fn new(what: &'static str, input: &str) -> Self {
        Self {
            what,
            input: input.to_string(),
        }
    }
}

impl FromStr for MacAddress {
    type Err = ParseValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in out.iter_mut() {
            let p = parts
                .next()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| ParseValueError::new("MAC address", s))?;
            *b = u8::from_str_radix(p, 16).map_err(|_| ParseValueError::new("MAC address", s))?;
        }
        if parts.next().is_some() {
            return Err(ParseValueError::new("MAC address", s));
        }
        Ok(MacAddress(out))
    }
}
serde_via_str!(MacAddress);

/// Route distinguisher (RFC 4364 section 4.2): 2-byte type, then a 6-byte value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum RouteDistinguisher {
    /// Type 0: 2-octet ASN, 4-octet assigned number. Printed `65000:100`.
    As2 { asn: u16, number: u32 },
    /// Type 1: IPv4 address, 2-octet assigned number. Printed `10.0.0.1:2`.
    Ipv4 {
        addr: std::net::Ipv4Addr,
        number: u16,
    },
    /// Type 2: 4-octet ASN, 2-octet assigned number. Printed `4200000000:5`.
    As4 { asn: u32, number: u16 },
    /// Any other type, kept as received.
    Other { rd_type: u16, value: [u8; 6] },
}

impl RouteDistinguisher {
    pub fn from_bytes(b: [u8; 8]) -> Self {
        let t = u16::from_be_bytes([b[0], b[1]]);
        match t {
            0 => Self::As2 {
                asn: u16::from_be_bytes([b[2], b[3]]),
                number: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            },
            1 => Self::Ipv4 {
                addr: std::net::Ipv4Addr::new(b[2], b[3], b[4], b[5]),
                number: u16::from_be_bytes([b[6], b[7]]),
            },
            2 => Self::As4 {
                asn: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
                number: u16::from_be_bytes([b[6], b[7]]),
            },
            _ => Self::Other {
                rd_type: t,
                value: [b[2], b[3], b[4], b[5], b[6], b[7]],
            },
        }
    }

    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        match *self {
            Self::As2 { asn, number } => {
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..8].copy_from_slice(&number.to_be_bytes());
            }
            Self::Ipv4 { addr, number } => {
                b[1] = 1;
                b[2..6].copy_from_slice(&addr.octets());
                b[6..8].copy_from_slice(&number.to_be_bytes());
            }
            Self::As4 { asn, number } => {
                b[1] = 2;
                b[2..6].copy_from_slice(&asn.to_be_bytes());
                b[6..8].copy_from_slice(&number.to_be_bytes());
            }
            Self::Other { rd_type, value } => {
                b[0..2].copy_from_slice(&rd_type.to_be_bytes());
                b[2..8].copy_from_slice(&value);
            }
        }
        b
    }
}

impl fmt::Display for RouteDistinguisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::As2 { asn, number } => write!(f, "{asn}:{number}"),
            Self::Ipv4 { addr, number } => write!(f, "{addr}:{number}"),
            Self::As4 { asn, number } => write!(f, "{asn}:{number}"),
            Self::Other { rd_type, value } => {
                // `0x` marks the raw value so the text parses back to the same RD.
                write!(f, "{rd_type}:0x")?;
                for b in value {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for RouteDistinguisher {
    type Err = ParseValueError;
    /// Accepts `ASN:N` (type 0 when ASN fits 16 bits, else type 2) and `A.B.C.D:N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseValueError::new("route distinguisher", s);
        let (admin, num) = s.rsplit_once(':').ok_or_else(err)?;
        if let Some(hex) = num.strip_prefix("0x") {
            let rd_type: u16 = admin.parse().map_err(|_| err())?;
            let mut value = [0u8; 6];
            if hex.len() != 12 || rd_type <= 2 {
                return Err(err());
            }
            for (i, b) in value.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| err())?;
            }
            return Ok(Self::Other { rd_type, value });
        }
        if let Ok(addr) = admin.parse::<std::net::Ipv4Addr>() {
            let number = num.parse().map_err(|_| err())?;
            return Ok(Self::Ipv4 { addr, number });
        }
        let asn: u32 = admin.parse().map_err(|_| err())?;
        if let Ok(asn16) = u16::try_from(asn) {
            let number = num.parse().map_err(|_| err())?;
            Ok(Self::As2 { asn: asn16, number })
        } else {
            let number = num.parse().map_err(|_| err())?;
            Ok(Self::As4 { asn, number })
        }
    }
}
serde_via_str!(RouteDistinguisher);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_text_round_trip() {
        let m: MacAddress = "aa:bb:cc:00:11:ff".parse().unwrap();
        assert_eq!(m.0, [0xaa, 0xbb, 0xcc, 0x00, 0x11, 0xff]);
        assert_eq!(m.to_string(), "aa:bb:cc:00:11:ff");
        assert!("aa:bb:cc:00:11".parse::<MacAddress>().is_err());
        assert!("aa:bb:cc:00:11:ff:00".parse::<MacAddress>().is_err());
        assert!("aa:bb:cc:00:11:fg".parse::<MacAddress>().is_err());
    }

    #[test]
    fn rd_forms() {
        for (text, bytes) in [
            ("65000:100", [0, 0, 0xfd, 0xe8, 0, 0, 0, 100]),
            ("10.0.0.1:2", [0, 1, 10, 0, 0, 1, 0, 2]),
            ("4200000000:5", [0, 2, 0xfa, 0x56, 0xea, 0, 0, 5]),
        ] {
            let rd: RouteDistinguisher = text.parse().unwrap();
            assert_eq!(rd.to_bytes(), bytes, "{text}");
            assert_eq!(RouteDistinguisher::from_bytes(bytes), rd);
            assert_eq!(rd.to_string(), text);
        }
        let other = RouteDistinguisher::from_bytes([0, 9, 1, 2, 3, 4, 5, 6]);
        assert_eq!(other.to_bytes(), [0, 9, 1, 2, 3, 4, 5, 6]);
        assert_eq!(other.to_string(), "9:0x010203040506");
        assert_eq!("9:0x010203040506".parse::<RouteDistinguisher>(), Ok(other));
        assert!("1:0x010203040506".parse::<RouteDistinguisher>().is_err());
        assert!("9:0x0102".parse::<RouteDistinguisher>().is_err());
    }
}

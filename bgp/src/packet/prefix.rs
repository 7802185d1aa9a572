//! IP prefixes as carried in the UPDATE's Withdrawn Routes and NLRI fields (RFC 4271 section
//! 4.3) and in MP_REACH/MP_UNREACH for IPv4/IPv6 unicast (RFC 4760 section 5), with the
//! syntax checks of RFC 7606 section 5.3.
//!
//! ```text
//! +---------------------------+
//! |   Length (1 octet)        |   prefix length in bits
//! +---------------------------+
//! |   Prefix (variable)       |   ceil(Length / 8) octets
//! +---------------------------+
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::Parser;

use super::parse::{be_u8, ok_or};
use super::types::{serde_via_str, ParseValueError};

/// Why a prefix list could not be parsed (RFC 7606 section 5.3).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("prefix length {len} exceeds {max}")]
    LengthTooLong { len: u8, max: u8 },
    #[error("prefix /{len} needs {needed} octets, {available} left")]
    Truncated {
        len: u8,
        needed: usize,
        available: usize,
    },
}

macro_rules! prefix_type {
    ($name:ident, $addr:ty, $bytes:expr, $max:expr, $doc:expr) => {
        #[doc = $doc]
        ///
        /// Host bits past the length are kept as received, so a re-encode is byte-identical.
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name {
            addr: $addr,
            len: u8,
        }

        impl $name {
            pub const MAX_LEN: u8 = $max;

            /// A prefix; `None` when `len` exceeds the address width.
            pub fn new(addr: $addr, len: u8) -> Option<Self> {
                (len <= $max).then_some(Self { addr, len })
            }

            pub fn addr(&self) -> $addr {
                self.addr
            }

            pub fn len(&self) -> u8 {
                self.len
            }

            /// True for the default route (`/0`).
            pub fn is_empty(&self) -> bool {
                self.len == 0
            }

            /// Octets this prefix takes on the wire, length octet included.
            pub fn encoded_len(&self) -> usize {
                1 + usize::from(self.len).div_ceil(8)
            }

            pub fn encode(&self, out: &mut BytesMut) {
                let n = usize::from(self.len).div_ceil(8);
                out.put_u8(self.len);
                out.put_slice(&self.addr.octets()[..n]);
            }

            /// Parses one prefix from the front of `data`; returns it and the octets used.
            pub fn decode_one(data: &[u8]) -> Result<(Self, usize), PrefixError> {
                let (rest, len) = ok_or(be_u8(data), || PrefixError::Truncated {
                    len: 0,
                    needed: 1,
                    available: 0,
                })?;
                if len > $max {
                    return Err(PrefixError::LengthTooLong { len, max: $max });
                }
                let n = usize::from(len).div_ceil(8);
                let (_, bytes) = ok_or(take(n).parse(rest), || PrefixError::Truncated {
                    len,
                    needed: n,
                    available: rest.len(),
                })?;
                let mut octets = [0u8; $bytes];
                octets[..n].copy_from_slice(bytes);
                Ok((
                    Self {
                        addr: <$addr>::from(octets),
                        len,
                    },
                    1 + n,
                ))
            }

            /// Parses a whole field of prefixes; any trailing octet that is not a whole
            /// prefix is an error (RFC 7606 section 5.3).
            pub fn decode_list(mut data: &[u8]) -> Result<Vec<Self>, PrefixError> {
                // Typical prefixes take 4 (IPv4 /24) or 9 (IPv6 /64) octets.
                let mut out = Vec::with_capacity(data.len() / ($bytes + 1) + 1);
                while !data.is_empty() {
                    let (p, used) = Self::decode_one(data)?;
                    out.push(p);
                    data = data.get(used..).unwrap_or_default();
                }
                Ok(out)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}/{}", self.addr, self.len)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = ParseValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = || ParseValueError::new(stringify!($name), s);
                let (a, l) = s.split_once('/').ok_or_else(err)?;
                let addr: $addr = a.parse().map_err(|_| err())?;
                let len: u8 = l.parse().map_err(|_| err())?;
                Self::new(addr, len).ok_or_else(err)
            }
        }
        serde_via_str!($name);
    };
}

prefix_type!(Ipv4Prefix, Ipv4Addr, 4, 32, "An IPv4 prefix.");
prefix_type!(Ipv6Prefix, Ipv6Addr, 16, 128, "An IPv6 prefix.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_list_round_trip() {
        let wire = [24, 10, 0, 1, 32, 192, 0, 2, 1, 8, 10];
        let list = Ipv4Prefix::decode_list(&wire).unwrap();
        let text: Vec<String> = list.iter().map(|p| p.to_string()).collect();
        assert_eq!(text, ["10.0.1.0/24", "192.0.2.1/32", "10.0.0.0/8"]);
        let mut out = BytesMut::new();
        for p in &list {
            p.encode(&mut out);
        }
        assert_eq!(&out[..], &wire);
    }

    #[test]
    fn default_route_and_ipv6() {
        let list = Ipv4Prefix::decode_list(&[0]).unwrap();
        assert_eq!(list[0].to_string(), "0.0.0.0/0");
        assert!(list[0].is_empty());
        let wire = [64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1];
        let list = Ipv6Prefix::decode_list(&wire).unwrap();
        assert_eq!(list[0].to_string(), "2001:db8:0:1::/64");
        assert_eq!(list[0].encoded_len(), 9);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            Ipv4Prefix::decode_list(&[33, 1, 2, 3, 4, 5]),
            Err(PrefixError::LengthTooLong { len: 33, max: 32 })
        );
        assert_eq!(
            Ipv4Prefix::decode_list(&[24, 10, 0, 1, 24, 10]),
            Err(PrefixError::Truncated {
                len: 24,
                needed: 3,
                available: 1
            })
        );
        assert!(Ipv6Prefix::decode_list(&[129]).is_err());
    }

    #[test]
    fn host_bits_kept_and_text() {
        let (p, used) = Ipv4Prefix::decode_one(&[20, 10, 0, 0x1f]).unwrap();
        assert_eq!(used, 4);
        assert_eq!(p.addr(), Ipv4Addr::new(10, 0, 0x1f, 0));
        let mut out = BytesMut::new();
        p.encode(&mut out);
        assert_eq!(&out[..], &[20, 10, 0, 0x1f]);
        assert_eq!("10.1.0.0/16".parse::<Ipv4Prefix>().unwrap().len(), 16);
        assert!("10.1.0.0/33".parse::<Ipv4Prefix>().is_err());
        assert_eq!(
            serde_json::to_string(&"2001:db8::/32".parse::<Ipv6Prefix>().unwrap()).unwrap(),
            "\"2001:db8::/32\""
        );
    }
}

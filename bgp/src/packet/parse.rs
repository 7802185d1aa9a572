//! nom 8 glue shared by the decoders (crate-private: no nom type is ever public).
//!
//! Decoders parse `&[u8]` with nom's `complete` combinators and an error type of `()`.
//! A failure in a fixed-layout field can only mean "too short"; the typed error a caller
//! returns needs what the caller knows (which field, what the length octet said), not
//! nom's position, so each decoder maps the failure at its boundary with [`ok_or`].
//! The zero-sized error also keeps the hot paths (EVPN NLRI) as cheap as slice code.
//!
//! The big-endian integer parsers here have the names and signatures of
//! `nom::number::complete::{be_u8, be_u16, be_u24, be_u32}` and are used in their place.
//! nom 8.0.0's versions read `&[u8]` through `Input::input_len` and `Input::take_from`,
//! which are not `#[inline]`, so every field cost two calls and a byte loop: decoding
//! the 1M type-2 UPDATE stream took about 30% more instructions (callgrind) and 20% more
//! time than the slice code. Ours are one `split_first_chunk` each (a single bounds
//! check, within 3% of the slice code) and compose with every nom combinator the same.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nom::combinator::all_consuming;
use nom::{IResult, Parser};

/// A nom result over octets with the zero-sized error.
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, ()>;

/// Maps a nom failure to the decoder's own typed error (built only on failure).
#[inline]
pub(crate) fn ok_or<'a, T, E>(
    r: PResult<'a, T>,
    err: impl FnOnce() -> E,
) -> Result<(&'a [u8], T), E> {
    r.map_err(|_| err())
}

/// Runs `p` over the whole of `v`: `None` when it fails or leaves octets over.
#[inline]
pub(crate) fn exact<'a, O>(
    p: impl Parser<&'a [u8], Output = O, Error = ()>,
    v: &'a [u8],
) -> Option<O> {
    all_consuming(p).parse_complete(v).ok().map(|(_, o)| o)
}

/// Exactly `N` octets, as an array: the primitive under every fixed-size field.
#[inline]
pub(crate) fn array<const N: usize>(i: &[u8]) -> PResult<'_, [u8; N]> {
    match i.split_first_chunk::<N>() {
        Some((a, rest)) => Ok((rest, *a)),
        None => Err(nom::Err::Error(())),
    }
}

/// One octet (stands in for `nom::number::complete::be_u8`, see the module doc).
#[inline]
pub(crate) fn be_u8(i: &[u8]) -> PResult<'_, u8> {
    array::<1>.map(|[b]| b).parse(i)
}

/// A big-endian 2-octet integer.
#[inline]
pub(crate) fn be_u16(i: &[u8]) -> PResult<'_, u16> {
    array::<2>.map(u16::from_be_bytes).parse(i)
}

/// A big-endian 3-octet integer (labels, LLGR stale time).
#[inline]
pub(crate) fn be_u24(i: &[u8]) -> PResult<'_, u32> {
    array::<3>
        .map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
        .parse(i)
}

/// A big-endian 4-octet integer.
#[inline]
pub(crate) fn be_u32(i: &[u8]) -> PResult<'_, u32> {
    array::<4>.map(u32::from_be_bytes).parse(i)
}

/// A 4-octet IPv4 address.
#[inline]
pub(crate) fn ipv4(i: &[u8]) -> PResult<'_, Ipv4Addr> {
    array::<4>.map(Ipv4Addr::from).parse(i)
}

/// A 16-octet IPv6 address.
#[inline]
pub(crate) fn ipv6(i: &[u8]) -> PResult<'_, Ipv6Addr> {
    array::<16>.map(Ipv6Addr::from).parse(i)
}

/// An address of `octets` octets (4 gives IPv4, anything else IPv6).
#[inline]
pub(crate) fn ip(octets: usize) -> impl Fn(&[u8]) -> PResult<'_, IpAddr> {
    move |i| {
        if octets == 4 {
            ipv4.map(IpAddr::V4).parse(i)
        } else {
            ipv6.map(IpAddr::V6).parse(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        assert_eq!(array::<3>(&[1, 2, 3, 4]), Ok((&[4u8][..], [1, 2, 3])));
        assert!(array::<3>(&[1, 2]).is_err());
        assert!(ipv6(&[0; 15]).is_err());
        assert_eq!(be_u8(&[7, 8]), Ok((&[8u8][..], 7)));
        assert_eq!(be_u24(&[1, 2, 3]), Ok((&[][..], 0x010203)));
        assert_eq!(be_u32(&[1, 2, 3, 4, 5]), Ok((&[5u8][..], 0x01020304)));
        assert!(be_u32(&[1, 2, 3]).is_err());
        assert_eq!(
            ip(4)(&[10, 0, 0, 1]),
            Ok((&[][..], IpAddr::from([10, 0, 0, 1])))
        );
        let r: PResult<'_, u16> = be_u16(&[1][..]);
        assert_eq!(ok_or(r, || "short"), Err("short"));
        assert_eq!(exact(be_u16, &[1, 2]), Some(0x0102));
        assert_eq!(exact(be_u16, &[1, 2, 3]), None);
        assert_eq!(exact(be_u16, &[1]), None);
    }
}

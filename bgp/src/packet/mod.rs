//! BGP wire codec: one module per protocol thing.
//!
//! Decoding works over `&[u8]` with nom 8 (`take`, `tag`, `length_data`, `count`,
//! `consumed`, `all_consuming`, `cond`, tuples of parsers, `Parser::map`); encoding
//! appends to a `bytes::BytesMut`. The big-endian integer parsers come from the private
//! `parse` module rather than `nom::number` (same names and use; nom 8.0's cost a call per
//! field, see there). nom stays inside the crate: parsers use a zero-sized error, and
//! each decoder maps a failure to its own typed error at its boundary (`parse::ok_or`),
//! so the public API carries no nom type. Every length field is checked before the
//! value it frames is parsed, and lists of known count are parsed into one allocation.
//! Nothing here panics on input from a peer, and no parser reads past a length field.
//! UPDATE errors follow RFC 7606: `Update::decode` records malformations (its attribute
//! walk is a plain loop, so that it can record an error and go on; each attribute's
//! header and value are parsed with nom), and `Update::verdict` decides.
//!
//! A session reads with `frame` (zero-copy split of one whole message), decodes with
//! `Message::decode` under the negotiated `DecodeOptions`, answers a `MessageError` with
//! its `notification()`, and acts on `Update::verdict()`:
//!
//! ```
//! use bgp::packet::{frame, DecodeOptions, Message, Verdict};
//! use bytes::BytesMut;
//!
//! let opts = DecodeOptions::default();
//! // A KEEPALIVE and an empty UPDATE (the IPv4 End-of-RIB) arriving in one read.
//! let mut buf = BytesMut::new();
//! buf.extend_from_slice(&[0xff; 16]);
//! buf.extend_from_slice(&[0, 19, 4]);
//! buf.extend_from_slice(&[0xff; 16]);
//! buf.extend_from_slice(&[0, 23, 2, 0, 0, 0, 0]);
//! let ka = frame(&mut buf, opts.max_len()).unwrap().unwrap();
//! assert_eq!(Message::decode(&ka, &opts).unwrap(), Message::Keepalive);
//! let up = frame(&mut buf, opts.max_len()).unwrap().unwrap();
//! let Message::Update(u) = Message::decode(&up, &opts).unwrap() else { panic!() };
//! assert_eq!(u.verdict(), Verdict::Accept);
//! assert!(u.is_end_of_rib().is_some());
//! assert!(frame(&mut buf, opts.max_len()).unwrap().is_none());
//! ```

pub mod afi;
pub mod aspath;
pub mod attribute;
pub mod capability;
pub mod error;
pub mod evpn;
pub mod extcomm;
pub mod message;
pub mod mp;
pub mod notification;
pub mod open;
mod parse;
pub mod pmsi;
pub mod prefix;
pub mod route_refresh;
#[cfg(any(test, feature = "proptest"))]
pub mod strategy;
#[cfg(any(test, feature = "proptest"))]
pub mod strategy_msg;
pub mod types;
pub mod update;

pub use afi::{Afi, AfiSafi, Safi};
pub use aspath::{AsPath, AsSegment, SegmentType};
pub use attribute::{Aggregator, Attribute, Community, LargeCommunity, Origin, PathAttribute};
pub use capability::Capability;
pub use error::{verdict, Approach, Fault, Malformation, Verdict};
pub use message::{frame, DecodeOptions, EncodeError, EncodeOptions, Message, MessageError};
pub use mp::{MpNextHop, MpNlri, MpReach, MpUnreach};
pub use notification::Notification;
pub use open::Open;
pub use prefix::{Ipv4Prefix, Ipv6Prefix};
pub use route_refresh::{RouteRefresh, RouteRefreshSubtype};
pub use update::{pack_evpn_updates, pack_evpn_withdrawals, Update};

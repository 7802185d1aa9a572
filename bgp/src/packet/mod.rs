//! BGP wire codec: one module per protocol thing.
//!
//! Decoding works over `&[u8]`; encoding appends to a `bytes::BytesMut`. Nothing here
//! panics on input from a peer, and no parser reads past a length field. UPDATE errors
//! follow RFC 7606: `Update::decode` records malformations, `Update::verdict` decides.

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
pub mod pmsi;
pub mod prefix;
pub mod route_refresh;
#[cfg(any(test, feature = "proptest"))]
pub mod strategy;
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

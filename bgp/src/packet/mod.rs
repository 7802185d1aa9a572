//! BGP wire codec: one module per protocol thing.
//!
//! Decoding uses nom over `&[u8]`; encoding appends to a `bytes::BytesMut`. Nothing here
//! panics on input from a peer, and no parser reads past a length field.

pub mod evpn;
pub mod extcomm;
pub mod pmsi;
#[cfg(any(test, feature = "proptest"))]
pub mod strategy;
pub mod types;

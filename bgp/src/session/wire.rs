//! The codec types the session uses, in one place.
//!
//! PLACEHOLDER: branch `codec` (bgp/src/packet/*) is being written in parallel. Until its
//! Message/Open/Capability/Notification/DecodeOptions/MessageError land, these minimal
//! stand-ins let the FSM compile and be tested. They are replaced by `pub use` of the
//! codec's types when it is merged; nothing outside `session/` may depend on them.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// RFC 6793: the 2-octet AS placed in My AS by a speaker whose AS does not fit 16 bits.
pub const AS_TRANS: u16 = 23456;

/// An address family / subsequent address family pair (RFC 4760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Family {
    pub afi: u16,
    pub safi: u8,
}

impl Family {
    pub const IPV4_UNICAST: Family = Family { afi: 1, safi: 1 };
    pub const IPV6_UNICAST: Family = Family { afi: 2, safi: 1 };
    pub const L2VPN_EVPN: Family = Family { afi: 25, safi: 70 };
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Open {
    pub version: u8,
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GracefulRestartFamily {
    pub family: Family,
    pub forwarding_preserved: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GracefulRestart {
    pub restart_state: bool,
    pub notification: bool,
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Capability {
    Multiprotocol(Family),
    RouteRefresh,
    EnhancedRouteRefresh,
    FourOctetAs(u32),
    ExtendedMessage,
    GracefulRestart(GracefulRestart),
    AddPath(Vec<u8>),
    Fqdn { hostname: String, domain: String },
    Unknown { code: u8, value: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRefresh {
    pub family: Family,
    pub subtype: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageError {
    pub notif: Notification,
}

impl MessageError {
    pub fn notification(&self) -> Notification {
        self.notif.clone()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DecodeOptions {
    pub four_octet_as: bool,
    pub extended_message: bool,
}

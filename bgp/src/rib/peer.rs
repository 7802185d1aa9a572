//! What the RIB knows about itself and its peers: plain configuration and counters.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

use crate::packet::DecodeOptions;

/// Index of a peer in the RIB. [`LOCAL`] is the RIB itself (locally originated routes).
pub type PeerId = u16;

/// The pseudo-peer of locally originated routes.
pub const LOCAL: PeerId = 0;

/// The speaker's own identity and decision options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RibConfig {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    /// Route reflector cluster id (RFC 4456 section 7); the router id when `None`.
    pub cluster_id: Option<Ipv4Addr>,
    /// Compare MED between routes from different neighbour ASes too (FRR's
    /// `bgp always-compare-med`). Off by default, as RFC 4271 9.1.2.2 (c) says.
    pub always_compare_med: bool,
}

impl RibConfig {
    pub fn new(local_as: u32, router_id: Ipv4Addr) -> Self {
        Self {
            local_as,
            router_id,
            cluster_id: None,
            always_compare_med: false,
        }
    }

    pub fn cluster_id(&self) -> Ipv4Addr {
        self.cluster_id.unwrap_or(self.router_id)
    }
}

/// One neighbour as the RIB needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub asn: u32,
    /// BGP Identifier from its OPEN (best-path tie-break when no ORIGINATOR_ID).
    pub router_id: Ipv4Addr,
    /// Our address on this session: the next hop for next-hop-self and IPv4 eBGP.
    pub local_address: Option<IpAddr>,
    /// A route reflector client of ours (RFC 4456).
    pub rr_client: bool,
    /// Replace the next hop by `local_address` when advertising (EVPN keeps the VTEP
    /// otherwise, also on eBGP).
    pub next_hop_self: bool,
    /// Accept routes with our AS in the path up to this many times (FRR `allowas-in`).
    pub allowas_in: u8,
    /// Max-prefix limit per family; the session layer decides warn or tear down.
    pub max_prefix: Option<u32>,
    /// Negotiated codec options (4-octet AS, extended message) for this session.
    pub opts: DecodeOptions,
    /// Minimum seconds between runs of advertisements to this peer (RFC 4271 9.2.1.1
    /// MinRouteAdvertisementIntervalTimer; FRR `advertisement-interval`); 0 = none.
    /// Withdrawals, the initial advertisement and End-of-RIB are never held.
    #[serde(default)]
    pub advertisement_interval: u32,
}

impl PeerConfig {
    pub fn new(address: IpAddr, asn: u32, router_id: Ipv4Addr) -> Self {
        Self {
            address,
            asn,
            router_id,
            local_address: None,
            rr_client: false,
            next_hop_self: false,
            allowas_in: 0,
            max_prefix: None,
            opts: DecodeOptions::default(),
            advertisement_interval: 0,
        }
    }
}

/// Counters per peer (all families).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStats {
    /// Routes dropped by loop detection (own AS, ORIGINATOR_ID, CLUSTER_LIST).
    pub loops_dropped: u64,
    /// UPDATEs handled as withdraw (RFC 7606).
    pub treated_as_withdraw: u64,
    /// UPDATE messages built for this peer.
    pub updates_sent: u64,
    /// Routes not advertised because their exported attributes do not fit a message.
    pub unsendable: u64,
}

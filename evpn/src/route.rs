//! Plain route types exchanged with the BGP speaker, independent of its UPDATE codec:
//! what we originate ([`EvpnRoute`]) and what the RIB hands us as best paths
//! ([`ReceivedRoute`]).
//!
//! Attributes sit behind an `Arc`: a leaf's routes in one VNI share them (same next hop,
//! same RTs), so a million routes cost one NLRI plus a pointer each. The speaker is
//! expected to intern what it decodes (equal attributes, one `Arc`).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use bgp::packet::evpn::{EvpnNlri, EvpnRouteKey};
use bgp::packet::extcomm::{ExtendedCommunity, RouteTarget};
use bgp::packet::pmsi::PmsiTunnel;
use serde::{Deserialize, Serialize};

/// The path attributes EVPN cares about.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct PathAttrs {
    /// MP_REACH next hop: the originating VTEP.
    pub next_hop: IpAddr,
    /// In the order to send them (FRR: encapsulation, route targets, MAC mobility).
    pub ext_communities: Vec<ExtendedCommunity>,
    /// PMSI_TUNNEL (type-3 routes).
    pub pmsi: Option<PmsiTunnel>,
}

/// MAC mobility as carried by a route (absent community = sequence 0, not sticky).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct Mobility {
    pub sequence: u32,
    pub sticky: bool,
}

impl PathAttrs {
    pub fn route_targets(&self) -> impl Iterator<Item = RouteTarget> + '_ {
        self.ext_communities
            .iter()
            .filter_map(ExtendedCommunity::as_route_target)
    }

    /// The MAC mobility community (RFC 7432 section 7.7); the first one if a peer sent
    /// several.
    pub fn mobility(&self) -> Mobility {
        self.ext_communities
            .iter()
            .find_map(|c| match *c {
                ExtendedCommunity::MacMobility { sequence, .. } => Some(Mobility {
                    sequence,
                    sticky: c.sticky().unwrap_or(false),
                }),
                _ => None,
            })
            .unwrap_or_default()
    }
}

/// A route we originate (or, inside [`ReceivedRoute`], one we received).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EvpnRoute {
    pub nlri: EvpnNlri,
    pub attrs: Arc<PathAttrs>,
}

impl EvpnRoute {
    pub fn key(&self) -> EvpnRouteKey {
        self.nlri.key()
    }
}

/// Where a received route came from, as far as the loop checks need it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct RouteSource {
    /// The peer that sent it (session address).
    pub peer: IpAddr,
    /// ORIGINATOR_ID, when a route reflector added one.
    pub originator_id: Option<Ipv4Addr>,
}

/// A best path from the RIB.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ReceivedRoute {
    pub route: EvpnRoute,
    pub source: RouteSource,
}

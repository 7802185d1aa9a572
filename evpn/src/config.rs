//! What the operator configures for EVPN (the `[evpn]` part of evpnd's config file).
//!
//! Defaults follow FRR's `advertise-all-vni` with auto RD/RT: an empty config advertises
//! every VNI found in the kernel with derived RDs and route targets.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use bgp::packet::extcomm::RouteTarget;
use bgp::packet::types::RouteDistinguisher;
use fib::Vni;
use serde::{Deserialize, Serialize};

/// Which VNIs get an EVPN instance.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvertiseVnis {
    /// Every VNI present in the kernel (FRR `advertise-all-vni`).
    #[default]
    All,
    /// Only these VNIs, and only while the kernel has them.
    Only(BTreeSet<Vni>),
}

impl AdvertiseVnis {
    pub fn includes(&self, vni: Vni) -> bool {
        match self {
            Self::All => true,
            Self::Only(set) => set.contains(&vni),
        }
    }
}

/// Per-VNI overrides. Anything left empty is derived (see [`crate::instance`]).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VniConfig {
    pub rd: Option<RouteDistinguisher>,
    /// Explicit import route targets (matched exactly). Empty: the auto RT.
    pub import_rt: Vec<RouteTarget>,
    /// Explicit export route targets. Empty: the auto RT.
    pub export_rt: Vec<RouteTarget>,
}

/// Duplicate address detection (RFC 7432 section 15.1). Defaults as FRR's
/// `dup-addr-detection max-moves 5 time 180`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct DadConfig {
    pub enabled: bool,
    /// Moves (local <-> remote) that make a MAC a duplicate ...
    pub max_moves: u32,
    /// ... when they all happen within this many seconds of the first one.
    pub window_secs: u64,
}

impl Default for DadConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_moves: 5,
            window_secs: 180,
        }
    }
}

/// The EVPN service configuration.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EvpnConfig {
    /// Our AS number: the auto route target uses its low 16 bits, as FRR does.
    pub asn: u32,
    /// BGP router id: the address part of auto RDs, and our ORIGINATOR_ID.
    pub router_id: Ipv4Addr,
    /// Local VTEP address. `None`: the `local` address of each VNI's VXLAN device.
    #[serde(default)]
    pub vtep: Option<IpAddr>,
    #[serde(default)]
    pub advertise: AdvertiseVnis,
    #[serde(default)]
    pub vni: BTreeMap<Vni, VniConfig>,
    #[serde(default)]
    pub dad: DadConfig,
}

impl EvpnConfig {
    /// Advertise-all-VNI with auto RD/RT and default DAD.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> Self {
        Self {
            asn,
            router_id,
            vtep: None,
            advertise: AdvertiseVnis::All,
            vni: BTreeMap::new(),
            dad: DadConfig::default(),
        }
    }
}

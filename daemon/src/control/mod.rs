//! The control API evpnctl speaks: newline-delimited JSON on a Unix socket, one request
//! per line, one response line each. The schema is versioned; fields are only ever
//! added within a version.
//!
//! ```text
//! -> {"version":1,"command":"show_peers"}
//! <- {"ok":true,"data":[{"address":"10.0.0.2","state":"Established",...}]}
//! -> {"version":1,"command":"clear_peer","address":"10.0.0.9","soft":false}
//! <- {"ok":false,"error":"no such peer 10.0.0.9"}
//! ```

pub mod server;

use std::net::IpAddr;

use bgp::session::{SessionStatus, State};
use serde::{Deserialize, Serialize};

/// The schema version this build speaks.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    #[serde(flatten)]
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Like FRR's `show bgp summary`.
    ShowPeers,
    /// Like FRR's `show bgp neighbor ADDR`.
    ShowPeer { address: IpAddr },
    /// EVPN paths received (every path of every peer until the RIB is wired), filtered
    /// by `type`, `vni`, `mac`, `rd`, `peer` (all optional).
    ShowRoutes {
        #[serde(flatten)]
        filter: crate::routes::RouteFilter,
    },
    /// IPv4 unicast paths (our networks and what peers sent), optionally of one peer.
    ShowIpv4Routes {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<IpAddr>,
    },
    /// EVPN instances: VNI, devices, RD, route targets, MAC counts.
    ShowVni,
    /// Local and remote MACs (VTEP, mobility sequence), optionally of one VNI.
    ShowMacs {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vni: Option<u32>,
    },
    /// What is programmed in the kernel (the reconciler's view) against the desired state.
    ShowFdb,
    /// Hard reset (Cease 6/4, the session comes back), or with `soft` a route refresh
    /// request for every negotiated family (soft reset in).
    ClearPeer {
        address: IpAddr,
        #[serde(default)]
        soft: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Response {
    pub fn data(v: impl Serialize) -> Self {
        match serde_json::to_value(v) {
            Ok(data) => Self {
                ok: true,
                data: Some(data),
                error: None,
            },
            Err(e) => Self::error(format!("cannot serialize the answer: {e}")),
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            ok: false,
            data: None,
            error: Some(text.into()),
        }
    }
}

/// Routes per address family, as `show bgp summary` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyCounts {
    /// `l2vpn/evpn`, `ipv4/unicast`.
    pub family: String,
    pub received: u64,
    pub sent: u64,
}

/// One line of `show peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSummary {
    pub address: IpAddr,
    /// The AS the peer announced, else the configured one (None for internal/external
    /// before the first OPEN).
    pub remote_as: Option<u32>,
    pub state: State,
    /// Seconds Established, when Established.
    pub uptime_secs: Option<u64>,
    /// Seconds in the current state.
    pub state_age_secs: u64,
    pub dynamic: bool,
    #[serde(default)]
    pub description: Option<String>,
    pub msgs_received: u64,
    pub msgs_sent: u64,
    pub prefixes: Vec<FamilyCounts>,
}

/// `show peer ADDR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerDetail {
    #[serde(flatten)]
    pub summary: PeerSummary,
    pub peer_group: Option<String>,
    /// Port we connect to.
    pub port: u16,
    pub local_as: u32,
    pub password: bool,
    /// Minimum seconds between advertisement runs to this peer (0 = none).
    #[serde(default)]
    pub advertisement_interval: u16,
    /// Counters, timers, negotiated capabilities and the last NOTIFICATIONs.
    pub session: SessionStatus,
    /// What the RIB dropped or could not send for this peer.
    #[serde(default)]
    pub rib: PeerRibStats,
}

/// Per-peer RIB counters since the peer was configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRibStats {
    /// Routes dropped by loop detection (own AS in AS_PATH, ORIGINATOR_ID, CLUSTER_LIST).
    pub loops_dropped: u64,
    /// UPDATEs handled as withdraw (RFC 7606).
    pub treated_as_withdraw: u64,
    /// Routes not advertised because their attributes do not fit a message.
    pub unsendable: u64,
}

//! Per-peer configuration the session needs: who we are, who the peer must be, what we
//! announce in our OPEN, timers, and max-prefix limits. Plain serde data so the daemon can
//! build it from its config file.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::packet::AfiSafi;

/// Which AS the peer must announce (FRR's `remote-as` forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteAs {
    /// Exactly this AS.
    Asn(u32),
    /// Same AS as ours (iBGP), whatever it is.
    Internal,
    /// Any AS other than ours (eBGP); what dynamic-neighbour listen ranges use.
    External,
}

/// Graceful restart (RFC 4724, RFC 8538) as we announce it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GracefulRestartConfig {
    /// Restart Time we announce, seconds (12 bits on the wire, so at most 4095).
    pub restart_time: u16,
    /// R-bit: we are restarting right now (set on the first OPEN after our own restart).
    pub restarting: bool,
    /// N-bit (RFC 8538): NOTIFICATIONs other than Hard Reset keep GR semantics.
    pub notification: bool,
    /// Families whose forwarding state we preserved across a restart (F-bit).
    pub preserved: Vec<AfiSafi>,
}

/// What to do when a family's accepted prefix count exceeds the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaxPrefixAction {
    /// Log only (FRR `warning-only`).
    WarningOnly,
    /// Send Cease 6/1 and go Idle; restart automatically after `restart_secs` if set,
    /// else stay down until a manual start (FRR `restart N`).
    Teardown { restart_secs: Option<u32> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxPrefix {
    pub family: AfiSafi,
    pub limit: u32,
    /// Percentage of `limit` at which a warning is logged first (FRR default 75).
    pub warning_threshold_pct: u8,
    pub action: MaxPrefixAction,
}

/// Timer settings. Durations are whole seconds as operators configure them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerConfig {
    /// Hold time we offer in our OPEN: 0 (no keepalives) or at least 3.
    pub hold_time: u16,
    /// Keepalive interval cap; the interval used is min(this, negotiated hold / 3).
    pub keepalive: Option<u16>,
    /// Hold timer while waiting for the peer's OPEN (RFC 4271 suggests 4 minutes).
    pub open_hold_time: u16,
    /// Connect retry backoff: first interval, doubling on each retry up to the max.
    pub connect_retry_min: u32,
    pub connect_retry_max: u32,
    /// Idle hold after an error before the automatic restart (damping, RFC 4271 8.1.1):
    /// grows by doubling on consecutive failures up to the max.
    pub idle_hold_min: u32,
    pub idle_hold_max: u32,
    /// A session that stayed Established this long resets the damping.
    pub stable_after: u32,
    /// RFC 4271 DelayOpen: seconds to wait for the peer's OPEN before sending ours.
    #[serde(default)]
    pub delay_open: Option<u16>,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            hold_time: 90,
            keepalive: None,
            open_hold_time: 240,
            connect_retry_min: 1,
            connect_retry_max: 120,
            idle_hold_min: 1,
            idle_hold_max: 120,
            stable_after: 60,
            delay_open: None,
        }
    }
}

impl TimerConfig {
    pub(crate) fn secs(s: u32) -> Duration {
        Duration::from_secs(u64::from(s))
    }
}

/// Everything the session needs to know about one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerConfig {
    pub local_as: u32,
    pub remote_as: RemoteAs,
    pub router_id: Ipv4Addr,
    /// Families announced with the multiprotocol capability.
    pub families: Vec<AfiSafi>,
    /// Never initiate a connection, only accept.
    pub passive: bool,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    pub extended_message: bool,
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// FQDN capability (code 73), as FRR sends it: hostname and domain name.
    pub hostname: Option<String>,
    pub domain: Option<String>,
    pub timers: TimerConfig,
    pub max_prefix: Vec<MaxPrefix>,
}

/// A configuration the session cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("hold time {0} is invalid: must be 0 or at least 3 seconds")]
    HoldTime(u16),
    #[error("local AS 0 is reserved")]
    LocalAs,
    #[error("router-id 0.0.0.0 is not a valid BGP identifier")]
    RouterId,
    #[error("no address family configured")]
    NoFamily,
    #[error("timer range {min}..{max} is invalid")]
    TimerRange { min: u32, max: u32 },
    #[error("graceful restart time {0} does not fit 12 bits")]
    RestartTime(u16),
    #[error("{0} is longer than 255 bytes")]
    TooLong(&'static str),
}

impl PeerConfig {
    /// A config with the usual defaults: route refresh, enhanced route refresh and
    /// extended message announced, default timers, active, no GR, no limits.
    pub fn new(
        local_as: u32,
        remote_as: RemoteAs,
        router_id: Ipv4Addr,
        families: Vec<AfiSafi>,
    ) -> Self {
        Self {
            local_as,
            remote_as,
            router_id,
            families,
            passive: false,
            route_refresh: true,
            enhanced_route_refresh: true,
            extended_message: true,
            graceful_restart: None,
            hostname: None,
            domain: None,
            timers: TimerConfig::default(),
            max_prefix: Vec::new(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.timers;
        if matches!(t.hold_time, 1 | 2) {
            return Err(ConfigError::HoldTime(t.hold_time));
        }
        if self.local_as == 0 {
            return Err(ConfigError::LocalAs);
        }
        if self.router_id.is_unspecified() {
            return Err(ConfigError::RouterId);
        }
        if self.families.is_empty() {
            return Err(ConfigError::NoFamily);
        }
        for (min, max) in [
            (t.connect_retry_min, t.connect_retry_max),
            (t.idle_hold_min, t.idle_hold_max),
        ] {
            if min == 0 || min > max {
                return Err(ConfigError::TimerRange { min, max });
            }
        }
        if let Some(gr) = &self.graceful_restart {
            if gr.restart_time > 0x0fff {
                return Err(ConfigError::RestartTime(gr.restart_time));
            }
        }
        if self.hostname.as_ref().is_some_and(|h| h.len() > 255) {
            return Err(ConfigError::TooLong("hostname"));
        }
        if self.domain.as_ref().is_some_and(|d| d.len() > 255) {
            return Err(ConfigError::TooLong("domain"));
        }
        Ok(())
    }

    /// iBGP when the peer must be in our AS.
    pub fn is_ibgp(&self) -> bool {
        match self.remote_as {
            RemoteAs::Asn(a) => a == self.local_as,
            RemoteAs::Internal => true,
            RemoteAs::External => false,
        }
    }
}

//! Capability negotiation (RFC 4271 6.2, RFC 5492, RFC 4760, RFC 6793, RFC 2918/7313,
//! RFC 8654, RFC 4724/8538) and the builder for our own OPEN.
//!
//! `negotiate` checks the peer's OPEN against ours and the peer config, and either returns
//! the `Negotiated` session parameters (what the daemon, RIB and codec use from then on)
//! or the OPEN error whose NOTIFICATION must be sent.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::config::{PeerConfig, RemoteAs};
use crate::packet::capability::{
    unsupported_capability_notification, GracefulRestart, GracefulRestartFamily,
};
use crate::packet::notification::OpenSubcode;
use crate::packet::open::{AS_TRANS, BGP_VERSION};
use crate::packet::{AfiSafi, Capability, DecodeOptions, Notification, Open};

/// RFC 4724 section 3 restart flags and per-family flag.
pub const GR_RESTART_STATE: u8 = 0x8;
pub const GR_NOTIFICATION: u8 = 0x4;
pub const GR_FORWARDING_PRESERVED: u8 = 0x80;

/// The peer's graceful restart parameters, as far as both sides agreed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerGracefulRestart {
    /// Seconds the peer asks us to keep its routes after the session drops.
    pub restart_time: u16,
    /// R-bit: the peer has just restarted (its routes from before are stale until EoR).
    pub restart_state: bool,
    /// RFC 8538 N-bit announced by both sides: NOTIFICATIONs (except Hard Reset) keep GR.
    pub notification: bool,
    /// Negotiated families the peer preserved forwarding state for (F-bit set).
    pub preserved: Vec<AfiSafi>,
    /// Negotiated families the peer announced in its GR capability at all.
    pub families: Vec<AfiSafi>,
}

/// The parameters of an established session, fixed by the two OPENs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negotiated {
    pub local_as: u32,
    pub peer_as: u32,
    pub local_id: Ipv4Addr,
    pub peer_id: Ipv4Addr,
    pub ibgp: bool,
    /// Seconds; 0 means neither hold timer nor keepalives.
    pub hold_time: u16,
    pub keepalive: u16,
    /// AFI/SAFIs both sides announced; only these may be exchanged.
    pub families: Vec<AfiSafi>,
    pub four_octet_as: bool,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    pub extended_message: bool,
    /// Largest message either side may send (4096, or 65535 with extended message).
    pub max_message_size: usize,
    /// Present when the peer announced graceful restart.
    pub graceful_restart: Option<PeerGracefulRestart>,
    /// The peer offered ADD-PATH; we did not announce it, so it is not used.
    pub peer_offered_add_path: bool,
    pub peer_hostname: Option<String>,
    pub peer_domain: Option<String>,
    /// Codes of capabilities we do not know; accepted and ignored (RFC 5492 section 3).
    pub unknown_capabilities: Vec<u8>,
    /// The per-session codec options from here on.
    pub codec: DecodeOptions,
}

impl Negotiated {
    pub fn has_family(&self, f: AfiSafi) -> bool {
        self.families.contains(&f)
    }
}

/// Why a peer's OPEN was refused; each maps to one OPEN Message Error NOTIFICATION.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("unsupported BGP version {0}")]
    UnsupportedVersion(u8),
    #[error("bad peer AS {announced} (My AS field {my_as_field}), expected {expected:?}")]
    BadPeerAs {
        announced: u32,
        my_as_field: u16,
        expected: RemoteAs,
    },
    #[error("bad BGP identifier {0}")]
    BadBgpIdentifier(Ipv4Addr),
    #[error("unacceptable hold time {0}")]
    UnacceptableHoldTime(u16),
    #[error("no address family in common")]
    NoCommonFamily { ours: Vec<AfiSafi> },
}

impl OpenError {
    /// The NOTIFICATION to send, with the data FRR and the RFCs put there.
    pub fn notification(&self) -> Notification {
        match self {
            // RFC 4271 6.2: data is the largest version we support.
            Self::UnsupportedVersion(_) => Notification::open(
                OpenSubcode::UnsupportedVersionNumber,
                u16::from(BGP_VERSION).to_be_bytes().to_vec(),
            ),
            // Data: the My AS field received, as FRR sends it.
            Self::BadPeerAs { my_as_field, .. } => {
                Notification::open(OpenSubcode::BadPeerAs, my_as_field.to_be_bytes().to_vec())
            }
            Self::BadBgpIdentifier(_) => {
                Notification::open(OpenSubcode::BadBgpIdentifier, Vec::new())
            }
            Self::UnacceptableHoldTime(_) => {
                Notification::open(OpenSubcode::UnacceptableHoldTime, Vec::new())
            }
            // RFC 5492 section 3: data lists the capabilities we needed, here our
            // multiprotocol capabilities (code 1, length 4, AFI, reserved, SAFI).
            Self::NoCommonFamily { ours } => {
                let caps: Vec<Capability> =
                    ours.iter().map(|f| Capability::Multiprotocol(*f)).collect();
                unsupported_capability_notification(&caps)
            }
        }
    }
}

/// Our OPEN for this peer. Capability order follows FRR (MP, route refresh, enhanced
/// route refresh, 4-octet AS, extended message, GR, FQDN) so captures compare easily.
/// ADD-PATH is never announced: we refuse it.
pub fn build_open(cfg: &PeerConfig) -> Open {
    let mut caps: Vec<Capability> = cfg
        .families
        .iter()
        .map(|f| Capability::Multiprotocol(*f))
        .collect();
    if cfg.route_refresh {
        caps.push(Capability::RouteRefresh);
    }
    if cfg.enhanced_route_refresh {
        caps.push(Capability::EnhancedRouteRefresh);
    }
    caps.push(Capability::FourOctetAs(cfg.local_as));
    if cfg.extended_message {
        caps.push(Capability::ExtendedMessage);
    }
    if let Some(gr) = &cfg.graceful_restart {
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        caps.push(Capability::GracefulRestart(GracefulRestart {
            restart_flags: flag(gr.restarting, GR_RESTART_STATE)
                | flag(gr.notification, GR_NOTIFICATION),
            restart_time: gr.restart_time.min(0x0fff),
            families: cfg
                .families
                .iter()
                .map(|f| GracefulRestartFamily {
                    family: *f,
                    flags: flag(gr.preserved.contains(f), GR_FORWARDING_PRESERVED),
                })
                .collect(),
        }));
    }
    if cfg.hostname.is_some() || cfg.domain.is_some() {
        caps.push(Capability::Fqdn {
            hostname: cfg.hostname.clone().unwrap_or_default(),
            domain: cfg.domain.clone().unwrap_or_default(),
        });
    }
    Open::new(cfg.local_as, cfg.timers.hold_time, cfg.router_id, caps)
}

/// Families announced with the multiprotocol capability; none at all means IPv4 unicast
/// only (RFC 4760 section 1 keeps plain BGP-4 working).
fn families_of(open: &Open) -> BTreeSet<AfiSafi> {
    let fams: BTreeSet<AfiSafi> = open.families().into_iter().collect();
    if fams.is_empty() {
        BTreeSet::from([AfiSafi::IPV4_UNICAST])
    } else {
        fams
    }
}

fn has(open: &Open, pred: impl Fn(&Capability) -> bool) -> bool {
    open.capabilities().any(pred)
}

fn four_octet_as(open: &Open) -> Option<u32> {
    open.capabilities().find_map(|c| match c {
        Capability::FourOctetAs(a) => Some(*a),
        _ => None,
    })
}

fn graceful_restart(open: &Open) -> Option<&GracefulRestart> {
    open.capabilities().find_map(|c| match c {
        Capability::GracefulRestart(g) => Some(g),
        _ => None,
    })
}

/// Check the peer's OPEN (`theirs`) against ours and the config; see module docs.
pub fn negotiate(cfg: &PeerConfig, ours: &Open, theirs: &Open) -> Result<Negotiated, OpenError> {
    if theirs.version != BGP_VERSION {
        return Err(OpenError::UnsupportedVersion(theirs.version));
    }

    // RFC 6793 section 4.1: with the capability, the AS is the capability's; AS_TRANS in
    // My AS is only legal with it.
    let peer_four = four_octet_as(theirs);
    let peer_as = peer_four.unwrap_or(u32::from(theirs.my_as));
    let as_ok = peer_as != 0
        && !(peer_four.is_none() && theirs.my_as == AS_TRANS)
        && match cfg.remote_as {
            RemoteAs::Asn(a) => a == peer_as,
            RemoteAs::Internal => peer_as == cfg.local_as,
            RemoteAs::External => peer_as != cfg.local_as,
        };
    if !as_ok {
        return Err(OpenError::BadPeerAs {
            announced: peer_as,
            my_as_field: theirs.my_as,
            expected: cfg.remote_as,
        });
    }
    let ibgp = peer_as == cfg.local_as;

    // RFC 4271 6.2: hold time 1 or 2 is refused; 0 is allowed.
    if matches!(theirs.hold_time, 1 | 2) {
        return Err(OpenError::UnacceptableHoldTime(theirs.hold_time));
    }

    // RFC 6286 section 2.2: any non-zero value, but unique within an AS.
    if theirs.bgp_id.is_unspecified() || (ibgp && theirs.bgp_id == ours.bgp_id) {
        return Err(OpenError::BadBgpIdentifier(theirs.bgp_id));
    }

    let our_fams = families_of(ours);
    let families: Vec<AfiSafi> = our_fams
        .intersection(&families_of(theirs))
        .copied()
        .collect();
    if families.is_empty() {
        return Err(OpenError::NoCommonFamily {
            ours: our_fams.into_iter().collect(),
        });
    }

    let hold_time = ours.hold_time.min(theirs.hold_time);
    let keepalive = if hold_time == 0 {
        0
    } else {
        let k = hold_time / 3;
        cfg.timers.keepalive.map_or(k, |c| c.min(k)).max(1)
    };

    let both = |pred: fn(&Capability) -> bool| has(ours, pred) && has(theirs, pred);
    let four_octet = four_octet_as(ours).is_some() && peer_four.is_some();
    let extended_message = both(|c| matches!(c, Capability::ExtendedMessage));
    // FRR also sends the pre-standard code 128; either form counts.
    let route_refresh =
        both(|c| matches!(c, Capability::RouteRefresh | Capability::RouteRefreshCisco));
    let enhanced_route_refresh = both(|c| matches!(c, Capability::EnhancedRouteRefresh));

    let our_n = graceful_restart(ours).is_some_and(|g| g.restart_flags & GR_NOTIFICATION != 0);
    let gr = graceful_restart(theirs).map(|g| {
        let announced = |f: &GracefulRestartFamily| families.contains(&f.family);
        PeerGracefulRestart {
            restart_time: g.restart_time,
            restart_state: g.restart_flags & GR_RESTART_STATE != 0,
            notification: g.restart_flags & GR_NOTIFICATION != 0 && our_n,
            preserved: g
                .families
                .iter()
                .filter(|f| announced(f) && f.flags & GR_FORWARDING_PRESERVED != 0)
                .map(|f| f.family)
                .collect(),
            families: g
                .families
                .iter()
                .filter(|f| announced(f))
                .map(|f| f.family)
                .collect(),
        }
    });

    let (peer_hostname, peer_domain) = theirs
        .capabilities()
        .find_map(|c| match c {
            Capability::Fqdn { hostname, domain } => {
                Some((Some(hostname.clone()), Some(domain.clone())))
            }
            _ => None,
        })
        .unwrap_or((None, None));

    let codec = DecodeOptions {
        four_octet_as: four_octet,
        extended_message,
    };
    Ok(Negotiated {
        local_as: cfg.local_as,
        peer_as,
        local_id: ours.bgp_id,
        peer_id: theirs.bgp_id,
        ibgp,
        hold_time,
        keepalive,
        families,
        four_octet_as: four_octet,
        route_refresh,
        enhanced_route_refresh,
        extended_message,
        max_message_size: codec.max_len(),
        graceful_restart: gr,
        peer_offered_add_path: has(theirs, |c| matches!(c, Capability::AddPath(_))),
        peer_hostname,
        peer_domain,
        unknown_capabilities: theirs
            .capabilities()
            .filter_map(|c| match c {
                Capability::Unknown { code, .. } => Some(*code),
                _ => None,
            })
            .collect(),
        codec,
    })
}

#[cfg(test)]
mod tests;

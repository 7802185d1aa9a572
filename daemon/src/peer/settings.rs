//! From the daemon's config of a peer to what the session and the sockets need.

use std::net::{IpAddr, SocketAddr};

use bgp::packet::AfiSafi;
use bgp::session::{
    self, GracefulRestartConfig, MaxPrefix, MaxPrefixAction, RemoteAs, TimerConfig,
};

use crate::config::{self, Global, PeerConfig, PeerKind};
use crate::sockopt::TtlPolicy;

/// Everything one peer task runs with; compared on reload to see if the peer changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSettings {
    pub address: IpAddr,
    /// Where to connect (the peer's address and its `port`).
    pub remote: SocketAddr,
    /// Source address of outgoing connections (a specific `global.listen` address of the
    /// same family, so the peer sees the address it has configured for us).
    pub local: Option<IpAddr>,
    pub password: Option<String>,
    pub ttl: TtlPolicy,
    pub session: session::PeerConfig,
    pub description: Option<String>,
    pub peer_group: Option<String>,
    /// Created from a listen range (goes away when its session ends).
    pub dynamic: bool,
    /// Route reflector client (RFC 4456).
    pub rr_client: bool,
    /// Advertise ourselves as next hop instead of the originating VTEP.
    pub next_hop_self: bool,
    /// Minimum seconds between advertisement runs (the RIB's, not the session's: a
    /// change needs no session reset, see [`PeerSettings::same_session`]).
    pub advertisement_interval: u16,
}

impl PeerSettings {
    /// `other` differs from these at most in what the RIB applies to a running session
    /// (the advertisement interval): no reset needed to go from one to the other.
    pub fn same_session(&self, other: &PeerSettings) -> bool {
        let strip = |s: &PeerSettings| PeerSettings {
            advertisement_interval: 0,
            ..s.clone()
        };
        strip(self) == strip(other)
    }
}

/// This machine's host name for the FQDN capability (as FRR sends it).
pub fn hostname() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty() && h.len() <= 255).then(|| h.to_string())
}

pub fn build(global: &Global, p: &PeerConfig, dynamic: bool, host: Option<String>) -> PeerSettings {
    let remote_as = match p.remote_as {
        config::RemoteAs::Asn(a) => RemoteAs::Asn(a),
        config::RemoteAs::Kind(PeerKind::Internal) => RemoteAs::Internal,
        config::RemoteAs::Kind(PeerKind::External) => RemoteAs::External,
    };
    let mut families = vec![AfiSafi::L2VPN_EVPN];
    if p.ipv4_unicast {
        families.push(AfiSafi::IPV4_UNICAST);
    }
    let mut s = session::PeerConfig::new(global.asn, remote_as, global.router_id, families);
    s.passive = p.passive || dynamic;
    s.hostname = host;
    let retry = u32::from(p.connect_retry.max(1));
    s.timers = TimerConfig {
        hold_time: p.hold_time,
        keepalive: Some(p.keepalive),
        connect_retry_min: retry,
        connect_retry_max: retry.max(120),
        ..TimerConfig::default()
    };
    if p.graceful_restart {
        s.graceful_restart = Some(GracefulRestartConfig {
            restart_time: global.restart_time.min(0x0fff),
            restarting: false,
            notification: true,
            preserved: Vec::new(),
        });
    }
    if let Some(m) = &p.max_prefix {
        s.max_prefix.push(MaxPrefix {
            family: AfiSafi::L2VPN_EVPN,
            limit: m.limit,
            warning_threshold_pct: 75,
            action: match m.action {
                config::MaxPrefixAction::Warn => MaxPrefixAction::WarningOnly,
                config::MaxPrefixAction::Teardown => MaxPrefixAction::Teardown {
                    restart_secs: (m.restart > 0).then_some(m.restart),
                },
            },
        });
    }
    let ebgp = !s.is_ibgp();
    let ttl = match (p.ttl_security, p.ebgp_multihop) {
        (Some(hops), _) => TtlPolicy::Gtsm { hops },
        (None, Some(t)) => TtlPolicy::Ttl(t),
        // FRR: eBGP peers are directly connected unless configured otherwise.
        (None, None) if ebgp => TtlPolicy::Ttl(1),
        (None, None) => TtlPolicy::Default,
    };
    let local = global
        .listen
        .iter()
        .map(SocketAddr::ip)
        .find(|ip| !ip.is_unspecified() && ip.is_ipv4() == p.address.is_ipv4());
    PeerSettings {
        address: p.address,
        remote: SocketAddr::new(p.address, p.port),
        local,
        password: p.password.clone(),
        ttl,
        session: s,
        description: p.description.clone(),
        peer_group: p.peer_group.clone(),
        dynamic,
        rr_client: p.route_reflector_client,
        next_hop_self: p.next_hop == config::NextHopMode::SelfAddress,
        advertisement_interval: p.advertisement_interval,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(f: impl FnOnce(&mut config::PeerSettings)) -> PeerSettings {
        let global = global();
        let mut own = config::PeerSettings {
            remote_as: Some(config::RemoteAs::Asn(65001)),
            ..Default::default()
        };
        f(&mut own);
        let p = config::finish(
            "10.1.1.1".parse().unwrap(),
            None,
            config::RemoteAs::Asn(65001),
            &own,
        );
        build(&global, &p, false, None)
    }

    fn global() -> Global {
        Global {
            asn: 65000,
            router_id: "10.0.0.1".parse().unwrap(),
            listen: vec![],
            cluster_id: None,
            restart_time: 120,
        }
    }

    /// Reload resets a session only when something the session uses changed.
    #[test]
    fn advertisement_interval_alone_needs_no_reset() {
        let base = settings(|_| {});
        assert_eq!(base.advertisement_interval, 0);
        let mrai = settings(|s| s.advertisement_interval = Some(30));
        assert_eq!(mrai.advertisement_interval, 30);
        assert_ne!(base, mrai);
        assert!(base.same_session(&mrai) && mrai.same_session(&base));
        let hold = settings(|s| {
            s.advertisement_interval = Some(30);
            s.hold_time = Some(30);
        });
        assert!(!base.same_session(&hold));
        let rr = settings(|s| s.route_reflector_client = Some(true));
        assert!(
            !base.same_session(&rr),
            "export rules other than the interval reset"
        );
    }
}

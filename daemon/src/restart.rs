//! Our own graceful restart (RFC 4724, evpnd as the restarting speaker), sans-IO.
//!
//! At start the fib task's first dump tells whether a previous run left entries of ours in
//! the kernel (`fib.on_shutdown = "keep"`, or a crash). If so we are restarting: the OPENs
//! carry the Restart State (R) bit and the Forwarding State (F) bit for L2VPN EVPN (the
//! kernel entries still forward), and the kernel's stale-entry removal waits until every
//! configured GR peer that negotiated EVPN sent End-of-RIB for it, or the restart time
//! (`global.restart_time`, which doubles as the selection deferral timer) runs out
//! (RFC 4724 4.1: R only within the restart time after our start). Then the fib task is
//! released: one diff removes only what really went away, no remote MAC flaps.
//!
//! On a normal start (nothing of ours in the kernel) R and F(L2VPN EVPN) stay clear: there
//! is no EVPN forwarding state to preserve, and the peers must not keep our old EVPN routes.
//!
//! F(IPv4 unicast) is set in every OPEN, restarting or not: evpnd programs no IPv4 routes
//! (zebra's job), so no restart of evpnd changes IPv4 forwarding — the networks it
//! originates are the host's own addresses, and traffic through the host follows kernel
//! routes evpnd never touched. A helper (FRR: `bgp_establish`) therefore keeps our IPv4
//! routes as stale across our restart and sweeps only what our End-of-RIB leaves out,
//! instead of dropping them all when the session comes back (RFC 4724 4.2 on F clear).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use bgp::packet::AfiSafi;
use bgp::session::GracefulRestartConfig;
use tokio::time::Instant;

/// Whether we are restarting and, while so, what the kernel sync still waits for.
#[derive(Debug, Clone)]
pub struct RestartState {
    /// Restarting and not done yet: the R/F bits are announced and the kernel held.
    active: bool,
    /// Configured GR peers that have not sent End-of-RIB for L2VPN EVPN yet.
    waiting: BTreeSet<IpAddr>,
    /// The restart time after our start: the hold ends here at the latest.
    deadline: Instant,
    /// `take_done` reported the end once.
    reported: bool,
}

impl RestartState {
    /// `restarting`: the kernel held entries of ours at start. `gr_peers`: the configured
    /// peers with graceful restart enabled (their End-of-RIB ends the hold).
    pub fn new(
        restarting: bool,
        now: Instant,
        restart_time: Duration,
        gr_peers: impl IntoIterator<Item = IpAddr>,
    ) -> Self {
        Self {
            active: restarting,
            waiting: if restarting {
                gr_peers.into_iter().collect()
            } else {
                BTreeSet::new()
            },
            deadline: now + restart_time,
            reported: false,
        }
    }

    /// A normal start: nothing to wait for.
    pub fn normal(now: Instant) -> Self {
        Self::new(false, now, Duration::ZERO, [])
    }

    /// Restarting and still inside the restart: OPENs carry R and F(EVPN).
    pub fn restarting(&self) -> bool {
        self.active
    }

    /// When the hold ends at the latest (`None` once it ended).
    pub fn deadline(&self) -> Option<Instant> {
        self.active.then_some(self.deadline)
    }

    /// Sets the R and F bits of a peer's GR capability (see [`preserved`]).
    pub fn apply(&self, gr: &mut GracefulRestartConfig) {
        gr.restarting = self.active;
        gr.preserved = preserved(self.active);
    }

    /// A session came up; `evpn`: it negotiated L2VPN EVPN. A peer without EVPN sends no
    /// EVPN End-of-RIB and is not waited for. A peer with EVPN is waited for even when it
    /// announced GR without EVPN in it (FRR's default helper mode): FRR and GoBGP send
    /// End-of-RIB to every peer that announced the GR capability, as we do, and RFC 4724
    /// section 2 recommends it in general; the restart time caps the wait for one that
    /// does not.
    pub fn established(&mut self, peer: IpAddr, evpn: bool) {
        if !evpn {
            self.waiting.remove(&peer);
        }
    }

    /// End-of-RIB received from `peer` for `family`.
    pub fn end_of_rib(&mut self, peer: IpAddr, family: AfiSafi) {
        if family == AfiSafi::L2VPN_EVPN {
            self.waiting.remove(&peer);
        }
    }

    /// A peer removed from the config: no longer waited for.
    pub fn removed(&mut self, peer: IpAddr) {
        self.waiting.remove(&peer);
    }

    /// Peers still awaited.
    pub fn waiting(&self) -> impl Iterator<Item = &IpAddr> {
        self.waiting.iter()
    }

    /// True exactly once: when the restart is over (every awaited End-of-RIB in, or the
    /// restart time ran out), or at once on a normal start. The caller then releases the
    /// kernel sync and clears the R/F bits.
    pub fn take_done(&mut self, now: Instant) -> bool {
        if self.reported {
            return false;
        }
        if self.active && !self.waiting.is_empty() && now < self.deadline {
            return false;
        }
        self.active = false;
        self.reported = true;
        true
    }
}

/// The families whose F bit we set: L2VPN EVPN while `restarting` (the kernel entries of
/// the last run still forward), IPv4 unicast always (module comment). The OPEN carries a
/// family's F bit only when the family is configured for the peer.
pub fn preserved(restarting: bool) -> Vec<AfiSafi> {
    let mut v = Vec::with_capacity(2);
    if restarting {
        v.push(AfiSafi::L2VPN_EVPN);
    }
    v.push(AfiSafi::IPV4_UNICAST);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
    }

    #[test]
    fn normal_start_is_done_at_once_with_r_and_f_clear() {
        let now = Instant::now();
        let mut r = RestartState::new(false, now, Duration::from_secs(120), [ip(2)]);
        assert!(!r.restarting());
        let mut gr = GracefulRestartConfig {
            restart_time: 120,
            restarting: true,
            notification: true,
            preserved: vec![AfiSafi::L2VPN_EVPN],
        };
        r.apply(&mut gr);
        assert!(!gr.restarting);
        assert_eq!(gr.preserved, vec![AfiSafi::IPV4_UNICAST], "F(EVPN) clear");
        assert!(r.take_done(now));
        assert!(!r.take_done(now), "reported once");
    }

    #[test]
    fn restart_holds_until_every_gr_peer_sent_evpn_end_of_rib() {
        let now = Instant::now();
        let mut r = RestartState::new(true, now, Duration::from_secs(120), [ip(2), ip(3)]);
        let mut gr = GracefulRestartConfig {
            restart_time: 120,
            restarting: false,
            notification: true,
            preserved: Vec::new(),
        };
        r.apply(&mut gr);
        assert!(gr.restarting);
        assert_eq!(
            gr.preserved,
            vec![AfiSafi::L2VPN_EVPN, AfiSafi::IPV4_UNICAST]
        );
        assert_eq!(r.deadline(), Some(now + Duration::from_secs(120)));

        r.established(ip(2), true);
        r.established(ip(3), true);
        assert!(!r.take_done(now));
        r.end_of_rib(ip(2), AfiSafi::L2VPN_EVPN);
        r.end_of_rib(ip(3), AfiSafi::IPV4_UNICAST);
        assert!(!r.take_done(now), "IPv4 EoR does not count");
        assert!(r.restarting());
        r.end_of_rib(ip(3), AfiSafi::L2VPN_EVPN);
        assert!(r.take_done(now));
        assert!(!r.restarting());
        assert_eq!(r.deadline(), None);
        r.apply(&mut gr);
        assert!(!gr.restarting, "R only in the OPENs of the restart");
        assert_eq!(gr.preserved, preserved(false));
        assert!(!gr.preserved.contains(&AfiSafi::L2VPN_EVPN));
    }

    #[test]
    fn peer_without_evpn_is_not_waited_for() {
        let now = Instant::now();
        let mut r = RestartState::new(true, now, Duration::from_secs(120), [ip(2), ip(3)]);
        r.established(ip(2), false);
        assert!(!r.take_done(now));
        r.established(ip(3), false);
        assert!(r.take_done(now));
    }

    #[test]
    fn restart_time_ends_the_hold_when_a_peer_never_comes() {
        let now = Instant::now();
        let mut r = RestartState::new(true, now, Duration::from_secs(30), [ip(2)]);
        assert!(!r.take_done(now + Duration::from_secs(29)));
        assert!(r.take_done(now + Duration::from_secs(30)));
    }

    #[test]
    fn removed_peer_is_not_waited_for() {
        let now = Instant::now();
        let mut r = RestartState::new(true, now, Duration::from_secs(30), [ip(2)]);
        r.removed(ip(2));
        assert_eq!(r.waiting().count(), 0);
        assert!(r.take_done(now));
    }
}

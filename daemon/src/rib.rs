//! The core's use of `bgp::rib`: peers registered by address, sessions up/down, UPDATEs
//! applied, and the Adj-RIB-Out drained to each peer in paced batches (one batch in
//! flight per peer; the next one only after the peer task queued the last for writing),
//! so a slow peer keeps its backlog as RIB state, not as queued bytes. End-of-RIB
//! follows the initial advertisement of each family.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use bgp::packet::evpn::EvpnRouteKey;
use bgp::packet::{AfiSafi, Ipv4Prefix, Update};
use bgp::rib::{self, PeerId, Rib, RibConfig, LOCAL};
use bgp::session::negotiate::PeerGracefulRestart;
use bgp::session::{Negotiated, StaleRoutes};
use bytes::Bytes;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::control::FamilyCounts;
use crate::peer::PeerSettings;
use crate::routes::{RouteFilter, RouteView};

/// UPDATE messages per batch handed to a peer task.
pub const BATCH: usize = 64;

/// Longest wait for a restarted peer's End-of-RIB while its old routes are kept stale
/// (RFC 4724 4.2 allows such a timer): FRR's `bgp graceful-restart stalepath-time`
/// default.
pub const STALEPATH_TIME: std::time::Duration = std::time::Duration::from_secs(360);

/// The families the RIB keeps.
const FAMILIES: [AfiSafi; 2] = [AfiSafi::L2VPN_EVPN, AfiSafi::IPV4_UNICAST];

/// What to hand a peer task.
pub enum Outgoing {
    /// Packed UPDATEs from the Adj-RIB-Out.
    Encoded(Vec<Bytes>),
    /// End-of-RIB markers.
    Updates(Vec<Update>),
}

struct Up {
    families: Vec<AfiSafi>,
    /// No batch in flight: the next one may be drained.
    ready: bool,
    /// Families whose End-of-RIB is still due (after the initial advertisement).
    eor: Vec<AfiSafi>,
}

/// Of the families whose routes were kept stale, those to remove at once when the peer
/// is back (RFC 4724 section 4.2): the new OPEN has no GR capability, does not list the
/// family, or lists it without the F bit. The others wait for End-of-RIB.
fn unpreserved(kept: &[AfiSafi], gr: Option<&PeerGracefulRestart>) -> Vec<AfiSafi> {
    kept.iter()
        .copied()
        .filter(|f| !gr.is_some_and(|g| g.preserved.contains(f)))
        .collect()
}

/// Appends `more` to `into`.
pub fn merge(into: &mut rib::Changes, more: rib::Changes) {
    into.evpn.extend(more.evpn);
    into.ipv4.extend(more.ipv4);
    into.max_prefix_exceeded.extend(more.max_prefix_exceeded);
}

pub struct SpeakerRib {
    rib: Rib,
    /// Zero of the RIB's clock (`Rib::set_clock`), for route ages.
    epoch: Instant,
    ids: BTreeMap<IpAddr, PeerId>,
    up: BTreeMap<IpAddr, Up>,
    /// Peers whose routes are kept stale (RFC 4724): when the restart time runs out
    /// before the session is back, or the stale-path time after it is back before its
    /// End-of-RIB for the family, the stale routes of those families are swept.
    restart_deadlines: BTreeMap<IpAddr, (Instant, Vec<AfiSafi>)>,
    /// Our IPv4 unicast networks in the Loc-RIB (`[ipv4_unicast] networks`).
    networks: BTreeSet<Ipv4Prefix>,
}

impl SpeakerRib {
    pub fn new(cfg: RibConfig) -> Self {
        Self {
            epoch: Instant::now(),
            rib: Rib::new(cfg),
            ids: BTreeMap::new(),
            up: BTreeMap::new(),
            restart_deadlines: BTreeMap::new(),
            networks: BTreeSet::new(),
        }
    }

    /// Whether the Loc-RIB changes are handed out (on by default). Off for a speaker
    /// without an EVPN service (a spine): nobody consumes them, and building one route
    /// value per change is a cost at a million routes (`Rib::set_collect_changes`).
    pub fn set_collect_changes(&mut self, on: bool) {
        self.rib.set_collect_changes(on);
    }

    /// The session came up; `local` is our end of its TCP connection. Registers the peer
    /// and its families; returns the Loc-RIB changes of stale routes removed because the
    /// peer's new OPEN did not preserve their forwarding state (RFC 4724 section 4.2).
    /// The stale routes it did preserve wait for its End-of-RIB, at most
    /// [`STALEPATH_TIME`].
    pub fn established(
        &mut self,
        addr: IpAddr,
        n: &Negotiated,
        s: &PeerSettings,
        local: Option<IpAddr>,
    ) -> rib::Changes {
        // Back in time: the stale routes now wait for the peer's End-of-RIB instead,
        // except those of families the new OPEN no longer preserves.
        let kept = self
            .restart_deadlines
            .remove(&addr)
            .map(|(_, families)| families)
            .unwrap_or_default();
        let mut out = rib::Changes::default();
        let mut pc = rib::PeerConfig::new(addr, n.peer_as, n.peer_id);
        // The connection's own address: `s.local` is only set when `global.listen` names
        // an address (the usual 0.0.0.0 leaves it empty), and without an address the RIB
        // cannot put ourselves as next hop (next-hop-self, eBGP IPv4 unicast).
        pc.local_address = local.or(s.local);
        pc.rr_client = s.rr_client;
        pc.next_hop_self = s.next_hop_self;
        pc.advertisement_interval = u32::from(s.advertisement_interval);
        pc.opts = n.codec;
        let id = match self.ids.get(&addr) {
            Some(&id) => {
                if let Err(e) = self.rib.set_peer(id, pc) {
                    warn!(peer = %addr, error = %e, "RIB: cannot update the peer");
                }
                id
            }
            None => {
                let id = self.rib.add_peer(pc);
                self.ids.insert(addr, id);
                id
            }
        };
        let families: Vec<AfiSafi> = FAMILIES
            .into_iter()
            .filter(|f| n.families.contains(f))
            .collect();
        let gone = unpreserved(&kept, n.graceful_restart.as_ref());
        for f in &gone {
            // Counted in the peer's Adj-RIB-In: the changes may not be collected.
            let before = self.rib.prefix_count(id, *f);
            if let Ok(ch) = self.rib.sweep_stale(id, *f) {
                let swept = before.saturating_sub(self.rib.prefix_count(id, *f));
                if swept > 0 {
                    info!(peer = %addr, family = %f, routes = swept,
                        "forwarding state not preserved: stale routes removed");
                }
                merge(&mut out, ch);
            }
        }
        let waiting: Vec<AfiSafi> = kept.into_iter().filter(|f| !gone.contains(f)).collect();
        if !waiting.is_empty() {
            // The rest wait for its End-of-RIB, at most the stale-path time.
            self.restart_deadlines
                .insert(addr, (Instant::now() + STALEPATH_TIME, waiting));
        }
        for f in &families {
            if let Err(e) = self.rib.peer_up(id, *f) {
                warn!(peer = %addr, error = %e, "RIB: peer_up");
            }
        }
        self.up.insert(
            addr,
            Up {
                eor: families.clone(),
                families,
                ready: true,
            },
        );
        out
    }

    /// A reload changed the peer's advertisement interval: applies to the running
    /// session (what it holds goes when the new interval allows).
    pub fn set_advertisement_interval(&mut self, addr: IpAddr, secs: u16) {
        let Some(&id) = self.ids.get(&addr) else {
            return;
        };
        if let Ok(mut pc) = self.rib.peer_config(id).cloned() {
            pc.advertisement_interval = u32::from(secs);
            if let Err(e) = self.rib.set_peer(id, pc) {
                warn!(peer = %addr, error = %e, "RIB: cannot update the peer");
            }
        }
    }

    /// The session left Established: withdraw its routes, or keep them stale (GR).
    /// Returns the Loc-RIB changes (routes gone from the EVPN service and the kernel).
    pub fn down(&mut self, addr: IpAddr, stale: Option<&StaleRoutes>) -> rib::Changes {
        let mut out = rib::Changes::default();
        self.up.remove(&addr);
        let Some(&id) = self.ids.get(&addr) else {
            return out;
        };
        match stale {
            Some(s) => {
                self.rib.out_down(id);
                self.restart_deadlines
                    .insert(addr, (Instant::now() + s.restart_time, s.families.clone()));
                for f in FAMILIES {
                    if s.families.contains(&f) {
                        let n = self.rib.mark_stale(id, f).unwrap_or(0);
                        debug!(peer = %addr, family = %f, routes = n, "RIB: kept as stale");
                    } else {
                        // Families outside the peer's GR capability are withdrawn at once.
                        let _ = self.rib.mark_stale(id, f);
                        if let Ok(ch) = self.rib.sweep_stale(id, f) {
                            merge(&mut out, ch);
                        }
                    }
                }
            }
            None => {
                if let Ok(ch) = self.rib.peer_down(id) {
                    merge(&mut out, ch);
                }
            }
        }
        out
    }

    /// When the next restart timer runs out.
    pub fn next_restart_deadline(&self) -> Option<Instant> {
        self.restart_deadlines.values().map(|(t, _)| *t).min()
    }

    /// Sweeps the stale routes of peers whose restart time ran out.
    pub fn restart_timers(&mut self, now: Instant) -> rib::Changes {
        let mut out = rib::Changes::default();
        let due: Vec<IpAddr> = self
            .restart_deadlines
            .iter()
            .filter(|(_, (t, _))| *t <= now)
            .map(|(a, _)| *a)
            .collect();
        for addr in due {
            let Some((_, families)) = self.restart_deadlines.remove(&addr) else {
                continue;
            };
            let Some(&id) = self.ids.get(&addr) else {
                continue;
            };
            for f in families {
                let before = self.rib.prefix_count(id, f);
                if let Ok(ch) = self.rib.sweep_stale(id, f) {
                    let swept = before.saturating_sub(self.rib.prefix_count(id, f));
                    info!(peer = %addr, family = %f, routes = swept, "restart (or stale-path) time over: stale routes removed");
                    merge(&mut out, ch);
                }
            }
        }
        out
    }

    /// The peer is gone for good (removed from the config, dynamic peer ended).
    pub fn removed(&mut self, addr: IpAddr) -> rib::Changes {
        self.up.remove(&addr);
        self.restart_deadlines.remove(&addr);
        match self.ids.remove(&addr) {
            Some(id) => self.rib.remove_peer(id).unwrap_or_default(),
            None => rib::Changes::default(),
        }
    }

    /// Seconds since this RIB was made: the clock stamped on received paths.
    fn clock(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Hands the RIB the time (route ages, advertisement intervals).
    fn set_clock(&mut self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.rib.set_clock_ms(ms);
    }

    /// The earliest time a peer that can take a batch has advertisements held by its
    /// minimum advertisement interval that may then go (`outgoing` sends them).
    pub fn next_advertisement(&self) -> Option<Instant> {
        self.up
            .iter()
            .filter(|(_, up)| up.ready)
            .filter_map(|(addr, up)| {
                let id = *self.ids.get(addr)?;
                up.families
                    .iter()
                    .filter_map(|f| self.rib.advertisement_due(id, *f))
                    .min()
            })
            .min()
            .and_then(|ms| self.epoch.checked_add(std::time::Duration::from_millis(ms)))
    }

    /// Our own EVPN routes into the Loc-RIB (peer LOCAL); peers get them through
    /// their Adj-RIB-Out.
    pub fn originate(&mut self, routes: &[evpn::EvpnRoute]) -> Vec<rib::Change<EvpnRouteKey>> {
        self.set_clock();
        let mut out = Vec::new();
        for r in routes {
            let attrs = rib::PathAttrs {
                next_hop: Some(r.attrs.next_hop),
                ext_communities: r.attrs.ext_communities.clone(),
                pmsi_tunnel: r.attrs.pmsi.clone(),
                ..Default::default()
            };
            out.extend(
                self.rib
                    .originate::<EvpnRouteKey>(std::slice::from_ref(&r.nlri), attrs),
            );
        }
        out
    }

    pub fn withdraw_local(&mut self, keys: &[EvpnRouteKey]) -> Vec<rib::Change<EvpnRouteKey>> {
        self.rib.withdraw_local::<EvpnRouteKey>(keys)
    }

    /// Makes `want` our originated IPv4 unicast networks (at start and on reload): new
    /// ones are originated, dropped ones withdrawn, the rest untouched. Origin IGP and no
    /// next hop of their own, as FRR's `network` routes (0.0.0.0): each peer is sent the
    /// session's own address (the RIB's export rules). Returns (added, removed).
    pub fn set_networks(&mut self, want: &BTreeSet<ipnet::Ipv4Net>) -> (usize, usize) {
        let want: BTreeSet<Ipv4Prefix> = want
            .iter()
            .filter_map(|n| Ipv4Prefix::new(n.network(), n.prefix_len()))
            .collect();
        let added: Vec<Ipv4Prefix> = want.difference(&self.networks).copied().collect();
        let removed: Vec<Ipv4Prefix> = self.networks.difference(&want).copied().collect();
        if !added.is_empty() {
            self.set_clock();
            let attrs = rib::PathAttrs {
                origin: bgp::packet::Origin::Igp,
                ..Default::default()
            };
            self.rib.originate::<Ipv4Prefix>(&added, attrs);
        }
        if !removed.is_empty() {
            self.rib.withdraw_local::<Ipv4Prefix>(&removed);
        }
        self.networks = want;
        (added.len(), removed.len())
    }

    /// The session address of a RIB peer (`None` for LOCAL or an unknown id).
    pub fn address_of(&self, id: PeerId) -> Option<IpAddr> {
        if id == LOCAL {
            return None;
        }
        self.rib.peer_config(id).ok().map(|c| c.address)
    }

    /// Applies an UPDATE (End-of-RIB sweeps the peer's stale routes). Returns the
    /// Loc-RIB changes for the EVPN service, and the Adj-RIB-In sizes per family for
    /// max-prefix.
    pub fn update(&mut self, addr: IpAddr, u: &Update) -> Option<rib::Changes> {
        self.set_clock();
        let id = *self.ids.get(&addr)?;
        if let Some(f) = u.is_end_of_rib() {
            if let Some((_, waiting)) = self.restart_deadlines.get_mut(&addr) {
                waiting.retain(|w| *w != f);
                if waiting.is_empty() {
                    self.restart_deadlines.remove(&addr);
                }
            }
            return self.rib.sweep_stale(id, f).ok();
        }
        match self.rib.apply_update(id, u) {
            Ok(ch) => Some(ch),
            Err(e) => {
                debug!(peer = %addr, error = %e, "RIB: UPDATE not applied");
                None
            }
        }
    }

    /// Routes held from `addr` in `family`.
    pub fn prefix_count(&self, addr: IpAddr, family: AfiSafi) -> u64 {
        self.ids
            .get(&addr)
            .map_or(0, |&id| u64::from(self.rib.prefix_count(id, family)))
    }

    /// ROUTE-REFRESH from the peer: re-advertise the family from scratch.
    pub fn refresh(&mut self, addr: IpAddr, family: AfiSafi) {
        let (Some(&id), Some(up)) = (self.ids.get(&addr), self.up.get(&addr)) else {
            return;
        };
        if up.families.contains(&family) {
            if let Err(e) = self.rib.peer_up(id, family) {
                warn!(peer = %addr, error = %e, "RIB: refresh");
            }
        }
    }

    /// The peer task queued the last batch: the next one may go.
    pub fn batch_done(&mut self, addr: IpAddr) {
        if let Some(u) = self.up.get_mut(&addr) {
            u.ready = true;
        }
    }

    /// The next batch for every peer that has none in flight and something pending.
    pub fn outgoing(&mut self) -> Vec<(IpAddr, Outgoing)> {
        // Held advertisements whose interval ran out count as pending from now.
        self.set_clock();
        let mut out = Vec::new();
        for (addr, up) in self.up.iter_mut() {
            if !up.ready {
                continue;
            }
            let Some(&id) = self.ids.get(addr) else {
                continue;
            };
            let mut msgs = Vec::new();
            for f in &up.families {
                while msgs.len() < BATCH && self.rib.pending(id, *f) > 0 {
                    match self.rib.drain(id, *f, BATCH - msgs.len()) {
                        Ok(v) if v.is_empty() => break,
                        Ok(v) => msgs.extend(v.into_iter().map(|b| b.freeze())),
                        Err(e) => {
                            warn!(peer = %addr, error = %e, "RIB: drain failed");
                            break;
                        }
                    }
                }
            }
            if !msgs.is_empty() {
                up.ready = false;
                out.push((*addr, Outgoing::Encoded(msgs)));
                continue;
            }
            // Initial advertisement done for these families: End-of-RIB.
            let done: Vec<AfiSafi> = up
                .eor
                .iter()
                .copied()
                .filter(|f| self.rib.pending(id, *f) == 0)
                .collect();
            if !done.is_empty() {
                up.eor.retain(|f| !done.contains(f));
                up.ready = false;
                out.push((
                    *addr,
                    Outgoing::Updates(done.into_iter().map(Update::end_of_rib).collect()),
                ));
            }
        }
        out
    }

    /// The RIB's drop counters for `addr` (zero for a peer it does not know yet).
    pub fn stats(&self, addr: IpAddr) -> crate::control::PeerRibStats {
        self.ids
            .get(&addr)
            .and_then(|&id| self.rib.stats(id).ok())
            .map(|s| crate::control::PeerRibStats {
                loops_dropped: s.loops_dropped,
                treated_as_withdraw: s.treated_as_withdraw,
                unsendable: s.unsendable,
            })
            .unwrap_or_default()
    }

    pub fn counts(&self, addr: IpAddr) -> Vec<FamilyCounts> {
        let Some(&id) = self.ids.get(&addr) else {
            return vec![FamilyCounts {
                family: AfiSafi::L2VPN_EVPN.to_string(),
                received: 0,
                sent: 0,
            }];
        };
        let mut v = Vec::new();
        let evpn_sent = self
            .rib
            .adj_out::<EvpnRouteKey>(id)
            .map_or(0, |o| o.advertised());
        v.push(FamilyCounts {
            family: AfiSafi::L2VPN_EVPN.to_string(),
            received: u64::from(self.rib.prefix_count(id, AfiSafi::L2VPN_EVPN)),
            sent: evpn_sent as u64,
        });
        let v4_in = self.rib.prefix_count(id, AfiSafi::IPV4_UNICAST);
        let v4_out = self
            .rib
            .adj_out::<bgp::packet::Ipv4Prefix>(id)
            .map_or(0, |o| o.advertised());
        let negotiated = self
            .up
            .get(&addr)
            .is_some_and(|u| u.families.contains(&AfiSafi::IPV4_UNICAST));
        if negotiated || v4_in > 0 || v4_out > 0 {
            v.push(FamilyCounts {
                family: AfiSafi::IPV4_UNICAST.to_string(),
                received: u64::from(v4_in),
                sent: v4_out as u64,
            });
        }
        v
    }

    /// Loc-RIB EVPN routes (best paths) by route type.
    pub fn evpn_route_counts(&self) -> std::collections::BTreeMap<u8, u64> {
        let mut m = std::collections::BTreeMap::new();
        for (key, _) in self.rib.table::<EvpnRouteKey>().iter() {
            *m.entry(key.route_type()).or_insert(0) += 1;
        }
        m
    }

    /// Every IPv4 unicast path (best first per prefix), of `peer` only when given.
    pub fn ipv4_rows(&self, peer: Option<IpAddr>) -> Vec<crate::routes::Ipv4RouteView> {
        let now = self.clock();
        let table = self.rib.table::<Ipv4Prefix>();
        let mut rows = Vec::new();
        for (key, _) in table.iter() {
            for (i, p) in table.paths(key).iter().enumerate() {
                let from = self.address_of(p.peer);
                if peer.is_some_and(|want| from != Some(want)) {
                    continue;
                }
                let Some(route) = self.rib.received(key, p.peer) else {
                    continue;
                };
                let age = u64::from(now.saturating_sub(p.since));
                rows.push(crate::routes::Ipv4RouteView::from_rib(
                    from,
                    key,
                    &route.attrs,
                    i == 0,
                    route.stale,
                    age,
                ));
            }
        }
        rows
    }

    /// Every EVPN path (best first per route) passing `f`.
    pub fn rows(&self, f: &RouteFilter) -> Vec<RouteView> {
        let now = self.clock();
        let table = self.rib.table::<EvpnRouteKey>();
        let mut rows = Vec::new();
        for (key, _) in table.iter() {
            for (i, p) in table.paths(key).iter().enumerate() {
                let Some(route) = self.rib.received(key, p.peer) else {
                    continue;
                };
                let peer = if p.peer == LOCAL {
                    None
                } else {
                    self.rib.peer_config(p.peer).ok().map(|c| c.address)
                };
                let age = u64::from(now.saturating_sub(p.since));
                let row =
                    RouteView::from_rib(peer, &route.nlri, &route.attrs, i == 0, route.stale, age);
                if f.matches(&row) {
                    rows.push(row);
                }
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use bgp::packet::evpn::{EvpnNlri, InclusiveMulticastEthernetTag};
    use bgp::packet::types::RouteDistinguisher;
    use bgp::packet::Ipv4Prefix;
    use bgp::packet::{DecodeOptions, Message};
    use bgp::session::{build_open, negotiate, RemoteAs};

    use super::*;
    use crate::config::{self, Global, NextHopMode, PeerSettings as PeerFileSettings};
    use crate::peer::settings;

    const VTEP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);

    /// An eBGP spine (AS 65000, `listen = 0.0.0.0:179` as in the labs, so no configured
    /// source address) with one peer per next-hop mode; returns the next hop each peer is
    /// sent for a locally originated EVPN route with next hop `VTEP`.
    fn next_hops_sent() -> BTreeMap<IpAddr, Option<IpAddr>> {
        let global = Global {
            asn: 65000,
            router_id: Ipv4Addr::new(10, 0, 0, 100),
            listen: vec!["0.0.0.0:179".parse().expect("addr")],
            cluster_id: None,
            restart_time: 120,
        };
        let mut r = SpeakerRib::new(RibConfig::new(65000, global.router_id));
        let peers = [
            (Ipv4Addr::new(10, 1, 1, 1), 65001, NextHopMode::Unchanged),
            (Ipv4Addr::new(10, 1, 2, 1), 65002, NextHopMode::SelfAddress),
        ];
        for (addr, asn, mode) in peers {
            let own = PeerFileSettings {
                next_hop: Some(mode),
                ..Default::default()
            };
            let pc = config::finish(IpAddr::V4(addr), None, config::RemoteAs::Asn(asn), &own);
            let s = settings::build(&global, &pc, false, None);
            assert_eq!(s.local, None, "listen 0.0.0.0 names no source address");
            let theirs = bgp::session::PeerConfig::new(
                asn,
                RemoteAs::Asn(65000),
                addr,
                vec![AfiSafi::L2VPN_EVPN],
            );
            let n = negotiate(&s.session, &build_open(&s.session), &build_open(&theirs))
                .expect("negotiate");
            // Our end of the /31: the spine's .0.
            let local = Ipv4Addr::from(u32::from(addr) ^ 1);
            r.established(IpAddr::V4(addr), &n, &s, Some(IpAddr::V4(local)));
        }
        let nlri = EvpnNlri::InclusiveMulticast(InclusiveMulticastEthernetTag {
            rd: RouteDistinguisher::Ipv4 {
                addr: VTEP,
                number: 2,
            },
            ethernet_tag: 0,
            originator: IpAddr::V4(VTEP),
        });
        let attrs = Arc::new(evpn::PathAttrs {
            next_hop: IpAddr::V4(VTEP),
            ext_communities: Vec::new(),
            pmsi: None,
        });
        r.originate(&[evpn::EvpnRoute { nlri, attrs }]);
        let mut sent = BTreeMap::new();
        for (addr, out) in r.outgoing() {
            let Outgoing::Encoded(msgs) = out else {
                continue;
            };
            for m in msgs {
                if let Ok(Message::Update(u)) = Message::decode(&m, &DecodeOptions::default()) {
                    if let Some(mp) = u.mp_reach() {
                        sent.insert(addr, mp.next_hop.ip());
                    }
                }
            }
        }
        sent
    }

    #[test]
    fn next_hop_self_uses_the_sessions_own_address() {
        let vtep = Some(IpAddr::V4(VTEP));
        let sent = next_hops_sent();
        assert_eq!(
            sent.get(&IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1))),
            Some(&vtep),
            "unchanged keeps the VTEP: {sent:?}"
        );
        assert_eq!(
            sent.get(&IpAddr::V4(Ipv4Addr::new(10, 1, 2, 1))),
            Some(&Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 0)))),
            "next-hop-self sends our address on that session: {sent:?}"
        );
    }

    /// One iBGP peer at 10.1.1.1 (AS 65000) with IPv4 unicast and GR comes up; `theirs_f`:
    /// the families its OPEN sets the F bit for. Returns its address and what the
    /// session coming up removed.
    fn ipv4_peer(r: &mut SpeakerRib, theirs_f: Vec<AfiSafi>) -> (IpAddr, rib::Changes) {
        let global = Global {
            asn: 65000,
            router_id: Ipv4Addr::new(10, 0, 0, 100),
            listen: vec![],
            cluster_id: None,
            restart_time: 120,
        };
        let addr = Ipv4Addr::new(10, 1, 1, 1);
        let own = PeerFileSettings {
            ipv4_unicast: Some(true),
            ..Default::default()
        };
        let pc = config::finish(IpAddr::V4(addr), None, config::RemoteAs::Asn(65000), &own);
        let s = settings::build(&global, &pc, false, None);
        let mut theirs = bgp::session::PeerConfig::new(
            65000,
            RemoteAs::Asn(65000),
            Ipv4Addr::new(10, 0, 0, 1),
            vec![AfiSafi::L2VPN_EVPN, AfiSafi::IPV4_UNICAST],
        );
        theirs.graceful_restart = Some(bgp::session::GracefulRestartConfig {
            restart_time: 120,
            restarting: true,
            notification: true,
            preserved: theirs_f,
        });
        let n = negotiate(&s.session, &build_open(&s.session), &build_open(&theirs))
            .expect("negotiate");
        let ch = r.established(
            IpAddr::V4(addr),
            &n,
            &s,
            Some(IpAddr::V4(Ipv4Addr::new(10, 1, 1, 0))),
        );
        (IpAddr::V4(addr), ch)
    }

    /// The IPv4 UPDATEs of one `outgoing` run: (announced with next hop, withdrawn,
    /// End-of-RIB seen).
    type Sent = (Vec<(Ipv4Prefix, Option<Ipv4Addr>)>, Vec<Ipv4Prefix>, bool);

    fn sent(r: &mut SpeakerRib, to: IpAddr) -> Sent {
        let mut out: Sent = (Vec::new(), Vec::new(), false);
        loop {
            let batch = r.outgoing();
            if batch.is_empty() {
                return out;
            }
            for (addr, o) in batch {
                assert_eq!(addr, to);
                r.batch_done(addr);
                let updates = match o {
                    Outgoing::Encoded(msgs) => msgs
                        .iter()
                        .filter_map(|m| match Message::decode(m, &DecodeOptions::default()) {
                            Ok(Message::Update(u)) => Some(u),
                            _ => None,
                        })
                        .collect(),
                    Outgoing::Updates(u) => u,
                };
                for u in updates {
                    out.2 |= u.is_end_of_rib() == Some(AfiSafi::IPV4_UNICAST);
                    out.0.extend(u.nlri.iter().map(|p| (*p, u.next_hop())));
                    out.1.extend(u.withdrawn.iter().copied());
                }
            }
        }
    }

    fn nets(v: &[&str]) -> BTreeSet<ipnet::Ipv4Net> {
        v.iter().map(|s| s.parse().expect("prefix")).collect()
    }

    fn pfx(s: &str) -> Ipv4Prefix {
        let n: ipnet::Ipv4Net = s.parse().expect("prefix");
        Ipv4Prefix::new(n.network(), n.prefix_len()).expect("len")
    }

    /// `[ipv4_unicast] networks` at start go in the initial advertisement (our address as
    /// next hop) before End-of-RIB; a reload sends only the difference.
    #[test]
    fn networks_originated_at_start_and_reload_sends_the_difference() {
        let mut r = SpeakerRib::new(RibConfig::new(65000, Ipv4Addr::new(10, 0, 0, 100)));
        assert_eq!(
            r.set_networks(&nets(&["10.0.0.1/32", "10.9.0.0/16"])),
            (2, 0)
        );
        let (peer, _) = ipv4_peer(&mut r, vec![]);
        let ours = Some(Ipv4Addr::new(10, 1, 1, 0));
        let (mut ann, wd, eor) = sent(&mut r, peer);
        ann.sort();
        assert_eq!(r.counts(peer)[1].sent, 2);
        assert_eq!(
            ann,
            vec![(pfx("10.0.0.1/32"), ours), (pfx("10.9.0.0/16"), ours)]
        );
        assert!(wd.is_empty() && eor, "End-of-RIB after the networks");

        assert_eq!(
            r.set_networks(&nets(&["10.0.0.1/32", "10.9.0.0/16"])),
            (0, 0)
        );
        assert_eq!(sent(&mut r, peer), (vec![], vec![], false), "unchanged");
        assert_eq!(
            r.set_networks(&nets(&["10.0.0.1/32", "192.0.2.0/24"])),
            (1, 1)
        );
        assert_eq!(
            sent(&mut r, peer),
            (
                vec![(pfx("192.0.2.0/24"), ours)],
                vec![pfx("10.9.0.0/16")],
                false
            )
        );
        assert_eq!(r.set_networks(&BTreeSet::new()), (0, 2));
        let (_, mut wd, _) = sent(&mut r, peer);
        wd.sort();
        assert_eq!(wd, vec![pfx("10.0.0.1/32"), pfx("192.0.2.0/24")]);
        let c = r.counts(peer);
        assert_eq!(c[1].family, AfiSafi::IPV4_UNICAST.to_string(), "{c:?}");
        assert_eq!((c[1].received, c[1].sent), (0, 0), "shown while negotiated");
    }

    /// RFC 4724 4.2 as helper: the peer's routes kept stale across its restart stay until
    /// its End-of-RIB when its new OPEN sets F for the family, and go at once when not.
    #[test]
    fn stale_routes_without_the_f_bit_go_when_the_peer_is_back() {
        for keep in [true, false] {
            let mut r = SpeakerRib::new(RibConfig::new(65000, Ipv4Addr::new(10, 0, 0, 100)));
            let (peer, ch) = ipv4_peer(&mut r, vec![AfiSafi::IPV4_UNICAST]);
            assert!(ch.ipv4.is_empty(), "nothing stale on a first session");
            let u = Update {
                attributes: rib::PathAttrs {
                    next_hop: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1))),
                    ..Default::default()
                }
                .to_attributes_with_next_hop(),
                nlri: vec![pfx("10.0.0.1/32")],
                ..Default::default()
            };
            assert_eq!(r.update(peer, &u).expect("applied").ipv4.len(), 1);
            let stale = StaleRoutes {
                restart_time: std::time::Duration::from_secs(120),
                families: vec![AfiSafi::IPV4_UNICAST],
            };
            assert!(r.down(peer, Some(&stale)).ipv4.is_empty(), "kept stale");
            assert_eq!(r.prefix_count(peer, AfiSafi::IPV4_UNICAST), 1);
            let f = if keep {
                vec![AfiSafi::IPV4_UNICAST]
            } else {
                vec![]
            };
            let (_, ch) = ipv4_peer(&mut r, f);
            assert_eq!(
                ch.ipv4.len(),
                usize::from(!keep),
                "F {keep}: removed at once?"
            );
            let left = r.prefix_count(peer, AfiSafi::IPV4_UNICAST);
            assert_eq!(left, u64::from(keep), "F {keep}: stale kept?");
            if keep {
                let ch = r
                    .update(peer, &Update::end_of_rib(AfiSafi::IPV4_UNICAST))
                    .expect("EoR");
                assert_eq!(ch.ipv4.len(), 1, "swept at End-of-RIB");
            }
            assert_eq!(r.next_restart_deadline(), None, "nothing left to wait for");
        }
    }

    /// A restarted peer that keeps F but never sends End-of-RIB: its stale routes go
    /// when the stale-path time runs out, not never.
    #[test]
    fn stale_routes_go_after_the_stalepath_time_without_end_of_rib() {
        let mut r = SpeakerRib::new(RibConfig::new(65000, Ipv4Addr::new(10, 0, 0, 100)));
        let (peer, _) = ipv4_peer(&mut r, vec![AfiSafi::IPV4_UNICAST]);
        let u = Update {
            attributes: rib::PathAttrs {
                next_hop: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1))),
                ..Default::default()
            }
            .to_attributes_with_next_hop(),
            nlri: vec![pfx("10.0.0.1/32"), pfx("10.0.0.2/32")],
            ..Default::default()
        };
        r.update(peer, &u).expect("applied");
        let stale = StaleRoutes {
            restart_time: std::time::Duration::from_secs(5),
            families: vec![AfiSafi::IPV4_UNICAST],
        };
        r.down(peer, Some(&stale));
        let (_, ch) = ipv4_peer(&mut r, vec![AfiSafi::IPV4_UNICAST]);
        assert!(ch.ipv4.is_empty());
        let at = r.next_restart_deadline().expect("stale-path timer");
        assert!(
            at > Instant::now() + std::time::Duration::from_secs(300),
            "not the 5 s restart time"
        );
        assert!(r.restart_timers(Instant::now()).ipv4.is_empty(), "not yet");
        assert_eq!(
            r.restart_timers(at).ipv4.len(),
            2,
            "swept at the stale-path time"
        );
        assert_eq!(r.prefix_count(peer, AfiSafi::IPV4_UNICAST), 0);
    }

    fn gr(families: &[AfiSafi], preserved: &[AfiSafi]) -> PeerGracefulRestart {
        PeerGracefulRestart {
            restart_time: 120,
            restart_state: true,
            notification: false,
            preserved: preserved.to_vec(),
            families: families.to_vec(),
        }
    }

    /// RFC 4724 section 4.2 on the new OPEN, from a table: (kept stale, new OPEN's GR
    /// capability, families whose stale routes go at once).
    #[test]
    fn stale_routes_kept_only_where_the_new_open_preserves_forwarding() {
        const E: AfiSafi = AfiSafi::L2VPN_EVPN;
        const V4: AfiSafi = AfiSafi::IPV4_UNICAST;
        type Case = (
            &'static str,
            Vec<AfiSafi>,
            Option<PeerGracefulRestart>,
            Vec<AfiSafi>,
        );
        let cases: Vec<Case> = vec![
            ("nothing kept", vec![], Some(gr(&[E], &[])), vec![]),
            (
                "F set: wait for End-of-RIB",
                vec![E],
                Some(gr(&[E], &[E])),
                vec![],
            ),
            // FRR 8.4: lists EVPN with F = 0.
            ("listed, F = 0", vec![E], Some(gr(&[E, V4], &[])), vec![E]),
            ("not listed", vec![E, V4], Some(gr(&[V4], &[V4])), vec![E]),
            ("no GR capability", vec![E, V4], None, vec![E, V4]),
            (
                "F on one family only",
                vec![E, V4],
                Some(gr(&[E, V4], &[V4])),
                vec![E],
            ),
        ];
        for (name, kept, cap, want) in cases {
            assert_eq!(unpreserved(&kept, cap.as_ref()), want, "{name}");
        }
    }
}

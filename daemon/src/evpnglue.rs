//! The core's side of the EVPN service: Loc-RIB best changes and kernel state go in,
//! our routes go into the RIB (peer LOCAL, so peers get them through the Adj-RIB-Out)
//! and the desired dataplane changes go to the fib task.
//!
//! ```text
//!  Loc-RIB changes ──route_received/withdrawn──┐
//!  fib Snapshot/Event ──topology, local MACs───┤
//!                                              v
//!                                        EvpnService ──advertise/withdraw──> Rib::originate
//!                                              │                              /withdraw_local
//!                                              └──FibDelta (coalesced)──> fib task
//! ```
//!
//! Our own routes coming back as Loc-RIB changes are skipped (they are no import), so
//! the loop between origination and import ends after one round.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bgp::packet::evpn::EvpnRouteKey;
use bgp::rib::{Change, LOCAL};
use evpn::{EvpnService, FibDelta, Output, ReceivedRoute, RouteSource};
use fib::{FdbKey, LocalMac, NeighKey, Snapshot};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::fibtask::FibCmd;
use crate::rib::SpeakerRib;

pub struct EvpnGlue {
    pub svc: EvpnService,
    t0: Instant,
    fib: Option<mpsc::UnboundedSender<FibCmd>>,
    /// Desired-state changes not yet handed to the fib task (sent once per core turn).
    pending: FibDelta,
    arp_suppression: bool,
    /// The kernel topology last seen (device names for `show vni` / `show macs`).
    pub topology: fib::Topology,
    attrs: AttrCache,
}

/// The EVPN attribute set of each RIB attribute set, made once: the RIB interns its
/// attributes (one `Arc` per distinct set), so a million routes share a few thousand.
/// Handing the service the same `Arc` for every route of a set spares an allocation and
/// a copy of the communities per route, and lets the importer find the set by address
/// instead of hashing it.
#[derive(Default)]
struct AttrCache {
    /// Address of the RIB's `Arc` -> (that allocation, ours). The `Weak` keeps the
    /// allocation (not the value) alive, so its address cannot name another set while
    /// the entry exists.
    map: HashMap<usize, (Weak<bgp::rib::PathAttrs>, Arc<evpn::PathAttrs>)>,
    /// Size after the last sweep; the next one comes at twice that.
    swept: usize,
}

impl AttrCache {
    /// Entries below which no sweep runs.
    const MIN_SWEEP: usize = 1024;

    fn get(&mut self, rib: &Arc<bgp::rib::PathAttrs>, next_hop: IpAddr) -> Arc<evpn::PathAttrs> {
        let addr = Arc::as_ptr(rib) as usize;
        if let Some((_, ours)) = self.map.get(&addr) {
            return ours.clone();
        }
        if self.map.len() >= Self::MIN_SWEEP.max(self.swept * 2) {
            // Sets the RIB has freed: amortized O(1) per insert.
            self.map.retain(|_, (w, _)| w.strong_count() > 0);
            self.swept = self.map.len();
        }
        let ours = Arc::new(evpn::PathAttrs {
            next_hop,
            ext_communities: rib.ext_communities.clone(),
            pmsi: rib.pmsi_tunnel.clone(),
        });
        self.map.insert(addr, (Arc::downgrade(rib), ours.clone()));
        ours
    }
}

/// The service configuration from evpnd's `[evpn]` section.
pub fn service_config(c: &Config) -> evpn::EvpnConfig {
    let g = &c.file.global;
    let e = &c.file.evpn;
    let mut sc = evpn::EvpnConfig::new(g.asn, g.router_id);
    sc.advertise = if e.advertise_all_vni {
        evpn::AdvertiseVnis::All
    } else {
        evpn::AdvertiseVnis::Only(e.vnis.iter().map(|v| fib::Vni(*v)).collect())
    };
    for (k, o) in &e.vni {
        // Validated as a VNI number on load.
        if let Ok(v) = k.parse::<u32>() {
            sc.vni.insert(
                fib::Vni(v),
                evpn::VniConfig {
                    rd: o.rd,
                    import_rt: o.import_rt.clone(),
                    export_rt: o.export_rt.clone(),
                },
            );
        }
    }
    let d = &e.duplicate_detection;
    sc.dad = evpn::DadConfig {
        enabled: true,
        max_moves: d.max_moves,
        window_secs: u64::from(d.window),
    };
    sc
}

impl EvpnGlue {
    pub fn new(c: &Config, fib: Option<mpsc::UnboundedSender<FibCmd>>) -> Self {
        Self {
            svc: EvpnService::new(service_config(c)),
            t0: Instant::now(),
            fib,
            pending: FibDelta::default(),
            arp_suppression: c.file.evpn.arp_suppression,
            topology: fib::Topology::default(),
            attrs: AttrCache::default(),
        }
    }

    fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    pub fn fib(&self) -> Option<&mpsc::UnboundedSender<FibCmd>> {
        self.fib.as_ref()
    }

    /// Loc-RIB best changes of the EVPN family into the service (and what follows).
    pub fn rib_changes(&mut self, rib: &mut SpeakerRib, changes: Vec<Change<EvpnRouteKey>>) {
        let mut queue = changes;
        // Each round feeds back only our own routes' changes, which are skipped.
        while !queue.is_empty() {
            let mut next = Vec::new();
            for c in queue {
                let out = match c.best {
                    Some(r) if r.peer == LOCAL => continue,
                    Some(r) => {
                        let Some(next_hop) = r.attrs.next_hop else {
                            continue;
                        };
                        let Some(peer) = rib.address_of(r.peer) else {
                            continue;
                        };
                        let route = ReceivedRoute {
                            route: evpn::EvpnRoute {
                                nlri: r.nlri,
                                attrs: self.attrs.get(&r.attrs, next_hop),
                            },
                            source: RouteSource {
                                peer,
                                originator_id: r.attrs.originator_id,
                            },
                        };
                        let now = self.now();
                        let (verdict, out) = self.svc.route_received(&route, now);
                        debug!(route = %route.route.nlri, ?verdict, "EVPN: best path");
                        out
                    }
                    None => {
                        let now = self.now();
                        self.svc.route_withdrawn(&c.key, now)
                    }
                };
                next.extend(self.output(rib, out));
            }
            queue = next;
        }
    }

    /// Applies one service output; returns the Loc-RIB changes our routes caused.
    fn output(&mut self, rib: &mut SpeakerRib, mut out: Output) -> Vec<Change<EvpnRouteKey>> {
        for e in &out.events {
            match e {
                evpn::Event::MacMovedAway { key, .. } => {
                    info!(event = ?e, "EVPN: MAC moved");
                    // fib's supersede_local moves the bridge row to the VXLAN port, but
                    // the kernel monitor does not report that as a local MAC removal, so
                    // the service would keep a ghost local MAC (re-advertised once the
                    // remote route goes). Deleting the row first makes the kernel say so.
                    if let Some(tx) = &self.fib {
                        let _ = tx.send(FibCmd::DeleteLocalMac(*key));
                    }
                }
                _ => warn!(event = ?e, "EVPN"),
            }
        }
        if !self.arp_suppression {
            out.fib.neigh.clear();
        }
        self.pending.append(out.fib);
        let mut ch = Vec::new();
        if !out.advertise.is_empty() {
            debug!(routes = out.advertise.len(), "EVPN: originate");
            ch.extend(rib.originate(&out.advertise));
        }
        if !out.withdraw.is_empty() {
            debug!(routes = out.withdraw.len(), "EVPN: withdraw");
            ch.extend(rib.withdraw_local(&out.withdraw));
        }
        ch
    }

    fn apply(&mut self, rib: &mut SpeakerRib, out: Output) {
        let ch = self.output(rib, out);
        self.rib_changes(rib, ch);
    }

    /// A kernel dump (start, resync): topology, then the local state's difference.
    pub fn snapshot(&mut self, rib: &mut SpeakerRib, s: &Snapshot) {
        let now = self.now();
        self.topology = s.topology.clone();
        let out = self.svc.set_topology(&s.topology, now);
        self.apply(rib, out);
        let old = self.svc.local().clone();
        for k in old.macs.keys() {
            if !s.local.macs.contains_key(k) {
                let out = self.svc.local_mac_removed(*k, now);
                self.apply(rib, out);
            }
        }
        for (k, m) in &s.local.macs {
            if old.macs.get(k) != Some(m) {
                let out = self.svc.local_mac_added(*k, *m, now);
                self.apply(rib, out);
            }
        }
        for k in old.neigh.keys() {
            if !s.local.neigh.contains_key(k) {
                let out = self.svc.local_neigh_removed(*k);
                self.apply(rib, out);
            }
        }
        for (k, m) in &s.local.neigh {
            if old.neigh.get(k) != Some(m) {
                let out = self.svc.local_neigh_added(*k, *m);
                self.apply(rib, out);
            }
        }
        info!(
            vnis = self.svc.instances().len(),
            local_macs = self.svc.local().macs.len(),
            originated = self.svc.originated().len(),
            "EVPN: kernel state loaded"
        );
    }

    /// One kernel event.
    pub fn event(&mut self, rib: &mut SpeakerRib, ev: fib::Event) {
        let now = self.now();
        let out = match ev {
            fib::Event::Topology(t) => {
                info!(
                    bridges = t.bridges.len(),
                    vxlans = t.vxlans.len(),
                    "EVPN: topology changed"
                );
                let out = self.svc.set_topology(&t, now);
                self.topology = t;
                out
            }
            fib::Event::LocalMacAdded {
                vni,
                mac,
                port,
                sticky,
            } => {
                debug!(%vni, %mac, port, "EVPN: local MAC");
                self.svc
                    .local_mac_added(FdbKey { vni, mac }, LocalMac { port, sticky }, now)
            }
            fib::Event::LocalMacRemoved { vni, mac } => {
                debug!(%vni, %mac, "EVPN: local MAC gone");
                self.svc.local_mac_removed(FdbKey { vni, mac }, now)
            }
            fib::Event::LocalNeighAdded { vni, ip, mac } => {
                self.svc.local_neigh_added(NeighKey { vni, ip }, mac)
            }
            fib::Event::LocalNeighRemoved { vni, ip } => {
                self.svc.local_neigh_removed(NeighKey { vni, ip })
            }
            // The fib task re-syncs those itself; Resync arrives as a Snapshot.
            fib::Event::OwnedRemoved(_) | fib::Event::Resync => return,
        };
        self.apply(rib, out);
    }

    /// Hands the coalesced desired-state changes to the fib task.
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let d = std::mem::take(&mut self.pending);
        if let Some(tx) = &self.fib {
            if tx.send(FibCmd::Delta(d)).is_err() {
                warn!("FIB task gone: desired state no longer programmed");
                self.fib = None;
            }
        }
    }

    /// A reloaded `[evpn]` section: VNI selection, RD/RT overrides, DAD, ARP suppression.
    pub fn reload(&mut self, rib: &mut SpeakerRib, c: &Config) {
        let sc = service_config(c);
        let arp = c.file.evpn.arp_suppression;
        if sc == *self.svc.config() && arp == self.arp_suppression {
            return;
        }
        if arp != self.arp_suppression {
            // Neighbour entries follow from here on; existing ones are not re-derived.
            warn!(
                arp_suppression = arp,
                "evpn.arp_suppression changed: applies to new neighbour entries"
            );
            self.arp_suppression = arp;
        }
        let now = self.now();
        let topology = self.topology.clone();
        let out = self.svc.set_config(sc, &topology, now);
        info!(
            advertise = out.advertise.len(),
            withdraw = out.withdraw.len(),
            "EVPN: configuration reloaded"
        );
        self.apply(rib, out);
    }

    pub fn tick(&mut self) {
        let now = self.now();
        self.svc.tick(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &str) -> Config {
        let dir = std::env::temp_dir().join(format!("evt-wire-glue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("c{}.toml", extra.len()));
        let text = format!(
            "[global]\nasn = 65000\nrouter_id = \"10.0.0.1\"\n[evpn]\nadvertise_all_vni = true\n[fib]\non_shutdown = \"remove\"\n{extra}"
        );
        std::fs::write(&path, text).unwrap();
        let c = Config::load_with_env(&path, Vec::new()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        c
    }

    #[test]
    fn attr_cache_shares_one_arc_per_rib_set_and_forgets_freed_sets() {
        let nh = IpAddr::from([10, 0, 0, 2]);
        let set = |rt: u32| {
            Arc::new(bgp::rib::PathAttrs {
                next_hop: Some(nh),
                ext_communities: vec![bgp::packet::extcomm::ExtendedCommunity::route_target(
                    bgp::packet::extcomm::RouteTarget::As2 {
                        asn: 65000,
                        value: rt,
                    },
                )],
                ..Default::default()
            })
        };
        let mut c = AttrCache::default();
        let a = set(100);
        let x = c.get(&a, nh);
        assert!(
            Arc::ptr_eq(&x, &c.get(&a.clone(), nh)),
            "same RIB set, same Arc"
        );
        assert_eq!(x.ext_communities, a.ext_communities);
        assert_eq!(x.next_hop, nh);
        let b = set(200);
        assert!(!Arc::ptr_eq(&x, &c.get(&b, nh)));
        // Sets the RIB freed go at the next sweep; live ones stay.
        drop(b);
        let mut live = Vec::new();
        for i in 0..AttrCache::MIN_SWEEP as u32 {
            let s = set(1000 + i);
            c.get(&s, nh);
            live.push(s);
        }
        assert_eq!(
            c.map.len(),
            AttrCache::MIN_SWEEP + 1,
            "a sweep ran: b is gone"
        );
        assert!(Arc::ptr_eq(&x, &c.get(&a, nh)), "a survived the sweep");
    }

    #[test]
    fn service_config_takes_overrides_and_vni_selection() {
        let c = load("[evpn.vni.100]\nexport_rt = [\"65000:999\"]\n");
        let sc = service_config(&c);
        assert_eq!(sc.advertise, evpn::AdvertiseVnis::All);
        let o = sc.vni.get(&fib::Vni(100)).expect("override of VNI 100");
        assert_eq!(o.export_rt.len(), 1);
        assert_eq!(o.export_rt[0].to_string(), "65000:999");
        assert_ne!(sc, service_config(&load("")));
    }
}

//! The EVPN service: one sans-IO state machine tying instances, origination, import and
//! MAC mobility together. Every input is a method call with plain data (and the current
//! monotonic time where mobility needs it); every call returns an [`Output`]: routes to
//! advertise or withdraw, changes to the desired dataplane state, and events to log.
//!
//! ```text
//!  kernel (fib) ──local MACs/neighs, topology──┐
//!                                              v
//!                 ┌──────────── EvpnService ─────────────┐
//!  RIB best paths │ Importer ──remote best──> Mobility   │──> advertise / withdraw (speaker)
//!  ──────────────>│    │            superseded  │        │──> FibDelta (fib reconcile)
//!                 │    └──<── local-wins set ───┘        │──> Event (log, delete local MAC)
//!                 └──────────────────────────────────────┘
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bgp::packet::evpn::EvpnRouteKey;
use fib::{FdbKey, FibState, LocalMac, LocalState, Mac, NeighKey, Topology, Vni};
use serde::Serialize;

use crate::config::EvpnConfig;
use crate::import::{FibDelta, Importer, LocalRole, Verdict};
use crate::instance::Instances;
use crate::mobility::{Event, MobilityTable};
use crate::originate;
use crate::route::{EvpnRoute, Mobility, PathAttrs, ReceivedRoute};

/// What one input changed. (Serialize only: route keys are printed as text.)
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct Output {
    /// Routes to advertise (new, or changed attributes).
    pub advertise: Vec<EvpnRoute>,
    /// Routes to withdraw.
    pub withdraw: Vec<EvpnRouteKey>,
    /// Changes to the desired remote dataplane state.
    pub fib: FibDelta,
    pub events: Vec<Event>,
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.advertise.is_empty()
            && self.withdraw.is_empty()
            && self.fib.is_empty()
            && self.events.is_empty()
    }
}

/// A route of ours that an event may change.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Orig {
    Mac(FdbKey),
    MacIp(FdbKey, IpAddr),
}

/// The EVPN service state.
#[derive(Clone, Debug)]
pub struct EvpnService {
    config: EvpnConfig,
    instances: Instances,
    local: LocalState,
    /// (VNI, MAC) -> IPs of local neighbours naming it (reverse of `local.neigh`).
    local_ips: BTreeSet<(FdbKey, IpAddr)>,
    mobility: MobilityTable,
    import: Importer,
    originated: BTreeMap<EvpnRouteKey, EvpnRoute>,
    /// Interned attributes of our type-2 routes.
    attrs: HashMap<(Vni, Mobility), Arc<PathAttrs>>,
    /// Reused buffer for the importer's changed MACs.
    scratch: Vec<FdbKey>,
}

impl EvpnService {
    pub fn new(config: EvpnConfig) -> Self {
        let mobility = MobilityTable::new(config.dad);
        Self {
            config,
            instances: Instances::default(),
            local: LocalState::default(),
            local_ips: BTreeSet::new(),
            mobility,
            import: Importer::new(),
            originated: BTreeMap::new(),
            attrs: HashMap::new(),
            scratch: Vec::new(),
        }
    }

    pub fn config(&self) -> &EvpnConfig {
        &self.config
    }

    pub fn instances(&self) -> &Instances {
        &self.instances
    }

    /// What we advertise now.
    pub fn originated(&self) -> &BTreeMap<EvpnRouteKey, EvpnRoute> {
        &self.originated
    }

    /// The desired remote dataplane state now, sorted (built on each call; see
    /// [`Importer::fib`]).
    pub fn fib(&self) -> FibState {
        self.import.fib()
    }

    pub fn local(&self) -> &LocalState {
        &self.local
    }

    pub fn mobility(&self) -> &MobilityTable {
        &self.mobility
    }

    pub fn importer(&self) -> &Importer {
        &self.import
    }

    /// The kernel's VXLAN topology (initially, and after every link change).
    pub fn set_topology(&mut self, topology: &Topology, now: Duration) -> Output {
        let new = Instances::build(&self.config, topology, &self.instances);
        self.replace_instances(new, now)
    }

    /// Replaces the configuration (RDs, RTs, VNI selection) and re-derives instances.
    pub fn set_config(&mut self, config: EvpnConfig, topology: &Topology, now: Duration) -> Output {
        self.config = config;
        self.set_topology(topology, now)
    }

    fn replace_instances(&mut self, new: Instances, now: Duration) -> Output {
        let mut out = Output::default();
        let old = std::mem::replace(&mut self.instances, new);
        self.attrs.clear();
        self.import.rebuild(&self.instances, &mut out.fib);
        self.scratch.clear();
        self.import.drain_changed_macs(&mut self.scratch);
        self.scratch.clear();
        // Mobility for local MACs whose VNI appeared or went away (or whose VTEP changed),
        // and against the remote routes the new instances import.
        let keys: Vec<FdbKey> = self.local.macs.keys().copied().collect();
        for key in keys {
            let before = old.get(key.vni).map(|i| i.vtep);
            let after = self.instances.get(key.vni).map(|i| i.vtep);
            if before != after {
                self.mobility.local_removed(key, now);
                if after.is_some() {
                    self.learn(key, now, &mut out.events);
                }
            } else if let Some(vtep) = after {
                // Same instance, but other remote routes may be imported now (RT change).
                let remote = self.import.remote_best(&key);
                self.mobility
                    .remote_changed(key, remote, vtep, now, &mut out.events);
            }
            self.sync_local(key, &mut out.fib);
        }
        let want = self.compute_originated();
        for (k, r) in &want {
            if self.originated.get(k) != Some(r) {
                out.advertise.push(r.clone());
            }
        }
        for k in self.originated.keys() {
            if !want.contains_key(k) {
                out.withdraw.push(*k);
            }
        }
        self.originated = want;
        out
    }

    /// A MAC learned (or moved to another port, or re-learned) on a local bridge port.
    pub fn local_mac_added(&mut self, key: FdbKey, mac: LocalMac, now: Duration) -> Output {
        let mut out = Output::default();
        self.local.macs.insert(key, mac);
        self.learn(key, now, &mut out.events);
        self.sync_local(key, &mut out.fib);
        self.reconcile_mac(key, &mut out);
        out
    }

    /// A local MAC aged out or was deleted.
    pub fn local_mac_removed(&mut self, key: FdbKey, now: Duration) -> Output {
        let mut out = Output::default();
        if self.local.macs.remove(&key).is_none() {
            return out;
        }
        self.mobility.local_removed(key, now);
        self.sync_local(key, &mut out.fib);
        self.reconcile_mac(key, &mut out);
        out
    }

    /// A local MAC/IP pair from the SVI's neighbour table (new or changed MAC).
    pub fn local_neigh_added(&mut self, key: NeighKey, mac: Mac) -> Output {
        let mut out = Output::default();
        let old = self.local.neigh.insert(key, mac);
        let mut items = vec![];
        if let Some(old) = old {
            let fk = FdbKey {
                vni: key.vni,
                mac: old,
            };
            self.local_ips.remove(&(fk, key.ip));
            items.push(Orig::MacIp(fk, key.ip));
        }
        let fk = FdbKey { vni: key.vni, mac };
        self.local_ips.insert((fk, key.ip));
        items.push(Orig::MacIp(fk, key.ip));
        self.reconcile(&items, &mut out);
        out
    }

    /// A local neighbour entry went away.
    pub fn local_neigh_removed(&mut self, key: NeighKey) -> Output {
        let mut out = Output::default();
        if let Some(old) = self.local.neigh.remove(&key) {
            let fk = FdbKey {
                vni: key.vni,
                mac: old,
            };
            self.local_ips.remove(&(fk, key.ip));
            self.reconcile(&[Orig::MacIp(fk, key.ip)], &mut out);
        }
        out
    }

    /// A new or changed best path from the RIB.
    pub fn route_received(&mut self, route: &ReceivedRoute, now: Duration) -> (Verdict, Output) {
        let mut out = Output::default();
        let verdict = self.import.upsert(&self.instances, route, &mut out.fib);
        self.after_import(now, &mut out);
        (verdict, out)
    }

    /// The best path for `key` is gone (withdrawn, or its peer went down).
    pub fn route_withdrawn(&mut self, key: &EvpnRouteKey, now: Duration) -> Output {
        let mut out = Output::default();
        self.import.withdraw(key, &mut out.fib);
        self.after_import(now, &mut out);
        out
    }

    /// Operator command: clear duplicate detection for a MAC. `None` if it was not frozen.
    pub fn clear_duplicate(&mut self, key: FdbKey, now: Duration) -> Option<Output> {
        let mut out = Output::default();
        let vtep = self.instances.get(key.vni)?.vtep;
        let remote = self.import.remote_best(&key);
        if !self.mobility.clear(key, remote, vtep, now, &mut out.events) {
            return None;
        }
        self.sync_local(key, &mut out.fib);
        self.reconcile_mac(key, &mut out);
        Some(out)
    }

    /// Periodic housekeeping (drops expired mobility history).
    pub fn tick(&mut self, now: Duration) {
        self.mobility.prune(now);
    }

    /// Our routes and the desired dataplane state computed from scratch from the current
    /// inputs: for a resync, and to check the incremental state (they must be equal).
    pub fn recompute(&self) -> (BTreeMap<EvpnRouteKey, EvpnRoute>, FibState) {
        (self.compute_originated(), self.import.recompute())
    }

    fn compute_originated(&self) -> BTreeMap<EvpnRouteKey, EvpnRoute> {
        originate::full(&self.instances, &self.local, &|k| {
            self.mobility.advertised(k)
        })
    }

    /// Mobility decision for a local MAC that was (re)learned, or whose instance appeared.
    fn learn(&mut self, key: FdbKey, now: Duration, events: &mut Vec<Event>) {
        let (Some(inst), Some(lm)) = (self.instances.get(key.vni), self.local.macs.get(&key))
        else {
            return;
        };
        let remote = self.import.remote_best(&key);
        self.mobility
            .local_learned(key, lm.sticky, remote, inst.vtep, now, events);
    }

    /// Tells the importer whether `key` is local, and if so whether a remote route
    /// superseded it (then fib programs the remote entry over the local row).
    fn sync_local(&mut self, key: FdbKey, fib: &mut FibDelta) {
        let role = match (
            self.local.macs.contains_key(&key),
            self.mobility.superseded(&key),
        ) {
            (false, _) => LocalRole::NotLocal,
            (true, false) => LocalRole::Wins,
            (true, true) => LocalRole::Superseded,
        };
        self.import.set_local(key, role, fib);
    }

    /// Remote routes changed: re-decide mobility of the local MACs they name.
    fn after_import(&mut self, now: Duration, out: &mut Output) {
        let mut changed = std::mem::take(&mut self.scratch);
        changed.clear();
        self.import.drain_changed_macs(&mut changed);
        changed.sort_unstable();
        changed.dedup();
        for &key in &changed {
            if !self.local.macs.contains_key(&key) {
                continue;
            }
            let Some(inst) = self.instances.get(key.vni) else {
                continue;
            };
            let vtep = inst.vtep;
            let remote = self.import.remote_best(&key);
            let before = self.mobility.get(&key).copied();
            self.mobility
                .remote_changed(key, remote, vtep, now, &mut out.events);
            if self.mobility.get(&key).copied() != before {
                self.sync_local(key, &mut out.fib);
                self.reconcile_mac(key, out);
            }
        }
        // Keep the buffer's capacity for the next route.
        self.scratch = changed;
    }

    /// Re-decides the MAC route of `key` and its MAC+IP routes.
    fn reconcile_mac(&mut self, key: FdbKey, out: &mut Output) {
        let mut items = vec![Orig::Mac(key)];
        let lo = (key, IpAddr::from([0u8; 4]));
        items.extend(
            self.local_ips
                .range(lo..)
                .take_while(|(k, _)| *k == key)
                .map(|(k, ip)| Orig::MacIp(*k, *ip)),
        );
        self.reconcile(&items, out);
    }

    fn reconcile(&mut self, items: &[Orig], out: &mut Output) {
        for item in items {
            let (fk, ip) = match *item {
                Orig::Mac(fk) => (fk, None),
                Orig::MacIp(fk, ip) => (fk, Some(ip)),
            };
            let Some(inst) = self.instances.get(fk.vni) else {
                continue;
            };
            let nlri = originate::mac_ip_nlri(inst, fk.mac, ip);
            let key = nlri.key();
            let present = self.local.macs.contains_key(&fk)
                && ip.is_none_or(|ip| {
                    self.local.neigh.get(&NeighKey { vni: fk.vni, ip }) == Some(&fk.mac)
                });
            let want = match (present, self.mobility.advertised(&fk)) {
                (true, Some(m)) => {
                    let attrs = self
                        .attrs
                        .entry((fk.vni, m))
                        .or_insert_with(|| originate::mac_ip_attrs(inst, m))
                        .clone();
                    Some(EvpnRoute { nlri, attrs })
                }
                _ => None,
            };
            match want {
                Some(r) => {
                    if self.originated.get(&key) != Some(&r) {
                        self.originated.insert(key, r.clone());
                        out.advertise.push(r);
                    }
                }
                None => {
                    if self.originated.remove(&key).is_some() {
                        out.withdraw.push(key);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

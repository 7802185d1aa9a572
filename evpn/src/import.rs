//! Import: best paths from the RIB -> the desired remote dataplane state ([`FibState`]).
//!
//! - Type 2 (MAC): `(VNI, MAC) -> VTEP` (the next hop), sticky from MAC mobility.
//! - Type 2 (MAC+IP): also `(VNI, IP) -> MAC` on the VNI's SVI.
//! - Type 3: `(VNI, VTEP)` in the flood list; VTEP = PMSI tunnel endpoint, else the
//!   originator address, else the next hop.
//!
//! A route goes into every local VNI whose import RTs match (see [`crate::instance`]); the
//! VNI is the instance's, not the label's (FRR does the same). Our own routes coming back
//! through a route reflector or an eBGP spine are dropped: auto RD with our router id, our
//! VTEP as next hop or type-3 originator, or ORIGINATOR_ID = our router id.
//!
//! Several routes can name one MAC (MAC-only and MAC+IP routes of one leaf, or two leaves
//! during a move: different RDs are different BGP routes). The winner per (VNI, MAC) is
//! RFC 7432 section 15's: sticky first, then the highest sequence, then the lowest VTEP
//! address; per (VNI, IP) the same, then the lowest MAC.
//!
//! Local wins: a MAC in the local set (learned on a bridge port and not moved away) is not
//! programmed as remote, nor is a neighbour whose winning MAC is local — the same rule as
//! `fib::diff`, so the desired state never carries entries the diff would skip. A local
//! MAC that mobility says moved away ([`LocalRole::Superseded`]) gets its remote entry,
//! marked in [`FibState::supersede_local`] so that `fib::diff` programs it over the
//! kernel's stale local row instead of skipping it.
//!
//! Route types 1, 4 and 5, MAC lengths other than 48, and ESIs (multihoming) are not used:
//! a type-2 route with an ESI is programmed to its next hop like a single-homed one.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

use bgp::packet::evpn::{EvpnNlri, EvpnRouteKey};
use fib::{FdbKey, FibState, Mac, NeighKey, RemoteFdb, Vni};
use serde::{Deserialize, Serialize};

use crate::instance::{Instances, VniSet};
use crate::mobility::RemoteBest;
use crate::route::{Mobility, PathAttrs, ReceivedRoute};

/// Changes to the desired [`FibState`], in the order they were decided.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct FibDelta {
    /// `None`: remove.
    pub fdb: Vec<(FdbKey, Option<RemoteFdb>)>,
    /// `true`: add the VTEP to the VNI's flood list; `false`: remove it.
    pub flood: Vec<(Vni, IpAddr, bool)>,
    pub neigh: Vec<(NeighKey, Option<Mac>)>,
    /// `true`: mark the FDB key in [`FibState::supersede_local`]; `false`: unmark.
    pub supersede: Vec<(FdbKey, bool)>,
}

/// Where a (VNI, MAC) stands locally, as the import needs it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalRole {
    /// Not local: the best remote route is programmed.
    NotLocal,
    /// Local and winning: no remote entry.
    Wins,
    /// Local in the kernel, but a remote route won (the host moved away): the remote
    /// entry is programmed over the local one.
    Superseded,
}

impl FibDelta {
    pub fn is_empty(&self) -> bool {
        self.fdb.is_empty()
            && self.flood.is_empty()
            && self.neigh.is_empty()
            && self.supersede.is_empty()
    }

    /// Applies the changes to `state` (e.g. the daemon's copy of the desired state).
    pub fn apply(&self, state: &mut FibState) {
        for (k, v) in &self.fdb {
            match v {
                Some(v) => state.fdb.insert(*k, *v),
                None => state.fdb.remove(k),
            };
        }
        for (vni, vtep, add) in &self.flood {
            if *add {
                state.flood.insert((*vni, *vtep));
            } else {
                state.flood.remove(&(*vni, *vtep));
            }
        }
        for (k, v) in &self.neigh {
            match v {
                Some(v) => state.neigh.insert(*k, *v),
                None => state.neigh.remove(k),
            };
        }
        for (k, on) in &self.supersede {
            if *on {
                state.supersede_local.insert(*k);
            } else {
                state.supersede_local.remove(k);
            }
        }
    }

    pub fn append(&mut self, other: FibDelta) {
        self.fdb.extend(other.fdb);
        self.flood.extend(other.flood);
        self.neigh.extend(other.neigh);
        self.supersede.extend(other.supersede);
    }
}

/// What happened to one received route.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Imported into at least one VNI.
    Imported,
    /// Kept, but no local VNI imports it (yet).
    NotImported,
    /// One of ours, sent back to us: dropped.
    OwnRoute,
    /// A route type or form EVPN-VXLAN does not use here: dropped.
    Ignored,
}

/// Counters for `show` output.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct ImportCounters {
    pub own_dropped: u64,
    pub ignored: u64,
}

/// A non-empty list that does not allocate for one element (the usual case).
#[derive(Clone, Debug)]
enum Small<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: PartialEq + Copy> Small<T> {
    fn as_slice(&self) -> &[T] {
        match self {
            Self::One(t) => std::slice::from_ref(t),
            Self::Many(v) => v,
        }
    }

    fn push(&mut self, t: T) {
        match self {
            Self::One(a) => {
                if *a != t {
                    *self = Self::Many(vec![*a, t]);
                }
            }
            Self::Many(v) => {
                if !v.contains(&t) {
                    v.push(t);
                }
            }
        }
    }

    /// Removes `t`; true when the list is now empty.
    fn remove(&mut self, t: &T) -> bool {
        match self {
            Self::One(a) => a == t,
            Self::Many(v) => {
                v.retain(|x| x != t);
                if let [one] = v.as_slice() {
                    *self = Self::One(*one);
                }
                v_is_empty(self)
            }
        }
    }
}

fn v_is_empty<T>(s: &Small<T>) -> bool {
    matches!(s, Small::Many(v) if v.is_empty())
}

/// A stored best path: enough to re-import it when instances change.
#[derive(Clone, Debug)]
struct Stored {
    attrs: Arc<PathAttrs>,
    vnis: VniSet,
}

/// std's SipHash: the keys (MACs) come from hosts and peers, so a keyed hash keeps
/// collision floods out.
type Hasher = std::collections::hash_map::RandomState;
type FxMap<K, V> = HashMap<K, V, Hasher>;

/// Incremental import. Feed best-path changes; read the desired state or the deltas.
#[derive(Clone, Debug, Default)]
pub struct Importer {
    routes: FxMap<EvpnRouteKey, Stored>,
    /// Type-2 routes per (VNI, MAC).
    macs: FxMap<FdbKey, Small<EvpnRouteKey>>,
    /// MAC+IP routes per (VNI, IP).
    neighs: FxMap<NeighKey, Small<EvpnRouteKey>>,
    /// Type-3 routes per (VNI, VTEP).
    flood: FxMap<(Vni, IpAddr), u32>,
    /// Local MACs (they win).
    local: HashSet<FdbKey, Hasher>,
    /// Local MACs a remote route superseded (moved away).
    superseded: HashSet<FdbKey, Hasher>,
    fib: FibState,
    touched_fdb: Vec<FdbKey>,
    touched_neigh: Vec<NeighKey>,
    touched_flood: Vec<(Vni, IpAddr)>,
    /// (VNI, MAC)s whose remote candidates changed since the last `drain_changed_macs`.
    changed_macs: Vec<FdbKey>,
    pub counters: ImportCounters,
}

impl Importer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The desired remote state.
    pub fn fib(&self) -> &FibState {
        &self.fib
    }

    /// Number of stored best paths (imported or not).
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// A new or changed best path for `route`'s key.
    pub fn upsert(
        &mut self,
        inst: &Instances,
        route: &ReceivedRoute,
        out: &mut FibDelta,
    ) -> Verdict {
        let key = route.route.key();
        let verdict = if is_own(inst, route) {
            self.counters.own_dropped += 1;
            self.remove_stored(&key);
            Verdict::OwnRoute
        } else if !usable(&route.route.nlri) {
            self.counters.ignored += 1;
            self.remove_stored(&key);
            Verdict::Ignored
        } else {
            self.remove_stored(&key);
            let vnis = inst.importing(&route.route.attrs.ext_communities);
            let verdict = if vnis.is_empty() {
                Verdict::NotImported
            } else {
                Verdict::Imported
            };
            let stored = Stored {
                attrs: route.route.attrs.clone(),
                vnis,
            };
            self.link(&route.route.nlri, &key, &stored, true);
            self.routes.insert(key, stored);
            verdict
        };
        self.settle(out);
        verdict
    }

    /// The best path for `key` is gone.
    pub fn withdraw(&mut self, key: &EvpnRouteKey, out: &mut FibDelta) {
        self.remove_stored(key);
        self.settle(out);
    }

    /// Where `key` stands locally now (see [`LocalRole`]).
    pub fn set_local(&mut self, key: FdbKey, role: LocalRole, out: &mut FibDelta) {
        let changed = match role {
            LocalRole::NotLocal => self.local.remove(&key) | self.superseded.remove(&key),
            LocalRole::Wins => self.local.insert(key) | self.superseded.remove(&key),
            LocalRole::Superseded => self.local.remove(&key) | self.superseded.insert(key),
        };
        if changed {
            self.touch_mac(key);
            self.settle(out);
        }
    }

    pub fn is_local(&self, key: &FdbKey) -> bool {
        self.local.contains(key)
    }

    /// Re-matches every stored route against new instances (after a topology or config
    /// change) and returns the resulting changes.
    pub fn rebuild(&mut self, inst: &Instances, out: &mut FibDelta) {
        let routes = std::mem::take(&mut self.routes);
        self.macs.clear();
        self.neighs.clear();
        self.flood.clear();
        let old = std::mem::take(&mut self.fib);
        for (key, mut stored) in routes {
            let nlri = key.to_nlri();
            stored.vnis = inst.importing(&stored.attrs.ext_communities);
            self.link(&nlri, &key, &stored, false);
            self.routes.insert(key, stored);
        }
        self.touched_fdb.clear();
        self.touched_neigh.clear();
        self.touched_flood.clear();
        self.fib = self.recompute();
        diff_states(&old, &self.fib, out);
        self.changed_macs.extend(
            old.fdb
                .keys()
                .chain(self.fib.fdb.keys())
                .copied()
                .collect::<BTreeSet<_>>(),
        );
    }

    /// The best remote route for a MAC, ignoring whether it is local (for mobility).
    pub fn remote_best(&self, key: &FdbKey) -> Option<RemoteBest> {
        let cands = self.macs.get(key)?;
        cands
            .as_slice()
            .iter()
            .filter_map(|k| self.routes.get(k))
            .map(|s| RemoteBest {
                vtep: s.attrs.next_hop,
                mobility: s.attrs.mobility(),
            })
            .max_by_key(|r| rank(r.mobility, r.vtep))
    }

    /// Moves the (VNI, MAC)s whose remote routes changed since the last call into `out`
    /// (possibly with repeats). The caller drains this after every change (the service
    /// does), else it grows with every route.
    pub fn drain_changed_macs(&mut self, out: &mut Vec<FdbKey>) {
        out.append(&mut self.changed_macs);
    }

    /// The desired state computed from scratch from the stored routes (resync, tests).
    pub fn recompute(&self) -> FibState {
        let routes: Vec<(EvpnNlri, &Stored)> =
            self.routes.iter().map(|(k, s)| (k.to_nlri(), s)).collect();
        compute(
            routes
                .iter()
                .flat_map(|(n, s)| s.vnis.as_slice().iter().map(move |v| (*v, n, &*s.attrs))),
            &|k| self.role(k),
        )
    }

    fn role(&self, k: &FdbKey) -> LocalRole {
        if self.local.contains(k) {
            LocalRole::Wins
        } else if self.superseded.contains(k) {
            LocalRole::Superseded
        } else {
            LocalRole::NotLocal
        }
    }

    fn remove_stored(&mut self, key: &EvpnRouteKey) {
        if let Some(stored) = self.routes.remove(key) {
            let nlri = key.to_nlri();
            self.unlink(&nlri, key, &stored);
        }
    }

    /// Adds the route's contributions to the candidate indexes (`touch`: record the keys
    /// for `settle`).
    fn link(&mut self, nlri: &EvpnNlri, key: &EvpnRouteKey, stored: &Stored, touch: bool) {
        for &vni in stored.vnis.as_slice() {
            match nlri {
                EvpnNlri::MacIp(r) => {
                    let fk = FdbKey {
                        vni,
                        mac: Mac(r.mac.0),
                    };
                    match self.macs.get_mut(&fk) {
                        Some(c) => c.push(*key),
                        None => {
                            self.macs.insert(fk, Small::One(*key));
                        }
                    }
                    if let Some(ip) = r.ip {
                        let nk = NeighKey { vni, ip };
                        match self.neighs.get_mut(&nk) {
                            Some(c) => c.push(*key),
                            None => {
                                self.neighs.insert(nk, Small::One(*key));
                            }
                        }
                        if touch {
                            self.touched_neigh.push(nk);
                        }
                    }
                    if touch {
                        self.touched_fdb.push(fk);
                        self.changed_macs.push(fk);
                    }
                }
                EvpnNlri::InclusiveMulticast(r) => {
                    let fl = (vni, flood_vtep(r.originator, &stored.attrs));
                    *self.flood.entry(fl).or_insert(0) += 1;
                    if touch {
                        self.touched_flood.push(fl);
                    }
                }
                _ => {}
            }
        }
    }

    fn unlink(&mut self, nlri: &EvpnNlri, key: &EvpnRouteKey, stored: &Stored) {
        for &vni in stored.vnis.as_slice() {
            match nlri {
                EvpnNlri::MacIp(r) => {
                    let fk = FdbKey {
                        vni,
                        mac: Mac(r.mac.0),
                    };
                    if self.macs.get_mut(&fk).is_some_and(|c| c.remove(key)) {
                        self.macs.remove(&fk);
                    }
                    if let Some(ip) = r.ip {
                        let nk = NeighKey { vni, ip };
                        if self.neighs.get_mut(&nk).is_some_and(|c| c.remove(key)) {
                            self.neighs.remove(&nk);
                        }
                        self.touched_neigh.push(nk);
                    }
                    self.touched_fdb.push(fk);
                    self.changed_macs.push(fk);
                }
                EvpnNlri::InclusiveMulticast(r) => {
                    let fl = (vni, flood_vtep(r.originator, &stored.attrs));
                    if let Some(n) = self.flood.get_mut(&fl) {
                        *n -= 1;
                        if *n == 0 {
                            self.flood.remove(&fl);
                        }
                    }
                    self.touched_flood.push(fl);
                }
                _ => {}
            }
        }
    }

    /// A local change of a MAC touches its FDB entry and every neighbour naming it.
    fn touch_mac(&mut self, fk: FdbKey) {
        self.touched_fdb.push(fk);
        if let Some(c) = self.macs.get(&fk) {
            for k in c.as_slice() {
                if let EvpnNlri::MacIp(r) = k.to_nlri() {
                    if let Some(ip) = r.ip {
                        self.touched_neigh.push(NeighKey { vni: fk.vni, ip });
                    }
                }
            }
        }
    }

    /// Re-decides every touched key and records what changed.
    fn settle(&mut self, out: &mut FibDelta) {
        let fdb = std::mem::take(&mut self.touched_fdb);
        for fk in &fdb {
            let want = self.select_fdb(fk);
            if self.fib.fdb.get(fk) != want.as_ref() {
                match want {
                    Some(v) => self.fib.fdb.insert(*fk, v),
                    None => self.fib.fdb.remove(fk),
                };
                out.fdb.push((*fk, want));
            }
            // The mark exists only next to a desired entry.
            let mark = want.is_some() && self.superseded.contains(fk);
            if self.fib.supersede_local.contains(fk) != mark {
                if mark {
                    self.fib.supersede_local.insert(*fk);
                } else {
                    self.fib.supersede_local.remove(fk);
                }
                out.supersede.push((*fk, mark));
            }
        }
        self.touched_fdb = fdb;
        self.touched_fdb.clear();
        let neigh = std::mem::take(&mut self.touched_neigh);
        for nk in &neigh {
            let want = self.select_neigh(nk);
            if self.fib.neigh.get(nk) != want.as_ref() {
                match want {
                    Some(v) => self.fib.neigh.insert(*nk, v),
                    None => self.fib.neigh.remove(nk),
                };
                out.neigh.push((*nk, want));
            }
        }
        self.touched_neigh = neigh;
        self.touched_neigh.clear();
        for fl in std::mem::take(&mut self.touched_flood) {
            let want = self.flood.contains_key(&fl);
            if self.fib.flood.contains(&fl) != want {
                if want {
                    self.fib.flood.insert(fl);
                } else {
                    self.fib.flood.remove(&fl);
                }
                out.flood.push((fl.0, fl.1, want));
            }
        }
    }

    fn select_fdb(&self, fk: &FdbKey) -> Option<RemoteFdb> {
        if self.local.contains(fk) {
            return None;
        }
        self.remote_best(fk).map(|r| RemoteFdb {
            vtep: r.vtep,
            sticky: r.mobility.sticky,
        })
    }

    fn select_neigh(&self, nk: &NeighKey) -> Option<Mac> {
        let cands = self.neighs.get(nk)?;
        let mac = cands
            .as_slice()
            .iter()
            .filter_map(|k| {
                let s = self.routes.get(k)?;
                let EvpnNlri::MacIp(r) = k.to_nlri() else {
                    return None;
                };
                Some((
                    rank_neigh(s.attrs.mobility(), s.attrs.next_hop, r.mac.0),
                    r.mac.0,
                ))
            })
            .max_by_key(|(r, _)| *r)
            .map(|(_, m)| Mac(m))?;
        let local = self.local.contains(&FdbKey { vni: nk.vni, mac });
        (!local).then_some(mac)
    }
}

/// RFC 7432 section 15 preference: sticky, then highest sequence, then lowest VTEP.
fn rank(m: Mobility, vtep: IpAddr) -> (bool, u32, Reverse<IpAddr>) {
    (m.sticky, m.sequence, Reverse(vtep))
}

fn rank_neigh(
    m: Mobility,
    vtep: IpAddr,
    mac: [u8; 6],
) -> ((bool, u32, Reverse<IpAddr>), Reverse<[u8; 6]>) {
    (rank(m, vtep), Reverse(mac))
}

/// The VTEP to flood to for a type-3 route.
fn flood_vtep(originator: IpAddr, attrs: &PathAttrs) -> IpAddr {
    attrs
        .pmsi
        .as_ref()
        .and_then(|p| p.vtep())
        .unwrap_or(if originator.is_unspecified() {
            attrs.next_hop
        } else {
            originator
        })
}

/// Route forms this importer uses.
fn usable(nlri: &EvpnNlri) -> bool {
    match nlri {
        EvpnNlri::MacIp(r) => r.mac_len == 48,
        EvpnNlri::InclusiveMulticast(_) => true,
        _ => false,
    }
}

/// One of our own routes, sent back by a route reflector or an eBGP spine.
pub fn is_own(inst: &Instances, r: &ReceivedRoute) -> bool {
    let nlri = &r.route.nlri;
    nlri.rd().is_some_and(|rd| inst.is_own_rd(&rd))
        || inst.is_own_vtep(&r.route.attrs.next_hop)
        || (r.source.originator_id.is_some() && r.source.originator_id == inst.router_id())
        || matches!(nlri, EvpnNlri::InclusiveMulticast(t) if inst.is_own_vtep(&t.originator))
}

/// The desired state from a complete set of best paths, computed in one go (resync, and
/// the reference the incremental path is tested against). `local`: each MAC's role.
pub fn full<'a>(
    inst: &Instances,
    routes: impl IntoIterator<Item = &'a ReceivedRoute>,
    local: &dyn Fn(&FdbKey) -> LocalRole,
) -> FibState {
    let kept: Vec<(VniSet, &ReceivedRoute)> = routes
        .into_iter()
        .filter(|r| !is_own(inst, r) && usable(&r.route.nlri))
        .map(|r| (inst.importing(&r.route.attrs.ext_communities), r))
        .collect();
    compute(
        kept.iter().flat_map(|(vnis, r)| {
            vnis.as_slice()
                .iter()
                .map(move |v| (*v, &r.route.nlri, &*r.route.attrs))
        }),
        local,
    )
}

/// (VNI, NLRI, attributes) triples -> desired state, by grouping and picking winners.
fn compute<'a>(
    imported: impl Iterator<Item = (Vni, &'a EvpnNlri, &'a PathAttrs)>,
    role: &dyn Fn(&FdbKey) -> LocalRole,
) -> FibState {
    let local = |k: &FdbKey| role(k) == LocalRole::Wins;
    type Rank = (bool, u32, Reverse<IpAddr>);
    type NeighRank = (Rank, Reverse<[u8; 6]>);
    let mut fdb: BTreeMap<FdbKey, (Rank, RemoteFdb)> = BTreeMap::new();
    let mut neigh: BTreeMap<NeighKey, (NeighRank, Mac)> = BTreeMap::new();
    let mut out = FibState::default();
    for (vni, nlri, attrs) in imported {
        match nlri {
            EvpnNlri::MacIp(r) if r.mac_len == 48 => {
                let m = attrs.mobility();
                let fk = FdbKey {
                    vni,
                    mac: Mac(r.mac.0),
                };
                let cand = (
                    rank(m, attrs.next_hop),
                    RemoteFdb {
                        vtep: attrs.next_hop,
                        sticky: m.sticky,
                    },
                );
                let e = fdb.entry(fk).or_insert(cand);
                if cand.0 > e.0 {
                    *e = cand;
                }
                if let Some(ip) = r.ip {
                    let cand = (rank_neigh(m, attrs.next_hop, r.mac.0), Mac(r.mac.0));
                    let e = neigh.entry(NeighKey { vni, ip }).or_insert(cand);
                    if cand.0 > e.0 {
                        *e = cand;
                    }
                }
            }
            EvpnNlri::InclusiveMulticast(r) => {
                out.flood.insert((vni, flood_vtep(r.originator, attrs)));
            }
            _ => {}
        }
    }
    out.fdb = fdb
        .into_iter()
        .filter(|(k, _)| !local(k))
        .map(|(k, (_, v))| (k, v))
        .collect();
    out.supersede_local = out
        .fdb
        .keys()
        .filter(|k| role(k) == LocalRole::Superseded)
        .copied()
        .collect();
    out.neigh = neigh
        .into_iter()
        .filter(|(k, (_, mac))| {
            !local(&FdbKey {
                vni: k.vni,
                mac: *mac,
            })
        })
        .map(|(k, (_, v))| (k, v))
        .collect();
    out
}

/// Appends the changes turning `old` into `new`.
pub fn diff_states(old: &FibState, new: &FibState, out: &mut FibDelta) {
    for (k, v) in &new.fdb {
        if old.fdb.get(k) != Some(v) {
            out.fdb.push((*k, Some(*v)));
        }
    }
    for k in old.fdb.keys() {
        if !new.fdb.contains_key(k) {
            out.fdb.push((*k, None));
        }
    }
    for f in new.flood.difference(&old.flood) {
        out.flood.push((f.0, f.1, true));
    }
    for f in old.flood.difference(&new.flood) {
        out.flood.push((f.0, f.1, false));
    }
    for (k, v) in &new.neigh {
        if old.neigh.get(k) != Some(v) {
            out.neigh.push((*k, Some(*v)));
        }
    }
    for k in old.neigh.keys() {
        if !new.neigh.contains_key(k) {
            out.neigh.push((*k, None));
        }
    }
    for k in new.supersede_local.difference(&old.supersede_local) {
        out.supersede.push((*k, true));
    }
    for k in old.supersede_local.difference(&new.supersede_local) {
        out.supersede.push((*k, false));
    }
}

#[cfg(test)]
mod tests;

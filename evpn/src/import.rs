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
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::Arc;

use hashbrown::HashTable;

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

/// One candidate of a multimap entry: a stored route and the VNI it counts in. The key
/// ((VNI, MAC) or (VNI, IP)) is not stored: it is read back from the route's key, so an
/// entry is 8 bytes however many routes share a key.
type Cand = (u32, Vni);

/// Interned attributes of stored routes (the speaker interns equal attributes, so a
/// million routes share a few thousand of these), with what import derives from them
/// computed once: the VNIs importing them, the mobility community.
#[derive(Clone, Debug)]
struct AttrEntry {
    attrs: Arc<PathAttrs>,
    vnis: VniSet,
    mobility: Mobility,
    /// Stored routes using this entry; freed at 0.
    refs: u32,
}

/// A stored best path: its key (the NLRI is decoded from it when needed) and its
/// attributes. 44 bytes instead of a second copy of the route.
#[derive(Clone, Copy, Debug)]
struct Slot {
    key: EvpnRouteKey,
    /// Index into `attrs`; `FREE` for an unused slot.
    attr: u32,
}

const FREE: u32 = u32::MAX;

/// An FDB key hashed as one 128-bit word (the derived hash would feed the hasher three
/// pieces; the table is probed several times per route).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct MacK(FdbKey);

impl Hash for MacK {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let [a, b, c, d, e, f] = self.0.mac.0;
        let mac = u64::from_be_bytes([0, 0, a, b, c, d, e, f]);
        h.write_u128(u128::from(self.0.vni.0) << 64 | u128::from(mac));
    }
}

/// A neighbour key hashed as two words.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct NeighK(NeighKey);

impl Hash for NeighK {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let (v6, bits) = match self.0.ip {
            IpAddr::V4(a) => (0, u128::from(a.to_bits())),
            IpAddr::V6(a) => (1u64 << 32, a.to_bits()),
        };
        h.write_u64(u64::from(self.0.vni.0) | v6);
        h.write_u128(bits);
    }
}

/// foldhash with a random per-process seed (hashbrown's default, the hasher the bgp RIB
/// uses for the same route keys): the keys (route keys, MACs, IPs, attributes) come from
/// peers and hosts. foldhash is not a cryptographic PRF, but an attacker who cannot see
/// the seed cannot compute colliding keys offline, and a peer only learns about hash
/// order through timing of its own UPDATEs; every table here is also bounded by what the
/// RIB already holds under the same hasher, so SipHash here (6% of the leaf's core CPU)
/// bought no protection the RIB does not already give up.
type Hasher = hashbrown::DefaultHashBuilder;
type FoldMap<K, V> = hashbrown::HashMap<K, V, Hasher>;
type FoldSet<K> = hashbrown::HashSet<K, Hasher>;

/// Incremental import. Feed best-path changes; read the desired state or the deltas.
///
/// Memory (about 85 bytes per type-2 route at 1M, all of it: the desired FDB and
/// neighbour entries are not kept, see `fib` below): routes
/// live once in a slab (`slots`, 44 bytes: key + attribute index) found through a table
/// of u32 slot ids (5 bytes a bucket); per (VNI, MAC) and (VNI, IP), 8-byte
/// (slot, VNI) multimap entries whose key is read back from the slot; attributes are
/// interned with their VNIs and mobility. Hashing: seeded foldhash everywhere (see
/// [`Hasher`]).
#[derive(Clone, Debug, Default)]
pub struct Importer {
    hasher: Hasher,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    /// Route key -> slot id (hashed with `hasher` over the key).
    index: HashTable<u32>,
    attrs: Vec<AttrEntry>,
    free_attrs: Vec<u32>,
    attr_index: FoldMap<Arc<PathAttrs>, u32>,
    /// The address of each entry's own `Arc` -> entry: most routes arrive with the very
    /// `Arc` the entry holds (the speaker interns), so hashing the attributes is rare.
    /// Safe from reuse: the entry holds the `Arc`, and the address is removed when the
    /// entry is freed.
    attr_ptr: hashbrown::HashMap<usize, u32>,
    /// The entry `intern` returned last (a hint; checked before use).
    last_attr: u32,
    /// Type-2 routes per (VNI, MAC).
    /// (Each key is hashed once per change: `touched_*` carry the hash to `settle`.)
    macs: HashTable<Cand>,
    /// MAC+IP routes per (VNI, IP).
    neighs: HashTable<Cand>,
    /// Type-3 routes per (VNI, VTEP).
    flood: FoldMap<(Vni, IpAddr), u32>,
    /// Local MACs (they win).
    local: FoldSet<FdbKey>,
    /// Local MACs a remote route superseded (moved away).
    superseded: FoldSet<FdbKey>,
    /// The small parts of the desired state: flood lists and supersede marks. The FDB and
    /// neighbour entries are not kept: each is its key's winner among the candidates
    /// (`select_fdb`, `select_neigh`), so `settle` sends every touched key's winner (or
    /// its absence) and the receiver's apply is idempotent; [`Importer::fib`] builds them.
    /// A second copy of a million entries would cost ~60 bytes/route and a B-tree
    /// search per change, only to leave out repeats.
    fib: FibState,
    /// Number of distinct (VNI, MAC) keys in `macs` (for [`Importer::remote_macs`]).
    mac_keys: usize,
    touched_fdb: Vec<(u64, FdbKey)>,
    touched_neigh: Vec<(u64, NeighKey)>,
    touched_flood: Vec<(Vni, IpAddr)>,
    /// (VNI, MAC)s whose remote candidates changed since the last `drain_changed_macs`.
    changed_macs: Vec<FdbKey>,
    pub counters: ImportCounters,
}

impl Importer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The desired remote state, built from the candidates (O(routes): for show
    /// commands and tests).
    pub fn fib(&self) -> FibState {
        let mut f = self.recompute();
        // Flood lists and marks are kept; the rest is what the candidates decide now.
        debug_assert_eq!(f.flood, self.fib.flood);
        f.supersede_local.clone_from(&self.fib.supersede_local);
        f
    }

    /// Number of remote MACs in the desired state (without building it): keys with a
    /// candidate, less the local ones that win.
    pub fn remote_macs(&self) -> usize {
        let local_with_cands = self
            .local
            .iter()
            .filter(|k| self.mac_ids(self.mac_hash(k), k).next().is_some())
            .count();
        self.mac_keys.saturating_sub(local_with_cands)
    }

    /// Number of stored best paths (imported or not).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
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
            let attr = self.intern(inst, &route.route.attrs);
            let verdict = match self.attrs.get(attr as usize) {
                Some(a) if !a.vnis.as_slice().is_empty() => Verdict::Imported,
                _ => Verdict::NotImported,
            };
            // One hash and one probe: a changed route keeps its slot.
            let hash = self.hash_key(&key);
            let slots = &self.slots;
            let found = self
                .index
                .find(hash, |&id| {
                    slots.get(id as usize).is_some_and(|s| s.key == key)
                })
                .copied();
            // The same route again (same interned attributes): nothing changes, and as
            // no desired state is kept to compare with, skip instead of re-sending it.
            if let Some(id) = found {
                if self.slots.get(id as usize).is_some_and(|s| s.attr == attr) {
                    self.release(attr);
                    return verdict;
                }
            }
            let id = match found {
                Some(id) => {
                    self.unlink(&route.route.nlri, id);
                    if let Some(s) = self.slots.get_mut(id as usize) {
                        let old = std::mem::replace(&mut s.attr, attr);
                        self.release(old);
                    }
                    id
                }
                None => self.insert_slot(hash, Slot { key, attr }),
            };
            self.link(&route.route.nlri, id, true);
            verdict
        };
        self.settle(out, false);
        verdict
    }

    /// The best path for `key` is gone.
    pub fn withdraw(&mut self, key: &EvpnRouteKey, out: &mut FibDelta) {
        self.remove_stored(key);
        self.settle(out, false);
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
            self.settle(out, true);
        }
    }

    pub fn is_local(&self, key: &FdbKey) -> bool {
        self.local.contains(key)
    }

    /// Re-matches every stored route against new instances (after a topology or config
    /// change) and returns the resulting changes.
    pub fn rebuild(&mut self, inst: &Instances, out: &mut FibDelta) {
        let old = self.fib();
        self.macs.clear();
        self.mac_keys = 0;
        self.neighs.clear();
        self.flood.clear();
        // Import RTs are per attribute set: re-match each set once.
        for a in &mut self.attrs {
            if a.refs > 0 {
                a.vnis = inst.importing(&a.attrs.ext_communities);
            }
        }
        for id in 0..self.slots.len() {
            let Some(slot) = self.slots.get(id).copied() else {
                continue;
            };
            if slot.attr != FREE {
                self.link(&slot.key.to_nlri(), id as u32, false);
            }
        }
        self.touched_fdb.clear();
        self.touched_neigh.clear();
        self.touched_flood.clear();
        let new = self.recompute();
        diff_states(&old, &new, out);
        self.changed_macs.extend(
            old.fdb
                .keys()
                .chain(new.fdb.keys())
                .copied()
                .collect::<BTreeSet<_>>(),
        );
        self.fib = FibState {
            flood: new.flood,
            supersede_local: new.supersede_local,
            ..FibState::default()
        };
    }

    /// The best remote route for a MAC, ignoring whether it is local (for mobility).
    pub fn remote_best(&self, key: &FdbKey) -> Option<RemoteBest> {
        self.remote_best_h(self.mac_hash(key), key)
    }

    fn mac_hash(&self, k: &FdbKey) -> u64 {
        self.hasher.hash_one(MacK(*k))
    }

    fn neigh_hash(&self, k: &NeighKey) -> u64 {
        self.hasher.hash_one(NeighK(*k))
    }

    /// Ids of the routes naming (VNI, MAC) `k` (`h`: its hash).
    fn mac_ids<'a>(&'a self, h: u64, k: &'a FdbKey) -> impl Iterator<Item = u32> + 'a {
        self.macs
            .iter_hash(h)
            .filter(move |(id, vni)| *vni == k.vni && route_mac(&self.slots, *id) == Some(k.mac))
            .map(|(id, _)| *id)
    }

    /// Ids of the routes naming (VNI, IP) `k`.
    fn neigh_ids<'a>(&'a self, h: u64, k: &'a NeighKey) -> impl Iterator<Item = u32> + 'a {
        self.neighs
            .iter_hash(h)
            .filter(move |(id, vni)| *vni == k.vni && route_ip(&self.slots, *id) == Some(k.ip))
            .map(|(id, _)| *id)
    }

    fn remote_best_h(&self, h: u64, key: &FdbKey) -> Option<RemoteBest> {
        self.mac_ids(h, key)
            .filter_map(|id| self.attr_of(id))
            .map(|a| RemoteBest {
                vtep: a.attrs.next_hop,
                mobility: a.mobility,
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
        let routes: Vec<(EvpnNlri, &AttrEntry)> = self
            .slots
            .iter()
            .filter(|s| s.attr != FREE)
            .filter_map(|s| Some((s.key.to_nlri(), self.attrs.get(s.attr as usize)?)))
            .collect();
        compute(
            routes
                .iter()
                .flat_map(|(n, a)| a.vnis.as_slice().iter().map(move |v| (*v, n, &*a.attrs))),
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

    fn hash_key(&self, key: &EvpnRouteKey) -> u64 {
        self.hasher.hash_one(key)
    }

    fn insert_slot(&mut self, hash: u64, slot: Slot) -> u32 {
        let id = match self.free_slots.pop() {
            Some(id) => {
                if let Some(s) = self.slots.get_mut(id as usize) {
                    *s = slot;
                }
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, id, |&i| {
            slots.get(i as usize).map_or(0, |s| hasher.hash_one(s.key))
        });
        id
    }

    fn attr_of(&self, id: u32) -> Option<&AttrEntry> {
        let s = self.slots.get(id as usize)?;
        self.attrs.get(s.attr as usize)
    }

    /// The entry for `attrs`, created (with its VNIs) if new; counts one more user.
    fn intern(&mut self, inst: &Instances, attrs: &Arc<PathAttrs>) -> u32 {
        // Routes come in runs with one attribute set (an UPDATE's NLRIs share them): try
        // the last one before hashing the attributes.
        if let Some(a) = self.attrs.get_mut(self.last_attr as usize) {
            if a.refs > 0 && Arc::ptr_eq(&a.attrs, attrs) {
                a.refs += 1;
                return self.last_attr;
            }
        }
        if let Some(&i) = self.attr_ptr.get(&(Arc::as_ptr(attrs) as usize)) {
            if let Some(a) = self.attrs.get_mut(i as usize) {
                if a.refs > 0 && Arc::ptr_eq(&a.attrs, attrs) {
                    a.refs += 1;
                    self.last_attr = i;
                    return i;
                }
            }
        }
        let i = self.intern_slow(inst, attrs);
        self.last_attr = i;
        i
    }

    fn intern_slow(&mut self, inst: &Instances, attrs: &Arc<PathAttrs>) -> u32 {
        if let Some(&i) = self.attr_index.get(attrs) {
            if let Some(a) = self.attrs.get_mut(i as usize) {
                a.refs += 1;
                return i;
            }
        }
        let entry = AttrEntry {
            attrs: attrs.clone(),
            vnis: inst.importing(&attrs.ext_communities),
            mobility: attrs.mobility(),
            refs: 1,
        };
        let i = match self.free_attrs.pop() {
            Some(i) => {
                if let Some(a) = self.attrs.get_mut(i as usize) {
                    *a = entry;
                }
                i
            }
            None => {
                self.attrs.push(entry);
                (self.attrs.len() - 1) as u32
            }
        };
        self.attr_index.insert(attrs.clone(), i);
        self.attr_ptr.insert(Arc::as_ptr(attrs) as usize, i);
        i
    }

    fn release(&mut self, attr: u32) {
        let Some(a) = self.attrs.get_mut(attr as usize) else {
            return;
        };
        a.refs = a.refs.saturating_sub(1);
        if a.refs == 0 {
            self.attr_index.remove(&a.attrs);
            self.attr_ptr.remove(&(Arc::as_ptr(&a.attrs) as usize));
            a.vnis = VniSet::None;
            self.free_attrs.push(attr);
        }
    }

    fn remove_stored(&mut self, key: &EvpnRouteKey) {
        let hash = self.hash_key(key);
        let slots = &self.slots;
        let Ok(entry) = self.index.find_entry(hash, |&id| {
            slots.get(id as usize).is_some_and(|s| s.key == *key)
        }) else {
            return;
        };
        let (id, _) = entry.remove();
        let Some(slot) = self.slots.get(id as usize).copied() else {
            return;
        };
        self.unlink(&slot.key.to_nlri(), id);
        self.release(slot.attr);
        if let Some(s) = self.slots.get_mut(id as usize) {
            s.attr = FREE;
        }
        self.free_slots.push(id);
    }

    /// Adds route `id`'s contributions to the candidate indexes (`touch`: record the keys
    /// for `settle`).
    fn link(&mut self, nlri: &EvpnNlri, id: u32, touch: bool) {
        let Some(slot) = self.slots.get(id as usize) else {
            return;
        };
        let Some(a) = self.attrs.get(slot.attr as usize) else {
            return;
        };
        for &vni in a.vnis.as_slice() {
            match nlri {
                EvpnNlri::MacIp(r) => {
                    let fk = FdbKey {
                        vni,
                        mac: Mac(r.mac.0),
                    };
                    // A route is linked once per VNI (unlinked before any relink), so
                    // its candidate is new: no duplicate check.
                    let h = self.mac_hash(&fk);
                    if self.mac_ids(h, &fk).next().is_none() {
                        self.mac_keys += 1;
                    }
                    let (hasher, slots) = (&self.hasher, &self.slots);
                    self.macs.insert_unique(h, (id, vni), |&(i, v)| {
                        let mac = route_mac(slots, i).unwrap_or_default();
                        hasher.hash_one(MacK(FdbKey { vni: v, mac }))
                    });
                    if let Some(ip) = r.ip {
                        let nk = NeighKey { vni, ip };
                        let hn = self.neigh_hash(&nk);
                        let (hasher, slots) = (&self.hasher, &self.slots);
                        self.neighs.insert_unique(hn, (id, vni), |&(i, v)| {
                            let ip = route_ip(slots, i).unwrap_or(IpAddr::from([0u8; 4]));
                            hasher.hash_one(NeighK(NeighKey { vni: v, ip }))
                        });
                        if touch {
                            self.touched_neigh.push((hn, nk));
                        }
                    }
                    if touch {
                        self.touched_fdb.push((h, fk));
                        self.changed_macs.push(fk);
                    }
                }
                EvpnNlri::InclusiveMulticast(r) => {
                    let fl = (vni, flood_vtep(r.originator, &a.attrs));
                    *self.flood.entry(fl).or_insert(0) += 1;
                    if touch {
                        self.touched_flood.push(fl);
                    }
                }
                _ => {}
            }
        }
    }

    fn unlink(&mut self, nlri: &EvpnNlri, id: u32) {
        let Some(a) = self.attr_of(id) else {
            return;
        };
        let flood_to = match nlri {
            EvpnNlri::InclusiveMulticast(r) => Some(flood_vtep(r.originator, &a.attrs)),
            _ => None,
        };
        let vnis = a.vnis.clone();
        for &vni in vnis.as_slice() {
            match nlri {
                EvpnNlri::MacIp(r) => {
                    let fk = FdbKey {
                        vni,
                        mac: Mac(r.mac.0),
                    };
                    let h = self.mac_hash(&fk);
                    if let Ok(e) = self.macs.find_entry(h, |c| *c == (id, vni)) {
                        e.remove();
                        if self.mac_ids(h, &fk).next().is_none() {
                            self.mac_keys = self.mac_keys.saturating_sub(1);
                        }
                    }
                    if let Some(ip) = r.ip {
                        let nk = NeighKey { vni, ip };
                        let hn = self.neigh_hash(&nk);
                        if let Ok(e) = self.neighs.find_entry(hn, |c| *c == (id, vni)) {
                            e.remove();
                        }
                        self.touched_neigh.push((hn, nk));
                    }
                    self.touched_fdb.push((h, fk));
                    self.changed_macs.push(fk);
                }
                EvpnNlri::InclusiveMulticast(_) => {
                    let Some(vtep) = flood_to else {
                        continue;
                    };
                    let fl = (vni, vtep);
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
    /// Without candidates there is no entry before or after: nothing to touch.
    fn touch_mac(&mut self, fk: FdbKey) {
        let h = self.mac_hash(&fk);
        if self.mac_ids(h, &fk).next().is_none() {
            return;
        }
        self.touched_fdb.push((h, fk));
        let mut neighs = Vec::new();
        for id in self.mac_ids(h, &fk) {
            if let Some(ip) = route_ip(&self.slots, id) {
                let nk = NeighKey { vni: fk.vni, ip };
                neighs.push((self.neigh_hash(&nk), nk));
            }
        }
        self.touched_neigh.extend(neighs);
    }

    /// Re-decides every touched key and sends its winner. Repeats are possible (a MAC+IP
    /// route after the MAC-only one for the same VTEP sends the same FDB entry again);
    /// the known no-ops are left out: a key whose local MAC wins had no entry before
    /// unless its local role changed (`local_changed`).
    fn settle(&mut self, out: &mut FibDelta, local_changed: bool) {
        let mut fdb = std::mem::take(&mut self.touched_fdb);
        // A changed route touches its keys twice (unlink, link): decide each once.
        dedup(&mut fdb);
        for (h, fk) in &fdb {
            let want = self.select_fdb(*h, fk);
            if local_changed || want.is_some() || !self.local.contains(fk) {
                out.fdb.push((*fk, want));
            }
            // The mark exists only next to a desired entry.
            let mark =
                want.is_some() && !self.superseded.is_empty() && self.superseded.contains(fk);
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
        let mut neigh = std::mem::take(&mut self.touched_neigh);
        dedup(&mut neigh);
        for (h, nk) in &neigh {
            let want = self.select_neigh(*h, nk);
            out.neigh.push((*nk, want));
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

    fn select_fdb(&self, h: u64, fk: &FdbKey) -> Option<RemoteFdb> {
        if self.local.contains(fk) {
            return None;
        }
        self.remote_best_h(h, fk).map(|r| RemoteFdb {
            vtep: r.vtep,
            sticky: r.mobility.sticky,
        })
    }

    fn select_neigh(&self, h: u64, nk: &NeighKey) -> Option<Mac> {
        let mac = self
            .neigh_ids(h, nk)
            .filter_map(|id| {
                let s = self.slots.get(id as usize)?;
                let a = self.attrs.get(s.attr as usize)?;
                let mac = s.key.mac()?.0;
                Some((rank_neigh(a.mobility, a.attrs.next_hop, mac), mac))
            })
            .max_by_key(|(r, _)| *r)
            .map(|(_, m)| Mac(m))?;
        let local = self.local.contains(&FdbKey { vni: nk.vni, mac });
        (!local).then_some(mac)
    }
}

/// The MAC of stored type-2 route `id` (read from the key in place: this runs for every
/// candidate compared and every entry moved when the candidate tables grow).
fn route_mac(slots: &[Slot], id: u32) -> Option<Mac> {
    slots.get(id as usize)?.key.mac().map(|m| Mac(m.0))
}

/// The IP of stored type-2 route `id`, if it has one.
fn route_ip(slots: &[Slot], id: u32) -> Option<IpAddr> {
    slots.get(id as usize)?.key.mac_ip()
}

/// Drops repeated keys from a few touched ones (order does not matter to `settle`).
fn dedup<K: Ord + Copy>(v: &mut Vec<(u64, K)>) {
    if v.len() > 1 {
        v.sort_unstable_by_key(|(_, k)| *k);
        v.dedup_by_key(|(_, k)| *k);
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

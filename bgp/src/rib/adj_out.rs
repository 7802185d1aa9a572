//! Adj-RIB-Out as state, not a queue of messages (RFC 4271 section 3.2).
//!
//! Per peer and family: what was last advertised (route key -> the path as sent, with its
//! exported attribute set interned) and a set of dirty keys whose best path changed since.
//! [`drain`] takes some dirty keys, works out what the peer should now have (export rules
//! below), compares with what it has, and packs the differences: withdrawals first, then
//! one run of UPDATEs per exported attribute set. A slow peer only accumulates dirty keys
//! (at most one per route in the table); churn on one key while it waits costs nothing, and
//! what it is finally sent is the latest state.
//!
//! With a minimum advertisement interval (`PeerConfig::advertisement_interval`, see
//! `mrai.rs`), advertisements found while the interval runs wait in a second set (`held`)
//! and are looked at again when it ends; withdrawals still go at once.
//!
//! Export rules ([`export_attrs`]):
//! - never back to the peer the route came from (split horizon);
//! - NO_ADVERTISE: to nobody; NO_EXPORT: not to eBGP (RFC 1997);
//! - iBGP to iBGP only by route reflection (RFC 4456 section 6): a client's route goes to
//!   every peer, a non-client's only to clients; the reflected route gets ORIGINATOR_ID
//!   (the source's router id) if absent and our cluster id prepended to CLUSTER_LIST; not
//!   sent to the peer whose router id is the ORIGINATOR_ID (it would drop it);
//! - to eBGP: our AS prepended, LOCAL_PREF removed, MED removed unless we originated the
//!   route (RFC 4271 5.1.4), ORIGINATOR_ID/CLUSTER_LIST removed (non-transitive); the EVPN
//!   next hop (the VTEP) kept unless next-hop-self, as leaf-spine eBGP fabrics need; IPv4
//!   unicast next hop set to our address (RFC 4271 5.1.3);
//! - to iBGP: LOCAL_PREF always present (100 when the route had none); next hop unchanged
//!   unless next-hop-self, or ours when the route has none (a locally originated IPv4
//!   network, as FRR's `network` routes with next hop 0.0.0.0);
//! - IPv4 unicast without a next hop to send (our address unknown): not sent.

use bytes::BytesMut;
use hashbrown::{HashMap, HashSet};

use super::attrs::PathAttrs;
use super::family::RouteKey;
use super::intern::Id;
use super::mrai::Mrai;
use super::peer::{PeerConfig, PeerId, RibConfig, LOCAL};
use super::table::Path;
use super::{Core, FamilyRib, RibError};
use crate::packet::{AsPath, AsSegment, Community, SegmentType};

/// One peer's Adj-RIB-Out for one family.
pub struct AdjOut<K> {
    /// The session is up for this family and takes routes.
    pub(crate) enabled: bool,
    /// What the peer was sent: the best path as exported (`attrs` = the exported set).
    pub(crate) sent: HashMap<K, Path>,
    pub(crate) dirty: HashSet<K>,
    /// Keys taken from `dirty` whose UPDATE would have been a part-filled last message of
    /// its group; looked at first next time (so they lead their group: never starved).
    pub(crate) deferred: Vec<K>,
    /// Keys whose advertisement waits for the minimum advertisement interval to end.
    pub(crate) held: HashSet<K>,
    pub(crate) mrai: Mrai,
}

impl<K> Default for AdjOut<K> {
    fn default() -> Self {
        Self {
            enabled: false,
            sent: HashMap::new(),
            dirty: HashSet::new(),
            deferred: Vec::new(),
            held: HashSet::new(),
            mrai: Mrai::default(),
        }
    }
}

impl<K: RouteKey> AdjOut<K> {
    /// Keys waiting to be looked at (not counting those held by the advertisement
    /// interval: see [`AdjOut::held`]).
    pub fn pending(&self) -> usize {
        self.dirty.len() + self.deferred.len()
    }

    /// Keys whose advertisement waits for the minimum advertisement interval.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The interval's state.
    pub fn mrai(&self) -> &Mrai {
        &self.mrai
    }

    /// Routes the peer currently has from us.
    pub fn advertised(&self) -> usize {
        self.sent.len()
    }

    /// The path as last sent for `key`.
    pub fn sent(&self, key: &K) -> Option<&Path> {
        self.sent.get(key)
    }
}

/// The attributes `dst` gets for a route from `src` with `attrs`, or `None` if it gets
/// nothing. `ipv4_unicast`: the family puts the next hop in NEXT_HOP (eBGP sets ours).
pub fn export_attrs(
    cfg: &RibConfig,
    src: PeerId,
    s: &PeerConfig,
    dst: PeerId,
    d: &PeerConfig,
    attrs: &PathAttrs,
    ipv4_unicast: bool,
) -> Option<PathAttrs> {
    if src == dst || attrs.communities.contains(&Community::NO_ADVERTISE) {
        return None;
    }
    let local = src == LOCAL;
    let src_ebgp = !local && s.asn != cfg.local_as;
    let dst_ebgp = d.asn != cfg.local_as;
    if dst_ebgp
        && (attrs.communities.contains(&Community::NO_EXPORT)
            || attrs.communities.contains(&Community::NO_EXPORT_SUBCONFED))
    {
        return None;
    }
    let reflect = !local && !src_ebgp && !dst_ebgp;
    if reflect && !s.rr_client && !d.rr_client {
        return None;
    }
    if !dst_ebgp && attrs.originator_id == Some(d.router_id) {
        return None;
    }
    let mut o = attrs.clone();
    if dst_ebgp {
        prepend(&mut o.as_path, cfg.local_as);
        o.local_pref = None;
        if !local {
            o.med = None;
        }
        o.originator_id = None;
        o.cluster_list.clear();
        if ipv4_unicast || d.next_hop_self {
            o.next_hop = d.local_address.or(o.next_hop);
        }
    } else {
        o.local_pref = Some(attrs.effective_local_pref());
        if reflect {
            o.originator_id.get_or_insert(s.router_id);
            o.cluster_list.insert(0, cfg.cluster_id());
        }
        if d.next_hop_self || o.next_hop.is_none() {
            o.next_hop = d.local_address.or(o.next_hop);
        }
    }
    // An IPv4 unicast UPDATE without NEXT_HOP is malformed (RFC 4271 5.1.3): a local
    // route (no next hop of its own) waits until the session's own address is known.
    if ipv4_unicast && o.next_hop.is_none() {
        return None;
    }
    Some(o)
}

/// Prepends `asn` to the leading AS_SEQUENCE (a new one if the path starts otherwise).
fn prepend(p: &mut AsPath, asn: u32) {
    match p.segments.first_mut() {
        Some(AsSegment {
            kind: SegmentType::AsSequence,
            asns,
        }) if asns.len() < 255 => asns.insert(0, asn),
        _ => p.segments.insert(
            0,
            AsSegment {
                kind: SegmentType::AsSequence,
                asns: vec![asn],
            },
        ),
    }
}

/// What was sent equals what would be sent (the source peer does not matter).
fn same_advert(a: &Path, b: &Path) -> bool {
    a.attrs == b.attrs && a.label() == b.label() && a.extra_id() == b.extra_id()
}

/// Packs the difference between what `peer` has and should have, for up to about
/// `max_messages` UPDATEs' worth of dirty keys (the rest stays dirty).
pub(crate) fn drain<K: RouteKey>(
    core: &mut Core,
    fam: &mut FamilyRib<K>,
    peer: PeerId,
    max_messages: usize,
) -> Result<Vec<BytesMut>, RibError> {
    let d = core.peer(peer)?.cfg.clone();
    let Some(out) = fam.out.get_mut(usize::from(peer)).filter(|o| o.enabled) else {
        return Ok(Vec::new());
    };
    // ~40 octets per EVPN type-2 NLRI: enough keys to fill the allowed messages, and at
    // least KEYS_PER_DRAIN so that routes spread over hundreds of attribute sets still
    // make full messages.
    let per_msg = (d.opts.max_len() / 40).max(1);
    let budget = max_messages.saturating_mul(per_msg).max(KEYS_PER_DRAIN);
    // The minimum advertisement interval: once it has run out, what it held is looked at
    // again (as the Adj-RIB-Out is state, that is the latest version of each route).
    let interval_ms = u64::from(d.advertisement_interval).saturating_mul(1000);
    let now = core.now_ms;
    let open = out.mrai.is_open(now, interval_ms);
    if open && !out.held.is_empty() {
        let held = std::mem::take(&mut out.held);
        if out.dirty.is_empty() {
            out.dirty = held;
        } else {
            out.dirty.extend(held);
        }
    }
    let mut keys: Vec<K> = std::mem::take(&mut out.deferred);
    let more = budget.saturating_sub(keys.len());
    // A deferred key that changed again is dirty too: look at it once.
    let deferred: HashSet<K> = keys.iter().copied().collect();
    let fresh = |k: &K| !deferred.contains(k);
    if more >= out.dirty.len() {
        keys.extend(out.dirty.drain().filter(fresh));
    } else {
        // Removes without hashing the keys again.
        let mut taken = 0;
        let picked = out.dirty.extract_if(|_| {
            taken += 1;
            taken <= more
        });
        keys.extend(picked.filter(fresh));
    }
    // More keys wait: a part-filled last message of a group can wait for them.
    let hold_tails = !out.dirty.is_empty();

    let ipv4 = K::FAMILY == crate::packet::AfiSafi::IPV4_UNICAST;
    let mut memo: HashMap<(Id, PeerId), Option<Id>> = HashMap::new();
    // First what changes, touching no state: packing may still refuse a group.
    let mut withdraw: Vec<K> = Vec::new();
    let mut groups: Vec<(Id, Vec<(K, Path)>)> = Vec::new();
    let mut group_of: HashMap<Id, usize> = HashMap::new();
    for k in keys {
        let want = match fam.table.best(&k).copied() {
            None => None,
            Some(best) => {
                let out_id = match memo.get(&(best.attrs, best.peer)) {
                    Some(o) => *o,
                    None => {
                        let src_attrs = core.attrs.get(best.attrs).clone();
                        let o = core
                            .peer(best.peer)
                            .ok()
                            .and_then(|s| {
                                export_attrs(
                                    &core.cfg, best.peer, &s.cfg, peer, &d, &src_attrs, ipv4,
                                )
                            })
                            .map(|a| core.attrs.intern(a));
                        memo.insert((best.attrs, best.peer), o);
                        o
                    }
                };
                out_id.map(|id| Path { attrs: id, ..best })
            }
        };
        match (out.sent.get(&k), want) {
            (None, None) => {}
            (Some(h), Some(w)) if same_advert(h, &w) => {}
            // Interval running: the advertisement waits; a withdrawal below does not.
            (_, Some(_)) if !open => {
                out.held.insert(k);
            }
            (_, Some(w)) => {
                let g = *group_of.entry(w.attrs).or_insert_with(|| {
                    groups.push((w.attrs, Vec::new()));
                    groups.len() - 1
                });
                groups[g].1.push((k, w));
            }
            (Some(_), None) => withdraw.push(k),
        }
    }

    let mut updates = Vec::new();
    let mut unsendable = 0;
    for (id, routes) in &groups {
        let nlri: Vec<K::Nlri> = routes.iter().map(|(k, w)| fam.table.nlri(k, w)).collect();
        let attrs = core.attrs.get(*id);
        match K::pack_updates(attrs, &nlri, &d.opts) {
            Ok(mut m) => {
                let mut routes = routes.as_slice();
                if hold_tails && m.len() >= 2 {
                    let tail =
                        tail_routes::<K>(attrs, &nlri, m.last().map_or(0, |l| l.len()), &d.opts);
                    let (send, wait) = routes.split_at(routes.len() - tail);
                    out.deferred.extend(wait.iter().map(|(k, _)| *k));
                    m.pop();
                    routes = send;
                }
                if !routes.is_empty() {
                    out.mrai.advertised();
                }
                updates.extend(m);
                for (k, w) in routes {
                    core.attrs.retain(w.attrs);
                    fam.table.retain_extra(w);
                    if let Some(h) = out.sent.insert(*k, *w) {
                        core.attrs.release(h.attrs);
                        fam.table.release_extra(h.extra_id());
                    }
                }
            }
            Err(_) => {
                // The exported set does not fit a message even with one route: the peer
                // must at least not keep an older version of these routes.
                unsendable += routes.len() as u64;
                withdraw.extend(
                    routes
                        .iter()
                        .map(|(k, _)| *k)
                        .filter(|k| out.sent.contains_key(k)),
                );
            }
        }
    }
    let gone: Vec<K::Nlri> = withdraw
        .iter()
        .filter_map(|k| out.sent.get(k).map(|h| fam.table.nlri(k, h)))
        .collect();
    let mut msgs = if gone.is_empty() {
        Vec::new()
    } else {
        K::pack_withdrawals(&gone, &d.opts)?
    };
    for k in &withdraw {
        if let Some(h) = out.sent.remove(k) {
            core.attrs.release(h.attrs);
            fam.table.release_extra(h.extra_id());
        }
    }
    for id in memo.into_values().flatten() {
        core.attrs.release(id);
    }
    if out.dirty.is_empty() {
        // A full-table burst leaves a big empty set behind: give the memory back.
        out.dirty = HashSet::new();
        if out.deferred.is_empty() {
            out.mrai.run_done(now);
        }
    }
    msgs.extend(updates);
    if let Ok(p) = core.peer_mut(peer) {
        p.stats.updates_sent += msgs.len() as u64;
        p.stats.unsendable += unsendable;
    }
    Ok(msgs)
}

/// Keys looked at per drain call at least (see `drain`). Small in unit tests so that a
/// few hundred routes exercise the multi-call path.
#[cfg(not(test))]
const KEYS_PER_DRAIN: usize = 65_536;
#[cfg(test)]
const KEYS_PER_DRAIN: usize = 256;

/// How many of `nlri` (from the end) went into the last message, `last_len` octets long.
fn tail_routes<K: RouteKey>(
    attrs: &PathAttrs,
    nlri: &[K::Nlri],
    last_len: usize,
    opts: &crate::packet::DecodeOptions,
) -> usize {
    // The fixed part of every message of this group: one with a single route, minus it.
    let fixed = match (nlri.first(), K::pack_updates(attrs, &nlri[..1], opts)) {
        (Some(n), Ok(m)) => m.first().map_or(0, |m| m.len()) - K::nlri_len(n),
        _ => return 0,
    };
    let mut room = last_len.saturating_sub(fixed);
    let mut n = 0;
    for r in nlri.iter().rev() {
        if room == 0 {
            break;
        }
        room = room.saturating_sub(K::nlri_len(r));
        n += 1;
    }
    n
}

/// Forgets what `peer` was sent (session down) and stops tracking it.
pub(crate) fn reset<K: RouteKey>(core: &mut Core, fam: &mut FamilyRib<K>, peer: PeerId) {
    let Some(out) = fam.out.get_mut(usize::from(peer)) else {
        return;
    };
    for (_, p) in out.sent.drain() {
        core.attrs.release(p.attrs);
        fam.table.release_extra(p.extra_id());
    }
    *out = AdjOut::default();
}

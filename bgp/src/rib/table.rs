//! One family's routes: Adj-RIB-In of every peer and the Loc-RIB in one structure.
//!
//! A route key is stored once, with all paths to it (one per peer) and the best one first:
//! the Loc-RIB is "the first path of every entry", a peer's Adj-RIB-In is "its path in
//! every entry". This is what FRR (`bgp_dest` -> `bgp_path_info` list) and GoBGP
//! (destination -> known paths) do; it saves storing a 37-byte key per view.
//!
//! ```text
//!  index: Index           (8-byte buckets: 32 hash bits + position; at most half full)
//!     |  hash(key) -> position
//!     v
//!  entries: Vec<Entry>     (64 bytes for EVPN: 37-byte key, best Path, spill link)
//!    [ key | best: Path{attrs, extra, peer, label, flags} | more ]--+
//!                                                                   v
//!  spill: Vec<Spill>       (24 bytes per further path: Path, next link; free list)
//! ```
//!
//! The index keeps 32 bits of each key's hash, so growing it never reads the entries
//! (a rehash of a million keys would otherwise be a million cache misses), and a probe
//! compares keys only when those bits match (see `index.rs`).
//!
//! No allocation per route: entries and spill nodes live in two vectors that grow by
//! doubling, removal is `swap_remove` (the moved entry's index slot is rewritten), freed
//! spill nodes go on a free list. Attribute sets and non-key NLRI fields are 4-byte ids
//! into interners.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;

use super::family::RouteKey;
use super::index::Index;
use super::intern::{Id, Interner};
use super::peer::PeerId;

/// Path flag: kept from a restarting peer, not re-advertised yet (RFC 4724).
pub const STALE: u8 = 0x01;

/// `Path::extra` when the NLRI has no non-key fields besides the label.
const NO_EXTRA: u32 = u32::MAX;
const NIL: u32 = u32::MAX;

/// One peer's path to a route: 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Path {
    /// Interned [`super::attrs::PathAttrs`].
    pub attrs: Id,
    pub(crate) extra: u32,
    pub peer: PeerId,
    pub(crate) label: [u8; 3],
    pub flags: u8,
    /// When the path was received, on the caller's clock (`Rib::set_clock`): `show` ages.
    pub since: u32,
}

impl Path {
    /// The 24-bit label / VNI.
    pub fn label(&self) -> u32 {
        u32::from_be_bytes([0, self.label[0], self.label[1], self.label[2]])
    }

    /// The id of the non-key NLRI fields (to compare what was sent; `u32::MAX` = none).
    pub fn extra_id(&self) -> u32 {
        self.extra
    }

    pub fn is_stale(&self) -> bool {
        self.flags & STALE != 0
    }

    /// Same route information (flags aside).
    pub fn same_route(&self, o: &Path) -> bool {
        self.attrs == o.attrs
            && self.extra == o.extra
            && self.peer == o.peer
            && self.label == o.label
    }
}

struct Entry<K> {
    key: K,
    best: Path,
    more: u32,
}

#[derive(Clone, Copy)]
struct Spill {
    path: Path,
    next: u32,
}

/// How the best path of a key changed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TableChange<K> {
    pub key: K,
    pub old: Option<Path>,
    pub new: Option<Path>,
}

/// The routes of one family.
pub struct Table<K: RouteKey> {
    entries: Vec<Entry<K>>,
    index: Index,
    hasher: DefaultHashBuilder,
    spill: Vec<Spill>,
    spill_free: u32,
    extras: Interner<K::Extra>,
    /// Attribute ids whose reference the table gave up; the owner of the attribute
    /// interner releases them (the table cannot: ranking borrows that interner).
    released: Vec<Id>,
    /// Paths per peer (Adj-RIB-In sizes, for max-prefix).
    per_peer: Vec<u32>,
    scratch: Vec<Path>,
}

impl<K: RouteKey> Default for Table<K> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            index: Index::default(),
            hasher: DefaultHashBuilder::default(),
            spill: Vec::new(),
            spill_free: NIL,
            extras: Interner::default(),
            released: Vec::new(),
            per_peer: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

impl<K: RouteKey> Table<K> {
    /// A path record; takes no reference on `attrs` (the caller's reference moves in).
    pub fn make_path(
        &mut self,
        attrs: Id,
        peer: PeerId,
        label: u32,
        extra: &K::Extra,
        since: u32,
    ) -> Path {
        let extra = if *extra == K::Extra::default() {
            NO_EXTRA
        } else {
            self.extras.intern(extra.clone()).0
        };
        let [_, a, b, c] = label.to_be_bytes();
        Path {
            attrs,
            extra,
            peer,
            label: [a, b, c],
            flags: 0,
            since,
        }
    }

    /// The NLRI of `path` to `key`.
    pub fn nlri(&self, key: &K, path: &Path) -> K::Nlri {
        key.join(path.label(), &self.extra(path))
    }

    fn extra(&self, path: &Path) -> K::Extra {
        if path.extra == NO_EXTRA {
            K::Extra::default()
        } else {
            (**self.extras.get(Id(path.extra))).clone()
        }
    }

    /// Takes one more reference on the non-key fields of `path` (the Adj-RIB-Out keeps them).
    pub fn retain_extra(&mut self, path: &Path) {
        if path.extra != NO_EXTRA {
            self.extras.retain(Id(path.extra));
        }
    }

    /// Gives up a reference taken by [`Table::retain_extra`] or [`Table::make_path`].
    pub fn release_extra(&mut self, extra: u32) {
        if extra != NO_EXTRA {
            self.extras.release(Id(extra));
        }
    }

    fn drop_path(&mut self, p: Path) {
        self.released.push(p.attrs);
        self.release_extra(p.extra);
        if let Some(c) = self.per_peer.get_mut(usize::from(p.peer)) {
            *c = c.saturating_sub(1);
        }
    }

    fn count_path(&mut self, peer: PeerId) {
        let i = usize::from(peer);
        if self.per_peer.len() <= i {
            self.per_peer.resize(i + 1, 0);
        }
        self.per_peer[i] += 1;
    }

    /// Attribute references given up since the last call.
    pub fn take_released(&mut self) -> std::vec::Drain<'_, Id> {
        self.released.drain(..)
    }

    /// The index hash of `key`, for [`Table::prepare`] and [`Table::upsert_hashed`].
    pub(crate) fn hash(&self, key: &K) -> u32 {
        let h = self.hasher.hash_one(key);
        (h ^ h >> 32) as u32
    }

    fn find(&self, key: &K) -> Option<usize> {
        let h = self.hash(key);
        self.index
            .find(h, |at| self.entries[at as usize].key == *key)
            .map(|at| at as usize)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Paths held from `peer` (its Adj-RIB-In size).
    pub fn peer_count(&self, peer: PeerId) -> u32 {
        self.per_peer.get(usize::from(peer)).copied().unwrap_or(0)
    }

    /// Number of distinct non-key field sets held.
    pub fn extras_len(&self) -> usize {
        self.extras.len()
    }

    /// The best path to `key`.
    pub fn best(&self, key: &K) -> Option<&Path> {
        self.find(key).map(|i| &self.entries[i].best)
    }

    /// All paths to `key`, best first.
    pub fn paths(&self, key: &K) -> Vec<Path> {
        let mut v = Vec::new();
        if let Some(i) = self.find(key) {
            self.collect(i, &mut v);
        }
        v
    }

    /// Every key with its best path (the Loc-RIB).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &Path)> {
        self.entries.iter().map(|e| (&e.key, &e.best))
    }

    /// `peer`'s path to `key` (its Adj-RIB-In).
    pub fn path_of(&self, key: &K, peer: PeerId) -> Option<Path> {
        let i = self.find(key)?;
        let mut v = Vec::new();
        self.collect(i, &mut v);
        v.into_iter().find(|p| p.peer == peer)
    }

    fn collect(&self, i: usize, out: &mut Vec<Path>) {
        let e = &self.entries[i];
        out.push(e.best);
        let mut n = e.more;
        while let Some(s) = self.spill.get(n as usize) {
            out.push(s.path);
            n = s.next;
        }
    }

    /// Moves entry `i`'s paths into the scratch buffer, freeing its spill nodes.
    fn take_paths(&mut self, i: usize) -> Vec<Path> {
        let mut v = std::mem::take(&mut self.scratch);
        v.clear();
        v.push(self.entries[i].best);
        let mut n = std::mem::replace(&mut self.entries[i].more, NIL);
        while let Some(s) = self.spill.get_mut(n as usize) {
            v.push(s.path);
            let next = s.next;
            s.next = self.spill_free;
            self.spill_free = n;
            n = next;
        }
        v
    }

    /// Puts `paths` (non-empty) back into entry `i`, best first; returns the new best.
    fn put_paths(
        &mut self,
        i: usize,
        mut paths: Vec<Path>,
        rank: &impl Fn(&Path, &Path) -> Ordering,
    ) -> Path {
        // The first of equals wins, and the old best is first: no churn on ties.
        let mut w = 0;
        for j in 1..paths.len() {
            if rank(&paths[j], &paths[w]) == Ordering::Less {
                w = j;
            }
        }
        paths.swap(0, w);
        let best = paths[0];
        self.entries[i].best = best;
        let mut head = NIL;
        for p in paths.iter().skip(1).rev() {
            let node = Spill {
                path: *p,
                next: head,
            };
            head = match self.spill.get_mut(self.spill_free as usize) {
                Some(slot) => {
                    let at = self.spill_free;
                    self.spill_free = slot.next;
                    *slot = node;
                    at
                }
                None => {
                    self.spill.push(node);
                    (self.spill.len() - 1) as u32
                }
            };
        }
        self.entries[i].more = head;
        self.scratch = paths;
        best
    }

    /// Adds or replaces `path` (from `path.peer`) to `key`. The path's references move in.
    #[inline]
    pub fn upsert(
        &mut self,
        key: K,
        path: Path,
        rank: &impl Fn(&Path, &Path) -> Ordering,
    ) -> Option<TableChange<K>> {
        let h = self.hash(&key);
        self.upsert_hashed(key, h, path, rank)
    }

    /// Before a run of upserts of keys with `hashes` (one UPDATE's routes): grows the
    /// index once for all of them and loads their buckets into the cache together (see
    /// `Index::warm`); most of a big load's insert time is waiting for those misses.
    pub(crate) fn prepare(&mut self, hashes: impl ExactSizeIterator<Item = u32>) {
        self.index.reserve(hashes.len());
        self.index.warm(hashes);
    }

    /// [`Table::upsert`] with `h` = `self.hash(&key)` computed by the caller.
    #[inline]
    pub(crate) fn upsert_hashed(
        &mut self,
        key: K,
        h: u32,
        path: Path,
        rank: &impl Fn(&Path, &Path) -> Ordering,
    ) -> Option<TableChange<K>> {
        // The key stays with the caller: a small return value, not a 37-byte key copy.
        let (old, new) = self.upsert_inner(key, h, path, rank)?;
        Some(TableChange {
            key,
            old,
            new: Some(new),
        })
    }

    fn upsert_inner(
        &mut self,
        key: K,
        h: u32,
        path: Path,
        rank: &impl Fn(&Path, &Path) -> Ordering,
    ) -> Option<(Option<Path>, Path)> {
        // One probe for both the lookup and the insert.
        let entries = &mut self.entries;
        let found = self
            .index
            .find_or_insert(
                h,
                |at| entries[at as usize].key == key,
                entries.len() as u32,
            )
            .map(|at| at as usize);
        if found.is_none() {
            entries.push(Entry {
                key,
                best: path,
                more: NIL,
            });
        }
        let Some(i) = found else {
            self.count_path(path.peer);
            return Some((None, path));
        };
        let old = self.entries[i].best;
        if old.peer == path.peer && self.entries[i].more == NIL {
            // The common refresh: the only path, replaced by its own peer.
            self.entries[i].best = path;
            self.drop_path(old);
            self.count_path(path.peer);
            return (!old.same_route(&path)).then_some((Some(old), path));
        }
        let mut paths = self.take_paths(i);
        if let Some(j) = paths.iter().position(|p| p.peer == path.peer) {
            let gone = paths.remove(j);
            self.drop_path(gone);
        }
        paths.push(path);
        self.count_path(path.peer);
        let best = self.put_paths(i, paths, rank);
        (!old.same_route(&best)).then_some((Some(old), best))
    }

    /// Removes `peer`'s path to `key`, if any.
    pub fn remove(
        &mut self,
        key: &K,
        peer: PeerId,
        rank: &impl Fn(&Path, &Path) -> Ordering,
    ) -> Option<TableChange<K>> {
        let i = self.find(key)?;
        self.remove_at(i, |p| p.peer == peer, rank)
    }

    /// Removes the paths of entry `i` matching `gone`.
    fn remove_at(
        &mut self,
        i: usize,
        gone: impl Fn(&Path) -> bool,
        rank: &impl Fn(&Path, &Path) -> Ordering,
    ) -> Option<TableChange<K>> {
        let e = &self.entries[i];
        if e.more == NIL && !gone(&e.best) {
            return None;
        }
        let old = e.best;
        let key = e.key;
        let mut paths = self.take_paths(i);
        let before = paths.len();
        let mut j = 0;
        while j < paths.len() {
            if gone(&paths[j]) {
                let p = paths.remove(j);
                self.drop_path(p);
            } else {
                j += 1;
            }
        }
        if paths.len() == before {
            self.put_paths(i, paths, rank);
            return None;
        }
        if paths.is_empty() {
            self.scratch = paths;
            self.remove_entry(i);
            return Some(TableChange {
                key,
                old: Some(old),
                new: None,
            });
        }
        let best = self.put_paths(i, paths, rank);
        (!old.same_route(&best)).then_some(TableChange {
            key,
            old: Some(old),
            new: Some(best),
        })
    }

    fn remove_entry(&mut self, i: usize) {
        let h = self.hash(&self.entries[i].key);
        self.index.remove(h, i as u32);
        let last = self.entries.len() - 1;
        if i != last {
            let hl = self.hash(&self.entries[last].key);
            self.index.relocate(hl, last as u32, i as u32);
        }
        self.entries.swap_remove(i);
    }

    /// Removes every path matching `gone` (peer down, stale sweep).
    pub fn remove_where(
        &mut self,
        gone: impl Fn(&Path) -> bool,
        rank: &impl Fn(&Path, &Path) -> Ordering,
    ) -> Vec<TableChange<K>> {
        let mut out = Vec::new();
        // Backwards: `swap_remove` moves the last entry, which was already visited.
        for i in (0..self.entries.len()).rev() {
            if let Some(c) = self.remove_at(i, &gone, rank) {
                out.push(c);
            }
        }
        if self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to_fit();
            self.index.shrink_to_fit();
        }
        out
    }

    /// Sets the stale flag on every path of `peer`; returns how many.
    pub fn mark_stale(&mut self, peer: PeerId) -> usize {
        let mut n = 0;
        for e in &mut self.entries {
            if e.best.peer == peer {
                e.best.flags |= STALE;
                n += 1;
            }
            let mut s = e.more;
            while let Some(node) = self.spill.get_mut(s as usize) {
                if node.path.peer == peer {
                    node.path.flags |= STALE;
                    n += 1;
                }
                s = node.next;
            }
        }
        n
    }

    /// Bytes held by the table's own vectors and index (not the interned values).
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry<K>>()
            + self.index.heap_bytes()
            + self.spill.capacity() * std::mem::size_of::<Spill>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::evpn::EvpnRouteKey;
    use crate::packet::Ipv4Prefix;
    use std::net::Ipv4Addr;

    fn key(i: u32) -> Ipv4Prefix {
        Ipv4Prefix::new(Ipv4Addr::from(i << 8), 24).unwrap()
    }

    /// Lower attribute id wins: enough to test the table mechanics.
    fn rank(a: &Path, b: &Path) -> Ordering {
        a.attrs.cmp(&b.attrs)
    }

    fn path(t: &mut Table<Ipv4Prefix>, attrs: u32, peer: PeerId) -> Path {
        t.make_path(Id(attrs), peer, 0, &(), 0)
    }

    #[test]
    fn record_sizes() {
        assert_eq!(std::mem::size_of::<Path>(), 20);
        assert_eq!(std::mem::size_of::<Entry<EvpnRouteKey>>(), 64);
        assert_eq!(std::mem::size_of::<Spill>(), 24);
    }

    #[test]
    fn best_first_and_changes_only_when_best_changes() {
        let mut t = Table::default();
        let p1 = path(&mut t, 5, 1);
        let c = t.upsert(key(1), p1, &rank).unwrap();
        assert_eq!((c.old, c.new), (None, Some(p1)));
        // A worse path from peer 2: no best change.
        let p2 = path(&mut t, 9, 2);
        assert_eq!(t.upsert(key(1), p2, &rank), None);
        // A better path from peer 3 becomes best.
        let p3 = path(&mut t, 1, 3);
        let c = t.upsert(key(1), p3, &rank).unwrap();
        assert_eq!((c.old, c.new), (Some(p1), Some(p3)));
        let paths = t.paths(&key(1));
        assert_eq!(paths[0], p3);
        assert!(paths.contains(&p1) && paths.contains(&p2) && paths.len() == 3);
        // Peer 3 withdraws: peer 1 is best again.
        let c = t.remove(&key(1), 3, &rank).unwrap();
        assert_eq!(c.new, Some(p1));
        // Peer 2 (not best) withdraws: no change; peer 1 withdraws: p2 best.
        assert_eq!(t.remove(&key(1), 2, &rank), None);
        let p2b = path(&mut t, 9, 2);
        t.upsert(key(1), p2b, &rank);
        assert_eq!(t.remove(&key(1), 1, &rank).unwrap().new, Some(p2b));
        assert_eq!(t.remove(&key(1), 2, &rank).unwrap().new, None);
        assert!(t.is_empty());
        assert_eq!(t.remove(&key(1), 2, &rank), None);
        assert_eq!(t.peer_count(1) + t.peer_count(2) + t.peer_count(3), 0);
    }

    #[test]
    fn same_path_again_is_no_change_and_swap_remove_keeps_index() {
        let mut t = Table::default();
        for i in 0..1000 {
            let p = path(&mut t, 1, 1);
            assert!(t.upsert(key(i), p, &rank).is_some());
        }
        let p = path(&mut t, 1, 1);
        assert_eq!(t.upsert(key(7), p, &rank), None);
        for i in (0..1000).step_by(3) {
            assert!(t.remove(&key(i), 1, &rank).is_some());
        }
        for i in 0..1000 {
            assert_eq!(t.best(&key(i)).is_some(), i % 3 != 0, "{i}");
        }
        assert_eq!(t.peer_count(1), t.len() as u32);
        let changes = t.remove_where(|p| p.peer == 1, &rank);
        assert_eq!(changes.len(), 666);
        assert!(t.is_empty());
        // Every attribute reference taken was handed back: 1000 inserts + 1 refresh.
        assert_eq!(t.take_released().count(), 1001);
    }

    #[test]
    fn stale_marks_only_that_peer() {
        let mut t = Table::default();
        for peer in [1, 2] {
            let p = path(&mut t, u32::from(peer), peer);
            t.upsert(key(1), p, &rank);
        }
        assert_eq!(t.mark_stale(2), 1);
        let paths = t.paths(&key(1));
        assert!(!paths[0].is_stale() && paths[1].is_stale());
        let gone = t.remove_where(|p| p.peer == 2 && p.is_stale(), &rank);
        assert!(gone.is_empty(), "the best (peer 1) did not change");
        assert_eq!(t.paths(&key(1)).len(), 1);
    }
}

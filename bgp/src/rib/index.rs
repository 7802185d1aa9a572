//! The table's key index: open addressing with linear probing over 8-byte buckets
//! (32 hash bits + entry position), at most half full.
//!
//! Why not hashbrown's `HashTable`: it keeps control bytes and slots in two arrays, so an
//! insert into a big table misses the cache twice (tag, then slot); here the tag is the slot
//! and a probe usually stays in one cache line. That is most of the insert cost of a
//! million-route load. Empty buckets are all-zero (position stored + 1), so a new array
//! comes zeroed from the allocator without being written.

/// One bucket: 32 bits of the key's hash and the entry position + 1 (0 = empty). Kept as
/// one `u64` so `vec![0; n]` gets zeroed pages from the allocator.
#[derive(Clone, Copy, Default)]
struct Bucket {
    hash: u32,
    at1: u32,
}

impl Bucket {
    fn get(v: u64) -> Bucket {
        Bucket {
            hash: (v >> 32) as u32,
            at1: v as u32,
        }
    }

    fn raw(self) -> u64 {
        u64::from(self.hash) << 32 | u64::from(self.at1)
    }
}

#[derive(Default)]
pub(crate) struct Index {
    b: Vec<u64>,
    len: usize,
}

impl Index {
    fn mask(&self) -> usize {
        self.b.len().wrapping_sub(1)
    }

    /// The position of the entry with `hash` for which `eq` holds.
    pub(crate) fn find(&self, hash: u32, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let m = self.mask();
        let mut i = hash as usize & m;
        while let Some(x) = self.b.get(i).map(|v| Bucket::get(*v)) {
            if x.at1 == 0 {
                return None;
            }
            if x.hash == hash && eq(x.at1 - 1) {
                return Some(x.at1 - 1);
            }
            i = (i + 1) & m;
        }
        None
    }

    /// Like `find`; when absent, records `at` for `hash` and returns `None`.
    pub(crate) fn find_or_insert(
        &mut self,
        hash: u32,
        mut eq: impl FnMut(u32) -> bool,
        at: u32,
    ) -> Option<u32> {
        if (self.len + 1) * 2 > self.b.len() {
            self.resize((self.b.len() * 2).max(16));
        }
        let m = self.mask();
        let mut i = hash as usize & m;
        loop {
            let x = Bucket::get(self.b[i]);
            if x.at1 == 0 {
                self.b[i] = Bucket { hash, at1: at + 1 }.raw();
                self.len += 1;
                return None;
            }
            if x.hash == hash && eq(x.at1 - 1) {
                return Some(x.at1 - 1);
            }
            i = (i + 1) & m;
        }
    }

    /// Grows now (if needed) to take `more` inserts without growing in between.
    pub(crate) fn reserve(&mut self, more: usize) {
        let need = self.len.saturating_add(more).saturating_mul(2);
        if need > self.b.len() {
            // Sizes are powers of two; no size for an absurd `more` leaves it to
            // `find_or_insert`'s own growth.
            if let Some(n) = need.max(16).checked_next_power_of_two() {
                self.resize(n);
            }
        }
    }

    /// Reads the home bucket of each of `hashes` ahead of their inserts. In a big index
    /// nearly every one is a cache miss; one insert after another waits for each miss in
    /// turn, while these loads do not depend on each other, so the CPU has many in flight
    /// at once and the inserts then find their buckets in cache.
    pub(crate) fn warm(&self, hashes: impl Iterator<Item = u32>) {
        let m = self.mask();
        let mut acc = 0u64;
        for h in hashes {
            acc ^= self.b.get(h as usize & m).copied().unwrap_or(0);
        }
        // Keeps the loads from being optimised away.
        std::hint::black_box(acc);
    }

    fn slot_of(&self, hash: u32, at: u32) -> Option<usize> {
        let m = self.mask();
        let mut i = hash as usize & m;
        while let Some(x) = self.b.get(i).map(|v| Bucket::get(*v)) {
            if x.at1 == 0 {
                return None;
            }
            if x.at1 == at + 1 {
                return Some(i);
            }
            i = (i + 1) & m;
        }
        None
    }

    /// Points the bucket of the entry at `from` (with `hash`) to `to`.
    pub(crate) fn relocate(&mut self, hash: u32, from: u32, to: u32) {
        if let Some(i) = self.slot_of(hash, from) {
            let x = Bucket::get(self.b[i]);
            self.b[i] = Bucket { at1: to + 1, ..x }.raw();
        }
    }

    /// Removes the entry at `at` (with `hash`), shifting later buckets of its cluster back
    /// so no probe sequence is cut short.
    pub(crate) fn remove(&mut self, hash: u32, at: u32) {
        let Some(mut hole) = self.slot_of(hash, at) else {
            return;
        };
        let m = self.mask();
        let mut j = (hole + 1) & m;
        loop {
            let x = Bucket::get(self.b[j]);
            if x.at1 == 0 {
                break;
            }
            let ideal = x.hash as usize & m;
            // `x` may fill the hole if the hole lies between its home bucket and `j`.
            if (hole.wrapping_sub(ideal) & m) < (j.wrapping_sub(ideal) & m) {
                self.b[hole] = x.raw();
                hole = j;
            }
            j = (j + 1) & m;
        }
        self.b[hole] = 0;
        self.len -= 1;
    }

    fn resize(&mut self, buckets: usize) {
        let old = std::mem::replace(&mut self.b, vec![0; buckets]);
        let m = self.mask();
        for v in old.into_iter().filter(|v| *v != 0) {
            let mut i = Bucket::get(v).hash as usize & m;
            while self.b[i] != 0 {
                i = (i + 1) & m;
            }
            self.b[i] = v;
        }
    }

    /// Shrinks when far larger than needed (after a peer went down).
    pub(crate) fn shrink_to_fit(&mut self) {
        let want = (self.len * 2).next_power_of_two().max(16);
        if self.b.len() > want * 2 {
            self.resize(want);
        }
        if self.len == 0 {
            self.b = Vec::new();
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.b.capacity() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// `reserve` grows once for a whole run of inserts (which then do not grow it),
    /// `warm` changes nothing, and every key stays findable across the growth.
    #[test]
    fn reserve_grows_once_ahead_of_a_run() {
        let hash = |k: u32| k.wrapping_mul(2_654_435_761);
        let mut idx = Index::default();
        for k in 0..100u32 {
            assert_eq!(idx.find_or_insert(hash(k), |a| a == k, k), None);
        }
        idx.reserve(1000);
        let buckets = idx.b.len();
        assert!(buckets >= 2 * 1100 && buckets.is_power_of_two());
        idx.warm((100..1100u32).map(hash));
        for k in 100..1100u32 {
            assert_eq!(idx.find_or_insert(hash(k), |a| a == k, k), None);
        }
        assert_eq!(idx.b.len(), buckets, "no growth inside the run");
        for k in 0..1100u32 {
            assert_eq!(idx.find(hash(k), |a| a == k), Some(k));
        }
        idx.reserve(0);
        assert_eq!(idx.b.len(), buckets);
    }

    /// Against a HashMap model, with a hash that collides a lot (long clusters, wrap-around).
    #[test]
    fn matches_a_map_under_heavy_collisions() {
        let hash = |k: u32| k.wrapping_mul(2_654_435_761) % 61;
        let mut idx = Index::default();
        let mut model: HashMap<u32, u32> = HashMap::new();
        let mut keys: Vec<u32> = Vec::new(); // position -> key, like the entries vector
        let mut x: u32 = 12345;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let k = x % 3000;
            if step % 3 == 0 {
                // Remove like Table::remove_entry: swap_remove and relocate the last.
                if let Some(&at) = model.get(&k) {
                    idx.remove(hash(k), at);
                    let last = keys.len() as u32 - 1;
                    if at != last {
                        let moved = keys[last as usize];
                        idx.relocate(hash(moved), last, at);
                        model.insert(moved, at);
                    }
                    keys.swap_remove(at as usize);
                    model.remove(&k);
                }
            } else {
                let at = keys.len() as u32;
                let got = idx.find_or_insert(hash(k), |a| keys[a as usize] == k, at);
                assert_eq!(got, model.get(&k).copied());
                if got.is_none() {
                    keys.push(k);
                    model.insert(k, at);
                }
            }
            if step % 1000 == 0 {
                for (&k, &at) in &model {
                    assert_eq!(idx.find(hash(k), |a| keys[a as usize] == k), Some(at));
                }
                idx.shrink_to_fit();
            }
        }
        for k in 0..3000 {
            assert_eq!(
                idx.find(hash(k), |a| keys[a as usize] == k),
                model.get(&k).copied()
            );
        }
    }
}

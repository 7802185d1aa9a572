//! Interning by content: one `Arc<T>` per distinct value, named by a 4-byte [`Id`].
//!
//! Routes store the `Id`, not the `Arc`: 4 bytes instead of 8, no atomic operations on the
//! hot path, and no `Drop` per route. The interner counts references itself (every route
//! that stores an `Id` holds one); the value is freed the moment the last route lets go of
//! it, so there is no sweep to schedule. Whoever needs the value beyond the RIB (the EVPN
//! import, a CLI dump) clones the `Arc`, which outlives the slot if it must.

use std::hash::Hash;
use std::sync::Arc;

use hashbrown::HashMap;

/// Names one interned value. Only meaningful with the interner that issued it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Id(pub(crate) u32);

struct Slot<T> {
    value: Option<Arc<T>>,
    refs: u32,
}

/// Content -> `Id` -> `Arc<T>`, with reference counts.
pub struct Interner<T> {
    slots: Vec<Slot<T>>,
    index: HashMap<Arc<T>, u32>,
    free: Vec<u32>,
}

impl<T> Default for Interner<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            index: HashMap::default(),
            free: Vec::new(),
        }
    }
}

impl<T: Hash + Eq> Interner<T> {
    /// The `Id` of `value`, taking one reference; the value is stored if it is new.
    pub fn intern(&mut self, value: T) -> Id {
        if let Some(&i) = self.index.get(&value) {
            self.bump(i);
            return Id(i);
        }
        self.insert_new(Arc::new(value))
    }

    /// Like [`Interner::intern`] for a value already in an `Arc` (no copy when new).
    pub fn intern_arc(&mut self, value: Arc<T>) -> Id {
        if let Some(&i) = self.index.get(&*value) {
            self.bump(i);
            return Id(i);
        }
        self.insert_new(value)
    }

    /// The `Id` of `value` if interned, taking one reference.
    pub fn lookup(&mut self, value: &T) -> Option<Id> {
        let i = *self.index.get(value)?;
        self.bump(i);
        Some(Id(i))
    }

    fn bump(&mut self, i: u32) {
        if let Some(s) = self.slots.get_mut(i as usize) {
            s.refs += 1;
        }
    }

    fn insert_new(&mut self, value: Arc<T>) -> Id {
        let slot = Slot {
            value: Some(value.clone()),
            refs: 1,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(value, i);
        Id(i)
    }

    /// Takes one more reference to `id`.
    pub fn retain(&mut self, id: Id) {
        self.bump(id.0);
    }

    /// Takes `n` more references to `id` (one per route of a batch).
    pub fn retain_n(&mut self, id: Id, n: u32) {
        if let Some(s) = self.slots.get_mut(id.0 as usize) {
            s.refs += n;
        }
    }

    /// Drops one reference; the value is forgotten when none is left.
    pub fn release(&mut self, id: Id) {
        let Some(slot) = self.slots.get_mut(id.0 as usize) else {
            return;
        };
        slot.refs = slot.refs.saturating_sub(1);
        if slot.refs == 0 {
            if let Some(v) = slot.value.take() {
                self.index.remove(&*v);
                self.free.push(id.0);
            }
        }
    }

    /// The value of a live `id`.
    ///
    /// # Panics
    /// On an `Id` that was released to zero: a RIB bug, never peer input.
    pub fn get(&self, id: Id) -> &Arc<T> {
        match self.slots.get(id.0 as usize).and_then(|s| s.value.as_ref()) {
            Some(v) => v,
            None => panic!("interned value {id:?} used after release"),
        }
    }

    /// References held on `id` (0 when freed).
    pub fn refs(&self, id: Id) -> u32 {
        self.slots.get(id.0 as usize).map_or(0, |s| s.refs)
    }

    /// Distinct values held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_id_and_freed_with_last_reference() {
        let mut i = Interner::default();
        let a = i.intern(String::from("a"));
        let a2 = i.intern(String::from("a"));
        let b = i.intern(String::from("b"));
        assert_eq!(a, a2);
        assert_ne!(a, b);
        assert_eq!(i.len(), 2);
        assert_eq!(i.refs(a), 2);
        i.release(a);
        assert_eq!(i.get(a).as_str(), "a");
        i.release(a);
        assert_eq!(i.refs(a), 0);
        assert_eq!(i.len(), 1);
        // The freed slot is reused.
        let c = i.intern(String::from("c"));
        assert_eq!(c, a);
        assert_eq!(i.get(c).as_str(), "c");
        assert_eq!(i.lookup(&String::from("b")), Some(b));
        assert_eq!(i.lookup(&String::from("zz")), None);
    }

    #[test]
    fn an_arc_handed_out_outlives_the_slot() {
        let mut i = Interner::default();
        let a = i.intern(vec![1u8, 2]);
        let kept = i.get(a).clone();
        i.release(a);
        assert!(i.is_empty());
        assert_eq!(*kept, vec![1, 2]);
    }
}

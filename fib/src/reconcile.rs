//! Pure reconciliation: `diff(desired, actual) -> Plan`.
//!
//! # Which kernel entries are evpnd's
//! The FRR-zebra convention, so that evpnd and tools that know zebra agree:
//! - Remote MACs: AF_BRIDGE rows on a VXLAN device with a `dst` and NTF_EXT_LEARNED
//!   (`bridge fdb` prints `extern_learn`). Rows without it were added by someone else.
//! - Neighbours: entries on a VNI's SVI with NTF_EXT_LEARNED.
//! - Flood list: the kernel keeps flags per MAC row, not per `dst`, so the all-zero row
//!   (one row, one `dst` per remote VTEP) can only be marked as a whole. evpnd creates
//!   that row with NTF_EXT_LEARNED; the kernel clears the flag when anybody appends or
//!   replaces without it. So: all `dst`s of an all-zero row flagged `extern_learn` are
//!   ours; all `dst`s of an unflagged all-zero row are foreign. A hand-made flood entry in
//!   a VNI evpnd manages therefore turns the whole list foreign (evpnd still appends the
//!   VTEPs it wants, but no longer deletes any there): don't hand-edit flood lists of
//!   EVPN-managed VNIs.
//!
//! # Rules
//! - Only owned entries are replaced or deleted; a desired entry whose key is held by a
//!   foreign entry is skipped (the hand-made one stays).
//! - A MAC learned locally on a bridge port wins over a remote route for the same
//!   (VNI, MAC): it is not programmed, and an owned remote entry for it is deleted. The
//!   same holds for a remote neighbour whose MAC is local.
//! - Except when the desired state marks the key in [`FibState::supersede_local`] (the
//!   EVPN layer saw the host move away): then the remote entry is programmed over the
//!   local one (NLM_F_REPLACE with NTF_MASTER|NTF_SELF moves the bridge row from the local
//!   port to the VXLAN port), as zebra does on a MAC-mobility move, instead of waiting for
//!   the bridge to age the stale local row out. diff stays generic: it never decides
//!   mobility, it only obeys the mark.
//! - Desired entries of VNIs absent from the topology are skipped (reported in
//!   [`Skipped`]); they are planned again when the device appears.
//! - Ordering: FDB adds/replaces, flood appends, neighbour adds/replaces, then
//!   neighbour deletes, FDB deletes, flood deletes — a neighbour is only installed once
//!   its MAC is reachable, and a moved MAC is replaced in place, never deleted first.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::{FdbKey, FibState, Mac, NeighKey, RemoteFdb, Snapshot, Vni};

/// One change to the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Op {
    /// Install or move a remote MAC (NLM_F_CREATE|NLM_F_REPLACE).
    FdbReplace {
        key: FdbKey,
        dest: RemoteFdb,
    },
    /// Add a remote VTEP to a VNI's flood list (NLM_F_CREATE|NLM_F_APPEND).
    FloodAppend {
        vni: Vni,
        vtep: IpAddr,
    },
    /// Install or change a remote IP -> MAC binding on the VNI's SVI.
    NeighReplace {
        key: NeighKey,
        mac: Mac,
    },
    NeighDelete {
        key: NeighKey,
    },
    /// Remove a remote MAC; `vtep` is the `dst` currently installed.
    FdbDelete {
        key: FdbKey,
        vtep: IpAddr,
    },
    FloodDelete {
        vni: Vni,
        vtep: IpAddr,
    },
}

impl Op {
    pub fn vni(&self) -> Vni {
        match self {
            Op::FdbReplace { key, .. } | Op::FdbDelete { key, .. } => key.vni,
            Op::NeighReplace { key, .. } | Op::NeighDelete { key } => key.vni,
            Op::FloodAppend { vni, .. } | Op::FloodDelete { vni, .. } => *vni,
        }
    }
}

/// Desired entries that the plan deliberately leaves out.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Skipped {
    /// The VNI (or, for neighbours, its SVI) is not in the kernel.
    pub unknown_vni: usize,
    /// The MAC is local: the local entry wins.
    pub local_wins: usize,
    /// A foreign entry holds the key.
    pub foreign: usize,
    /// Invalid desired entry (all-zero MAC as a remote MAC).
    pub invalid: usize,
}

/// An ordered list of changes.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub skipped: Skipped,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// One step of a merge join over two sorted sequences.
enum Side<'a, K, A, B> {
    Left(&'a K, &'a A),
    Right(&'a K, &'a B),
    Both(&'a K, &'a A, &'a B),
}

/// Walks two ordered maps in key order in one pass (O(n + m), no lookups).
fn merge_join<'a, K: Ord, A, B>(
    a: &'a BTreeMap<K, A>,
    b: &'a BTreeMap<K, B>,
    mut f: impl FnMut(Side<'a, K, A, B>),
) {
    let mut ia = a.iter().peekable();
    let mut ib = b.iter().peekable();
    loop {
        let ord = match (ia.peek(), ib.peek()) {
            (None, None) => return,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
        };
        match ord {
            Ordering::Less => {
                if let Some((k, v)) = ia.next() {
                    f(Side::Left(k, v));
                }
            }
            Ordering::Greater => {
                if let Some((k, v)) = ib.next() {
                    f(Side::Right(k, v));
                }
            }
            Ordering::Equal => {
                if let (Some((k, va)), Some((_, vb))) = (ia.next(), ib.next()) {
                    f(Side::Both(k, va, vb));
                }
            }
        }
    }
}

/// Computes the ordered changes that turn `actual.owned` into `desired`, leaving foreign
/// entries alone and letting local MACs win.
pub fn diff(desired: &FibState, actual: &Snapshot) -> Plan {
    let vnis = actual.topology.vnis();
    let has_vni = |vni: &Vni| vnis.contains_key(vni);
    let has_svi = |vni: &Vni| vnis.get(vni).is_some_and(|b| b.bridge.is_some());
    let in_kernel_local = |key: &FdbKey| actual.local.macs.contains_key(key);
    let superseded = |key: &FdbKey| desired.supersede_local.contains(key);
    // The local entry wins unless the desired state says a remote route superseded it.
    let is_local = |key: &FdbKey| in_kernel_local(key) && !superseded(key);

    let mut skipped = Skipped::default();
    let mut fdb_add = Vec::new();
    let mut fdb_del = Vec::new();
    merge_join(&desired.fdb, &actual.owned.fdb, |side| match side {
        Side::Left(key, dest) => {
            if key.mac.is_zero() {
                skipped.invalid += 1;
            } else if !has_vni(&key.vni) {
                skipped.unknown_vni += 1;
            } else if is_local(key) {
                skipped.local_wins += 1;
            } else if actual.foreign.fdb.contains(key) {
                skipped.foreign += 1;
            } else {
                fdb_add.push(Op::FdbReplace {
                    key: *key,
                    dest: *dest,
                });
            }
        }
        Side::Right(key, have) => fdb_del.push(Op::FdbDelete {
            key: *key,
            vtep: have.vtep,
        }),
        Side::Both(key, want, have) => {
            if is_local(key) {
                skipped.local_wins += 1;
                fdb_del.push(Op::FdbDelete {
                    key: *key,
                    vtep: have.vtep,
                });
            } else if want != have || in_kernel_local(key) {
                // Also when equal but the bridge lists the MAC on a local port again:
                // the superseded local row has to be moved off once more.
                fdb_add.push(Op::FdbReplace {
                    key: *key,
                    dest: *want,
                });
            }
        }
    });

    let mut flood_add = Vec::new();
    let mut flood_del = Vec::new();
    for (vni, vtep) in desired.flood.difference(&actual.owned.flood) {
        if !has_vni(vni) {
            skipped.unknown_vni += 1;
        } else if actual.foreign.flood.contains(&(*vni, *vtep)) {
            skipped.foreign += 1;
        } else {
            flood_add.push(Op::FloodAppend {
                vni: *vni,
                vtep: *vtep,
            });
        }
    }
    for (vni, vtep) in actual.owned.flood.difference(&desired.flood) {
        flood_del.push(Op::FloodDelete {
            vni: *vni,
            vtep: *vtep,
        });
    }

    let mut neigh_add = Vec::new();
    let mut neigh_del = Vec::new();
    let mac_is_local = |key: &NeighKey, mac: &Mac| {
        is_local(&FdbKey {
            vni: key.vni,
            mac: *mac,
        })
    };
    merge_join(&desired.neigh, &actual.owned.neigh, |side| match side {
        Side::Left(key, mac) => {
            if !has_svi(&key.vni) {
                skipped.unknown_vni += 1;
            } else if mac_is_local(key, mac) {
                skipped.local_wins += 1;
            } else if actual.foreign.neigh.contains(key) {
                skipped.foreign += 1;
            } else {
                neigh_add.push(Op::NeighReplace {
                    key: *key,
                    mac: *mac,
                });
            }
        }
        Side::Right(key, _) => neigh_del.push(Op::NeighDelete { key: *key }),
        Side::Both(key, want, have) => {
            if mac_is_local(key, want) {
                skipped.local_wins += 1;
                neigh_del.push(Op::NeighDelete { key: *key });
            } else if want != have {
                neigh_add.push(Op::NeighReplace {
                    key: *key,
                    mac: *want,
                });
            }
        }
    });

    let mut ops = fdb_add;
    ops.extend(flood_add);
    ops.extend(neigh_add);
    ops.extend(neigh_del);
    ops.extend(fdb_del);
    ops.extend(flood_del);
    Plan { ops, skipped }
}

/// Records in `owned` what the kernel holds after `op` succeeded (for cached views of the
/// kernel that must not be re-dumped after every change).
pub fn record(owned: &mut FibState, op: &Op) {
    match *op {
        Op::FdbReplace { key, dest } => {
            owned.fdb.insert(key, dest);
        }
        Op::FloodAppend { vni, vtep } => {
            owned.flood.insert((vni, vtep));
        }
        Op::NeighReplace { key, mac } => {
            owned.neigh.insert(key, mac);
        }
        Op::NeighDelete { key } => {
            owned.neigh.remove(&key);
        }
        Op::FdbDelete { key, .. } => {
            owned.fdb.remove(&key);
        }
        Op::FloodDelete { vni, vtep } => {
            owned.flood.remove(&(vni, vtep));
        }
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;

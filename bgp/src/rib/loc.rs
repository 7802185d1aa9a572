//! Loc-RIB changes: what the EVPN import and the Adj-RIB-Out consume.
//!
//! The Loc-RIB itself is the best path of each table entry (see `table.rs`); this module
//! turns the table's best-path changes into self-contained values (key, full NLRI, shared
//! attribute set) and marks them dirty in every Adj-RIB-Out that is up and may be sent
//! them (see `publish`).

use std::sync::Arc;

use serde::Serialize;

use super::attrs::PathAttrs;
use super::family::RouteKey;
use super::peer::{PeerConfig, PeerId, LOCAL};
use super::table::{Path, TableChange};
use super::{Core, FamilyRib};
use crate::packet::evpn::EvpnRouteKey;
use crate::packet::{AfiSafi, Ipv4Prefix};

/// How the best path to a key changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// The key had no route; now it has a best one.
    New,
    /// The best path is another one, or the same peer's with other attributes/labels.
    Replaced,
    /// No route left.
    Withdrawn,
}

/// A best route as handed out of the RIB.
#[derive(Clone, Debug, PartialEq)]
pub struct Route<K: RouteKey> {
    pub peer: PeerId,
    pub nlri: K::Nlri,
    pub attrs: Arc<PathAttrs>,
    /// Kept from a restarting peer (RFC 4724), not yet re-advertised.
    pub stale: bool,
}

/// One Loc-RIB change.
#[derive(Clone, Debug, PartialEq)]
pub struct Change<K: RouteKey> {
    pub key: K,
    pub kind: ChangeKind,
    /// The new best (`None` when withdrawn).
    pub best: Option<Route<K>>,
}

/// Loc-RIB changes of one operation, per family.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    pub evpn: Vec<Change<EvpnRouteKey>>,
    pub ipv4: Vec<Change<Ipv4Prefix>>,
    /// Families in which the peer now holds more routes than its max-prefix limit.
    pub max_prefix_exceeded: Vec<AfiSafi>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.evpn.is_empty() && self.ipv4.is_empty()
    }

    pub fn len(&self) -> usize {
        self.evpn.len() + self.ipv4.len()
    }
}

/// The route `path` to `key` as handed out.
pub(crate) fn route<K: RouteKey>(
    core: &Core,
    fam: &FamilyRib<K>,
    key: &K,
    path: &Path,
) -> Route<K> {
    Route {
        peer: path.peer,
        nlri: fam.table.nlri(key, path),
        attrs: core.attrs.get(path.attrs).clone(),
        stale: path.is_stale(),
    }
}

/// Whether a route whose best path came from `src` can ever be exported to `dst`, from
/// the two peers' roles alone (`export_attrs` decides with the attributes): not back to
/// its source (split horizon), not from an iBGP non-client to an iBGP non-client (RFC 4456
/// section 6). Unknown peers: maybe (the caller then marks the key dirty, the safe side).
fn may_export(core: &Core, src: PeerId, dst: PeerId, d: &PeerConfig) -> bool {
    if src == dst {
        return false;
    }
    if src == LOCAL {
        return true;
    }
    let Ok(s) = core.peer(src) else {
        return true;
    };
    let local_as = core.cfg.local_as;
    let ibgp_both = s.cfg.asn == local_as && d.asn == local_as;
    !(ibgp_both && !s.cfg.rr_client && !d.rr_client)
}

/// Turns table changes into [`Change`]s and marks their keys dirty for every peer whose
/// Adj-RIB-Out is up, except where neither the old nor the new best path can be
/// exported to that peer by its role (the route's own source, a non-client's route to
/// another non-client): what the peer should have is "nothing" before and after, so
/// there is nothing to send or withdraw. A change that moves the best path from peer A
/// to peer B is marked for A (it now gets B's route) and for B (it gets a withdrawal if
/// it held A's).
pub(crate) fn publish<K: RouteKey>(
    core: &Core,
    fam: &mut FamilyRib<K>,
    changes: Vec<TableChange<K>>,
) -> Vec<Change<K>> {
    mark_dirty(core, fam, &changes);
    if !core.collect_changes {
        return Vec::new();
    }
    changes
        .into_iter()
        .map(|c| Change {
            key: c.key,
            kind: match (c.old, c.new) {
                (None, _) => ChangeKind::New,
                (Some(_), Some(_)) => ChangeKind::Replaced,
                (Some(_), None) => ChangeKind::Withdrawn,
            },
            best: c.new.map(|p| route(core, fam, &c.key, &p)),
        })
        .collect()
}

/// The Adj-RIB-Out half of [`publish`].
pub(crate) fn mark_dirty<K: RouteKey>(
    core: &Core,
    fam: &mut FamilyRib<K>,
    changes: &[TableChange<K>],
) {
    for (q, out) in fam.out.iter_mut().enumerate() {
        if !out.enabled {
            continue;
        }
        let Some((q, d)) = PeerId::try_from(q)
            .ok()
            .and_then(|q| Some((q, &core.peer(q).ok()?.cfg)))
        else {
            // Not a registered peer: mark everything (drain sorts it out).
            out.dirty.extend(changes.iter().map(|c| c.key));
            continue;
        };
        // Per source peer, decided once per call (peers are few, changes many).
        let may: Vec<bool> = (0..core.peers.len())
            .map(|s| PeerId::try_from(s).map_or(true, |s| may_export(core, s, q, d)))
            .collect();
        let may = |p: &Option<Path>| {
            p.as_ref()
                .is_some_and(|p| may.get(usize::from(p.peer)).copied().unwrap_or(true))
        };
        out.dirty.extend(
            changes
                .iter()
                .filter(|c| may(&c.old) || may(&c.new))
                .map(|c| c.key),
        );
    }
}

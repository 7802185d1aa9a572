//! Loc-RIB changes: what the EVPN import and the Adj-RIB-Out consume.
//!
//! The Loc-RIB itself is the best path of each table entry (see `table.rs`); this module
//! turns the table's best-path changes into self-contained values (key, full NLRI, shared
//! attribute set) and marks them dirty in every Adj-RIB-Out that is up.

use std::sync::Arc;

use serde::Serialize;

use super::attrs::PathAttrs;
use super::family::RouteKey;
use super::peer::PeerId;
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

/// Turns table changes into [`Change`]s and marks their keys dirty for every peer whose
/// Adj-RIB-Out is up.
pub(crate) fn publish<K: RouteKey>(
    core: &Core,
    fam: &mut FamilyRib<K>,
    changes: Vec<TableChange<K>>,
) -> Vec<Change<K>> {
    for out in fam.out.iter_mut().filter(|o| o.enabled) {
        out.dirty.extend(changes.iter().map(|c| c.key));
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
